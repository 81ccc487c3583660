"""Hostile input is a 4xx JSON error, never a 500 — on SQLite and on PostgreSQL, signed webhooks
included. See docs/security.md ("Hostile input")."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner

from app.cli import token
from app.security.jsonlimits import MAX_DEPTH, MAX_STRING_CHARS, HostileInput, loads

Headers = Callable[..., dict[str, str]]
WEBHOOK_SECRET = "whsec-security-tests"
SURROGATE = '"\\ud800"'  # a JSON string holding one unpaired surrogate
NUL = '"a\\u0000b"'


@pytest.fixture
def app_config(app_config: dict[str, Any], database_url: str) -> dict[str, Any]:
    return {
        **app_config,
        "MULESIGHT_DATABASE_URL": database_url,
        "MULESIGHT_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


@pytest.fixture
def support(runner: FlaskCliRunner) -> dict[str, str]:
    result = runner.invoke(token, ["create", "--name", "sam", "--role", "support"])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.stdout.strip()}"}


def raw(
    client: FlaskClient, method: str, url: str, body: str, headers: dict[str, str] | None = None
) -> Any:
    return client.open(
        url,
        method=method,
        data=body.encode("utf-8"),
        content_type="application/json",
        headers=headers or {},
    )


def assert_client_error(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    return error


def connection(**fields: str) -> str:
    """A PUT /forge/v1/connection body with raw JSON values substituted."""
    values = {
        "space_key": '"OPS"',
        "client_id": '"client"',
        "client_secret": '"secret"',
        "control_plane": '"us"',
        "organization_id": '"org"',
        "sync_interval_hours": "24",
        **fields,
    }
    return "{" + ", ".join(f'"{k}": {v}' for k, v in values.items()) + "}"


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# -- the parser --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (deep(50_000), "nests deeper"),
        (deep(MAX_DEPTH + 1), "nests deeper"),
        ("1" + "0" * 30, "out of range"),
        (str(2**53), "out of range"),
        ("1e999", "out of range"),
        ("NaN", "not a JSON number"),
        ("[Infinity]", "not a JSON number"),
        (SURROGATE, "unpaired surrogate"),
        ('{"\\udfff": 1}', "unpaired surrogate"),
        (NUL, "NUL"),
        ('"' + "x" * (MAX_STRING_CHARS + 1) + '"', "longer than"),
        ("{not json", "not valid JSON"),
    ],
)
def test_the_parser_refuses(text: str, why: str) -> None:
    with pytest.raises(HostileInput, match=why):
        loads(text)


def test_the_parser_accepts_ordinary_json() -> None:
    text = json.dumps({"a": [1, -(2**53 - 1), 1.5, "é ✓ 😀", None, True]})
    assert loads(text.encode("utf-8")) == json.loads(text)
    assert loads(deep(MAX_DEPTH)) == json.loads(deep(MAX_DEPTH))


# -- Forge routes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["client_id", "client_secret", "organization_id", "space_key", "control_plane"]
)
@pytest.mark.parametrize("value", [SURROGATE, NUL])
def test_bad_text_in_a_connection_is_400(
    client: FlaskClient, forge_headers: Headers, field: str, value: str
) -> None:
    response = raw(
        client, "PUT", "/forge/v1/connection", connection(**{field: value}), forge_headers()
    )
    assert_client_error(response)


def test_huge_numbers_and_deep_bodies_are_4xx(client: FlaskClient, forge_headers: Headers) -> None:
    url = "/forge/v1/connection"
    huge = raw(client, "PUT", url, connection(sync_interval_hours=str(10**30)), forge_headers())
    assert "out of range" in assert_client_error(huge)["message"]
    too_long = raw(client, "PUT", url, connection(sync_interval_hours=str(10**6)), forge_headers())
    assert "sync_interval_hours" in assert_client_error(too_long, 422)["fields"]
    for route in ("/forge/v1/runs", "/forge/v1/renders", url):
        method = "PUT" if route == url else "POST"
        nested = raw(client, method, route, '{"space_key": ' + deep(50_000) + "}", forge_headers())
        assert "nests deeper" in assert_client_error(nested)["message"]


def test_bad_text_in_render_events_is_400(client: FlaskClient, forge_headers: Headers) -> None:
    for field in ("error", "page_id"):
        event = f'{{"macro": "exchange-asset", "status": "error", "at": "2026-11-23T10:00:00Z", "{field}": {SURROGATE}}}'
        body = f'{{"space_key": "OPS", "events": [{event}]}}'
        assert_client_error(raw(client, "POST", "/forge/v1/renders", body, forge_headers()))


def test_nul_in_the_query_string_and_path_is_400(
    client: FlaskClient, forge_headers: Headers
) -> None:
    query = client.get("/forge/v1/connection?space_key=OPS%00", headers=forge_headers())
    assert "NUL" in assert_client_error(query)["message"]
    path = client.get("/forge/v1/runs/abc%00def", headers=forge_headers())
    assert "NUL" in assert_client_error(path)["message"]


def test_a_body_over_the_size_limit_is_413(client: FlaskClient, forge_headers: Headers) -> None:
    body = '{"space_key": "' + "x" * (1024 * 1024 + 10) + '"}'
    assert_client_error(raw(client, "POST", "/forge/v1/runs", body, forge_headers()), 413)


# -- support routes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [SURROGATE, NUL])
@pytest.mark.parametrize("field", ["summary", "description", "site_url"])
def test_bad_text_in_a_support_ticket_is_400(
    client: FlaskClient, support: dict[str, str], field: str, value: str
) -> None:
    body = {"summary": '"MuleSight macros fail"', field: value}
    text = "{" + ", ".join(f'"{k}": {v}' for k, v in body.items()) + "}"
    assert_client_error(raw(client, "POST", "/support/v1/tickets", text, support))


def test_deep_ticket_fields_are_400(client: FlaskClient, support: dict[str, str]) -> None:
    body = '{"summary": "x", "fields": {"a": ' + deep(100) + "}}"
    assert_client_error(raw(client, "POST", "/support/v1/tickets", body, support))


# -- signed webhooks ---------------------------------------------------------------------------------


def signed(body: str) -> dict[str, str]:
    digest = hmac.new(WEBHOOK_SECRET.encode(), body.encode("utf-8"), hashlib.sha256).hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}"}


@pytest.mark.parametrize(
    "body",
    [
        deep(50_000),
        '{"webhookEvent": "jira:issue_created", "issue": {"key": "SUP-1", "fields": {"summary": '
        + SURROGATE
        + "}}}",
        '{"webhookEvent": "jira:issue_created", "issue": {"key": "SUP-1", "fields": {"summary": '
        + NUL
        + "}}}",
        '{"webhookEvent": "jira:issue_created", "issue": {"key": "SUP-1", "id": '
        + "9" * 40
        + ', "fields": {}}}',
    ],
    ids=["deep", "surrogate", "nul", "huge-int"],
)
def test_hostile_signed_webhooks_are_400(client: FlaskClient, body: str) -> None:
    response = client.post(
        "/webhooks/jsm",
        data=body.encode("utf-8"),
        content_type="application/json",
        headers=signed(body),
    )
    assert_client_error(response)
