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
from diagnostics.render.view import ReportView, RootCauseGroupView
from diagnostics.report import Report

Data = Mapping[str, Any]

MAX_MACROS = 3
_CODE = re.compile(r"`([^`]+)`")
_JIRA_SPECIAL = re.compile(r"([{}\[\]|*_^~+\\])")
_MD_SPECIAL = re.compile(r"([\\<>*_\[\]])")
JIRA_ICONS = {"fail": "(x)", "warn": "(!)", "healthy": "(/)", "degraded": "(!)", "broken": "(x)"}


def render(
    report: Report | Data | ReportView, *, audience: str = "support", flavour: str = "jira"
) -> str:
    """The ticket summary as Jira wiki markup (or Markdown with ``flavour="markdown"``)."""
    view = ReportView.of(report)
    fmt = _Jira() if flavour == "jira" else _Markdown()
    lines = [
        fmt.heading(
            3,
            f"{fmt.icon(str(view.verdict))}MuleSight diagnostics: "
            f"{view.verdict_word} — {view.summary.headline}",
        ),
        f"{fmt.bold('Site:')} {fmt.link(view.site_url)} · "
        f"space {fmt.text(view.space_key or c.NOT_KNOWN)} · "
        f"organization {fmt.text(view.organization)} · "
        f"{fmt.text(view.when(view.generated_at))}",
    ]
    for g in view.groups:
        lines += _root_lines(view, g, fmt, audience)
    if not view.groups:
        lines.append(
            "Still seeing errors in a macro? Ask the reporter to reload the page and, if it still "
            "fails, for a screenshot and the page link; then run diagnostics again."
        )
    else:
        reason = view.severity_reason
        lines.append(
            f"{fmt.bold('Suggested severity:')} {fmt.text(view.suggested_severity)}"
            + (f" — {fmt.text(reason)}" if reason else "")
            + " A person decides."
        )
    lines.append(f"{fmt.bold('Run:')} {fmt.code(view.run_id)} · the full report is attached.")
    return "\n".join(lines)


def _root_lines(view: ReportView, g: RootCauseGroupView, fmt: _Jira, audience: str) -> list[str]:
    f = g.root
    lines = [
        fmt.heading(4, f"{g.number}. {fmt.icon(str(f.status))}{f.word}: {f.title}"),
        f"{fmt.bold('Who must act:')} {fmt.text(f.owner_label(audience))}",
        f"{fmt.bold('What to do:')} {fmt.text(f.remediation)}",
        f"{fmt.bold('Why:')} {fmt.text(f.detail)}",
    ]
    if g.affects_text:
        lines.append(f"{fmt.bold('Affects:')} {fmt.text(g.affects_text)}.")
    pages = _pages(view, g, fmt)
    if pages:
        lines.append(f"{fmt.bold('Pages:')} {', '.join(pages)}")
    return lines


def _pages(view: ReportView, g: RootCauseGroupView, fmt: _Jira) -> list[str]:
    """The pages of the group's macros, once each, the first few linked."""
    seen: list[str] = []
    out = []
    for f in g.members:
        for i in f.macros:
            m = view.macro(i)
            if m is None or str(m.page_id) in seen:
                continue
            seen.append(str(m.page_id))
            out.append((m.page, m.page_url))
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
