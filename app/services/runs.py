"""Diagnostics runs of a tenant's spaces: run, store, read back, render and compare.

A run is one :func:`diagnostics.engine.run_diagnostics` call on the space's Anypoint (simulated or
live, :mod:`app.services.anypoint`) and its Confluence side (:mod:`app.services.state`). Only the
redacted, validated report is stored — redacted once, by the engine, with every secret the run
held (the connection's, its tokens, a Forge system token) — and everything downstream (views,
renders, ticket attachments) uses that stored report as it is. Services take a session and plain
values, never request globals; the views pass the tenant's ids.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock, storage
from app.confluence import ConfluenceError, find_macro_pages
from app.crypto import SecretBox
from app.models import DiagnosticRun, Installation, Space
from app.queue.waiting import poll_until_ended
from app.services.anypoint import anypoint_for
from app.services.state import app_state_for
from app.storage import runs as run_store
from app.storage.runs import RunRow
from diagnostics.diff import diff_reports
from diagnostics.engine import DEFAULT_DEADLINE_S, RunInput, RunOptions, run_diagnostics
from diagnostics.model import MacroPage
from diagnostics.render import render
from diagnostics.report import Report

if TYPE_CHECKING:
    from app.queue import JobQueue

log = logging.getLogger(__name__)

# Forge gives a remote call 25 s: the page search and the run share the 20 s run budget.
PAGE_SEARCH_BUDGET_S = 5.0
MIN_DEADLINE_S = 10.0
SELF_CHECK_PREFIX = "self-check:"
CONTENT_TYPES: Mapping[str, str] = {
    "json": "application/json",
    "markdown": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "ticket": "text/plain; charset=utf-8",  # Jira wiki markup
}

__all__ = [
    "CONTENT_TYPES",
    "RunRow",
    "RunState",
    "diff_runs",
    "fresh_run_for_space",
    "get_run",
    "list_runs",
    "previous_run",
    "render_run",
    "render_stored",
    "report_of",
    "run_for_site",
    "run_for_space",
    "run_recorded",
    "run_state",
    "self_check_actor",
    "submit_run",
    "wait_for_run",
]


def confluence_api_base_url(installation: Installation) -> str:
    """Forge's ``app.apiBaseUrl`` for a Confluence site, from its cloud id."""
    return f"https://api.atlassian.com/ex/confluence/{installation.cloud_id}"


def run_for_space(
    session: Session,
    space: Space,
    *,
    config: Mapping[str, Any],
    box: SecretBox,
    requested_by: str,
    now: datetime | None = None,
    system_token: str | None = None,
    api_base_url: str | None = None,
    run_id: str | None = None,
) -> DiagnosticRun:
    """Run diagnostics for ``space``, store the redacted report and return the stored run.

    The caller commits: a job commits each run as a step of its own, so the run is durable
    before its next step (:mod:`app.jobs`); a request commits it with the response.

    In live mode with a Forge ``system_token``, the space's macro pages are searched in Confluence
    (at ``api_base_url``, default: the installation's from its cloud id); if the search fails the
    pages come from render events and the report's ``notes`` say why. Raises ``ScenarioError``
    when a simulated space names an unknown scenario.
    """
    now = now or clock.now()
    run_id = run_id or str(uuid.uuid4())
    anypoint = anypoint_for(space, box, config)
    notes: list[str] = []
    try:
        pages, deadline = None, DEFAULT_DEADLINE_S
        if anypoint.scenario is None and system_token:
            started = time.monotonic()
            pages = _live_pages(session, space, system_token, api_base_url, notes)
            spent = time.monotonic() - started
            deadline = max(MIN_DEADLINE_S, round(DEFAULT_DEADLINE_S - spent, 1))
        state = app_state_for(
            session, space, config, scenario=anypoint.scenario, pages=pages, now=now
        )
        report = run_diagnostics(
            RunInput(
                connection=anypoint.connection,
                state=state,
                now=now,
                session=anypoint.session,
                run_id=run_id,
                rate_limiter=anypoint.rate_limiter,
                token_cache=anypoint.token_cache,
                notes=notes,
                known_secrets=[system_token],
            ),
            RunOptions(deadline_s=deadline),
        )
    finally:
        anypoint.close()
    data = dict(report.data)  # redacted and validated by the engine, once: the stored artifact
    run = DiagnosticRun(
        id=run_id,
        installation_id=space.installation_id,
        space_id=space.id,
        report=data,
        verdict=str(data["verdict"]),
        requested_by=requested_by,
    )
    run_store.add_run(session, run)
    return run


