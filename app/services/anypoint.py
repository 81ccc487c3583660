"""Where a space's Anypoint is: the real platform, or a simulated organization (embedded default).

In ``simulated`` mode every space talks to the simulated Anypoint of its scenario (the space's
``scenario``, else ``MULESIGHT_SCENARIO``, else the built-in ``healthy``) through the same client
code, mounted as a transport adapter. In ``live`` mode the space's own connection is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import requests

from app.crypto import SecretBox
from app.models import Space
from app.net import guarded_session, outbound_policy
from app.services.anypoint_budget import shared_budget
from app.storage import connection_for
from diagnostics.anypoint import AnypointClient, CachedToken, RateLimiter, resolve_base_url
from diagnostics.model import Connection
from diagnostics.simulator import Scenario, load_scenario, simulated_session

DEFAULT_SCENARIO = "healthy"


@dataclass(frozen=True)
class SpaceAnypoint:
    """The connection and HTTP session for one space; ``scenario`` is set in simulated mode.

    In live mode with Redis, ``rate_limiter`` and ``token_cache`` are the budget every process
    shares for the space's organization (:mod:`app.services.anypoint_budget`).
    """

    connection: Connection
    session: requests.Session | None = None
    scenario: Scenario | None = None
    rate_limiter: RateLimiter | None = None
    token_cache: MutableMapping[Any, CachedToken] | None = None

    def client(self) -> AnypointClient:
        return AnypointClient(
            self.connection,
            session=self.session,
            rate_limiter=self.rate_limiter,
            token_cache=self.token_cache,
        )

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def is_simulated(config: Mapping[str, Any]) -> bool:
    return bool(config.get("MULESIGHT_ANYPOINT_MODE", "simulated") == "simulated")


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
        # The tenant chose this host: every connection is checked (app.net, SSRF defence).
        session = guarded_session(outbound_policy(config))
        shared = shared_budget(config, box, connection.organization_id or space.client_id)
        if shared is None:
            return SpaceAnypoint(connection, session)
        return SpaceAnypoint(connection, session, rate_limiter=shared[0], token_cache=shared[1])
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
