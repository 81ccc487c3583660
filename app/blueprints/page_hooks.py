"""What the HTML pages (``selfcheck``, ``console``) share: the support session, CSRF, error pages,
template filters and the session cookie's SameSite. :func:`page_blueprint` makes a
:class:`app.api.PageBlueprint` with all of them registered.

The console signs in with a support token: the signed session cookie keeps only the token's name
and role. Every POST form carries a per-session CSRF token.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from flask import abort, g, render_template, request, session
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from app import storage
from app.api import PageBlueprint
from app.auth import SupportPrincipal
from app.db import get_session
from app.models import SUPPORT_ROLES
from app.views.report import local_time
from diagnostics.render import html as html_render

log = logging.getLogger(__name__)
Rv = str | BaseResponse


def page_blueprint(name: str, import_name: str) -> PageBlueprint:
    """A pages blueprint: the report's sections are the engine's templates (``report/*.html``)."""
    bp = PageBlueprint(name, import_name, template_folder=str(html_render.TEMPLATES))
    bp.record_once(_configure_app)
    bp.before_request(_check_csrf)
    bp.context_processor(_template_globals)
    bp.register_error_handler(HTTPException, _http_error)
    bp.register_error_handler(storage.NotFound, _not_found)
    bp.register_error_handler(Exception, _unexpected)
    return bp


def _configure_app(state: Any) -> None:
    """The session cookie goes on same-site navigation only (CSRF defence in depth); the filters
    the engine's report templates use (``prose``, ``path_breaks``) and ``local_time``."""
    app = state.app
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    html_render.configure(app.jinja_env)
    app.add_template_filter(local_time, "local_time")


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


def _http_error(exc: HTTPException) -> tuple[str, int]:
    return _error_page(exc.code or 500, exc.description or exc.name)


def _not_found(exc: storage.NotFound) -> tuple[str, int]:
    return _error_page(404, str(exc))


def _unexpected(exc: Exception) -> tuple[str, int]:
    log.exception("page error")
    return _error_page(
        500, "MuleSight could not show this page. Try again shortly.", g.get("request_id")
    )
