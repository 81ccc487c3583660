"""Request parsing with limits: every JSON body through :mod:`app.security.jsonlimits`, and the
URL path, query string and form fields checked for text the database cannot store (NUL, lone
surrogates). Both answer a JSON 400 (``bad_request`` / ``invalid_text``) before any view runs.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from flask.wrappers import Request

from app.errors import ApiError
from app.security.jsonlimits import HostileInput, loads, text_problem


class LimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, parsing with limits (``request.get_json()`` goes through ``loads``)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)


class LimitedRequest(Request):
    """A bad JSON body is a 400 that says what is wrong (Flask's own is a generic HTML 400)."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:
            raise ApiError(
                415,
                "unsupported_media_type",
                "The body must be JSON (Content-Type: application/json).",
            )
        message = str(e) if isinstance(e, HostileInput) else "The body is not valid JSON."
        raise ApiError(400, "bad_request", message)


def check_request_text() -> None:
    """Refuse NUL / unpaired surrogates in the path, query string and form fields."""
    values = [request.path]
    for key, value in request.args.items(multi=True):
        values.extend((key, value))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in request.form.items(multi=True):
            values.extend((key, value))
    for value in values:
        problem = text_problem(value)
        if problem:
            raise ApiError(400, "invalid_text", problem)


def init_app(app: Flask) -> None:
    app.json = LimitedJSONProvider(app)
    app.request_class = LimitedRequest
    app.before_request(check_request_text)
