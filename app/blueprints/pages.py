"""Server-rendered pages: the admin self-check (``/selfcheck``) and the support console (``/console``).

Views are thin: they load rows through :mod:`app.storage` and :mod:`app.services`, and hand the
stored — already redacted — report to :func:`report_view`, which only arranges what the report
says (statuses come from the report; words and symbols from :mod:`diagnostics.render._common`).
Both pages render the same report partials (``templates/partials``).

Access: in simulated mode the self-check serves the local demo tenant (:mod:`app.services.demo`);
otherwise it needs a support session. The console signs in with a support token: the signed session
cookie keeps only the token's name and role. Every POST form carries a per-session CSRF token.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
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
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from app import storage
from app.api import exclude_from_openapi
from app.audit import audit
from app.auth import SupportPrincipal
from app.context import real_app
from app.crypto import secret_box
from app.db import get_db, get_session
from app.jobs import DISPATCH_OUTBOX, get_queue
from app.models import SUPPORT_ROLES, DiagnosticRun, Installation, Space, Ticket
from app.services import demo, outbox, runs, ticket_store
from app.services.anypoint import is_simulated, scenario_name
from app.services.connectors import TARGET_LOCAL, dispatch_pending, target_for
from app.services.enrichment import attach_run
from app.storage import runs as run_store
from diagnostics.catalogue import DATASETS
from diagnostics.engine import DEFAULT_DEADLINE_S
from diagnostics.findings import Audience, people_time
from diagnostics.policy import SlaResult, sla_for
from diagnostics.render import _common as c
from diagnostics.render import html as html_render
from diagnostics.render import ticket as ticket_render
from diagnostics.simulator import ScenarioError, builtin_scenarios
from diagnostics.ticket_details import SUPPORT_TIMEZONE
from diagnostics.tickets import DETAILS

log = logging.getLogger(__name__)
# The report's sections are the engine's templates (report/*.html), shared with the HTML report.
bp = Blueprint("pages", __name__, template_folder=str(html_render.TEMPLATES))

EXPORTS = (("json", "json", "JSON"), ("md", "markdown", "Markdown"), ("html", "html", "HTML"))
EXPORT_FORMATS = {ext: fmt for ext, fmt, _label in EXPORTS}
HISTORY_LIMIT = 10
SEARCH_LIMIT = 25
_ZONE = ZoneInfo(SUPPORT_TIMEZONE)
_DATASET_NAMES = {d.key: d.name for d in DATASETS}
TICKET_OK, TICKET_ERROR = "ticket", "ticket-error"  # flashed inside the ticket section
TICKET_KEY = re.compile(r"[A-Z][A-Z0-9_]*-[0-9]+")
Rv = str | BaseResponse


@bp.record_once
def _session_cookie(state: Any) -> None:
    """The pages' session cookie is sent on same-site navigation only (CSRF defence in depth)."""
    if not state.app.config.get("SESSION_COOKIE_SAMESITE"):
        state.app.config["SESSION_COOKIE_SAMESITE"] = "Lax"


# -- session: support principal and CSRF ----------------------------------------------------------


def can(principal: SupportPrincipal, role: str) -> bool:
    """Roles are ordered: ``viewer`` reads, ``support`` also acts."""
    return SUPPORT_ROLES.index(principal.role) >= SUPPORT_ROLES.index(role)


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(csrf_token())


@bp.before_request
def _check_csrf() -> None:
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf") or ""
        if not expected or not hmac.compare_digest(sent.encode(), str(expected).encode()):
            abort(400, "This form has expired. Reload the page and try again.")


def current_principal() -> SupportPrincipal | None:
    """The session's support principal while its token is still active (revocation signs out).

    Also set as ``g.support``, so the audit log and the access log name the actor.
    """
    if "support_checked" in g:
        checked: SupportPrincipal | None = g.get("support")
        return checked
    g.support_checked = True
    held = session.get("support")
    if not isinstance(held, Mapping):
        return None
    active = {
        t.name: t.role for t in storage.list_support_tokens(get_session()) if not t.revoked_at
    }
    name, role = str(held.get("name")), held.get("role")
    if role not in SUPPORT_ROLES or active.get(name) != role:
        session.pop("support", None)
        return None
    g.support = principal = SupportPrincipal(name=name, role=str(role))
    return principal


