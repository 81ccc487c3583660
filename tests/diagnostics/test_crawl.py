"""A full dataset crawl: every page, every environment, failures recorded per environment."""

from __future__ import annotations

import json
from datetime import UTC
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from diagnostics.anypoint import TOKEN_PATH, AnypointClient, RetryPolicy
from diagnostics.crawl import CrawlResult, Snapshot, crawl_datasets
from diagnostics.model import Connection, Environment
from diagnostics.runner import RunnerSettings
from diagnostics.simulator import Simulation, load_scenario, simulated_session

BASE = "https://anypoint.mulesoft.com"
ORG = "org-1"
SECRET = "s3cr3t-never-shown"
PROD = Environment("env-prod", "Production", "production")
SBX = Environment("env-sbx", "Sandbox", "sandbox")
ENVS_URL = f"{BASE}/accounts/api/organizations/{ORG}/environments"
EXCHANGE_URL = f"{BASE}/exchange/api/v2/assets/search"
CLOUDHUB_URL = f"{BASE}/cloudhub/api/v2/applications"
RTF_URL = f"{BASE}/runtimefabric/api/organizations/{ORG}/targets"


def apis_url(env: str) -> str:
    return f"{BASE}/apimanager/api/v1/organizations/{ORG}/environments/{env}/apis"


def deployments_url(env: str) -> str:
    return (
        f"{BASE}/amc/application-manager/api/v2/organizations/{ORG}/environments/{env}/deployments"
    )


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(BASE + TOKEN_PATH, json={"access_token": "tok-1", "expires_in": 3600})
        yield mock


@pytest.fixture
def client():
    retry = RetryPolicy(max_attempts=2, sleep=lambda _: None, random=lambda: 0.0)
    with AnypointClient(Connection("cid", SECRET, ORG), retry=retry) as made:
        yield made


def paged(items: list[dict], wrap=None):
    """A responses callback that answers ``offset`` / ``limit`` pages of ``items``."""

    def answer(request):
        query = parse_qs(urlsplit(request.url).query)
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        page = items[offset : offset + limit]
        return 200, {}, json.dumps(wrap(page) if wrap else page)

    return answer


def api_groups(env: str, count: int) -> list[dict]:
    """API Manager asset groups of one instance each."""
    return [
        {"groupId": ORG, "assetId": f"api-{i}", "apis": [{"id": f"{env}-{i}", "status": "ACTIVE"}]}
        for i in range(count)
    ]


def ids(items: list[dict]) -> list:
    return [item.get("id", item.get("policyId")) for item in items]


def only(result: CrawlResult, dataset: str, env: str | None, source: str | None = None) -> Snapshot:
    snapshot = result.snapshot(dataset, env, source)
    assert snapshot is not None
    return snapshot


# -- with `responses` ------------------------------------------------------------------------


def test_a_503_in_one_environment_does_not_lose_the_others(rsps, client):
    rsps.get(apis_url("env-prod"), status=503, json={"message": "service unavailable"})
    groups = api_groups("env-sbx", 3)
    rsps.add_callback(
        "GET", apis_url("env-sbx"), callback=paged(groups, lambda p: {"total": 3, "assets": p})
    )

    result = crawl_datasets(client, ORG, ["api_manager"], environments=[PROD, SBX])

    prod, sbx = only(result, "api_manager", "env-prod"), only(result, "api_manager", "env-sbx")
    assert prod.outcome == "error"
    assert prod.items == [] and prod.item_count == 0
    assert "503" in (prod.error or "")
    assert sbx.outcome == "ok" and sbx.error is None
    assert [i["id"] for i in sbx.items] == ["env-sbx-0", "env-sbx-1", "env-sbx-2"]
    assert sbx.items[0]["assetId"] == "api-0"  # flattened with its asset's identity
    assert result.coverage == {"api_manager": "partial"}
    assert result.reasons == {"api_manager": "unreachable"}
    assert not any(call.request.url.startswith(ENVS_URL) for call in rsps.calls)


