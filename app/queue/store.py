"""The job record: submit, claim, finish, fail and sweep rows of the ``jobs`` table.

The database is the record, the queue only a wake-up (design note 13). Every state change is one
conditional ``UPDATE``, so two processes never both own a job:

- :func:`submit` adds a ``queued`` row to the caller's transaction (a key already there is kept:
  submitting twice is a no-op; a ``failed`` one — or, for a slot key, a ``done`` one — is
  queued again); :func:`add_new` for a key the caller knows is new; :func:`with_new_job` makes
  one statement of a row's insert and the insert of the job that works on it (PostgreSQL).
- :func:`claim` turns ``queued`` into ``running`` with a lease; only one caller gets it.
- :func:`renew` extends the lease of a job its caller still owns (the runner's heartbeat).
- :func:`finish` / :func:`fail` end the attempt — only if the caller still owns it.
- :func:`sweep` re-queues what nobody is doing: a ``running`` job whose lease expired (its worker
  died), a ``queued`` job nobody took before its wake-by time whose wake-up is gone (lost), a
  ``waiting`` retry that came due. It returns their ids for the caller to wake.
- :func:`prune` deletes finished (done / failed) jobs that ended before a retention, in batches.

No Flask here: every function takes a session (factory) and ``now``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from app.models import Job
from diagnostics.redaction import redact_text

QUEUED, RUNNING, WAITING, DONE, FAILED = "queued", "running", "waiting", "done", "failed"
ERROR_LIMIT = 1000
SWEEP_BATCH = 500
PRUNE_BATCHES = 10
# Built once (the values come with each call); a Core insert, cheaper than the ORM bulk path.
_INSERT_JOB = insert(Job.metadata.tables[Job.__tablename__]).returning(Job.id)


@dataclass(frozen=True)
class JobPolicy:
    """How long a lease lasts, how often a failing job is tried and how long it waits between,
    and how long a finished job's row is kept."""

    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 5
    base_delay: timedelta = timedelta(seconds=10)
    max_delay: timedelta = timedelta(minutes=10)
    retention: timedelta = timedelta(days=7)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> JobPolicy:
        return cls(
            lease=timedelta(seconds=float(config.get("MULESIGHT_JOB_LEASE_S") or 60)),
            max_attempts=int(config.get("MULESIGHT_JOB_MAX_ATTEMPTS") or 5),
            retention=timedelta(days=float(config.get("MULESIGHT_JOB_RETENTION_DAYS") or 7)),
        )

    def delay(self, attempts: int) -> timedelta:
        return min(self.max_delay, self.base_delay * (1 << max(0, attempts - 1)))


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


def _new_job(
    kind: str,
    key: Any,
    payload: Any,
    created_at: Any,
    lease_until: Any,
    installation_id: str | None = None,
) -> dict[str, Any]:
    """The columns of a new job, ``queued`` and due for its wake-up at ``lease_until`` (every
    value but ``kind`` may be a SQL expression: :func:`with_new_job`)."""
    return {
        "key": key,
        "kind": kind,
        "installation_id": installation_id,
        "payload": payload,
        "status": QUEUED,
        "attempts": 0,
        "lease_until": lease_until,
        "created_at": created_at,
    }


def submit(
    session: Session,
    kind: str,
    payload: Mapping[str, Any],
    *,
    key: str,
    now: datetime,
    policy: JobPolicy,
    installation_id: str | None = None,
    again: bool = False,
) -> Job:
    """Add the job to the caller's transaction (flushed, so ``id`` is set); the caller commits.

    ``again``: the key names a slot (one space's refresh), not one piece of work — a finished job
    under it (done too) is queued again with ``payload``; an unfinished one is returned as is.
    """
    job = session.scalar(select(Job).where(Job.key == key))
    if job is not None:
        if job.status == FAILED or (again and job.status == DONE):
            job.status, job.attempts, job.error = QUEUED, 0, None
            job.lease_until = now + policy.lease
            if again:
                job.payload, job.result, job.created_at = dict(payload), None, now
                job.started_at = job.finished_at = None
        return job
    job = Job(**_new_job(kind, key, dict(payload), now, now + policy.lease, installation_id))
    session.add(job)
    session.flush()
    return job


