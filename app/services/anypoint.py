"""Where a space's Anypoint is: the real platform, or a simulated organization (embedded default).

In ``simulated`` mode every space talks to the simulated Anypoint of its scenario (the space's
``scenario``, else ``MULESIGHT_SCENARIO``, else the built-in ``healthy``) through the same client
code, mounted as a transport adapter. In ``live`` mode the space's own connection is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import requests

from app.crypto import SecretBox
from app.models import Space
from app.storage import connection_for
from diagnostics.anypoint import AnypointClient, resolve_base_url
from diagnostics.model import Connection
from diagnostics.simulator import Scenario, load_scenario, simulated_session

DEFAULT_SCENARIO = "healthy"


@dataclass(frozen=True)
class SpaceAnypoint:
    """The connection and HTTP session for one space; ``scenario`` is set in simulated mode."""

    connection: Connection
    session: requests.Session | None = None
    scenario: Scenario | None = None

    def client(self) -> AnypointClient:
        return AnypointClient(self.connection, session=self.session)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def is_simulated(config: Mapping[str, Any]) -> bool:
    return config.get("MULESIGHT_ANYPOINT_MODE", "simulated") == "simulated"


def scenario_name(space: Space, config: Mapping[str, Any]) -> str:
    return space.scenario or config.get("MULESIGHT_SCENARIO") or DEFAULT_SCENARIO


_BUILTIN_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def scenario_named(name: str) -> Scenario:
    """The scenario ``name``: built-in ones parsed once per process (a run per ticket re-read
    and re-validated the same YAML), scenario files read each time (they may be edited)."""
    return _builtin(name) if _BUILTIN_NAME.fullmatch(name) else load_scenario(name)


@lru_cache(maxsize=32)
def _builtin(name: str) -> Scenario:
    return load_scenario(name)


def anypoint_for(space: Space, box: SecretBox, config: Mapping[str, Any]) -> SpaceAnypoint:
    """The space's Anypoint. Raises ``ScenarioError`` for a bad scenario name in simulated mode."""
    connection = connection_for(space, box)
    if not is_simulated(config):
        return SpaceAnypoint(connection)
    scenario = scenario_named(scenario_name(space, config))
    base_url = resolve_base_url(scenario.control_plane)
    connection = replace(
        connection,
        organization_id=connection.organization_id or scenario.organization().id,
        control_plane=scenario.control_plane,
        base_url=base_url,
        client_secret=connection.client_secret or "simulated-secret",
    )
    return SpaceAnypoint(connection, simulated_session(scenario, base_url), scenario)
