"""`mulesight forge-token`: local FITs for the embedded default, never in live mode."""

from __future__ import annotations

from typing import Any

import responses
from flask import Flask

from app.cli_dev import forge_token
from tests.app.conftest import make_app


def test_a_local_token_opens_the_forge_routes(app: Flask) -> None:
    result = app.test_cli_runner().invoke(forge_token, ["--site", "https://acme.atlassian.net"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"space_key": "OPS", "client_id": "c", "client_secret": "s", "control_plane": "us"}
    response = app.test_client().put("/forge/v1/connection", json=body, headers=headers)
    assert response.status_code == 200, response.json
    assert "client_secret" not in response.json


def test_refused_in_live_mode(app_config: dict[str, Any]) -> None:
    live = make_app({**app_config, "MULESIGHT_ANYPOINT_MODE": "live"})
    try:
        result = live.test_cli_runner().invoke(
            forge_token, ["--site", "https://acme.atlassian.net"]
        )
    finally:
        live.extensions["db"].dispose()
    assert result.exit_code == 2
    assert "simulated mode only" in result.output


@responses.activate  # no network: the Atlassian JWKS is unreachable, the local key unknown
def test_a_local_token_is_not_trusted_in_live_mode(app: Flask, app_config: dict[str, Any]) -> None:
    token = app.test_cli_runner().invoke(forge_token, ["--site", "https://acme.atlassian.net"])
    live = make_app({**app_config, "MULESIGHT_ANYPOINT_MODE": "live"})
    try:
        response = live.test_client().get(
            "/forge/v1/connection?space_key=OPS",
            headers={"Authorization": f"Bearer {token.output.strip()}"},
        )
    finally:
        live.extensions["db"].dispose()
    assert response.status_code in (401, 503)
