"""The Jira-ready summary of a report (report.md, "Root causes": ``--format ticket``).

What a support engineer reads first on a ticket: the verdict, each root cause (worst first) with
who must act and the fix, what it affects in counts, and the run id. At most 20 lines for a
report with one root cause; the full report goes with the ticket as an attachment.

``flavour="jira"`` gives Jira wiki markup (what ``mulesight diagnose --format ticket`` prints and
the page's "Copy for Jira" copies); ``flavour="markdown"`` gives the same lines as Markdown, for
comment pipelines that translate Markdown themselves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from diagnostics.render import _common as c
from diagnostics.report import Report

Data = Mapping[str, Any]

MAX_MACROS = 3
_CODE = re.compile(r"`([^`]+)`")
_JIRA_SPECIAL = re.compile(r"([{}\[\]|*_^~+\\])")
_MD_SPECIAL = re.compile(r"([\\<>*_\[\]])")
JIRA_ICONS = {"fail": "(x)", "warn": "(!)", "healthy": "(/)", "degraded": "(!)", "broken": "(x)"}


def render(report: Report | Data, *, audience: str = "support", flavour: str = "jira") -> str:
    """The ticket summary as Jira wiki markup (or Markdown with ``flavour="markdown"``)."""
    data = c.data_of(report)
    fmt = _Jira() if flavour == "jira" else _Markdown()
    verdict = str(data.get("verdict"))
    found = c.groups(data)
    lines = [
        fmt.heading(
            3,
            f"{fmt.icon(verdict)}MuleSight diagnostics: "
            f"{c.VERDICT_WORDS.get(verdict, verdict)} — {c.headline(data)}",
        ),
        f"{fmt.bold('Site:')} {fmt.link(data.get('site_url'))} · "
        f"space {fmt.text(data.get('space_key') or c.NOT_KNOWN)} · "
        f"organization {fmt.text(c.organization_text(data))} · "
        f"{fmt.text(c.when(data, data.get('generated_at')))}",
    ]
    for g in found:
        lines += _root_lines(data, g, fmt, audience)
    if not found:
        lines.append(
            "Still seeing errors in a macro? Ask the reporter to reload the page and, if it still "
            "fails, for a screenshot and the page link; then run diagnostics again."
        )
    else:
        reason = data.get("severity_reason")
        lines.append(
            f"{fmt.bold('Suggested severity:')} {fmt.text(data.get('suggested_severity'))}"
            + (f" — {fmt.text(reason)}" if reason else "")
            + " A person decides."
        )
    lines.append(
        f"{fmt.bold('Run:')} {fmt.code(data.get('run_id'))} · the full report is attached."
    )
    return "\n".join(lines)


def _root_lines(data: Data, g: c.Group, fmt: _Jira, audience: str) -> list[str]:
    f = g.root
    status = str(f.get("status"))
    word = c.FINDING_WORDS.get(status, status.upper())
    lines = [
        fmt.heading(4, f"{g.number}. {fmt.icon(status)}{word}: {f.get('title')}"),
        f"{fmt.bold('Who must act:')} {fmt.text(c.owner_label(f, audience))}",
        f"{fmt.bold('What to do:')} {fmt.text(f.get('remediation'))}",
        f"{fmt.bold('Why:')} {fmt.text(f.get('detail'))}",
    ]
    affects = c.affects_text(g)
    if affects:
        lines.append(f"{fmt.bold('Affects:')} {fmt.text(affects)}.")
    pages = _pages(data, g, fmt)
    if pages:
        lines.append(f"{fmt.bold('Pages:')} {', '.join(pages)}")
    return lines


def _pages(data: Data, g: c.Group, fmt: _Jira) -> list[str]:
    macros = data.get("macros", [])
    seen: list[str] = []
    out = []
    for f in (g.root, *g.consequences):
        for i in f.get("macros") or []:
            if i >= len(macros) or str(macros[i].get("page_id")) in seen:
                continue
            m = macros[i]
            seen.append(str(m.get("page_id")))
            label = c.macro_page(m)
            out.append((label, c.page_url(data, m.get("page_id"))))
    links = [fmt.link(url, label) if url else fmt.text(label) for label, url in out[:MAX_MACROS]]
    more = len(out) - MAX_MACROS
    return links + ([f"and {more} more"] if more > 0 else [])


class _Jira:
    """Jira wiki markup."""

    def heading(self, level: int, text: str) -> str:
        return f"h{level}. {self.text(text)}"

    def icon(self, status: str) -> str:
        icon = JIRA_ICONS.get(status)
        return f"{icon} " if icon else ""

    def bold(self, text: str) -> str:
        return f"*{text}*"

    def code(self, value: Any) -> str:
        return "{{" + re.sub(r"([{}])", r"\\\1", str(value)) + "}}"

    def text(self, value: Any) -> str:
        parts = _CODE.split(" ".join(str(value).split()))
        return "".join(
            self.code(p) if i % 2 else _JIRA_SPECIAL.sub(r"\\\1", p) for i, p in enumerate(parts)
        )

    def link(self, url: Any, label: str | None = None) -> str:
        safe = c.safe_url(url)
        if safe is None:
            return self.text(label or url or c.NOT_KNOWN)
        return f"[{self.text(label)}|{safe}]" if label else f"[{safe}]"


class _Markdown(_Jira):
    """The same lines as Markdown."""

    def heading(self, level: int, text: str) -> str:
        return f"{'#' * level} {self.text(text)}"

    def icon(self, status: str) -> str:
        return ""

    def bold(self, text: str) -> str:
        return f"**{text}**"

    def code(self, value: Any) -> str:
        return f"`{str(value).replace('`', '')}`"

    def text(self, value: Any) -> str:
        parts = _CODE.split(" ".join(str(value).split()))
        return "".join(
            self.code(p) if i % 2 else _MD_SPECIAL.sub(r"\\\1", p) for i, p in enumerate(parts)
        )

    def link(self, url: Any, label: str | None = None) -> str:
        safe = c.safe_url(url)
        if safe is None:
            return self.text(label or url or c.NOT_KNOWN)
        return f"[{self.text(label)}](<{safe}>)" if label else f"<{safe}>"