def _live_pages(
    session: Session, space: Space, token: str, api_base_url: str | None, notes: list[str]
) -> list[MacroPage] | None:
    """The space's macro pages, or ``None`` (and a note) if Confluence fails or is too slow.

    The search runs in a one-thread watchdog, outside the probe runner, on purpose: it is not an
    Anypoint probe (another platform, host and client, no catalogue entry, no share of the
    Anypoint rate limit), and it happens before the run, whose report reads its pages. The
    runner's deadline works because every probe passes it down to the Anypoint client; the
    Confluence library takes only a per-request socket timeout and reads several result pages,
    so nothing but a watchdog bounds the whole search to ``PAGE_SEARCH_BUDGET_S``. A search
    still going at that point is abandoned (its own request timeout ends the thread).
    """
    if api_base_url is None:
        installation = session.get(Installation, space.installation_id)
        if installation is None:
            return None
        api_base_url = confluence_api_base_url(installation)
    space_key = space.key
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="macro-pages")
    future = pool.submit(
        find_macro_pages, api_base_url, token, space_key=space_key, timeout=PAGE_SEARCH_BUDGET_S
    )
    try:
        return future.result(timeout=PAGE_SEARCH_BUDGET_S)
    except ConfluenceError as exc:
        reason = exc.message
    except FutureTimeout:
        reason = f"the search took longer than {PAGE_SEARCH_BUDGET_S:g} s"
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    log.warning("macro page search failed: %s", reason, extra={"space_key": space_key})
    notes.append(
        f"Macro pages were not searched in Confluence ({reason}); "
        "the pages listed are those named by recent render events."
    )
    return None


def run_for_site(
    session: Session,
    installation: Installation,
    *,
    space_keys: Sequence[str] | None = None,
    config: Mapping[str, Any],
    box: SecretBox,
    requested_by: str,
) -> list[DiagnosticRun]:
    """A run for every configured space of the site, or for the named ones (in that order).

    Raises :class:`~app.storage.NotFound` for a named space the site does not have, before any
    run starts. The caller commits the runs.
    """
    if space_keys is None:
        spaces = storage.list_spaces(session, installation.id)
    else:
        spaces = [storage.get_space(session, installation.id, key) for key in space_keys]
    return [
        run_for_space(session, space, config=config, box=box, requested_by=requested_by)
        for space in spaces
    ]


def get_run(session: Session, installation_id: str, run_id: str) -> DiagnosticRun:
    """The tenant's run; :class:`~app.storage.NotFound` for another tenant's or an unknown id."""
    return run_store.get_run(session, installation_id, run_id)


def list_runs(
    session: Session,
    installation_id: str,
    *,
    space_key: str | None = None,
    limit: int = 20,
    self_check: bool = False,
) -> list[RunRow]:
    """The tenant's latest runs, newest first; an unknown ``space_key`` is :class:`NotFound`.

    ``self_check``: only the runs the site self-check started (:func:`self_check_actor`).
    """
    if space_key is not None:
        storage.get_space(session, installation_id, space_key)
    prefix = SELF_CHECK_PREFIX if self_check else None
    return run_store.list_runs(
        session, installation_id, space_key=space_key, limit=limit, requested_by_prefix=prefix
    )


