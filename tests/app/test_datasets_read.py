"""GET /forge/v1/datasets/<dataset>: cache-first reads with the freshness rule of report.md."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import storage
from app.storage import snapshots
from tests.app.conftest import SITE_A, SITE_B, app_now
from tests.app.test_refresh import REST_ASSETS, connect, refresh, set_scenario

Headers = Callable[..., dict[str, str]]


def read(client: FlaskClient, headers: Headers, dataset: str, **query: Any) -> Any:
    return client.get(
        f"/forge/v1/datasets/{dataset}",
        query_string={"space_key": "OPS", **query},
        headers=headers(),
    )


def store(app: Flask, dataset: str, env: str | None, *, age: timedelta | None, **kw: Any) -> None:
    """A snapshot fetched ``age`` ago (``None``: a failure with no data)."""
    now = app_now(app)
    with app.extensions["db"].session() as session:
        space = storage.get_space(session, SITE_A, "OPS")
        if age is None:
            snapshots.store_failure(
                session,
                space.id,
                dataset,
                env,
                at=now,
                outcome=kw.get("outcome", "forbidden"),
                error="denied",
            )
        else:
            items = kw.get("items", [{"id": 1, "status": "active"}])
            snapshots.store_success(
                session,
                space.id,
                dataset,
                env,
                at=now - age,
                payload={"items": items},
                item_count=len(items),
                coverage="full",
            )
            if kw.get("failed_since"):
                snapshots.store_failure(
                    session, space.id, dataset, env, at=now, outcome="timeout", error="timed out"
                )
        session.commit()


@pytest.mark.parametrize(
    ("age", "freshness"),
    [
        (timedelta(hours=1), "fresh"),
        (timedelta(hours=24), "fresh"),
        (timedelta(hours=30), "stale"),
        (timedelta(hours=48), "stale"),
        (timedelta(hours=49), "expired"),
    ],
)
def test_freshness_follows_the_sync_interval(
    app: Flask, client: FlaskClient, forge_headers: Headers, age: timedelta, freshness: str
) -> None:
    connect(app, client, forge_headers)
    store(app, "api_manager", "env-prod", age=age - timedelta(seconds=5))
    body = read(client, forge_headers, "api_manager").json
    assert body["freshness"] == freshness
    assert body["stale"] is (freshness != "fresh")
    assert body["stale_fallback"] is False
    assert body["coverage"] == "full"
    assert body["items"] == [{"environment_id": "env-prod", "id": 1, "status": "active"}]
    assert body["last_successful_fetch"] is not None


def test_never_refreshed(app: Flask, client: FlaskClient, forge_headers: Headers) -> None:
    connect(app, client, forge_headers)
    response = read(client, forge_headers, "runtime_manager")
    assert response.status_code == 200
    body = response.json
    assert body["freshness"] == "never"
    assert body["last_successful_fetch"] is None
    assert (body["items"], body["item_count"], body["coverage"]) == ([], 0, "none")
    assert body["sync_interval_hours"] == 24


def test_a_failure_without_data_is_still_never(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers)
    store(app, "api_manager", "env-prod", age=None)
    body = read(client, forge_headers, "api_manager").json
    assert body["freshness"] == "never" and body["stale_fallback"] is False
    assert body["environments"][0]["outcome"] == "forbidden"


def test_stale_fallback_and_the_oldest_part_decides(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, sync_interval_hours=6)
    store(app, "api_manager", "env-sbx", age=timedelta(hours=1))
    store(app, "api_manager", "env-prod", age=timedelta(hours=8), failed_since=True)
    body = read(client, forge_headers, "api_manager").json
    assert body["freshness"] == "stale"  # Production's data is 8 h old with a 6 h interval
    assert body["stale_fallback"] is True and body["stale"] is True
    assert body["coverage"] == "partial"
    prod = next(e for e in body["environments"] if e["environment_id"] == "env-prod")
    assert prod["stale_fallback"] is True and prod["last_error"] == "timeout: timed out"


def test_a_refreshed_space_reads_without_calling_anypoint(
    app: Flask, client: FlaskClient, forge_headers: Headers, forge_keys: Any
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    refresh(client, forge_headers)
    app.config["MULESIGHT_ANYPOINT_MODE"] = "live"  # any Anypoint call would now fail
    calls = len(forge_keys.mock.calls)
    for dataset in ("exchange", "runtime_manager", "api_manager", "api_security_posture"):
        body = read(client, forge_headers, dataset).json
        assert body["freshness"] == "fresh" and body["coverage"] == "full", dataset
        assert body["item_count"] > 0
    assert all("anypoint" not in c.request.url for c in forge_keys.mock.calls[calls:])

    diagnostics = read(client, forge_headers, "diagnostics").json
    assert diagnostics["freshness"] == "not_applicable"
    assert {i["name"] for i in diagnostics["items"]} == {"Production", "Sandbox"}


def test_environment_and_target_filters(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    refresh(client, forge_headers)
    by_name = read(client, forge_headers, "api_manager", environment="production").json
    assert by_name["environment_id"] == "env-prod"
    assert by_name["item_count"] == 6
    assert {i["environment_id"] for i in by_name["items"]} == {"env-prod"}

    by_id = read(client, forge_headers, "runtime_manager", environment_id="env-sbx").json
    envs = {e["environment_id"] for e in by_id["environments"]}
    assert envs == {"env-sbx", None}  # the organization-level targets apply to every environment

    api_id = str(by_name["items"][0]["id"])
    one = read(client, forge_headers, "api_manager", target=api_id).json
    assert [str(i["id"]) for i in one["items"]] == [api_id]


def test_the_ops_dashboard_counts_per_environment(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    refresh(client, forge_headers, dataset="ops_dashboard")
    body = read(client, forge_headers, "ops_dashboard").json
    assert body["sources"] == ["runtime_manager", "api_manager"]
    assert body["freshness"] == "fresh" and body["coverage"] == "full"
    counts = {i["environment_name"]: i for i in body["items"]}
    assert set(counts) == {"Production", "Sandbox"}
    prod = counts["Production"]
    assert (prod["applications"], prod["deployments"], prod["apis"]) == (4, 3, 6)
    assert prod["application_statuses"] == {"started": 4}
    assert prod["deployment_statuses"] == {"running": 3}
    assert prod["api_statuses"] == {"active": 6}
    assert prod["missing"] == []
    sandbox = counts["Sandbox"]
    assert (sandbox["applications"], sandbox["deployments"], sandbox["apis"]) == (2, 1, 3)


def test_the_ops_dashboard_takes_the_worst_of_its_sources(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="api-manager-sandbox-only")
    refresh(client, forge_headers, dataset="ops_dashboard")
    body = read(client, forge_headers, "ops_dashboard").json
    assert body["coverage"] == "partial"
    prod = next(i for i in body["items"] if i["environment_id"] == "env-prod")
    assert prod["apis"] == 0 and prod["applications"] == 4

    store(app, "api_manager", "env-sbx", age=timedelta(hours=60))
    assert read(client, forge_headers, "ops_dashboard").json["freshness"] == "expired"


def test_endpoints_are_never_until_seeded_then_fresh_until_the_version_moves(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    assert read(client, forge_headers, "endpoints").json["freshness"] == "never"
    asset = REST_ASSETS[0]
    refresh(
        client,
        forge_headers,
        dataset="endpoints",
        group_id=asset.group_id,
        asset_id=asset.asset_id,
        version=asset.version,
    )
    body = read(client, forge_headers, "endpoints").json
    assert body["freshness"] == "fresh"
    [item] = body["items"]
    assert item["asset"] == f"{asset.group_id}/{asset.asset_id}"
    assert item["version"] == asset.version and item["endpoints"]

    newer = {"groupId": asset.group_id, "assetId": asset.asset_id, "version": "99.0.0"}
    store(app, "exchange", None, age=timedelta(hours=1), items=[newer])
    assert read(client, forge_headers, "endpoints").json["freshness"] == "stale"
    target = f"{asset.group_id}/{asset.asset_id}/{asset.version}"
    assert read(client, forge_headers, "endpoints", target=target).json["item_count"] == 1
    assert read(client, forge_headers, "endpoints", target="x/y").json["item_count"] == 0


@pytest.mark.parametrize("dataset", ["rovo", "nope", "Exchange"])
def test_unreadable_datasets_are_404_naming_them(
    app: Flask, client: FlaskClient, forge_headers: Headers, dataset: str
) -> None:
    connect(app, client, forge_headers)
    response = read(client, forge_headers, dataset)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert dataset in response.json["error"]["message"]


def test_reads_are_tenant_scoped_and_validated(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    refresh(client, forge_headers, dataset="api_manager")
    other = client.get(
        "/forge/v1/datasets/api_manager",
        query_string={"space_key": "OPS"},
        headers=forge_headers(SITE_B),
    )
    assert other.status_code == 404
    assert "items" not in other.json
    assert read(client, forge_headers, "api_manager", space_key="DEV").status_code == 404
    missing = client.get("/forge/v1/datasets/api_manager", headers=forge_headers())
    assert missing.status_code == 422 and "space_key" in missing.json["error"]["fields"]
    assert client.get("/forge/v1/datasets/api_manager?space_key=OPS").status_code == 401


def test_disabled_datasets_still_read_their_cache(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    refresh(client, forge_headers, dataset="api_manager")
    connect(app, client, forge_headers, datasets_enabled={"api_manager": False})
    set_scenario(app, "OPS", "healthy")
    body = read(client, forge_headers, "api_manager").json
    assert body["enabled"] is False and body["item_count"] == 9
