"""Liveness and readiness probes (fixed by service.md)."""

from __future__ import annotations

import logging

from flask import Blueprint
from sqlalchemy.exc import SQLAlchemyError

from app.db import get_db
from app.errors import ApiError
from app.openapi import api_endpoint
from app.schemas import Status

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
@api_endpoint(response=Status, errors=(), tags=["service"])
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
@api_endpoint(response=Status, errors=(503,), tags=["service"])
def readyz() -> dict[str, str]:
    """The database answers (503 otherwise)."""
    try:
        get_db().ping()
    except SQLAlchemyError as exc:
        log.warning("readiness: database unavailable (%s)", type(exc).__name__)
        raise ApiError(503, "not_ready", "The database does not answer.") from None
    return {"status": "ok"}
