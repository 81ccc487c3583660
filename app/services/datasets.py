"""Cache-first reads of a space's datasets for macros, dashboards and Rovo: never calls Anypoint.

:func:`read_dataset` answers from the stored snapshots with the freshness rule of report.md
(``diagnostics.freshness``, the space's sync interval), the last successful fetch, the stale
fallback flag and the coverage of the last attempt. ``ops_dashboard`` is derived here from the
``runtime_manager`` and ``api_manager`` caches; ``rovo`` is not a readable dataset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.models import DatasetSnapshot, Space
from app.services.refresh import KIND_KEY
from app.storage import NotFound, snapshots
from diagnostics.catalogue import DATASETS_BY_KEY
from diagnostics.coverage import combine_derived
from diagnostics.freshness import (
    Freshness,
    cache_freshness,
    endpoints_freshness,
    worst_freshness,
)
from diagnostics.model import CacheEntry
from diagnostics.statuses import FreshnessState

NOT_READABLE = frozenset({"rovo"})  # Rovo answers through its actions, not as a dataset
Item = dict[str, Any]


@dataclass(frozen=True)
class EnvironmentState:
    """One snapshot row as the reader sees it (``environment_id`` None: organization level)."""

    dataset: str
    environment_id: str | None
    environment_name: str | None
    fetched_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    outcome: str | None
    coverage: str | None
    item_count: int
    stale_fallback: bool


@dataclass(frozen=True)
class DatasetView:
    """A dataset's cached items and how much to trust them."""

    dataset: str
    name: str
    space_key: str
    enabled: bool
    environment_id: str | None
    freshness: str
    last_successful_fetch: datetime | None
    last_attempt_at: datetime | None
    stale_fallback: bool
    coverage: str
    sync_interval_hours: int
    items: list[Item]
    environments: list[EnvironmentState]
    sources: tuple[str, ...] = ()
    environment_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def item_count(self) -> int:
        return len(self.items)

    @property
    def stale(self) -> bool:
        """What a macro shows as a stale render: old data, or data kept after a failed refresh."""
        return self.freshness in ("stale", "expired") or self.stale_fallback


def check_readable(dataset: str) -> None:
    """Raise :class:`~app.storage.NotFound` (naming it) unless ``dataset`` can be read here."""
    if dataset in NOT_READABLE:
        raise NotFound(f"The {dataset} dataset is not readable here; ask the MuleSight agent.")
    if dataset not in DATASETS_BY_KEY:
        raise NotFound(f"No dataset {dataset!r}.")


def read_dataset(
    session: Session,
    space: Space,
    dataset: str,
    *,
    now: datetime,
    environment: str | None = None,
    target: str | None = None,
) -> DatasetView:
    """The cached ``dataset`` of ``space`` (one environment — id or name — or all).

    Raises :class:`~app.storage.NotFound` for an unknown dataset or ``rovo``.
    """
    check_readable(dataset)
    names = snapshots.environment_names(session, space.id)
    env_id = resolve_environment(environment, names)
    spec = DATASETS_BY_KEY[dataset]
    sources = spec.sources if spec.derived else (dataset,)
    caches = {
        key: snapshots.dataset_cache(session, space.id, key, environment_id=env_id)
        for key in sources
    }
    freshness = _freshness(session, space, dataset, caches, now)
    rows = [row for cache in caches.values() for row in cache.rows]
    if dataset == "ops_dashboard":
        items = ops_dashboard_items(caches, names, env_id)
    elif dataset == "endpoints":
        items = endpoint_items(rows)
    else:
        items = [item for row in rows for item in row_items(row)]
    return DatasetView(
        dataset=dataset,
        name=spec.name,
        space_key=space.key,
        enabled=space.datasets_enabled.get(dataset, True),
        environment_id=env_id,
        freshness=freshness.state,
        last_successful_fetch=freshness.last_success,
        last_attempt_at=max(
            (c.last_attempt_at for c in caches.values() if c.last_attempt_at), default=None
        ),
        stale_fallback=freshness.stale_fallback,
        coverage=_coverage(dataset, caches),
        sync_interval_hours=space.sync_interval_hours,
        items=filter_target(dataset, items, target),
        environments=[environment_state(row, names) for row in rows],
        sources=spec.sources,
        environment_names=names,
    )


