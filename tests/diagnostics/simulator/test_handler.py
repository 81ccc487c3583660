"""The pure Simulation: tokens, grants per endpoint family, faults, pagination, determinism."""

from __future__ import annotations

import base64
import io
import json
import threading
import zipfile
from collections.abc import Callable

import pytest

from diagnostics.simulator import Scenario, Simulation, load_scenario

from .conftest import BASE, FORM, ORG, TOKEN_BODY, SimClient

TOKEN_URL = f"{BASE}/accounts/api/v2/oauth2/token"
APIS = f"/apimanager/api/v1/organizations/{ORG}/environments/{{env}}/apis"
NOTHING_GRANTED = "name: locked\ngrants: {}\n"


def first_api(simulation: Simulation, env: str = "env-prod") -> int:
    return simulation.data.apis[env][0].id


# -- token and authentication ------------------------------------------------------------------


def test_token_accepts_any_client_and_is_deterministic(scenario: Callable[[str], Scenario]) -> None:
    one, two = Simulation(scenario("name: t\n")), Simulation(scenario("name: t\n"))

    answer = one.handle("POST", TOKEN_URL, FORM, TOKEN_BODY)
    assert answer.status == 200
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert (
        body["access_token"]
        == two.handle("POST", TOKEN_URL, FORM, TOKEN_BODY).json()["access_token"]
    )
    other = Simulation(scenario("name: another\n")).handle("POST", TOKEN_URL, FORM, TOKEN_BODY)
    assert other.json()["access_token"] != body["access_token"]


def test_token_also_takes_json_and_basic_credentials(scenario: Callable[[str], Scenario]) -> None:
    sim = Simulation(scenario("name: t\n"))
    as_json = json.dumps(
        {"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"}
    )
    basic = {**FORM, "Authorization": "Basic " + base64.b64encode(b"a:b").decode()}

    assert (
        sim.handle("POST", TOKEN_URL, {"Content-Type": "application/json"}, as_json).status == 200
    )
    assert sim.handle("POST", TOKEN_URL, basic, b"grant_type=client_credentials").status == 200
    assert (
        sim.handle("POST", TOKEN_URL, FORM, b"grant_type=password").json()["error"]
        == "unsupported_grant_type"
    )
    assert sim.handle("POST", TOKEN_URL, FORM, b"grant_type=client_credentials").status == 400


def test_invalid_credentials_answer_401_invalid_client(scenario: Callable[[str], Scenario]) -> None:
    sim = Simulation(scenario("name: t\ncredentials: invalid\n"))

    answer = sim.handle("POST", TOKEN_URL, FORM, TOKEN_BODY)

    assert answer.status == 401
    assert answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_data_calls_without_a_valid_token_answer_401(scenario, token: str | None) -> None:
    client = SimClient(Simulation(scenario("name: t\n")))
    client.token = token

    for path in (
        "/accounts/api/me",
        f"/accounts/api/organizations/{ORG}",
        "/exchange/api/v2/assets/search",
    ):
        assert client.get(path).status == 401


def test_me_names_the_connected_app(client: Callable[[str], SimClient]) -> None:
    body = client("name: t\n").get("/accounts/api/me").json()

    assert body == {"client": {"client_id": "cid", "name": "MuleSight", "org_id": ORG}}


# -- grants: how Anypoint answers a missing scope ------------------------------------------------


def family_paths(sim: Simulation) -> dict[str, tuple[str, dict[str, str]]]:
    api = first_api(sim)
    apis = APIS.format(env="env-prod")
    asset = sim.data.assets[0]
    return {
        "hierarchy": (f"/accounts/api/organizations/{ORG}/hierarchy", {}),
        "organization": (f"/accounts/api/organizations/{ORG}", {}),
        "environments": (f"/accounts/api/organizations/{ORG}/environments", {}),
        "cloudhub": (
            "/cloudhub/api/v2/applications",
            {"X-ANYPNT-ORG-ID": ORG, "X-ANYPNT-ENV-ID": "env-prod"},
        ),
        "deployments": (
            f"/amc/application-manager/api/v2/organizations/{ORG}/environments/env-prod/deployments",
            {},
        ),
        "targets": (f"/runtimefabric/api/organizations/{ORG}/targets", {}),
        "instances": (apis, {}),
        "policies": (f"{apis}/{api}/policies", {}),
        "tiers": (f"{apis}/{api}/tiers", {}),
        "contracts": (f"{apis}/{api}/contracts", {}),
        "exchange search": (f"/exchange/api/v2/assets/search?organizationId={ORG}", {}),
        "exchange detail": (
            f"/exchange/api/v2/assets/{asset['groupId']}/{asset['assetId']}/{asset['version']}",
            {},
        ),
    }


