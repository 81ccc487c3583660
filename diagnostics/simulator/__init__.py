"""The simulated Anypoint organization, driven by scenario files (scenario.md).

A scenario (:func:`load_scenario`) becomes a pure :class:`Simulation` (``handle(method, url,
headers, body) -> SimResponse``), which two transports share: :class:`ScenarioAdapter`, mounted on
a ``requests`` session (:func:`simulated_session`), and :class:`SimulatorServer` / :func:`serve`
over real HTTP. The simulator is a transport, not a patch: the client code cannot tell it from
Anypoint.
"""

from __future__ import annotations

from diagnostics.simulator.adapter import ScenarioAdapter, simulated_session
from diagnostics.simulator.errors import ScenarioError
from diagnostics.simulator.handler import Answer, SimRequest, SimResponse, Simulation, json_answer
from diagnostics.simulator.scenario import (
    Scenario,
    builtin_scenarios,
    load_scenario,
    parse_scenario,
)
from diagnostics.simulator.server import SimulatorServer, serve

__all__ = [
    "Answer",
    "Scenario",
    "ScenarioAdapter",
    "ScenarioError",
    "SimRequest",
    "SimResponse",
    "Simulation",
    "SimulatorServer",
    "builtin_scenarios",
    "json_answer",
    "load_scenario",
    "parse_scenario",
    "serve",
    "simulated_session",
]
