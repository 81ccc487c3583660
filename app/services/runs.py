"""Diagnostics runs of a tenant's spaces: run, store, read back, render and compare.

A run is one :func:`diagnostics.engine.run_diagnostics` call on the space's Anypoint (simulated or
live, :mod:`app.services.anypoint`) and its Confluence side (:mod:`app.services.state`). Only the
redacted, validated report is stored. Services take a session and plain values, never request
globals; the views pass the tenant's ids.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app import clock, storage
from app.confluence import ConfluenceError, find_macro_pages
from app.crypto import SecretBox
from app.models import DiagnosticRun, Installation, Space
from app.services.anypoint import anypoint_for
from app.services.state import app_state_for
from app.storage import runs as run_store
from app.storage.runs import RunRow
from diagnostics.diff import diff_reports
from diagnostics.engine import DEFAULT_DEADLINE_S, RunInput, RunOptions, run_diagnostics
from diagnostics.model import MacroPage
from diagnostics.redaction import redact_report
from diagnostics.render import render
from diagnostics.report import Report
from diagnostics.report_schema import validate_report

log = logging.getLogger(__name__)

# Forge gives a remote call 25 s: the page search and the run share the 20 s run budget.
PAGE_SEARCH_BUDGET_S = 5.0
MIN_DEADLINE_S = 10.0
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
    "diff_runs",
    "get_run",
    "list_runs",
    "previous_run",
    "render_run",
    "report_of",
    "run_for_site",
    "run_for_space",
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
) -> DiagnosticRun:
    """Run diagnostics for ``space``, store the redacted report and return the stored run.

    In live mode with a Forge ``system_token``, the space's macro pages are searched in Confluence
    (at ``api_base_url``, default: the installation's from its cloud id); if the search fails the
    pages come from render events and the report's ``notes`` say why. Raises ``ScenarioError``
    when a simulated space names an unknown scenario.
    """
    now = now or clock.now()
    run_id = str(uuid.uuid4())
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
            ),
            RunOptions(deadline_s=deadline),
        )
    finally:
        anypoint.close()
    data = _final(report, notes, [anypoint.connection.client_secret, system_token])
    run = DiagnosticRun(
        id=run_id,
        installation_id=space.installation_id,
        space_id=space.id,
        report=data,
        verdict=str(data["verdict"]),
        requested_by=requested_by,
    )
    return run_store.add_run(session, run)


def _live_pages(
    session: Session, space: Space, token: str, api_base_url: str | None, notes: list[str]
) -> list[MacroPage] | None:
    """The space's macro pages, or ``None`` (and a note) if Confluence fails or is too slow."""
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


def _final(report: Report, notes: Sequence[str], secrets: Iterable[str | None]) -> dict[str, Any]:
    """The report to store: notes added, then redacted once more and validated (defence in depth)."""
    data = dict(report.data)
    if notes:
        data["notes"] = list(notes)
    return validate_report(redact_report(data, known_secrets=secrets))


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
    run starts.
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
    session: Session, installation_id: str, *, space_key: str | None = None, limit: int = 20
) -> list[RunRow]:
    """The tenant's latest runs, newest first; an unknown ``space_key`` is :class:`NotFound`."""
    if space_key is not None:
        storage.get_space(session, installation_id, space_key)
    return run_store.list_runs(session, installation_id, space_key=space_key, limit=limit)


def previous_run(session: Session, run: DiagnosticRun) -> DiagnosticRun | None:
    """The latest older run of the same space (and tenant), if any."""
    return run_store.previous_run(session, run)


def report_of(run: DiagnosticRun) -> Report:
    return Report(run.report)


def render_run(run: DiagnosticRun, fmt: str) -> tuple[str, str]:
    """The run's report as ``fmt`` (json, markdown, html, text, ticket) and its content type."""
    return render(report_of(run), fmt), CONTENT_TYPES[fmt]


def diff_runs(before: DiagnosticRun, after: DiagnosticRun) -> dict[str, Any]:
    """What changed from ``before`` to ``after`` (findings fixed, new, still open; coverage...)."""
    return diff_reports(before.report, after.report)
