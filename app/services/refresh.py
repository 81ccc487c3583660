"""Refreshing a space's dataset caches from Anypoint (manual, Rovo and scheduled).

:func:`refresh_space` crawls the space's enabled datasets (or one) with
:func:`diagnostics.crawl.crawl_datasets` inside a deadline below Forge's 25 s, and stores one
snapshot per dataset × environment (:mod:`app.storage.snapshots`): a failed environment keeps its
last good data and records the error. ``endpoints`` is seeded per Exchange asset
(:func:`seed_endpoints`). Refreshes run as jobs on the durable queue, manual and scheduled alike
(:mod:`app.services.refresh_jobs`).

Every function takes a session and plain values; the caller owns the session. Nothing here logs or
returns a secret: errors are the client's messages (which never carry one), redacted once more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from sqlalchemy.orm import Session

from app import clock
from app.crypto import SecretBox
from app.models import Space
from app.services.anypoint import anypoint_for
from app.storage import snapshots, space_config
from diagnostics.anypoint import (
    AnypointClient,
    CachedToken,
    HostRateLimiter,
    RateLimiter,
    resolve_base_url,
)
from diagnostics.catalogue import DATASETS_BY_KEY, PROBES_BY_KEY, probes_for_dataset
from diagnostics.coverage import coverage_of
from diagnostics.crawl import CrawlResult, Snapshot, crawl_datasets, crawled_datasets
from diagnostics.engine import DEFAULT_RATE_PER_SECOND, pooled_session
from diagnostics.errors import AnypointError
from diagnostics.model import Connection
from diagnostics.probes import ProbeRecord
from diagnostics.redaction import Redactor
from diagnostics.runner import RunnerSettings, classify_error
from diagnostics.specs import fetch_endpoints
from diagnostics.statuses import Outcome

log = logging.getLogger(__name__)

REFRESH_DEADLINE_S = 20.0  # Forge gives a remote call 25 s
CRAWL_CONCURRENCY = 32  # concurrent Anypoint calls of one refresh (paced by the rate limiter)
CRAWLED: tuple[str, ...] = crawled_datasets()  # the datasets a crawl fetches
ENDPOINTS = "endpoints"
_FAILURE_ORDER = ("forbidden", "rate_limited", "timeout", "error")
KIND_KEY = "_kind"  # items of a probe the catalogue gives a kind: which probe listed them


class DatasetDisabled(Exception):
    """The space turned the requested dataset (or every source of it) off."""


class EndpointsTargetRequired(ValueError):
    """An endpoints refresh named no asset and the endpoints cache holds none to re-seed."""


@dataclass(frozen=True)
class AssetRef:
    """An Exchange asset version (the Endpoints view of an Exchange macro)."""

    group_id: str
    asset_id: str
    version: str

    @property
    def key(self) -> str:
        return f"{self.group_id}/{self.asset_id}"


@dataclass(frozen=True)
class FailedEnvironment:
    environment_id: str | None  # None: the organization-level list
    environment_name: str | None
    outcome: str
    error: str


@dataclass(frozen=True)
class DatasetRefresh:
    """What one refresh did to one dataset. ``status``: ok / partial / failed / disabled."""

    dataset: str
    status: str
    coverage: str | None = None
    reason: str | None = None
    item_count: int = 0
    failed_environments: tuple[FailedEnvironment, ...] = ()
    asset: str | None = None


@dataclass(frozen=True)
class RefreshSummary:
    space_key: str
    refreshed_at: datetime
    datasets: tuple[DatasetRefresh, ...]


# -- choosing what to refresh ----------------------------------------------------------------------


def crawl_targets(space: Space, dataset: str | None) -> tuple[list[str], list[str]]:
    """(datasets to crawl, datasets skipped as disabled) for a refresh of ``dataset`` or all.

    A derived dataset refreshes its crawled sources. Raises :class:`DatasetDisabled` when the one
    dataset asked for (or every source of it) is turned off.
    """
    config = space_config(space)
    if dataset is None:
        wanted = list(CRAWLED)
    elif DATASETS_BY_KEY[dataset].derived:
        wanted = [s for s in DATASETS_BY_KEY[dataset].sources if s in CRAWLED]
    else:
        wanted = [dataset]
    enabled = [d for d in wanted if config.is_enabled(d)]
    disabled = [d for d in wanted if not config.is_enabled(d)]
    if dataset is not None and (not config.is_enabled(dataset) or not enabled):
        raise DatasetDisabled(f"The {dataset} dataset is turned off for space {space.key!r}.")
    return enabled, disabled


# -- the refresh -----------------------------------------------------------------------------------


def refresh_space(
    session: Session,
    space: Space,
    box: SecretBox,
    config: Mapping[str, Any],
    *,
    dataset: str | None = None,
    asset: AssetRef | None = None,
    now: datetime | None = None,
    deadline_s: float = REFRESH_DEADLINE_S,
) -> RefreshSummary:
    """Refresh every enabled dataset of ``space`` (or ``dataset``) and store the snapshots.

    ``dataset="endpoints"`` seeds ``asset`` (or re-seeds every asset already cached). Commits.
    Raises :class:`DatasetDisabled`, :class:`EndpointsTargetRequired`.
    """
    now = now or clock.now()
    if dataset == ENDPOINTS:
        return _refresh_endpoints(session, space, box, config, asset, now, deadline_s)
    targets, disabled = crawl_targets(space, dataset)
    results = [DatasetRefresh(d, "disabled") for d in disabled]
    anypoint = anypoint_for(space, box, config)
    try:
        with crawl_client(
            anypoint.connection,
            anypoint.session,
            rate_limiter=anypoint.rate_limiter,
            token_cache=anypoint.token_cache,
        ) as client:
            deadline = client.retry.clock() + deadline_s
            try:
                organization_id = resolve_organization_id(client, deadline)
            except AnypointError as exc:
                results += _store_unreachable(session, space.id, targets, exc, now)
            else:
                writer = CacheWriter(session, space.id, now)
                crawl = crawl_datasets(
                    client,
                    organization_id,
                    ["diagnostics", *targets],
                    deadline=deadline,
                    settings=RunnerSettings(concurrency=CRAWL_CONCURRENCY, deadline_s=deadline_s),
                    on_snapshot=writer.add,
                )
                writer.finish()
                results += _store_crawl(session, space.id, crawl, targets, now, writer)
    finally:
        anypoint.close()
    order = {key: i for i, key in enumerate(DATASETS_BY_KEY)}
    results.sort(key=lambda r: order[r.dataset])
    log.info(
        "refreshed datasets",
        extra={"space_id": space.id, "datasets": {r.dataset: r.status for r in results}},
    )
    return RefreshSummary(space.key, now, tuple(results))


@contextmanager
def crawl_client(
    connection: Connection,
    session: requests.Session | None,
    *,
    rate_limiter: RateLimiter | None = None,
    token_cache: MutableMapping[Any, CachedToken] | None = None,
) -> Iterator[AnypointClient]:
    """A client for a crawl, paced and pooled like a diagnostics run's: the space's shared budget
    (``rate_limiter``, ``token_cache``: the organization's, across processes) when it has one,
    else a rate limit of its own at the diagnosis's rate."""
    own = None
    if session is None:
        base_url = resolve_base_url(connection.control_plane, connection.base_url)
        session = own = pooled_session(CRAWL_CONCURRENCY, base_url)
    limiter = rate_limiter or HostRateLimiter(DEFAULT_RATE_PER_SECOND, burst=CRAWL_CONCURRENCY)
    try:
        with AnypointClient(
            connection, session=session, rate_limiter=limiter, token_cache=token_cache
        ) as client:
            yield client
    finally:
        if own is not None:
            own.close()


def resolve_organization_id(client: AnypointClient, deadline: float | None) -> str:
    """The connection's organization, else the connected app's own (``/accounts/api/me``)."""
    if client.connection.organization_id:
        return client.connection.organization_id
    data = client.get(PROBES_BY_KEY["diagnostics.me"].path, deadline=deadline).data or {}
    for path in (("client", "org_id"), ("user", "organization", "id"), ("user", "organizationId")):
        value: Any = data
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    raise AnypointError("/accounts/api/me names no organization", path="/accounts/api/me")


# -- storing a crawl -------------------------------------------------------------------------------


class CacheWriter:
    """Stores each environment's snapshot rows as soon as the crawl completes them.

    A crawl streams its snapshots here (``on_snapshot``), so a refresh holds a few environments'
    data at a time (good rows are written ``BATCH`` at a time), not the organization's.
    Organization-level rows (``None``) wait for the end of the crawl, when it is known whether
    the environments could be listed at all.
    """

    BATCH = 50

    def __init__(self, session: Session, space_id: int, now: datetime) -> None:
        self.session = session
        self.space_id = space_id
        self.now = now
        self.organization_level: list[Snapshot] = []  # stored by _store_crawl
        self._pending: dict[tuple[str, str], list[Snapshot]] = {}
        self._good: list[snapshots.Fetched] = []

    def add(self, snapshot: Snapshot) -> None:
        if snapshot.environment_id is None:
            self.organization_level.append(snapshot)
            return
        key = (snapshot.dataset, snapshot.environment_id)
        group = self._pending.setdefault(key, [])
        group.append(snapshot)
        if {s.source for s in group} >= _environment_sources(snapshot.dataset):
            self._store(key)

    def finish(self) -> None:
        """Store what is left (and what a deadline left incomplete)."""
        for key in list(self._pending):
            self._store(key)
        self._flush()

    def _store(self, key: tuple[str, str]) -> None:
        group = self._pending.pop(key)
        if all(s.ok for s in group):
            items = [item for s in group for item in _items(s)]
            self._good.append(
                snapshots.Fetched(key[0], key[1], {"items": items}, len(items), "full")
            )
            if len(self._good) >= self.BATCH:
                self._flush()
        else:
            _store_group(self.session, self.space_id, key[0], key[1], group, self.now)

    def _flush(self) -> None:
        snapshots.store_successes(self.session, self.space_id, self._good, at=self.now)
        self._good = []


def _environment_sources(dataset: str) -> set[str | None]:
    """The snapshots a crawl makes for each environment of ``dataset`` (by source)."""
    sources: set[str | None] = set()
    for probe in probes_for_dataset(dataset):
        if probe.sample.crawled and not probe.fan_out.once:
            sources.add(dataset if probe.payload.part else probe.key)
    return sources


def _store_group(
    session: Session,
    space_id: int,
    dataset: str,
    env_id: str | None,
    group: list[Snapshot],
    now: datetime,
) -> None:
    """One row: the group's items if every snapshot of it is good, else the failure (keeping
    the row's last good data)."""
    if all(s.ok for s in group):
        items = [item for s in group for item in _items(s)]
        snapshots.store_success(
            session,
            space_id,
            dataset,
            env_id,
            at=now,
            payload={"items": items},
            item_count=len(items),
            coverage="full",
        )
    else:
        outcome, error = _failure(group)
        snapshots.store_failure(
            session, space_id, dataset, env_id, at=now, outcome=outcome, error=error
        )


def _store_crawl(
    session: Session,
    space_id: int,
    crawl: CrawlResult,
    targets: list[str],
    now: datetime,
    writer: CacheWriter,
) -> list[DatasetRefresh]:
    names = {e.id: e.name for e in crawl.environments}
    listing = next((r for r in crawl.records if r.probe.provides == "environments"), None)
    listing_failed = listing is not None and not listing.succeeded
    _store_dataset(session, space_id, writer, "diagnostics", names, now, listing_failed)
    results = []
    for dataset in targets:
        if dataset == "diagnostics":
            results.append(_summary(crawl, dataset, names))
            continue
        if listing_failed and _per_environment(dataset):
            assert listing is not None
            results.append(_store_listing_failure(session, space_id, dataset, listing, now))
            continue
        _store_dataset(session, space_id, writer, dataset, names, now, listing_failed)
        results.append(_summary(crawl, dataset, names))
    return results


def _store_dataset(
    session: Session,
    space_id: int,
    writer: CacheWriter,
    dataset: str,
    names: Mapping[str, str],
    now: datetime,
    listing_failed: bool,
) -> None:
    """The organization-level row of ``dataset`` (its environments' rows are already stored),
    then drop the rows of environments that no longer exist."""
    held = [s for s in writer.organization_level if s.dataset == dataset]
    for env_id, group in _groups(held).items():
        _store_group(session, space_id, dataset, env_id, group, now)
    if not listing_failed:
        keep: list[str | None] = list(names)
        if _has_org_level(dataset):
            keep.append(None)
        snapshots.delete_other_environments(session, space_id, dataset, keep)


def _store_listing_failure(
    session: Session, space_id: int, dataset: str, listing: ProbeRecord, now: datetime
) -> DatasetRefresh:
    """No environment could be listed: every row of the dataset failed with that cause."""
    outcome = listing.effective_outcome
    error = _clean(f"not run: the environments list answered {outcome}")
    rows = snapshots.list_snapshots(session, space_id, [dataset])
    env_ids = [r.environment_id for r in rows] or [None]
    for env_id in env_ids:
        snapshots.store_failure(
            session, space_id, dataset, env_id, at=now, outcome=outcome, error=error
        )
    failed = tuple(FailedEnvironment(e, None, outcome, error) for e in env_ids)
    reason = coverage_of([listing])[1]
    return DatasetRefresh(dataset, "failed", "none", reason, 0, failed)


def _store_unreachable(
    session: Session, space_id: int, targets: Iterable[str], exc: AnypointError, now: datetime
) -> list[DatasetRefresh]:
    """The organization could not even be resolved: every target dataset failed."""
    outcome, error = classify_error(exc), _clean(exc.message)
    results = []
    for dataset in targets:
        rows = snapshots.list_snapshots(session, space_id, [dataset])
        env_ids = [r.environment_id for r in rows] or [None]
        for env_id in env_ids:
            snapshots.store_failure(
                session, space_id, dataset, env_id, at=now, outcome=outcome, error=error
            )
        failed = tuple(FailedEnvironment(e, None, outcome, error) for e in env_ids)
        reason = "auth_blocked" if outcome == "forbidden" else "unreachable"
        results.append(DatasetRefresh(dataset, "failed", "none", reason, 0, failed))
    return results


def _summary(crawl: CrawlResult, dataset: str, names: Mapping[str, str]) -> DatasetRefresh:
    groups = _groups(crawl.for_dataset(dataset))
    failed = []
    item_count = 0
    for env_id, group in groups.items():
        if all(s.ok for s in group):
            item_count += sum(s.item_count for s in group)
        else:
            outcome, error = _failure(group)
            name = names.get(env_id) if env_id else None
            failed.append(FailedEnvironment(env_id, name, outcome, error))
    status = "ok" if not failed else ("failed" if len(failed) == len(groups) else "partial")
    return DatasetRefresh(
        dataset,
        status,
        crawl.coverage.get(dataset),
        crawl.reasons.get(dataset),
        item_count,
        tuple(failed),
    )


def _groups(items: Iterable[Snapshot]) -> dict[str | None, list[Snapshot]]:
    groups: dict[str | None, list[Snapshot]] = {}
    for snapshot in items:
        groups.setdefault(snapshot.environment_id, []).append(snapshot)
    return groups


def _items(snapshot: Snapshot) -> list[dict[str, Any]]:
    if snapshot.kind is None:
        return list(snapshot.items)
    return [{**item, KIND_KEY: snapshot.kind} for item in snapshot.items]


def _failure(group: list[Snapshot]) -> tuple[str, str]:
    """The outcome that says most about the cause, and the error text, of a failed group."""
    outcomes = {s.failure for s in group if not s.ok}
    outcome = next((o for o in _FAILURE_ORDER if o in outcomes), "error")
    error = "; ".join(s.error for s in group if not s.ok and s.error) or outcome
    return outcome, _clean(error)


def _per_environment(dataset: str) -> bool:
    return any(not p.fan_out.once for p in probes_for_dataset(dataset))


def _has_org_level(dataset: str) -> bool:
    return any(p.fan_out.once for p in probes_for_dataset(dataset))


def _clean(text: str) -> str:
    return Redactor().redact_text(text)[:2000]


# -- endpoints -------------------------------------------------------------------------------------


def _refresh_endpoints(
    session: Session,
    space: Space,
    box: SecretBox,
    config: Mapping[str, Any],
    asset: AssetRef | None,
    now: datetime,
    deadline_s: float,
) -> RefreshSummary:
    if not space_config(space).is_enabled(ENDPOINTS):
        raise DatasetDisabled(f"The endpoints dataset is turned off for space {space.key!r}.")
    assets = [asset] if asset is not None else cached_assets(session, space.id)
    if not assets:
        raise EndpointsTargetRequired(
            "Name the Exchange asset (group_id, asset_id, version) to seed the endpoints cache."
        )
    anypoint = anypoint_for(space, box, config)
    results = []
    try:
        with anypoint.client() as client:
            deadline = client.retry.clock() + deadline_s
            for ref in assets:
                results.append(seed_endpoints(session, space.id, client, ref, now, deadline))
    finally:
        anypoint.close()
    return RefreshSummary(space.key, now, tuple(results))


def seed_endpoints(
    session: Session,
    space_id: int,
    client: AnypointClient,
    asset: AssetRef,
    now: datetime,
    deadline: float | None = None,
) -> DatasetRefresh:
    """Fetch one asset's spec and merge its endpoints into the space's endpoints row.

    On failure the row keeps what it had (other assets, and this one's last good endpoints).
    Does not commit.
    """
    try:
        spec = fetch_endpoints(
            client, asset.group_id, asset.asset_id, asset.version, deadline=deadline
        )
    except AnypointError as exc:
        outcome, error = classify_error(exc), _clean(exc.message)
        if exc.status == 404:  # how Exchange answers a missing read:exchange (datasets.md)
            outcome = Outcome.FORBIDDEN
            error = _clean(
                f"Exchange answered 404 for {asset.key}/{asset.version}: the version does not "
                "exist, or read:exchange is not granted to the connected app"
            )
        snapshots.store_failure(
            session, space_id, ENDPOINTS, None, at=now, outcome=outcome, error=error
        )
        failed = (FailedEnvironment(None, None, outcome, error),)
        reason = "auth_blocked" if outcome == "forbidden" else "failed"
        return DatasetRefresh(ENDPOINTS, "failed", "none", reason, 0, failed, asset.key)
    row = snapshots.get_snapshot(session, space_id, ENDPOINTS)
    assets = dict(((row.payload or {}).get("assets") or {}) if row is not None else {})
    assets[asset.key] = {
        "version": spec.asset.get("version") or asset.version,
        "name": spec.asset.get("name"),
        "endpoints": [e.to_dict() for e in spec.endpoints],
    }
    count = sum(len(a.get("endpoints") or []) for a in assets.values())
    snapshots.store_success(
        session,
        space_id,
        ENDPOINTS,
        None,
        at=now,
        payload={"assets": assets},
        item_count=count,
        coverage="full",
        asset_version=asset.version,
    )
    return DatasetRefresh(ENDPOINTS, "ok", "full", None, len(spec.endpoints), (), asset.key)


def cached_assets(session: Session, space_id: int) -> list[AssetRef]:
    """The assets the endpoints cache holds (to re-seed them at their cached versions)."""
    row = snapshots.get_snapshot(session, space_id, ENDPOINTS)
    assets = ((row.payload or {}).get("assets") or {}) if row is not None else {}
    refs = []
    for key, entry in assets.items():
        group_id, _, asset_id = key.partition("/")
        if group_id and asset_id and isinstance(entry, dict) and entry.get("version"):
            refs.append(AssetRef(group_id, asset_id, str(entry["version"])))
    return refs


def latest_version(session: Session, space_id: int, group_id: str, asset_id: str) -> str | None:
    """The asset's version in the Exchange cache, if it lists the asset."""
    row = snapshots.get_snapshot(session, space_id, "exchange")
    for item in ((row.payload or {}).get("items") or []) if row is not None else []:
        if item.get("groupId") == group_id and item.get("assetId") == asset_id:
            version = item.get("version")
            return str(version) if version else None
    return None