def require_principal(role: str = "viewer") -> SupportPrincipal:
    principal = current_principal()
    if principal is None:
        abort(401, "Sign in to the support console with a support token first.")
    if not can(principal, role):
        abort(403, f"This needs a support token with the {role!r} role.")
    return principal


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    try:
        principal = current_principal()
    except SQLAlchemyError:  # an error page about the database must still render
        principal = None
    return {"csrf_field": csrf_field, "principal": principal}


# -- errors as friendly pages -----------------------------------------------------------------------

_ERROR_TITLES = {
    400: "That request could not be used",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    413: "Too large",
}


def _error_page(status: int, message: str, request_id: str | None = None) -> tuple[str, int]:
    error = {
        "title": _ERROR_TITLES.get(status, "Something went wrong"),
        "message": message,
        "request_id": request_id,
    }
    return render_template("error.html", error=error, area=None), status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    return _error_page(exc.code or 500, exc.description or exc.name)


@bp.errorhandler(storage.NotFound)
def _not_found(exc: storage.NotFound) -> tuple[str, int]:
    return _error_page(404, str(exc))


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> tuple[str, int]:
    log.exception("page error")
    return _error_page(
        500, "MuleSight could not show this page. Try again shortly.", g.get("request_id")
    )


# -- template filters -------------------------------------------------------------------------------


@bp.app_template_filter("local_time")
def local_time(value: Any) -> str:
    """A time for people, in the site's zone to the minute: ``23 Nov 2026 10:00 AEDT``."""
    if not value:
        return ""
    when = value if isinstance(value, datetime) else _parse_time(str(value))
    if when is None:
        return str(value)
    return people_time(when, SUPPORT_TIMEZONE) or str(value)


def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


@bp.record_once
def _report_filters(state: Any) -> None:
    """The filters the engine's report templates use (``prose``, ``path_breaks``)."""
    html_render.configure(state.app.jinja_env)


# -- the report, arranged for the pages (never deciding a status) -------------------------------


def report_view(data: Mapping[str, Any], audience: str = Audience.SUPPORT) -> dict[str, Any]:
    """What the report templates read: the HTML report's ``view`` plus the pages' ticket preview.

    The report sections are the engine's templates (``report/*.html``), fed the engine's context;
    the pages add only what is theirs (the ticket preview, the audience's next step).
    """
    view = html_render.context(data, audience)
    view["next_step"] = None  # the ticket section says it, in the reader's words
    view["audience"] = str(audience)
    view["ticket"] = ticket_preview(data, audience)
    return view


def _verdict_badge(verdict: Any) -> dict[str, str]:
    """A verdict as the pages show it: ``✗ Broken``."""
    return html_render.badge(c.VERDICT_TONES, verdict, c.word(verdict, c.VERDICT_WORDS))


_FILLED = {"tone": "good", "symbol": c.SYMBOLS["good"], "word": "filled in"}
_MISSING = {"tone": "warn", "symbol": c.SYMBOLS["warn"], "word": "still missing"}


def _detail_value(data: Mapping[str, Any], key: str) -> str | None:
    """A required ticket detail in words (as the report renderings say it), or None if unknown."""
    details = data.get("ticket_details") or {}
    if key == "organization_context":
        org, envs = details.get("organization_id"), details.get("environments")
        parts = [f"organization {org}"] if org else []
        parts += [f"environments {c.value_text(envs)}"] if envs else []
        return "; ".join(parts) or None
    value = details.get(key)
    return None if value in (None, "", []) else c.detail_text(data, key, value)


