"""Routes called by the Forge app through Forge Remote (``/forge/v1``): the ``forge`` blueprint.

This module holds the connection routes; :mod:`app.blueprints.forge_data` (dataset caches, Rovo)
and :mod:`app.blueprints.forge_runs` (diagnostics runs) add theirs to the same blueprint.

Every route is ``@forge_required``: the tenant is ``g.tenant`` from the verified token; the space
comes from the query string or body and is looked up *within* that tenant (404 otherwise).
"""

from __future__ import annotations

from typing import Any

from flask import g

from app import storage
from app.api import ApiBlueprint
from app.auth import forge_required
from app.auth.forge import require_space_admin
from app.crypto import secret_box
from app.db import get_session
from app.models import Space
from app.schemas import Accepted, ConnectionIn, ConnectionOut, RenderBatchIn, SpaceQuery
from app.schemas_runs import SpaceBriefOut

bp = ApiBlueprint(
    "forge",
    __name__,
    url_prefix="/forge/v1",
    description="Called by the Forge app through Forge Remote (Forge Invocation Token).",
)


@bp.get("/connection")
@forge_required
@bp.arguments(SpaceQuery, location="query", arg_name="query")
@bp.response(200, ConnectionOut)
@bp.errors(400, 401, 404, 422)
def get_connection(query: dict[str, Any]) -> Space:
    """A space's connection (the client secret is write-only: only ``client_secret_set``)."""
    return storage.get_space(get_session(), g.tenant.installation_id, query["space_key"])


@bp.put("/connection")
@forge_required
@bp.arguments(ConnectionIn, arg_name="body")
@bp.response(200, ConnectionOut)
@bp.errors(400, 401, 403, 404, 413, 422, 503)
def put_connection(body: dict[str, Any]) -> Space:
    """Create or replace a space's connection; omit ``client_secret`` to keep the stored one.

    Live mode: only a space admin of the space (asked of Confluence with the user's token).
    """
    require_space_admin(body["space_key"])
    return storage.save_connection(get_session(), secret_box(), g.tenant.installation_id, **body)


@bp.get("/spaces")
@forge_required
@bp.response(200, SpaceBriefOut(many=True))
@bp.errors(400, 401, 404, 422)
def list_spaces() -> list[Space]:
    """The caller's connected spaces (the self-check's space picker), by key."""
    return storage.list_spaces(get_session(), g.tenant.installation_id)


@bp.post("/renders")
@forge_required
@bp.arguments(RenderBatchIn, arg_name="body")
@bp.response(202, Accepted)
@bp.errors(400, 401, 404, 413, 422)
def post_renders(body: dict[str, Any]) -> dict[str, int]:
    """Store a batch of macro render events (at most 500; 413 above)."""
    count = storage.record_renders(get_session(), g.tenant.installation_id, body["events"])
    return {"accepted": count}
