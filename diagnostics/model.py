"""Plain value types shared by the engine, the simulator and the service.

These describe the world around one diagnostics run: the connection to Anypoint, the space's
MuleSight configuration, what the dataset caches hold, and what the Confluence app reported about
macro renders. They carry no behaviour beyond small conveniences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

CONTROL_PLANES = ("us", "eu", "gov", "custom")
ENVIRONMENT_TYPES = ("production", "sandbox", "design")
MACRO_TYPES = (
    "exchange-asset",
    "runtime-manager-app",
    "api-manager-instance",
    "environment-summary",
)
MACRO_MODES = ("detailed", "compact", "endpoints", "security")
RENDER_STATUSES = ("ok", "error", "timeout", "stale")
DEFAULT_SYNC_INTERVAL_HOURS = 24


@dataclass(frozen=True)
class Organization:
    id: str
    name: str | None = None


@dataclass(frozen=True)
class Environment:
    id: str
    name: str
    type: str = "sandbox"


@dataclass(frozen=True)
class Connection:
    """A space's connected app. ``base_url`` overrides the control plane's host (simulator, proxies)."""

    client_id: str
    client_secret: str = field(repr=False)
    organization_id: str | None = None
    control_plane: str = "us"
    base_url: str | None = None


@dataclass(frozen=True)
class SpaceConfig:
    key: str | None = None
    sync_interval_hours: int = DEFAULT_SYNC_INTERVAL_HOURS
    datasets_enabled: Mapping[str, bool] = field(default_factory=dict)

    def is_enabled(self, dataset: str) -> bool:
        """Datasets are on unless the space turned them off."""
        return self.datasets_enabled.get(dataset, True)


@dataclass(frozen=True)
class CacheEntry:
    """The state of one dataset's cache for a space (all environments together)."""

    dataset: str
    last_success: datetime | None = None
    last_attempt_failed: bool = False
    items: int | None = None
    # For the endpoints cache: the Exchange asset version it was seeded from.
    asset_version: str | None = None


@dataclass(frozen=True)
class RenderEvent:
    macro: str
    page_id: str
    status: str
    at: datetime
    mode: str | None = None
    space_key: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class MacroPlacement:
    macro: str
    mode: str | None = None


@dataclass(frozen=True)
class MacroPage:
    """A Confluence page that holds MuleSight macros (what a CQL search finds)."""

    page_id: str
    title: str
    space_key: str | None
    macros: tuple[MacroPlacement, ...] = ()


@dataclass(frozen=True)
class AppState:
    """Everything about the Confluence side that a run needs besides Anypoint itself.

    ``cache`` maps dataset key to its :class:`CacheEntry`; a dataset absent from it was never
    refreshed.
    """

    space: SpaceConfig = field(default_factory=SpaceConfig)
    cache: Mapping[str, CacheEntry] = field(default_factory=dict)
    renders: tuple[RenderEvent, ...] = ()
    pages: tuple[MacroPage, ...] = ()
    site_url: str | None = None
    # False when the run has no view of the service's caches (``mulesight diagnose --live``).
    cache_known: bool = True