def _ask(ask: str, audience: str) -> str:
    """What to add, in the reader's words: support asks the customer; the admin adds it."""
    if audience != Audience.ADMIN:
        return ask
    if ask.startswith("Ask for "):
        return "Add " + ask.removeprefix("Ask for ")
    return "Say " + ask.removeprefix("Ask ") if ask.startswith("Ask ") else ask


def ticket_preview(data: Mapping[str, Any], audience: str = Audience.SUPPORT) -> dict[str, Any]:
    """The policy's required ticket details: what this run filled in, what is still missing."""
    rows = []
    for detail in DETAILS:
        value = _detail_value(data, detail.key)
        rows.append(
            {
                "label": detail.label,
                "filled": value is not None,
                "value": value,
                "ask": _ask(detail.ask, audience),
                "badge": _FILLED if value is not None else _MISSING,
            }
        )
    return {
        "rows": rows,
        "filled_count": sum(r["filled"] for r in rows),
        "text": ticket_text(data, rows, audience),
    }


def ticket_text(
    data: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], audience: str = Audience.SUPPORT
) -> str:
    """What "Copy for Jira" copies: the Jira-ready summary, then the ticket details (redacted)."""
    lines = [ticket_render.render(data, audience=audience), "", "h4. Ticket details"]
    for row in rows:
        value = row["value"] if row["filled"] else f"(still to add) {row['ask']}"
        lines.append(f"* {row['label']}: {value}")
    return "\n".join(lines)


def diff_view(before: DiagnosticRun, after: DiagnosticRun) -> dict[str, Any]:
    """The previous-run comparison, in words."""
    diff = runs.diff_runs(before, after)

    def items(key: str) -> list[dict[str, Any]]:
        return [
            {**f, "status_word": c.FINDING_WORDS.get(str(f.get("status")), f.get("status"))}
            for f in diff.get(key, [])
        ]

    changes = [
        f"{_DATASET_NAMES.get(ch['key'], ch['key'])} coverage: "
        f"{c.word(ch['before'], c.COVERAGE_WORDS)} → {c.word(ch['after'], c.COVERAGE_WORDS)}"
        for ch in diff.get("coverage", [])
    ] + [
        f"Scope {ch['key']}: {c.word(ch['before'], c.SCOPE_WORDS)} → "
        f"{c.word(ch['after'], c.SCOPE_WORDS)}"
        for ch in diff.get("scopes", [])
    ]
    verdict = diff.get("verdict", {})
    return {
        "before_at": before.created_at,
        "verdict_before": _verdict_badge(verdict.get("before")),
        "verdict_after": _verdict_badge(verdict.get("after")),
        "fixed": items("fixed"),
        "new": items("new"),
        "still_open": items("still_open"),
        "changes": changes,
    }


def facts(installation: Installation, space: Space, run: DiagnosticRun | None) -> dict[str, Any]:
    data = run.report if run is not None else {}
    envs = ", ".join(f"{e.get('name')} ({e.get('type')})" for e in data.get("environments", []))
    return {
        "site": installation.site_url or installation.id,
        "organization": c.organization_text(data) if run is not None else c.NOT_KNOWN,
        "environments": envs or ("none listed" if run is not None else c.NOT_KNOWN),
        "last_probe": None,
    }


@dataclass(frozen=True)
class Links:
    """Where the report page's forms and links go (self-check and console differ)."""

    view: Callable[[str], str]
    export: Callable[[str, str], str]
    run: str | None
    attach: Callable[[str], str] | None
    scenario: str | None = None


