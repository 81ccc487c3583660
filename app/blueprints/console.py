"""The support console (``/console``): sign in with a support token, search sites, read and run
a space's report, attach it to a ticket, see a local ticket's due times. Every read is audited.

Views are thin: :mod:`app.views.report` and :mod:`app.views.console` arrange what they show; the
site search is the support API's (:func:`app.storage.runs.search_sites`).
"""

from __future__ import annotations

import secrets

from flask import (
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup

from app import storage
from app.audit import audit
from app.auth import SupportPrincipal
from app.blueprints.page_hooks import (
    Rv,
    can,
    current_principal,
    page_blueprint,
    require_principal,
)
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
from app.storage import runs as run_store
from app.views.console import search_results, sla_view, ticket_due_times, ticket_reports
from app.views.report import Links

bp = page_blueprint("console", __name__)
SEARCH_LIMIT = 25


def _site(ref: str) -> Installation:
    """The installation a console URL names (the local demo one exists in simulated mode)."""
    demo.ensure_demo_tenant(get_session(), current_app.config)
    get_session().commit()  # a new demo site is durable before the page uses it
    return run_store.resolve_installation(get_session(), ref)


def _links(installation: Installation, space: Space, principal: SupportPrincipal) -> Links:
    site = run_store.path_key(installation.id)
    can_act = can(principal, "support")
    return Links(
        view=lambda run_id: url_for("console.space", site=site, space_key=space.key, run=run_id),
        export=lambda run_id, ext: url_for("console.export", site=site, run_id=run_id, ext=ext),
        run=url_for("console.run", site=site, space_key=space.key) if can_act else None,
        attach=(lambda run_id: url_for("console.attach", site=site, run_id=run_id))
        if can_act
        else None,
    )


@bp.get("/console")
def search() -> Rv:
    """Sign in, or search sites and spaces."""
    principal = current_principal()
    if principal is None:
        return render_template("console/signin.html", area="console")
    query = request.args.get("q", "").strip()[:200]
    db = get_session()
    demo.ensure_demo_tenant(db, current_app.config)
    db.commit()  # a new demo site is durable before the page uses it
    found = run_store.search_sites(db, query, limit=SEARCH_LIMIT)
    for site in found:
        audit(principal.actor, "site.read", site.installation.id, None, f"search:{query}"[:255])
    return render_template(
        "console/search.html", area="console", query=query, results=search_results(found)
    )


@bp.post("/console/sign-in")
def sign_in() -> Rv:
    """Check a support token; keep only its name and role in the session."""
    token = request.form.get("token", "").strip()
    row = storage.find_support_token(get_session(), token) if token else None
    if row is None:
        flash("That support token is not valid (or was revoked).", "error")
        return redirect(url_for("console.search"), code=303)
    storage.touch_support_token(get_session(), row)
    session.clear()
    session["support"] = {"name": row.name, "role": row.role}
    session["csrf"] = secrets.token_urlsafe(32)
    audit(f"support:{row.name}", "console.sign_in")
    flash(f"Signed in as {row.name} ({row.role}).", "success")
    return redirect(url_for("console.search"), code=303)


@bp.post("/console/sign-out")
def sign_out() -> Rv:
    """Forget the session."""
    session.clear()
    g.pop("support", None)
    flash("Signed out.", "success")
    return redirect(url_for("console.search"), code=303)


@bp.get("/console/sites/<site>/spaces/<space_key>")
def space(site: str, space_key: str) -> Rv:
    """A space's report for support (audited read)."""
    principal = require_principal("viewer")
    installation = _site(site)
    found = storage.get_space(get_session(), installation.id, space_key)
    run_id = request.args.get("run") or None
    audit(principal.actor, "run.read", installation.id, found.key, run_id)
    return report_page(
        "console/report.html",
        installation,
        found,
        _links(installation, found, principal),
        run_id,
        area="console",
        heading=f"Space {found.key} on {installation.site_url or installation.id}",
    )


@bp.post("/console/sites/<site>/spaces/<space_key>/run")
def run(site: str, space_key: str) -> Rv:
    """Run diagnostics for a customer's space (role ``support``)."""
    principal = require_principal("support")
    installation = _site(site)
    found = storage.get_space(get_session(), installation.id, space_key)
    started = start_run(found, principal.actor)
    if started is not None:
        audit(principal.actor, "run.create", installation.id, found.key, started.id)
    return redirect(
        url_for("console.space", site=site, space_key=found.key, _anchor="verdict"), code=303
    )


@bp.post("/console/sites/<site>/runs/<run_id>/attach")
def attach(site: str, run_id: str) -> Rv:
    """Attach a run's report to a ticket (role ``support``)."""
    principal = require_principal("support")
    installation = _site(site)
    db = get_session()
    found = runs.get_run(db, installation.id, run_id)
    key = attach_from_form(db, found, principal.actor)
    space_key = found.report.get("space_key")
    if key:
        flash(
            Markup('Report attached to ticket {0}. <a href="{1}">See its due times</a>.').format(
                key, url_for("console.ticket", key=key)
            ),
            TICKET_OK,
        )
    return redirect(
        url_for("console.space", site=site, space_key=space_key, run=found.id, _anchor="ticket"),
        code=303,
    )


@bp.get("/console/sites/<site>/runs/<run_id>/report.<ext>")
def export(site: str, run_id: str, ext: str) -> Response:
    """Download a run's report (audited)."""
    principal = require_principal("viewer")
    installation = _site(site)
    found = runs.get_run(get_session(), installation.id, run_id)
    audit(principal.actor, "run.export", installation.id, found.report.get("space_key"), found.id)
    return export_response(found, ext)


@bp.get("/console/ticket")
def ticket() -> Rv:
    """A local ticket's due times (initial response, next update, resolution), Melbourne time."""
    principal = require_principal("viewer")
    key = request.args.get("key", "").strip().upper()
    if not key:
        return redirect(url_for("console.search"))
    db = get_session()
    found, sla = ticket_due_times(db, key)
    audit(principal.actor, "ticket.read", found.installation_id, target=key)
    return render_template(
        "console/ticket.html",
        area="console",
        ticket=found,
        sla=sla_view(sla) if sla is not None else None,
        reports=ticket_reports(db, found),
    )
