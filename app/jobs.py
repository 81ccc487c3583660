"""The service's background jobs and the app's queue: ``get_queue(app).enqueue(name, payload)``.

A job is a function registered under a name with :func:`job`; it takes its JSON-able payload and
runs inside its own app context (use ``get_db().session()``, never the request's session). Every
job is a row of the ``jobs`` table first (:mod:`app.queue`): the queue — RQ on Redis when
``MULESIGHT_REDIS_URL`` is set, worker threads in this process otherwise,
``MULESIGHT_JOB_QUEUE = "sync"`` for inline — only wakes a worker with the row's id, and a
sweeper wakes again what a dead process left behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

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


def event_job_key(event_id: int) -> str:
    """One job per webhook event (hence per ticket)."""
    return f"event:{event_id}"


def run_job_key(run_id: str) -> str:
    return f"run:{run_id}"


@job(ENRICH_WEBHOOK_EVENT)
def enrich_webhook_event(payload: Mapping[str, Any]) -> None:
    """``{"event_id"}``: enrich the event's ticket, then deliver its messages."""
    from flask import current_app

    from app.crypto import secret_box
    from app.db import get_db
    from app.tickets.connectors import dispatch_pending, target_for
    from app.tickets.enrichment import process_webhook_event

    config, db, event_id = current_app.config, get_db(), int(payload["event_id"])
    with db.session() as session:
        process_webhook_event(
            session, event_id, target=target_for(config), config=config, box=secret_box()
        )
    dispatch_pending(config, db.sessionmaker, prefix=f"event-{event_id}:")


@job(ENRICH_LOCAL_TICKET)
def enrich_local_ticket(payload: Mapping[str, Any]) -> None:
    """``{"key"}``: enrich a ticket of the local store, then deliver its messages."""
    from flask import current_app

    from app.crypto import secret_box
    from app.db import get_db
    from app.tickets import enrichment
    from app.tickets.connectors import dispatch_pending
    from app.unit_of_work import unit_of_work

    config, db, key = current_app.config, get_db(), str(payload["key"])
    with unit_of_work(db) as session:
        enrichment.enrich_local_ticket(session, key, config=config, box=secret_box())
    dispatch_pending(config, db.sessionmaker, prefix=f"local-{key}:")


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
    """The site self-check: a run per space (:mod:`app.services.site_check`)."""
    from flask import current_app

    from app.crypto import secret_box
    from app.services.site_check import run_site_check_job

    return run_site_check_job(payload, config=current_app.config, box=secret_box())


@job(DIAGNOSTIC_RUN)
def diagnostic_run(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A run asked for by Forge (:func:`app.services.runs.run_recorded`)."""
    from app.services.runs import run_recorded

    return run_recorded(payload)


__all__ = [
    "DIAGNOSTIC_RUN",
    "DISPATCH_OUTBOX",
    "ENRICH_LOCAL_TICKET",
    "ENRICH_WEBHOOK_EVENT",
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
    "get_queue",
    "job",
    "run_job_key",
    "set_queue",
]