def report_page(
    template: str,
    installation: Installation,
    space: Space,
    links: Links,
    run_id: str | None,
    audience: str = Audience.SUPPORT,
    **extra: Any,
) -> str:
    """Render a report page: the chosen (or latest) run of ``space``, its history and diff."""
    db = get_session()
    history = runs.list_runs(db, installation.id, space_key=space.key, limit=HISTORY_LIMIT)
    chosen = run_id or (history[0].id if history else None)
    run = runs.get_run(db, installation.id, chosen) if chosen else None
    if run is not None and run.space_id != space.id:
        raise storage.NotFound(f"No diagnostics run {chosen!r} for space {space.key!r}.")
    view = None
    if run is not None:
        view = report_view(runs.report_of(run).data, audience)
        before = runs.previous_run(db, run)
        view["diff"] = diff_view(before, run) if before is not None else None
    page_facts = facts(installation, space, run)
    page_facts["last_probe"] = history[0].created_at if history else None
    return render_template(
        template,
        view=view,
        facts=page_facts,
        space_key=space.key,
        site=installation.site_url or installation.id,
        history=[
            {
                "url": links.view(h.id),
                "at": h.created_at,
                "verdict": _verdict_badge(h.verdict),
                "requested_by": h.requested_by,
                "current": run is not None and h.id == run.id,
            }
            for h in history
        ],
        exports=[
            {"url": links.export(run.id, ext), "label": f"Download {label}"}
            for ext, _fmt, label in EXPORTS
        ]
        if run is not None
        else [],
        actions={
            "run": links.run,
            "attach": links.attach(run.id) if links.attach and run is not None else None,
            "scenario": links.scenario,
        },
        deadline_s=f"{DEFAULT_DEADLINE_S:g}",
        ticket_backend=ticket_backend_name(),
        ticket_local=target_for(current_app.config) == TARGET_LOCAL,
        **extra,
    )


def export_response(run: DiagnosticRun, ext: str) -> Response:
    """A download of the stored report in one format."""
    fmt = EXPORT_FORMATS.get(ext)
    if fmt is None:
        abort(404, f"No export format {ext!r}: use json, md or html.")
    body, content_type = runs.render_run(run, fmt)
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="mulesight-{run.id}.{ext}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def start_run(space: Space, actor: str) -> DiagnosticRun | None:
    """Run diagnostics; a problem becomes a flashed message (``None``)."""
    try:
        return runs.run_for_space(
            get_session(),
            space,
            config=current_app.config,
            box=secret_box(),
            requested_by=actor,
        )
    except ScenarioError as exc:
        flash(f"Diagnostics could not start: {exc}", "error")
    return None


# -- tickets (through the ticket service) -----------------------------------------------------------


def ticket_backend_name() -> str:
    local = target_for(current_app.config) == TARGET_LOCAL
    return "the local ticket store" if local else "Service Management"


def _new_local_ticket(db: Session, run: DiagnosticRun) -> Ticket:
    data = run.report
    where = " ".join(filter(None, [data.get("site_url"), data.get("space_key")]))
    return ticket_store.create_ticket(
        db,
        summary=f"MuleSight diagnostics: {data.get('verdict')} on {where}"[:255],
        description=ticket_preview(data)["text"],
        site_url=data.get("site_url"),
        severity=data.get("suggested_severity"),
        installation_id=run.installation_id,
    )


def attach_from_form(db: Session, run: DiagnosticRun, actor: str) -> str | None:
    """Attach ``run`` to the form's ticket, or to a new local one; the ticket key, or ``None``.

    The comment, reports and labels go through the outbox; the local store is written at once,
    Service Management by the job queue.
    """
    target = target_for(current_app.config)
    key = request.form.get("ticket_key", "").strip().upper()
    if request.form.get("target", "new") == "new":
        if target != TARGET_LOCAL:
            flash("Enter the Service Management ticket key to attach to.", TICKET_ERROR)
            return None
        key = _new_local_ticket(db, run).key
    elif not TICKET_KEY.fullmatch(key):
        flash("Enter a ticket key such as MSUP-12, or create a new local ticket.", TICKET_ERROR)
        return None
    try:
        opened_at = ticket_store.get_ticket(db, key).created_at if target == TARGET_LOCAL else None
    except storage.NotFound as exc:
        flash(str(exc), TICKET_ERROR)
        return None
    result = attach_run(db, run, key, target=target, opened_at=opened_at)
    db.commit()
    prefix = f"attach:{run.id}:{key}:"
    if target == TARGET_LOCAL:
        dispatch_pending(current_app.config, get_db().sessionmaker, prefix=prefix, worker="pages")
    else:
        get_queue(real_app()).enqueue(DISPATCH_OUTBOX, {"prefix": prefix})
    db.expire_all()
    delivered = all(
        (m := outbox.find_message(db, k)) is not None and m.status == outbox.DELIVERED
        for k in result.messages
    )
    audit(actor, "run.attach", run.installation_id, run.report.get("space_key"), f"{run.id} {key}")
    if not delivered:
        flash(f"Report queued for ticket {key}: it is delivered in the background.", TICKET_OK)
        return None
    return key


