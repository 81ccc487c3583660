"""The two transports of a Simulation: the requests adapter and the HTTP server agree."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
import requests

from diagnostics.simulator import (
    Scenario,
    ScenarioAdapter,
    Simulation,
    SimulatorServer,
    load_scenario,
    simulated_session,
)

from .conftest import BASE, ORG

TOKEN = {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "secret"}
APIS = f"/apimanager/api/v1/organizations/{ORG}/environments/{{env}}/apis"


@pytest.fixture
def sessions() -> Iterator[Callable[[requests.Session], requests.Session]]:
    """Register sessions to close after the test (unclosed sockets fail the run)."""
    opened: list[requests.Session] = []

    def keep(session: requests.Session) -> requests.Session:
        opened.append(session)
        return session

    yield keep
    for session in opened:
        session.close()


def login(session: requests.Session, base: str) -> None:
    answer = session.post(f"{base}/accounts/api/v2/oauth2/token", data=TOKEN, timeout=5)
    answer.raise_for_status()
    session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"


def requests_to_compare(sim: Simulation) -> list[tuple[str, dict[str, str]]]:
    api = sim.data.apis["env-prod"][0].id
    asset = sim.data.assets[0]
    return [
        ("/accounts/api/me", {}),
        (f"/accounts/api/organizations/{ORG}", {}),
        (f"/accounts/api/organizations/{ORG}/hierarchy", {}),
        (f"/accounts/api/organizations/{ORG}/environments", {}),
        (f"/exchange/api/v2/assets/search?organizationId={ORG}&offset=2&limit=3", {}),
        (f"/exchange/api/v2/assets/{asset['groupId']}/{asset['assetId']}/{asset['version']}", {}),
        ("/cloudhub/api/v2/applications", {"X-ANYPNT-ORG-ID": ORG, "X-ANYPNT-ENV-ID": "env-sbx"}),
        (
            f"/amc/application-manager/api/v2/organizations/{ORG}/environments/env-prod/deployments",
            {},
        ),
        (f"/runtimefabric/api/organizations/{ORG}/targets", {}),
        (f"{APIS.format(env='env-prod')}?offset=0&limit=2", {}),
        (APIS.format(env="env-sbx"), {}),  # api_configuration is granted on env-sbx only: 403
        (f"{APIS.format(env='env-prod')}/{api}/policies", {}),
        (f"{APIS.format(env='env-prod')}/{api}/tiers", {}),
        (f"{APIS.format(env='env-prod')}/{api}/contracts", {}),
        ("/no/such/path", {}),
    ]


def test_the_adapter_and_the_server_answer_identically(sessions) -> None:
    scenario = load_scenario("api-manager-sandbox-only")
    adapter_session = sessions(simulated_session(scenario, BASE))
    login(adapter_session, BASE)

    with SimulatorServer(scenario, port=0) as server:
        http_session = sessions(requests.Session())
        login(http_session, server.base_url)
        for path, headers in requests_to_compare(server.simulation):
            a = adapter_session.get(f"{BASE}{path}", headers=headers, timeout=5)
            b = http_session.get(f"{server.base_url}{path}", headers=headers, timeout=5)
            assert a.status_code == b.status_code, path
            assert a.reason == b.reason
            assert a.headers["Content-Type"] == b.headers["Content-Type"]
            # Exchange file links point back at whichever host answered.
            a_json = json.loads(a.text.replace(BASE, "<origin>"))
            assert a_json == json.loads(b.text.replace(server.base_url, "<origin>")), path


def test_adapter_responses_look_like_real_ones(sessions) -> None:
    session = sessions(
        simulated_session(load_scenario("healthy"))
    )  # default: the control plane host
    login(session, BASE)

    response = session.get(f"{BASE}/accounts/api/organizations/{ORG}", timeout=5)
    streamed = session.get(f"{BASE}/exchange/api/v2/assets/search", timeout=5, stream=True)

    assert isinstance(response, requests.Response) and response.ok
    assert response.url == f"{BASE}/accounts/api/organizations/{ORG}"
    assert response.request.headers["Authorization"].startswith("Bearer ")
    assert response.encoding == "utf-8" and response.reason == "OK"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.json()["id"] == ORG
    assert b"".join(streamed.iter_content(7)).startswith(b"[")
    streamed.close()


def test_the_adapter_only_answers_for_its_base_url(sessions) -> None:
    session = sessions(simulated_session(load_scenario("healthy"), "https://sim.invalid"))

    assert isinstance(session.get_adapter("https://sim.invalid/x"), ScenarioAdapter)
    assert not isinstance(session.get_adapter("https://anypoint.mulesoft.com/x"), ScenarioAdapter)


@pytest.mark.parametrize("timeout", [0.05, (1.0, 0.05)])
def test_a_hanging_request_raises_read_timeout_after_the_read_timeout(
    sessions, scenario, timeout
) -> None:
    hang = scenario("name: t\nfaults:\n  - {path: '^/accounts/api/me$', timeout: true}\n")
    session = sessions(simulated_session(hang, BASE))

    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(f"{BASE}/accounts/api/me", timeout=timeout)

    assert 0.04 <= time.monotonic() - started < 1.0


def test_the_adapter_sleeps_the_latency(sessions, scenario) -> None:
    slow = scenario("name: t\nlatency_ms: 60\n")
    session = sessions(simulated_session(slow, BASE))

    started = time.monotonic()
    session.get(f"{BASE}/accounts/api/me", timeout=5)

    assert time.monotonic() - started >= 0.06


def test_a_hanging_request_on_the_server_times_out_and_the_server_still_stops(
    sessions, scenario
) -> None:
    hang = scenario(
        "name: t\nlatency_ms: 10\nfaults:\n  - {path: '^/accounts/api/me$', timeout: true}\n"
    )

    with SimulatorServer(hang, port=0) as server:
        session = sessions(requests.Session())
        with pytest.raises(requests.exceptions.ReadTimeout):
            session.get(f"{server.base_url}/accounts/api/me", timeout=0.2)
        started = time.monotonic()
        assert session.get(f"{server.base_url}/nowhere", timeout=5).status_code == 404
        assert time.monotonic() - started >= 0.01  # latency is slept by the server too
        session.close()


def test_the_server_keeps_connections_alive(scenario: Callable[[str], Scenario]) -> None:
    with SimulatorServer(scenario("name: t\n"), port=0) as server:
        parts = urlsplit(server.base_url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        try:
            for _ in range(3):  # three answers over one connection
                connection.request("GET", "/accounts/api/me")
                answer = connection.getresponse()
                assert answer.status == 401 and answer.getheader("Content-Length")
                answer.read()
                assert not answer.will_close
        finally:
            connection.close()


def test_the_server_takes_a_client_pool_of_connections_at_once(
    scenario: Callable[[str], Scenario],
) -> None:
    """A run opens its pool's 32 connections together: none may wait for a SYN to be retried."""
    server = SimulatorServer(scenario("name: t\n"), port=0)  # listening, not yet accepting
    parts = urlsplit(server.base_url)
    sockets: list[socket.socket] = []
    try:
        for _ in range(40):
            sockets.append(socket.create_connection((parts.hostname, parts.port), timeout=0.5))
    finally:
        for sock in sockets:
            sock.close()
        server.close()
    assert len(sockets) == 40