DENIALS = {
    "hierarchy": 401,
    "organization": 403,
    "environments": 403,
    "cloudhub": 403,
    "deployments": 403,
    "targets": 403,
    "instances": 403,
    "policies": 403,
    "tiers": 403,
    "contracts": 403,
    "exchange search": 200,
    "exchange detail": 404,
}


@pytest.mark.parametrize("family", list(DENIALS))
def test_a_missing_grant_is_answered_as_anypoint_does(client, family: str) -> None:
    locked = client(NOTHING_GRANTED)
    path, headers = family_paths(locked.simulation)[family]

    answer = locked.get(path, headers)

    assert answer.status == DENIALS[family]
    if family == "exchange search":
        assert answer.json() == []
    if family in (
        "cloudhub",
        "deployments",
        "targets",
        "instances",
        "policies",
        "tiers",
        "contracts",
    ):
        assert isinstance(answer.json()["message"], str)


@pytest.mark.parametrize("family", list(DENIALS))
def test_a_granted_scope_answers_200_with_data(client, family: str) -> None:
    open_client = client("name: open\n")
    path, headers = family_paths(open_client.simulation)[family]

    answer = open_client.get(path, headers)

    assert answer.status == 200
    assert answer.json()


def test_environment_grants_apply_per_environment(client) -> None:
    sandbox_only = client("name: t\ngrants:\n  read:api_configuration: [env-sbx]\n")

    assert sandbox_only.get(APIS.format(env="env-prod")).status == 403
    assert sandbox_only.get(APIS.format(env="env-sbx")).status == 200


def test_another_organization_or_unknown_environment_is_forbidden(client) -> None:
    c = client("name: t\n")

    assert c.get("/accounts/api/organizations/someone-else").status == 403
    assert c.get(APIS.format(env="env-qa")).status == 403
    assert c.get("/exchange/api/v2/assets/search?organizationId=someone-else").json() == []
    assert c.get("/cloudhub/api/v2/applications").status == 400  # no environment header


def test_unknown_paths_and_methods(client) -> None:
    c = client("name: t\n")

    assert c.get("/nowhere").status == 404
    assert c.get(f"{APIS.format(env='env-prod')}/123/policies").status == 404
    wrong = c.simulation.handle("GET", TOKEN_URL, {}, None)
    assert wrong.status == 405 and wrong.headers["Allow"] == "POST"


# -- data --------------------------------------------------------------------------------------


def test_generated_data_belongs_to_the_organization(client) -> None:
    c = client("name: t\nexchange_assets: 20\n")

    assets = c.get(f"/exchange/api/v2/assets/search?organizationId={ORG}&limit=100").json()
    assert len(assets) == 20 and {a["groupId"] for a in assets} == {ORG}
    assert {"rest-api", "raml-fragment", "connector"} <= {a["type"] for a in assets}
    page = c.get(APIS.format(env="env-prod")).json()
    apis = [api for group in page["assets"] for api in group["apis"]]
    assert {api["groupId"] for api in apis} == {ORG}
    assert all(isinstance(api["id"], int) and api["status"] == "active" for api in apis)
    policies = c.get(f"{APIS.format(env='env-prod')}/{apis[0]['id']}/policies").json()
    assert set(policies) == {"policies"}
    assert all(
        {"policyId", "template", "configuration", "order"} <= set(p) for p in policies["policies"]
    )


def test_rest_asset_detail_links_a_spec_with_paths_and_methods(client) -> None:
    c = client("name: t\n")
    asset = next(a for a in c.simulation.data.assets if a["type"] == "rest-api")

    detail = c.get(
        f"/exchange/api/v2/assets/{asset['groupId']}/{asset['assetId']}/{asset['version']}"
    ).json()
    (spec_file,) = [f for f in detail["files"] if f["classifier"] == "oas"]
    link = spec_file["externalLink"]
    assert link.startswith(f"{BASE}/exchange/")
    spec = json.loads(
        c.simulation.handle("GET", link, {}, None).body
    )  # signed link: no token needed

    assert spec["openapi"].startswith("3.")
    methods = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops}
    assert len(methods) >= 5 and ("GET", "/health") in methods


