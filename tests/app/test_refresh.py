"""POST /forge/v1/refresh and the snapshot repository: every environment stored, failures keep
the last good data (stale fallback), endpoints seeded per asset, tenants kept apart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import storage
from app.crypto import SecretBox
from app.models import DatasetSnapshot
from app.services import anypoint as anypoint_service
from app.storage import snapshots
from diagnostics.simulator import load_scenario
from tests.app.conftest import CLOUD_A, CLOUD_B, SITE_A, SITE_B, make_app

URL = "/forge/v1/refresh"
SECRET = "Refresh-Client-Secret-5c4b3a29"
Headers = Callable[..., dict[str, str]]
HEALTHY = load_scenario("healthy")
REST_ASSETS = [a for a in HEALTHY.exchange_assets if a.type == "rest-api"]


def connect(
    app: Flask,
    client: FlaskClient,
    headers: Headers,
    key: str = "OPS",
    *,
    site: str = SITE_A,
    scenario: str | None = None,
    **changes: Any,
) -> None:
    """Connect a space through the API, then pin its simulated scenario in the database."""
    body = {
        "space_key": key,
        "client_id": "mulesight-client",
        "client_secret": SECRET,
        "control_plane": "us",
        "sync_interval_hours": 24,
        **changes,
    }
    response = client.put("/forge/v1/connection", json=body, headers=headers(site))
    assert response.status_code == 200, response.json
    if scenario is not None:
        set_scenario(app, key, scenario, site=site)


def set_scenario(app: Flask, key: str, scenario: str, *, site: str = SITE_A) -> None:
    with app.extensions["db"].session() as session:
        space = storage.get_space(session, site, key)
        space.scenario = scenario
        session.commit()


def rows(app: Flask, key: str = "OPS", site: str = SITE_A) -> dict[tuple[str, str | None], Any]:
    with app.extensions["db"].session() as session:
        space = storage.get_space(session, site, key)
        return {
            (r.dataset, r.environment_id): r for r in snapshots.list_snapshots(session, space.id)
        }


def refresh(client: FlaskClient, headers: Headers, **body: Any) -> Any:
    return client.post(URL, json={"space_key": "OPS", **body}, headers=headers())


def by_dataset(response: Any) -> dict[str, dict[str, Any]]:
    return {d["dataset"]: d for d in response.json["datasets"]}


# -- the route -------------------------------------------------------------------------------------


def test_refresh_stores_a_snapshot_for_every_environment(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    response = refresh(client, forge_headers)
    assert response.status_code == 200, response.json
    summary = by_dataset(response)
    assert set(summary) == {
        "diagnostics",
        "exchange",
        "runtime_manager",
        "api_manager",
        "api_security_posture",
    }
    assert all(d["status"] == "ok" and d["coverage"] == "full" for d in summary.values())
    assert summary["api_manager"]["item_count"] == 9
    assert SECRET not in response.get_data(as_text=True)

    stored = rows(app)
    for dataset in ("runtime_manager", "api_manager", "api_security_posture"):
        for env in ("env-prod", "env-sbx"):
            row = stored[(dataset, env)]
            assert row.fetched_at is not None and row.fetched_at == row.last_attempt_at
            assert row.last_error is None and row.coverage == "full"
            assert row.item_count == len(row.payload["items"])
    assert stored[("api_manager", "env-prod")].item_count == 6
    assert stored[("api_manager", "env-sbx")].item_count == 3
    assert ("runtime_manager", None) in stored  # Runtime Fabric targets: organization level
    assert ("api_manager", None) not in stored
    assert stored[("exchange", None)].item_count == len(HEALTHY.exchange_assets)
    kinds = {i["_kind"] for i in stored[("runtime_manager", "env-prod")].payload["items"]}
    assert kinds == {"cloudhub_app", "deployment"}


def test_one_environment_denied_is_partial_and_recorded(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="api-manager-sandbox-only")
    response = refresh(client, forge_headers, dataset="api_manager")
    assert response.status_code == 200, response.json
    summary = by_dataset(response)
    assert set(summary) == {"api_manager"}
    api = summary["api_manager"]
    assert (api["status"], api["coverage"], api["reason"]) == ("partial", "partial", "auth_blocked")
    assert api["item_count"] == 3
    [failed] = api["failed_environments"]
    assert failed["environment_id"] == "env-prod"
    assert failed["environment_name"] == "Production"
    assert failed["outcome"] == "forbidden"

    prod = rows(app)[("api_manager", "env-prod")]
    assert prod.fetched_at is None and prod.payload is None
    assert prod.last_error.startswith("forbidden: ")
    assert prod.coverage == "none"


def test_a_failing_refresh_keeps_the_last_good_snapshot(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    assert refresh(client, forge_headers).status_code == 200
    before = rows(app)

    set_scenario(app, "OPS", "invalid-credentials")
    response = refresh(client, forge_headers)
    assert response.status_code == 200
    assert all(d["status"] == "failed" for d in response.json["datasets"])

    after = rows(app)
    assert set(after) == set(before)
    for key, row in after.items():
        assert row.fetched_at == before[key].fetched_at, key  # the last successful fetch
        assert row.payload == before[key].payload, key
        assert row.last_attempt_at > before[key].last_attempt_at
        assert row.last_error.startswith("forbidden: "), key
    assert SECRET not in response.get_data(as_text=True)

    read = client.get(
        "/forge/v1/datasets/api_manager", query_string={"space_key": "OPS"}, headers=forge_headers()
    )
    assert read.json["stale_fallback"] is True
    assert read.json["item_count"] == 9
    assert read.json["last_successful_fetch"] is not None


def test_one_environment_failing_later_falls_back_to_its_last_good_data(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    refresh(client, forge_headers, dataset="api_manager")
    good = rows(app)[("api_manager", "env-prod")]

    set_scenario(app, "OPS", "api-manager-sandbox-only")
    refresh(client, forge_headers, dataset="api_manager")
    stored = rows(app)
    prod, sandbox = stored[("api_manager", "env-prod")], stored[("api_manager", "env-sbx")]
    assert (prod.fetched_at, prod.payload, prod.item_count) == (
        good.fetched_at,
        good.payload,
        6,
    )
    assert prod.last_error.startswith("forbidden: ")
    assert sandbox.last_error is None and sandbox.fetched_at > good.fetched_at

    read = client.get(
        "/forge/v1/datasets/api_manager", query_string={"space_key": "OPS"}, headers=forge_headers()
    )
    body = read.json
    assert body["stale_fallback"] is True and body["coverage"] == "partial"
    assert body["item_count"] == 9  # Production's last good instances are still served
    states = {e["environment_id"]: e for e in body["environments"]}
    assert states["env-prod"]["stale_fallback"] is True
    assert states["env-prod"]["outcome"] == "forbidden"


def test_disabled_datasets(app: Flask, client: FlaskClient, forge_headers: Headers) -> None:
    connect(
        app,
        client,
        forge_headers,
        scenario="healthy",
        datasets_enabled={"api_security_posture": False, "exchange": False},
    )
    response = refresh(client, forge_headers)
    summary = by_dataset(response)
    assert summary["exchange"]["status"] == "disabled"
    assert summary["api_security_posture"]["status"] == "disabled"
    assert summary["api_manager"]["status"] == "ok"
    assert ("exchange", None) not in rows(app)

    one = refresh(client, forge_headers, dataset="exchange")
    assert one.status_code == 409
    assert one.json["error"]["code"] == "dataset_disabled"


def test_a_derived_dataset_refreshes_its_sources(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    response = refresh(client, forge_headers, dataset="ops_dashboard")
    assert set(by_dataset(response)) == {"runtime_manager", "api_manager"}
    rovo = refresh(client, forge_headers, dataset="rovo")  # the dashboard's picker offers it
    assert rovo.status_code == 200, rovo.json
    assert set(by_dataset(rovo)) == {"runtime_manager", "api_manager"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataset": "nope"}, "dataset"),
        ({"space_key": "not a key"}, "space_key"),
        ({"dataset": "api_manager", "group_id": "g"}, "group_id"),
        ({"dataset": "endpoints", "group_id": "g"}, "asset_id"),
        ({"dataset": "endpoints", "target": "only-a-group"}, "target"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    app: Flask, client: FlaskClient, forge_headers: Headers, body: dict[str, Any], field: str
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    response = refresh(client, forge_headers, **body)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"]


def test_a_body_that_is_not_json_is_400(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    response = client.post(URL, data="{", content_type="application/json", headers=forge_headers())
    assert response.status_code == 400
    assert "error" in response.json


def test_unknown_space_and_no_token(client: FlaskClient, forge_headers: Headers) -> None:
    assert refresh(client, forge_headers).status_code == 404
    assert client.post(URL, json={"space_key": "OPS"}).status_code == 401


def test_another_site_cannot_refresh_or_read_the_space(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    refresh(client, forge_headers, dataset="api_manager")
    before = rows(app)

    other = client.post(URL, json={"space_key": "OPS"}, headers=forge_headers(SITE_B))
    assert other.status_code == 404
    assert other.json["error"]["code"] == "not_found"
    read = client.get(
        "/forge/v1/datasets/api_manager",
        query_string={"space_key": "OPS"},
        headers=forge_headers(SITE_B),
    )
    assert read.status_code == 404
    text = read.get_data(as_text=True) + other.get_data(as_text=True)
    assert "env-prod" not in text and "Production" not in text
    after = rows(app)
    assert {k: r.last_attempt_at for k, r in after.items()} == {
        k: r.last_attempt_at for k, r in before.items()
    }


# -- endpoints -------------------------------------------------------------------------------------


def test_endpoints_are_seeded_per_asset_and_merged(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    first, second = REST_ASSETS[:2]
    response = refresh(
        client,
        forge_headers,
        dataset="endpoints",
        group_id=first.group_id,
        asset_id=first.asset_id,
        version=first.version,
    )
    assert response.status_code == 200, response.json
    [seeded] = response.json["datasets"]
    assert seeded["status"] == "ok" and seeded["asset"] == f"{first.group_id}/{first.asset_id}"

    # What the Exchange macro sends: its target without a version (the Exchange cache's version).
    refresh(client, forge_headers, dataset="exchange")
    target = f"{second.group_id}/{second.asset_id}"
    response = refresh(
        client,
        forge_headers,
        dataset="endpoints",
        target=target,
        mode="endpoints",
        environment=None,
    )
    assert response.status_code == 200, response.json

    row = rows(app)[("endpoints", None)]
    assets = row.payload["assets"]
    assert set(assets) == {f"{a.group_id}/{a.asset_id}" for a in (first, second)}
    entry = assets[f"{first.group_id}/{first.asset_id}"]
    assert entry["version"] == first.version and entry["name"] == first.name
    noun = first.asset_id.split("-")[0]
    assert {"method": "POST", "path": f"/{noun}"} in [
        {k: e[k] for k in ("method", "path")} for e in entry["endpoints"]
    ]
    assert row.asset_version == second.version
    assert row.item_count == sum(len(a["endpoints"]) for a in assets.values())

    # No asset named: every cached asset is re-seeded.
    again = refresh(client, forge_headers, dataset="endpoints")
    assert {d["asset"] for d in again.json["datasets"]} == set(assets)


def test_endpoints_need_an_asset_and_a_version(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    nothing = refresh(client, forge_headers, dataset="endpoints")
    assert nothing.status_code == 422
    assert "group_id" in nothing.json["error"]["fields"]
    no_version = refresh(client, forge_headers, dataset="endpoints", target="org/orders-api")
    assert no_version.status_code == 422
    assert "version" in no_version.json["error"]["fields"]


def test_a_failed_seed_keeps_the_cached_endpoints(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    connect(app, client, forge_headers, scenario="healthy")
    asset = REST_ASSETS[0]
    ref = {"group_id": asset.group_id, "asset_id": asset.asset_id, "version": asset.version}
    refresh(client, forge_headers, dataset="endpoints", **ref)
    good = rows(app)[("endpoints", None)]

    missing = refresh(client, forge_headers, dataset="endpoints", **{**ref, "version": "9.9.9"})
    [result] = missing.json["datasets"]
    assert result["status"] == "failed"
    assert result["failed_environments"][0]["outcome"] == "forbidden"
    row = rows(app)[("endpoints", None)]
    assert (row.payload, row.fetched_at) == (good.payload, good.fetched_at)
    assert "read:exchange" in row.last_error


# -- live Anypoint (the real client against `responses`) -------------------------------------------

ANYPOINT = "https://anypoint.mulesoft.com"
ORG = "8a1b2c3d-0000-4000-8000-123456789abc"


def test_live_refresh_through_the_real_client(
    tmp_path: Any, forge_keys: Any, forge_headers: Headers, app_config: dict[str, Any]
) -> None:
    app = make_app({**app_config, "MULESIGHT_ANYPOINT_MODE": "live"})
    try:
        client = app.test_client()
        connect(app, client, forge_headers, organization_id=ORG)
        mock = forge_keys.mock
        mock.post(
            f"{ANYPOINT}/accounts/api/v2/oauth2/token",
            json={"access_token": "live-token-1", "token_type": "bearer", "expires_in": 3600},
        )
        mock.get(
            f"{ANYPOINT}/accounts/api/organizations/{ORG}/environments",
            json={
                "data": [
                    {"id": "env-prod", "name": "Production", "type": "production"},
                    {"id": "env-sbx", "name": "Sandbox", "type": "sandbox"},
                ],
                "total": 2,
            },
        )
        apis = f"{ANYPOINT}/apimanager/api/v1/organizations/{ORG}/environments"
        mock.get(f"{apis}/env-prod/apis", status=403, json={"message": "Forbidden"})
        mock.get(
            f"{apis}/env-sbx/apis",
            json={
                "total": 1,
                "assets": [
                    {
                        "groupId": ORG,
                        "assetId": "orders-api",
                        "exchangeAssetName": "Orders API",
                        "apis": [{"id": 101, "assetVersion": "1.0.0", "status": "active"}],
                    }
                ],
            },
        )
        response = refresh(client, forge_headers, dataset="api_manager")
        assert response.status_code == 200, response.json
        api = by_dataset(response)["api_manager"]
        assert api["status"] == "partial" and api["item_count"] == 1
        token_call = next(c for c in mock.calls if c.request.url.endswith("/oauth2/token"))
        assert SECRET in (token_call.request.body or "")  # sent to Anypoint, and only there
        assert SECRET not in response.get_data(as_text=True)
        stored = rows(app)
        assert stored[("api_manager", "env-sbx")].payload["items"][0]["assetId"] == "orders-api"
        assert "live-token-1" not in (stored[("api_manager", "env-prod")].last_error or "")
    finally:
        app.extensions["db"].dispose()


class RecordingLimiter:
    """A shared budget's limiter that lets every call through and notes it."""

    def __init__(self) -> None:
        self.hosts: list[str] = []

    def acquire(self, host: str, deadline: float | None = None) -> bool:
        self.hosts.append(host)
        return True


