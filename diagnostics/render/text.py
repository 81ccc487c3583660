"""The report for a terminal, in the style of doctor tools (``flutter doctor``, ``brew doctor``).

The verdict line first, then what to fix: each root cause, worst first, with why, who must act
and the fix (said once), and the titles of the findings that follow from it folded beneath. Then
one line per check, dataset, scope and macro, marked ``[✓]``, ``[!]``, ``[✗]`` or ``[–]`` (not
judged), with the numbers of the root causes that name it, and a last summary line::

    broken: 3 failures, 2 warnings — suggested Sev 2

An item's mark is the worst finding that names it (a check's mark is its own status): the
renderer never decides a status. ANSI colours only with ``color=True``.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from diagnostics.render import _common as c
from diagnostics.render.view import ReportView
from diagnostics.report import Report

Data = Mapping[str, Any]

ANSI = {"good": "32", "warn": "33", "bad": "31", "neutral": "2", "bold": "1", "dim": "2"}
WIDTH = 100
NAME_WIDTH = 34
INDENT = " " * 8
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Style:
    """Applies ANSI colours, or nothing at all."""

    color: bool = False

    def __call__(self, text: str, style: str) -> str:
        if not self.color or not text:
            return text
        return f"\x1b[{ANSI[style]}m{text}\x1b[0m"

    def mark(self, tone: str) -> str:
        return self(f"[{c.SYMBOLS[tone]}]", tone)


@dataclass(frozen=True)
class Line:
    tone: str
    name: str
    status: str
    refs: Sequence[int] = ()


def render(report: Report | Data, *, color: bool = False, audience: str = "support") -> str:
    """The report as terminal text; ANSI colours only when ``color`` is true.

    Control characters are made visible before the report is parsed into its view, so the view is
    built here rather than taken ready-made.
    """
    view = ReportView.from_data(_printable(c.data_of(report)))
    style = Style(color)
    blocks = [
        _header(view, style),
        _verdict(view, style),
        _findings(view, style, audience),
        _section("Checks", _check_lines(view), style),
        _section("Datasets", _dataset_lines(view), style),
        _section("Scopes", _scope_lines(view), style),
        _section("Macros", _macro_lines(view), style),
        _closing(view, style),
        _summary(view, style),
    ]
    return "\n\n".join(b for b in blocks if b)


def _printable(value: Any) -> Any:
    """``value`` with control characters (an ANSI escape in a message, say) made visible."""
    if isinstance(value, str):
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    if isinstance(value, Mapping):
        return {k: _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


def _header(view: ReportView, style: Style) -> str:
    site = view.site_url or "site not known"
    space = f" · space {view.space_key}" if view.space_key else ""
    lines = [
        style("MuleSight diagnostics", "bold")
        + f" · run {view.run_id} · {view.when(view.generated_at)}"
        + (f" · {view.run_timing}" if view.run_timing else ""),
        f"{site}{space} · organization {view.organization} · control plane {view.control_plane}",
    ]
    envs = ", ".join(f"{e.name} ({e.type})" for e in view.environments)
    lines.append(f"Environments: {envs or 'none listed'}")
    return "\n".join(lines)


def _verdict(view: ReportView, style: Style) -> str:
    tone = c.tone(c.VERDICT_TONES, view.verdict)
    return style(f"{view.verdict_word}: {view.summary.headline}", tone)


def _section(title: str, lines: Sequence[Line], style: Style) -> str:
    if not lines:
        return ""
    width = min(NAME_WIDTH, max(len(line.name) for line in lines))
    out = [style(title, "bold")]
    for line in lines:
        refs = f"  → see {', '.join(map(str, line.refs))}" if line.refs else ""
        name, status = " ".join(line.name.split()), " ".join(line.status.split())
        out.append(f"{style.mark(line.tone)} {name.ljust(width)}  {status}{style(refs, 'dim')}")
    return "\n".join(out)


def _check_lines(view: ReportView) -> list[Line]:
    return [
        Line(c.tone(c.CHECK_TONES, k.status), k.name, c.word(k.status, c.CHECK_WORDS))
        for k in view.checks
    ]


def _dataset_lines(view: ReportView) -> list[Line]:
    lines = []
    for d in view.datasets:
        reason = d.reason_text
        status = c.word(d.coverage, c.COVERAGE_WORDS) + (f" ({reason})" if reason else "")
        status += f" · cache {c.word(d.freshness, c.FRESHNESS_WORDS)}"
        if d.stale_fallback:
            status += " (serving the last good cache)"
        own = c.tone(c.COVERAGE_TONES, d.coverage)
        lines.append(Line(d.links.mark(own), d.name or d.key, status, d.links.causes))
    return lines


def _scope_lines(view: ReportView) -> list[Line]:
    lines = []
    for s in view.scopes:
        if not s.checked:
            lines.append(Line("neutral", s.key, s.status_text))
            continue
        status = s.status_text
        if s.missing_in:
            status += f" · missing in {view.places(s.missing_in)}"
        own = c.tone(c.COVERAGE_TONES, s.status)
        lines.append(Line(s.links.mark(own), s.key, status, s.links.causes))
    return lines


def _macro_lines(view: ReportView) -> list[Line]:
    lines = []
    for m in view.macros:
        status = c.word(m.status, c.MACRO_WORDS) + (f": {m.error}" if m.error else "")
        status += f" · {m.page_url}" if m.page_url else ""
        own = c.tone(c.MACRO_TONES, m.status)
        lines.append(Line(m.links.mark(own), m.label, status, m.links.causes))
    return lines


def _findings(view: ReportView, style: Style, audience: str) -> str:
    if not view.groups:
        return "\n".join(
            [
                style("What to fix", "bold"),
                f"{style.mark('good')} Nothing: no check failed or warned.",
                f"{INDENT}Still seeing errors in a macro? Reload the page; if it still fails, "
                "send this report and a screenshot to MuleSight support.",
            ]
        )
    out = [style("What to fix (root causes, worst first)", "bold")]
    for g in view.groups:
        f = g.root
        tone = c.tone(c.FINDING_TONES, g.status)
        word = c.FINDING_WORDS.get(str(f.status), str(f.status))
        out.append(f"{style.mark(tone)} {g.number}. {style(word, tone)} {f.title}")
        out += _field("why", f.detail)
        out += _field("who", f.owner_label(audience))
        out += _field("fix", f.remediation, style)
        if f.doc_url:
            out += _field("docs", f.doc_url)
        if g.consequences:
            out.append(f"{INDENT}{g.affects_text}:")
            for x in g.consequences:
                mark = style.mark(c.tone(c.FINDING_TONES, x.status))
                out.append(f"{INDENT}  {mark} {' '.join(str(x.title).split())}")
    return "\n".join(out)


def _field(label: str, value: Any, style: Style | None = None) -> list[str]:
    """``label: value`` wrapped and indented under its finding."""
    head = f"{INDENT}{label}: "
    lines = textwrap.wrap(
        " ".join(str(value).split()),
        width=WIDTH,
        initial_indent=head,
        subsequent_indent=" " * len(head),
        break_long_words=False,
        break_on_hyphens=False,
    ) or [head.rstrip()]
    if style is not None and label == "fix":
        lines[0] = lines[0].replace(f"{label}:", style(f"{label}:", "bold"), 1)
    return lines


def _closing(view: ReportView, style: Style) -> str:
    """The suggested severity's reason and what redaction removed."""
    lines: list[str] = []
    if view.suggests_severity:
        reason = view.severity_reason
        severity = f"Suggested {view.suggested_severity}" + (f": {reason}" if reason else "")
        lines = textwrap.wrap(severity + " A person decides.", width=WIDTH)
    return "\n".join([*lines, style(view.redaction_text, "dim")])


def _summary(view: ReportView, style: Style) -> str:
    line = f"{view.verdict}: {view.summary.tally}"
    if view.suggests_severity:
        line += f" — suggested {view.suggested_severity}"
    return style(line, c.tone(c.VERDICT_TONES, view.verdict))
