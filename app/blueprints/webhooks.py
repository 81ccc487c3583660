"""Webhooks from ticket systems (Jira Service Management).

``POST /webhooks/jsm``: the body must be signed (HMAC-SHA256 under ``MULESIGHT_WEBHOOK_SECRET``,
``X-Hub-Signature: sha256=<hex>``) and be a ``jira:issue_created`` event. It is stored (redacted)
as a :class:`~app.models.WebhookEvent` keyed by its delivery id, together with its enrichment job
(one transaction: nothing accepted is lost), then 202 is answered and, once it has gone out, a
worker is woken. A redelivery answers 202 and does nothing new (it only queues again the job of
an event whose job failed or waits for a retry).

The first delivery — nearly every request — is one statement on PostgreSQL (two ``INSERT``s and
one commit elsewhere), then the wake-up: a delivery id already stored fails on its unique index,
and only then is the stored event read.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from flask import Response, after_this_request, current_app, request
from marshmallow import Schema, fields
from sqlalchemy import Engine, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.api import ApiBlueprint
from app.context import real_app
from app.db import get_db, get_session
from app.errors import ApiError
from app.jobs import (
    ENRICH_WEBHOOK_EVENT,
    EVENT_JOB_FIELD,
    EVENT_JOB_PREFIX,
    event_job_key,
    event_job_payload,
    get_queue,
)
from app.logging import note_on_access_line
from app.models import WebhookEvent
from app.queue import store as job_store
from app.queue.backends import JobQueue
from app.security import jsonlimits
from app.tickets.enrichment import DONE
from app.tickets.reading import is_issue_created
from diagnostics.redaction import Redactor

log = logging.getLogger(__name__)

bp = ApiBlueprint(
    "webhooks", __name__, url_prefix="/webhooks", description="Webhooks from ticket systems."
)

SIGNATURE_HEADER = "X-Hub-Signature"
DELIVERY_HEADER = "X-Atlassian-Webhook-Identifier"
MAX_DELIVERY_ID = 255
# A redelivery queues again a job in one of these states (a queued or running one goes on as is).
RETRY_ON_REDELIVERY = (job_store.FAILED, job_store.WAITING)
# Built once: the columns come with each execution's parameters (defaults fill the rest). A Core
# insert on the table: the ORM's bulk-insert machinery costs more than the statement itself.
EVENTS = WebhookEvent.metadata.tables[WebhookEvent.__tablename__]
INSERT_EVENT = insert(EVENTS).returning(WebhookEvent.id)
# PostgreSQL: the event and its enrichment job as one statement, built once too (run with the
# event's columns and the job's times).
EVENT_COLUMNS = ("delivery_id", "payload", "status")  # what the intake writes; defaults do the rest
INSERT_EVENT_AND_JOB = job_store.with_new_job(
    insert(EVENTS)
    .values({name: bindparam(name, type_=EVENTS.c[name].type) for name in EVENT_COLUMNS})
    .returning(WebhookEvent.id),
    ENRICH_WEBHOOK_EVENT,
    key_prefix=EVENT_JOB_PREFIX,
    payload_field=EVENT_JOB_FIELD,
)
# One redactor for every payload: its memo of strings already scanned (field names, statuses,
# user and project names repeat in every webhook) outlives the request.
PAYLOAD_REDACTOR = Redactor()


class WebhookAccepted(Schema):
    delivery_id = fields.String(required=True)
    duplicate = fields.Boolean(required=True, metadata={"description": "A redelivery: no-op."})


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """``header`` is ``sha256=<hex>`` of the HMAC-SHA256 of ``body`` under ``secret``."""
    scheme, _, given = (header or "").strip().partition("=")
    if scheme.lower() != "sha256" or not given:
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


def delivery_id(payload: dict[str, Any], header: str | None) -> str:
    """The header's delivery id, else ``webhookEvent:issue id:timestamp`` (stable on retries)."""
    if header and header.strip():
        return header.strip()[:MAX_DELIVERY_ID]
    issue = payload["issue"]
    ident = issue.get("id") or issue["key"]
    return f"{payload['webhookEvent']}:{ident}:{payload.get('timestamp', '')}"[:MAX_DELIVERY_ID]


def _parse(body: bytes) -> dict[str, Any]:
    try:
        payload: dict[str, Any] = jsonlimits.loads(body)
    except jsonlimits.HostileInput as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    if not is_issue_created(payload):
        raise ApiError(
            400,
            "unsupported_event",
            "Expected a jira:issue_created event with an issue key and fields.",
        )
    return payload


