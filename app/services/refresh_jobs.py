"""Dataset refreshes as jobs on the durable queue (:mod:`app.queue`), manual and scheduled.

A refresh is a :data:`REFRESH_SPACE` job whose key names its slot — the space and what it
refreshes (``refresh:<space id>:all``, ``…:<dataset>``, ``…:endpoints:<asset>``) — so a refresh
already queued or running for that slot is not recorded twice (:func:`submit_refresh`; a finished
one is queued again). A worker that dies mid-refresh leaves its job ``running``; the sweeper
queues it again once the lease ran out, and another worker refreshes the space (snapshot writes
are upserts: a repeated refresh stores the same rows).

- :func:`record_refresh` then :func:`await_refresh` — a refresh asked for by a person (Forge,
  Rovo): record, commit (the request), wake, wait a bounded time, and answer with the summary —
  or :class:`RefreshPending` if it is still going.
- :func:`due_for_schedule`, :func:`schedule_space` then :func:`await_scheduled` — the scheduled
  trigger: one job per due space, each recorded in the step (committed by the request) that
  marks the space as scheduled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.jobs import REFRESH_SPACE
from app.models import Job, Space
from app.queue import JobFailed, JobQueue
from app.queue import store as job_store
from app.queue.waiting import poll_until_ended
from app.services import refresh
from app.services.refresh import (
    AssetRef,
    DatasetDisabled,
    DatasetRefresh,
    EndpointsTargetRequired,
    FailedEnvironment,
    RefreshSummary,
)
from app.storage import list_spaces, snapshots

ALL = "all"


class RefreshPending(Exception):
    """The refresh did not finish within the wait: it goes on in the background."""

    def __init__(self, space_key: str, state: str) -> None:
        super().__init__(f"The refresh of space {space_key} is {state}.")
        self.space_key = space_key
        self.state = state


class RefreshFailed(Exception):
    """The refresh job gave up; ``status``/``code``/``message`` say why (safe to show)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def refresh_key(space_id: int, dataset: str | None, asset: AssetRef | None = None) -> str:
    """The slot of a refresh: one space and what it refreshes."""
    key = f"refresh:{space_id}:{dataset or ALL}"
    return f"{key}:{asset.key}@{asset.version}" if asset is not None else key


def submit_refresh(
    queue: JobQueue,
    session: Session,
    space: Space,
    *,
    dataset: str | None = None,
    asset: AssetRef | None = None,
) -> Job:
    """Record the refresh in the caller's transaction, or return the one already under way."""
    payload = {
        "space_id": space.id,
        "dataset": dataset,
        "asset": [asset.group_id, asset.asset_id, asset.version] if asset else None,
    }
    return queue.submit(
        session,
        REFRESH_SPACE,
        payload,
        key=refresh_key(space.id, dataset, asset),
        installation_id=space.installation_id,
        again=True,
    )


def record_refresh(
    queue: JobQueue,
    session: Session,
    space: Space,
    *,
    dataset: str | None = None,
    asset: AssetRef | None = None,
) -> int:
    """:func:`submit_refresh`, for a person waiting on it (:func:`await_refresh`); the job's id.

    A concurrent caller that recorded the same slot first wins: this caller's transaction is
    rolled back and the other's row returned. The caller commits before :func:`await_refresh`
    wakes a worker.
    """
    try:
        return submit_refresh(queue, session, space, dataset=dataset, asset=asset).id
    except IntegrityError:
        session.rollback()
        # the other caller's row, committed: its insert held ours until then
        return submit_refresh(queue, session, space, dataset=dataset, asset=asset).id


