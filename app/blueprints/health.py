"""The service's fixed endpoints (service.md): liveness, readiness, the OpenAPI document."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from app import api
from app.api import ApiBlueprint
from app.db import get_db
from app.errors import ApiError
from app.schemas import Status

log = logging.getLogger(__name__)
bp = ApiBlueprint(
    "health", __name__, description="Liveness and readiness probes; this OpenAPI document."
)
DOCUMENT_EXTENSION = "openapi_document"


@bp.get("/healthz")
@bp.response(200, Status)
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
@bp.response(200, Status)
@bp.errors(503)
def readyz() -> dict[str, str]:
    """The database answers (503 otherwise)."""
    try:
        get_db().ping()
    except SQLAlchemyError as exc:
        log.warning("readiness: database unavailable (%s)", type(exc).__name__)
        raise ApiError(503, "not_ready", "The database does not answer.") from None
    return {"status": "ok"}


@bp.get("/openapi.json")
@bp.doc(
    responses={
        "200": {
            "description": "The OpenAPI 3 document of this service.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
)
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3 document of this service."""
    document: dict[str, Any] | None = current_app.extensions.get(DOCUMENT_EXTENSION)
    if document is None:
        document = current_app.extensions[DOCUMENT_EXTENSION] = api.document(current_app)
    return document
