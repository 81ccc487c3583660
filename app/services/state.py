"""The Confluence side of a run (:class:`~diagnostics.model.AppState`) built from the database.

The database is the truth: the space's configuration, its dataset snapshots (one row per dataset
and environment) and the render events the macros reported. In simulated mode the scenario fills
what the database does not have yet (no snapshots: the scenario's caches; no render events: the
scenario's renders; the scenario's pages), with the scenario's clock moved to the run's clock so
that ages stay what the scenario meant whatever the date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.models import DatasetSnapshot, Installation, Space
from app.storage import recent_renders, space_config
from diagnostics.model import AppState, CacheEntry, MacroPage, MacroPlacement, RenderEvent
from diagnostics.simulator import Scenario

MAX_RENDER_EVENTS = 1000


def app_state_for(
    session: Session,
    space: Space,
    config: Mapping[str, Any],
    *,
    scenario: Scenario | None = None,
    pages: Sequence[MacroPage] | None = None,
    now: datetime | None = None,
) -> AppState:
    """The space's app state. ``pages`` (a live macro discovery) wins over derived pages.

    ``config`` is the app configuration: ``MULESIGHT_RENDER_WINDOW_DAYS`` bounds the
    render events read.
    """
    now = now or clock.now()
    window = timedelta(days=int(config["MULESIGHT_RENDER_WINDOW_DAYS"]))
    cache = cache_entries(session, space)
    renders = tuple(
        e for e in recent_renders(session, space, MAX_RENDER_EVENTS) if e.at >= now - window
    )
    installation = session.get(Installation, space.installation_id)
    site_url = installation.site_url if installation is not None else None
    found_pages = tuple(pages) if pages is not None else None
    if scenario is not None:
        simulated = _rebased(scenario, now, space.key)
        cache = cache or dict(simulated.cache)
        renders = renders or simulated.renders
        if found_pages is None:
            found_pages = simulated.pages
        site_url = site_url or simulated.site_url
    if found_pages is None:
        found_pages = pages_from_renders(renders)
    return AppState(
        space=space_config(space),
        cache=cache,
        renders=renders,
        pages=found_pages,
        site_url=site_url,
    )


def cache_entries(session: Session, space: Space) -> dict[str, CacheEntry]:
    """One :class:`CacheEntry` per dataset, aggregated over its environments' snapshot rows.

    ``last_success`` is the oldest successful fetch among the environments that have one (the
    cache is as old as its oldest part); an environment that never succeeded shows up as
    ``last_attempt_failed`` (its row carries ``last_error``) rather than hiding the others' data.
    """
    rows = session.scalars(select(DatasetSnapshot).where(DatasetSnapshot.space_id == space.id))
    by_dataset: dict[str, list[DatasetSnapshot]] = {}
    for row in rows:
        by_dataset.setdefault(row.dataset, []).append(row)
    return {key: _aggregate(key, group) for key, group in sorted(by_dataset.items())}


def _aggregate(dataset: str, rows: Sequence[DatasetSnapshot]) -> CacheEntry:
    fetched = [r.fetched_at for r in rows if r.fetched_at is not None]
    counts = [r.item_count for r in rows if r.item_count is not None]
    versioned = sorted(
        (r for r in rows if r.asset_version),
        key=lambda r: r.fetched_at or datetime.min.replace(tzinfo=UTC),
    )
    return CacheEntry(
        dataset,
        last_success=min(fetched) if fetched else None,
        last_attempt_failed=any(r.last_error for r in rows),
        items=sum(counts) if counts else None,
        asset_version=versioned[-1].asset_version if versioned else None,
    )


def pages_from_renders(renders: Iterable[RenderEvent]) -> tuple[MacroPage, ...]:
    """The pages the render events name, each with the macros seen on it (titles unknown)."""
    placements: dict[str, dict[tuple[str, str | None], None]] = {}
    space_keys: dict[str, str | None] = {}
    for event in renders:
        if not event.page_id:
            continue
        placements.setdefault(event.page_id, {})[(event.macro, event.mode)] = None
        space_keys.setdefault(event.page_id, event.space_key)
    return tuple(
        MacroPage(
            page_id=page_id,
            title="",
            space_key=space_keys[page_id],
            macros=tuple(MacroPlacement(macro, mode) for macro, mode in macros),
        )
        for page_id, macros in placements.items()
    )


def _rebased(scenario: Scenario, now: datetime, space_key: str) -> AppState:
    """The scenario's app state on the run's clock, its pages and renders in ``space_key``."""
    state = scenario.app_state()
    shift = now - scenario.now if scenario.now is not None else timedelta(0)
    cache = {
        key: replace(entry, last_success=entry.last_success + shift)
        if entry.last_success is not None
        else entry
        for key, entry in state.cache.items()
    }
    renders = tuple(replace(e, at=e.at + shift, space_key=space_key) for e in state.renders)
    pages = tuple(replace(p, space_key=space_key) for p in state.pages)
    return replace(state, cache=cache, renders=renders, pages=pages)
