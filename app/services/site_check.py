"""The site self-check as a job: a run of every configured space of a site (or the one named).

``POST /forge/v1/runs {"scope": "site"}`` records a :data:`~app.jobs.SITE_CHECK` job and waits a
bounded time, as a single run does; a check not finished by then answers 202 ``{"id", "state"}``
and the front end polls ``GET /forge/v1/runs/{id}``, which answers the whole check once done.

Each space's run has an id derived from the check's id and the space, so a check whose worker
died is run again by the sweeper without storing any space's run twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import storage
from app.crypto import SecretBox
from app.jobs import SITE_CHECK, JobQueue
from app.models import DiagnosticRun
from app.queue import JobFailed
from app.queue import store as job_store
from app.queue.waiting import poll_until_ended
from app.services import runs
from app.services.runs import DONE_STATE, FAILED_STATE, QUEUED_STATE, RUNNING_STATE


def site_check_key(check_id: str) -> str:
    return f"site-check:{check_id}"


def space_run_id(check_id: str, space_key: str) -> str:
    """The run id of one space's run within a check: the same on every try of the check."""
    return str(uuid.uuid5(uuid.UUID(check_id), space_key))


@dataclass(frozen=True)
class SiteCheckState:
    """Where a check is: ``done`` (``runs`` set), ``queued``/``running``, or ``failed``."""

    id: str
    state: str
    runs: list[DiagnosticRun] = field(default_factory=list)
    error: Mapping[str, Any] | None = None

    @property
    def verdict(self) -> str | None:
        verdicts = [run.verdict for run in self.runs]
        return next((v for v in ("broken", "degraded", "healthy") if v in verdicts), None)


def submit_site_check(
    queue: JobQueue,
    session: Session,
    installation_id: str,
    *,
    space_keys: Sequence[str] | None,
    requested_by: str,
) -> tuple[str, int]:
    """Record a check (the caller commits); returns its id and its job's id.

    A named space the site does not have is :class:`~app.storage.NotFound` before anything is
    recorded.
    """
    keys = (
        [s.key for s in storage.list_spaces(session, installation_id)]
        if space_keys is None
        else [storage.get_space(session, installation_id, key).key for key in space_keys]
    )
    check_id = str(uuid.uuid4())
    payload = {
        "check_id": check_id,
        "installation_id": installation_id,
        "space_keys": keys,
        "requested_by": requested_by,
    }
    job = queue.submit(
        session, SITE_CHECK, payload, key=site_check_key(check_id), installation_id=installation_id
    )
    return check_id, job.id


def check_space(
    session: Session,
    payload: Mapping[str, Any],
    space_key: str,
    *,
    config: Mapping[str, Any],
    box: SecretBox,
) -> str:
    """One space's run of the :data:`~app.jobs.SITE_CHECK` job (``payload``), stored under its
    id unless an earlier try stored it; returns the run id. The job commits each space's run on
    its own, so a try that died keeps the runs it stored."""
    from diagnostics.simulator import ScenarioError

    run_id = space_run_id(str(payload["check_id"]), space_key)
    if session.get(DiagnosticRun, run_id) is not None:  # stored by an earlier try
        return run_id
    try:
        space = storage.get_space(session, str(payload["installation_id"]), space_key)
    except storage.NotFound:
        return run_id  # removed since the check was asked for
    try:
        runs.run_for_space(
            session,
            space,
            config=config,
            box=box,
            requested_by=str(payload["requested_by"]),
            run_id=run_id,
        )
    except ScenarioError as exc:
        message = f"Space {space_key}'s simulated scenario: {exc.message}"
        raise JobFailed(
            message, result={"status": 409, "code": "scenario_unavailable", "message": message}
        ) from None
    return run_id


def site_check_state(
    session: Session, installation_id: str, check_id: str
) -> SiteCheckState | None:
    """The tenant's check ``check_id``; ``None`` if there is none (it may be a single run)."""
    job = job_store.get_job(session, site_check_key(check_id))
    if job is None or job.installation_id != installation_id:
        return None
    if job.status == job_store.FAILED:
        error = dict(job.result or {})
        error.setdefault("status", 500)
        error.setdefault("code", "run_failed")
        error.setdefault("message", "The self-check could not complete; start a new one.")
        return SiteCheckState(check_id, FAILED_STATE, error=error)
    if job.status != job_store.DONE:
        state = RUNNING_STATE if job.status == job_store.RUNNING else QUEUED_STATE
        return SiteCheckState(check_id, state)
    ids = list((job.result or {}).get("run_ids") or ())
    stored = {
        run.id: run
        for run in session.scalars(
            select(DiagnosticRun).where(
                DiagnosticRun.id.in_(ids), DiagnosticRun.installation_id == installation_id
            )
        )
    }
    return SiteCheckState(check_id, DONE_STATE, runs=[stored[i] for i in ids if i in stored])


def wait_for_site_check(
    session: Session,
    installation_id: str,
    check_id: str,
    *,
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> SiteCheckState:
    """:func:`site_check_state`, polled until the check ended or ``timeout_s`` passed."""

    def read() -> SiteCheckState:
        state = site_check_state(session, installation_id, check_id)
        assert state is not None, "the check was recorded by the caller"
        return state

    return poll_until_ended(
        session,
        read,
        lambda state: state.state in (DONE_STATE, FAILED_STATE),
        timeout_s=timeout_s,
        clock=clock,
        sleep=sleep,
    )


__all__ = [
    "SiteCheckState",
    "check_space",
    "site_check_key",
    "site_check_state",
    "space_run_id",
    "submit_site_check",
    "wait_for_site_check",
]
