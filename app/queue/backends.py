"""Where a recorded job's wake-up goes: RQ on Redis, worker threads in this process, or at once.

Every queue records the job first (:func:`JobQueue.submit`, in the caller's transaction, or
:meth:`JobQueue.enqueue` with its own) and only then wakes a worker with the job's id. A lost
wake-up costs nothing but time: the sweeper wakes the job again when its wake-by time passes.

- :class:`RedisQueue` (``MULESIGHT_REDIS_URL`` set): RQ's ``enqueue`` of
  :func:`app.queue.worker.perform` with the id; ``mulesight worker`` processes run it.
- :class:`InProcessQueue` (embedded default): ``threads`` worker threads in this process, plus a
  :class:`~app.queue.sweeper.Sweeper` thread.
- :class:`SyncQueue` (``MULESIGHT_JOB_QUEUE = "sync"``: tests, CLI): runs the job in the caller.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from app.models import Job
from app.queue import store
from app.queue.runner import JOBS, clock_of, execute
from app.queue.sweeper import Sweeper

log = logging.getLogger(__name__)

_STOP = object()
PERFORM = "app.queue.worker.perform"


def _known(name: str) -> None:
    if name not in JOBS:
        raise KeyError(f"unknown job {name!r}")


class JobQueue:
    """Record jobs and wake workers; subclasses say how a wake-up travels (:meth:`wake`)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.policy = store.JobPolicy.from_config(app.config)

    def submit(
        self,
        session: Session,
        name: str,
        payload: Mapping[str, Any],
        *,
        key: str | None = None,
        installation_id: str | None = None,
        again: bool = False,
    ) -> Job:
        """Record job ``name`` in the caller's transaction; call :meth:`wake` after the commit.

        ``again``: see :func:`app.queue.store.submit`."""
        _known(name)
        return store.submit(
            session,
            name,
            payload,
            key=key or f"{name}:{uuid.uuid4().hex}",
            now=clock_of(self.app)(),
            policy=self.policy,
            installation_id=installation_id,
            again=again,
        )

    def submit_new(
        self, session: Session, name: str, payload: Mapping[str, Any], *, key: str
    ) -> int:
        """:meth:`submit` of a key the caller knows is new (one ``INSERT``); returns the job id."""
        _known(name)
        return store.add_new(
            session, name, payload, key=key, now=clock_of(self.app)(), policy=self.policy
        )

    def new_job_times(self) -> dict[str, datetime]:
        """The times to run a statement of :func:`app.queue.store.with_new_job` with, as of
        now (PostgreSQL); call :meth:`wake` after its commit."""
        return store.new_job_times(clock_of(self.app)(), self.policy)

    def enqueue(self, name: str, payload: Mapping[str, Any], *, key: str | None = None) -> int:
        """Record job ``name`` (own transaction) and wake a worker; returns the job id."""
        with self.app.extensions["db"].session() as session:
            job_id = self.submit(session, name, payload, key=key).id
            session.commit()
        self.wake(job_id)
        return job_id

    def wake(self, job_id: int) -> None:
        raise NotImplementedError

    def sweep(self) -> list[int]:
        """Re-queue and wake the jobs nobody is doing (see :func:`app.queue.store.sweep`)."""
        with self.app.app_context():
            ids = store.sweep(
                self.app.extensions["db"].sessionmaker,
                now=clock_of(self.app)(),
                lease=self.policy.lease,
                waiting=self.waiting,
            )
        for job_id in ids:
            self.wake(job_id)
        if ids:
            log.info("sweeper woke %d job(s)", len(ids))
        return ids

    def prune(self) -> int:
        """Delete the finished jobs older than the retention (:func:`app.queue.store.prune`)."""
        with self.app.app_context():
            deleted = store.prune(
                self.app.extensions["db"].sessionmaker,
                now=clock_of(self.app)(),
                retention=self.policy.retention,
            )
        if deleted:
            log.info("sweeper deleted %d finished job(s)", deleted)
        return deleted

    def waiting(self, ids: list[int]) -> set[int]:
        """Those of ``ids`` whose wake-up still waits in the queue (none known by default)."""
        return set()

    def start(self) -> None:
        """Start what runs in the background in this process (nothing by default)."""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop what :meth:`start` started."""


class SyncQueue(JobQueue):
    """Runs each job at once in the caller; a job that did not end ``done`` is in ``failures``."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.failures: list[tuple[int, str | None]] = []

    def wake(self, job_id: int) -> None:
        status = execute(self.app, job_id, "sync")
        if status not in (store.DONE, None):
            self.failures.append((job_id, status))