@bp.post("/jsm")
@bp.response(202, WebhookAccepted)
@bp.errors(400, 401, 413, 503)
@bp.doc(
    requestBody={  # read raw: the signature covers the exact bytes
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": "A jira:issue_created webhook body"}
            }
        },
    }
)
def jsm_webhook() -> dict[str, Any]:
    """Receive a Service Management ``jira:issue_created`` webhook.

    Signed with HMAC-SHA256 under ``MULESIGHT_WEBHOOK_SECRET`` (``X-Hub-Signature:
    sha256=<hex>``). Accepted (202) once stored; enrichment runs in the background.
    """
    secret = current_app.config.get("MULESIGHT_WEBHOOK_SECRET")
    if not secret:
        raise ApiError(
            503, "webhooks_disabled", "Webhooks are refused: MULESIGHT_WEBHOOK_SECRET is not set."
        )
    body = request.get_data(cache=False)  # 413 beyond MAX_CONTENT_LENGTH
    if not verify_signature(secret, body, request.headers.get(SIGNATURE_HEADER)):
        raise ApiError(401, "invalid_signature", "Missing or wrong webhook signature.")
    payload = _parse(body)
    key = delivery_id(payload, request.headers.get(DELIVERY_HEADER))
    queue = get_queue(real_app())
    job_id = _accept_new(queue, key, payload)
    duplicate = job_id is None
    if duplicate:
        job_id = _redelivered(queue, get_session(), key)
    if job_id is not None:
        _wake_once_answered(queue, job_id)
    note_on_access_line(delivery_id=key, duplicate=duplicate)
    return {"delivery_id": key, "duplicate": duplicate}


def _wake_once_answered(queue: JobQueue, job_id: int) -> None:
    """Wake a worker for ``job_id`` once the 202 has gone out, not before it: the rows are
    committed already, so the answer does not wait on a round trip to Redis, and a wake-up lost
    to a crash in between is the sweeper's to redo (a queued job nobody took is woken again)."""

    @after_this_request
    def wake_when_sent(response: Response) -> Response:
        response.call_on_close(lambda: _wake(queue, job_id))
        return response


def _wake(queue: JobQueue, job_id: int) -> None:
    try:
        queue.wake(job_id)
    except Exception as exc:
        log.warning("could not wake a worker for job %s (%s); the sweeper will", job_id, exc)


def _accept_new(queue: JobQueue, key: str, payload: dict[str, Any]) -> int | None:
    """Store a first delivery and its job (one transaction); the job id, or ``None`` when the
    delivery id is stored already."""
    event = {"delivery_id": key, "payload": PAYLOAD_REDACTOR.redact(payload), "status": "received"}
    engine = get_db().engine
    try:
        if engine.dialect.name == "postgresql":
            return _accept_in_one_statement(queue, engine, event)
        return _accept_in_a_transaction(queue, get_session(), event)
    except IntegrityError:  # a redelivery (or the same delivery, concurrently)
        return None


def _accept_in_a_transaction(queue: JobQueue, session: Session, event: dict[str, Any]) -> int:
    """Elsewhere (SQLite): the event, then its job, committed together."""
    try:
        event_id = session.connection().execute(INSERT_EVENT, event).scalar_one()
        job_id = queue.submit_new(
            session, ENRICH_WEBHOOK_EVENT, event_job_payload(event_id), key=event_job_key(event_id)
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        raise
    return int(job_id)


def _accept_in_one_statement(queue: JobQueue, engine: Engine, event: dict[str, Any]) -> int:
    """PostgreSQL: the event and its job in one statement committed on its own — one round trip
    to the server where a transaction takes four (begin, two inserts, commit). Under load the
    server's processes share the cores with the workers, and every round trip waits its turn."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return int(conn.scalar(INSERT_EVENT_AND_JOB, {**event, **queue.new_job_times()}))


def _redelivered(queue: JobQueue, session: Session, key: str) -> int | None:
    """A redelivery: the job to wake again when the event's job failed or waits for a retry."""
    event = session.scalar(select(WebhookEvent).where(WebhookEvent.delivery_id == key))
    if event is None:  # the insert failed on something else: nothing is stored, say so
        raise ApiError(503, "not_stored", "The webhook could not be stored; deliver it again.")
    if event.status == DONE:
        return None
    existing = job_store.get_job(session, event_job_key(event.id))
    if existing is not None and existing.status not in RETRY_ON_REDELIVERY:
        return None  # queued or running: it goes on as is
    job_id = _submit(queue, session, event.id)
    session.commit()
    return job_id


def _submit(queue: JobQueue, session: Session, event_id: int) -> int:
    job = queue.submit(
        session, ENRICH_WEBHOOK_EVENT, event_job_payload(event_id), key=event_job_key(event_id)
    )
    if job.status in RETRY_ON_REDELIVERY:
        job.status = job_store.QUEUED
        job.attempts = 0
    return job.id
