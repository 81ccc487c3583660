"""Routes called by the Forge app through Forge Remote (``/forge/v1``).

Every route is ``@forge_required``: the tenant is ``g.tenant`` from the verified token; the space
comes from the query string or body and is looked up *within* that tenant (404 otherwise).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g

from app import storage
from app.auth import forge_required
from app.auth.forge import require_space_admin
from app.crypto import secret_box
from app.db import get_session
from app.models import Space
from app.openapi import api_endpoint
from app.schemas import Accepted, ConnectionIn, ConnectionOut, RenderBatchIn, SpaceQuery
from app.schemas_runs import SpaceBriefOut

bp = Blueprint("forge", __name__, url_prefix="/forge/v1")
TAGS = ["forge"]


@bp.get("/connection")
@forge_required
@api_endpoint(query=SpaceQuery, response=ConnectionOut, tags=TAGS)
def get_connection(query: dict[str, Any]) -> Space:
    """A space's connection (the client secret is write-only: only ``client_secret_set``)."""
    return storage.get_space(get_session(), g.tenant.installation_id, query["space_key"])


@bp.put("/connection")
@forge_required
@api_endpoint(
    body=ConnectionIn, response=ConnectionOut, tags=TAGS, errors=(400, 401, 403, 404, 422, 503)
)
def put_connection(body: dict[str, Any]) -> Space:
    """Create or replace a space's connection; omit ``client_secret`` to keep the stored one.

    Live mode: only a space admin of the space (asked of Confluence with the user's token).
    """
    require_space_admin(body["space_key"])
    return storage.save_connection(get_session(), secret_box(), g.tenant.installation_id, **body)


@bp.get("/spaces")
@forge_required
@api_endpoint(response=SpaceBriefOut, many=True, tags=TAGS)
def list_spaces() -> list[Space]:
    """The caller's connected spaces (the self-check's space picker), by key."""
    return storage.list_spaces(get_session(), g.tenant.installation_id)


@bp.post("/renders")
@forge_required
@api_endpoint(body=RenderBatchIn, response=Accepted, status=202, tags=TAGS)
def post_renders(body: dict[str, Any]) -> dict[str, int]:
    """Store a batch of macro render events (at most 500; 413 above)."""
    count = storage.record_renders(get_session(), g.tenant.installation_id, body["events"])
    return {"accepted": count}
