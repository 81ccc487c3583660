"""Ticket enrichment: when a ticket arrives, diagnose the customer's site and prepare the ticket,
in three steps — :func:`read`, :func:`diagnose` (once per space), :func:`compose` and enqueue. The
jobs commit each step on its own (:func:`app.jobs.enrich_webhook_event`); :func:`enrich_ticket`
runs the three in the caller's transaction.

Enrichment reads the ticket (:mod:`app.tickets.reading`, the engine's
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
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
from diagnostics.tickets import TicketReading, read_ticket, ticket_document

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


# -- the steps: read, diagnose (each space on its own), compose and enqueue -------------------------


@dataclass(frozen=True)
class Intake:
    """What reading a ticket found: its site, and the spaces to diagnose (:func:`read`)."""

    ticket: TicketInput
    ref: str
    target: str
    reading: TicketReading
    text: str
    kinds: list[str]
    site_url: str | None
    installation_id: str | None
    ambiguous: bool  # several installations have the site's URL and the ticket names none
    space_ids: list[int]
    now: datetime

    @property
    def requested_by(self) -> str:
        return f"webhook:{self.ticket.key}"[:255]


def _spaces(session: Session, installation: Installation, text: str) -> list[Space]:
    """The spaces the ticket names, else every configured space of the site (by key)."""
    configured = {
        s.key.upper(): s
        for s in session.scalars(select(Space).where(Space.installation_id == installation.id))
    }
    named = [configured[k.upper()] for k in space_keys_in(text) if k.upper() in configured]
    return list(dict.fromkeys(named or sorted(configured.values(), key=lambda s: s.key)))


def read(
    session: Session, ticket: TicketInput, *, ref: str, target: str, now: datetime | None = None
) -> Intake:
    """Step 1: read ``ticket``, find the installation of the site it names and its spaces."""
    reading = read_ticket(ticket.document)
    document = ticket_document(ticket.document)
    site_url = normalize_site_url(reading.present.get("customer_site_url") or ticket.site_url)
    text = document.text
    candidates = find_installations(session, site_url)
    installation = _one_named(candidates, text)
    spaces = [] if installation is None else _spaces(session, installation, text)
    return Intake(
        ticket=ticket,
        ref=ref,
        target=target,
        reading=reading,
        text=text,
        kinds=security_kinds(document, reading),
        site_url=site_url,
        installation_id=installation.id if installation is not None else None,
        ambiguous=installation is None and len(candidates) > 1,
        space_ids=[space.id for space in spaces],
        now=now or clock.now(),
    )


def diagnose(
    session: Session,
    intake: Intake,
    space_id: int,
    *,
    config: Mapping[str, Any],
    box: SecretBox,
) -> DiagnosticRun | None:
    """Step 2, once per space: the space's fresh run — shared with the tickets of a burst, see
    :func:`~app.services.runs.fresh_run_for_space` — or ``None`` if the space is gone.

    A job commits each space's run as a step of its own: the run is durable, and the space's
    row released for the next ticket, before the next space is diagnosed.
    """
    return fresh_run_for_space(
        session, space_id, config=config, box=box, requested_by=intake.requested_by
    )


def compose(session: Session, intake: Intake, runs: Sequence[DiagnosticRun]) -> Enrichment:
    """Step 3: compose the texts from the runs and enqueue them under keys ``"<ref>:…"`` in the
    caller's transaction (see the module docstring)."""
    ticket, ref, reading, kinds, now = (
        intake.ticket,
        intake.ref,
        intake.reading,
        intake.kinds,
        intake.now,
    )
    result = Enrichment(ticket.key, intake.target, intake.site_url, security_impacting=bool(kinds))
    result.fresh = not outbox.has_messages(session, f"{ref}:")
    if intake.ambiguous:
        body = ambiguous_site_note(ticket, intake.site_url, kinds)
        enqueue.comment(session, result, f"{ref}:comment:internal", body, public=False, now=now)
        enqueue.comment(
            session, result, f"{ref}:comment:public", CLOUD_ID_ASK, public=True, now=now
        )
        return result
    result.installation_id = intake.installation_id
    if not runs:
        body = unknown_site_note(ticket, intake.site_url, kinds)
        enqueue.comment(session, result, f"{ref}:comment:internal", body, public=False, now=now)
        missing = [k for k in reading.missing if k != "customer_site_url"]
        ask = unknown_site_ask(intake.site_url, missing)
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
    """Diagnose and enqueue everything for ``ticket``: the three steps in the caller's
    transaction, which the caller commits. The jobs commit each space's run on its own
    (:func:`app.jobs.enrich_webhook_event`)."""
    intake = read(session, ticket, ref=ref, target=target, now=now)
    runs = [diagnose(session, intake, i, config=config, box=box) for i in intake.space_ids]
    return compose(session, intake, [run for run in runs if run is not None])


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


def read_event(
    session: Session, event_id: int, *, target: str, now: datetime | None = None
) -> Intake | None:
    """:func:`read` for a stored webhook event; ``None`` if it is gone or was enriched already
    (the job's row says it runs; the event's own status changes once, with the outcome)."""
    event = session.get(WebhookEvent, event_id)
    if event is None or event.status == DONE:
        return None
    ticket = ticket_from_webhook(event.payload, now)
    return read(session, ticket, ref=event_ref(event), target=target, now=now)


def finish_event(
    session: Session,
    event_id: int,
    intake: Intake,
    runs: Sequence[DiagnosticRun],
    *,
    now: datetime | None = None,
) -> Enrichment:
    """:func:`compose` for a webhook event, and its ``done`` status: the job commits the outbox
    messages and the status together."""
    result = compose(session, intake, runs)
    session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id)
        .values(status=DONE, processed_at=now or clock.now(), error=None)
        .execution_options(synchronize_session=False)
    )
    return result


def mark_failed(session: Session, event_id: int, exc: Exception) -> None:
    """Mark the event ``failed`` (a redelivery tries again) after its enrichment raised ``exc``
    and its step was rolled back; the job commits the status."""
    event = session.get(WebhookEvent, event_id)
    if event is not None and event.status == DONE:  # a concurrent run finished it: keep done
        log.info("webhook event %s was enriched by another run meanwhile", event_id)
        return
    if event is not None:
        event.status = FAILED
        event.error = redact_text(f"{type(exc).__name__}: {exc}")[:1000]
    log.error("enrichment of webhook event %s failed: %s", event_id, type(exc).__name__)


def read_local_ticket(session: Session, key: str, *, now: datetime | None = None) -> Intake:
    """:func:`read` for a ticket of the local store (created from the console)."""
    data = store.LocalTicketStore(session).get_ticket(key)
    ticket = ticket_from_data(data, now)
    return read(session, ticket, ref=f"local-{key}", target=TARGET_LOCAL, now=now)


def finish_local_ticket(
    session: Session, key: str, intake: Intake, runs: Sequence[DiagnosticRun]
) -> Enrichment:
    """:func:`compose` for a local ticket, which learns its installation."""
    result = compose(session, intake, runs)
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
    "Intake",
    "attach_run",
    "compose",
    "diagnose",
    "enrich_ticket",
    "event_ref",
    "find_installation",
    "find_installations",
    "finish_event",
    "finish_local_ticket",
    "mark_failed",
    "read",
    "read_event",
    "read_local_ticket",
]
