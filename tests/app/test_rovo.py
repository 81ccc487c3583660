"""The Rovo actions: space from the input or the Rovo context, cache-only answers that state
freshness and partial coverage, endpoints answered from the seeded cache."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import storage
from app.models import DatasetSnapshot
from tests.app.conftest import SITE_A, SITE_B, app_now
from tests.app.test_refresh import REST_ASSETS, connect, refresh, set_scenario

Headers = Callable[..., dict[str, str]]
CONTEXT_REQUIRED = {
    "status": "context-required",
    "message": "Open this from a Confluence space that has MuleSight connected, or name the space key.",
}


def rovo(
    client: FlaskClient, headers: Headers, action: str, site: str = SITE_A, **body: Any
) -> Any:
    return client.post(f"/forge/v1/rovo/{action}", json=body, headers=headers(site))


def context(space_key: str) -> dict[str, Any]:
    """A Rovo action context as Forge sends it from a Confluence page."""
    return {
        "cloudId": "0c7b3e9a-1f2d-4c5b-8a6e-9d0f1e2a3b4c",
        "moduleKey": "query-api-inventory",
        "confluence": {
            "url": f"https://example.atlassian.net/wiki/spaces/{space_key}/pages/98304",
            "resourceType": "page",
            "contentId": "98304",
            "spaceKey": space_key,
        },
    }


def age_snapshots(app: Flask, dataset: str, hours: float) -> None:
    """Move the dataset's last successful fetch ``hours`` into the past."""
    with app.extensions["db"].session() as session:
        space = storage.get_space(session, SITE_A, "OPS")
        for row in session.query(DatasetSnapshot).filter_by(space_id=space.id, dataset=dataset):
            if row.fetched_at is not None:
                row.fetched_at = app_now(app) - timedelta(hours=hours)
        session.commit()


@pytest.mark.parametrize(
    "action", ["api-inventory", "runtime-apps", "refresh-dataset", "endpoints"]
)
@pytest.mark.parametrize(
    "body",
    [{}, {"spaceKey": ""}, {"context": {"cloudId": "x"}}, {"context": {"confluence": {}}}],
)
def test_no_space_context_asks_for_one(
    app: Flask, client: FlaskClient, forge_headers: Headers, action: str, body: dict[str, Any]
) -> None:
    inputs = {"dataset": "api_manager"} if action == "refresh-dataset" else {}
    if action == "endpoints":
        inputs = {"question": "which method creates an order?"}
    response = rovo(client, forge_headers, action, **body, **inputs)
    assert response.status_code == 200
    assert response.json == CONTEXT_REQUIRED


