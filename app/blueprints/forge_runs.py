"""Forge routes for diagnostics runs of the caller's own spaces (``/forge/v1/runs``).

A run is a background job: ``POST /runs`` waits a bounded time (``MULESIGHT_RUN_WAIT_S``) and
answers 201 with the run, or 202 ``{"id", "state"}`` to poll with ``GET /runs/{id}`` — so no web
worker is held for a run's whole deadline.

The tenant is ``g.tenant`` from the verified token; a run or space of another tenant answers 404
exactly as an unknown one does.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify
from sqlalchemy.orm import Session

from app import storage
from app.auth import forge_required
from app.blueprints.forge import bp
from app.context import real_app
from app.crypto import secret_box
from app.db import get_session
from app.errors import ApiError
from app.jobs import get_queue
from app.models import DiagnosticRun
from app.schemas_runs import (
    DiffOut,
    DiffQuery,
    ReportFormatQuery,
    RunIn,
    RunListQuery,
    RunOut,
    RunSummaryOut,
    SiteRunOut,
)
from app.services import runs
from app.services import site_check as site_checks
from app.storage.runs import RunRow
from diagnostics.simulator import ScenarioError


def report_response(run: DiagnosticRun, fmt: str) -> Response:
    """The run's report rendered as ``fmt``, with its content type."""
    body, content_type = runs.render_run(run, fmt)
    response = Response(body, content_type=content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if fmt == "html":
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        )
    return response


def scenario_unavailable(exc: ScenarioError) -> ApiError:
    return ApiError(409, "scenario_unavailable", f"The space's simulated scenario: {exc.message}")


def run_against(session: Session, run: DiagnosticRun, against: str | None) -> DiagnosticRun | None:
    """The run to compare ``run`` with: ``against`` (same tenant) or the space's previous run
    (``None`` for the space's first run)."""
    if against is not None:
        return runs.get_run(session, run.installation_id, against)
    return runs.previous_run(session, run)


def nothing_to_compare(run: DiagnosticRun) -> dict[str, Any]:
    """The diff of a space's first run: nothing before it, nothing changed."""
    return {
        "before": None,
        "after": {"run_id": run.id, "generated_at": run.report.get("generated_at", "")},
        "message": "This is the first diagnostics run of this space: there is nothing to "
        "compare it with yet.",
        "verdict": {"before": None, "after": run.verdict},
        **{key: [] for key in ("coverage", "freshness", "scopes", "fixed", "new", "still_open")},
    }


PENDING = {
    "type": "object",
    "required": ["id", "state"],
    "properties": {
        "id": {"type": "string", "description": "The run id to poll."},
        "state": {"type": "string", "enum": ["queued", "running"]},
    },
}
# The answers of GET .../runs/{id}: the report in the asked format, or the run still going.
REPORT_FORMATS_RESPONSES = {
    "200": {
        "description": "The report (report.md) in the requested format.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Report"}},
            "text/markdown": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    },
    "202": {
        "description": "The run is not finished yet; poll again.",
        "content": {"application/json": {"schema": PENDING}},
    },
}


@bp.post("/runs")
@forge_required
@bp.arguments(RunIn, arg_name="body")
@bp.response(201, RunOut)
@bp.errors(400, 401, 404, 409, 413, 422)
@bp.doc(
    responses={
        "202": {
            "description": "The run is not finished yet; poll GET /forge/v1/runs/{id}.",
            "content": {"application/json": {"schema": PENDING}},
        }
    }
)
def create_run(body: dict[str, Any]) -> DiagnosticRun | Response:
    """Run diagnostics for one of the caller's spaces and store the report.

    The run is a background job; the request waits up to ``MULESIGHT_RUN_WAIT_S`` for it. A run
    finished by then answers 201 with the whole report; otherwise 202 with
    ``{"id", "state": "queued"|"running"}`` — poll ``GET /forge/v1/runs/{id}``.
    ``scope: site`` is the admin self-check: a run of every configured space (or ``space_key``),
    a job too — answered as ``SiteRunOut`` when done within the wait, else 202 the same way;
    ``GET /forge/v1/runs/{id}`` then answers the whole check.
    """
    if body["scope"] == "site":
        return site_check(body["space_key"])
    session = get_session()
    space = storage.get_space(session, g.tenant.installation_id, body["space_key"])
    queue = get_queue(real_app())
    run_id, job_id = runs.submit_run(
        queue,
        session,
        space,
        box=secret_box(),
        requested_by=g.tenant.actor,
        system_token=g.tenant.system_token,
        api_base_url=g.tenant.api_base_url,
    )
    session.commit()  # the job is durable before a worker is woken
    queue.wake(job_id)
    state = runs.wait_for_run(
        session,
        g.tenant.installation_id,
        run_id,
        timeout_s=float(current_app.config.get("MULESIGHT_RUN_WAIT_S") or 0),
    )
    if state.run is not None:
        return state.run
    return pending_or_error(state)


