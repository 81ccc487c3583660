"""A full refresh of the scheduled dataset caches: every page, environment and API instance.

Diagnostics *sample* (one page, one instance per environment); a crawl fetches everything a
cache holds. It reads the same catalogue probes (paths, headers, query templates), the same
payload shapes and the same coverage rule as diagnostics, so a crawl and a diagnostics run of the
same organization agree on what is reachable.

A failure never stops the crawl: it is recorded on the :class:`Snapshot` of that dataset and
environment (error text is the client's message, which never carries a secret), and coverage per
dataset is computed from the probe records with :func:`diagnostics.coverage.coverage_of`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from diagnostics.anypoint import AnypointClient, ApiResult, shapes
from diagnostics.catalogue import DATASETS_BY_KEY, PROBES_BY_KEY, Probe
from diagnostics.clock import utcnow
from diagnostics.coverage import coverage_of
from diagnostics.errors import AnypointError
from diagnostics.model import Environment
from diagnostics.planner import ProbeTask, environment_type
from diagnostics.probes import OK_OUTCOMES, ProbeRecord
from diagnostics.runner import classify_error

log = logging.getLogger("diagnostics.crawl")

WORKERS = 8  # concurrent Anypoint calls of one crawl (the client's rate limiter paces them)
ENVIRONMENTS_PROBE = "diagnostics.environments"
INSTANCES_PROBE = "api_manager.instances"
POSTURE = "api_security_posture"
POSTURE_PARTS = {  # item key -> catalogue probe
    "policies": "api_security_posture.policies",
    "tiers": "api_security_posture.tiers",
    "contracts": "api_security_posture.contracts",
}
# When several failures meet in one snapshot, the one that says most about the cause wins.
_FAILURE_ORDER = ("forbidden", "rate_limited", "timeout", "error")

Items = list[dict[str, Any]]

# How to read each probe's answer into a list of objects.
_SHAPES: Mapping[str, Callable[[Any], Items]] = {
    ENVIRONMENTS_PROBE: shapes.environments,
    "exchange.search": shapes.exchange_assets,
    "runtime_manager.cloudhub_apps": shapes.cloudhub_applications,
    "runtime_manager.deployments": shapes.deployments,
    "runtime_manager.rtf_targets": shapes.runtime_fabric_targets,
    INSTANCES_PROBE: shapes.api_assets,  # pages count asset groups; flattened once all are in
    "api_security_posture.policies": shapes.policies,
    "api_security_posture.tiers": shapes.tiers,
    "api_security_posture.contracts": shapes.contracts,
}
_FINISH: Mapping[str, Callable[[Items], Items]] = {INSTANCES_PROBE: shapes.flatten_api_assets}


@dataclass(frozen=True)
class Snapshot:
    """What one dataset holds for one environment (``None``: an organization-level list).

    ``outcome`` is a probe outcome of report.md. ``items`` is empty when the fetch failed, except
    for ``api_security_posture``, whose items keep every instance with its failed parts set to
    ``None`` and named in the item's ``errors``. ``source`` is the catalogue probe key, or the
    dataset key when the snapshot combines several probes.
    """

    dataset: str
    environment_id: str | None
    items: Items
    item_count: int
    fetched_at: datetime
    error: str | None
    outcome: str
    source: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in OK_OUTCOMES


@dataclass
class CrawlResult:
    """Every snapshot of a crawl; per dataset its coverage (full / partial / none) and reason."""

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


@dataclass
class _Crawl:
    """The state shared by the dataset crawlers of one crawl."""

    client: AnypointClient
    organization_id: str
    deadline: float | None
    page_size: int
    pool: ThreadPoolExecutor
    environments: list[Environment] = field(default_factory=list)
    environments_failure: ProbeRecord | None = None
    snapshots: list[Snapshot] = field(default_factory=list)
    records: list[ProbeRecord] = field(default_factory=list)
    listing: Snapshot | None = None  # the environments list, when it was fetched
    instances: dict[str, tuple[Snapshot, ProbeRecord]] = field(default_factory=dict)  # by env id

    def bindings(self, env: Environment | None = None, **extra: str) -> dict[str, str]:
        values = {"org_id": self.organization_id, "page_size": str(self.page_size), **extra}
        return values if env is None else {**values, "env_id": env.id}


# -- the public entry point --------------------------------------------------------------------


def crawl_datasets(
    client: AnypointClient,
    organization_id: str,
    datasets: Iterable[str],
    *,
    environments: list[Environment] | None = None,
    deadline: float | None = None,
    page_size: int = 100,
) -> CrawlResult:
    """Fetch every page of the requested scheduled datasets, for every environment.

    Derived and macro-seeded datasets (``ops_dashboard``, ``rovo``, ``endpoints``) are not
    fetched here and get no coverage. ``environments`` skips listing them (the environments
    list is still fetched when ``diagnostics`` is requested). ``deadline`` is a value of the
    client's clock (``client.retry.clock``); a call that cannot finish by then is ``timeout``.
    Calls run on up to ``WORKERS`` threads; snapshots and records keep a stable order.
    """
    requested = _requested(datasets)
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="crawl") as pool:
        crawl = _Crawl(client, organization_id, deadline, page_size, pool)
        if "diagnostics" in requested or environments is None:
            crawl.listing, record = _fetch(crawl, [(ENVIRONMENTS_PROBE, None)])[0]
            crawl.environments = _environments_of(crawl.listing)
            crawl.environments_failure = None if record.succeeded else record
        if environments is not None:
            crawl.environments, crawl.environments_failure = list(environments), None
        for key in CRAWLERS:  # table order: api_manager before the posture that reuses it
            if key in requested:
                CRAWLERS[key](crawl)
    return _result(crawl, requested)


def _requested(datasets: Iterable[str]) -> set[str]:
    keys = set(datasets)
    unknown = sorted(keys - set(DATASETS_BY_KEY))
    if unknown:
        raise ValueError(f"unknown dataset(s): {', '.join(unknown)}")
    return keys & set(CRAWLERS)


def _result(crawl: _Crawl, requested: set[str]) -> CrawlResult:
    coverage: dict[str, str] = {}
    reasons: dict[str, str | None] = {}
    for key in CRAWLERS:
        if key in requested:
            records = [r for r in crawl.records if r.probe.dataset == key]
            coverage[key], reasons[key] = coverage_of(records)
    return CrawlResult(crawl.snapshots, coverage, reasons, crawl.environments, crawl.records)


# -- one crawler per dataset -------------------------------------------------------------------


def _crawl_diagnostics(crawl: _Crawl) -> None:
    if crawl.listing is not None:
        crawl.snapshots.append(crawl.listing)


def _crawl_exchange(crawl: _Crawl) -> None:
    crawl.snapshots.extend(s for s, _ in _fetch(crawl, [("exchange.search", None)]))


def _crawl_runtime_manager(crawl: _Crawl) -> None:
    per_env = ("runtime_manager.cloudhub_apps", "runtime_manager.deployments")
    if crawl.environments_failure is not None:
        crawl.snapshots.extend(_skip(crawl, (key,), None) for key in per_env)
        calls: list[tuple[str, Environment | None]] = []
    else:
        calls = [(key, env) for key in per_env for env in crawl.environments]
    calls.append(("runtime_manager.rtf_targets", None))
    crawl.snapshots.extend(s for s, _ in _fetch(crawl, calls))


def _crawl_api_manager(crawl: _Crawl) -> None:
    if crawl.environments_failure is not None:
        crawl.snapshots.append(_skip(crawl, (INSTANCES_PROBE,), None))
        return
    crawl.snapshots.extend(snapshot for snapshot, _ in _instances(crawl))


def _crawl_api_security_posture(crawl: _Crawl) -> None:
    parts = tuple(POSTURE_PARTS.values())
    if crawl.environments_failure is not None:
        crawl.snapshots.append(_skip(crawl, parts, None))
        return
    listings = dict(zip([e.id for e in crawl.environments], _instances(crawl), strict=True))
    asks = [
        (env, api)
        for env in crawl.environments
        if listings[env.id][1].succeeded
        for api in listings[env.id][0].items
        if api.get("id") is not None
    ]
    answers: dict[str, list[PostureAnswer]] = {env.id: [] for env in crawl.environments}
    asked = crawl.pool.map(lambda ask: _posture_of_instance(crawl, *ask), asks)
    for (env, _), answer in zip(asks, asked, strict=True):
        answers[env.id].append(answer)
    for env in crawl.environments:
        record = listings[env.id][1]
        if record.succeeded:
            crawl.snapshots.append(_posture_snapshot(crawl, env, answers[env.id]))
        else:
            crawl.snapshots.append(_skip(crawl, parts, env.id, cause=record))


CRAWLERS: Mapping[str, Callable[[_Crawl], None]] = {
    "diagnostics": _crawl_diagnostics,
    "exchange": _crawl_exchange,
    "runtime_manager": _crawl_runtime_manager,
    "api_manager": _crawl_api_manager,
    "api_security_posture": _crawl_api_security_posture,
}


# -- environments and API instances ------------------------------------------------------------


def _instances(crawl: _Crawl) -> list[tuple[Snapshot, ProbeRecord]]:
    """API instances per environment, fetched once per crawl (api_manager and the posture)."""
    missing = [env for env in crawl.environments if env.id not in crawl.instances]
    fetched = _fetch(crawl, [(INSTANCES_PROBE, env) for env in missing])
    crawl.instances.update(zip([env.id for env in missing], fetched, strict=True))
    return [crawl.instances[env.id] for env in crawl.environments]


def _environments_of(listing: Snapshot) -> list[Environment]:
    return [
        Environment(
            id=str(item["id"]),
            name=str(item.get("name") or item["id"]),
            type=environment_type(item),
        )
        for item in listing.items
        if "id" in item
    ]


# -- API security posture ----------------------------------------------------------------------

PostureAnswer = tuple[dict[str, Any], list[ProbeRecord]]


def _posture_of_instance(crawl: _Crawl, env: Environment, api: Mapping[str, Any]) -> PostureAnswer:
    """Policies, tiers and contracts of one API instance as one item (runs on the pool)."""
    api_id = str(api["id"])
    item: dict[str, Any] = {"api_id": api["id"], "environment_id": env.id}
    errors: dict[str, str] = {}
    records: list[ProbeRecord] = []
    for part, probe_key in POSTURE_PARTS.items():
        record, items = _call(crawl, PROBES_BY_KEY[probe_key], crawl.bindings(env, api_id=api_id))
        records.append(record)
        item[part] = items if record.succeeded else None
        if not record.succeeded:
            errors[part] = record.message or record.outcome
    if errors:
        item["errors"] = errors
    return item, records


def _posture_snapshot(crawl: _Crawl, env: Environment, answers: list[PostureAnswer]) -> Snapshot:
    records = [r for _, instance_records in answers for r in instance_records]
    if not answers:  # no instance to ask about: the parts count as the empty listing did
        records = [_record(p, env.id, "empty") for p in POSTURE_PARTS.values()]
    crawl.records.extend(records)
    failures = [r for r in records if not r.succeeded]
    return _snapshot(POSTURE, env.id, [item for item, _ in answers], failures, POSTURE)


# -- one probe ---------------------------------------------------------------------------------


def _fetch(
    crawl: _Crawl, calls: list[tuple[str, Environment | None]]
) -> list[tuple[Snapshot, ProbeRecord]]:
    """Run probes (key, environment or ``None``) to the end on the pool; record them in order."""

    def run(call: tuple[str, Environment | None]) -> tuple[Snapshot, ProbeRecord]:
        probe = PROBES_BY_KEY[call[0]]
        record, items = _call(crawl, probe, crawl.bindings(call[1]))
        failures = [] if record.succeeded else [record]
        return _snapshot(probe.dataset, record.environment_id, items, failures, probe.key), record

    results = list(crawl.pool.map(run, calls))
    crawl.records.extend(record for _, record in results)
    return results


def _call(crawl: _Crawl, probe: Probe, bindings: dict[str, str]) -> tuple[ProbeRecord, Items]:
    """Fetch every item of one probe; failures become the record's outcome, never exceptions."""
    task = ProbeTask(probe, bindings)
    record = ProbeRecord(probe, task.environment_id, task.path, "error")
    try:
        items = _FINISH.get(probe.key, list)(_get_all(crawl, task, record))
    except AnypointError as exc:
        record.outcome = classify_error(exc)
        record.message = exc.message
        record.status = exc.status or record.status  # a shape error keeps the answer's 200
        record.attempts += exc.attempts
        record.elapsed_ms += exc.elapsed_ms
        return record, []
    except Exception as exc:  # a bug in one probe must not lose the other environments
        log.exception("crawl of %s crashed", probe.key)
        record.message = f"internal error while crawling: {type(exc).__name__}"
        return record, []
    record.outcome = "ok" if items else "empty"
    return record, items


