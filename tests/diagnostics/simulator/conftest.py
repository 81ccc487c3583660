"""Fixtures for simulator tests: scenarios from YAML text and a tiny client of a Simulation."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping

import pytest

from diagnostics.simulator import Scenario, SimResponse, Simulation, parse_scenario

BASE = "https://anypoint.mulesoft.com"
ORG = "6f1c0d7e-0b1a-4c55-9d1e-2a7f0c9b1a11"
TOKEN_BODY = b"grant_type=client_credentials&client_id=cid&client_secret=secret"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class SimClient:
    """Calls a :class:`Simulation` the way an HTTP client would, with a bearer token."""

    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation
        self.token: str | None = None

    def login(self) -> SimClient:
        answer = self.simulation.handle(
            "POST", f"{BASE}/accounts/api/v2/oauth2/token", FORM, TOKEN_BODY
        )
        assert answer.status == 200, answer.body
        self.token = answer.json()["access_token"]
        return self

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> SimResponse:
        sent = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self.simulation.handle("GET", f"{BASE}{path}", {**sent, **(headers or {})}, None)


@pytest.fixture
def scenario() -> Callable[[str], Scenario]:
    """``scenario(yaml_text)``: a parsed scenario (the text is dedented)."""

    def make(text: str) -> Scenario:
        return parse_scenario(textwrap.dedent(text), "test.yaml")

    return make


@pytest.fixture
def client(scenario: Callable[[str], Scenario]) -> Callable[[str], SimClient]:
    """``client(yaml_text)``: a logged-in :class:`SimClient` of a new simulation."""

    def make(text: str) -> SimClient:
        return SimClient(Simulation(scenario(text))).login()

    return make