def pending_or_error(state: runs.RunState) -> Response:
    """202 ``{"id", "state"}`` for a run not finished; the run's error for a failed one."""
    if state.error is not None:
        raise ApiError(int(state.error["status"]), state.error["code"], state.error["message"])
    response = jsonify({"id": state.id, "state": state.state})
    response.status_code = 202
    response.headers["Location"] = f"{bp.url_prefix}/runs/{state.id}"
    return response


@bp.get("/runs")
@forge_required
@bp.arguments(RunListQuery, location="query", arg_name="query")
@bp.response(200, RunSummaryOut(many=True))
@bp.errors(400, 401, 404, 422)
def list_runs(query: dict[str, Any]) -> list[RunRow]:
    """The caller's latest runs, newest first (of one space if ``space_key`` is given; only the
    self-check's with ``scope=site``)."""
    return runs.list_runs(
        get_session(),
        g.tenant.installation_id,
        space_key=query["space_key"],
        limit=query["limit"],
        self_check=query["scope"] == "site",
    )


@bp.get("/runs/<run_id>")
@forge_required
@bp.arguments(ReportFormatQuery, location="query", arg_name="query")
@bp.errors(400, 401, 404, 422)
@bp.doc(responses=REPORT_FORMATS_RESPONSES)
def get_run(run_id: str, query: dict[str, Any]) -> Response:
    """One of the caller's runs: its report as JSON (default), Markdown, HTML or plain text.

    A run still going answers 202 ``{"id", "state": "queued"|"running"}``; a failed one its error.
    The id of a self-check answers the whole check (``SiteRunOut``) once done.
    """
    session = get_session()
    check = site_checks.site_check_state(session, g.tenant.installation_id, run_id)
    if check is not None:  # a self-check: all its runs at once
        return site_check_response(check, status=200)
    state = runs.run_state(session, g.tenant.installation_id, run_id)
    if state.run is None:
        return pending_or_error(state)
    return report_response(state.run, query["format"])


@bp.get("/runs/<run_id>/diff")
@forge_required
@bp.arguments(DiffQuery, location="query", arg_name="query")
@bp.response(200, DiffOut)
@bp.errors(400, 401, 404, 422)
def diff_run(run_id: str, query: dict[str, Any]) -> dict[str, Any]:
    """What changed since another of the caller's runs (default: the space's previous run)."""
    session = get_session()
    run = runs.get_run(session, g.tenant.installation_id, run_id)
    before = run_against(session, run, query["against"])
    return nothing_to_compare(run) if before is None else runs.diff_runs(before, run)


def site_check(space_key: str | None) -> Response:
    """The self-check: a job running every configured space of the caller's site (or
    ``space_key``), waited for like a single run."""
    session = get_session()
    queue = get_queue(real_app())
    check_id, job_id = site_checks.submit_site_check(
        queue,
        session,
        g.tenant.installation_id,
        space_keys=None if space_key is None else [space_key],
        requested_by=runs.self_check_actor(g.tenant.actor),
    )
    session.commit()  # the job is durable before a worker is woken
    queue.wake(job_id)
    state = site_checks.wait_for_site_check(
        session,
        g.tenant.installation_id,
        check_id,
        timeout_s=float(current_app.config.get("MULESIGHT_RUN_WAIT_S") or 0),
    )
    return site_check_response(state, status=201)


def site_check_response(state: site_checks.SiteCheckState, *, status: int) -> Response:
    """The finished check as ``SiteRunOut``; else 202 to poll, or the check's error."""
    if state.state != runs.DONE_STATE:
        return pending_or_error(runs.RunState(state.id, state.state, error=state.error))
    response = jsonify(SiteRunOut().dump({"runs": state.runs, "verdict": state.verdict}))
    response.status_code = status
    return response