def ticket_due_times(db: Session, key: str) -> tuple[Ticket, SlaResult | None]:
    """A local ticket and its due times (its severity, else the one its labels suggest)."""
    ticket = ticket_store.get_ticket(db, key)
    severity, _ = ticket_store.ticket_severity(ticket)
    return ticket, sla_for(severity, ticket.created_at) if severity else None


# -- the self-check ----------------------------------------------------------------------------------


def _demo_installation() -> Installation:
    """The installation the self-check serves: the local demo tenant (simulated mode only)."""
    installation = demo.ensure_demo_tenant(get_session(), current_app.config)
    if installation is None:
        if not is_simulated(current_app.config):
            abort(
                401,
                "In live mode the self-check opens from Confluence (MuleSight's global settings) "
                "or, for support, from the support console.",
            )
        abort(404, "There is no local demo site: this service has real installations.")
    return installation


def _selfcheck_space(space_key: str | None) -> tuple[Installation, Space]:
    installation = _demo_installation()
    db = get_session()
    if space_key is None:
        spaces = storage.list_spaces(db, installation.id)
        if not spaces:
            raise storage.NotFound("No space is connected on the demo site.")
        return installation, spaces[0]
    return installation, storage.get_space(db, installation.id, space_key)


def _selfcheck_links(installation: Installation, space: Space) -> Links:
    return Links(
        view=lambda run_id: url_for("pages.selfcheck", space_key=space.key, run=run_id),
        export=lambda run_id, ext: url_for("pages.selfcheck_export", run_id=run_id, ext=ext),
        run=url_for("pages.selfcheck_run", space_key=space.key),
        attach=lambda run_id: url_for("pages.selfcheck_attach", run_id=run_id),
        scenario=url_for("pages.selfcheck_scenario", space_key=space.key)
        if is_simulated(current_app.config)
        else None,
    )


def _selfcheck_actor() -> str:
    principal = current_principal()
    return principal.actor if principal else f"selfcheck:{demo.DEMO_INSTALLATION_ID}"


@bp.get("/selfcheck")
@bp.get("/selfcheck/<space_key>")
@exclude_from_openapi
def selfcheck(space_key: str | None = None) -> Rv:
    """The self-check page of a space (the demo site's first space by default)."""
    if not is_simulated(current_app.config) and current_principal() is not None:
        return redirect(url_for("pages.console"))
    installation, space = _selfcheck_space(space_key)
    simulated = is_simulated(current_app.config)
    return report_page(
        "selfcheck.html",
        installation,
        space,
        _selfcheck_links(installation, space),
        request.args.get("run") or None,
        Audience.ADMIN,
        area="selfcheck",
        heading=f"Self-check: space {space.key}",
        spaces=[s.key for s in storage.list_spaces(get_session(), installation.id)],
        scenarios=builtin_scenarios() if simulated else [],
        current_scenario=scenario_name(space, current_app.config) if simulated else None,
    )


@bp.post("/selfcheck/<space_key>/run")
@exclude_from_openapi
def selfcheck_run(space_key: str) -> Rv:
    """Run diagnostics for the space, then show the new report."""
    _installation, space = _selfcheck_space(space_key)
    run = start_run(space, _selfcheck_actor())
    anchor = "verdict" if run is not None else None
    return redirect(url_for("pages.selfcheck", space_key=space.key, _anchor=anchor), code=303)