def test_a_fragment_is_served_as_a_zip(client) -> None:
    c = client("name: t\nexchange_assets: [{assetId: shared-types, type: raml-fragment}]\n")

    detail = c.get(f"/exchange/api/v2/assets/{ORG}/shared-types/1.0.0").json()
    content = c.simulation.handle("GET", detail["files"][0]["externalLink"], {}, None).body

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.read("shared-types.raml").startswith(b"#%RAML 1.0")


def test_exchange_search_pages_with_offset_and_limit(client) -> None:
    c = client("name: t\nexchange_assets: 7\n")
    everything = c.get(f"/exchange/api/v2/assets/search?organizationId={ORG}&limit=100").json()

    pages = [
        c.get(f"/exchange/api/v2/assets/search?organizationId={ORG}&offset={offset}&limit=3").json()
        for offset in (0, 3, 6, 9)
    ]

    assert [len(p) for p in pages] == [3, 3, 1, 0]
    assert [a["id"] for p in pages for a in p] == [a["id"] for a in everything]
    assert c.get("/exchange/api/v2/assets/search?offset=-1").status == 400
    assert c.get("/exchange/api/v2/assets/search?limit=0").status == 400


def test_api_manager_pages_count_asset_groups(client) -> None:
    c = client("name: t\nexchange_assets: 30\ndata:\n  env-prod: {apis: 7}\n")
    path = APIS.format(env="env-prod")

    pages = [c.get(f"{path}?offset={offset}&limit=3").json() for offset in (0, 3, 6)]

    assert {p["total"] for p in pages} == {7}
    assert [len(p["assets"]) for p in pages] == [3, 3, 1]
    ids = [api["id"] for p in pages for group in p["assets"] for api in group["apis"]]
    assert ids == [api.id for api in c.simulation.data.apis["env-prod"]]


def test_cloudhub_deployments_targets_tiers_and_contracts_shapes(client) -> None:
    c = client("name: t\ndata:\n  env-sbx: {cloudhub_apps: 3, deployments: 2, apis: 1}\n")
    env = {"X-ANYPNT-ENV-ID": "env-sbx"}

    apps = c.get("/cloudhub/api/v2/applications", env).json()
    deployments = c.get(
        f"/amc/application-manager/api/v2/organizations/{ORG}/environments/env-sbx/deployments"
    ).json()
    targets = c.get(f"/runtimefabric/api/organizations/{ORG}/targets").json()
    api = first_api(c.simulation, "env-sbx")
    tiers = c.get(f"{APIS.format(env='env-sbx')}/{api}/tiers").json()
    contracts = c.get(f"{APIS.format(env='env-sbx')}/{api}/contracts").json()

    assert len(apps) == 3 and all(a["status"] == "STARTED" and a["domain"] for a in apps)
    assert len(deployments["items"]) == 2
    assert {d["target"]["targetId"] for d in deployments["items"]} <= {t["id"] for t in targets}
    assert all(d["application"]["status"] == "RUNNING" for d in deployments["items"])
    assert tiers["total"] == len(tiers["tiers"]) and contracts["total"] == len(
        contracts["contracts"]
    )


# -- faults ------------------------------------------------------------------------------------


def test_a_fault_with_times_answers_that_many_requests_then_stops(client) -> None:
    c = client(
        "name: t\nfaults:\n"
        "  - {path: '^/apimanager/.*/environments/env-prod/apis$', status: 503, times: 2}\n"
    )
    path = APIS.format(env="env-prod")

    statuses = [c.get(path).status for _ in range(4)]

    assert statuses == [503, 503, 200, 200]
    assert c.get(APIS.format(env="env-sbx")).status == 200


