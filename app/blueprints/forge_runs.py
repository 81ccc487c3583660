"""Forge routes for diagnostics runs of the caller's own spaces (``/forge/v1/runs``).

The tenant is ``g.tenant`` from the verified token; a run or space of another tenant answers 404
exactly as an unknown one does.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, g
from sqlalchemy.orm import Session

from app import storage
from app.auth import forge_required
from app.crypto import secret_box
from app.db import get_session
from app.errors import ApiError
from app.models import DiagnosticRun
from app.openapi import api_endpoint
from app.schemas_runs import (
    DiffOut,
    DiffQuery,
    ReportFormatQuery,
    RunIn,
    RunListQuery,
    RunOut,
    RunSummaryOut,
)
from app.services import runs
from app.storage.runs import RunRow
from diagnostics.simulator import ScenarioError

bp = Blueprint("forge_runs", __name__, url_prefix="/forge/v1")
TAGS = ["forge", "runs"]


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


def run_against(session: Session, run: DiagnosticRun, against: str | None) -> DiagnosticRun:
    """The run to compare ``run`` with: ``against`` (same tenant) or the space's previous run."""
    if against is not None:
        return runs.get_run(session, run.installation_id, against)
    previous = runs.previous_run(session, run)
    if previous is None:
        raise ApiError(
            404, "no_previous_run", "No earlier run of this space to compare with; pass 'against'."
        )
    return previous


REPORT_FORMATS_DOC = """---
get:
  responses:
    '200':
      description: The report (report.md) in the requested format.
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Report'}
        text/markdown:
          schema: {type: string}
        text/html:
          schema: {type: string}
        text/plain:
          schema: {type: string}
"""


def documents_report_formats(view: Callable[..., Any]) -> Callable[..., Any]:
    """Add the report's four content types to the view's OpenAPI (under ``api_endpoint``)."""
    view.__doc__ = f"{inspect.cleandoc(view.__doc__ or '')}\n{REPORT_FORMATS_DOC}"
    return view


@bp.post("/runs")
@forge_required
@api_endpoint(body=RunIn, response=RunOut, status=201, tags=TAGS, errors=(400, 401, 404, 409, 422))
def create_run(body: dict[str, Any]) -> DiagnosticRun:
    """Run diagnostics for one of the caller's spaces and store the report.

    The run finishes within 20 s whatever Anypoint does; the response holds the whole report.
    """
    session = get_session()
    space = storage.get_space(session, g.tenant.installation_id, body["space_key"])
    try:
        return runs.run_for_space(
            session,
            space,
            config=current_app.config,
            box=secret_box(),
            requested_by=g.tenant.actor,
            system_token=g.tenant.system_token,
            api_base_url=g.tenant.api_base_url,
        )
    except ScenarioError as exc:
        raise scenario_unavailable(exc) from None


@bp.get("/runs")
@forge_required
@api_endpoint(query=RunListQuery, response=RunSummaryOut, many=True, tags=TAGS)
def list_runs(query: dict[str, Any]) -> list[RunRow]:
    """The caller's latest runs, newest first (of one space if ``space_key`` is given)."""
    return runs.list_runs(
        get_session(), g.tenant.installation_id, space_key=query["space_key"], limit=query["limit"]
    )


@bp.get("/runs/<run_id>")
@forge_required
@api_endpoint(query=ReportFormatQuery, response=None, tags=TAGS)
@documents_report_formats
def get_run(run_id: str, query: dict[str, Any]) -> Response:
    """One of the caller's runs: its report as JSON (default), Markdown, HTML or plain text."""
    run = runs.get_run(get_session(), g.tenant.installation_id, run_id)
    return report_response(run, query["format"])


@bp.get("/runs/<run_id>/diff")
@forge_required
@api_endpoint(query=DiffQuery, response=DiffOut, tags=TAGS)
def diff_run(run_id: str, query: dict[str, Any]) -> dict[str, Any]:
    """What changed since another of the caller's runs (default: the space's previous run)."""
    session = get_session()
    run = runs.get_run(session, g.tenant.installation_id, run_id)
    return runs.diff_runs(run_against(session, run, query["against"]), run)