@bp.post("/selfcheck/<space_key>/scenario")
@exclude_from_openapi
def selfcheck_scenario(space_key: str) -> Rv:
    """Point the demo space at another simulated scenario and run again."""
    _installation, space = _selfcheck_space(space_key)
    name = request.form.get("scenario", "")
    if name not in {n for n, _description in builtin_scenarios()}:
        abort(400, f"Unknown simulated scenario {name!r}.")
    demo.set_scenario(get_session(), space, name)
    if start_run(space, _selfcheck_actor()) is not None:
        flash(f"Simulated Anypoint scenario is now {name}; diagnostics ran again.", "success")
    return redirect(url_for("pages.selfcheck", space_key=space.key), code=303)


@bp.post("/selfcheck/runs/<run_id>/attach")
@exclude_from_openapi
def selfcheck_attach(run_id: str) -> Rv:
    """Attach a demo run to a ticket."""
    installation = _demo_installation()
    db = get_session()
    run = runs.get_run(db, installation.id, run_id)
    key = attach_from_form(db, run, _selfcheck_actor())
    if key:
        flash(f"Report attached to ticket {key}.", TICKET_OK)
    space_key = run.report.get("space_key")
    return redirect(
        url_for("pages.selfcheck", space_key=space_key, run=run.id, _anchor="ticket"), code=303
    )


@bp.get("/selfcheck/runs/<run_id>/report.<ext>")
@exclude_from_openapi
def selfcheck_export(run_id: str, ext: str) -> Response:
    """Download a demo run's report (json, md or html)."""
    installation = _demo_installation()
    return export_response(runs.get_run(get_session(), installation.id, run_id), ext)


# -- the support console ---------------------------------------------------------------------------


def _site(ref: str) -> Installation:
    """The installation a console URL names (the local demo one exists in simulated mode)."""
    demo.ensure_demo_tenant(get_session(), current_app.config)
    return run_store.resolve_installation(get_session(), ref)


def _console_links(installation: Installation, space: Space, principal: SupportPrincipal) -> Links:
    site = run_store.path_key(installation.id)
    can_act = can(principal, "support")
    return Links(
        view=lambda run_id: url_for(
            "pages.console_space", site=site, space_key=space.key, run=run_id
        ),
        export=lambda run_id, ext: url_for(
            "pages.console_export", site=site, run_id=run_id, ext=ext
        ),
        run=url_for("pages.console_run", site=site, space_key=space.key) if can_act else None,
        attach=(lambda run_id: url_for("pages.console_attach", site=site, run_id=run_id))
        if can_act
        else None,
    )


def _reported_organizations(db: Session, installation_id: str) -> dict[str, str]:
    """Each space's Anypoint organization (id and name) as its latest report names it."""
    found: dict[str, str] = {}
    for row in runs.list_runs(db, installation_id, limit=run_store.MAX_LIMIT):
        if row.space_key and row.space_key not in found:
            report = runs.report_of(runs.get_run(db, installation_id, row.id)).data
            found[row.space_key] = " ".join(
                str(report.get(k) or "") for k in ("organization_id", "organization_name")
            )
    return found


