"""Run one recorded job: claim its row, call its function in a fresh app context, record the end.

While the function runs, a :class:`~app.queue.heartbeat.Heartbeat` renews the job's lease, so
only a dead process's job is ever handed to another worker by the sweeper.

Job functions are registered by name with :func:`job` (see :mod:`app.jobs`); each takes its
JSON-able payload and may return a JSON-able result. Raising :class:`JobFailed` ends the job
with that message (and ``result``) without retrying unless ``retryable``; any other exception is
retried with backoff (:class:`~app.queue.store.JobPolicy`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask

from app.clock import clock_of
from app.queue import store
from app.queue.heartbeat import Heartbeat

log = logging.getLogger(__name__)

JobFunction = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]
JOBS: dict[str, JobFunction] = {}


class JobFailed(Exception):
    """A job that cannot succeed as asked (bad input, unknown scenario): say so, do not retry."""

    def __init__(
        self, message: str, *, retryable: bool = False, result: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.result = dict(result or {})


def job(name: str) -> Callable[[JobFunction], JobFunction]:
    """Register a job function under ``name``."""

    def register(function: JobFunction) -> JobFunction:
        JOBS[name] = function
        return function

    return register


def execute(app: Flask, job_id: int, worker: str) -> str | None:
    """Run job ``job_id`` if it is queued; returns its new status, ``None`` if not ours to run."""
    from app.db import get_db

    clock = clock_of(app)
    policy = store.JobPolicy.from_config(app.config)
    with app.app_context():
        sessions = get_db().sessionmaker
        claimed = store.claim(sessions, job_id, worker, now=clock(), lease=policy.lease)
        if claimed is None:
            return None
        function = JOBS.get(claimed.kind)

        def renew() -> None:
            store.renew(sessions, job_id, worker, now=clock(), lease=policy.lease)

        try:
            if function is None:
                raise JobFailed(f"unknown job kind {claimed.kind!r}")
            with Heartbeat.for_lease(renew, policy.lease.total_seconds(), f"job-{job_id}"):
                result = function(claimed.payload)
        except JobFailed as exc:
            log.warning("job %s (%s) failed: %s", job_id, claimed.kind, exc.message)
            return store.fail(
                sessions,
                job_id,
                worker,
                exc.message,
                now=clock(),
                policy=policy,
                attempts=claimed.attempts,
                retryable=exc.retryable,
                result=exc.result,
            )
        except Exception as exc:
            log.exception("job %s (%s) crashed", job_id, claimed.kind)
            return store.fail(
                sessions,
                job_id,
                worker,
                f"{type(exc).__name__}: {exc}",
                now=clock(),
                policy=policy,
                attempts=claimed.attempts,
            )
        store.finish(sessions, job_id, worker, now=clock(), result=result)
        return store.DONE


__all__ = ["JOBS", "JobFailed", "JobFunction", "clock_of", "execute", "job"]