def test_faults_apply_in_order_and_match_the_environment(client) -> None:
    c = client(
        """\
        name: t
        faults:
          - {path: "^/cloudhub/", environment: env-sbx, status: 502, body: "bad gateway"}
          - {path: "^/cloudhub/", status: 500, body: {message: upstream failure}}
          - {path: "^/apimanager/", environment: env-sbx, status: 504}
        """
    )

    sbx = c.get("/cloudhub/api/v2/applications", {"X-ANYPNT-ENV-ID": "env-sbx"})
    prod = c.get("/cloudhub/api/v2/applications", {"X-ANYPNT-ENV-ID": "env-prod"})

    assert (sbx.status, sbx.body, sbx.headers["Content-Type"].split(";")[0]) == (
        502,
        b"bad gateway",
        "text/plain",
    )
    assert (prod.status, prod.json()) == (500, {"message": "upstream failure"})
    assert c.get(APIS.format(env="env-sbx")).status == 504  # environments/{envId} path segment
    assert c.get(APIS.format(env="env-prod")).status == 200


def test_rate_limit_faults_carry_their_headers(client) -> None:
    c = client(
        """\
        name: t
        faults:
          - {path: "/environments$", status: 503, body: {message: "at capacity"}, times: 1}
          - {path: "^/accounts/api/organizations/[^/]+$", status: 503, times: 1}
          - {path: "^/exchange/", status: 429, times: 1}
          - {path: "^/cloudhub/", status: 429, headers: {Retry-After: "0"}, times: 1}
        """
    )

    capacity = c.get(f"/accounts/api/organizations/{ORG}/environments")
    outage = c.get(f"/accounts/api/organizations/{ORG}")
    limited = c.get("/exchange/api/v2/assets/search")
    overridden = c.get("/cloudhub/api/v2/applications", {"X-ANYPNT-ENV-ID": "env-prod"})

    assert capacity.headers["X-RateLimit-Remaining"] == "0"
    assert {"X-RateLimit-Limit", "X-RateLimit-Reset"} <= set(capacity.headers)
    assert int(capacity.headers["X-RateLimit-Reset"]) > 1_000_000_000
    assert outage.headers["X-RateLimit-Remaining"] != "0"
    assert limited.status == 429 and limited.headers["Retry-After"] == "1"
    assert overridden.headers["Retry-After"] == "0"


def test_a_timeout_fault_hangs(client) -> None:
    c = client("name: t\nfaults:\n  - {path: '^/cloudhub/', environment: env-sbx, timeout: true}\n")

    assert c.get("/cloudhub/api/v2/applications", {"X-ANYPNT-ENV-ID": "env-sbx"}).hang
    assert not c.get("/cloudhub/api/v2/applications", {"X-ANYPNT-ENV-ID": "env-prod"}).hang


def test_faults_can_hit_the_token_call(scenario: Callable[[str], Scenario]) -> None:
    sim = Simulation(
        scenario("name: t\nfaults:\n  - {path: '/oauth2/token$', status: 503, times: 1}\n")
    )

    assert sim.handle("POST", TOKEN_URL, FORM, TOKEN_BODY).status == 503
    assert sim.handle("POST", TOKEN_URL, FORM, TOKEN_BODY).status == 200


def test_fault_counters_are_thread_safe(client) -> None:
    c = client("name: t\nfaults:\n  - {path: '^/accounts/api/me$', status: 500, times: 10}\n")
    statuses: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        for _ in range(10):
            status = c.get("/accounts/api/me").status
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses.count(500) == 10 and statuses.count(200) == 70
    assert c.simulation.faults.used() == (10,)


# -- determinism -------------------------------------------------------------------------------


def every_path(sim: Simulation) -> list[tuple[str, dict[str, str]]]:
    paths = [(p, h) for p, h in family_paths(sim).values()]
    for env in ("env-prod", "env-sbx"):
        paths.append(("/cloudhub/api/v2/applications", {"X-ANYPNT-ENV-ID": env}))
        paths.append((APIS.format(env=env), {}))
    return paths


def test_two_simulations_of_a_scenario_answer_identically() -> None:
    scenario = load_scenario("healthy")
    one, two = SimClient(Simulation(scenario)).login(), SimClient(Simulation(scenario)).login()

    for path, headers in every_path(one.simulation):
        a, b = one.get(path, headers), two.get(path, headers)
        assert (a.status, a.headers, a.body) == (b.status, b.headers, b.body), path

    assert load_scenario("healthy").exchange_assets == scenario.exchange_assets