def _get_all(crawl: _Crawl, task: ProbeTask, record: ProbeRecord) -> Items:
    """Every page when the catalogue declares ``offset`` / ``limit``, else the one answer."""
    extract = _SHAPES[task.probe.key]
    params = task.params
    headers = task.headers or None
    if "offset" in params:
        query = {k: v for k, v in params.items() if k not in ("offset", "limit")}
        pages = crawl.client.paginate(
            task.path,
            params=query or None,
            headers=headers,
            page_size=crawl.page_size,
            items=extract,
            total=shapes.total_of,
            deadline=crawl.deadline,
            on_page=lambda result: _count(record, result),
        )
        return list(pages)
    result = crawl.client.get(
        task.path, params=params or None, headers=headers, deadline=crawl.deadline
    )
    _count(record, result)
    return extract(result.data)


def _count(record: ProbeRecord, result: ApiResult) -> None:
    """Add one successful call (a page) to the record's status, attempts and elapsed time."""
    record.status = result.status
    record.attempts += result.attempts
    record.elapsed_ms += result.elapsed_ms


def _record(probe_key: str, env_id: str | None, outcome: str, **fields: Any) -> ProbeRecord:
    probe = PROBES_BY_KEY[probe_key]
    return ProbeRecord(probe, env_id, probe.path, outcome, **fields)


