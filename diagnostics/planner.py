"""The probe planner: which probes to run, for what, once their dependencies answered.

One planner builds both kinds of plan from the catalogue's declarations:

* a **diagnosis** (``crawl=False``) *samples*: every probe of the selected datasets, the first page
  of every list, and as many of a listing's items as the probe's ``sample.fan_out`` says (one API
  instance per environment, one REST asset);
* a **refresh crawl** (``crawl=True``) fetches everything a cache holds: the crawled probes of the
  requested datasets (and the probes they depend on), every page, every listed item.

The planner only decides; the runner owns threads, timeouts and the deadline. Nothing here knows a
probe by its name: roles, fan-outs and payloads come from the catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

from diagnostics.catalogue import CATALOGUE, Catalogue, Probe
from diagnostics.model import Environment
from diagnostics.probes import SKIP_DISABLED, SKIP_NOT_SELECTED, ProbeRecord
from diagnostics.statuses import Outcome

DEFAULT_PAGE_SIZE = 20
CRAWL_PAGE_SIZE = 100


@dataclass(frozen=True)
class ProbeTask:
    """One probe to run, with the values that fill its path, headers and query templates.

    ``crawl``: read every page strictly (a refresh) instead of one answer leniently (a diagnosis).
    ``parent_item``: the listed item the task fans out from (an API instance, say).
    """

    probe: Probe
    bindings: Mapping[str, str]
    crawl: bool = False
    parent_item: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def environment_id(self) -> str | None:
        return self.bindings.get("env_id")

    def _fill(self, template: str) -> str:
        return template.format_map(self.bindings)

    @property
    def path(self) -> str:
        return self._fill(self.probe.path)

    @property
    def headers(self) -> dict[str, str]:
        return {name: self._fill(value) for name, value in self.probe.headers}

    @property
    def params(self) -> dict[str, str]:
        return {name: self._fill(value) for name, value in self.probe.params}


def extract_items(probe: Probe, data: Any) -> list[Any] | None:
    """The listed items of a probe's answer, as a diagnosis reads them (None: a single object)."""
    return probe.payload.sampled_items(data)


