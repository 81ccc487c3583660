"""What both report pages (self-check and console) do: show a run, export it, run, attach.

The stored report is already redacted; :mod:`app.views.report` arranges it for the templates.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, abort, current_app, flash, render_template, request
from sqlalchemy.orm import Session

from app import storage
from app.audit import audit
from app.context import real_app
from app.crypto import secret_box
from app.db import get_db, get_session
from app.jobs import DISPATCH_OUTBOX, get_queue
from app.models import DiagnosticRun, Installation, Space, Ticket
from app.services import outbox, runs
from app.tickets import store as ticket_store
from app.tickets.connectors import TARGET_LOCAL, dispatch_pending, target_for
from app.tickets.enrichment import attach_run
from app.views.report import EXPORT_FORMATS, Links, report_context, ticket_preview
from diagnostics.engine import DEFAULT_DEADLINE_S
from diagnostics.findings import Audience
from diagnostics.simulator import ScenarioError

TICKET_OK, TICKET_ERROR = "ticket", "ticket-error"  # flashed inside the ticket section
TICKET_KEY = re.compile(r"[A-Z][A-Z0-9_]*-[0-9]+")


def report_page(
    template: str,
    installation: Installation,
    space: Space,
    links: Links,
    run_id: str | None,
    audience: str = Audience.SUPPORT,
    **extra: Any,
) -> str:
    """Render a report page: the chosen (or latest) run of ``space``, its history and diff."""
    return render_template(
        template,
        **report_context(get_session(), installation, space, links, run_id, audience),
        deadline_s=f"{DEFAULT_DEADLINE_S:g}",
        ticket_backend=ticket_backend_name(),
        ticket_local=target_for(current_app.config) == TARGET_LOCAL,
        **extra,
    )


def export_response(run: DiagnosticRun, ext: str) -> Response:
    """A download of the stored report in one format."""
    fmt = EXPORT_FORMATS.get(ext)
    if fmt is None:
        abort(404, f"No export format {ext!r}: use json, md or html.")
    body, content_type = runs.render_run(run, fmt)
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="mulesight-{run.id}.{ext}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def start_run(space: Space, actor: str) -> DiagnosticRun | None:
    """Run diagnostics; a problem becomes a flashed message (``None``)."""
    try:
        return runs.run_for_space(
            get_session(),
            space,
            config=current_app.config,
            box=secret_box(),
            requested_by=actor,
        )
    except ScenarioError as exc:
        flash(f"Diagnostics could not start: {exc}", "error")
    return None


def ticket_backend_name() -> str:
    local = target_for(current_app.config) == TARGET_LOCAL
    return "the local ticket store" if local else "Service Management"


def _new_local_ticket(db: Session, run: DiagnosticRun) -> Ticket:
    data = run.report
    where = " ".join(filter(None, [data.get("site_url"), data.get("space_key")]))
    return ticket_store.create_ticket(
        db,
        summary=f"MuleSight diagnostics: {data.get('verdict')} on {where}"[:255],
        description=ticket_preview(data)["text"],
        site_url=data.get("site_url"),
        severity=data.get("suggested_severity"),
        installation_id=run.installation_id,
    )


def attach_from_form(db: Session, run: DiagnosticRun, actor: str) -> str | None:
    """Attach ``run`` to the form's ticket, or to a new local one; the ticket key, or ``None``.

    The comment, reports and labels go through the outbox; the local store is written at once,
    Service Management by the job queue.
    """
    target = target_for(current_app.config)
    key = request.form.get("ticket_key", "").strip().upper()
    if request.form.get("target", "new") == "new":
        if target != TARGET_LOCAL:
            flash("Enter the Service Management ticket key to attach to.", TICKET_ERROR)
            return None
        key = _new_local_ticket(db, run).key
    elif not TICKET_KEY.fullmatch(key):
        flash("Enter a ticket key such as MSUP-12, or create a new local ticket.", TICKET_ERROR)
        return None
    try:
        opened_at = ticket_store.get_ticket(db, key).created_at if target == TARGET_LOCAL else None
    except storage.NotFound as exc:
        flash(str(exc), TICKET_ERROR)
        return None
    result = attach_run(db, run, key, target=target, opened_at=opened_at)
    db.commit()
    prefix = f"attach:{run.id}:{key}:"
    if target == TARGET_LOCAL:
        dispatch_pending(current_app.config, get_db().sessionmaker, prefix=prefix, worker="pages")
    else:
        get_queue(real_app()).enqueue(DISPATCH_OUTBOX, {"prefix": prefix})
    db.expire_all()
    delivered = all(
        (m := outbox.find_message(db, k)) is not None and m.status == outbox.DELIVERED
        for k in result.messages
    )
    audit(actor, "run.attach", run.installation_id, run.report.get("space_key"), f"{run.id} {key}")
    if not delivered:
        flash(f"Report queued for ticket {key}: it is delivered in the background.", TICKET_OK)
        return None
    return key
