"""The report pages' view model: a stored — already redacted — report arranged for the templates.

The report sections are the engine's templates (``report/*.html``), fed the engine's context
(:func:`diagnostics.render.html.context`); the pages add only what is theirs: the ticket preview,
the previous-run comparison, the facts, history and export links.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app import storage
from app.models import DiagnosticRun, Installation, Space
from app.services import runs
from diagnostics.catalogue import DATASETS
from diagnostics.findings import Audience, people_time
from diagnostics.render import _common as c
from diagnostics.render import html as html_render
from diagnostics.render import ticket as ticket_render
from diagnostics.render.details import detail_text, value_text
from diagnostics.render.view import ReportView
from diagnostics.ticket_details import SUPPORT_TIMEZONE
from diagnostics.tickets import DETAILS

EXPORTS = (("json", "json", "JSON"), ("md", "markdown", "Markdown"), ("html", "html", "HTML"))
EXPORT_FORMATS = {ext: fmt for ext, fmt, _label in EXPORTS}
HISTORY_LIMIT = 10
_DATASET_NAMES = {d.key: d.name for d in DATASETS}


def local_time(value: Any) -> str:
    """A time for people, in the site's zone to the minute: ``23 Nov 2026 10:00 AEDT``."""
    if not value:
        return ""
    when = value if isinstance(value, datetime) else _parse_time(str(value))
    if when is None:
        return str(value)
    return people_time(when, SUPPORT_TIMEZONE) or str(value)


def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def report_view(data: Mapping[str, Any], report: ReportView, audience: str) -> dict[str, Any]:
    """What the report templates read: the HTML report's ``view`` plus the pages' ticket preview.

    The report sections are the engine's templates (``report/*.html``), fed the engine's context;
    the pages add only what is theirs (the ticket preview, the audience's next step). ``report``
    is ``data``'s view, parsed once by the caller.
    """
    view = html_render.context(report, audience)
    view["next_step"] = None  # the ticket section says it, in the reader's words
    view["audience"] = str(audience)
    view["ticket"] = ticket_preview(data, audience, report)
    return view


def verdict_badge(verdict: Any) -> dict[str, str]:
    """A verdict as the pages show it: ``✗ Broken``."""
    return html_render.badge(c.VERDICT_TONES, verdict, c.word(verdict, c.VERDICT_WORDS))


_FILLED = {"tone": "good", "symbol": c.SYMBOLS["good"], "word": "filled in"}
_MISSING = {"tone": "warn", "symbol": c.SYMBOLS["warn"], "word": "still missing"}


def _detail_value(data: Mapping[str, Any], key: str) -> str | None:
    """A required ticket detail in words (as the report renderings say it), or None if unknown."""
    details = data.get("ticket_details") or {}
    if key == "organization_context":
        org, envs = details.get("organization_id"), details.get("environments")
        parts = [f"organization {org}"] if org else []
        parts += [f"environments {value_text(envs)}"] if envs else []
        return "; ".join(parts) or None
    value = details.get(key)
    return None if value in (None, "", []) else detail_text(data, key, value)


def _ask(ask: str, audience: str) -> str:
    """What to add, in the reader's words: support asks the customer; the admin adds it."""
    if audience != Audience.ADMIN:
        return ask
    if ask.startswith("Ask for "):
        return "Add " + ask.removeprefix("Ask for ")
    return "Say " + ask.removeprefix("Ask ") if ask.startswith("Ask ") else ask


def ticket_preview(
    data: Mapping[str, Any], audience: str = Audience.SUPPORT, report: ReportView | None = None
) -> dict[str, Any]:
    """The policy's required ticket details: what this run filled in, what is still missing.

    ``report`` is ``data``'s view when the caller has already parsed it.
    """
    rows = []
    for detail in DETAILS:
        value = _detail_value(data, detail.key)
        rows.append(
            {
                "label": detail.label,
                "filled": value is not None,
                "value": value,
                "ask": _ask(detail.ask, audience),
                "badge": _FILLED if value is not None else _MISSING,
            }
        )
    return {
        "rows": rows,
        "filled_count": sum(r["filled"] for r in rows),
        "text": ticket_text(report or ReportView.from_data(data), rows, audience),
    }


