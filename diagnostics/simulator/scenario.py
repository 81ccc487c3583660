"""Scenarios (scenario.md): the validated :class:`Scenario`, built-ins, and the app state around it.

:func:`load_scenario` takes a built-in name (``diagnostics/scenarios/<name>.yaml``) or a path;
:func:`parse_scenario` reads YAML text (the rules live in :mod:`~diagnostics.simulator.schema`).
Any mistake raises :class:`~diagnostics.simulator.errors.ScenarioError` with one line naming the
key path and the line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from diagnostics import model
from diagnostics.clock import utcnow
from diagnostics.simulator.errors import ScenarioError
from diagnostics.simulator.faults import Fault
from diagnostics.simulator.generate import AssetSpec, EnvironmentData
from diagnostics.simulator.schema import (
    CACHED_DATASETS,
    DEFAULT_ENVIRONMENTS,
    DEFAULT_ORGANIZATION,
    DEFAULT_SITE_URL,
    DEFAULT_SPACE_KEY,
    NAME_PATTERN,
    ORGANIZATION,
    all_granted,
    scenario_fields,
)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario with every default filled in.

    ``org`` and ``envs`` hold the organization and its environments (see :meth:`organization`,
    :meth:`environments`); ``data`` has an entry for every environment; ``cache`` is ``None`` when
    the file has no ``cache`` key (then every dataset was refreshed one hour before ``now``).
    """

    name: str
    description: str = ""
    now: datetime | None = None
    control_plane: str = "us"
    credentials: str = "valid"
    org: model.Organization = DEFAULT_ORGANIZATION
    envs: tuple[model.Environment, ...] = DEFAULT_ENVIRONMENTS
    grants: Mapping[str, frozenset[str]] = field(default_factory=all_granted)
    exchange_assets: tuple[AssetSpec, ...] = ()
    data: Mapping[str, EnvironmentData] = field(default_factory=dict)
    faults: tuple[Fault, ...] = ()
    latency_ms: int = 0
    space: model.SpaceConfig = field(default_factory=lambda: model.SpaceConfig(DEFAULT_SPACE_KEY))
    cache: Mapping[str, model.CacheEntry] | None = None
    renders: tuple[model.RenderEvent, ...] = ()
    pages: tuple[model.MacroPage, ...] = ()
    site_url: str = DEFAULT_SITE_URL
    source: str = "<scenario>"

    def organization(self) -> model.Organization:
        return self.org

    def environments(self) -> list[model.Environment]:
        return list(self.envs)

    def granted(self, scope: str, environment_id: str | None = None) -> bool:
        """Whether ``scope`` is granted on the organization, or on ``environment_id``."""
        where = self.grants.get(scope, frozenset())
        return ORGANIZATION in where or (environment_id is not None and environment_id in where)

    def app_state(self) -> model.AppState:
        """The Confluence side of the scenario: space, caches, renders, pages, site URL."""
        cache = self.cache if self.cache is not None else self._default_cache()
        return model.AppState(
            space=self.space,
            cache=MappingProxyType(dict(cache)),
            renders=self.renders,
            pages=self.pages,
            site_url=self.site_url,
        )

    def _default_cache(self) -> dict[str, model.CacheEntry]:
        """Every dataset refreshed an hour before ``now``; the endpoints cache seeded."""
        refreshed = (self.now or utcnow()) - timedelta(hours=1)
        apis = sum(d.apis for d in self.data.values())
        apps = sum(d.cloudhub_apps + d.deployments for d in self.data.values())
        rest = [a for a in self.exchange_assets if a.type == "rest-api"]
        items = {
            "exchange": len(self.exchange_assets),
            "endpoints": len(rest),
            "runtime_manager": apps,
            "api_manager": apis,
            "api_security_posture": apis,
        }
        return {
            key: model.CacheEntry(
                key,
                last_success=refreshed,
                items=items.get(key),
                asset_version=rest[0].version if key == "endpoints" and rest else None,
            )
            for key in CACHED_DATASETS
        }


# -- loading -----------------------------------------------------------------------------------


def builtin_scenarios() -> list[tuple[str, str]]:
    """(name, description) of every built-in scenario, sorted by name."""
    folder = resources.files("diagnostics") / "scenarios"
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            scenario = parse_scenario(entry.read_text(encoding="utf-8"), entry.name)
            found.append((scenario.name, scenario.description))
    return found


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a scenario file by path."""
    if re.fullmatch(NAME_PATTERN, name_or_path):
        builtin = resources.files("diagnostics") / "scenarios" / f"{name_or_path}.yaml"
        if builtin.is_file():
            return parse_scenario(builtin.read_text(encoding="utf-8"), f"{name_or_path}.yaml")
    path = Path(name_or_path)
    if not path.is_file():
        names = ", ".join(name for name, _ in builtin_scenarios())
        raise ScenarioError(
            f"{name_or_path}: no such built-in scenario ({names}) or scenario file",
            source=name_or_path,
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{name_or_path}: cannot be read: {exc}", source=name_or_path) from None
    return parse_scenario(text, str(path))


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate scenario YAML and fill in the defaults of scenario.md."""
    return Scenario(**scenario_fields(text, source))


__all__ = ["Scenario", "ScenarioError", "builtin_scenarios", "load_scenario", "parse_scenario"]
