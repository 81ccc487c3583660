"""Durable background work: the ``jobs`` table is the record, a queue only wakes workers.

- :mod:`app.queue.store` — the job rows: submit, claim (lease), finish, fail (backoff), sweep.
- :mod:`app.queue.runner` — run one recorded job in a fresh app context (:func:`execute`).
- :mod:`app.queue.backends` — how a wake-up travels: RQ on Redis, threads in-process, or inline.
- :mod:`app.queue.sweeper` — the thread that wakes what nobody is doing and delivers due outbox
  messages, in every worker process and in the embedded default.
- :mod:`app.queue.worker` — ``mulesight worker`` (RQ ``SimpleWorker`` per process, supervisor).
"""

from app.queue.backends import InProcessQueue, JobQueue, RedisQueue, SyncQueue, build_queue
from app.queue.runner import JOBS, JobFailed, execute, job

__all__ = [
    "JOBS",
    "InProcessQueue",
    "JobFailed",
    "JobQueue",
    "RedisQueue",
    "SyncQueue",
    "build_queue",
    "execute",
    "job",
]