def self_check_actor(actor: str) -> str:
    """The ``requested_by`` of a run the site self-check started for ``actor``."""
    return f"{SELF_CHECK_PREFIX}{actor}"[:255]


def previous_run(session: Session, run: DiagnosticRun) -> DiagnosticRun | None:
    """The latest older run of the same space (and tenant), if any."""
    return run_store.previous_run(session, run)


def report_of(run: DiagnosticRun) -> Report:
    return Report(run.report)


def render_run(run: DiagnosticRun, fmt: str) -> tuple[str, str]:
    """The run's report as ``fmt`` (json, markdown, html, text, ticket) and its content type."""
    return render(report_of(run), fmt), CONTENT_TYPES[fmt]


RENDER_CACHE_SIZE = 128
_renders: OrderedDict[tuple[str, str], str] = OrderedDict()
_renders_lock = threading.Lock()


def render_stored(run: DiagnosticRun, fmt: str) -> str:
    """:func:`render_run`'s text, kept for the process's latest runs: a stored run never changes,
    and a burst of tickets that share one diagnosis attaches the same report to each."""
    key = (run.id, fmt)
    with _renders_lock:
        text = _renders.get(key)
        if text is not None:
            _renders.move_to_end(key)
            return text
    text = render(report_of(run), fmt)
    with _renders_lock:
        _renders[key] = text
        while len(_renders) > RENDER_CACHE_SIZE:
            _renders.popitem(last=False)
    return text


def diff_runs(before: DiagnosticRun, after: DiagnosticRun) -> dict[str, Any]:
    """What changed from ``before`` to ``after`` (findings fixed, new, still open; coverage...)."""
    return diff_reports(before.report, after.report)


# -- a burst of tickets shares one fresh diagnosis --------------------------------------------------


def fresh_run_for_space(
    session: Session,
    space_id: int,
    *,
    config: Mapping[str, Any],
    box: SecretBox,
    requested_by: str,
    now: datetime | None = None,
) -> DiagnosticRun | None:
    """The space's run from the last ``MULESIGHT_SHARED_DIAGNOSIS_S`` seconds, else a new one;
    ``None`` if the space is gone.

    Concurrent callers for one space queue on the space's row (read with ``SELECT … FOR
    UPDATE`` on PostgreSQL): the first runs and stores, the others then find its run — so a
    burst of tickets from one site costs one diagnosis, not one per ticket. The caller's commit
    releases the row: make it the end of a step of its own (see
    :func:`app.jobs.enrich_webhook_event`).
    """
    now = now or clock.now()
    max_age = timedelta(seconds=float(config.get("MULESIGHT_SHARED_DIAGNOSIS_S") or 0))
    shared = max_age > timedelta(0)
    space = session.get(Space, space_id, with_for_update=shared)  # read and locked at once
    if space is None:
        return None
    if shared:
        recent = session.scalar(
            select(DiagnosticRun)
            .where(DiagnosticRun.space_id == space.id, DiagnosticRun.created_at >= now - max_age)
            .order_by(DiagnosticRun.created_at.desc())
            .limit(1)
        )
        if recent is not None:
            return recent
    return run_for_space(session, space, config=config, box=box, requested_by=requested_by)


# -- runs asked for by Forge: a recorded job, answered within a bounded wait -------------------------

QUEUED_STATE, RUNNING_STATE, DONE_STATE, FAILED_STATE = "queued", "running", "done", "failed"


@dataclass(frozen=True)
class RunState:
    """Where a run is: ``done`` (``run`` set), ``queued``/``running``, or ``failed`` (``error``)."""

    id: str
    state: str
    run: DiagnosticRun | None = None
    error: Mapping[str, Any] | None = None


