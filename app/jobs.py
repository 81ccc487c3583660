"""Background jobs behind one small interface: ``get_queue(app).enqueue(name, payload)``.

A job is a function registered under a name with :func:`job`; it takes its JSON-able payload and
runs inside its own app context (use ``get_db().session()``, never the request's session).

Queues:

- :class:`InProcessQueue` (default): one background thread per process runs jobs in order; while
  idle it calls ``on_idle`` every ``idle_interval`` seconds (the outbox dispatcher uses this to
  retry due messages). Jobs that were queued when the process stops are not lost where it matters:
  their durable state (webhook events, outbox messages) is in the database, and
  ``mulesight outbox dispatch`` delivers anything left over.
- :class:`SyncQueue`: runs each job at once in the caller's thread (tests, CLI).

Redis seam: with ``MULESIGHT_REDIS_URL`` set, a multi-process deployment would use a queue whose
``enqueue`` pushes ``{"name", "payload"}`` as JSON onto a Redis list and whose workers pop and
call :func:`run_job`; the job functions need no change. Until that queue exists the setting is
logged and jobs run in-process. ``MULESIGHT_JOB_QUEUE = "sync"`` selects :class:`SyncQueue`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from flask import Flask

log = logging.getLogger(__name__)

JobFunction = Callable[[Mapping[str, Any]], None]
JOBS: dict[str, JobFunction] = {}
EXTENSION = "mulesight_jobs"
DEFAULT_IDLE_INTERVAL = 30.0
_STOP = object()
_lock = threading.Lock()


class JobQueue(Protocol):
    def enqueue(self, name: str, payload: Mapping[str, Any]) -> None:
        """Run job ``name`` with ``payload`` (now or later, never twice)."""
        ...


def job(name: str) -> Callable[[JobFunction], JobFunction]:
    """Register a job function under ``name``."""

    def register(function: JobFunction) -> JobFunction:
        JOBS[name] = function
        return function

    return register


def run_job(app: Flask, name: str, payload: Mapping[str, Any]) -> None:
    """Run one job in a fresh app context; raises ``KeyError`` for an unknown name."""
    function = JOBS[name]
    with app.app_context():
        function(payload)


class SyncQueue:
    """Runs each job immediately; a failing job is logged (as a worker would) and kept."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.failures: list[tuple[str, BaseException]] = []

    def enqueue(self, name: str, payload: Mapping[str, Any]) -> None:
        try:
            run_job(self.app, name, dict(payload))
        except Exception as exc:
            log.exception("job %s failed", name)
            self.failures.append((name, exc))


class InProcessQueue:
    """A daemon worker thread, started on the first job; :meth:`stop` ends it."""

    def __init__(
        self,
        app: Flask,
        *,
        idle_interval: float | None = DEFAULT_IDLE_INTERVAL,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.idle_interval = idle_interval
        self.on_idle = on_idle
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def enqueue(self, name: str, payload: Mapping[str, Any]) -> None:
        if name not in JOBS:
            raise KeyError(f"unknown job {name!r}")
        self._start()
        self._queue.put((name, dict(payload)))

    def join(self) -> None:
        """Wait until every queued job has run."""
        self._queue.join()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the queued jobs, then end the worker thread."""
        with self._guard:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _start(self) -> None:
        with self._guard:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="mulesight-jobs", daemon=True
                )
                self._thread.start()

    def _work(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.idle_interval if self.on_idle else None)
            except queue.Empty:
                self._idle()
                continue
            try:
                if item is _STOP:
                    return
                name, payload = item
                try:
                    run_job(self.app, name, payload)
                except Exception:
                    log.exception("job %s failed", name)
            finally:
                self._queue.task_done()

    def _idle(self) -> None:
        if self.on_idle is None:
            return
        try:
            with self.app.app_context():
                self.on_idle()
        except Exception:
            log.exception("idle task failed")


def build_queue(app: Flask) -> JobQueue:
    """The queue the configuration asks for (see the module docstring)."""
    if app.config.get("MULESIGHT_JOB_QUEUE") == "sync":
        return SyncQueue(app)
    if app.config.get("MULESIGHT_REDIS_URL"):
        log.warning(
            "MULESIGHT_REDIS_URL is set but the Redis job queue is not built yet: jobs run in-process"
        )
    return InProcessQueue(app, on_idle=_idle_dispatch)


def _idle_dispatch() -> None:
    """Deliver outbox messages that came due (retries) while the worker is idle."""
    from flask import current_app

    from app.db import get_db
    from app.services.connectors import dispatch_pending

    dispatch_pending(current_app.config, get_db().sessionmaker, worker="idle")


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


@job(ENRICH_WEBHOOK_EVENT)
def enrich_webhook_event(payload: Mapping[str, Any]) -> None:
    """``{"event_id"}``: enrich the event's ticket, then deliver its messages."""
    from flask import current_app

    from app.crypto import secret_box
    from app.db import get_db
    from app.services.connectors import dispatch_pending, target_for
    from app.services.enrichment import process_webhook_event

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
    from app.services import enrichment
    from app.services.connectors import dispatch_pending

    config, db, key = current_app.config, get_db(), str(payload["key"])
    with db.session() as session:
        enrichment.enrich_local_ticket(session, key, config=config, box=secret_box())
    dispatch_pending(config, db.sessionmaker, prefix=f"local-{key}:")


@job(DISPATCH_OUTBOX)
def dispatch_outbox(payload: Mapping[str, Any]) -> None:
    """``{"prefix": str | None}``: deliver the due messages (of that key prefix)."""
    from flask import current_app

    from app.db import get_db
    from app.services.connectors import dispatch_pending

    dispatch_pending(current_app.config, get_db().sessionmaker, prefix=payload.get("prefix"))


__all__ = [
    "DISPATCH_OUTBOX",
    "ENRICH_LOCAL_TICKET",
    "ENRICH_WEBHOOK_EVENT",
    "JOBS",
    "InProcessQueue",
    "JobQueue",
    "SyncQueue",
    "build_queue",
    "get_queue",
    "job",
    "run_job",
    "set_queue",
]
