"""Schemathesis over /openapi.json: every operation, with valid Forge and support credentials and
signed webhooks, answers generated (and mutated) input without a server error, and every error is
the JSON error shape. Bounded (``MAX_EXAMPLES`` per operation, derandomized) so CI stays fast.
See docs/security.md ("Hostile input")."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from collections.abc import Callable, Iterable
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from app.cli import token
from tests.app.conftest import make_app
from tests.app.test_refresh import connect

MAX_EXAMPLES = 25
WEBHOOK_SECRET = "whsec-fuzz"
Environ = dict[str, Any]


def signing_middleware(app: Flask) -> Callable[[Environ, Callable[..., Any]], Iterable[bytes]]:
    """Sign every webhook body the way Service Management does, so fuzzing reaches the parser."""

    def wsgi(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/webhooks/"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
            environ["HTTP_X_HUB_SIGNATURE"] = f"sha256={digest}"
            environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    return wsgi


def problems_of(response: Any) -> list[str]:
    status = response.status_code
    problems = []
    if status >= 500:
        problems.append(f"server error {status}: {response.content[:300]!r}")
    if status >= 400:
        try:
            body = json.loads(response.content)
            error = body["error"]
            assert isinstance(error["code"], str) and isinstance(error["message"], str)
        except (ValueError, KeyError, TypeError, AssertionError):
            problems.append(f"{status} without the JSON error shape: {response.content[:200]!r}")
    return problems


def fuzz(operation: Any, auth: Callable[[], dict[str, str]]) -> list[str]:
    """Generated cases for one operation, called with ``auth()``; the problems seen."""
    label = f"{operation.method.upper()} {operation.path}"
    found: list[str] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )
    )
    def exercise(case: Any) -> None:
        response = case.call(headers=auth())
        found.extend(f"{label}: {p}" for p in problems_of(response))

    exercise()
    return found


def test_every_operation_survives_generated_input(
    app_config: dict[str, Any], forge_headers: Callable[..., dict[str, str]]
) -> None:
    app = make_app({**app_config, "MULESIGHT_WEBHOOK_SECRET": WEBHOOK_SECRET})
    try:
        client = app.test_client()
        connect(app, client, forge_headers)  # space OPS exists, so some cases get past the 404
        minted = app.test_cli_runner().invoke(
            token, ["create", "--name", "fuzz", "--role", "support"]
        )
        support = {"Authorization": f"Bearer {minted.stdout.strip()}"}
        schema = schemathesis.openapi.from_wsgi("/openapi.json", signing_middleware(app))
        failures: list[str] = []
        operations = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            security = json.dumps(operation.definition.raw.get("security", []))
            if "forgeInvocationToken" in security:
                auth: Callable[[], dict[str, str]] = forge_headers
            elif "supportToken" in security:
                auth = lambda: support  # noqa: E731
            else:
                auth = dict
            failures.extend(fuzz(operation, auth))
        assert operations >= 20, "the schema lists every JSON route"
        assert not failures, "\n".join(sorted(set(failures))[:30])
    finally:
        app.extensions["db"].dispose()
