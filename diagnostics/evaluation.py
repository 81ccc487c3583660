"""Evaluation: turn probe records and the app state into the sections of the report.

Pure functions over what the runner recorded: no IO, and the records passed in are never changed
(a record read differently, like an empty answer that means a missing grant, is a new record).
Each section follows report.md: datasets (coverage + freshness), scopes, macros. Findings are made
only by :mod:`diagnostics.rules`. What is known about a probe or dataset comes from the catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from diagnostics.catalogue import CATALOGUE, Catalogue, Dataset, Probe
from diagnostics.coverage import combine_derived, coverage_of
from diagnostics.freshness import (
    Freshness,
    cache_freshness,
    endpoints_freshness,
    worst_freshness,
)
from diagnostics.macros import MacroStatus, macro_statuses
from diagnostics.model import AppState
from diagnostics.probes import SKIP_DISABLED, SKIP_NOT_SELECTED, ProbeRecord
from diagnostics.statuses import Coverage, FreshnessState, Outcome


@dataclass
class DatasetResult:
    dataset: Dataset
    coverage: Coverage
    reason: str | None
    freshness: Freshness
    records: list[ProbeRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.coverage = Coverage(self.coverage)

    @property
    def checked(self) -> bool:
        return self.reason not in (SKIP_DISABLED, SKIP_NOT_SELECTED)

    def failed_paths(self) -> dict[str, list[str]]:
        failed: dict[str, list[str]] = {"forbidden": [], "timeout": [], "other": []}
        for r in self.records:
            if r.outcome in ("ok", "empty", "skipped"):
                continue
            bucket = r.outcome if r.outcome in ("forbidden", "timeout") else "other"
            if r.path not in failed[bucket]:
                failed[bucket].append(r.path)
        return failed

    def to_report(self) -> dict[str, Any]:
        f = self.freshness
        return {
            "name": self.dataset.name,
            "coverage": self.coverage.value,
            "reason": self.reason,
            "impact": self.dataset.impact if self.coverage != "full" else None,
            "last_successful_fetch": f.last_success.isoformat() if f.last_success else None,
            "freshness": f.state.value,
            "stale_fallback": f.stale_fallback,
            "probes": [r.to_report() for r in self.records],
            "failed": self.failed_paths(),
        }


@dataclass
class ScopeResult:
    key: str
    status: Coverage
    reason: str | None
    missing_in: list[str]
    checked: bool
    verified: bool = False  # a probe got a definitive answer: ok, empty (access) or 401/403

    def __post_init__(self) -> None:
        self.status = Coverage(self.status)

    def to_report(
        self, why_needed: str, impact: str, catalogue: Catalogue = CATALOGUE
    ) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "missing_in": self.missing_in,
            "why_needed": why_needed,
            "used_by": list(catalogue.scope_used_by(self.key)),
            "validated_by": list(catalogue.scope_validated_by(self.key)),
            "impact": impact if self.status != "full" else None,
            "reason": self.reason,
            "checked": self.checked,
            "verified": self.verified,
        }


def read_empty_answers(
    records: Sequence[ProbeRecord],
    state: AppState,
    organization_id: str | None,
    catalogue: Catalogue = CATALOGUE,
) -> tuple[list[ProbeRecord], bool]:
    """An empty answer does not prove access where Anypoint answers a missing grant with an
    empty list (a probe whose ``denial`` is ``empty``; report.md). When other data shows the
    organization owns such items — its dataset's cache is not empty, or a probe named in
    ``disproved_by`` listed one whose ``groupId`` is the organization — the empty record becomes
    ``forbidden`` and what was skipped for lack of items is blocked instead.

    Returns new records (those passed in are unchanged) and whether any was read so.
    """
    denied = {
        r.probe.key: r.probe
        for r in records
        if r.probe.denial == "empty"
        and r.outcome == "empty"
        and _owns_items(r.probe, records, state, organization_id)
    }
    if not denied:
        return list(records), False
    out: list[ProbeRecord] = []
    for r in records:
        if r.probe.key in denied and r.outcome == "empty":
            r = replace(r, outcome=Outcome.FORBIDDEN, message=_empty_denial(r.probe, catalogue))
        elif r.outcome == "skipped" and r.cause == "empty":
            blocker = next((denied[d] for d in r.probe.depends_on if d in denied), None)
            if blocker is not None:
                name = catalogue.datasets_by_key[blocker.dataset].name
                message = (
                    f"not run: the {name} search is blocked ({blocker.scope} probably missing)"
                )
                r = replace(r, cause="forbidden", message=message)
        out.append(r)
    return out, True


def _owns_items(
    probe: Probe, records: Sequence[ProbeRecord], state: AppState, organization_id: str | None
) -> bool:
    cached = state.cache.get(probe.dataset)
    if cached and cached.items:
        return True
    return any(
        isinstance(item, Mapping) and organization_id and item.get("groupId") == organization_id
        for r in records
        if r.probe.key in probe.disproved_by
        for item in r.items or []
    )


def _empty_denial(probe: Probe, catalogue: Catalogue) -> str:
    name = catalogue.datasets_by_key[probe.dataset].name
    return (
        f"200 with an empty list although the organization owns {name} assets: "
        f"Anypoint answers this way when {probe.scope} is missing"
    )


def evaluate_datasets(
    records: Sequence[ProbeRecord],
    state: AppState,
    now: datetime,
    catalogue: Catalogue = CATALOGUE,
) -> dict[str, DatasetResult]:
    results: dict[str, DatasetResult] = {}
    interval = state.space.sync_interval_hours
    for dataset in (d for d in catalogue.datasets if not d.derived):
        own = [r for r in records if r.probe.dataset == dataset.key]
        coverage, reason = coverage_of(own)
        if dataset.context:
            fresh = Freshness(FreshnessState.NOT_APPLICABLE, None, False)
        elif not dataset.scheduled:  # seeded by a macro refresh: stale when its item changed
            fresh = endpoints_freshness(state.cache.get(dataset.key), sampled_version(own))
        else:
            fresh = cache_freshness(state.cache.get(dataset.key), now, interval)
        results[dataset.key] = DatasetResult(dataset, coverage, reason, fresh, own)
    for dataset in (d for d in catalogue.datasets if d.derived):
        results[dataset.key] = _derived(dataset, results, state)
    return results


def _derived(
    dataset: Dataset, results: Mapping[str, DatasetResult], state: AppState
) -> DatasetResult:
    sources = [results[s] for s in dataset.sources]
    reason: str | None
    if not state.space.is_enabled(dataset.key):
        coverage, reason = Coverage.NONE, SKIP_DISABLED
    else:
        coverage = combine_derived([s.coverage for s in sources])
        reason = next((s.reason for s in sources if s.coverage != "full"), None)
        reason = None if coverage == "full" else reason or "source_incomplete"
    states = [s.freshness.state for s in sources]
    lasts = [s.freshness.last_success for s in sources]
    oldest = None if None in lasts else min(x for x in lasts if x is not None)
    fallback = any(s.freshness.stale_fallback for s in sources)
    return DatasetResult(
        dataset, coverage, reason, Freshness(worst_freshness(states), oldest, fallback)
    )


def evaluate_scopes(
    records: Sequence[ProbeRecord], catalogue: Catalogue = CATALOGUE
) -> dict[str, ScopeResult]:
    results: dict[str, ScopeResult] = {}
    for scope in catalogue.scopes:
        keys = {p.key for p in catalogue.probes_for_scope(scope.key)}
        own = [r for r in records if r.probe.key in keys]
        checked_records = [
            r for r in own if r.effective_outcome not in (SKIP_DISABLED, SKIP_NOT_SELECTED)
        ]
        status, reason = (
            coverage_of(checked_records) if checked_records else (Coverage.NONE, "not_needed")
        )
        missing: list[str] = []
        for r in checked_records:
            if r.outcome == "forbidden":
                place = r.environment_id or "organization"
                if place not in missing:
                    missing.append(place)
        verified = any(r.outcome in ("ok", "empty", "forbidden") for r in checked_records)
        results[scope.key] = ScopeResult(
            scope.key, status, reason, missing, bool(checked_records), verified
        )
    return results


def scope_section(
    results: Mapping[str, ScopeResult], catalogue: Catalogue = CATALOGUE
) -> dict[str, Any]:
    return {
        s.key: results[s.key].to_report(s.why_needed, s.impact, catalogue) for s in catalogue.scopes
    }


def evaluate_macros(state: AppState) -> list[MacroStatus]:
    return macro_statuses(state.pages, state.renders)


def sampled_version(records: Sequence[ProbeRecord]) -> str | None:
    """The version of the item a seeded dataset's probe sampled (to spot a changed spec)."""
    for r in records:
        if isinstance(r.data, Mapping) and r.data.get("version") is not None:
            return str(r.data["version"])
    return None


def organization_name(records: Sequence[ProbeRecord]) -> str | None:
    """The organization's name, from the inventory probe that describes the organization."""
    for r in records:
        if r.probe.provides == "organization" and isinstance(r.data, Mapping):
            name = r.data.get("name")
            return str(name) if name else None
    return None