class InProcessQueue(JobQueue):
    """``threads`` daemon worker threads, started on the first job; :meth:`stop` ends them.

    With ``sweep_interval`` set, a sweeper thread also runs (the embedded default's).
    """

    def __init__(
        self, app: Flask, *, threads: int = 1, sweep_interval: float | None = None
    ) -> None:
        super().__init__(app)
        self.threads = max(1, threads)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._workers: list[threading.Thread] = []
        self._guard = threading.Lock()
        self._sweeper = Sweeper(self, sweep_interval) if sweep_interval else None

    def wake(self, job_id: int) -> None:
        self.start()
        self._queue.put(job_id)

    def join(self) -> None:
        """Wait until every woken job has run."""
        self._queue.join()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._workers)

    def start(self) -> None:
        with self._guard:
            if self.running:
                return
            self._workers = [
                threading.Thread(
                    target=self._work,
                    name="mulesight-jobs" if self.threads == 1 else f"mulesight-jobs-{n}",
                    daemon=True,
                )
                for n in range(1, self.threads + 1)
            ]
            for thread in self._workers:
                thread.start()
        if self._sweeper is not None:
            self._sweeper.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the woken jobs, then end the threads."""
        if self._sweeper is not None:
            self._sweeper.stop(timeout)
        with self._guard:
            workers, self._workers = self._workers, []
        for _ in workers:
            self._queue.put(_STOP)
        for thread in workers:
            thread.join(timeout)

    def _work(self) -> None:
        name = f"thread-{threading.get_ident()}"
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                execute(self.app, int(item), name)
            except Exception:
                log.exception("job %s failed", item)
            finally:
                self._queue.task_done()


class RedisQueue(JobQueue):
    """Wake-ups as RQ jobs on queue ``MULESIGHT_QUEUE_NAME`` (run by ``mulesight worker``)."""

    def __init__(self, app: Flask, url: str) -> None:
        super().__init__(app)
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.name = str(app.config.get("MULESIGHT_QUEUE_NAME") or "mulesight")
        self.rq = Queue(self.name, connection=self.redis)
        self.job_timeout = int(app.config.get("MULESIGHT_JOB_TIMEOUT_S") or 900)

    def wake_id(self, job_id: int) -> str:
        """The RQ job id of job ``job_id``'s wake-up (one per job, so a waiting one is found)."""
        return f"{self.name}-{job_id}"

    def waiting(self, ids: list[int]) -> set[int]:
        """Jobs whose wake-up is still in the Redis queue: a backlog is not a lost wake-up, so the
        sweeper does not pile another wake-up on each waiting job (the queue would only grow)."""
        try:
            queued = {raw.decode() for raw in self.redis.lrange(self.rq.key, 0, -1)}  # type: ignore[union-attr]  # a sync client answers a list
        except Exception as exc:  # Redis down: wake them all (each wake-up fails the same way)
            log.warning("could not read the Redis queue (%s)", exc)
            return set()
        return {job_id for job_id in ids if self.wake_id(job_id) in queued}

    def wake(self, job_id: int) -> None:
        try:
            with self.redis.pipeline() as pipe:  # one round trip (RQ alone makes two)
                self.rq.enqueue(
                    PERFORM,
                    job_id,
                    job_id=self.wake_id(job_id),
                    job_timeout=self.job_timeout,
                    result_ttl=0,
                    failure_ttl=24 * 3600,
                    description=f"mulesight job {job_id}",
                    pipeline=pipe,
                )
                pipe.execute()
        except Exception as exc:  # Redis down: the row stands, the sweeper wakes it later
            log.warning("could not wake job %s on Redis (%s); the sweeper will", job_id, exc)


def build_queue(app: Flask) -> JobQueue:
    """The queue the configuration asks for (see the module docstring)."""
    if app.config.get("MULESIGHT_JOB_QUEUE") == "sync":
        return SyncQueue(app)
    url = app.config.get("MULESIGHT_REDIS_URL")
    if url:
        return RedisQueue(app, str(url))
    return InProcessQueue(
        app,
        threads=int(app.config.get("MULESIGHT_JOB_THREADS") or 2),
        sweep_interval=float(app.config.get("MULESIGHT_SWEEP_INTERVAL_S") or 10),
    )


__all__ = ["PERFORM", "InProcessQueue", "JobQueue", "RedisQueue", "SyncQueue", "build_queue"]