def test_pages_are_followed_to_the_end(rsps, client):
    assets = [{"groupId": ORG, "assetId": f"a{i}", "version": "1.0.0"} for i in range(5)]
    rsps.add_callback("GET", EXCHANGE_URL, callback=paged(assets))
    groups = api_groups("env-prod", 7)
    rsps.add_callback(
        "GET", apis_url("env-prod"), callback=paged(groups, lambda p: {"total": 7, "assets": p})
    )

    result = crawl_datasets(
        client, ORG, ["exchange", "api_manager"], environments=[PROD], page_size=2
    )

    exchange = only(result, "exchange", None)
    assert [a["assetId"] for a in exchange.items] == [f"a{i}" for i in range(5)]
    assert only(result, "api_manager", "env-prod").item_count == 7
    exchange_calls = [c for c in rsps.calls if c.request.url.startswith(EXCHANGE_URL)]
    assert len(exchange_calls) == 3  # 2 + 2 + 1
    assert "organizationId=org-1" in exchange_calls[0].request.url
    assert len([c for c in rsps.calls if c.request.url.startswith(apis_url("env-prod"))]) == 4
    assert result.coverage == {"exchange": "full", "api_manager": "full"}


def test_environments_are_listed_unless_given(rsps, client):
    rsps.get(
        ENVS_URL,
        json={
            "data": [
                {"id": "env-prod", "name": "Production", "isProduction": True},
                {"id": "env-sbx", "name": "Sandbox", "type": "sandbox"},
            ],
            "total": 2,
        },
    )
    rsps.get(CLOUDHUB_URL, json=[{"domain": "orders", "status": "STARTED"}])
    rsps.get(deployments_url("env-prod"), json={"items": []})
    rsps.get(deployments_url("env-sbx"), json={"items": [{"id": "d1", "name": "pay"}]})
    rsps.get(RTF_URL, json=[{"id": "t1", "name": "ch2-us"}])

    result = crawl_datasets(client, ORG, ["runtime_manager", "diagnostics"])

    assert result.environments == [PROD, SBX]
    assert only(result, "diagnostics", None).item_count == 2
    apps = [s for s in result.for_dataset("runtime_manager") if s.source.endswith("cloudhub_apps")]
    assert [(s.environment_id, s.items[0]["status"]) for s in apps] == [
        ("env-prod", "started"),
        ("env-sbx", "started"),
    ]
    cloudhub_headers = [
        c.request.headers["X-ANYPNT-ENV-ID"] for c in rsps.calls if "cloudhub" in c.request.url
    ]
    assert sorted(cloudhub_headers) == ["env-prod", "env-sbx"]
    assert (
        only(result, "runtime_manager", "env-prod", "runtime_manager.deployments").outcome
        == "empty"
    )
    assert only(result, "runtime_manager", None).source == "runtime_manager.rtf_targets"
    assert result.coverage == {"diagnostics": "full", "runtime_manager": "full"}
    assert all(s.fetched_at.tzinfo is UTC for s in result.snapshots)


def test_forbidden_environment_list_skips_every_environment_dataset(rsps, client):
    rsps.get(ENVS_URL, status=403, json={"message": "missing read:orgenvironments"})
    rsps.get(EXCHANGE_URL, json=[])

    result = crawl_datasets(
        client, ORG, ["diagnostics", "exchange", "api_manager", "api_security_posture"]
    )

    assert result.coverage == {
        "diagnostics": "none",
        "exchange": "full",
        "api_manager": "none",
        "api_security_posture": "none",
    }
    assert result.reasons["api_manager"] == "auth_blocked"
    skipped = only(result, "api_manager", None)
    assert skipped.outcome == "skipped"
    assert skipped.error == "not run: Environments answered forbidden"
    assert only(result, "api_security_posture", None).outcome == "skipped"
    assert only(result, "diagnostics", None).outcome == "forbidden"