@dataclass
class ProbePlan:
    """Decides the probes of one run from the catalogue and what earlier probes returned.

    ``environments_given``: environments to fan out over without listing them (a crawl of a
    known organization); the inventory probe then runs only if its dataset is requested.
    """

    organization_id: str
    environment_filter: Sequence[str] = ()
    dataset_filter: Sequence[str] = ()
    enabled: Mapping[str, bool] = field(default_factory=dict)
    page_size: int = DEFAULT_PAGE_SIZE
    catalogue: Catalogue = CATALOGUE
    crawl: bool = False
    environments_given: Sequence[Environment] | None = None
    environments: list[Environment] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.environments_given is not None:
            self.environments = self._filtered(self.environments_given)
        self._planned = self._planned_probes()
        # What follows what never changes during a run: work it out once.
        self._skips: dict[str, str | None] = {}
        for key, probe in self._planned.items():
            self._skips[key] = self._skip_reason_of(probe)
        self._children_of = {
            key: [c for c in self._planned.values() if p in self._waits_for(c)]
            for key, p in self._planned.items()
        }

    # -- what the plan holds ---------------------------------------------------------------

    def _planned_probes(self) -> dict[str, Probe]:
        """Every probe this plan records (run or skipped), in catalogue order."""
        probes = self.catalogue.probes
        if not self.crawl:
            return {p.key: p for p in probes}
        wanted = {p.key for p in probes if p.dataset in self.dataset_filter and p.sample.crawled}
        for key in list(wanted):
            probe = self.catalogue.probes_by_key[key]
            wanted |= {a.key for a in self.catalogue.ancestors(probe) if a.sample.crawled}
        if self.environments_given is not None:  # the inventory is only run when asked for
            wanted -= {
                p.key
                for p in probes
                if p.provides == "environments" and p.dataset not in self.dataset_filter
            }
        return {p.key: p for p in probes if p.key in wanted}

    def _waits_for(self, probe: Probe) -> list[Probe]:
        """The planned dependencies whose answer ``probe`` waits for."""
        deps = [self._planned[d] for d in probe.depends_on if d in self._planned]
        if self.environments_given is not None and probe.fan_out.inventory:
            deps = [d for d in deps if d.provides != "environments"]
        return deps

    def _skip_reason(self, probe: Probe) -> str | None:
        if probe.key in self._skips:
            return self._skips[probe.key]
        return self._skip_reason_of(probe)

    def _skip_reason_of(self, probe: Probe) -> str | None:
        if self.crawl:
            return None
        dataset = self.catalogue.datasets_by_key[probe.dataset]
        selected = dataset.context or probe.dataset in self.dataset_filter
        if self.dataset_filter and not selected:
            return SKIP_NOT_SELECTED
        if not self.enabled.get(probe.dataset, True):
            return SKIP_DISABLED
        # A probe whose dependency will not run does not run either (endpoints need Exchange).
        for dep in probe.depends_on:
            reason = self._skip_reason(self.catalogue.probes_by_key[dep])
            if reason is not None:
                return reason
        return None

    def _children(self, parent: Probe) -> list[Probe]:
        return self._children_of.get(parent.key, [])

    def _base_bindings(self) -> dict[str, str]:
        return {"org_id": self.organization_id, "page_size": str(self.page_size)}

    # -- the plan as probes answer ---------------------------------------------------------

    def initial(self) -> tuple[list[ProbeTask], list[ProbeRecord]]:
        """Probes that wait for nothing, plus a skipped record for every probe that will not run."""
        tasks: list[ProbeTask] = []
        skipped = [
            _skipped(p, None, reason)
            for p in self._planned.values()
            if (reason := self._skip_reason(p)) is not None
        ]
        for probe in self._planned.values():
            if not self._waits_for(probe) and self._skip_reason(probe) is None:
                tasks.extend(self._expand(probe, self._base_bindings(), None))
        return tasks, skipped

    def after(
        self, task: ProbeTask, record: ProbeRecord
    ) -> tuple[list[ProbeTask], list[ProbeRecord]]:
        """What follows a finished probe: its children's tasks (interleaved item by item), or
        their skipped records."""
        inventory = record.probe.provides == "environments" and record.succeeded
        if inventory and self.environments_given is None:
            self.environments = self._select_environments(record.items or [])
        per_child: list[list[ProbeTask]] = []
        skipped: list[ProbeRecord] = []
        for child in self._children(task.probe):
            if self._skip_reason(child) is not None:
                continue  # already recorded as skipped by initial()
            if not record.succeeded:
                skipped.extend(self._skip_subtree(child, task.environment_id, record))
                continue
            planned = self._expand(child, dict(task.bindings), record.items)
            if planned:
                per_child.append(planned)
            elif not child.fan_out.once and not child.fan_out.inventory:
                skipped.extend(self._nothing_to_sample(child, task.environment_id, record))
        # Item by item (an environment's probes together, not every environment's first probe
        # first): what a cache stores per item is complete soon after its probes start.
        tasks = [t for row in zip_longest(*per_child) for t in row if t is not None]
        return tasks, skipped

    def _expand(
        self, child: Probe, bindings: dict[str, str], listed: list[Any] | None
    ) -> list[ProbeTask]:
        fan = child.fan_out
        if fan.once:
            return [ProbeTask(child, self._base_bindings(), self.crawl)]
        if fan.inventory:
            items: Iterable[Any] = ({"id": env.id} for env in self.environments)
        else:
            items = listed or []
        limit = None if self.crawl else child.sample.fan_out
        tasks: list[ProbeTask] = []
        for item in items:
            if limit is not None and len(tasks) >= limit:
                break
            if fan.accepts(item):
                tasks.append(ProbeTask(child, {**bindings, **fan.bindings(item)}, self.crawl, item))
        return tasks

    def _nothing_to_sample(
        self, probe: Probe, env_id: str | None, parent: ProbeRecord
    ) -> list[ProbeRecord]:
        """The parent answered but listed nothing to visit: the child counts as the parent did."""
        message = f"not run: {parent.probe.title} listed no {probe.fan_out.noun} to sample"
        record = _skipped(probe, env_id, parent.effective_outcome, message)
        record.blocked_by = parent.probe.key
        return [record]

    def _skip_subtree(
        self, probe: Probe, env_id: str | None, cause: ProbeRecord
    ) -> list[ProbeRecord]:
        fan = probe.fan_out
        own_env = env_id if not fan.once else None
        message = f"not run: {cause.probe.title} answered {cause.effective_outcome}"
        records = [_skipped(probe, own_env, cause.effective_outcome, message)]
        records[0].blocked_by = cause.blocked_by or cause.probe.key
        for child in self._children(probe):
            if self._skip_reason(child) is None:
                records.extend(self._skip_subtree(child, own_env, cause))
        return records

    def _select_environments(self, items: Iterable[Any]) -> list[Environment]:
        return self._filtered(environments_of(items))

    def _filtered(self, environments: Iterable[Environment]) -> list[Environment]:
        if self.environment_filter:
            return [e for e in environments if e.id in self.environment_filter]
        return list(environments)


def in_plan_order(
    records: Iterable[ProbeRecord], catalogue: Catalogue, environments: Sequence[Environment]
) -> list[ProbeRecord]:
    """Records in catalogue order, organization first, then environments as listed: a stable
    order whatever order the probes finished in."""
    probes = {p.key: i for i, p in enumerate(catalogue.probes)}
    envs = {e.id: i for i, e in enumerate(environments)}
    return sorted(
        records,
        key=lambda r: (
            probes.get(r.probe.key, len(probes)),
            r.environment_id is not None,
            envs.get(r.environment_id or "", len(envs)),
        ),
    )


def environments_of(items: Iterable[Any]) -> list[Environment]:
    """Environments from an environments listing (items without an ``id`` are ignored)."""
    return [
        Environment(
            id=str(item["id"]),
            name=str(item.get("name") or item["id"]),
            type=environment_type(item),
        )
        for item in items
        if isinstance(item, Mapping) and "id" in item
    ]


def environment_type(item: Mapping[str, Any]) -> str:
    kind = str(item.get("type") or "").lower()
    if kind in ("production", "sandbox", "design"):
        return kind
    return "production" if item.get("isProduction") else "sandbox"


def _skipped(
    probe: Probe, env_id: str | None, cause: str, message: str | None = None
) -> ProbeRecord:
    text = message or {
        SKIP_DISABLED: "not run: the space turned this dataset off",
        SKIP_NOT_SELECTED: "not run: dataset not selected for this run",
    }.get(cause)
    return ProbeRecord(
        probe=probe,
        environment_id=env_id,
        path=probe.path,
        outcome=Outcome.SKIPPED,
        cause=cause,
        message=text,
    )
