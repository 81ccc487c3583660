"""Evaluation: turn probe records and the app state into the sections of the report.

Pure functions over what the runner recorded; no IO. Each section follows report.md:
datasets (coverage + freshness), scopes, macros. Findings are built in :mod:`diagnostics.rules`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from diagnostics.catalogue import (
    DATASETS,
    SCOPES,
    Dataset,
    probes_for_scope,
    scope_used_by,
    scope_validated_by,
)
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

EXCHANGE_SEARCH = "exchange.search"
EMPTY_EXCHANGE_MESSAGE = (
    "200 with an empty list although the organization owns Exchange assets: "
    "Anypoint answers this way when read:exchange is missing"
)


@dataclass
class DatasetResult:
    dataset: Dataset
    coverage: str
    reason: str | None
    freshness: Freshness
    records: list[ProbeRecord] = field(default_factory=list)

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
            "coverage": self.coverage,
            "reason": self.reason,
            "impact": self.dataset.impact if self.coverage != "full" else None,
            "last_successful_fetch": f.last_success.isoformat() if f.last_success else None,
            "freshness": f.state,
            "stale_fallback": f.stale_fallback,
            "probes": [r.to_report() for r in self.records],
            "failed": self.failed_paths(),
        }


@dataclass
class ScopeResult:
    key: str
    status: str
    reason: str | None
    missing_in: list[str]
    checked: bool

    def to_report(self, why_needed: str, impact: str) -> dict[str, Any]:
        return {
            "status": self.status,
            "missing_in": self.missing_in,
            "why_needed": why_needed,
            "used_by": list(scope_used_by(self.key)),
            "validated_by": list(scope_validated_by(self.key)),
            "impact": impact if self.status != "full" else None,
            "reason": self.reason,
            "checked": self.checked,
        }


def apply_empty_exchange_rule(
    records: Sequence[ProbeRecord], state: AppState, organization_id: str | None
) -> bool:
    """An empty Exchange search does not prove access (report.md). Returns True when applied."""
    search = next((r for r in records if r.probe.key == EXCHANGE_SEARCH), None)
    if search is None or search.outcome != "empty":
        return False
    cached = state.cache.get("exchange")
    owns_assets = bool(cached and cached.items) or any(
        isinstance(api, Mapping) and organization_id and api.get("groupId") == organization_id
        for r in records
        if r.probe.key == "api_manager.instances"
        for api in r.items or []
    )
    if not owns_assets:
        return False
    search.outcome = "forbidden"
    search.message = EMPTY_EXCHANGE_MESSAGE
    for r in records:
        if r.outcome == "skipped" and EXCHANGE_SEARCH in r.probe.depends_on and r.cause == "empty":
            r.cause = "forbidden"
            r.message = "not run: the Exchange search is blocked (read:exchange probably missing)"
    return True


def evaluate_datasets(
    records: Sequence[ProbeRecord],
    state: AppState,
    now: datetime,
    endpoints_version: str | None,
) -> dict[str, DatasetResult]:
    results: dict[str, DatasetResult] = {}
    interval = state.space.sync_interval_hours
    for dataset in (d for d in DATASETS if not d.derived):
        own = [r for r in records if r.probe.dataset == dataset.key]
        coverage, reason = coverage_of(own)
        if dataset.key == "diagnostics":
            fresh = Freshness("not_applicable", None, False)
        elif dataset.key == "endpoints":
            fresh = endpoints_freshness(state.cache.get("endpoints"), endpoints_version)
        else:
            fresh = cache_freshness(state.cache.get(dataset.key), now, interval)
        results[dataset.key] = DatasetResult(dataset, coverage, reason, fresh, own)
    for dataset in (d for d in DATASETS if d.derived):
        results[dataset.key] = _derived(dataset, results, state)
    return results


def _derived(
    dataset: Dataset, results: Mapping[str, DatasetResult], state: AppState
) -> DatasetResult:
    sources = [results[s] for s in dataset.sources]
    if not state.space.is_enabled(dataset.key):
        coverage, reason = "none", SKIP_DISABLED
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


def evaluate_scopes(records: Sequence[ProbeRecord]) -> dict[str, ScopeResult]:
    results: dict[str, ScopeResult] = {}
    for scope in SCOPES:
        keys = {p.key for p in probes_for_scope(scope.key)}
        own = [r for r in records if r.probe.key in keys]
        checked_records = [
            r for r in own if r.effective_outcome not in (SKIP_DISABLED, SKIP_NOT_SELECTED)
        ]
        status, reason = coverage_of(checked_records) if checked_records else ("none", "not_needed")
        missing: list[str] = []
        for r in checked_records:
            if r.outcome == "forbidden":
                place = r.environment_id or "organization"
                if place not in missing:
                    missing.append(place)
        results[scope.key] = ScopeResult(scope.key, status, reason, missing, bool(checked_records))
    return results


def scope_section(results: Mapping[str, ScopeResult]) -> dict[str, Any]:
    return {s.key: results[s.key].to_report(s.why_needed, s.impact) for s in SCOPES}


def evaluate_macros(state: AppState) -> list[MacroStatus]:
    return macro_statuses(state.pages, state.renders)


def endpoints_sample_version(records: Sequence[ProbeRecord]) -> str | None:
    """The version of the REST asset the endpoints probe sampled (to spot a changed spec)."""
    detail = next((r for r in records if r.probe.key == "endpoints.asset_detail"), None)
    if detail is None or not isinstance(detail.data, Mapping):
        return None
    version = detail.data.get("version")
    return str(version) if version is not None else None
