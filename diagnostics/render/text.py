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
    """The report as terminal text; ANSI colours only when ``color`` is true."""
    data = _printable(c.data_of(report))
    style = Style(color)
    found = c.groups(data)
    blocks = [
        _header(data, style),
        _verdict(data, style),
        _findings(data, found, style, audience),
        _section("Checks", _check_lines(data), style),
        _section("Datasets", _dataset_lines(data, found), style),
        _section("Scopes", _scope_lines(data, found), style),
        _section("Macros", _macro_lines(data, found), style),
        _closing(data, style),
        _summary(data, style),
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


def _header(data: Data, style: Style) -> str:
    timing = c.run_timing(data)
    site = data.get("site_url") or "site not known"
    space = f" · space {data['space_key']}" if data.get("space_key") else ""
    lines = [
        style("MuleSight diagnostics", "bold")
        + f" · run {data.get('run_id')} · {c.when(data, data.get('generated_at'))}"
        + (f" · {timing}" if timing else ""),
        f"{site}{space} · organization {c.organization_text(data)} · "
        f"control plane {data.get('control_plane')}",
    ]
    envs = ", ".join(f"{e.get('name')} ({e.get('type')})" for e in data.get("environments", []))
    lines.append(f"Environments: {envs or 'none listed'}")
    return "\n".join(lines)


def _verdict(data: Data, style: Style) -> str:
    verdict = str(data.get("verdict"))
    tone = c.tone(c.VERDICT_TONES, verdict)
    return style(f"{c.VERDICT_WORDS.get(verdict, verdict)}: {c.headline(data)}", tone)


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


def _check_lines(data: Data) -> list[Line]:
    return [
        Line(
            c.tone(c.CHECK_TONES, k.get("status")),
            str(k.get("title") or k.get("id")),
            c.word(k.get("status"), c.CHECK_WORDS),
        )
        for k in data.get("checks", [])
    ]


def _dataset_lines(data: Data, found: Sequence[c.Group]) -> list[Line]:
    refs, tones = c.group_refs(data, found, "datasets"), c.item_tones(data, found, "datasets")
    lines = []
    for key, d in data.get("datasets", {}).items():
        reason = c.dataset_reason(d)
        status = c.word(d.get("coverage"), c.COVERAGE_WORDS) + (f" ({reason})" if reason else "")
        status += f" · cache {c.word(d.get('freshness'), c.FRESHNESS_WORDS)}"
        if d.get("stale_fallback"):
            status += " (serving the last good cache)"
        own = c.tone(c.COVERAGE_TONES, d.get("coverage"))
        lines.append(
            Line(
                c.item_tone(own, tones.get(key)),
                str(d.get("name") or key),
                status,
                refs.get(key, []),
            )
        )
    return lines


def _scope_lines(data: Data, found: Sequence[c.Group]) -> list[Line]:
    refs, tones = c.group_refs(data, found, "scopes"), c.item_tones(data, found, "scopes")
    names = c.environment_names(data)
    lines = []
    for key, s in data.get("scopes", {}).items():
        if not c.scope_checked(s):
            lines.append(Line("neutral", key, c.scope_status_text(s)))
            continue
        status = c.scope_status_text(s)
        if s.get("missing_in"):
            status += f" · missing in {c.places(s['missing_in'], names)}"
        own = c.tone(c.COVERAGE_TONES, s.get("status"))
        lines.append(Line(c.item_tone(own, tones.get(key)), key, status, refs.get(key, [])))
    return lines


def _macro_lines(data: Data, found: Sequence[c.Group]) -> list[Line]:
    refs, tones = c.group_refs(data, found, "macros"), c.item_tones(data, found, "macros")
    lines = []
    for i, m in enumerate(data.get("macros", [])):
        status = c.word(m.get("status"), c.MACRO_WORDS) + (
            f": {m['error']}" if m.get("error") else ""
        )
        url = c.page_url(data, m.get("page_id"))
        status += f" · {url}" if url else ""
        own = c.tone(c.MACRO_TONES, m.get("status"))
        lines.append(
            Line(c.item_tone(own, tones.get(i)), c.macro_label(m), status, refs.get(i, []))
        )
    return lines


def _findings(data: Data, found: Sequence[c.Group], style: Style, audience: str) -> str:
    if not found:
        return "\n".join(
            [
                style("What to fix", "bold"),
                f"{style.mark('good')} Nothing: no check failed or warned.",
                f"{INDENT}Still seeing errors in a macro? Reload the page; if it still fails, "
                "send this report and a screenshot to MuleSight support.",
            ]
        )
    out = [style("What to fix (root causes, worst first)", "bold")]
    for g in found:
        f = g.root
        tone = c.tone(c.FINDING_TONES, c.group_status(g))
        word = c.FINDING_WORDS.get(str(f.get("status")), str(f.get("status")))
        out.append(f"{style.mark(tone)} {g.number}. {style(word, tone)} {f.get('title')}")
        out += _field("why", f.get("detail"))
        out += _field("who", c.owner_label(f, audience))
        out += _field("fix", f.get("remediation"), style)
        if f.get("doc_url"):
            out += _field("docs", f["doc_url"])
        if g.consequences:
            out.append(f"{INDENT}{c.affects_text(g)}:")
            for x in g.consequences:
                mark = style.mark(c.tone(c.FINDING_TONES, x.get("status")))
                out.append(f"{INDENT}  {mark} {' '.join(str(x.get('title')).split())}")
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


def _closing(data: Data, style: Style) -> str:
    """The suggested severity's reason and what redaction removed."""
    lines: list[str] = []
    if c.suggests_severity(data):
        reason = data.get("severity_reason")
        severity = f"Suggested {data.get('suggested_severity')}" + (f": {reason}" if reason else "")
        lines = textwrap.wrap(severity + " A person decides.", width=WIDTH)
    return "\n".join([*lines, style(c.redaction_text(data), "dim")])


def _summary(data: Data, style: Style) -> str:
    verdict = str(data.get("verdict"))
    line = f"{verdict}: {c.tally(data)}"
    if c.suggests_severity(data):
        line += f" — suggested {data.get('suggested_severity')}"
    return style(line, c.tone(c.VERDICT_TONES, verdict))