def await_refresh(
    queue: JobQueue, session: Session, space_key: str, job_id: int, *, wait_s: float
) -> RefreshSummary:
    """Wake a worker for the recorded (and committed) refresh ``job_id`` of space ``space_key``
    and wait up to ``wait_s`` for its summary.

    Raises :class:`~app.services.refresh.DatasetDisabled`,
    :class:`~app.services.refresh.EndpointsTargetRequired` (as a direct refresh would),
    :class:`RefreshFailed` or :class:`RefreshPending`.
    """
    queue.wake(job_id)
    finished = wait_for_job(session, job_id, timeout_s=wait_s)
    if finished.status == job_store.DONE:
        return summary_from_json(finished.result or {})
    if finished.status == job_store.FAILED:
        error = dict(finished.result or {})
        code = str(error.get("code") or "refresh_failed")
        message = str(error.get("message") or finished.error or "The refresh could not complete.")
        if code == "dataset_disabled":
            raise DatasetDisabled(message)
        if code == "endpoints_target_required":
            raise EndpointsTargetRequired(message)
        raise RefreshFailed(int(error.get("status") or 502), code, message)
    raise RefreshPending(space_key, "running" if finished.status == job_store.RUNNING else "queued")


@dataclass(frozen=True)
class JobState:
    status: str
    result: Mapping[str, Any] | None
    error: str | None