def search_sites(db: Session, query: str) -> list[dict[str, Any]]:
    """Sites matching ``query`` (site URL, ids, or a space key), with their spaces."""
    installations = run_store.search_installations(db, query, limit=SEARCH_LIMIT)
    spaces = run_store.spaces_by_installation(db, [i.id for i in installations])
    if query and not installations:  # maybe a space key or organization id
        everything = run_store.search_installations(db, None, limit=run_store.MAX_LIMIT)
        all_spaces = run_store.spaces_by_installation(db, [i.id for i in everything])
        needle = query.casefold()
        reported = {i.id: _reported_organizations(db, i.id) for i in everything}
        spaces = {
            i: [
                s
                for s in found
                if needle in s.key.casefold()
                or needle in (s.organization_id or "").casefold()
                or needle in reported[i].get(s.key, "").casefold()
            ]
            for i, found in all_spaces.items()
        }
        installations = [i for i in everything if spaces[i.id]]
    results = []
    for installation in installations:
        site = run_store.path_key(installation.id)
        latest = {
            r.space_key: r
            for r in reversed(runs.list_runs(db, installation.id, limit=run_store.MAX_LIMIT))
        }
        results.append(
            {
                "installation_id": installation.id,
                "site_url": installation.site_url,
                "spaces": [
                    {
                        "key": s.key,
                        "organization_id": s.organization_id,
                        "url": url_for("pages.console_space", site=site, space_key=s.key),
                        "latest": f"{c.word(latest[s.key].verdict, c.VERDICT_WORDS)}, "
                        f"{local_time(latest[s.key].created_at)}"
                        if s.key in latest
                        else None,
                    }
                    for s in spaces[installation.id]
                ],
            }
        )
    return results


@bp.get("/console")
@exclude_from_openapi
def console() -> Rv:
    """Sign in, or search sites and spaces."""
    principal = current_principal()
    if principal is None:
        return render_template("console/signin.html", area="console")
    query = request.args.get("q", "").strip()[:200]
    db = get_session()
    demo.ensure_demo_tenant(db, current_app.config)
    results = search_sites(db, query)
    for site in results:
        audit(principal.actor, "site.read", site["installation_id"], None, f"search:{query}"[:255])
    return render_template("console/search.html", area="console", query=query, results=results)


@bp.post("/console/sign-in")
@exclude_from_openapi
def console_sign_in() -> Rv:
    """Check a support token; keep only its name and role in the session."""
    token = request.form.get("token", "").strip()
    row = storage.find_support_token(get_session(), token) if token else None
    if row is None:
        flash("That support token is not valid (or was revoked).", "error")
        return redirect(url_for("pages.console"), code=303)
    storage.touch_support_token(get_session(), row)
    session.clear()
    session["support"] = {"name": row.name, "role": row.role}
    session["csrf"] = secrets.token_urlsafe(32)
    audit(f"support:{row.name}", "console.sign_in")
    flash(f"Signed in as {row.name} ({row.role}).", "success")
    return redirect(url_for("pages.console"), code=303)


@bp.post("/console/sign-out")
@exclude_from_openapi
def console_sign_out() -> Rv:
    """Forget the session."""
    session.clear()
    g.pop("support", None)
    flash("Signed out.", "success")
    return redirect(url_for("pages.console"), code=303)


@bp.get("/console/sites/<site>/spaces/<space_key>")
@exclude_from_openapi
def console_space(site: str, space_key: str) -> Rv:
    """A space's report for support (audited read)."""
    principal = require_principal("viewer")
    installation = _site(site)
    space = storage.get_space(get_session(), installation.id, space_key)
    run_id = request.args.get("run") or None
    audit(principal.actor, "run.read", installation.id, space.key, run_id)
    return report_page(
        "console/report.html",
        installation,
        space,
        _console_links(installation, space, principal),
        run_id,
        area="console",
        heading=f"Space {space.key} on {installation.site_url or installation.id}",
    )


@bp.post("/console/sites/<site>/spaces/<space_key>/run")
@exclude_from_openapi
def console_run(site: str, space_key: str) -> Rv:
    """Run diagnostics for a customer's space (role ``support``)."""
    principal = require_principal("support")
    installation = _site(site)
    space = storage.get_space(get_session(), installation.id, space_key)
    run = start_run(space, principal.actor)
    if run is not None:
        audit(principal.actor, "run.create", installation.id, space.key, run.id)
    return redirect(
        url_for("pages.console_space", site=site, space_key=space.key, _anchor="verdict"),
        code=303,
    )