def add_new(
    session: Session,
    kind: str,
    payload: Mapping[str, Any],
    *,
    key: str,
    now: datetime,
    policy: JobPolicy,
    installation_id: str | None = None,
) -> int:
    """:func:`submit` for a key the caller knows is new (one ``INSERT``, no look-up; a key that
    exists fails on the unique index); returns the job's id."""
    values = _new_job(kind, key, dict(payload), now, now + policy.lease, installation_id)
    return int(session.connection().execute(_INSERT_JOB, values).scalar_one())


NEW_JOB_CREATED_AT, NEW_JOB_LEASE_UNTIL = "new_job_created_at", "new_job_lease_until"


def with_new_job(parent: Insert, kind: str, *, key_prefix: str, payload_field: str) -> Insert:
    """One statement: ``parent`` (an insert returning the new row's ``id``) and the insert of a
    new job on that row — key ``key_prefix + id``, payload ``{payload_field: id}`` — returning
    the job's id. A data-modifying ``WITH`` (PostgreSQL): run on its own, the pair is stored in
    one round trip and one commit, as :func:`add_new` after the row's insert would store it.

    Build it once and run it with ``parent``'s values and :func:`new_job_times`: building and
    caching a statement this size costs more CPU than the server spends running it."""
    columns = Job.metadata.tables[Job.__tablename__].c
    row = parent.cte("parent")
    values = _new_job(
        kind,
        literal(key_prefix) + cast(row.c.id, String),
        func.jsonb_build_object(payload_field, row.c.id),
        bindparam(NEW_JOB_CREATED_AT, type_=columns.created_at.type),
        bindparam(NEW_JOB_LEASE_UNTIL, type_=columns.lease_until.type),
    )
    job_values = select(
        *(
            value if isinstance(value, ColumnElement) else literal(value, columns[name].type)
            for name, value in values.items()
        )
    )
    return (
        insert(Job)
        .from_select(list(values), job_values.select_from(row), include_defaults=False)
        .returning(Job.id)
    )


def new_job_times(now: datetime, policy: JobPolicy) -> dict[str, datetime]:
    """The times a statement of :func:`with_new_job` binds, for a job created at ``now``."""
    return {NEW_JOB_CREATED_AT: now, NEW_JOB_LEASE_UNTIL: now + policy.lease}


def claim(
    session_factory: Callable[[], Session],
    job_id: int,
    worker: str,
    *,
    now: datetime,
    lease: timedelta,
) -> Claimed | None:
    """Own job ``job_id`` for ``lease``; ``None`` if it is not ``queued`` (done, or taken)."""
    with session_factory() as session:
        taken = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == QUEUED)
            .values(
                status=RUNNING,
                claimed_by=worker[:64],
                lease_until=now + lease,
                attempts=Job.attempts + 1,
                started_at=now,
            )
            .returning(Job.kind, Job.payload, Job.attempts)
            .execution_options(synchronize_session=False)
        ).first()
        session.commit()
        if taken is None:
            return None
        kind, payload, attempts = taken
        return Claimed(job_id, kind, dict(payload), attempts)


def renew(
    session_factory: Callable[[], Session],
    job_id: int,
    worker: str,
    *,
    now: datetime,
    lease: timedelta,
) -> bool:
    """Extend the lease of running job ``job_id`` if ``worker`` still owns it."""
    return _update_owned(session_factory, job_id, worker, lease_until=now + lease)


def finish(
    session_factory: Callable[[], Session],
    job_id: int,
    worker: str,
    *,
    now: datetime,
    result: Mapping[str, Any] | None = None,
) -> bool:
    """Mark the job done (if ``worker`` still owns it)."""
    return _end(
        session_factory,
        job_id,
        worker,
        status=DONE,
        finished_at=now,
        result=dict(result) if result is not None else None,
        error=None,
    )


def fail(
    session_factory: Callable[[], Session],
    job_id: int,
    worker: str,
    error: str,
    *,
    now: datetime,
    policy: JobPolicy,
    attempts: int,
    retryable: bool = True,
    result: Mapping[str, Any] | None = None,
) -> str:
    """Schedule another attempt (``waiting``) or give up (``failed``); returns the new status."""
    retry = retryable and attempts < policy.max_attempts
    status = WAITING if retry else FAILED
    values: dict[str, Any] = {"status": status, "error": redact_text(error)[:ERROR_LIMIT]}
    if retry:
        values["lease_until"] = now + policy.delay(attempts)
    else:
        values["finished_at"] = now
        values["result"] = dict(result) if result is not None else None
    _end(session_factory, job_id, worker, **values)
    return status


