"""The report as Markdown, for Jira Service Management ticket comments and attachments.

What to fix comes first: each root cause, worst first, with why, who must act, what to do (once)
and a doc link, and the titles of the findings that follow from it listed beneath. Then the dataset
coverage, scopes, macros, checks, ticket details, suggested severity and
redactions. Status is told in words (no emoji); text from the report is escaped so that it cannot
turn into HTML, links or images.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from diagnostics.render import _common as c
from diagnostics.render.view import FindingView, MacroView, ReportView, RootCauseGroupView
from diagnostics.report import Report

Data = Mapping[str, Any]

_ESCAPE = re.compile(r"([\\<>])")
_BLANK = "—"


def render(report: Report | Data | ReportView, *, audience: str = "support") -> str:
    """The whole report as one Markdown document."""
    view = ReportView.of(report)
    parts = [
        _header(view),
        _findings(view, audience),
        _datasets(view),
        _scopes(view),
        _macros(view),
        _checks(view),
        _ticket(view),
        _severity(view),
        _redactions(view),
        f"_MuleSight diagnostics report, schema version {view.schema_version}._",
    ]
    return "\n\n".join(p for p in parts if p)


def esc(value: Any) -> str:
    """Report text made safe as Markdown: no raw HTML, links or images; one line.

    ``<`` and ``>`` are escaped (no HTML, no autolinks) and ``](`` is broken up (no inline link or
    image), so ``[REDACTED:client_secret]`` still reads as it is.
    """
    text = _ESCAPE.sub(r"\\\1", " ".join(str(value).split()))
    return text.replace("](", "]\\(")


def cell(value: Any) -> str:
    """A table cell: escaped, ``|`` escaped, a dash when empty."""
    text = esc(value) if value not in (None, "") else _BLANK
    return text.replace("|", "\\|")


def code(value: Any) -> str:
    """An identifier (key, id, path) as a code span."""
    text = str(value)
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def link(url: Any, label: str | None = None) -> str:
    """A link when ``url`` is http(s), else the escaped text (never a ``javascript:`` link)."""
    safe = c.safe_url(url)
    if safe is None:
        return esc(url) if url else _BLANK
    safe = safe.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")
    return f"[{esc(label)}](<{safe}>)" if label else f"<{safe}>"


def _header(view: ReportView) -> str:
    verdict = view.verdict_word
    lines = [
        f"# MuleSight diagnostics: {verdict}",
        "",
        f"**{verdict}: {esc(view.summary.headline)}**"
        + (
            f" Suggested severity: **{esc(view.suggested_severity)}**."
            if view.suggests_severity
            else ""
        ),
        "",
        *_context(view),
    ]
    return "\n".join(lines)


def _context(view: ReportView) -> list[str]:
    site = view.site_url
    space = f" (space {code(view.space_key)})" if view.space_key else ""
    envs = ", ".join(f"{esc(e.name)} ({esc(e.type)}, {code(e.id)})" for e in view.environments)
    run = f"{code(view.run_id)} at {esc(view.when(view.generated_at))}"
    timing = view.run_timing
    lines = [
        f"- **Site:** {link(site) if site else c.NOT_KNOWN}{space}",
        f"- **Anypoint organization:** {esc(view.organization)}, "
        f"control plane {code(view.control_plane)}",
        f"- **Environments:** {envs or 'none listed'}",
        f"- **Run:** {run}" + (f", {timing}" if timing else ""),
    ]
    if view.escalation_stage:
        lines.append(f"- **Escalation stage:** {esc(view.escalation_stage)}")
    return lines


def _findings(view: ReportView, audience: str) -> str:
    if not view.groups:
        return (
            "## What to fix\n\nNothing: no check failed or warned.\n\n"
            "Still seeing errors in a macro? Reload the page; if it still fails, send this report "
            "and a screenshot to MuleSight support."
        )
    blocks = ["## What to fix (root causes, worst first)"]
    blocks += [_root(view, g, audience) for g in view.groups]
    return "\n\n".join(blocks)


def _root(view: ReportView, g: RootCauseGroupView, audience: str) -> str:
    f = g.root
    lines = [
        f"### {g.number}. {f.word}: {esc(f.title)}",
        "",
        f"- **Why:** {esc(f.detail)}",
        f"- **Who must act:** {esc(f.owner_label(audience))}",
        f"- **What to do:** {esc(f.remediation)}",
    ]
    affects = _affects(view, f)
    if affects:
        lines.append(f"- **Affects:** {affects}")
    if f.doc_url:
        lines.append(f"- **Docs:** {link(f.doc_url)}")
    if g.consequences:
        lines.append(f"- **{esc(g.affects_text)}:**")
        for x in g.consequences:
            lines.append(f"  - {x.word}: {esc(x.title)}{_pages(view, x)}")
    return "\n".join(lines)


def _affects(view: ReportView, f: FindingView) -> str:
    parts = []
    if f.datasets:
        parts.append("datasets " + ", ".join(_dataset(k, view.dataset_name(k)) for k in f.datasets))
    if f.scopes:
        parts.append("scopes " + ", ".join(code(s) for s in f.scopes))
    if f.macros:
        labels = (_macro_link(i + 1, m) if (m := view.macro(i)) else f"#{i + 1}" for i in f.macros)
        parts.append("macros " + ", ".join(labels))
    return "; ".join(parts)


def _pages(view: ReportView, f: FindingView) -> str:
    """`` ([open the page](<url>))`` for a finding about macros (its title names the page)."""
    links = []
    for i in f.macros:
        m = view.macro(i)
        if m is not None and m.page_url:
            links.append(link(m.page_url, "open the page"))
    return f" ({', '.join(dict.fromkeys(links))})" if links else ""


def _macro_link(number: int, macro: MacroView) -> str:
    label = f"#{number} {macro.label}"
    return link(macro.page_url, label) if macro.page_url else esc(label)


def _dataset(key: str, name: str | None) -> str:
    """``API Manager (`api_manager`)``, or the key alone when the report has no name."""
    return f"{esc(name)} ({code(key)})" if name else code(key)


def _datasets(view: ReportView) -> str:
    rows = []
    for d in view.datasets:
        freshness = c.word(d.freshness, c.FRESHNESS_WORDS)
        if d.stale_fallback:
            freshness += " (serving the last good cache)"
        rows.append(
            [
                _dataset(d.key, d.name).replace("|", "\\|"),
                cell(c.word(d.coverage, c.COVERAGE_WORDS)),
                cell(d.reason_text),
                cell(freshness),
                cell(view.when(d.last_successful_fetch)),
                cell(d.impact),
            ]
        )
    headers = ["Dataset", "Coverage", "Reason", "Cache", "Last successful fetch", "Impact"]
    out = "## Dataset coverage\n\n" + table(headers, rows)
    failed = _failed_calls(view)
    return out + ("\n\n" + failed if failed else "")


def _failed_calls(view: ReportView) -> str:
    lines = []
    for d in view.datasets:
        for kind, paths in d.failed:
            for path in paths:
                verb = c.FAILED_CALL_WORDS.get(kind, kind)
                lines.append(f"- {esc(d.name or d.key)}: {esc(verb)} {code(path)}")
    return "Failed calls:\n\n" + "\n".join(lines) if lines else ""


def _scopes(view: ReportView) -> str:
    rows = [
        [
            code(s.key),
            cell(s.status_text),
            cell(view.places(s.missing_in)),
            ", ".join(code(k) for k in s.used_by) or _BLANK,
            cell(s.why_needed),
            cell(s.impact),
        ]
        for s in view.scopes
    ]
    headers = ["Scope", "Status", "Missing in", "Used by", "Why MuleSight needs it", "Impact"]
    return "## Scopes\n\n" + table(headers, rows)


def _macros(view: ReportView) -> str:
    if not view.macros:
        return "## Macros\n\nNo MuleSight macro was found or rendered in this space."
    rows = [
        [
            str(m.index + 1),
            cell(m.kind),
            cell(m.mode_name),
            _page_cell(m),
            _dataset(str(m.dataset), view.dataset_name(str(m.dataset))),
            cell(c.word(m.status, c.MACRO_WORDS)),
            cell(view.when(m.last_rendered_at)),
            cell(m.error),
        ]
        for m in view.macros
    ]
    headers = ["#", "Macro", "Mode", "Page", "Dataset", "Status", "Last rendered", "Error"]
    return "## Macros\n\n" + table(headers, rows)


def _page_cell(m: MacroView) -> str:
    return (link(m.page_url, m.page) if m.page_url else cell(m.page)).replace("|", "\\|")


def _checks(view: ReportView) -> str:
    if not view.checks:
        return ""
    rows = [
        [
            cell(k.title),
            cell(c.word(k.status, c.CHECK_WORDS)),
            cell(c.duration(k.elapsed_ms)),
        ]
        for k in view.checks
    ]
    return "## Checks\n\n" + table(["Check", "Status", "Time"], rows)


def _ticket(view: ReportView) -> str:
    rows = [[cell(label), cell(value)] for label, value in view.ticket_rows]
    out = "## Ticket details\n\n" + table(["Detail", "Value"], rows)
    if view.by_hand:
        out += "\n\nStill to add by hand: " + "; ".join(view.by_hand) + "."
    return out


def _severity(view: ReportView) -> str:
    if not view.suggests_severity:
        return ""
    reason = view.severity_reason
    line = f"**{esc(view.suggested_severity)}**" + (f": {esc(reason)}" if reason else ".")
    return f"## Suggested severity\n\n{line}\n\nA person decides the ticket's severity."


def _redactions(view: ReportView) -> str:
    return "## Redactions\n\n" + esc(view.redaction_text)
