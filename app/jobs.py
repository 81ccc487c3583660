"""The service's background jobs and the app's queue: ``get_queue(app).enqueue(name, payload)``.

A job is a function registered under a name with :func:`job`; it takes its JSON-able payload and
runs inside its own app context (never the request's session) and is a unit of work: it commits
with ``unit_of_work(db)`` (:mod:`app.unit_of_work`), once or — where a step must be durable
before the next — once per step; the services it calls never commit.

Every job is a row of the ``jobs`` table first (:mod:`app.queue`): the queue — RQ on Redis when
``MULESIGHT_REDIS_URL`` is set, worker threads in this process otherwise,
``MULESIGHT_JOB_QUEUE = "sync"`` for inline — only wakes a worker with the row's id, and a
sweeper wakes again what a dead process left behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask

from app.queue import (
    JOBS,
    InProcessQueue,
    JobFailed,
    JobQueue,
    RedisQueue,
    SyncQueue,
    build_queue,
    job,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.crypto import SecretBox
    from app.db import Database
    from app.models import DiagnosticRun
    from app.tickets.enrichment import Intake

log = logging.getLogger(__name__)

EXTENSION = "mulesight_jobs"
_lock = threading.Lock()


def get_queue(app: Flask) -> JobQueue:
    """The app's queue, built on first use (tests may :func:`set_queue` their own)."""
    with _lock:
        current = app.extensions.get(EXTENSION)
        if current is None:
            current = app.extensions[EXTENSION] = build_queue(app)
    return current


def set_queue(app: Flask, job_queue: JobQueue) -> None:
    app.extensions[EXTENSION] = job_queue


# -- the service's jobs ---------------------------------------------------------------------------

ENRICH_WEBHOOK_EVENT = "enrich_webhook_event"
ENRICH_LOCAL_TICKET = "enrich_local_ticket"
DISPATCH_OUTBOX = "dispatch_outbox"
DIAGNOSTIC_RUN = "diagnostic_run"
REFRESH_SPACE = "refresh_space"
SITE_CHECK = "site_check"


# One job per webhook event (hence per ticket): key "event:<id>", payload {"event_id": <id>}.
EVENT_JOB_PREFIX = "event:"
EVENT_JOB_FIELD = "event_id"


def event_job_key(event_id: int) -> str:
    return f"{EVENT_JOB_PREFIX}{event_id}"


def event_job_payload(event_id: int) -> dict[str, int]:
    return {EVENT_JOB_FIELD: event_id}


def run_job_key(run_id: str) -> str:
    return f"run:{run_id}"


@job(ENRICH_WEBHOOK_EVENT)
def enrich_webhook_event(payload: Mapping[str, Any]) -> None:
    """``{"event_id"}``: enrich the event's ticket in steps, then deliver its messages.

    The outbox messages and the event's ``done`` status commit together; a failure marks the
    event ``failed`` (a redelivery tries again), in a step of its own after the rollback, and
    re-raises (the job is retried).
    """
    from flask import current_app

    from app.crypto import secret_box
    from app.db import get_db
    from app.tickets import enrichment
    from app.tickets.connectors import dispatch_pending, target_for
    from app.unit_of_work import unit_of_work

    config, db, event_id = current_app.config, get_db(), int(payload[EVENT_JOB_FIELD])
    target = target_for(config)
    try:
        _enrich_in_steps(
            db,
            lambda session: enrichment.read_event(session, event_id, target=target),
            lambda session, intake, runs: enrichment.finish_event(session, event_id, intake, runs),
            config=config,
            box=secret_box(),
        )
    except Exception as exc:
        with unit_of_work(db) as session:
            enrichment.mark_failed(session, event_id, exc)
        raise
    dispatch_pending(config, db.sessionmaker, prefix=f"event-{event_id}:")