def wait_for_job(
    session: Session,
    job_id: int,
    *,
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> JobState:
    """The job's state once it ended (done or failed) or ``timeout_s`` passed."""

    def read() -> JobState:
        row = session.execute(
            select(Job.status, Job.result, Job.error).where(Job.id == job_id)
        ).one()
        return JobState(row.status, row.result, row.error)

    return poll_until_ended(
        session,
        read,
        lambda state: state.status in (job_store.DONE, job_store.FAILED),
        timeout_s=timeout_s,
        clock=clock,
        sleep=sleep,
    )


# -- the scheduled trigger -------------------------------------------------------------------------


@dataclass
class Scheduled:
    """Spaces whose refresh the trigger recorded (space key, job id), and those it skipped."""

    queued: list[tuple[str, int]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def due_for_schedule(
    session: Session, now: datetime, *, installation_id: str | None = None
) -> tuple[list[Space], Scheduled]:
    """The spaces (of ``installation_id``, or all) whose sync interval elapsed, for
    :func:`schedule_space` one by one, and a :class:`Scheduled` that lists the others skipped."""
    scheduled = Scheduled()
    spaces = snapshots.due_spaces(session, now, installation_id=installation_id)
    due_ids = {s.id for s in spaces}
    if installation_id is not None:
        for space in list_spaces(session, installation_id):
            if space.id not in due_ids:
                scheduled.skipped.append({"space_key": space.key, "reason": "not_due"})
    return spaces, scheduled


def schedule_space(
    queue: JobQueue, session: Session, space: Space, now: datetime, scheduled: Scheduled
) -> None:
    """Claim a due space and record its refresh job in the caller's transaction; noted in
    ``scheduled`` as queued or skipped.

    The caller commits each space's claim and job as a step of its own, with nothing else in
    it: so a crash between the two loses no refresh, and concurrent triggers never queue one
    space twice (a space claimed elsewhere rolls this step back). Wake the queued jobs after
    the commit (:func:`await_scheduled`).
    """
    key = space.key
    if not refresh.crawl_targets(space, None)[0]:
        scheduled.skipped.append({"space_key": key, "reason": "all_datasets_disabled"})
        return
    if not snapshots.claim_scheduled_refresh(session, space, now):
        session.rollback()
        scheduled.skipped.append({"space_key": key, "reason": "claimed_elsewhere"})
        return
    try:
        scheduled.queued.append((key, submit_refresh(queue, session, space).id))
    except IntegrityError:  # a refresh of the space was recorded at this very moment
        session.rollback()
        scheduled.skipped.append({"space_key": key, "reason": "claimed_elsewhere"})


@dataclass
class ScheduledSummary:
    """What the trigger answers: refreshes finished within its wait, spaces skipped (not due,
    claimed elsewhere, all datasets off, failed), and those still refreshing (``deferred``)."""

    refreshed: list[RefreshSummary] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)


def await_scheduled(
    queue: JobQueue,
    session: Session,
    scheduled: Scheduled,
    *,
    wait_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> ScheduledSummary:
    """Wake the jobs :func:`schedule_space` recorded (and the caller committed), then wait up to
    ``wait_s`` in all for the refreshes."""
    for _key, job_id in scheduled.queued:
        queue.wake(job_id)
    summary = ScheduledSummary(skipped=list(scheduled.skipped))
    end = clock() + wait_s
    for key, job_id in scheduled.queued:
        state = wait_for_job(session, job_id, timeout_s=max(0.0, end - clock()), clock=clock)
        if state.status == job_store.DONE:
            summary.refreshed.append(summary_from_json(state.result or {}))
        elif state.status == job_store.FAILED:
            summary.skipped.append({"space_key": key, "reason": "error"})
        else:
            summary.deferred.append(key)
    return summary


# -- the job ---------------------------------------------------------------------------------------


def run_refresh_job(session: Session, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`REFRESH_SPACE` job's work (``{"space_id", "dataset", "asset"}``): refresh the
    space, its snapshots written in ``session`` (the job commits them once, at the end); the
    result is its summary. A turned-off dataset or a missing endpoints target fails it for good,
    with what to tell the person who asked."""
    from flask import current_app

    from app.crypto import secret_box

    space = session.get(Space, int(payload["space_id"]))
    if space is None:
        raise JobFailed(
            "The space was removed before its refresh ran.",
            result={"status": 404, "code": "not_found", "message": "No such space."},
        )
    asset = AssetRef(*payload["asset"]) if payload.get("asset") else None
    try:
        summary = refresh.refresh_space(
            session,
            space,
            secret_box(),
            current_app.config,
            dataset=payload.get("dataset"),
            asset=asset,
        )
    except DatasetDisabled as exc:
        raise JobFailed(str(exc), result=_error(409, "dataset_disabled", str(exc))) from None
    except EndpointsTargetRequired as exc:
        raise JobFailed(
            str(exc), result=_error(422, "endpoints_target_required", str(exc))
        ) from None
    return summary_to_json(summary)


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"status": status, "code": code, "message": message}


def summary_to_json(summary: RefreshSummary) -> dict[str, Any]:
    return {
        "space_key": summary.space_key,
        "refreshed_at": summary.refreshed_at.isoformat(),
        "datasets": [
            {
                "dataset": d.dataset,
                "status": d.status,
                "coverage": d.coverage,
                "reason": d.reason,
                "item_count": d.item_count,
                "asset": d.asset,
                "failed_environments": [
                    {
                        "environment_id": f.environment_id,
                        "environment_name": f.environment_name,
                        "outcome": f.outcome,
                        "error": f.error,
                    }
                    for f in d.failed_environments
                ],
            }
            for d in summary.datasets
        ],
    }


def summary_from_json(data: Mapping[str, Any]) -> RefreshSummary:
    return RefreshSummary(
        space_key=str(data["space_key"]),
        refreshed_at=datetime.fromisoformat(str(data["refreshed_at"])),
        datasets=tuple(
            DatasetRefresh(
                dataset=d["dataset"],
                status=d["status"],
                coverage=d.get("coverage"),
                reason=d.get("reason"),
                item_count=int(d.get("item_count") or 0),
                asset=d.get("asset"),
                failed_environments=tuple(
                    FailedEnvironment(**f) for f in d.get("failed_environments") or ()
                ),
            )
            for d in data.get("datasets") or ()
        ),
    )


__all__ = [
    "REFRESH_SPACE",
    "RefreshFailed",
    "RefreshPending",
    "Scheduled",
    "ScheduledSummary",
    "await_refresh",
    "await_scheduled",
    "due_for_schedule",
    "record_refresh",
    "refresh_key",
    "run_refresh_job",
    "schedule_space",
    "submit_refresh",
    "summary_from_json",
    "summary_to_json",
    "wait_for_job",
]