def test_security_posture_combines_policies_tiers_and_contracts(rsps, client):
    groups = api_groups("env-prod", 2)
    rsps.get(apis_url("env-prod"), json={"total": 2, "assets": groups})
    for api in ("env-prod-0", "env-prod-1"):
        base = f"{apis_url('env-prod')}/{api}"
        rsps.get(f"{base}/tiers", json={"total": 1, "tiers": [{"id": 1, "name": "Gold"}]})
        rsps.get(f"{base}/contracts", json={"total": 0, "contracts": []})
    rsps.get(f"{apis_url('env-prod')}/env-prod-0/policies", json=[{"id": 7, "assetId": "rate"}])
    rsps.get(f"{apis_url('env-prod')}/env-prod-1/policies", status=403, json={"message": "no"})

    result = crawl_datasets(
        client, ORG, ["api_manager", "api_security_posture"], environments=[PROD]
    )

    posture = only(result, "api_security_posture", "env-prod")
    assert posture.outcome == "forbidden"
    first, second = posture.items
    assert first == {
        "api_id": "env-prod-0",
        "environment_id": "env-prod",
        "policies": [{"id": 7, "assetId": "rate"}],
        "tiers": [{"id": 1, "name": "Gold"}],
        "contracts": [],
    }
    assert second["policies"] is None
    assert "403" in second["errors"]["policies"]
    assert second["tiers"] == [{"id": 1, "name": "Gold"}]
    assert result.coverage == {"api_manager": "full", "api_security_posture": "partial"}
    # the instances were listed once, for both datasets
    assert len([c for c in rsps.calls if c.request.url.split("?")[0] == apis_url("env-prod")]) == 1


def test_errors_never_carry_secrets(rsps, client):
    rsps.get(apis_url("env-prod"), status=500, json={"message": f"boom {SECRET} Bearer tok-1"})

    result = crawl_datasets(client, ORG, ["api_manager"], environments=[PROD])

    error = only(result, "api_manager", "env-prod").error or ""
    assert SECRET not in error and "tok-1" not in error


def test_unknown_datasets_are_refused_and_derived_ones_ignored(client):
    with pytest.raises(ValueError, match="nonsense"):
        crawl_datasets(client, ORG, ["nonsense"], environments=[])
    result = crawl_datasets(client, ORG, ["rovo", "ops_dashboard", "endpoints"], environments=[])
    assert result.snapshots == [] and result.coverage == {}


def test_a_spent_deadline_times_out_every_call_without_a_request(rsps, client):
    result = crawl_datasets(
        client, ORG, ["exchange", "api_manager"], deadline=client.retry.clock() - 1
    )

    assert {s.outcome for s in result.snapshots} == {"timeout", "skipped"}
    assert result.coverage == {"exchange": "none", "api_manager": "none"}
    assert result.reasons == {"exchange": "unreachable", "api_manager": "unreachable"}
    assert len(rsps.calls) == 0


# -- with the simulated Anypoint -------------------------------------------------------------

SCHEDULED = ["diagnostics", "exchange", "runtime_manager", "api_manager", "api_security_posture"]


@pytest.fixture
def simulate():
    """``simulate(name) -> (scenario, client, urls)`` for a built-in scenario; ``urls`` lists
    every request sent."""
    opened: list = []

    def make(name: str):
        scenario = load_scenario(name)
        session = simulated_session(scenario)
        urls: list[str] = []
        session.hooks["response"].append(lambda response, **_: urls.append(response.url))
        made = AnypointClient(Connection("cid", SECRET, scenario.org.id), session=session)
        opened.extend([made, session])
        return scenario, made, urls

    yield make
    for thing in opened:
        thing.close()


def test_healthy_crawl_holds_everything_the_organization_has(simulate):
    scenario, sim_client, _ = simulate("healthy")
    data = Simulation(scenario).data

    result = crawl_datasets(sim_client, scenario.org.id, SCHEDULED)

    assert result.coverage == dict.fromkeys(SCHEDULED, "full")
    assert result.environments == scenario.environments()
    assert ids(only(result, "exchange", None).items) == ids(data.assets)
    assert only(result, "exchange", None).item_count == len(scenario.exchange_assets) == 12
    for env in scenario.environments():
        counts = scenario.data[env.id]
        apps = only(result, "runtime_manager", env.id, "runtime_manager.cloudhub_apps")
        deployments = only(result, "runtime_manager", env.id, "runtime_manager.deployments")
        instances = only(result, "api_manager", env.id)
        posture = only(result, "api_security_posture", env.id)
        assert apps.item_count == counts.cloudhub_apps
        assert deployments.item_count == counts.deployments
        assert instances.item_count == posture.item_count == counts.apis
        assert [i["id"] for i in instances.items] == [api.id for api in data.apis[env.id]]
        for item in posture.items:  # statuses come normalised (ACTIVE -> active)
            for part in ("policies", "tiers", "contracts"):
                served = getattr(data, part)[item["api_id"]]
                assert ids(item[part]) == ids(served), part
    assert ids(only(result, "runtime_manager", None).items) == ids(data.targets)