def resolve_environment(environment: str | None, names: Mapping[str, str]) -> str | None:
    """An environment id from an id or a name (case-insensitive); unknown values pass through."""
    if not environment:
        return None
    if environment in names:
        return environment
    wanted = environment.casefold()
    return next((i for i, n in names.items() if n.casefold() == wanted), environment)


def environment_state(row: DatasetSnapshot, names: Mapping[str, str]) -> EnvironmentState:
    env = row.environment_id
    return EnvironmentState(
        dataset=row.dataset,
        environment_id=env,
        environment_name=names.get(env, env) if env else None,
        fetched_at=row.fetched_at,
        last_attempt_at=row.last_attempt_at,
        last_error=row.last_error,
        outcome=snapshots.error_outcome(row.last_error),
        coverage=row.coverage,
        item_count=(row.item_count or 0) if row.payload is not None else 0,
        stale_fallback=bool(row.last_error and row.fetched_at is not None),
    )


def row_items(row: DatasetSnapshot) -> list[Item]:
    """A row's items, each naming its environment (``environment_id``) when the row has one."""
    items = (row.payload or {}).get("items") or []
    if row.environment_id is None:
        return [dict(item) for item in items]
    return [{"environment_id": row.environment_id, **item} for item in items]


# -- freshness and coverage ------------------------------------------------------------------------


def _freshness(
    session: Session,
    space: Space,
    dataset: str,
    caches: Mapping[str, snapshots.DatasetCache],
    now: datetime,
) -> Freshness:
    if dataset == "diagnostics":
        cache = caches[dataset]
        return Freshness(FreshnessState.NOT_APPLICABLE, cache.last_success, cache.stale_fallback)
    if dataset == "endpoints":
        return _endpoints_freshness(session, space.id, caches[dataset])
    states = [cache_freshness(_entry(c), now, space.sync_interval_hours) for c in caches.values()]
    last = [s.last_success for s in states if s.last_success is not None]
    return Freshness(
        worst_freshness([s.state for s in states]),
        min(last) if last else None,
        any(s.stale_fallback for s in states),
    )


def _entry(cache: snapshots.DatasetCache) -> CacheEntry | None:
    return cache.entry() if cache.rows else None


def _endpoints_freshness(
    session: Session, space_id: int, cache: snapshots.DatasetCache
) -> Freshness:
    """``fresh`` once seeded, ``stale`` when an asset's Exchange version moved since."""
    entry = _entry(cache)
    if entry is None or entry.last_success is None:
        return Freshness(FreshnessState.NEVER, None, False)
    current = exchange_versions(session, space_id)
    assets = endpoint_items(cache.rows)
    states = [
        endpoints_freshness(
            CacheEntry("endpoints", entry.last_success, asset_version=a["version"]),
            current.get(a["asset"]),
        ).state
        for a in assets
    ] or [FreshnessState.FRESH]
    return Freshness(worst_freshness(states), entry.last_success, entry.last_attempt_failed)


def exchange_versions(session: Session, space_id: int) -> dict[str, str]:
    """``group/asset`` → version, from the Exchange cache."""
    row = snapshots.get_snapshot(session, space_id, "exchange")
    items = ((row.payload or {}).get("items") or []) if row is not None else []
    return {
        f"{i['groupId']}/{i['assetId']}": str(i["version"])
        for i in items
        if i.get("groupId") and i.get("assetId") and i.get("version")
    }


def _coverage(dataset: str, caches: Mapping[str, snapshots.DatasetCache]) -> str:
    if DATASETS_BY_KEY[dataset].derived:
        return combine_derived([c.coverage for c in caches.values()])
    return caches[dataset].coverage