def _end(session_factory: Callable[[], Session], job_id: int, worker: str, **values: Any) -> bool:
    return _update_owned(session_factory, job_id, worker, claimed_by=None, **values)


def _update_owned(
    session_factory: Callable[[], Session], job_id: int, worker: str, **values: Any
) -> bool:
    """Set ``values`` on running job ``job_id`` in a step of its own, if ``worker`` still owns
    it (a lease that expired has passed the job on); whether it did."""
    with session_factory() as session:
        changed: int = session.execute(  # type: ignore[attr-defined]  # an UPDATE's is a CursorResult
            update(Job)
            .where(Job.id == job_id, Job.status == RUNNING, Job.claimed_by == worker[:64])
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        return changed == 1


def sweep(
    session_factory: Callable[[], Session],
    *,
    now: datetime,
    lease: timedelta,
    limit: int = SWEEP_BATCH,
    waiting: Callable[[list[int]], set[int]] | None = None,
) -> list[int]:
    """Re-queue the jobs nobody is doing; returns their ids (to wake).

    A ``running`` job whose lease expired (its worker died) and a ``waiting`` retry that came
    due are re-queued. A ``queued`` job past its wake-by time is re-queued only if its wake-up
    is gone: those whose wake-up still waits in the queue (``waiting`` names them) are a
    backlog, not a loss, and are left untouched — a long backlog costs each pass one read, not
    a write per job. The update re-checks every condition, so of two sweepers only one
    re-queues a job, and a job claimed meanwhile stays with its worker.
    """
    stale = (Job.status.in_((RUNNING, WAITING)), Job.lease_until <= now)
    unclaimed = (Job.status == QUEUED, Job.lease_until <= now)
    with session_factory() as session:
        ids = _due(session, stale, limit)
        queued = _due(session, unclaimed, limit)
        session.commit()
    if queued and waiting is not None:
        still_waiting = waiting(queued)
        queued = [job_id for job_id in queued if job_id not in still_waiting]
    if not ids and not queued:
        return []
    with session_factory() as session:
        requeued = session.scalars(
            update(Job)
            .where(Job.id.in_(ids + queued), Job.status.in_((QUEUED, RUNNING, WAITING)))
            .where(Job.lease_until <= now)
            .values(status=QUEUED, claimed_by=None, lease_until=now + lease)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        ).all()
        session.commit()
    return sorted(requeued)


def _due(session: Session, conditions: tuple[Any, ...], limit: int) -> list[int]:
    """The ids of up to ``limit`` jobs meeting ``conditions``, the longest due first."""
    return list(
        session.scalars(select(Job.id).where(*conditions).order_by(Job.lease_until).limit(limit))
    )


def prune(
    session_factory: Callable[[], Session],
    *,
    now: datetime,
    retention: timedelta,
    batch: int = SWEEP_BATCH,
    max_batches: int = PRUNE_BATCHES,
) -> int:
    """Delete done and failed jobs that finished before ``now - retention``; returns how many.

    One short transaction per ``batch`` rows, at most ``max_batches`` per call (the sweeper calls
    again on its next pass), so pruning a large backlog never holds the table for long.
    """
    before, deleted = now - retention, 0
    for _ in range(max_batches):
        with session_factory() as session:
            old = (
                select(Job.id)
                .where(Job.status.in_((DONE, FAILED)), Job.finished_at < before)
                .order_by(Job.finished_at)
                .limit(batch)
            )
            count: int = session.execute(  # type: ignore[attr-defined]  # a DELETE's is a CursorResult
                delete(Job)
                .where(Job.id.in_(old.scalar_subquery()))
                .execution_options(synchronize_session=False)
            ).rowcount
            session.commit()
        deleted += count
        if count < batch:
            break
    return deleted


def get_job(session: Session, key: str) -> Job | None:
    return session.scalar(select(Job).where(Job.key == key))


__all__ = [
    "DONE",
    "FAILED",
    "QUEUED",
    "RUNNING",
    "WAITING",
    "Claimed",
    "JobPolicy",
    "add_new",
    "claim",
    "fail",
    "finish",
    "get_job",
    "prune",
    "renew",
    "submit",
    "sweep",
]
