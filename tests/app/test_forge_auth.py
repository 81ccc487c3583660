"""Forge Invocation Tokens: only a valid RS256 token of our app gets in, and only to its tenant."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.config import FORGE_JWKS_URL
from app.models import Installation
from tests.app.conftest import (
    ACCOUNT,
    APP_ID,
    CLOUD_A,
    SITE_A,
    SITE_B,
    FitFactory,
    ForgeKeys,
    make_app,
    public_jwk,
    rsa_key,
)

URL = "/forge/v1/connection?space_key=OPS"
CONNECTION = {
    "space_key": "OPS",
    "client_id": "site-a-client-id",
    "client_secret": "site-a-secret-value-123",
    "organization_id": "org-a",
    "control_plane": "us",
    "sync_interval_hours": 12,
    "datasets_enabled": {"exchange": True},
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get(client: FlaskClient, token: str) -> Any:
    return client.get(URL, headers=bearer(token))


def assert_401(response: Any, code: str = "invalid_token") -> None:
    assert response.status_code == 401, response.json
    assert response.json["error"]["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def site_a_space(client: FlaskClient, fit: FitFactory) -> None:
    response = client.put("/forge/v1/connection", json=CONNECTION, headers=bearer(fit(SITE_A)))
    assert response.status_code == 200, response.json


def test_valid_token_reaches_its_tenant(
    client: FlaskClient, fit: FitFactory, site_a_space: None
) -> None:
    response = get(client, fit(SITE_A))
    assert response.status_code == 200
    assert response.json["client_id"] == "site-a-client-id"


def test_first_token_registers_the_installation(
    app: Flask, client: FlaskClient, fit: FitFactory
) -> None:
    assert get(client, fit(SITE_A)).status_code == 404  # authenticated; no space yet
    with app.extensions["db"].session() as session:
        installation = session.scalar(select(Installation))
    assert installation is not None
    assert (installation.id, installation.cloud_id) == (SITE_A, CLOUD_A)


def test_tenant_and_tokens_are_in_g(app: Flask, fit: FitFactory) -> None:
    from flask import g

    from app.auth.forge import authenticate_forge_request

    token = fit(SITE_A)
    headers = {**bearer(token), "x-forge-oauth-system": "system-token-xyz"}
    with app.test_request_context(headers=headers):
        tenant = authenticate_forge_request()
        assert g.get("tenant") is None
    assert tenant.installation_id == SITE_A
    assert tenant.cloud_id == CLOUD_A
    assert tenant.account_id == ACCOUNT
    assert tenant.api_base_url == f"https://api.atlassian.com/ex/confluence/{CLOUD_A}"
    assert tenant.invocation_token == token
    assert tenant.system_token == "system-token-xyz"
    assert token not in repr(tenant) and "system-token-xyz" not in repr(tenant)
    assert tenant.actor == f"forge:{ACCOUNT}"


def test_missing_token(client: FlaskClient) -> None:
    assert_401(client.get(URL), "unauthorized")


def test_no_forge_app_id_refuses_every_request(app_config: dict[str, Any], fit: FitFactory) -> None:
    app = make_app({**app_config, "FORGE_APP_ID": None})
    try:
        response = app.test_client().get(URL, headers=bearer(fit(SITE_A)))
    finally:
        app.extensions["db"].dispose()
    assert_401(response, "forge_not_configured")
    assert "FORGE_APP_ID" in response.json["error"]["message"]


def test_expired(client: FlaskClient, fit: FitFactory) -> None:
    assert_401(get(client, fit(SITE_A, exp_in=-120, nbf_in=-600)))


def test_expired_within_leeway_is_accepted(client: FlaskClient, fit: FitFactory) -> None:
    assert get(client, fit(SITE_A, exp_in=-30, nbf_in=-600)).status_code == 404


def test_leeway_is_capped_at_60_seconds(app_config: dict[str, Any], fit: FitFactory) -> None:
    app = make_app({**app_config, "FORGE_JWT_LEEWAY": 3600})
    try:
        assert app.config["FORGE_JWT_LEEWAY"] == 60
        response = app.test_client().get(URL, headers=bearer(fit(SITE_A, exp_in=-120)))
    finally:
        app.extensions["db"].dispose()
    assert_401(response)


def test_not_yet_valid(client: FlaskClient, fit: FitFactory) -> None:
    assert_401(get(client, fit(SITE_A, nbf_in=300, exp_in=600)))


def test_wrong_audience(client: FlaskClient, fit: FitFactory) -> None:
    assert_401(get(client, fit(SITE_A, aud="ari:cloud:ecosystem::app/someone-else")))


def test_wrong_issuer(client: FlaskClient, fit: FitFactory) -> None:
    assert_401(get(client, fit(SITE_A, iss="https://evil.example.com")))


def _segments(token: str) -> list[str]:
    return token.split(".")


def _encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none(client: FlaskClient, fit: FitFactory, forge_keys: ForgeKeys) -> None:
    payload = _segments(fit(SITE_A))[1]
    header = _encode({"alg": "none", "typ": "JWT", "kid": forge_keys.kid})
    assert_401(get(client, f"{header}.{payload}."))


def test_hs256_signed_with_the_public_key(
    client: FlaskClient, fit: FitFactory, forge_keys: ForgeKeys
) -> None:
    public_pem = forge_keys.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = jwt.decode(fit(SITE_A), options={"verify_signature": False})
    forged_header = _encode({"alg": "HS256", "typ": "JWT", "kid": forge_keys.kid})
    signing_input = f"{forged_header}.{_encode(claims)}".encode()
    signature = (
        base64.urlsafe_b64encode(hmac.new(public_pem, signing_input, hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )
    assert_401(get(client, f"{signing_input.decode()}.{signature}"))


def test_tampered_payload(client: FlaskClient, fit: FitFactory, site_a_space: None) -> None:
    header, _, signature = _segments(fit(SITE_B))
    claims = jwt.decode(fit(SITE_B), options={"verify_signature": False})
    claims["app"]["installationId"] = SITE_A  # try to become site A
    assert_401(get(client, f"{header}.{_encode(claims)}.{signature}"))


def test_unknown_kid_refetches_once_then_401(
    client: FlaskClient, fit: FitFactory, forge_keys: ForgeKeys
) -> None:
    assert get(client, fit(SITE_A)).status_code == 404  # warms the key cache
    assert forge_keys.fetches() == 1
    rogue = rsa_key("rogue")
    assert_401(get(client, fit(SITE_A, kid="rotated-or-forged", key=rogue)))
    assert forge_keys.fetches() == 2
    # a flood of unknown kids does not refetch every time
    assert_401(get(client, fit(SITE_A, kid="another-unknown", key=rogue)))
    assert forge_keys.fetches() == 2


def test_a_rotated_key_is_picked_up(
    client: FlaskClient, fit: FitFactory, forge_keys: ForgeKeys
) -> None:
    assert get(client, fit(SITE_A)).status_code == 404
    new_key = rsa_key("rotated")
    rotated = {"keys": [*forge_keys.jwks["keys"], public_jwk(new_key, "forge-test-key-2")]}
    forge_keys.mock.replace("GET", FORGE_JWKS_URL, json=rotated)
    response = get(client, fit(SITE_A, kid="forge-test-key-2", key=new_key))
    assert response.status_code == 404  # authenticated
    assert forge_keys.fetches() == 2


def test_jwks_unreachable_is_503(
    client: FlaskClient, fit: FitFactory, forge_keys: ForgeKeys
) -> None:
    forge_keys.mock.replace("GET", FORGE_JWKS_URL, body=requests.ConnectionError("down"))
    response = get(client, fit(SITE_A))
    assert response.status_code == 503
    assert response.json["error"]["code"] == "forge_keys_unavailable"


def test_token_without_installation_id(client: FlaskClient, fit: FitFactory) -> None:
    token = fit(SITE_A, app={"id": APP_ID})  # overrides the app claim: no installationId
    assert_401(get(client, token))


def test_site_b_cannot_see_site_a_space(
    client: FlaskClient, fit: FitFactory, site_a_space: None
) -> None:
    response = get(client, fit(SITE_B))
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    for leaked in ("site-a-client-id", "org-a", SITE_A, CLOUD_A, "site-a-secret"):
        assert leaked not in body
    # the same answer as for a space that exists nowhere
    nowhere = client.get("/forge/v1/connection?space_key=NOPE", headers=bearer(fit(SITE_B)))
    assert nowhere.json["error"]["code"] == response.json["error"]["code"]


def test_site_b_saving_the_same_key_does_not_touch_site_a(
    client: FlaskClient, fit: FitFactory, site_a_space: None
) -> None:
    mine = {**CONNECTION, "client_id": "site-b-client", "client_secret": "site-b-secret-456"}
    assert (
        client.put("/forge/v1/connection", json=mine, headers=bearer(fit(SITE_B))).status_code
        == 200
    )
    assert get(client, fit(SITE_A)).json["client_id"] == "site-a-client-id"
    assert get(client, fit(SITE_B)).json["client_id"] == "site-b-client"


def test_the_body_cannot_choose_the_tenant(
    client: FlaskClient, fit: FitFactory, site_a_space: None
) -> None:
    body = {**CONNECTION, "installation_id": SITE_A}
    response = client.put("/forge/v1/connection", json=body, headers=bearer(fit(SITE_B)))
    assert response.status_code == 422
    assert "installation_id" in response.json["error"]["fields"]


def test_jwks_fetch_uses_a_timeout(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_get(url: str, **kwargs: Any) -> Any:
        seen.update(kwargs, url=url)
        raise requests.Timeout("slow")

    monkeypatch.setattr("app.auth.forge.requests.get", fake_get)
    from app.auth.forge import JwksUnavailable

    with pytest.raises(JwksUnavailable):
        app.extensions["forge_jwks"].key("any")
    assert seen["url"] == FORGE_JWKS_URL
    assert 0 < seen["timeout"] <= 10


def test_the_default_jwks_url_is_atlassians(app: Flask) -> None:
    assert (
        app.config["FORGE_JWKS_URL"]
        == "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
    )