@job(ENRICH_LOCAL_TICKET)
def enrich_local_ticket(payload: Mapping[str, Any]) -> None:
    """``{"key"}``: enrich a ticket of the local store in steps, then deliver its messages."""
    from flask import current_app

    from app.crypto import secret_box
    from app.db import get_db
    from app.tickets import enrichment
    from app.tickets.connectors import dispatch_pending

    config, db, key = current_app.config, get_db(), str(payload["key"])
    _enrich_in_steps(
        db,
        lambda session: enrichment.read_local_ticket(session, key),
        lambda session, intake, runs: enrichment.finish_local_ticket(session, key, intake, runs),
        config=config,
        box=secret_box(),
    )
    dispatch_pending(config, db.sessionmaker, prefix=f"local-{key}:")


def _enrich_in_steps(
    db: Database,
    read: Callable[[Session], Intake | None],
    finish: Callable[[Session, Intake, list[DiagnosticRun]], object],
    *,
    config: Mapping[str, Any],
    box: SecretBox,
) -> None:
    """A ticket's enrichment (:mod:`app.tickets.enrichment`), one unit of work per step: read;
    diagnose each space — its run durable, and the space's row lock (a burst of tickets shares
    one run) released, before the next space; then compose, enqueue and ``finish``. Nothing is
    read (``None``): nothing to do."""
    from app.tickets import enrichment
    from app.unit_of_work import unit_of_work

    with unit_of_work(db) as session:
        intake = read(session)
    if intake is None:
        return
    runs = []
    for space_id in intake.space_ids:
        with unit_of_work(db) as session:
            run = enrichment.diagnose(session, intake, space_id, config=config, box=box)
        if run is not None:
            runs.append(run)
    with unit_of_work(db) as session:
        finish(session, intake, runs)


@job(DISPATCH_OUTBOX)
def dispatch_outbox(payload: Mapping[str, Any]) -> None:
    """``{"prefix": str | None}``: deliver the due messages (of that key prefix)."""
    from flask import current_app

    from app.db import get_db
    from app.tickets.connectors import dispatch_pending

    dispatch_pending(current_app.config, get_db().sessionmaker, prefix=payload.get("prefix"))


@job(REFRESH_SPACE)
def refresh_space(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A space's dataset refresh, manual or scheduled (:mod:`app.services.refresh_jobs`): its
    snapshots commit once, at its end."""
    from app.services.refresh_jobs import run_refresh_job
    from app.unit_of_work import unit_of_work

    with unit_of_work() as session:
        return run_refresh_job(session, payload)


@job(SITE_CHECK)
def site_check(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The site self-check (:mod:`app.services.site_check`): a run per space, each committed
    as a step of its own — a check run again after its worker died skips the runs stored."""
    from flask import current_app

    from app.crypto import secret_box
    from app.services.site_check import check_space
    from app.unit_of_work import unit_of_work

    config, box, run_ids = current_app.config, secret_box(), []
    for key in payload["space_keys"]:
        with unit_of_work() as session:
            run_ids.append(check_space(session, payload, str(key), config=config, box=box))
    return {"run_ids": run_ids}


@job(DIAGNOSTIC_RUN)
def diagnostic_run(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A run asked for by Forge (:func:`app.services.runs.run_recorded`), stored in one step."""
    from flask import current_app

    from app.crypto import secret_box
    from app.services.runs import run_recorded
    from app.unit_of_work import unit_of_work

    with unit_of_work() as session:
        return run_recorded(session, payload, config=current_app.config, box=secret_box())


__all__ = [
    "DIAGNOSTIC_RUN",
    "DISPATCH_OUTBOX",
    "ENRICH_LOCAL_TICKET",
    "ENRICH_WEBHOOK_EVENT",
    "EVENT_JOB_FIELD",
    "EVENT_JOB_PREFIX",
    "JOBS",
    "REFRESH_SPACE",
    "SITE_CHECK",
    "InProcessQueue",
    "JobFailed",
    "JobQueue",
    "RedisQueue",
    "SyncQueue",
    "build_queue",
    "event_job_key",
    "event_job_payload",
    "get_queue",
    "job",
    "run_job_key",
    "set_queue",
]
