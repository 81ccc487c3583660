"""The freshness rule of report.md for a dataset cache, given the space's sync interval ``I``.

``never`` no successful refresh; ``fresh`` age ≤ I; ``stale`` I < age ≤ 2·I; ``expired`` age > 2·I.
The endpoints cache is seeded by a macro refresh: ``never`` until seeded, then ``fresh`` unless its
Exchange asset changed version since. A derived dataset takes the worst freshness of its sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from diagnostics.model import CacheEntry
from diagnostics.statuses import FreshnessState

# Worst first, as report.md orders them for derived datasets.
FRESHNESS_SEVERITY = {"expired": 3, "never": 2, "stale": 1, "fresh": 0, "not_applicable": -1}


@dataclass(frozen=True)
class Freshness:
    state: FreshnessState
    last_success: datetime | None
    stale_fallback: bool
    age: timedelta | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", FreshnessState(self.state))


def cache_freshness(entry: CacheEntry | None, now: datetime, sync_interval_hours: int) -> Freshness:
    if entry is None or entry.last_success is None:
        return Freshness(FreshnessState.NEVER, None, False)
    age = now - entry.last_success
    interval = timedelta(hours=sync_interval_hours)
    if age <= interval:
        state = FreshnessState.FRESH
    elif age <= 2 * interval:
        state = FreshnessState.STALE
    else:
        state = FreshnessState.EXPIRED
    return Freshness(state, entry.last_success, entry.last_attempt_failed, age)


def endpoints_freshness(entry: CacheEntry | None, current_version: str | None) -> Freshness:
    if entry is None or entry.last_success is None:
        return Freshness(FreshnessState.NEVER, None, False)
    changed = bool(
        entry.asset_version and current_version and entry.asset_version != current_version
    )
    return Freshness(
        FreshnessState.STALE if changed else FreshnessState.FRESH,
        entry.last_success,
        entry.last_attempt_failed,
    )


def worst_freshness(states: Sequence[str]) -> FreshnessState:
    worst = max(states, key=lambda s: FRESHNESS_SEVERITY[s]) if states else "never"
    return FreshnessState(worst)
