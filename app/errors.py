"""One JSON error shape for every failure: ``{"error": {"code": str, "message": str}}``.

Validation errors add ``"fields": {field: [messages]}``; unexpected errors add ``"request_id"``
(never a stack trace). Views raise :class:`ApiError` (or a werkzeug ``HTTPException``), a
marshmallow ``ValidationError``, or :class:`app.storage.NotFound`; everything else becomes a 500
logged with its traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, jsonify
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from app.net import BlockedDestination
from app.storage import NotFound
from diagnostics.errors import DestinationRefusedError

log = logging.getLogger(__name__)


class ApiError(HTTPException):
    """An HTTP error with a machine-readable ``error_code`` (and optional ``fields``)."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        *,
        fields: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description=message)
        self.code = status
        self.error_code = error_code
        self.fields = fields
        self.extra_headers = dict(headers or {})


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    fields: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        error["fields"] = fields
    if request_id is not None:
        error["request_id"] = request_id
    response = jsonify({"error": error})
    response.status_code = status
    return response


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = getattr(exc, "error_code", None) or _snake(exc.name)
    response = error_response(
        status, code, exc.description or exc.name, fields=getattr(exc, "fields", None)
    )
    # Keep the headers werkzeug adds (Allow on 405, WWW-Authenticate, Retry-After), not its HTML.
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    response.headers.update(getattr(exc, "extra_headers", {}))
    return response


def handle_validation_error(exc: ValidationError) -> Response:
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    names = ", ".join(sorted(str(k) for k in messages))
    return error_response(422, "validation_error", f"Invalid fields: {names}", fields=messages)


def handle_not_found(exc: NotFound) -> Response:
    return error_response(404, "not_found", str(exc))


def handle_blocked_destination(exc: BlockedDestination) -> Response:
    log.warning("outbound call refused: %s", exc.reason, extra={"host": exc.host})
    return error_response(422, "destination_refused", str(exc))


def handle_refused_anypoint_host(exc: DestinationRefusedError) -> Response:
    """The Anypoint client's form of the same refusal (the client maps it at its boundary)."""
    return handle_blocked_destination(BlockedDestination(exc.host, exc.reason))


def handle_database_error(exc: SQLAlchemyError) -> Response:
    request_id = g.get("request_id")
    if isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        log.warning("database unavailable", exc_info=exc)
        return error_response(
            503,
            "database_unavailable",
            "The database is not available; try again shortly.",
            request_id=request_id,
        )
    log.exception("database error")
    return error_response(
        500, "database_error", "A database error occurred.", request_id=request_id
    )


def handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error")
    request_id = g.get("request_id")
    return error_response(
        500,
        "internal_error",
        f"Internal error; quote request id {request_id} to support.",
        request_id=request_id,
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ValidationError, handle_validation_error)
    app.register_error_handler(NotFound, handle_not_found)
    app.register_error_handler(BlockedDestination, handle_blocked_destination)
    app.register_error_handler(DestinationRefusedError, handle_refused_anypoint_host)
    app.register_error_handler(SQLAlchemyError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