def ticket_text(
    report: ReportView, rows: Sequence[Mapping[str, Any]], audience: str = Audience.SUPPORT
) -> str:
    """What "Copy for Jira" copies: the Jira-ready summary, then the ticket details (redacted)."""
    lines = [ticket_render.render(report, audience=audience), "", "h4. Ticket details"]
    for row in rows:
        value = row["value"] if row["filled"] else f"(still to add) {row['ask']}"
        lines.append(f"* {row['label']}: {value}")
    return "\n".join(lines)


def diff_view(before: DiagnosticRun, after: DiagnosticRun) -> dict[str, Any]:
    """The previous-run comparison, in words."""
    diff = runs.diff_runs(before, after)

    def items(key: str) -> list[dict[str, Any]]:
        return [
            {**f, "status_word": c.FINDING_WORDS.get(str(f.get("status")), f.get("status"))}
            for f in diff.get(key, [])
        ]

    changes = [
        f"{_DATASET_NAMES.get(ch['key'], ch['key'])} coverage: "
        f"{c.word(ch['before'], c.COVERAGE_WORDS)} → {c.word(ch['after'], c.COVERAGE_WORDS)}"
        for ch in diff.get("coverage", [])
    ] + [
        f"Scope {ch['key']}: {c.word(ch['before'], c.SCOPE_WORDS)} → "
        f"{c.word(ch['after'], c.SCOPE_WORDS)}"
        for ch in diff.get("scopes", [])
    ]
    verdict = diff.get("verdict", {})
    return {
        "before_at": before.created_at,
        "verdict_before": verdict_badge(verdict.get("before")),
        "verdict_after": verdict_badge(verdict.get("after")),
        "fixed": items("fixed"),
        "new": items("new"),
        "still_open": items("still_open"),
        "changes": changes,
    }


def facts(
    installation: Installation, report: ReportView | None, last_probe: datetime | None
) -> dict[str, Any]:
    """The page's facts about the site, from the shown run's report when there is one."""
    envs = ", ".join(f"{e.name} ({e.type})" for e in report.environments) if report else ""
    return {
        "site": installation.site_url or installation.id,
        "organization": report.organization if report is not None else c.NOT_KNOWN,
        "environments": envs or ("none listed" if report is not None else c.NOT_KNOWN),
        "last_probe": last_probe,
    }


@dataclass(frozen=True)
class Links:
    """Where the report page's forms and links go (self-check and console differ)."""

    view: Callable[[str], str]
    export: Callable[[str, str], str]
    run: str | None
    attach: Callable[[str], str] | None
    scenario: str | None = None


def report_context(
    db: Session,
    installation: Installation,
    space: Space,
    links: Links,
    run_id: str | None,
    audience: str = Audience.SUPPORT,
) -> dict[str, Any]:
    """What a report page shows: the chosen (or latest) run of ``space``, its history and diff."""
    history = runs.list_runs(db, installation.id, space_key=space.key, limit=HISTORY_LIMIT)
    chosen = run_id or (history[0].id if history else None)
    run = runs.get_run(db, installation.id, chosen) if chosen else None
    if run is not None and run.space_id != space.id:
        raise storage.NotFound(f"No diagnostics run {chosen!r} for space {space.key!r}.")
    view, report = None, None
    if run is not None:
        data = runs.report_of(run).data
        report = ReportView.from_data(data)
        view = report_view(data, report, audience)
        before = runs.previous_run(db, run)
        view["diff"] = diff_view(before, run) if before is not None else None
    page_facts = facts(installation, report, history[0].created_at if history else None)
    return {
        "view": view,
        "facts": page_facts,
        "space_key": space.key,
        "site": installation.site_url or installation.id,
        "history": [
            {
                "url": links.view(h.id),
                "at": h.created_at,
                "verdict": verdict_badge(h.verdict),
                "requested_by": h.requested_by,
                "current": run is not None and h.id == run.id,
            }
            for h in history
        ],
        "exports": [
            {"url": links.export(run.id, ext), "label": f"Download {label}"}
            for ext, _fmt, label in EXPORTS
        ]
        if run is not None
        else [],
        "actions": {
            "run": links.run,
            "attach": links.attach(run.id) if links.attach and run is not None else None,
            "scenario": links.scenario,
        },
    }
