"""The report for a terminal, in the style of doctor tools (``flutter doctor``, ``brew doctor``).

One line per check, dataset, scope and macro, marked ``[✓]``, ``[!]``, ``[✗]`` or ``[–]`` (not
judged), with the numbers of the findings that name it. Then what is wrong, worst first, with the
fix indented under each finding, and a last summary line::

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


def render(report: Report | Data, *, color: bool = False) -> str:
    """The report as terminal text; ANSI colours only when ``color`` is true."""
    data = _printable(c.data_of(report))
    style = Style(color)
    numbered = c.ordered_findings(data)
    blocks = [
        _header(data, style),
        _section("Checks", _check_lines(data), style),
        _section("Datasets", _dataset_lines(data, numbered), style),
        _section("Scopes", _scope_lines(data, numbered), style),
        _section("Macros", _macro_lines(data, numbered), style),
        _findings(data, numbered, style),
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
        + f" · run {data.get('run_id')} · {data.get('generated_at')}"
        + (f" · {timing}" if timing else ""),
        f"{site}{space} · organization {c.organization_text(data)} · "
        f"control plane {data.get('control_plane')}",
    ]
    envs = ", ".join(f"{e.get('name')} ({e.get('type')})" for e in data.get("environments", []))
    lines.append(f"Environments: {envs or 'none listed'}")
    up = c.upstream(data)
    if up is not None:
        lines.append(style(f"{c.SYMBOLS['bad']} {c.upstream_text(up)}", "bad"))
    return "\n".join(lines)


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
            c.word(k.get("status")),
        )
        for k in data.get("checks", [])
    ]


def _dataset_lines(data: Data, numbered: Sequence[tuple[int, Data]]) -> list[Line]:
    refs = c.finding_refs(numbered, "datasets")
    lines = []
    for key, d in data.get("datasets", {}).items():
        reason = c.dataset_reason(d)
        status = f"{d.get('coverage')}" + (f" ({reason})" if reason else "")
        status += f" · cache {c.word(d.get('freshness'))}"
        if d.get("stale_fallback"):
            status += " (serving the last good cache)"
        own = c.tone(c.COVERAGE_TONES, d.get("coverage"))
        lines.append(
            Line(
                c.item_tone(own, refs.get(key, []), numbered),
                str(d.get("name") or key),
                status,
                refs.get(key, []),
            )
        )
    return lines


def _scope_lines(data: Data, numbered: Sequence[tuple[int, Data]]) -> list[Line]:
    refs = c.finding_refs(numbered, "scopes")
    names = c.environment_names(data)
    lines = []
    for key, s in data.get("scopes", {}).items():
        if not c.scope_checked(s):
            lines.append(Line("neutral", key, "not checked"))
            continue
        status = str(s.get("status"))
        if s.get("missing_in"):
            status += f" · missing in {c.places(s['missing_in'], names)}"
        own = c.tone(c.COVERAGE_TONES, s.get("status"))
        lines.append(
            Line(c.item_tone(own, refs.get(key, []), numbered), key, status, refs.get(key, []))
        )
    return lines


def _macro_lines(data: Data, numbered: Sequence[tuple[int, Data]]) -> list[Line]:
    refs = c.finding_refs(numbered, "macros")
    lines = []
    for i, m in enumerate(data.get("macros", [])):
        status = c.word(m.get("status")) + (f": {m['error']}" if m.get("error") else "")
        own = c.tone(c.MACRO_TONES, m.get("status"))
        lines.append(
            Line(
                c.item_tone(own, refs.get(i, []), numbered),
                c.macro_label(m),
                status,
                refs.get(i, []),
            )
        )
    return lines


def _findings(data: Data, numbered: Sequence[tuple[int, Data]], style: Style) -> str:
    if not numbered:
        return (
            style("What is wrong", "bold")
            + "\n"
            + f"{style.mark('good')} Nothing: no check failed or warned."
        )
    out = [style("What is wrong (worst first)", "bold")]
    for number, f in numbered:
        tone = c.tone(c.FINDING_TONES, f.get("status"))
        word = c.FINDING_WORDS.get(str(f.get("status")), str(f.get("status")))
        out.append(f"{style.mark(tone)} {number}. {style(word, tone)} {f.get('title')}")
        out += _field("why", f.get("detail"))
        out += _field("who", c.owner_label(f))
        out += _field("fix", f.get("remediation"), style)
        cause = c.cause_of(f, numbered)
        if cause is not None:
            out += _field("cause", f"finding {cause[0]} ({cause[1].get('title')})")
        if f.get("doc_url"):
            out += _field("docs", f["doc_url"])
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
    reason = data.get("severity_reason")
    severity = f"Suggested {data.get('suggested_severity')}" + (f": {reason}" if reason else "")
    lines = textwrap.wrap(severity + " A person decides.", width=WIDTH)
    return "\n".join([*lines, style(c.redaction_text(data), "dim")])


def _summary(data: Data, style: Style) -> str:
    verdict = str(data.get("verdict"))
    line = f"{verdict}: {c.tally(data)} — suggested {data.get('suggested_severity')}"
    return style(line, c.tone(c.VERDICT_TONES, verdict))
