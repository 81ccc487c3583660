"""The probe planner: which probes to run, for which environment, once their dependencies answered.

Diagnostics *sample*: the first page of every list and one detail per environment (one API
instance per environment for the security posture, one REST asset for the endpoints). The planner
only decides; the runner owns threads, timeouts and the deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from diagnostics.catalogue import PROBES, Probe
from diagnostics.model import Environment
from diagnostics.probes import SKIP_DISABLED, SKIP_NOT_SELECTED, ProbeRecord

DEFAULT_PAGE_SIZE = 20
ALWAYS_SELECTED = frozenset({"diagnostics"})
REST_ASSET_TYPES = frozenset({"rest-api", "http-api"})


@dataclass(frozen=True)
class ProbeTask:
    """One probe to run, with the values that fill its path, headers and query templates."""

    probe: Probe
    bindings: Mapping[str, str]

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
    """The listed items of a probe's answer (None for single-object answers)."""
    if probe.items is None:
        return None
    if probe.items == "":
        return data if isinstance(data, list) else None
    if not isinstance(data, Mapping):
        return None
    value = data.get(probe.items)
    if probe.items == "assets" and isinstance(value, list):
        # API Manager groups instances by asset: {"assets": [{..., "apis": [...]}]}.
        return [
            api for asset in value if isinstance(asset, Mapping) for api in asset.get("apis") or []
        ]
    return value if isinstance(value, list) else None


@dataclass
class ProbePlan:
    """Decides the probes of one run from the catalogue and what earlier probes returned."""

    organization_id: str
    environment_filter: Sequence[str] = ()
    dataset_filter: Sequence[str] = ()
    enabled: Mapping[str, bool] = field(default_factory=dict)
    page_size: int = DEFAULT_PAGE_SIZE
    probes: Sequence[Probe] = PROBES
    environments: list[Environment] = field(default_factory=list)

    def _base_bindings(self) -> dict[str, str]:
        return {"org_id": self.organization_id, "page_size": str(self.page_size)}

    def _skip_reason(self, probe: Probe) -> str | None:
        selected = probe.dataset in ALWAYS_SELECTED or probe.dataset in self.dataset_filter
        if self.dataset_filter and not selected:
            return SKIP_NOT_SELECTED
        if not self.enabled.get(probe.dataset, True):
            return SKIP_DISABLED
        # A probe whose dependency will not run does not run either (endpoints need Exchange).
        by_key = {p.key: p for p in self.probes}
        for dep in probe.depends_on:
            reason = self._skip_reason(by_key[dep])
            if reason is not None:
                return reason
        return None

    def _children(self, parent: Probe) -> list[Probe]:
        return [p for p in self.probes if parent.key in p.depends_on]

    def initial(self) -> tuple[list[ProbeTask], list[ProbeRecord]]:
        """Probes with no dependency, plus a skipped record for every probe that will not run."""
        tasks: list[ProbeTask] = []
        skipped = [
            _skipped(p, None, reason)
            for p in self.probes
            if (reason := self._skip_reason(p)) is not None
        ]
        for probe in self.probes:
            if not probe.depends_on and self._skip_reason(probe) is None:
                tasks.append(ProbeTask(probe, self._base_bindings()))
        return tasks, skipped

    def after(
        self, task: ProbeTask, record: ProbeRecord
    ) -> tuple[list[ProbeTask], list[ProbeRecord]]:
        """What follows a finished probe: its children's tasks, or their skipped records."""
        if record.probe.key == "diagnostics.environments" and record.succeeded:
            self.environments = self._select_environments(record.items or [])
        tasks: list[ProbeTask] = []
        skipped: list[ProbeRecord] = []
        for child in self._children(task.probe):
            if self._skip_reason(child) is not None:
                continue  # already recorded as skipped by initial()
            if not record.succeeded:
                skipped.extend(self._skip_subtree(child, task.environment_id, record))
                continue
            planned = self._expand(child, task, record)
            if planned:
                tasks.extend(planned)
            elif child.per in ("api_instance", "rest_asset"):
                skipped.extend(self._nothing_to_sample(child, task.environment_id, record))
        return tasks, skipped

    def _nothing_to_sample(
        self, probe: Probe, env_id: str | None, parent: ProbeRecord
    ) -> list[ProbeRecord]:
        """The parent answered but listed nothing to sample: the child counts as the parent did."""
        noun = "API instance" if probe.per == "api_instance" else "REST asset"
        message = f"not run: {parent.probe.title} listed no {noun} to sample"
        record = _skipped(probe, env_id, parent.effective_outcome, message)
        record.blocked_by = parent.probe.key
        return [record]

    def _skip_subtree(
        self, probe: Probe, env_id: str | None, cause: ProbeRecord
    ) -> list[ProbeRecord]:
        own_env = env_id if probe.per in ("api_instance", "environment") else None
        message = f"not run: {cause.probe.title} answered {cause.effective_outcome}"
        records = [_skipped(probe, own_env, cause.effective_outcome, message)]
        records[0].blocked_by = cause.blocked_by or cause.probe.key
        for child in self._children(probe):
            if self._skip_reason(child) is None:
                records.extend(self._skip_subtree(child, own_env, cause))
        return records

    def _expand(self, child: Probe, parent: ProbeTask, record: ProbeRecord) -> list[ProbeTask]:
        bindings = dict(parent.bindings)
        if child.per == "organization":
            return [ProbeTask(child, self._base_bindings())]
        if child.per == "environment":
            return [ProbeTask(child, {**bindings, "env_id": env.id}) for env in self.environments]
        if child.per == "api_instance":
            api = _first(record.items, lambda item: "id" in item)
            return [] if api is None else [ProbeTask(child, {**bindings, "api_id": str(api["id"])})]
        if child.per == "rest_asset":
            asset = _first(record.items, lambda item: item.get("type") in REST_ASSET_TYPES)
            if asset is None:
                return []
            fields = {"group_id": "groupId", "asset_id": "assetId", "version": "version"}
            return [ProbeTask(child, {**bindings, **{k: str(asset[v]) for k, v in fields.items()}})]
        raise ValueError(f"unknown probe fan-out {child.per!r} for {child.key}")

    def _select_environments(self, items: Iterable[Any]) -> list[Environment]:
        environments = [
            Environment(
                id=str(item["id"]),
                name=str(item.get("name") or item["id"]),
                type=environment_type(item),
            )
            for item in items
            if isinstance(item, Mapping) and "id" in item
        ]
        if self.environment_filter:
            environments = [e for e in environments if e.id in self.environment_filter]
        return environments


def environment_type(item: Mapping[str, Any]) -> str:
    kind = str(item.get("type") or "").lower()
    if kind in ("production", "sandbox", "design"):
        return kind
    return "production" if item.get("isProduction") else "sandbox"


def _first(items: list[Any] | None, accept: Any) -> Mapping[str, Any] | None:
    for item in items or []:
        if isinstance(item, Mapping) and accept(item):
            return item
    return None


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
        outcome="skipped",
        cause=cause,
        message=text,
    )
