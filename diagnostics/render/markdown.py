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
from diagnostics.report import Report

Data = Mapping[str, Any]

_ESCAPE = re.compile(r"([\\<>])")
_BLANK = "—"


def render(report: Report | Data, *, audience: str = "support") -> str:
    """The whole report as one Markdown document."""
    data = c.data_of(report)
    parts = [
        _header(data),
        _findings(data, c.groups(data), audience),
        _datasets(data),
        _scopes(data),
        _macros(data),
        _checks(data),
        _ticket(data),
        _severity(data),
        _redactions(data),
        f"_MuleSight diagnostics report, schema version {data.get('schema_version')}._",
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


def _header(data: Data) -> str:
    verdict = c.VERDICT_WORDS.get(str(data.get("verdict")), str(data.get("verdict")))
    lines = [
        f"# MuleSight diagnostics: {verdict}",
        "",
        f"**{verdict}: {esc(c.headline(data))}**"
        + (
            f" Suggested severity: **{esc(data.get('suggested_severity'))}**."
            if c.suggests_severity(data)
            else ""
        ),
        "",
        *_context(data),
    ]
    return "\n".join(lines)


def _context(data: Data) -> list[str]:
    site = data.get("site_url")
    space = f" (space {code(data['space_key'])})" if data.get("space_key") else ""
    envs = ", ".join(
        f"{esc(e.get('name'))} ({esc(e.get('type'))}, {code(e.get('id'))})"
        for e in data.get("environments", [])
    )
    run = f"{code(data.get('run_id'))} at {esc(c.when(data, data.get('generated_at')))}"
    timing = c.run_timing(data)
    lines = [
        f"- **Site:** {link(site) if site else c.NOT_KNOWN}{space}",
        f"- **Anypoint organization:** {esc(c.organization_text(data))}, "
        f"control plane {code(data.get('control_plane'))}",
        f"- **Environments:** {envs or 'none listed'}",
        f"- **Run:** {run}" + (f", {timing}" if timing else ""),
    ]
    if data.get("escalation_stage"):
        lines.append(f"- **Escalation stage:** {esc(data['escalation_stage'])}")
    return lines


def _findings(data: Data, found: Sequence[c.Group], audience: str) -> str:
    if not found:
        return (
            "## What to fix\n\nNothing: no check failed or warned.\n\n"
            "Still seeing errors in a macro? Reload the page; if it still fails, send this report "
            "and a screenshot to MuleSight support."
        )
    blocks = ["## What to fix (root causes, worst first)"]
    blocks += [_root(data, g, audience) for g in found]
    return "\n\n".join(blocks)


def _root(data: Data, g: c.Group, audience: str) -> str:
    f = g.root
    word = c.FINDING_WORDS.get(str(f.get("status")), str(f.get("status")).upper())
    lines = [
        f"### {g.number}. {word}: {esc(f.get('title'))}",
        "",
        f"- **Why:** {esc(f.get('detail'))}",
        f"- **Who must act:** {esc(c.owner_label(f, audience))}",
        f"- **What to do:** {esc(f.get('remediation'))}",
    ]
    affects = _affects(data, f)
    if affects:
        lines.append(f"- **Affects:** {affects}")
    if f.get("doc_url"):
        lines.append(f"- **Docs:** {link(f['doc_url'])}")
    if g.consequences:
        lines.append(f"- **{esc(c.affects_text(g))}:**")
        for x in g.consequences:
            word = c.FINDING_WORDS.get(str(x.get("status")), str(x.get("status")).upper())
            lines.append(f"  - {word}: {esc(x.get('title'))}{_pages(data, x)}")
    return "\n".join(lines)


def _affects(data: Data, f: Data) -> str:
    macros = data.get("macros", [])
    parts = []
    if f.get("datasets"):
        parts.append(
            "datasets " + ", ".join(_dataset(k, c.dataset_name(data, k)) for k in f["datasets"])
        )
    if f.get("scopes"):
        parts.append("scopes " + ", ".join(code(s) for s in f["scopes"]))
    if f.get("macros"):
        labels = (
            _macro_link(data, i + 1, macros[i]) if i < len(macros) else f"#{i + 1}"
            for i in f["macros"]
        )
        parts.append("macros " + ", ".join(labels))
    return "; ".join(parts)


def _pages(data: Data, f: Data) -> str:
    """`` ([open the page](<url>))`` for a finding about macros (its title names the page)."""
    macros = data.get("macros", [])
    links = []
    for i in f.get("macros") or []:
        url = c.page_url(data, macros[i].get("page_id")) if i < len(macros) else None
        if url:
            links.append(link(url, "open the page"))
    return f" ({', '.join(dict.fromkeys(links))})" if links else ""


def _macro_link(data: Data, number: int, macro: Data) -> str:
    url = c.page_url(data, macro.get("page_id"))
    label = f"#{number} {c.macro_label(macro)}"
    return link(url, label) if url else esc(label)


def _dataset(key: str, name: str | None) -> str:
    """``API Manager (`api_manager`)``, or the key alone when the report has no name."""
    return f"{esc(name)} ({code(key)})" if name else code(key)


def _datasets(data: Data) -> str:
    rows = []
    for key, d in data.get("datasets", {}).items():
        freshness = c.word(d.get("freshness"), c.FRESHNESS_WORDS)
        if d.get("stale_fallback"):
            freshness += " (serving the last good cache)"
        rows.append(
            [
                _dataset(key, d.get("name")).replace("|", "\\|"),
                cell(c.word(d.get("coverage"), c.COVERAGE_WORDS)),
                cell(c.dataset_reason(d)),
                cell(freshness),
                cell(c.when(data, d.get("last_successful_fetch"))),
                cell(d.get("impact")),
            ]
        )
    headers = ["Dataset", "Coverage", "Reason", "Cache", "Last successful fetch", "Impact"]
    out = "## Dataset coverage\n\n" + table(headers, rows)
    failed = _failed_calls(data)
    return out + ("\n\n" + failed if failed else "")


def _failed_calls(data: Data) -> str:
    lines = []
    for key, d in data.get("datasets", {}).items():
        for kind, paths in (d.get("failed") or {}).items():
            for path in paths:
                verb = c.FAILED_CALL_WORDS.get(kind, kind)
                lines.append(f"- {esc(d.get('name') or key)}: {esc(verb)} {code(path)}")
    return "Failed calls:\n\n" + "\n".join(lines) if lines else ""


def _scopes(data: Data) -> str:
    names = c.environment_names(data)
    rows = []
    for key, s in data.get("scopes", {}).items():
        status = c.scope_status_text(s)
        rows.append(
            [
                code(key),
                cell(status),
                cell(c.places(s.get("missing_in") or [], names)),
                ", ".join(code(k) for k in s.get("used_by") or []) or _BLANK,
                cell(s.get("why_needed")),
                cell(s.get("impact")),
            ]
        )
    headers = ["Scope", "Status", "Missing in", "Used by", "Why MuleSight needs it", "Impact"]
    return "## Scopes\n\n" + table(headers, rows)


def _macros(data: Data) -> str:
    macros = data.get("macros", [])
    if not macros:
        return "## Macros\n\nNo MuleSight macro was found or rendered in this space."
    rows = [
        [
            str(i),
            cell(c.macro_kind(m)),
            cell(c.macro_mode(m)),
            _page_cell(data, m),
            _dataset(str(m.get("dataset")), c.dataset_name(data, str(m.get("dataset")))),
            cell(c.word(m.get("status"), c.MACRO_WORDS)),
            cell(c.when(data, m.get("last_rendered_at"))),
            cell(m.get("error")),
        ]
        for i, m in enumerate(macros, start=1)
    ]
    headers = ["#", "Macro", "Mode", "Page", "Dataset", "Status", "Last rendered", "Error"]
    return "## Macros\n\n" + table(headers, rows)


def _page_cell(data: Data, m: Data) -> str:
    url = c.page_url(data, m.get("page_id"))
    return (link(url, c.macro_page(m)) if url else cell(c.macro_page(m))).replace("|", "\\|")


def _checks(data: Data) -> str:
    checks = data.get("checks", [])
    if not checks:
        return ""
    rows = [
        [
            cell(k.get("title")),
            cell(c.word(k.get("status"), c.CHECK_WORDS)),
            cell(c.duration(k.get("elapsed_ms"))),
        ]
        for k in checks
    ]
    return "## Checks\n\n" + table(["Check", "Status", "Time"], rows)


def _ticket(data: Data) -> str:
    rows = [[cell(label), cell(value)] for label, value in c.ticket_rows(data)]
    out = "## Ticket details\n\n" + table(["Detail", "Value"], rows)
    missing = c.by_hand(data)
    if missing:
        out += "\n\nStill to add by hand: " + "; ".join(missing) + "."
    return out


def _severity(data: Data) -> str:
    if not c.suggests_severity(data):
        return ""
    reason = data.get("severity_reason")
    line = f"**{esc(data.get('suggested_severity'))}**" + (f": {esc(reason)}" if reason else ".")
    return f"## Suggested severity\n\n{line}\n\nA person decides the ticket's severity."


def _redactions(data: Data) -> str:
    return "## Redactions\n\n" + esc(c.redaction_text(data))