def test_the_space_comes_from_the_input_or_the_context(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    refresh(client, forge_headers, dataset="api_manager")
    for body in (
        {"spaceKey": "OPS"},
        {"space_key": "OPS"},
        {"context": context("OPS")},
        {"payload": {"spaceKey": "OPS", "context": {}}},
        {"spaceKey": "", "context": context("OPS")},
    ):
        response = rovo(client, forge_headers, "api-inventory", **body)
        assert response.status_code == 200, (body, response.json)
        assert response.json["space_key"] == "OPS" and response.json["status"] == "ok"


def test_unknown_or_foreign_spaces_are_404(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    refresh(client, forge_headers, dataset="api_manager")
    assert rovo(client, forge_headers, "api-inventory", spaceKey="DEV").status_code == 404
    foreign = rovo(client, forge_headers, "api-inventory", site=SITE_B, context=context("OPS"))
    assert foreign.status_code == 404
    assert "Production" not in foreign.get_data(as_text=True)
    refreshed = rovo(
        client, forge_headers, "refresh-dataset", site=SITE_B, spaceKey="OPS", dataset="api_manager"
    )
    assert refreshed.status_code == 404
    bad = rovo(client, forge_headers, "api-inventory", spaceKey="not a key")
    assert bad.status_code == 422 and "space_key" in bad.json["error"]["fields"]


def test_api_inventory_states_partial_coverage_and_why(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="api-manager-sandbox-only")
    refresh(client, forge_headers)
    body = rovo(client, forge_headers, "api-inventory", context=context("OPS")).json
    assert body["status"] == "ok" and body["coverage"] == "partial"
    assert body["freshness"] == "fresh"
    message = body["message"]
    assert message.startswith("3 API instance(s) — Sandbox: 3 (3 active).")
    assert "(fresh: within the 24 h sync interval)" in message
    assert "Coverage is partial." in message
    assert "Production is missing: API Manager access is not granted there." in message
    [group] = body["results"]
    assert group["environment"] == "Sandbox" and len(group["items"]) == 3
    assert {i["status"] for i in group["items"]} == {"active"}
    [missing] = body["missing_environments"]
    assert missing["environment_name"] == "Production" and missing["reason"] == "forbidden"


def test_stale_and_fallback_data_are_stated(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    refresh(client, forge_headers, dataset="api_manager")
    age_snapshots(app, "api_manager", 30)
    body = rovo(client, forge_headers, "api-inventory", spaceKey="OPS").json
    assert body["freshness"] == "stale"
    assert "(stale: older than the 24 h sync interval)." in body["message"]
    assert "UTC" in body["message"]

    set_scenario(app, "OPS", "api-manager-sandbox-only")
    refresh(client, forge_headers, dataset="api_manager")
    body = rovo(client, forge_headers, "api-inventory", spaceKey="OPS").json
    assert body["stale_fallback"] is True
    assert "The last refresh failed, so this is the last good data." in body["message"]
    assert (
        "Production shows older data: the last refresh failed (API Manager access is not granted)."
        in body["message"]
    )
    age_snapshots(app, "api_manager", 72)
    body = rovo(client, forge_headers, "api-inventory", spaceKey="OPS").json
    assert "expired: older than twice the 24 h sync interval" in body["message"]


def test_never_refreshed_says_so(app: Flask, client: FlaskClient, forge_headers: Headers) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    body = rovo(client, forge_headers, "runtime-apps", spaceKey="OPS").json
    assert body["status"] == "no-data" and body["freshness"] == "never"
    assert "MuleSight has no Runtime Manager data for space OPS yet" in body["message"]


def test_runtime_apps_by_environment_with_filters(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    refresh(client, forge_headers, dataset="runtime_manager")
    body = rovo(client, forge_headers, "runtime-apps", spaceKey="OPS").json
    groups = {g["environment"]: g for g in body["results"]}
    assert set(groups) == {"Production", "Sandbox"}
    assert len(groups["Production"]["items"]) == 7  # 4 CloudHub 1.0 apps + 3 deployments
    assert groups["Production"]["statuses"] == {"running": 3, "started": 4}
    deployment = next(
        i for i in groups["Production"]["items"] if i["type"].startswith("CloudHub 2")
    )
    assert deployment["target"] and deployment["target"].count("-") != 4  # a name, not an id

    only = rovo(
        client,
        forge_headers,
        "runtime-apps",
        spaceKey="OPS",
        environment="Sandbox",
        status="RUNNING",
    ).json
    [group] = only["results"]
    assert group["environment"] == "Sandbox"
    assert [i["status"] for i in group["items"]] == ["running"]
    assert only["message"].startswith("1 application(s) — Sandbox: 1 (1 running).")


def test_endpoints_seeded_then_answered(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    question = {"question": "Which method creates an order?", "spaceKey": "OPS"}
    empty = rovo(client, forge_headers, "endpoints", **question).json
    assert empty["status"] == "no-data"
    assert "Exchange asset macro in Endpoints mode" in empty["message"]

    asset = REST_ASSETS[0]
    refresh(
        client,
        forge_headers,
        dataset="endpoints",
        group_id=asset.group_id,
        asset_id=asset.asset_id,
        version=asset.version,
    )
    noun = asset.asset_id.split("-")[0]
    body = rovo(
        client, forge_headers, "endpoints", spaceKey="OPS", question=f"Which method creates {noun}?"
    ).json
    assert body["status"] == "ok" and body["freshness"] == "fresh"
    first = body["results"][0]
    assert (first["method"], first["path"]) == ("POST", f"/{noun}")
    assert first["api"] == asset.name and first["version"] == asset.version
    assert body["message"].startswith(f"Matching endpoints: POST /{noun} ({asset.name} ")
    assert "Data from " in body["message"]

    deletes = rovo(
        client, forge_headers, "endpoints", spaceKey="OPS", question="anything", method="delete"
    ).json
    assert {r["method"] for r in deletes["results"]} == {"DELETE"}
    none = rovo(client, forge_headers, "endpoints", spaceKey="OPS", question="x", api="nope").json
    assert none["results"] == [] and "No cached endpoint matches" in none["message"]
    missing = rovo(client, forge_headers, "endpoints", spaceKey="OPS")
    assert missing.status_code == 422 and "question" in missing.json["error"]["fields"]


def test_refresh_dataset_runs_the_refresh_and_reports_it(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="api-manager-sandbox-only")
    body = rovo(
        client, forge_headers, "refresh-dataset", context=context("OPS"), dataset="api_manager"
    ).json
    assert body["status"] == "ok" and body["dataset"] == "api_manager"
    assert body["message"].startswith("Refreshed space OPS (API Manager: partial).")
    assert "Production is missing: API Manager access is not granted there." in body["message"]
    assert body["results"][0]["failed_environments"] == ["Production"]

    follow_up = rovo(client, forge_headers, "api-inventory", spaceKey="OPS").json
    assert follow_up["freshness"] == "fresh"

    bad = rovo(client, forge_headers, "refresh-dataset", spaceKey="OPS", dataset="everything")
    assert bad.status_code == 422 and "dataset" in bad.json["error"]["fields"]


def test_refresh_dataset_of_a_disabled_or_unseeded_dataset(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy", datasets_enabled={"exchange": False})
    off = rovo(client, forge_headers, "refresh-dataset", spaceKey="OPS", dataset="exchange").json
    assert off["status"] == "disabled" and "turned off" in off["message"]
    unseeded = rovo(
        client, forge_headers, "refresh-dataset", spaceKey="OPS", dataset="endpoints"
    ).json
    assert unseeded["status"] == "no-data"


def test_an_environment_that_never_had_data_is_not_a_fallback(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="api-manager-sandbox-only")
    refresh(client, forge_headers, dataset="api_manager")
    body = rovo(client, forge_headers, "api-inventory", spaceKey="OPS").json
    assert body["stale_fallback"] is False
    assert "last good data" not in body["message"]