def test_api_manager_granted_on_sandbox_only_is_partial(simulate):
    scenario, sim_client, _ = simulate("api-manager-sandbox-only")

    result = crawl_datasets(sim_client, scenario.org.id, ["api_manager", "api_security_posture"])

    prod, sbx = only(result, "api_manager", "env-prod"), only(result, "api_manager", "env-sbx")
    assert prod.outcome == "forbidden" and prod.items == []
    assert "403" in (prod.error or "")
    assert sbx.outcome == "ok" and sbx.error is None
    assert sbx.item_count == scenario.data["env-sbx"].apis
    assert result.coverage == {"api_manager": "partial", "api_security_posture": "partial"}
    assert result.reasons == {"api_manager": "auth_blocked", "api_security_posture": "auth_blocked"}
    assert only(result, "api_security_posture", "env-prod").outcome == "skipped"
    assert only(result, "api_security_posture", "env-sbx").outcome == "ok"


def test_small_pages_are_followed_across_the_whole_list(simulate):
    scenario, sim_client, urls = simulate("healthy")

    result = crawl_datasets(sim_client, scenario.org.id, ["exchange", "api_manager"], page_size=5)

    assert only(result, "exchange", None).item_count == 12
    search = [u for u in urls if "/assets/search" in u]
    assert len(search) == 3  # 5 + 5 + 2
    assert only(result, "api_manager", "env-prod").item_count == scenario.data["env-prod"].apis
    assert only(result, "api_manager", "env-sbx").item_count == scenario.data["env-sbx"].apis
    assert len([u for u in urls if "/environments/env-prod/apis" in u]) > 1


def test_snapshots_stream_out_as_each_environment_completes(simulate):
    scenario, sim_client, _ = simulate("healthy")
    streamed: list[Snapshot] = []

    result = crawl_datasets(
        sim_client, scenario.org.id, SCHEDULED, on_snapshot=streamed.append, page_size=5
    )

    kept = {(s.dataset, s.environment_id, s.source): s for s in result.snapshots}
    assert len(streamed) == len(kept) == len(result.snapshots)
    for s in streamed:  # the sink got the items; the result keeps only what was stored
        mirror = kept[(s.dataset, s.environment_id, s.source)]
        assert mirror.items == [] and mirror.item_count == s.item_count == len(s.items)
    posture = [s for s in streamed if s.dataset == "api_security_posture"]
    assert {s.environment_id for s in posture} == {"env-prod", "env-sbx"}
    assert all(item["policies"] is not None for s in posture for item in s.items)
    assert result.coverage == dict.fromkeys(SCHEDULED, "full")
    assert all(r.items is None for r in result.records)  # nothing held once streamed


def test_a_streamed_crawl_keeps_no_call_but_the_inventory_and_counts_every_one(simulate):
    scenario, sim_client, _ = simulate("api-manager-sandbox-only")
    datasets = ["api_manager", "api_security_posture"]
    kept = crawl_datasets(sim_client, scenario.org.id, datasets)

    streamed = crawl_datasets(sim_client, scenario.org.id, datasets, on_snapshot=lambda _: None)

    assert [r.probe.key for r in streamed.records] == ["diagnostics.environments"]
    assert len(kept.records) > len(scenario.environments()) + 1
    assert streamed.coverage == kept.coverage == dict.fromkeys(datasets, "partial")
    assert streamed.reasons == kept.reasons


def test_a_listings_items_are_visited_before_the_other_environments_are_listed(simulate):
    """Deepest probes first: an environment's API instances are crawled for their policies
    before the next environment's instances are listed (its listing is let go of early)."""
    scenario, sim_client, urls = simulate("healthy")
    datasets = ["runtime_manager", "api_manager", "api_security_posture"]

    crawl_datasets(sim_client, scenario.org.id, datasets, settings=RunnerSettings(concurrency=1))

    paths = [urlsplit(u).path for u in urls]
    first_posture = next(i for i, p in enumerate(paths) if p.endswith("/policies"))
    last_listing = max(i for i, p in enumerate(paths) if p.endswith("/apis"))
    assert paths[first_posture].split("/environments/")[1].startswith("env-prod/")
    assert first_posture < last_listing