def test_a_live_refresh_spends_the_organizations_shared_budget(
    forge_keys: Any,
    forge_headers: Headers,
    app_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Like a diagnosis, a refresh takes its turns (and its token) from the budget every process
    shares for the organization, not from a rate limit of its own."""
    limiter, tokens = RecordingLimiter(), {}
    monkeypatch.setattr(anypoint_service, "shared_budget", lambda *_: (limiter, tokens))
    app = make_app({**app_config, "MULESIGHT_ANYPOINT_MODE": "live"})
    try:
        client = app.test_client()
        connect(app, client, forge_headers, organization_id=ORG)
        mock = forge_keys.mock
        mock.post(
            f"{ANYPOINT}/accounts/api/v2/oauth2/token",
            json={"access_token": "live-token-2", "token_type": "bearer", "expires_in": 3600},
        )
        mock.get(
            f"{ANYPOINT}/accounts/api/organizations/{ORG}/environments",
            json={"data": [{"id": "env-sbx", "name": "Sandbox", "type": "sandbox"}], "total": 1},
        )
        apis = f"{ANYPOINT}/apimanager/api/v1/organizations/{ORG}/environments/env-sbx/apis"
        mock.get(apis, json={"total": 0, "assets": []})

        response = refresh(client, forge_headers, dataset="api_manager")

        assert response.status_code == 200, response.json
        sent = [c for c in mock.calls if c.request.url.startswith(ANYPOINT)]
        assert len(sent) == 3 and limiter.hosts == ["anypoint.mulesoft.com"] * 3
        assert len(tokens) == 1  # the token went to the shared cache
    finally:
        app.extensions["db"].dispose()


# -- the repository, on SQLite and PostgreSQL ------------------------------------------------------


@pytest.fixture
def session(app_config: dict[str, Any], database_url: str) -> Iterator[Session]:
    app = make_app({**app_config, "MULESIGHT_DATABASE_URL": database_url})
    try:
        with app.extensions["db"].session() as session:
            storage.ensure_installation(session, SITE_A, CLOUD_A)
            storage.ensure_installation(session, SITE_B, CLOUD_B)
            session.commit()
            yield session
    finally:
        app.extensions["db"].dispose()


def _space(session: Session, key: str = "OPS", site: str = SITE_A) -> Any:
    space = storage.save_connection(
        session,
        SecretBox("k" * 32),
        site,
        space_key=key,
        client_id="c",
        control_plane="us",
        sync_interval_hours=24,
    )
    session.commit()
    return space


NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_upserts_keep_one_row_per_environment_and_the_last_good_data(session: Session) -> None:
    space = _space(session)
    for env in (None, "env-prod"):
        snapshots.store_success(
            session,
            space.id,
            "exchange",
            env,
            at=NOW,
            payload={"items": [{"a": 1}]},
            item_count=1,
            coverage="full",
        )
        snapshots.store_failure(
            session,
            space.id,
            "exchange",
            env,
            at=NOW + timedelta(hours=1),
            outcome="timeout",
            error="GET /x timed out",
        )
    session.commit()
    stored = session.scalars(select(DatasetSnapshot).where(DatasetSnapshot.space_id == space.id))
    found = list(stored)
    assert len(found) == 2  # a NULL environment is one value too
    for row in snapshots.list_snapshots(session, space.id):
        assert row.fetched_at == NOW and row.payload == {"items": [{"a": 1}]}
        assert row.last_attempt_at == NOW + timedelta(hours=1)
        assert row.last_error == "timeout: GET /x timed out"
        assert snapshots.error_outcome(row.last_error) == "timeout"
    cache = snapshots.dataset_cache(session, space.id, "exchange")
    assert cache.stale_fallback and cache.last_success == NOW and cache.item_count == 2
    entry = snapshots.cache_entries(session, space.id)["exchange"]
    assert entry.last_attempt_failed and entry.last_success == NOW


def test_a_first_failure_has_no_data_and_success_clears_the_error(session: Session) -> None:
    space = _space(session)
    snapshots.store_failure(
        session, space.id, "api_manager", "env-prod", at=NOW, outcome="forbidden", error="403"
    )
    row = snapshots.get_snapshot(session, space.id, "api_manager", "env-prod")
    assert row is not None and row.fetched_at is None and row.payload is None
    assert not snapshots.dataset_cache(session, space.id, "api_manager").stale_fallback
    snapshots.store_success(
        session,
        space.id,
        "api_manager",
        "env-prod",
        at=NOW,
        payload={"items": []},
        item_count=0,
        coverage="full",
    )
    row = snapshots.get_snapshot(session, space.id, "api_manager", "env-prod")
    assert row is not None and row.last_error is None and row.fetched_at == NOW


def test_rows_of_deleted_environments_are_dropped(session: Session) -> None:
    space = _space(session)
    for env in (None, "env-a", "env-b"):
        snapshots.store_success(
            session,
            space.id,
            "runtime_manager",
            env,
            at=NOW,
            payload={"items": []},
            item_count=0,
            coverage="full",
        )
    assert (
        snapshots.delete_other_environments(session, space.id, "runtime_manager", ["env-a", None])
        == 1
    )
    assert snapshots.delete_other_environments(session, space.id, "runtime_manager", ["env-a"]) == 1
    session.commit()
    assert [r.environment_id for r in snapshots.list_snapshots(session, space.id)] == ["env-a"]


def test_snapshots_belong_to_their_space(session: Session) -> None:
    ours, theirs = _space(session), _space(session, site=SITE_B)
    snapshots.store_success(
        session,
        ours.id,
        "exchange",
        None,
        at=NOW,
        payload={"items": [1]},
        item_count=1,
        coverage="full",
    )
    session.commit()
    assert snapshots.list_snapshots(session, theirs.id) == []
    assert snapshots.cache_entries(session, theirs.id) == {}
