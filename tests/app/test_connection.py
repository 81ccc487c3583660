"""GET / PUT /forge/v1/connection: validated, tenant-scoped, the secret write-only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import storage
from tests.app.conftest import SITE_A

URL = "/forge/v1/connection"
SECRET = "Conn3cted-App-Secret-0a9b8c7d"
BODY = {
    "space_key": "OPS",
    "client_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "client_secret": SECRET,
    "organization_id": "8a1b2c3d-0000-4000-8000-123456789abc",
    "control_plane": "eu",
    "base_url": None,
    "sync_interval_hours": 6,
    "datasets_enabled": {"exchange": True, "runtime_manager": False},
}
Headers = Callable[..., dict[str, str]]


def put(client: FlaskClient, headers: Headers, **changes: Any) -> Any:
    body = {k: v for k, v in {**BODY, **changes}.items() if v is not ...}
    return client.put(URL, json=body, headers=headers())


def test_unknown_space_is_404(client: FlaskClient, forge_headers: Headers) -> None:
    response = client.get(URL, query_string={"space_key": "OPS"}, headers=forge_headers())
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_put_creates_then_get_returns_it_without_the_secret(
    client: FlaskClient, forge_headers: Headers
) -> None:
    saved = put(client, forge_headers)
    assert saved.status_code == 200, saved.json
    fetched = client.get(URL, query_string={"space_key": "OPS"}, headers=forge_headers())
    assert fetched.status_code == 200
    for response in (saved, fetched):
        body = response.json
        assert "client_secret" not in body
        assert SECRET not in response.get_data(as_text=True)
        assert body["client_secret_set"] is True
        assert body["space_key"] == "OPS"
        assert body["client_id"] == BODY["client_id"]
        assert body["organization_id"] == BODY["organization_id"]
        assert body["control_plane"] == "eu"
        assert body["sync_interval_hours"] == 6
        assert body["datasets_enabled"] == {"exchange": True, "runtime_manager": False}


def test_the_space_settings_page_body(client: FlaskClient, forge_headers: Headers) -> None:
    """Exactly what forge/src/space-settings.js sends (no secret, no organization)."""
    body = {
        "space_key": "OPS",
        "client_id": "abc",
        "organization_id": None,
        "control_plane": "us",
        "base_url": None,
        "sync_interval_hours": 24,
        "datasets_enabled": {"diagnostics": True, "rovo": False},
    }
    response = client.put(URL, json=body, headers=forge_headers())
    assert response.status_code == 200, response.json
    assert response.json["organization_id"] is None


def test_space_is_accepted_as_an_alias(client: FlaskClient, forge_headers: Headers) -> None:
    body = {**BODY}
    body["space"] = body.pop("space_key")
    assert client.put(URL, json=body, headers=forge_headers()).status_code == 200
    response = client.get(URL, query_string={"space": "OPS"}, headers=forge_headers())
    assert response.status_code == 200


def test_omitting_the_secret_keeps_it(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    put(client, forge_headers)
    response = put(client, forge_headers, client_secret=..., sync_interval_hours=48)
    assert response.status_code == 200
    assert response.json["client_secret_set"] is True
    assert response.json["sync_interval_hours"] == 48
    with app.extensions["db"].session() as session:
        space = storage.get_space(session, SITE_A, "OPS")
        assert storage.connection_for(space, app.extensions["secret_box"]).client_secret == SECRET


def test_first_save_without_a_secret(client: FlaskClient, forge_headers: Headers) -> None:
    response = put(client, forge_headers, client_secret=...)
    assert response.status_code == 200
    assert response.json["client_secret_set"] is False


def test_custom_control_plane_with_a_base_url(client: FlaskClient, forge_headers: Headers) -> None:
    response = put(
        client, forge_headers, control_plane="custom", base_url="https://anypoint.example.com/"
    )
    assert response.status_code == 200, response.json
    assert response.json["base_url"] == "https://anypoint.example.com"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sync_interval_hours": 0}, "sync_interval_hours"),
        ({"sync_interval_hours": "12"}, "sync_interval_hours"),
        ({"control_plane": "mars"}, "control_plane"),
        ({"control_plane": "custom", "base_url": None}, "base_url"),
        ({"base_url": "http://anypoint.example.com"}, "base_url"),
        ({"base_url": "https://169.254.169.254"}, "base_url"),
        ({"base_url": "https://10.0.0.8"}, "base_url"),
        ({"base_url": "https://localhost:8443"}, "base_url"),
        ({"base_url": "https://user:pw@anypoint.example.com"}, "base_url"),
        ({"datasets_enabled": {"bitcoin": True}}, "datasets_enabled"),
        ({"datasets_enabled": {"exchange": "yes"}}, "datasets_enabled"),
        ({"client_id": ""}, "client_id"),
        ({"client_id": ...}, "client_id"),
        ({"client_secret": ""}, "client_secret"),
        ({"space_key": "not a key"}, "space_key"),
        ({"space_key": ...}, "space_key"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_bodies_name_the_field(
    client: FlaskClient, forge_headers: Headers, changes: dict[str, Any], field: str
) -> None:
    response = put(client, forge_headers, **changes)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "validation_error"
    assert field in response.json["error"]["fields"]
    assert SECRET not in response.get_data(as_text=True)


def test_missing_space_query_is_422(client: FlaskClient, forge_headers: Headers) -> None:
    response = client.get(URL, headers=forge_headers())
    assert response.status_code == 422
    assert "space_key" in response.json["error"]["fields"]


def test_the_secret_is_never_logged(
    client: FlaskClient, forge_headers: Headers, capsys: pytest.CaptureFixture[str]
) -> None:
    put(client, forge_headers)
    put(client, forge_headers, sync_interval_hours=0)  # a failing save too
    captured = capsys.readouterr()
    assert SECRET not in captured.err + captured.out