@bp.post("/console/sites/<site>/runs/<run_id>/attach")
@exclude_from_openapi
def console_attach(site: str, run_id: str) -> Rv:
    """Attach a run's report to a ticket (role ``support``)."""
    principal = require_principal("support")
    installation = _site(site)
    db = get_session()
    run = runs.get_run(db, installation.id, run_id)
    key = attach_from_form(db, run, principal.actor)
    space_key = run.report.get("space_key")
    if key:
        flash(
            Markup('Report attached to ticket {0}. <a href="{1}">See its due times</a>.').format(
                key, url_for("pages.console_ticket", key=key)
            ),
            TICKET_OK,
        )
    return redirect(
        url_for(
            "pages.console_space", site=site, space_key=space_key, run=run.id, _anchor="ticket"
        ),
        code=303,
    )


@bp.get("/console/sites/<site>/runs/<run_id>/report.<ext>")
@exclude_from_openapi
def console_export(site: str, run_id: str, ext: str) -> Response:
    """Download a run's report (audited)."""
    principal = require_principal("viewer")
    installation = _site(site)
    run = runs.get_run(get_session(), installation.id, run_id)
    audit(principal.actor, "run.export", installation.id, run.report.get("space_key"), run.id)
    return export_response(run, ext)


@bp.get("/console/ticket")
@exclude_from_openapi
def console_ticket() -> Rv:
    """A local ticket's due times (initial response, next update, resolution), Melbourne time."""
    principal = require_principal("viewer")
    key = request.args.get("key", "").strip().upper()
    if not key:
        return redirect(url_for("pages.console"))
    db = get_session()
    ticket, sla = ticket_due_times(db, key)
    audit(principal.actor, "ticket.read", ticket.installation_id, target=key)
    return render_template(
        "console/ticket.html",
        area="console",
        ticket=ticket,
        sla=sla_view(sla) if sla is not None else None,
        reports=ticket_reports(db, ticket),
    )


def ticket_reports(db: Session, ticket: Ticket) -> list[dict[str, Any]]:
    """The diagnostics reports attached to a local ticket, as links to their console pages."""
    if not ticket.installation_id:
        return []
    found: list[dict[str, Any]] = []
    for attachment in ticket_store.ticket_detail(db, ticket.key).attachments:
        if not attachment.name.endswith(".json"):
            continue
        content = ticket_store.attachment_content(db, ticket.key, attachment.id)
        try:
            report = json.loads(content.data)
            run = runs.get_run(db, ticket.installation_id, str(report["run_id"]))
        except (ValueError, KeyError, TypeError, storage.NotFound):
            continue
        space_key = report.get("space_key")
        if not space_key or any(r["run_id"] == run.id for r in found):
            continue
        url = url_for(
            "pages.console_space",
            site=run_store.path_key(ticket.installation_id),
            space_key=space_key,
            run=run.id,
            _anchor="verdict",
        )
        verdict = _verdict_badge(run.verdict)
        found.append(
            {
                "run_id": run.id,
                "url": url,
                "space_key": space_key,
                "verdict": verdict,
                "at": run.created_at,
            }
        )
    return found


_SLA_ROWS = (
    ("opened_at", "Opened"),
    ("clock_started_at", "Clock started"),
    ("initial_response_due", "Initial response due"),
    ("next_update_due", "Next update due"),
    ("resolution_due", "Resolution due"),
)


def sla_view(sla: SlaResult) -> dict[str, Any]:
    """Due times as Melbourne time with offset, and UTC."""
    due = sla.due_times()
    return {
        "severity": sla.severity,
        "rows": [
            {
                "label": label,
                "local": local_time(due[key]),
                "utc": due[key].astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC"),
            }
            for key, label in _SLA_ROWS
        ],
        "cadence": sla.update_cadence,
        "holidays": ", ".join(f"{h.name} ({h.date.isoformat()})" for h in sla.holiday_in_window),
        "breached": sla.resolution_breached,
        "requires": "; ".join(sla.requires),
        "notes": list(sla.notes),
    }
