"""Tenancy of runs: a site never sees, diffs or starts runs of another site's spaces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import Installation
from tests.app.conftest import SITE_A, SITE_B
from tests.app.test_runs import SANDBOX_ONLY, URL, add_space, start_run

Headers = Callable[..., dict[str, str]]
SITE_A_URL = "https://acme-secret-site.atlassian.net"


@pytest.fixture
def app_config(app_config: dict[str, Any], database_url: str) -> dict[str, Any]:
    """Every test here on SQLite and on PostgreSQL (skipped when no server answers)."""
    return {**app_config, "MULESIGHT_DATABASE_URL": database_url}


@pytest.fixture(autouse=True)
def spaces(app: Flask) -> None:
    add_space(app, SITE_A, "OPS", scenario=SANDBOX_ONLY)
    add_space(app, SITE_A, "AONLY", scenario="healthy")
    add_space(app, SITE_B, "OPS", scenario="healthy")  # the same key on the other site
    with app.extensions["db"].session() as session:
        installation = session.get(Installation, SITE_A)
        assert installation is not None
        installation.site_url = SITE_A_URL
        session.commit()


@pytest.fixture
def a_run(client: FlaskClient, forge_headers: Headers) -> dict[str, Any]:
    return start_run(client, forge_headers(SITE_A))


def assert_leaks_nothing(body: str, run: dict[str, Any]) -> None:
    for value in (run["id"], SITE_A, SITE_A_URL, "Sparrow", "read:api_configuration", "broken"):
        assert value not in body, value


@pytest.mark.parametrize("suffix", ["", "?format=markdown", "?format=html", "/diff"])
def test_another_sites_run_is_404(
    client: FlaskClient, forge_headers: Headers, a_run: dict[str, Any], suffix: str
) -> None:
    response = client.get(f"{URL}/{a_run['id']}{suffix}", headers=forge_headers(SITE_B))
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json["error"]["code"] == "not_found"
    assert_leaks_nothing(response.get_data(as_text=True), a_run)


def test_an_unknown_run_looks_the_same(
    client: FlaskClient, forge_headers: Headers, a_run: dict[str, Any]
) -> None:
    theirs = client.get(f"{URL}/{a_run['id']}", headers=forge_headers(SITE_B)).json
    unknown_id = "11111111-2222-4333-8444-555555555555"
    unknown = client.get(f"{URL}/{unknown_id}", headers=forge_headers(SITE_B)).json
    assert theirs == unknown


def test_diff_against_another_sites_run_is_404(
    client: FlaskClient, forge_headers: Headers, a_run: dict[str, Any]
) -> None:
    b_run = start_run(client, forge_headers(SITE_B))
    response = client.get(
        f"{URL}/{b_run['id']}/diff?against={a_run['id']}", headers=forge_headers(SITE_B)
    )
    assert response.status_code == 404
    assert_leaks_nothing(response.get_data(as_text=True), a_run)


def test_the_previous_run_is_never_another_sites(
    client: FlaskClient, forge_headers: Headers, a_run: dict[str, Any]
) -> None:
    b_run = start_run(client, forge_headers(SITE_B))  # same space key "OPS", after A's run
    response = client.get(f"{URL}/{b_run['id']}/diff", headers=forge_headers(SITE_B))
    assert response.status_code == 200
    assert response.json["before"] is None  # B's first run: nothing to compare, never A's
    assert_leaks_nothing(response.get_data(as_text=True), a_run)


def test_another_sites_space_is_404(
    client: FlaskClient, forge_headers: Headers, a_run: dict[str, Any]
) -> None:
    headers = forge_headers(SITE_B)
    responses = [
        client.post(URL, json={"space_key": "AONLY"}, headers=headers),
        client.get(f"{URL}?space_key=AONLY", headers=headers),
    ]
    for response in responses:
        assert response.status_code == 404
        assert_leaks_nothing(response.get_data(as_text=True), a_run)


def test_listings_hold_only_the_callers_runs(
    client: FlaskClient, forge_headers: Headers, a_run: dict[str, Any]
) -> None:
    b_run = start_run(client, forge_headers(SITE_B))
    for query in ("", "?space_key=OPS"):
        body = client.get(f"{URL}{query}", headers=forge_headers(SITE_B))
        assert [r["id"] for r in body.json] == [b_run["id"]]
        assert_leaks_nothing(body.get_data(as_text=True), a_run)
    own = client.get(f"{URL}?space_key=OPS", headers=forge_headers(SITE_A)).json
    assert [r["id"] for r in own] == [a_run["id"]]


def test_a_run_uses_the_callers_space_of_that_key(
    client: FlaskClient, forge_headers: Headers
) -> None:
    # Both sites have "OPS": A's is broken (sandbox-only), B's healthy.
    assert start_run(client, forge_headers(SITE_B))["verdict"] == "healthy"
    assert start_run(client, forge_headers(SITE_A))["verdict"] == "broken"
