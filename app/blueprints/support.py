"""Support-facing routes (support API tokens): sites, spaces, runs of any tenant, audited.

Every read of a tenant's data writes an audit entry (:func:`app.audit.audit`) naming the tenant,
after the data is found and before it is sent. Sites are named in paths by their installation
id's last segment (``key`` in ``GET /support/v1/sites``), since installation ARIs contain ``/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Response, current_app, g

from app import storage
from app.api import ApiBlueprint
from app.audit import audit, audit_entries
from app.auth import support_required
from app.blueprints.forge_runs import (
    REPORT_FORMATS_RESPONSES,
    nothing_to_compare,
    report_response,
    run_against,
    scenario_unavailable,
)
from app.crypto import secret_box
from app.db import get_session
from app.models import AuditLog, DiagnosticRun, Space
from app.schemas_runs import (
    AuditOut,
    AuditQuery,
    DiffOut,
    DiffQuery,
    ReportFormatQuery,
    RunOut,
    RunSummaryOut,
    SiteOut,
    SiteSearchQuery,
    SupportRunListQuery,
    SupportSpaceOut,
)
from app.services import runs
from app.storage import runs as run_store
from app.storage.runs import RunRow
from diagnostics.simulator import ScenarioError

bp = ApiBlueprint(
    "support",
    __name__,
    url_prefix="/support/v1",
    description="Support engineers' API (support tokens): sites, runs, audit, tickets.",
)
ERRORS = (400, 401, 403, 404, 422)


def _audit(
    action: str, installation: str | None, space_key: str | None, target: str | None
) -> None:
    audit(g.support.actor, action, installation, space_key, target)


def _run_space(run: DiagnosticRun) -> str | None:
    return run.report.get("space_key")


@bp.get("/sites")
@support_required("viewer")
@bp.arguments(SiteSearchQuery, location="query", arg_name="query")
@bp.response(200, SiteOut(many=True))
@bp.errors(*ERRORS)
def search_sites(query: dict[str, Any]) -> list[dict[str, Any]]:
    """Sites whose URL, cloud id or installation id contains ``q``, with their spaces.

    A site also matches through a space whose key or Anypoint organization (id, or the id or name
    its latest report names) contains ``q``; it then lists those spaces only.
    """
    found = run_store.search_sites(get_session(), query["q"])
    for site in found:
        _audit("site.read", site.installation.id, None, f"search:{query['q'] or ''}"[:255])
    return [{"installation": site.installation, "spaces": site.spaces} for site in found]


@bp.get("/sites/<installation_id>/spaces")
@support_required("viewer")
@bp.response(200, SupportSpaceOut(many=True))
@bp.errors(*ERRORS)
def list_site_spaces(installation_id: str) -> list[Space]:
    """A site's spaces and their connections (never a client secret)."""
    session = get_session()
    installation = run_store.resolve_installation(session, installation_id)
    spaces = storage.list_spaces(session, installation.id)
    _audit("spaces.read", installation.id, None, "spaces")
    return spaces


@bp.post("/sites/<installation_id>/spaces/<space_key>/runs")
@support_required("support")
@bp.response(201, RunOut)
@bp.errors(*ERRORS, 409)
def create_site_run(installation_id: str, space_key: str) -> DiagnosticRun:
    """Run diagnostics for a space of a site (role ``support``) and store the report."""
    session = get_session()
    installation = run_store.resolve_installation(session, installation_id)
    space = storage.get_space(session, installation.id, space_key)
    try:
        run = runs.run_for_space(
            session,
            space,
            config=current_app.config,
            box=secret_box(),
            requested_by=g.support.actor,
        )
    except ScenarioError as exc:
        raise scenario_unavailable(exc) from None
    _audit("run.create", installation.id, space.key, run.id)
    return run


@bp.get("/runs")
@support_required("viewer")
@bp.arguments(SupportRunListQuery, location="query", arg_name="query")
@bp.response(200, RunSummaryOut(many=True))
@bp.errors(400, 401, 404, 422)
def list_all_runs(query: dict[str, Any]) -> list[RunRow]:
    """The latest runs of every site, or of ``site`` (and ``space_key``), newest first."""
    session = get_session()
    installation_ids = None
    if query["site"] is not None:
        installation_ids = [i.id for i in run_store.installations_matching(session, query["site"])]
        if not installation_ids:
            raise storage.NotFound(f"No site matching {query['site']!r}.")
    rows = run_store.list_runs_any_site(
        session,
        installation_ids=installation_ids,
        space_key=query["space_key"],
        limit=query["limit"],
    )
    for installation in _distinct(row.installation_id for row in rows):
        _audit("runs.list", installation, query["space_key"], "runs")
    return rows


def _distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


@bp.get("/runs/<run_id>")
@support_required("viewer")
@bp.arguments(ReportFormatQuery, location="query", arg_name="query")
@bp.doc(responses=REPORT_FORMATS_RESPONSES)
@bp.errors(*ERRORS)
def get_any_run(run_id: str, query: dict[str, Any]) -> Response:
    """Any site's run: its report as JSON (default), Markdown, HTML or plain text."""
    run = run_store.get_run_any_site(get_session(), run_id)
    _audit("run.read", run.installation_id, _run_space(run), run.id)
    return report_response(run, query["format"])


@bp.get("/runs/<run_id>/diff")
@support_required("viewer")
@bp.arguments(DiffQuery, location="query", arg_name="query")
@bp.response(200, DiffOut)
@bp.errors(*ERRORS)
def diff_any_run(run_id: str, query: dict[str, Any]) -> dict[str, Any]:
    """What changed since another run of the same site (default: the space's previous run)."""
    session = get_session()
    run = run_store.get_run_any_site(session, run_id)
    before = run_against(session, run, query["against"])
    since = before.id if before is not None else ""
    _audit("run.diff", run.installation_id, _run_space(run), f"{since}..{run.id}")
    return nothing_to_compare(run) if before is None else runs.diff_runs(before, run)


@bp.get("/audit")
@support_required("support")
@bp.arguments(AuditQuery, location="query", arg_name="query")
@bp.response(200, AuditOut(many=True))
@bp.errors(*ERRORS)
def list_audit(query: dict[str, Any]) -> list[AuditLog]:
    """The latest audit entries, newest first (of one installation if given; role ``support``)."""
    return audit_entries(get_session(), query["installation"], query["limit"])
