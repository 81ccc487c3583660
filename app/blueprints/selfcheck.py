"""The admin's self-check page (``/selfcheck``): a space's latest report, run it again, attach it.

In simulated mode the self-check serves the local demo tenant (:mod:`app.services.demo`) and can
switch the demo space's scenario; otherwise it needs a support session, and a signed-in support
engineer goes to the console. Views are thin: :mod:`app.views.report` arranges the report.
"""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, request, url_for

from app import storage
from app.blueprints.page_hooks import Rv, current_principal, page_blueprint
from app.blueprints.report_pages import (
    TICKET_OK,
    attach_from_form,
    export_response,
    report_page,
    start_run,
)
from app.db import get_session
from app.models import Installation, Space
from app.services import demo, runs
from app.services.anypoint import is_simulated, scenario_name
from app.views.report import Links
from diagnostics.findings import Audience
from diagnostics.simulator import builtin_scenarios

bp = page_blueprint("selfcheck", __name__)


def _demo_installation() -> Installation:
    """The installation the self-check serves: the local demo tenant (simulated mode only)."""
    installation = demo.ensure_demo_tenant(get_session(), current_app.config)
    get_session().commit()  # a new demo site is durable before the page uses it
    if installation is None:
        if not is_simulated(current_app.config):
            abort(
                401,
                "In live mode the self-check opens from Confluence (MuleSight's global settings) "
                "or, for support, from the support console.",
            )
        abort(404, "There is no local demo site: this service has real installations.")
    return installation


def _space(space_key: str | None) -> tuple[Installation, Space]:
    installation = _demo_installation()
    db = get_session()
    if space_key is None:
        spaces = storage.list_spaces(db, installation.id)
        if not spaces:
            raise storage.NotFound("No space is connected on the demo site.")
        return installation, spaces[0]
    return installation, storage.get_space(db, installation.id, space_key)


def _links(space: Space) -> Links:
    return Links(
        view=lambda run_id: url_for("selfcheck.page", space_key=space.key, run=run_id),
        export=lambda run_id, ext: url_for("selfcheck.export", run_id=run_id, ext=ext),
        run=url_for("selfcheck.run", space_key=space.key),
        attach=lambda run_id: url_for("selfcheck.attach", run_id=run_id),
        scenario=url_for("selfcheck.scenario", space_key=space.key)
        if is_simulated(current_app.config)
        else None,
    )


def _actor() -> str:
    principal = current_principal()
    return principal.actor if principal else f"selfcheck:{demo.DEMO_INSTALLATION_ID}"


@bp.get("/selfcheck")
@bp.get("/selfcheck/<space_key>")
def page(space_key: str | None = None) -> Rv:
    """The self-check page of a space (the demo site's first space by default)."""
    if not is_simulated(current_app.config) and current_principal() is not None:
        return redirect(url_for("console.search"))
    installation, space = _space(space_key)
    simulated = is_simulated(current_app.config)
    return report_page(
        "selfcheck.html",
        installation,
        space,
        _links(space),
        request.args.get("run") or None,
        Audience.ADMIN,
        area="selfcheck",
        heading=f"Self-check: space {space.key}",
        spaces=[s.key for s in storage.list_spaces(get_session(), installation.id)],
        scenarios=builtin_scenarios() if simulated else [],
        current_scenario=scenario_name(space, current_app.config) if simulated else None,
    )


@bp.post("/selfcheck/<space_key>/run")
def run(space_key: str) -> Rv:
    """Run diagnostics for the space, then show the new report."""
    _installation, space = _space(space_key)
    started = start_run(space, _actor())
    anchor = "verdict" if started is not None else None
    return redirect(url_for("selfcheck.page", space_key=space.key, _anchor=anchor), code=303)


@bp.post("/selfcheck/<space_key>/scenario")
def scenario(space_key: str) -> Rv:
    """Point the demo space at another simulated scenario and run again."""
    _installation, space = _space(space_key)
    name = request.form.get("scenario", "")
    if name not in {n for n, _description in builtin_scenarios()}:
        abort(400, f"Unknown simulated scenario {name!r}.")
    demo.set_scenario(get_session(), space, name)
    if start_run(space, _actor()) is not None:
        flash(f"Simulated Anypoint scenario is now {name}; diagnostics ran again.", "success")
    return redirect(url_for("selfcheck.page", space_key=space.key), code=303)


@bp.post("/selfcheck/runs/<run_id>/attach")
def attach(run_id: str) -> Rv:
    """Attach a demo run to a ticket."""
    installation = _demo_installation()
    db = get_session()
    found = runs.get_run(db, installation.id, run_id)
    key = attach_from_form(db, found, _actor())
    if key:
        flash(f"Report attached to ticket {key}.", TICKET_OK)
    space_key = found.report.get("space_key")
    return redirect(
        url_for("selfcheck.page", space_key=space_key, run=found.id, _anchor="ticket"), code=303
    )


@bp.get("/selfcheck/runs/<run_id>/report.<ext>")
def export(run_id: str, ext: str) -> Response:
    """Download a demo run's report (json, md or html)."""
    installation = _demo_installation()
    return export_response(runs.get_run(get_session(), installation.id, run_id), ext)