def _skip(
    crawl: _Crawl,
    probe_keys: tuple[str, ...],
    env_id: str | None,
    cause: ProbeRecord | None = None,
) -> Snapshot:
    """Probes that cannot run because ``cause`` (default: the environments list) failed:
    skipped records, and one skipped snapshot."""
    cause = cause or crawl.environments_failure
    assert cause is not None
    outcome = cause.effective_outcome
    message = f"not run: {cause.probe.title} answered {outcome}"
    for key in probe_keys:
        crawl.records.append(
            _record(
                key, env_id, "skipped", cause=outcome, blocked_by=cause.probe.key, message=message
            )
        )
    dataset = PROBES_BY_KEY[probe_keys[0]].dataset
    source = probe_keys[0] if len(probe_keys) == 1 else dataset
    return Snapshot(dataset, env_id, [], 0, utcnow(), message, "skipped", source)


# -- snapshots ---------------------------------------------------------------------------------


def _snapshot(
    dataset: str, env_id: str | None, items: Items, failures: list[ProbeRecord], source: str
) -> Snapshot:
    outcome = _worst(failures) if failures else ("ok" if items else "empty")
    return Snapshot(
        dataset=dataset,
        environment_id=env_id,
        items=items,
        item_count=len(items),
        fetched_at=utcnow(),
        error=_error_text(failures),
        outcome=outcome,
        source=source,
    )


def _worst(failures: list[ProbeRecord]) -> str:
    """The failure that says most about the cause, when several meet in one snapshot."""
    outcomes = {r.outcome for r in failures}
    return next(o for o in _FAILURE_ORDER if o in outcomes)


def _error_text(failures: list[ProbeRecord]) -> str | None:
    if not failures:
        return None
    first = failures[0].message or failures[0].outcome
    more = len(failures) - 1
    return first if not more else f"{first} (and {more} more failed call(s))"
