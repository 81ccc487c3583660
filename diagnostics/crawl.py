"""A full refresh of the scheduled dataset caches: every page, environment and API instance.

A crawl is the same planner and runner as a diagnosis with the plan in crawl mode
(:class:`~diagnostics.planner.ProbePlan` ``crawl=True``): the crawled probes of the requested
datasets, every page, every listed item. This module only turns the runner's records into
:class:`Snapshot` s — what one dataset holds for one environment — as they arrive, so a caller can
stream them into its cache (``on_snapshot``) instead of holding the whole organization in memory.
How a probe's items are stored comes from the catalogue: a ``kind`` tag per item, or one ``part``
of a combined item per listed parent (an API instance's policies, tiers and contracts).

A failure never stops the crawl: it is recorded on the snapshot of that dataset and environment
(error text is the client's message, which never carries a secret), and coverage per dataset is
computed from the probe records' outcomes, tallied as they arrive
(:func:`diagnostics.coverage.coverage_of_outcomes`).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from diagnostics.anypoint import AnypointClient
from diagnostics.catalogue import CATALOGUE, Catalogue, Probe
from diagnostics.clock import utcnow
from diagnostics.coverage import coverage_of_outcomes
from diagnostics.model import Environment
from diagnostics.planner import CRAWL_PAGE_SIZE, ProbePlan, in_plan_order
from diagnostics.probes import OK_OUTCOMES, ProbeRecord
from diagnostics.runner import ProbeRunner, RunnerSettings

# When several failures meet in one snapshot, the one that says most about the cause wins.
_FAILURE_ORDER = ("forbidden", "rate_limited", "timeout", "error")
CRAWL_DEADLINE_S = 600.0  # a crawl with no deadline of its own still ends

Items = list[dict[str, Any]]


@dataclass(frozen=True)
class Snapshot:
    """What one dataset holds for one environment (``None``: an organization-level list).

    ``outcome`` is a probe outcome of report.md. ``items`` is empty when the fetch failed, except
    for a combined dataset (``api_security_posture``), whose items keep every listed parent with
    its failed parts set to ``None`` and named in the item's ``errors``. ``source`` is the
    catalogue probe key, or the dataset key when the snapshot combines several probes; ``kind``
    is the tag the catalogue gives the probe's items in the cache. ``failure`` is the failure that
    says most about the cause (a skipped snapshot carries the one that stopped it).
    """

    dataset: str
    environment_id: str | None
    items: Items
    item_count: int
    fetched_at: datetime
    error: str | None
    outcome: str
    source: str | None = None
    kind: str | None = None
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in OK_OUTCOMES


@dataclass
class CrawlResult:
    """Every snapshot of a crawl; per dataset its coverage (full / partial / none) and reason.

    When the crawl streamed its snapshots (``on_snapshot``), the ones kept here have no items
    and ``records`` holds the inventory probes' records only (coverage was tallied as the
    records came): a refresh holds per environment a few small snapshots, not its calls.
    """

    snapshots: list[Snapshot]
    coverage: dict[str, str]
    reasons: dict[str, str | None]
    environments: list[Environment]
    records: list[ProbeRecord] = field(default_factory=list, repr=False)

    def for_dataset(self, dataset: str) -> list[Snapshot]:
        return [s for s in self.snapshots if s.dataset == dataset]

    def snapshot(
        self, dataset: str, environment_id: str | None, source: str | None = None
    ) -> Snapshot | None:
        """The snapshot of ``dataset`` for one environment (and probe, when it has several)."""
        wanted = (dataset, environment_id)
        for s in self.snapshots:
            if (s.dataset, s.environment_id) == wanted and source in (None, s.source):
                return s
        return None


def crawled_datasets(catalogue: Catalogue = CATALOGUE) -> tuple[str, ...]:
    """The datasets a crawl fetches (the others are derived or seeded by a macro refresh)."""
    return catalogue.crawled_datasets()


def crawl_datasets(
    client: AnypointClient,
    organization_id: str,
    datasets: Iterable[str],
    *,
    environments: list[Environment] | None = None,
    deadline: float | None = None,
    page_size: int = CRAWL_PAGE_SIZE,
    settings: RunnerSettings | None = None,
    catalogue: Catalogue = CATALOGUE,
    on_snapshot: Callable[[Snapshot], None] | None = None,
) -> CrawlResult:
    """Fetch every page of the requested scheduled datasets, for every environment.

    Derived and macro-seeded datasets (``ops_dashboard``, ``rovo``, ``endpoints``) are not
    fetched here and get no coverage. ``environments`` skips listing them (the environments
    list is still fetched when ``diagnostics`` is requested). ``deadline`` is a value of the
    client's clock (``client.retry.clock``); a call that cannot finish by then is ``timeout``.
    ``on_snapshot`` receives each snapshot as soon as it is complete (from the runner's thread
    that collects results, one at a time); the result then keeps them without their items.
    """
    requested = _requested(datasets, catalogue)
    plan = ProbePlan(
        organization_id=organization_id,
        dataset_filter=tuple(requested),
        page_size=page_size,
        catalogue=catalogue,
        crawl=True,
        environments_given=environments,
    )
    settings = settings or RunnerSettings(deadline_s=CRAWL_DEADLINE_S)
    runner = ProbeRunner(client, settings, clock=client.retry.clock)  # the deadline's clock
    assembler = _Assembler(plan, requested, on_snapshot)
    streamed = on_snapshot is not None
    result = runner.run(plan, deadline=deadline, on_record=assembler.add, keep=not streamed)
    assembler.finish()
    kept = assembler.inventory if streamed else result.records
    records = in_plan_order(kept, catalogue, plan.environments)
    coverage: dict[str, str] = {}
    reasons: dict[str, str | None] = {}
    for key in catalogue.dataset_keys:
        if key in requested:
            coverage[key], reasons[key] = coverage_of_outcomes(assembler.outcomes[key])
    snapshots = _ordered_snapshots(assembler.snapshots, plan, catalogue)
    return CrawlResult(snapshots, coverage, reasons, plan.environments, records)


def _requested(datasets: Iterable[str], catalogue: Catalogue) -> set[str]:
    keys = set(datasets)
    unknown = sorted(keys - set(catalogue.dataset_keys))
    if unknown:
        raise ValueError(f"unknown dataset(s): {', '.join(unknown)}")
    return keys & set(catalogue.crawled_datasets())


# -- records into snapshots --------------------------------------------------------------------


class _Assembler:
    """Turns the runner's records into snapshots as soon as each is complete.

    A probe without a ``part`` makes one snapshot per record. The probes with a ``part`` combine:
    one snapshot per dataset and environment, one item per listed parent, emitted once every
    part of every parent has answered.
    """

    def __init__(
        self,
        plan: ProbePlan,
        requested: set[str],
        sink: Callable[[Snapshot], None] | None,
    ) -> None:
        self.plan = plan
        self.requested = requested
        self.sink = sink
        self.snapshots: list[Snapshot] = []
        self.outcomes: defaultdict[str, Counter[str]] = defaultdict(Counter)  # per dataset
        self.inventory: list[ProbeRecord] = []  # the inventory probes' records
        self._groups: dict[tuple[str, str | None], _Group] = {}
        self._lock = threading.Lock()

    def add(self, record: ProbeRecord) -> None:
        with self._lock:
            self._note_listing(record)
            probe = record.probe
            self.outcomes[probe.dataset][record.effective_outcome] += 1
            if probe.role == "inventory":
                self.inventory.append(record)
            if probe.dataset not in self.requested:
                return
            if probe.payload.part is None:
                self._emit(
                    _snapshot_of(
                        probe.dataset,
                        record.environment_id,
                        record.items or [],
                        [record],
                        probe.key,
                        probe.payload.kind,
                    )
                )
                return
            group = self._group(probe.dataset, record.environment_id)
            group.add(record)
            if group.complete:
                self._emit(group.snapshot())
                del self._groups[(probe.dataset, record.environment_id)]

    def finish(self) -> None:
        """Emit what is left (a group whose listing never came: only at a deadline)."""
        with self._lock:
            for group in self._groups.values():
                if group.records:
                    self._emit(group.snapshot())
            self._groups.clear()

    def _note_listing(self, record: ProbeRecord) -> None:
        """A listing whose items combined probes fan out over: what each group waits for."""
        if not record.succeeded or not record.items:
            return
        for child in self.plan.catalogue.children(record.probe):
            if child.payload.part is None or child.dataset not in self.requested:
                continue
            group = self._group(child.dataset, record.environment_id)
            group.expect(child, [i for i in record.items if child.fan_out.accepts(i)])

    def _group(self, dataset: str, env_id: str | None) -> _Group:
        key = (dataset, env_id)
        if key not in self._groups:
            parts = [p for p in self.plan.catalogue.probes_for_dataset(dataset) if p.payload.part]
            self._groups[key] = _Group(dataset, env_id, parts)
        return self._groups[key]

    def _emit(self, snapshot: Snapshot) -> None:
        if self.sink is None:
            self.snapshots.append(snapshot)
            return
        self.sink(snapshot)
        self.snapshots.append(replace(snapshot, items=[]))


@dataclass
class _Group:
    """The combined snapshot of one dataset and environment, as its part records arrive."""

    dataset: str
    environment_id: str | None
    parts: list[Probe]
    parents: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)
    expected: int | None = None
    records: list[ProbeRecord] = field(default_factory=list)
    listed: list[Items | None] = field(default_factory=list)  # each record's items, kept

    def add(self, record: ProbeRecord) -> None:
        self.records.append(record)
        self.listed.append(record.items)  # the runner lets go of a record's items once planned

    def expect(self, probe: Probe, items: list[Any]) -> None:
        fan = probe.fan_out
        for item in items:
            key = tuple(fan.bindings(item).values())
            if key not in self.parents:
                self.parents[key] = {name: item[f] for name, f in fan.binds}
        self.expected = (self.expected or 0) + len(items)

    @property
    def complete(self) -> bool:
        if self.expected is None:  # nothing listed: one skipped record per part
            return len(self.records) >= len(self.parts)
        return len(self.records) >= self.expected

    def snapshot(self) -> Snapshot:
        if self.expected is None:
            return _snapshot_of(self.dataset, self.environment_id, [], self.records, self.dataset)
        items: dict[tuple[str, ...], dict[str, Any]] = {
            key: {**ids, "environment_id": self.environment_id} for key, ids in self.parents.items()
        }
        errors: dict[tuple[str, ...], dict[str, str]] = {}
        for r, listed in zip(self.records, self.listed, strict=True):
            fan = r.probe.fan_out
            key = tuple(fan.bindings(r.parent_item).values()) if r.parent_item else ()
            item = items.get(key)
            if item is None:
                continue
            part = r.probe.payload.part
            assert part is not None
            item[part] = listed if r.succeeded else None
            if not r.succeeded:
                errors.setdefault(key, {})[part] = r.message or r.outcome
        for key, item_errors in errors.items():
            items[key]["errors"] = item_errors
        return _snapshot_of(
            self.dataset, self.environment_id, list(items.values()), self.records, self.dataset
        )


def _snapshot_of(
    dataset: str,
    env_id: str | None,
    items: Items,
    records: list[ProbeRecord],
    source: str,
    kind: str | None = None,
) -> Snapshot:
    failures = [r for r in records if r.effective_outcome not in OK_OUTCOMES]
    if failures and all(r.outcome == "skipped" for r in failures):
        outcome = "skipped"
    elif failures:
        outcome = _worst([r for r in failures if r.outcome != "skipped"])
    else:
        outcome = "ok" if items else "empty"
    return Snapshot(
        dataset=dataset,
        environment_id=env_id,
        items=items if not failures or outcome != "skipped" else [],
        item_count=len(items) if outcome != "skipped" else 0,
        fetched_at=utcnow(),
        error=_error_text(failures),
        outcome=outcome,
        source=source,
        kind=kind,
        failure=_worst_effective(failures),
    )


def _worst(failures: list[ProbeRecord]) -> str:
    """The failure that says most about the cause, when several meet in one snapshot."""
    outcomes = {r.outcome for r in failures}
    return next((o for o in _FAILURE_ORDER if o in outcomes), "error")


def _worst_effective(failures: list[ProbeRecord]) -> str | None:
    outcomes = {r.effective_outcome for r in failures}
    return next((o for o in _FAILURE_ORDER if o in outcomes), None)


def _error_text(failures: list[ProbeRecord]) -> str | None:
    if not failures:
        return None
    first = failures[0].message or failures[0].outcome
    more = len(failures) - 1
    return first if not more else f"{first} (and {more} more failed call(s))"


# -- a stable order ----------------------------------------------------------------------------


def _ordered_snapshots(
    snapshots: list[Snapshot], plan: ProbePlan, catalogue: Catalogue
) -> list[Snapshot]:
    datasets = {k: i for i, k in enumerate(catalogue.dataset_keys)}
    probes = {p.key: i for i, p in enumerate(catalogue.probes)}
    envs = {e.id: i for i, e in enumerate(plan.environments)}
    return sorted(
        snapshots,
        key=lambda s: (
            datasets[s.dataset],
            s.environment_id is not None,
            envs.get(s.environment_id or "", -1),
            probes.get(s.source or "", -1),
        ),
    )