def submit_run(
    queue: JobQueue,
    session: Session,
    space: Space,
    *,
    box: SecretBox,
    requested_by: str,
    system_token: str | None = None,
    api_base_url: str | None = None,
) -> tuple[str, int]:
    """Record a run of ``space`` as a job (the caller commits); returns the run id and job id.

    The Forge system token travels encrypted (it is a secret; the job row is in the database).
    """
    from app.jobs import DIAGNOSTIC_RUN, run_job_key

    run_id = str(uuid.uuid4())
    payload = {
        "run_id": run_id,
        "installation_id": space.installation_id,
        "space_id": space.id,
        "requested_by": requested_by,
        "api_base_url": api_base_url,
        "system_token": box.encrypt(system_token) if system_token else None,
    }
    job = queue.submit(
        session,
        DIAGNOSTIC_RUN,
        payload,
        key=run_job_key(run_id),
        installation_id=space.installation_id,
    )
    return run_id, job.id


def run_recorded(
    session: Session, payload: Mapping[str, Any], *, config: Mapping[str, Any], box: SecretBox
) -> dict[str, Any]:
    """The ``diagnostic_run`` job's work: run and store the space's run under the recorded run
    id (the job commits it)."""
    from app.queue import JobFailed
    from diagnostics.simulator import ScenarioError

    if session.get(DiagnosticRun, payload["run_id"]) is not None:  # an earlier try stored it
        return {"run_id": payload["run_id"]}
    space = session.get(Space, int(payload["space_id"]))
    if space is None or space.installation_id != payload["installation_id"]:
        raise JobFailed(
            "The space was removed before the run started.",
            result={"status": 404, "code": "not_found", "message": "The space no longer exists."},
        )
    token = payload.get("system_token")
    try:
        run = run_for_space(
            session,
            space,
            config=config,
            box=box,
            requested_by=str(payload["requested_by"]),
            system_token=box.decrypt(token) if token else None,
            api_base_url=payload.get("api_base_url"),
            run_id=str(payload["run_id"]),
        )
    except ScenarioError as exc:
        message = f"The space's simulated scenario: {exc.message}"
        raise JobFailed(
            message, result={"status": 409, "code": "scenario_unavailable", "message": message}
        ) from None
    return {"run_id": run.id}


def run_state(session: Session, installation_id: str, run_id: str) -> RunState:
    """The tenant's run or run job; :class:`~app.storage.NotFound` for another tenant's or none."""
    from app.jobs import run_job_key
    from app.queue import store as job_store

    run = session.scalar(
        select(DiagnosticRun).where(
            DiagnosticRun.id == run_id, DiagnosticRun.installation_id == installation_id
        )
    )
    if run is not None:
        return RunState(run_id, DONE_STATE, run=run)
    job = job_store.get_job(session, run_job_key(run_id))
    if job is None or job.installation_id != installation_id:
        return RunState(run_id, DONE_STATE, run=get_run(session, installation_id, run_id))
    if job.status == job_store.FAILED:
        error = dict(job.result or {})
        error.setdefault("status", 500)
        error.setdefault("code", "run_failed")
        error.setdefault("message", "The run could not complete; start a new one.")
        return RunState(run_id, FAILED_STATE, error=error)
    if job.status == job_store.RUNNING:
        return RunState(run_id, RUNNING_STATE)
    if job.status == job_store.DONE:  # done but no run of this tenant: treat as not found
        return RunState(run_id, DONE_STATE, run=get_run(session, installation_id, run_id))
    return RunState(run_id, QUEUED_STATE)


def wait_for_run(
    session: Session,
    installation_id: str,
    run_id: str,
    *,
    timeout_s: float,
    poll_s: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunState:
    """:func:`run_state`, polled until the run is done or failed or ``timeout_s`` passed."""
    return poll_until_ended(
        session,
        lambda: run_state(session, installation_id, run_id),
        lambda state: state.state in (DONE_STATE, FAILED_STATE),
        timeout_s=timeout_s,
        poll_s=poll_s,
        clock=clock,
        sleep=sleep,
    )
