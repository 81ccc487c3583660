"""The support console's view models: site search results, a ticket's due times and reports."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from flask import url_for
from sqlalchemy.orm import Session

from app import storage
from app.models import Ticket
from app.services import runs
from app.storage import runs as run_store
from app.storage.runs import FoundSite
from app.tickets import store as ticket_store
from app.views.report import local_time, verdict_badge
from diagnostics.policy import SlaResult, sla_for
from diagnostics.render import _common as c


def search_results(found: list[FoundSite]) -> list[dict[str, Any]]:
    """The sites a search found (:func:`app.storage.runs.search_sites`), linked to their spaces."""
    results = []
    for site in found:
        path = run_store.path_key(site.installation.id)
        results.append(
            {
                "installation_id": site.installation.id,
                "site_url": site.installation.site_url,
                "spaces": [
                    {
                        "key": s.key,
                        "organization_id": s.organization_id,
                        "url": url_for("console.space", site=path, space_key=s.key),
                        "latest": _latest(site.latest.get(s.key)),
                    }
                    for s in site.spaces
                ],
            }
        )
    return results


def _latest(run: tuple[str, Any] | None) -> str | None:
    """A space's latest run in words: ``Broken, 23 Nov 2026 10:00 AEDT``."""
    if run is None:
        return None
    verdict, at = run
    return f"{c.word(verdict, c.VERDICT_WORDS)}, {local_time(at)}"


def ticket_due_times(db: Session, key: str) -> tuple[Ticket, SlaResult | None]:
    """A local ticket and its due times (its severity, else the one its labels suggest)."""
    ticket = ticket_store.get_ticket(db, key)
    severity, _ = ticket_store.ticket_severity(ticket)
    return ticket, sla_for(severity, ticket.created_at) if severity else None


def ticket_reports(db: Session, ticket: Ticket) -> list[dict[str, Any]]:
    """The diagnostics reports attached to a local ticket, as links to their console pages."""
    if not ticket.installation_id:
        return []
    found: list[dict[str, Any]] = []
    for attachment in ticket_store.ticket_detail(db, ticket.key).attachments:
        if not attachment.name.endswith(".json"):
            continue
        content = ticket_store.attachment_content(db, ticket.key, attachment.id)
        try:
            report = json.loads(content.data)
            run = runs.get_run(db, ticket.installation_id, str(report["run_id"]))
        except (ValueError, KeyError, TypeError, storage.NotFound):
            continue
        space_key = report.get("space_key")
        if not space_key or any(r["run_id"] == run.id for r in found):
            continue
        url = url_for(
            "console.space",
            site=run_store.path_key(ticket.installation_id),
            space_key=space_key,
            run=run.id,
            _anchor="verdict",
        )
        verdict = verdict_badge(run.verdict)
        found.append(
            {
                "run_id": run.id,
                "url": url,
                "space_key": space_key,
                "verdict": verdict,
                "at": run.created_at,
            }
        )
    return found


_SLA_ROWS = (
    ("opened_at", "Opened"),
    ("clock_started_at", "Clock started"),
    ("initial_response_due", "Initial response due"),
    ("next_update_due", "Next update due"),
    ("resolution_due", "Resolution due"),
)


def sla_view(sla: SlaResult) -> dict[str, Any]:
    """Due times as Melbourne time with offset, and UTC."""
    due = sla.due_times()
    return {
        "severity": sla.severity,
        "rows": [
            {
                "label": label,
                "local": local_time(due[key]),
                "utc": due[key].astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC"),
            }
            for key, label in _SLA_ROWS
        ],
        "cadence": sla.update_cadence,
        "holidays": ", ".join(f"{h.name} ({h.date.isoformat()})" for h in sla.holiday_in_window),
        "breached": sla.resolution_breached,
        "requires": "; ".join(sla.requires),
        "notes": list(sla.notes),
    }