# -- derived and shaped items ----------------------------------------------------------------------


def endpoint_items(rows: Iterable[DatasetSnapshot]) -> list[Item]:
    """The endpoints cache as one item per Exchange asset."""
    items = []
    for row in rows:
        for key, entry in ((row.payload or {}).get("assets") or {}).items():
            group_id, _, asset_id = key.partition("/")
            items.append(
                {
                    "asset": key,
                    "group_id": group_id,
                    "asset_id": asset_id,
                    "version": entry.get("version"),
                    "name": entry.get("name"),
                    "endpoints": list(entry.get("endpoints") or []),
                }
            )
    return items


def ops_dashboard_items(
    caches: Mapping[str, snapshots.DatasetCache],
    names: Mapping[str, str],
    environment_id: str | None = None,
) -> list[Item]:
    """Per environment: applications, deployments and API instances, with status counts.

    Every known environment is listed; ``missing`` names the source caches without its data.
    """
    per_env: dict[str, dict[str, list[Item]]] = {}
    for key in ("runtime_manager", "api_manager"):
        for row in caches[key].rows:
            if row.environment_id is not None:
                per_env.setdefault(row.environment_id, {})[key] = row_items(row)
    known = {environment_id} if environment_id else set(per_env) | set(names)
    environments = sorted(known, key=lambda e: (names.get(e, e), e))
    result = []
    for env_id in environments:
        lists = per_env.get(env_id, {})
        runtime = lists.get("runtime_manager")
        apis = lists.get("api_manager")
        apps = [i for i in runtime or [] if i.get(KIND_KEY) == "cloudhub_app"]
        deployments = [i for i in runtime or [] if i.get(KIND_KEY) == "deployment"]
        result.append(
            {
                "environment_id": env_id,
                "environment_name": names.get(env_id, env_id),
                "applications": len(apps),
                "deployments": len(deployments),
                "apis": len(apis or []),
                "application_statuses": _statuses(apps, app_status),
                "deployment_statuses": _statuses(deployments, app_status),
                "api_statuses": _statuses(apis or [], lambda i: i.get("status")),
                "missing": [
                    k for k, v in (("runtime_manager", runtime), ("api_manager", apis)) if v is None
                ],
            }
        )
    return result


def app_status(item: Mapping[str, Any]) -> str | None:
    """A CloudHub app's status, or a deployment's application status (``running``)."""
    application = item.get("application")
    if isinstance(application, Mapping) and application.get("status"):
        return str(application["status"])
    status = item.get("status")
    return str(status) if status else None


def _statuses(items: Sequence[Item], status: Callable[[Item], Any]) -> dict[str, int]:
    return dict(Counter(str(status(i) or "unknown") for i in items))


def filter_target(dataset: str, items: list[Item], target: str | None) -> list[Item]:
    """The items a macro's ``target`` names (asset, application, API instance), else all."""
    if not target:
        return items
    match = _TARGETS.get(dataset)
    return [i for i in items if match(i, target.strip())] if match else items


def _asset_match(item: Item, target: str) -> bool:
    group_id, _, rest = target.partition("/")
    asset_id, _, version = rest.partition("/")
    group = item.get("groupId", item.get("group_id"))
    asset = item.get("assetId", item.get("asset_id"))
    if (group, asset) != (group_id, asset_id):
        return False
    return not version or str(item.get("version")) == version


def _app_match(item: Item, target: str) -> bool:
    wanted = target.casefold()
    return any(str(item.get(k) or "").casefold() == wanted for k in ("domain", "name"))


_TARGETS: Mapping[str, Callable[[Item, str], bool]] = {
    "exchange": _asset_match,
    "endpoints": _asset_match,
    "runtime_manager": _app_match,
    "api_manager": lambda item, target: str(item.get("id")) == target,
    "api_security_posture": lambda item, target: str(item.get("api_id")) == target,
}
