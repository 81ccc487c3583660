"""Support-facing ticket routes: the local ticket store and attaching reports to tickets.

Routes of the support blueprint (:mod:`app.blueprints.support`). Reads need a ``viewer`` support
token; creating a ticket and attaching a report need ``support``.
Writes to a ticket go through the outbox (:mod:`app.services.outbox`) and are delivered by the
job queue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, g
from marshmallow import Schema, fields, validate

from app.audit import audit
from app.auth.support import support_required
from app.blueprints.support import bp
from app.context import real_app
from app.db import get_session
from app.errors import ApiError
from app.jobs import DISPATCH_OUTBOX, ENRICH_LOCAL_TICKET, get_queue
from app.models import Ticket
from app.services import outbox
from app.storage.runs import get_run_any_site
from app.tickets import store
from app.tickets.connectors import TARGET_LOCAL, target_for
from app.tickets.enrichment import attach_run
from diagnostics.policy import sla_for
from diagnostics.policy.sla import normalize_severity

SEVERITY = validate.Regexp(r"^(?i:sev(?:erity)?)?\s*[-_ ]?\s*[1-4]$", error="Sev 1 … Sev 4.")
TICKET_KEY = validate.Regexp(r"^[A-Za-z][A-Za-z0-9_]*-\d+$", error="Not a ticket key.")


class StoreTicketIn(Schema):
    summary = fields.String(required=True, validate=validate.Length(1, 255))
    description = fields.String(load_default=None, validate=validate.Length(max=32000))
    site_url = fields.String(load_default=None, validate=validate.Length(max=2048))
    severity = fields.String(load_default=None, validate=SEVERITY)
    fields_ = fields.Dict(data_key="fields", load_default=dict)


class StoreTicketOut(Schema):
    key = fields.String()
    summary = fields.String()
    description = fields.String(allow_none=True)
    site_url = fields.String(allow_none=True)
    severity = fields.String(allow_none=True)
    status = fields.String()
    labels = fields.List(fields.String())
    installation_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class StoreCommentOut(Schema):
    id = fields.Integer()
    author = fields.String()
    body = fields.String()
    public = fields.Boolean()
    created_at = fields.DateTime()


class StoreAttachmentOut(Schema):
    id = fields.Integer()
    name = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    public = fields.Boolean()
    created_at = fields.DateTime()


class StoreTicketDetailOut(StoreTicketOut):
    fields_ = fields.Dict(data_key="fields")
    comments = fields.List(fields.Nested(StoreCommentOut))
    attachments = fields.List(fields.Nested(StoreAttachmentOut))


class StoreTicketListQuery(Schema):
    status = fields.String(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, store.MAX_LIMIT))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class RunAttachIn(Schema):
    ticket = fields.String(required=True, validate=TICKET_KEY)


class OutboxMessageOut(Schema):
    idempotency_key = fields.String()
    operation = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)


class RunAttachOut(Schema):
    run_id = fields.String()
    ticket = fields.String()
    target = fields.String(metadata={"description": "jsm or local"})
    messages = fields.List(fields.Nested(OutboxMessageOut))


class TicketSlaQuery(Schema):
    now = fields.AwareDateTime(load_default=None, metadata={"description": "Default: now."})


class TicketSlaOut(Schema):
    ticket = fields.String()
    severity_source = fields.String(metadata={"description": "ticket or suggested (label)"})
    sla = fields.Dict()


def _detail(view: store.TicketView) -> dict[str, Any]:
    ticket = view.ticket
    return {
        **{c: getattr(ticket, c) for c in StoreTicketOut._declared_fields},
        "fields_": ticket.fields,
        "comments": view.comments,
        "attachments": view.attachments,
    }


@bp.get("/tickets")
@support_required("viewer")
@bp.arguments(StoreTicketListQuery, location="query", arg_name="query")
@bp.response(200, StoreTicketOut(many=True))
@bp.errors(400, 401, 404, 422)
def list_tickets(query: dict[str, Any]) -> list[Ticket]:
    """The local ticket store's tickets, newest first."""
    return store.list_tickets(get_session(), **query)


@bp.post("/tickets")
@support_required("support")
@bp.arguments(StoreTicketIn, arg_name="body")
@bp.response(201, StoreTicketOut)
@bp.errors(400, 401, 404, 413, 422)
def create_ticket(body: dict[str, Any]) -> Ticket:
    """Create a ticket in the local store (the console); enrichment runs in the background."""
    severity = normalize_severity(body["severity"]) if body["severity"] else None
    session = get_session()
    ticket = store.create_ticket(
        session,
        summary=body["summary"],
        description=body["description"],
        site_url=body["site_url"],
        severity=severity,
        fields=body["fields_"],
    )
    audit(g.support.actor, "ticket.create", target=ticket.key)
    session.commit()  # the ticket is durable before its enrichment job is queued
    get_queue(real_app()).enqueue(ENRICH_LOCAL_TICKET, {"key": ticket.key})
    session.refresh(ticket)
    return ticket


@bp.get("/tickets/<key>")
@support_required("viewer")
@bp.response(200, StoreTicketDetailOut)
@bp.errors(400, 401, 404, 422)
def get_ticket(key: str) -> dict[str, Any]:
    """A local ticket with its comments and attachments (metadata only)."""
    view = store.ticket_detail(get_session(), key)
    audit(g.support.actor, "ticket.read", view.ticket.installation_id, target=key)
    return _detail(view)


@bp.get("/tickets/<key>/sla")
@support_required("viewer")
@bp.arguments(TicketSlaQuery, location="query", arg_name="query")
@bp.response(200, TicketSlaOut)
@bp.errors(401, 404, 409, 422)
def ticket_sla(key: str, query: dict[str, Any]) -> dict[str, Any]:
    """Due times of a local ticket: its severity (else the suggested one) from its creation."""
    ticket = store.get_ticket(get_session(), key)
    severity, source = store.ticket_severity(ticket)
    if severity is None:
        raise ApiError(409, "no_severity", f"Ticket {key!r} has no severity yet.")
    result = sla_for(severity, ticket.created_at, query["now"])
    return {"ticket": key, "severity_source": source, "sla": result.to_dict()}


@bp.post("/runs/<run_id>/attach")
@support_required("support")
@bp.arguments(RunAttachIn, arg_name="body")
@bp.response(202, RunAttachOut)
@bp.errors(400, 401, 404, 413, 422)
def attach_run_to_ticket(run_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Attach a stored run to a ticket: internal comment, report.json, report.md and labels.

    The ticket is Service Management's when ``JSM_*`` is configured, else the local store's.
    Attaching the same run to the same ticket again sends nothing new.
    """
    session = get_session()
    run = get_run_any_site(session, run_id)
    target = target_for(current_app.config)
    opened_at: datetime | None = None
    if target == TARGET_LOCAL:
        opened_at = store.get_ticket(session, body["ticket"]).created_at
    result = attach_run(session, run, body["ticket"], target=target, opened_at=opened_at)
    audit(g.support.actor, "run.attach", run.installation_id, target=f"{run.id} {result.ticket}")
    session.commit()  # the messages are durable before the job that delivers them is queued
    get_queue(real_app()).enqueue(DISPATCH_OUTBOX, {"prefix": f"attach:{run.id}:{result.ticket}:"})
    session.expire_all()
    return {
        "run_id": run.id,
        "ticket": result.ticket,
        "target": target,
        "messages": [outbox.find_message(session, key) for key in result.messages],
    }
