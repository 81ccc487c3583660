"""The report as one self-contained HTML page (``templates/report.html``, Jinja2, autoescaped).

Inline CSS only: no external stylesheet, font, script or image, so the page works as a ticket
attachment and offline. Every badge carries a symbol and a word, never colour alone. This module
only prepares the rows the template shows; it never decides a status.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from diagnostics.render import _common as c
from diagnostics.render.view import (
    CheckView,
    DatasetView,
    FindingView,
    ReportView,
    RootCauseGroupView,
    ScopeView,
)
from diagnostics.report import Report
from diagnostics.statuses import Coverage

Data = Mapping[str, Any]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE = "report.html"
_CODE = re.compile(r"`([^`]+)`")


def render(report: Report | Data | ReportView, *, audience: str = "support") -> str:
    """The report as a complete HTML document."""
    view = ReportView.of(report)
    return environment().get_template(TEMPLATE).render(view=context(view, audience)).strip()


def configure(env: Environment) -> None:
    """Add the filters the report templates use to a Jinja environment (the service's too)."""
    env.filters["prose"] = prose
    env.filters["path_breaks"] = path_breaks


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    configure(env)
    return env


def prose(value: Any) -> Markup:
    """Report text, escaped, with its `backtick` spans shown as code."""
    escaped = str(escape("" if value is None else value))
    return Markup(_CODE.sub(r"<code>\1</code>", escaped))


def path_breaks(value: Any) -> Markup:
    """An API path, escaped, that may wrap after each ``/`` (and nowhere else)."""
    return Markup("/<wbr>").join(escape(part) for part in str(value).split("/"))


def badge(table: Mapping[str, str], value: Any, text: str | None = None) -> dict[str, str]:
    """What the template's badge shows: a tone (for colour), a symbol and a word."""
    tone = c.tone(table, value)
    return {"tone": tone, "symbol": c.SYMBOLS[tone], "word": text or c.word(value)}


NEXT_STEP = (
    "Still seeing errors in a macro? Reload the page; if it still fails, send this report and a "
    "screenshot to MuleSight support."
)


def context(view: ReportView, audience: str = "support") -> dict[str, Any]:
    """Everything the report templates read (as ``view``), prepared from the report's view."""
    return {
        "schema_version": view.schema_version,
        "run_id": view.run_id,
        "title": f"MuleSight diagnostics: {view.verdict} ({view.run_id})",
        "verdict": badge(c.VERDICT_TONES, view.verdict, c.VERDICT_WORDS.get(str(view.verdict))),
        "tally": view.summary.tally,
        "headline": view.summary.headline,
        "healthy": not view.suggests_severity,
        "facts": _facts(view),
        "causes": [_cause(view, g, audience) for g in view.groups],
        "next_step": NEXT_STEP,
        "datasets": [_dataset(view, d) for d in view.datasets],
        "scopes": [_scope(view, s) for s in view.scopes],
        "macros": _macros(view),
        "checks": [_check(k) for k in view.checks],
        "ticket_rows": view.ticket_rows,
        "by_hand": view.by_hand,
        "severity": view.suggested_severity if view.suggests_severity else None,
        "severity_reason": view.severity_reason,
        "redactions": view.redaction_text,
    }


def _facts(view: ReportView) -> list[dict[str, Any]]:
    envs = ", ".join(f"{e.name} ({e.type}, {e.id})" for e in view.environments)
    facts: list[dict[str, Any]] = [
        {"label": "Site", "text": view.site_url or c.NOT_KNOWN, "url": c.safe_url(view.site_url)},
        {"label": "Space", "text": view.space_key or c.NOT_KNOWN},
        {"label": "Anypoint organization", "text": view.organization},
        {"label": "Control plane", "text": view.control_plane},
        {"label": "Environments", "text": envs or "none listed", "wide": True},
        {"label": "Generated", "text": view.when(view.generated_at)},
        {"label": "Run", "text": view.run_id},
    ]
    if view.run_timing:
        facts.append({"label": "Duration", "text": view.run_timing})
    if view.escalation_stage:
        facts.append({"label": "Escalation stage", "text": view.escalation_stage})
    return [{"url": None, "wide": False, **f} for f in facts]


def _cause(view: ReportView, g: RootCauseGroupView, audience: str) -> dict[str, Any]:
    """A root cause with its fix, and what follows from it (folded in the page)."""
    return {
        **_finding(view, g.root, audience),
        "number": g.number,
        "group_badge": badge(c.FINDING_TONES, g.status),
        "affects_text": g.affects_text,
        "consequences": [_finding(view, x, audience) for x in g.consequences],
    }


def _finding(view: ReportView, f: FindingView, audience: str) -> dict[str, Any]:
    return {
        "key": f.key,
        "badge": badge(c.FINDING_TONES, f.status, c.FINDING_WORDS.get(str(f.status))),
        "title": f.title,
        "detail": f.detail,
        "owner": f.owner_label(audience),
        "remediation": f.remediation,
        "pages": _pages(view, f),
        "doc_url": c.safe_url(f.doc_url),
        "doc_text": f.doc_url,
    }


def _pages(view: ReportView, f: FindingView) -> list[dict[str, Any]]:
    """The Confluence pages of the finding's macros, once each, linked when the site is known."""
    pages: dict[str | None, dict[str, Any]] = {}
    for i in f.macros:
        m = view.macro(i)
        if m is not None and m.page_id not in pages:
            pages[m.page_id] = {"text": m.page, "url": m.page_url}
    return list(pages.values())


def _dataset(view: ReportView, d: DatasetView) -> dict[str, Any]:
    names = view.environment_names
    failed = dict(d.failed)
    return {
        "key": d.key,
        "name": d.name,
        "coverage": badge(c.COVERAGE_TONES, d.coverage, c.word(d.coverage, c.COVERAGE_WORDS)),
        "reason": d.reason_text,
        "cause_links": list(d.links.causes),
        "freshness": badge(c.FRESHNESS_TONES, d.freshness, c.word(d.freshness, c.FRESHNESS_WORDS)),
        "stale_fallback": d.stale_fallback,
        "last": view.when(d.last_successful_fetch),
        "impact": d.impact or c.dataset_impact(d.key),
        "failed": [
            {"label": c.FAILED_CALL_WORDS[kind], "paths": list(failed[kind])}
            for kind in ("forbidden", "timeout", "other")
            if failed.get(kind)
        ],
        "probes": [
            {
                "method": p.method,
                "path": p.path,
                "status": p.status,
                "attempts": p.attempts,
                "message": p.message,
                "environment": c.place(p.environment_id, names) if p.environment_id else None,
                "badge": badge(c.OUTCOME_TONES, p.outcome, c.word(p.outcome, c.OUTCOME_WORDS)),
                "elapsed": c.duration(p.elapsed_ms),
            }
            for p in d.probes
        ],
    }


def _scope(view: ReportView, s: ScopeView) -> dict[str, Any]:
    checked = s.checked and s.verified is not False
    troubled = s.checked and s.status in (Coverage.PARTIAL, Coverage.NONE)
    return {
        "key": s.key,
        "status": badge(c.COVERAGE_TONES, s.status, s.status_text)
        if checked
        else badge({}, None, s.status_text),
        "cause_links": list(s.links.causes),
        "missing_in": view.places(s.missing_in),
        "used_by": ", ".join(view.dataset_name(k) or k for k in s.used_by),
        "validated_by": list(s.validated_by),
        "why_needed": s.why_needed,
        "impact": s.impact if troubled else None,
    }


def _macros(view: ReportView) -> list[dict[str, Any]]:
    titles = {g.number: g.root.title for g in view.groups}
    return [
        {
            "macro": m.kind,
            "mode": m.mode_name,
            "page": m.page,
            "page_url": m.page_url,
            "dataset": view.dataset_name(str(m.dataset)) or m.dataset,
            "status": badge(c.MACRO_TONES, m.status, c.word(m.status, c.MACRO_WORDS)),
            "last": view.when(m.last_rendered_at),
            "error": m.error,
            "causes": [{"number": n, "title": titles[n]} for n in m.links.causes],
        }
        for m in view.macros
    ]


def _check(k: CheckView) -> dict[str, Any]:
    return {
        "title": k.title or k.id,
        "status": badge(c.CHECK_TONES, k.status, c.word(k.status, c.CHECK_WORDS)),
        "elapsed": c.duration(k.elapsed_ms),
    }
