"""Ticket enrichment: when a ticket arrives, diagnose the customer's site and prepare the ticket,
in three steps — read, compose, enqueue.

:func:`enrich_ticket` reads the ticket (:mod:`app.tickets.reading`, the engine's
:func:`diagnostics.tickets.read_ticket`), finds the installation of the site it names, runs
diagnostics for the spaces it names (or every configured space of the site), composes the texts
(:mod:`app.tickets.compose`), then enqueues them (:mod:`app.tickets.enqueue`) — in the caller's
transaction, through the outbox — one internal comment (verdict, findings worst first, suggested
severity and why, due times, escalation stage, upstream guidance), the reports as two internal
attachments, labels, and at most one public comment asking only for the details still missing
(and, when MuleSoft's platform is the cause, what to file with MuleSoft and what to expect). An
unknown site gets one internal comment saying so, nothing else.

:func:`attach_run` enqueues a stored run's report for a ticket (``mulesight attach``). Every text
is redacted once: comment texts when composed, reports when they were stored (the outbox is told
so).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.crypto import SecretBox
from app.models import DiagnosticRun, Installation, Space, WebhookEvent
from app.services import outbox
from app.services.runs import fresh_run_for_space, report_of
from app.tickets import enqueue, store
from app.tickets.compose import (
    CLOUD_ID_ASK,
    ambiguous_site_note,
    filled_details,
    internal_summary,
    labels_for,
    mulesoft_zone,
    public_request,
    unknown_site_ask,
    unknown_site_note,
    upstream_guidance,
)
from app.tickets.connectors import TARGET_LOCAL
from app.tickets.enqueue import Enrichment, report_files
from app.tickets.reading import (
    TicketInput,
    normalize_site_url,
    security_kinds,
    space_keys_in,
    ticket_from_data,
    ticket_from_webhook,
)
from diagnostics.redaction import redact_text
from diagnostics.tickets import read_ticket, ticket_document

log = logging.getLogger(__name__)

_CLOUD_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)


# -- read: the installation and the runs ---------------------------------------------------------


def find_installations(session: Session, site_url: str | None) -> list[Installation]:
    """Every installation whose site URL is ``site_url`` (scheme, case, path and slash ignored)."""
    wanted = normalize_site_url(site_url)
    if wanted is None:
        return []
    host = wanted.removeprefix("https://")
    candidates = session.scalars(
        select(Installation)
        .where(Installation.site_url.is_not(None), Installation.site_url.ilike(f"%{host}%"))
        .order_by(Installation.created_at, Installation.id)
    )
    return [i for i in candidates if normalize_site_url(i.site_url) == wanted]


def find_installation(
    session: Session, site_url: str | None, text: str = ""
) -> Installation | None:
    """The one installation of ``site_url``; ``None`` when none matches, or when several do and
    ``text`` (the ticket) names the cloud id of none or several of them — never a guess."""
    return _one_named(find_installations(session, site_url), text)


def _one_named(candidates: list[Installation], text: str) -> Installation | None:
    """The one of ``candidates``, or of those whose cloud id ``text`` names when several."""
    if len(candidates) > 1:
        named = {m.lower() for m in _CLOUD_ID.findall(text)}
        candidates = [i for i in candidates if i.cloud_id.lower() in named]
    return candidates[0] if len(candidates) == 1 else None


# -- the job --------------------------------------------------------------------------------------


def _runs(
    session: Session,
    installation: Installation,
    text: str,
    *,
    config: Mapping[str, Any],
    box: SecretBox,
    requested_by: str,
) -> list[DiagnosticRun]:
    configured = {
        s.key.upper(): s
        for s in session.scalars(select(Space).where(Space.installation_id == installation.id))
    }
    named = [configured[k.upper()] for k in space_keys_in(text) if k.upper() in configured]
    spaces = named or sorted(configured.values(), key=lambda s: s.key)
    return [
        fresh_run_for_space(session, space, config=config, box=box, requested_by=requested_by)
        for space in dict.fromkeys(spaces)
    ]


def enrich_ticket(
    session: Session,
    ticket: TicketInput,
    *,
    ref: str,
    target: str,
    config: Mapping[str, Any],
    box: SecretBox,
    now: datetime | None = None,
) -> Enrichment:
    """Diagnose and enqueue everything for ``ticket`` (see the module docstring).

    Runs are stored (and committed) by the runs service; the outbox messages are added to the
    session under keys ``"<ref>:…"`` and the caller commits them.
    """
    now = now or clock.now()
    reading = read_ticket(ticket.document)
    document = ticket_document(ticket.document)
    kinds = security_kinds(document, reading)
    site_url = normalize_site_url(reading.present.get("customer_site_url") or ticket.site_url)
    result = Enrichment(ticket.key, target, site_url, security_impacting=bool(kinds))
    result.fresh = not outbox.has_messages(session, f"{ref}:")
    text = document.text
    candidates = find_installations(session, site_url)
    installation = _one_named(candidates, text)
    if installation is None and len(candidates) > 1:
        body = ambiguous_site_note(ticket, site_url, kinds)
        enqueue.comment(session, result, f"{ref}:comment:internal", body, public=False, now=now)
        enqueue.comment(
            session, result, f"{ref}:comment:public", CLOUD_ID_ASK, public=True, now=now
        )
        return result
    runs: list[DiagnosticRun] = []
    if installation is not None:
        result.installation_id = installation.id
        runs = _runs(
            session,
            installation,
            text,
            config=config,
            box=box,
            requested_by=f"webhook:{ticket.key}"[:255],
        )
    if not runs:
        body = unknown_site_note(ticket, site_url, kinds)
        enqueue.comment(session, result, f"{ref}:comment:internal", body, public=False, now=now)
        ask = unknown_site_ask(site_url, [k for k in reading.missing if k != "customer_site_url"])
        enqueue.comment(session, result, f"{ref}:comment:public", ask, public=True, now=now)
        return result

    reports = [report_of(run) for run in runs]
    result.run_ids = [run.id for run in runs]
    filled = filled_details(reports)
    result.missing = [k for k in reading.missing if k not in filled]
    zone = mulesoft_zone(reading.present.get("timezone"))
    body, severity = internal_summary(
        ticket=ticket,
        reports=reports,
        run_ids=result.run_ids,
        reading=reading,
        kinds=kinds,
        now=now,
        missing=result.missing,
        filled=filled,
        zone=zone,
    )
    result.severity = severity
    result.labels = labels_for(reports, severity, security=bool(kinds))
    enqueue.comment(session, result, f"{ref}:comment:internal", body, public=False, now=now)
    enqueue.attach(session, result, f"{ref}:attach:internal", report_files(runs), now=now)
    enqueue.labels(session, result, f"{ref}:labels", result.labels, now=now)
    public = public_request(
        result.missing, upstream_guidance(reports, severity, ticket.opened_at, zone)
    )
    if public is not None:
        enqueue.comment(session, result, f"{ref}:comment:public", public, public=True, now=now)
    return result


def attach_run(
    session: Session,
    run: DiagnosticRun,
    ticket_key: str,
    *,
    target: str,
    opened_at: datetime | None = None,
    now: datetime | None = None,
) -> Enrichment:
    """Enqueue a stored run's report for a ticket: internal comment, the two reports, labels.

    Keys are ``"attach:<run id>:<ticket>:…"``: attaching the same run twice sends nothing new.
    ``opened_at`` (the ticket's creation, when known) sets the due times; default: now.
    """
    now = now or clock.now()
    report = report_of(run)
    ticket = TicketInput(ticket_key, {"key": ticket_key, "fields": {}}, opened_at or now)
    body, severity = internal_summary(
        ticket=ticket,
        reports=[report],
        run_ids=[run.id],
        reading=None,
        kinds=[],
        now=now,
        missing=[],
        filled=filled_details([report]),
    )
    ref = f"attach:{run.id}:{ticket_key}"
    result = Enrichment(ticket_key, target, report.data.get("site_url"), run.installation_id)
    result.fresh = not outbox.has_messages(session, f"{ref}:")
    result.run_ids, result.severity = [run.id], severity
    result.labels = labels_for([report], severity, security=False)
    enqueue.comment(session, result, f"{ref}:comment:internal", body, public=False, now=now)
    enqueue.attach(session, result, f"{ref}:attach:internal", report_files([run]), now=now)
    enqueue.labels(session, result, f"{ref}:labels", result.labels, now=now)
    return result


# -- entry points for the jobs ---------------------------------------------------------------------

RECEIVED, PROCESSING, DONE, FAILED = "received", "processing", "done", "failed"


def event_ref(event: WebhookEvent) -> str:
    return f"event-{event.id}"


def process_webhook_event(
    session: Session,
    event_id: int,
    *,
    target: str,
    config: Mapping[str, Any],
    box: SecretBox,
    now: datetime | None = None,
) -> Enrichment | None:
    """Enrich the ticket of a stored webhook event once; ``None`` if it was done already.

    The outbox messages and the event's ``done`` status commit together; a failure marks the
    event ``failed`` (a redelivery tries again) and re-raises.
    """
    event = session.get(WebhookEvent, event_id)
    if event is None or event.status == DONE:
        return None
    try:  # the job's row says it runs; the event's own status changes once, with the outcome
        result = enrich_ticket(
            session,
            ticket_from_webhook(event.payload, now),
            ref=event_ref(event),
            target=target,
            config=config,
            box=box,
            now=now,
        )
        event.status, event.processed_at, event.error = DONE, now or clock.now(), None
        session.commit()
    except Exception as exc:
        session.rollback()
        _mark_failed(session, event_id, exc)
        raise
    return result


def _mark_failed(session: Session, event_id: int, exc: Exception) -> None:
    event = session.get(WebhookEvent, event_id)
    if event is not None and event.status == DONE:  # a concurrent run finished it: keep done
        log.info("webhook event %s was enriched by another run meanwhile", event_id)
        return
    if event is not None:
        event.status = FAILED
        event.error = redact_text(f"{type(exc).__name__}: {exc}")[:1000]
        session.commit()
    log.error("enrichment of webhook event %s failed: %s", event_id, type(exc).__name__)


def enrich_local_ticket(
    session: Session,
    key: str,
    *,
    config: Mapping[str, Any],
    box: SecretBox,
    now: datetime | None = None,
) -> Enrichment:
    """Enrich a ticket of the local store (created from the console); the job commits."""
    data = store.LocalTicketStore(session).get_ticket(key)
    result = enrich_ticket(
        session,
        ticket_from_data(data, now),
        ref=f"local-{key}",
        target=TARGET_LOCAL,
        config=config,
        box=box,
        now=now,
    )
    row = store.find_ticket(session, key)
    if row is not None and result.installation_id:
        row.installation_id = result.installation_id
    return result


__all__ = [
    "DONE",
    "FAILED",
    "PROCESSING",
    "RECEIVED",
    "Enrichment",
    "attach_run",
    "enrich_local_ticket",
    "enrich_ticket",
    "event_ref",
    "find_installation",
    "find_installations",
    "process_webhook_event",
]
