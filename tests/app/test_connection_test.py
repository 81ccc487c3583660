"""POST /forge/v1/connection/test (token, organization, environments; problems in plain words)
and GET /forge/v1/scopes.csv (the required-scopes checklist from the catalogue)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.services.anypoint import SpaceAnypoint
from diagnostics.anypoint import AnypointClient, RetryPolicy
from diagnostics.catalogue import SCOPES
from tests.app.conftest import SITE_B, make_app
from tests.app.test_refresh import SECRET, connect

URL = "/forge/v1/connection/test"
ANYPOINT = "https://anypoint.mulesoft.com"
ORG = "8a1b2c3d-0000-4000-8000-123456789abc"
Headers = Callable[..., dict[str, str]]


def check(client: FlaskClient, headers: Headers, site: str | None = None) -> Any:
    """Press "Test connection" for space OPS."""
    args = (site,) if site else ()
    return client.post(URL, json={"space_key": "OPS"}, headers=headers(*args))


def test_a_healthy_connection(app: Flask, client: FlaskClient, forge_headers: Headers) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    response = check(client, forge_headers)
    assert response.status_code == 200
    assert response.json["ok"] is True
    assert response.json["organization"] == {
        "id": "6f1c0d7e-0b1a-4c55-9d1e-2a7f0c9b1a11",
        "name": "Sparrow Logistics",
    }
    assert response.json["environment_count"] == 2
    assert response.json["problem"] is None


def test_bad_credentials(app: Flask, client: FlaskClient, forge_headers: Headers) -> None:
    connect(app, client, forge_headers, scenario="invalid-credentials")
    response = check(client, forge_headers)
    assert response.status_code == 200
    body = response.json
    assert body["ok"] is False and body["step"] == "token" and body["http_status"] == 401
    assert "client ID or client secret" in body["problem"]
    assert "Connected Apps" in body["fix"]
    assert SECRET not in response.get_data(as_text=True)


def test_unknown_and_foreign_spaces(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    assert check(client, forge_headers).status_code == 404
    connect(app, client, forge_headers, scenario="healthy")
    assert check(client, forge_headers, SITE_B).status_code == 404
    bad = client.post(URL, json={}, headers=forge_headers())
    assert bad.status_code == 422 and "space_key" in bad.json["error"]["fields"]
    assert client.post(URL, json={"space_key": "OPS"}).status_code == 401


# -- live Anypoint (the real client against `responses`) -------------------------------------------


@pytest.fixture
def live(
    app_config: dict[str, Any],
    forge_keys: Any,
    forge_headers: Headers,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[FlaskClient, Any]]:
    """A live-mode app with a connected space whose retries never really wait."""
    app = make_app({**app_config, "MULESIGHT_ANYPOINT_MODE": "live"})

    def client(self: SpaceAnypoint) -> AnypointClient:
        retry = RetryPolicy(sleep=lambda _s: None)
        return AnypointClient(self.connection, session=self.session, retry=retry)

    monkeypatch.setattr(SpaceAnypoint, "client", client)
    test_client = app.test_client()
    connect(app, test_client, forge_headers, organization_id=ORG)
    forge_keys.mock.post(
        f"{ANYPOINT}/accounts/api/v2/oauth2/token",
        json={"access_token": "live-token-2", "token_type": "bearer", "expires_in": 3600},
    )
    yield test_client, forge_keys.mock
    app.extensions["db"].dispose()


def test_a_missing_organization_scope_is_named(
    live: tuple[FlaskClient, Any], forge_headers: Headers
) -> None:
    client, mock = live
    mock.get(f"{ANYPOINT}/accounts/api/organizations/{ORG}", status=403, json={"message": "no"})
    body = check(client, forge_headers).json
    assert body["ok"] is False and body["step"] == "organization"
    assert body["http_status"] == 403 and body["missing_scope"] == "read:organization"
    assert "read:organization" in body["problem"] and "read:organization" in body["fix"]


def test_a_missing_environments_scope_is_named(
    live: tuple[FlaskClient, Any], forge_headers: Headers
) -> None:
    client, mock = live
    mock.get(f"{ANYPOINT}/accounts/api/organizations/{ORG}", json={"id": ORG, "name": "Acme"})
    mock.get(
        f"{ANYPOINT}/accounts/api/organizations/{ORG}/environments",
        status=403,
        json={"message": "no"},
    )
    body = check(client, forge_headers).json
    assert (body["ok"], body["step"], body["missing_scope"]) == (
        False,
        "environments",
        "read:orgenvironments",
    )


def test_live_success_and_no_secret_anywhere(
    live: tuple[FlaskClient, Any], forge_headers: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    client, mock = live
    mock.get(f"{ANYPOINT}/accounts/api/organizations/{ORG}", json={"id": ORG, "name": "Acme"})
    mock.get(
        f"{ANYPOINT}/accounts/api/organizations/{ORG}/environments",
        json={"data": [{"id": "e1", "name": "Production"}], "total": 1},
    )
    response = check(client, forge_headers)
    assert response.json["ok"] is True
    assert response.json["organization"] == {"id": ORG, "name": "Acme"}
    assert response.json["environment_count"] == 1
    for text in (response.get_data(as_text=True), caplog.text):
        assert SECRET not in text and "live-token-2" not in text


@pytest.mark.parametrize("status", [500, 503, 504])
def test_anypoint_unreachable(
    live: tuple[FlaskClient, Any], forge_headers: Headers, status: int
) -> None:
    client, mock = live
    mock.get(f"{ANYPOINT}/accounts/api/organizations/{ORG}", status=status, json={})
    body = check(client, forge_headers).json
    assert body["ok"] is False and body["step"] == "organization"
    assert body["problem"].startswith("Anypoint is unreachable")
    assert "status.mulesoft.com" in body["fix"]


def test_an_unknown_organization(live: tuple[FlaskClient, Any], forge_headers: Headers) -> None:
    client, mock = live
    mock.get(f"{ANYPOINT}/accounts/api/organizations/{ORG}", status=404, json={})
    body = check(client, forge_headers).json
    assert body["ok"] is False and "organization ID" in body["problem"]


def test_no_saved_secret_in_live_mode(
    app_config: dict[str, Any], forge_keys: Any, forge_headers: Headers
) -> None:
    app = make_app({**app_config, "MULESIGHT_ANYPOINT_MODE": "live"})
    try:
        client = app.test_client()
        body = {
            "space_key": "OPS",
            "client_id": "c",
            "control_plane": "us",
            "sync_interval_hours": 24,
        }
        assert (
            client.put("/forge/v1/connection", json=body, headers=forge_headers()).status_code
            == 200
        )
        result = check(client, forge_headers).json
        assert result["ok"] is False and "No client secret" in result["problem"]
    finally:
        app.extensions["db"].dispose()


# -- the scopes checklist --------------------------------------------------------------------------


def test_scopes_csv(app: Flask, client: FlaskClient, forge_headers: Headers) -> None:
    connect(app, client, forge_headers)
    response = client.get(
        "/forge/v1/scopes.csv", query_string={"space_key": "OPS"}, headers=forge_headers()
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert (
        response.headers["Content-Disposition"]
        == "attachment; filename=mulesight-required-scopes.csv"
    )
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(table[0]) == ["scope", "why needed", "used by", "validated by", "granted at"]
    assert [r["scope"] for r in table] == [s.key for s in SCOPES]
    rows = {r["scope"]: r for r in table}
    api = rows["read:api_configuration"]
    assert api["why needed"] == "API Manager instances"
    assert api["used by"] == "API Manager; Ops dashboard; Rovo"
    assert api["validated by"] == (
        "GET /apimanager/api/v1/organizations/{org_id}/environments/{env_id}/apis"
    )
    assert api["granted at"] == "per environment"
    assert rows["read:organization"]["granted at"] == "organization"
    assert rows["read:exchange"]["used by"] == "Exchange; Endpoints; Rovo"
    assert rows["read:api_contracts"]["validated by"].count("; ") == 1


def test_scopes_as_json_for_invoke_remote(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers)
    response = client.get(
        "/forge/v1/scopes.csv",
        query_string={"space_key": "OPS", "format": "json"},
        headers=forge_headers(),
    )
    assert response.status_code == 200 and response.is_json
    rows = {r["scope"]: r for r in response.json}
    assert len(rows) == len(SCOPES)
    assert rows["read:applications"]["used_by_datasets"] == [
        "runtime_manager",
        "ops_dashboard",
        "rovo",
    ]
    assert rows["read:applications"]["granted_at"] == "per environment"


def test_scopes_need_a_space_of_this_site(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers)
    query = {"space_key": "OPS"}
    other = client.get("/forge/v1/scopes.csv", query_string=query, headers=forge_headers(SITE_B))
    assert other.status_code == 404
    bad = client.get(
        "/forge/v1/scopes.csv", query_string={**query, "format": "xml"}, headers=forge_headers()
    )
    assert bad.status_code == 422 and "format" in bad.json["error"]["fields"]
