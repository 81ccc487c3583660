"""Support API tokens on support routes: ``@support_required(role)`` sets ``g.support``.

Roles are ordered: ``viewer`` reads, ``support`` also acts (runs diagnostics, attaches reports).
A token is checked against its stored hash; revoked and unknown tokens get the same 401.
Every read of a tenant's data by support must be recorded with :func:`app.audit.audit`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import g, request

from app import storage
from app.api import SUPPORT_SECURITY
from app.db import get_session
from app.errors import ApiError
from app.models import SUPPORT_ROLES
from app.unit_of_work import commit_step

_REALM = {"WWW-Authenticate": 'Bearer realm="support"'}


@dataclass(frozen=True)
class SupportPrincipal:
    """The support engineer behind a request (``g.support``)."""

    name: str
    role: str

    @property
    def actor(self) -> str:
        return f"support:{self.name}"


def authenticate_support_request(role: str) -> SupportPrincipal:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "A support token is required.", headers=_REALM)
    session = get_session()
    row = storage.find_support_token(session, token.strip())
    if row is None:
        raise ApiError(401, "invalid_token", "Invalid or revoked support token.", headers=_REALM)
    if SUPPORT_ROLES.index(row.role) < SUPPORT_ROLES.index(role):
        raise ApiError(403, "forbidden", f"This action needs the {role!r} role.")
    storage.touch_support_token(session, row)
    commit_step(session)  # the token's use stays recorded, whatever the request does next
    return SupportPrincipal(name=row.name, role=row.role)


def support_required(role: str = "viewer") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Only support tokens with at least ``role`` (``viewer`` < ``support``) get in."""
    if role not in SUPPORT_ROLES:
        raise ValueError(f"role must be one of {SUPPORT_ROLES}")

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.support = authenticate_support_request(role)
            return view(*args, **kwargs)

        wrapper.__api_security__ = SUPPORT_SECURITY  # type: ignore[attr-defined]  # read back by ApiBlueprint.route
        return wrapper

    return decorator
