"""Structured JSON logs with request ids, every line through the redaction filter.

Each request gets an id: the caller's ``X-Request-Id`` when it looks sane, else a new one; it is
echoed in the response, attached to every log line of the request and to 5xx error bodies. One
access line per request records method, path (no query string), status and duration, plus what
the view added with :func:`note_on_access_line` (a webhook's delivery id, say) — one line per
request rather than a second line that says the same.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_app_context, request
from flask.logging import default_handler

from diagnostics.redaction import RedactingFilter, Redactor

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# The service's loggers: the app package (Flask's app.logger is "app") and the engine.
LOGGERS = ("app", "diagnostics")
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}

access_log = logging.getLogger("app.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra={...}`` fields are included (redacted)."""

    def __init__(self) -> None:
        super().__init__()
        self._redactor = Redactor()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        extra = {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}
        if extra:
            try:
                entry.update(self._redactor.redact(_jsonable(extra)))
            except Exception:
                entry["extra_dropped"] = True
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_app_context() else None
        return True


class _StderrHandler(logging.StreamHandler[Any]):
    """Writes to the *current* ``sys.stderr`` (which test runners and servers swap)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stderr


def _handler() -> logging.Handler:
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter())  # last: nothing unredacted reaches the formatter
    return handler


def configure_logging(level: str | int = "INFO") -> None:
    """Send the service's loggers to stderr as redacted JSON (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.removeHandler(default_handler)
        if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
            logger.addHandler(_handler())
        logger.setLevel(level)


def _sane_request_id(value: str | None) -> str | None:
    return value if value and _SANE_REQUEST_ID.fullmatch(value) else None


def _start_request() -> None:
    g.request_id = _sane_request_id(request.headers.get(REQUEST_ID_HEADER)) or uuid.uuid4().hex
    g.request_started = time.perf_counter()


def note_on_access_line(**fields: Any) -> None:
    """Add ``fields`` to this request's access line."""
    g.setdefault("access_fields", {}).update(fields)


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("request_started")
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    tenant = g.get("tenant")
    support = g.get("support")
    access_log.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "installation_id": tenant.installation_id if tenant else None,
            "actor": (support or tenant).actor if (support or tenant) else None,
            **g.get("access_fields", {}),
        },
    )
    return response


def init_app(app: Flask) -> None:
    configure_logging(app.config["LOG_LEVEL"])
    app.before_request(_start_request)
    app.after_request(_finish_request)
