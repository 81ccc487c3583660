"""The catalogue: MuleSight's datasets, the Anypoint probes that feed them, and the scopes they need.

This is the single declarative source that the planner, the runner, the evaluation, the crawl, the
scope table, the renderers and the docs read. No code compares a probe's key: what code used to infer
from a name is declared here. Each probe says

* its ``role`` — ``token`` (the runner authenticates), ``inventory`` (its answer describes the run's
  organization or environments, named by ``provides``) or ``data``;
* what it ``depends_on`` and how it fans out over what that dependency listed (``per``, see
  :data:`FAN_OUTS`: once per organization, environment, API instance or REST asset);
* its ``payload`` — where the listed items are, how a refresh reads and pages them, and how they are
  stored in the dataset's cache (``kind`` tag, or ``part`` of a combined item);
* its ``sample`` — how a diagnosis differs from a refresh crawl (one page, one instance per listing,
  or not crawled at all).

Adding a probe is one entry here (plus the simulated Anypoint's answer to its path); a
:class:`Catalogue` holding it can be passed to a run.

Path templates use ``{org_id}``, ``{env_id}``, ``{api_id}``, ``{group_id}``, ``{asset_id}`` and
``{version}``; header and query templates use the same names plus ``{page_size}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal

from diagnostics.anypoint import shapes

Per = Literal["organization", "environment", "api_instance", "rest_asset"]
Denial = Literal["401", "403", "empty", "404", "none"]
Role = Literal["token", "inventory", "data"]
Provides = Literal["environments", "organization"]
Reader = Callable[[Any], list[dict[str, Any]]]

MULESOFT_CONNECTED_APPS_DOC = "https://docs.mulesoft.com/access-management/connected-apps-overview"
MULESOFT_SCOPES_DOC = "https://docs.mulesoft.com/access-management/connected-apps-developers"
MULESIGHT_DOCS = "https://docs.flowdence.io/mulesight"


@dataclass(frozen=True)
class Scope:
    key: str
    why_needed: str
    impact: str  # what the user loses when it is missing


@dataclass(frozen=True)
class Dataset:
    key: str
    name: str
    fed_by: str
    impact: str  # what partial or missing data means for the people reading MuleSight
    sources: tuple[str, ...] = ()  # derived datasets: the caches they are built from
    scheduled: bool = True  # refreshed by the scheduler (False: seeded by a macro refresh)
    # the shared platform context: checked by every run, with no cache of its own
    context: bool = False

    @property
    def derived(self) -> bool:
        return bool(self.sources)


@dataclass(frozen=True)
class FanOut:
    """How a probe multiplies over what its dependency listed.

    ``binds`` fills path templates from a listed item (template name, item field); ``accept``
    keeps only items whose field has one of the values; ``noun`` names an item in messages.
    ``organization`` has no binding: the probe runs once. ``inventory``: the items are the run's
    environments (as listed by the inventory probe, or given, and filtered), not the dependency's.
    """

    per: Per
    noun: str
    binds: tuple[tuple[str, str], ...] = ()
    accept: tuple[tuple[str, tuple[str, ...]], ...] = ()
    inventory: bool = False

    @property
    def once(self) -> bool:
        return not self.binds

    def accepts(self, item: Any) -> bool:
        if not isinstance(item, Mapping) or any(f not in item for _, f in self.binds):
            return False
        return all(item.get(f) in values for f, values in self.accept)

    def bindings(self, item: Mapping[str, Any]) -> dict[str, str]:
        return {name: str(item[f]) for name, f in self.binds}


FAN_OUTS: Mapping[str, FanOut] = MappingProxyType(
    {
        "organization": FanOut("organization", "organization"),
        "environment": FanOut("environment", "environment", (("env_id", "id"),), inventory=True),
        "api_instance": FanOut("api_instance", "API instance", (("api_id", "id"),)),
        "rest_asset": FanOut(
            "rest_asset",
            "REST asset",
            (("group_id", "groupId"), ("asset_id", "assetId"), ("version", "version")),
            (("type", ("rest-api", "http-api")),),
        ),
    }
)


@dataclass(frozen=True)
class Payload:
    """The shape of a probe's answer.

    ``key``: where the listed items are in one answer (a key, ``""`` for a bare list, ``None`` for
    a single object); ``group`` names a nested list when items come grouped (API Manager lists
    instances under their assets). A diagnosis reads the answer this way. A refresh reads it with
    ``read`` (strict: an unknown shape is an error; statuses normalised), pages it when ``paged``
    (``offset`` / ``limit``; ``total`` reads the envelope's total), and applies ``finish`` once
    every page is in. In the cache, ``kind`` tags each item; a probe with a ``part`` is one field
    of its dataset's combined item per listed parent (an API instance's policies, tiers, ...).
    """

    key: str | None = None
    group: str | None = None
    read: Reader | None = None
    paged: bool = False
    total: Callable[[Any], int | None] | None = None
    finish: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
    kind: str | None = None
    part: str | None = None

    def sampled_items(self, data: Any) -> list[Any] | None:
        """The listed items of one answer, read leniently (``None`` for single-object answers)."""
        if self.key is None:
            return None
        if self.key == "":
            return data if isinstance(data, list) else None
        if not isinstance(data, Mapping):
            return None
        value = data.get(self.key)
        if not isinstance(value, list):
            return None
        if self.group is None:
            return value
        return [item for g in value if isinstance(g, Mapping) for item in g.get(self.group) or []]


@dataclass(frozen=True)
class Sample:
    """How a diagnosis samples a probe, compared with a refresh crawl (which takes everything).

    ``pages``: pages a diagnosis reads (a crawl reads every page); ``fan_out``: how many of its
    dependency's listed items a diagnosis visits per listing (``None``: all of them; a crawl always
    visits all); ``crawled``: whether a refresh fetches the probe at all.
    """

    pages: int | None = 1
    fan_out: int | None = None
    crawled: bool = True


@dataclass(frozen=True)
class Probe:
    key: str
    dataset: str
    title: str
    method: str
    path: str
    per: Per
    scope: str | None = None
    depends_on: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    payload: Payload = field(default_factory=Payload)
    denial: Denial = "none"  # how Anypoint answers when the scope is missing (datasets.md)
    role: Role = "data"
    provides: Provides | None = None  # inventory probes: what their answer tells the run
    sample: Sample = field(default_factory=Sample)
    # denial "empty": probes whose listed items, owned by the organization (``groupId``), prove
    # that an empty answer is a missing grant rather than nothing to list (report.md)
    disproved_by: tuple[str, ...] = ()

    @property
    def fan_out(self) -> FanOut:
        return FAN_OUTS[self.per]


SCOPES: tuple[Scope, ...] = (
    Scope(
        "read:organization",
        "Organization metadata and hierarchy",
        "Diagnostics cannot confirm the organization or its business groups.",
    ),
    Scope(
        "read:orgenvironments",
        "Environment inventory for environment-scoped probes",
        "No environment can be listed, so every per-environment dataset stays empty.",
    ),
    Scope(
        "read:exchange",
        "Exchange assets and spec files",
        "Exchange macros show nothing and the Endpoints view cannot list methods and paths.",
    ),
    Scope(
        "read:applications",
        "CloudHub / Runtime Manager applications and deployments",
        "Runtime Manager macros and the ops dashboard miss applications.",
    ),
    Scope(
        "read:runtime_fabrics",
        "Runtime Fabric / CloudHub 2.0 target names and types",
        "Deployments show without their target names and types.",
    ),
    Scope(
        "read:api_configuration",
        "API Manager instances",
        "API Manager macros, the ops dashboard and Rovo answers miss API instances.",
    ),
    Scope(
        "read:api_policies",
        "Applied API policies",
        "The security view of API Manager macros cannot show applied policies.",
    ),
    Scope(
        "read:api_contracts",
        "SLA tiers and contracts",
        "The security view cannot show SLA tiers and client contracts.",
    ),
)

DATASETS: tuple[Dataset, ...] = (
    Dataset(
        "diagnostics",
        "Shared platform context",
        "token, /accounts/api/me, organization, hierarchy, environments",
        "Without the platform context no other dataset can be fetched.",
        context=True,
    ),
    Dataset(
        "exchange",
        "Exchange",
        "Exchange asset search",
        "Exchange macros show fewer assets than the organization owns, or none.",
    ),
    Dataset(
        "endpoints",
        "Endpoints",
        "Exchange asset detail of REST assets (spec files)",
        "The Endpoints view of Exchange macros and Rovo cannot answer method and path questions.",
        scheduled=False,
    ),
    Dataset(
        "runtime_manager",
        "Runtime Manager",
        "CloudHub 1.0 apps, CloudHub 2.0 / Runtime Fabric deployments, Runtime Fabric targets",
        "Runtime Manager macros show some environments' applications only, or none.",
    ),
    Dataset(
        "api_manager",
        "API Manager",
        "API instances per environment",
        "API Manager macros show some environments' API instances only, or none.",
    ),
    Dataset(
        "api_security_posture",
        "API security posture",
        "policies, SLA tiers and contracts per API instance",
        "The security view shows APIs without their policies, tiers or contracts.",
    ),
    Dataset(
        "ops_dashboard",
        "Ops dashboard",
        "derived from the Runtime Manager and API Manager caches",
        "The ops dashboard shows an incomplete picture of the organization.",
        sources=("runtime_manager", "api_manager"),
    ),
    Dataset(
        "rovo",
        "Rovo",
        "derived from the API Manager, Runtime Manager and Endpoints caches",
        "Rovo answers about APIs, applications and endpoints are incomplete or missing.",
        sources=("api_manager", "runtime_manager", "endpoints"),
    ),
)

_ENV_HEADERS = (("X-ANYPNT-ORG-ID", "{org_id}"), ("X-ANYPNT-ENV-ID", "{env_id}"))
_PAGE = (("offset", "0"), ("limit", "{page_size}"))
_API_BASE = "/apimanager/api/v1/organizations/{org_id}/environments/{env_id}/apis"
_NOT_CRAWLED = Sample(crawled=False)
_ONE_PER_LISTING = Sample(fan_out=1)  # a diagnosis visits the first listed item only

PROBES: tuple[Probe, ...] = (
    Probe(
        "diagnostics.token",
        "diagnostics",
        "Connected-app token",
        "POST",
        "/accounts/api/v2/oauth2/token",
        "organization",
        denial="401",
        role="token",
        sample=_NOT_CRAWLED,  # a crawl's calls authenticate on their own
    ),
    Probe(
        "diagnostics.me",
        "diagnostics",
        "Connected-app identity",
        "GET",
        "/accounts/api/me",
        "organization",
        depends_on=("diagnostics.token",),
        sample=_NOT_CRAWLED,
    ),
    Probe(
        "diagnostics.organization",
        "diagnostics",
        "Organization",
        "GET",
        "/accounts/api/organizations/{org_id}",
        "organization",
        scope="read:organization",
        depends_on=("diagnostics.token",),
        denial="403",
        role="inventory",
        provides="organization",
        sample=_NOT_CRAWLED,
    ),
    Probe(
        "diagnostics.hierarchy",
        "diagnostics",
        "Organization hierarchy",
        "GET",
        "/accounts/api/organizations/{org_id}/hierarchy",
        "organization",
        scope="read:organization",
        depends_on=("diagnostics.token",),
        denial="401",
        sample=_NOT_CRAWLED,
    ),
    Probe(
        "diagnostics.environments",
        "diagnostics",
        "Environments",
        "GET",
        "/accounts/api/organizations/{org_id}/environments",
        "organization",
        scope="read:orgenvironments",
        depends_on=("diagnostics.token",),
        payload=Payload(key="data", read=shapes.environments),
        denial="403",
        role="inventory",
        provides="environments",
    ),
    Probe(
        "exchange.search",
        "exchange",
        "Exchange asset search",
        "GET",
        "/exchange/api/v2/assets/search",
        "organization",
        scope="read:exchange",
        depends_on=("diagnostics.token",),
        params=(("organizationId", "{org_id}"), *_PAGE),
        payload=Payload(key="", read=shapes.exchange_assets, paged=True),
        denial="empty",
        disproved_by=("api_manager.instances",),
    ),
    Probe(
        "endpoints.asset_detail",
        "endpoints",
        "Exchange asset detail (REST spec)",
        "GET",
        "/exchange/api/v2/assets/{group_id}/{asset_id}/{version}",
        "rest_asset",
        scope="read:exchange",
        depends_on=("exchange.search",),
        denial="404",
        # seeded per asset by a macro refresh (diagnostics.specs), not crawled
        sample=Sample(fan_out=1, crawled=False),
    ),
    Probe(
        "runtime_manager.cloudhub_apps",
        "runtime_manager",
        "CloudHub 1.0 applications",
        "GET",
        "/cloudhub/api/v2/applications",
        "environment",
        scope="read:applications",
        depends_on=("diagnostics.environments",),
        headers=_ENV_HEADERS,
        payload=Payload(key="", read=shapes.cloudhub_applications, kind="cloudhub_app"),
        denial="403",
    ),
    Probe(
        "runtime_manager.deployments",
        "runtime_manager",
        "CloudHub 2.0 / Runtime Fabric deployments",
        "GET",
        "/amc/application-manager/api/v2/organizations/{org_id}/environments/{env_id}/deployments",
        "environment",
        scope="read:applications",
        depends_on=("diagnostics.environments",),
        payload=Payload(key="items", read=shapes.deployments, kind="deployment"),
        denial="403",
    ),
    Probe(
        "runtime_manager.rtf_targets",
        "runtime_manager",
        "Runtime Fabric targets",
        "GET",
        "/runtimefabric/api/organizations/{org_id}/targets",
        "organization",
        scope="read:runtime_fabrics",
        depends_on=("diagnostics.token",),
        payload=Payload(key="", read=shapes.runtime_fabric_targets, kind="rtf_target"),
        denial="403",
    ),
    Probe(
        "api_manager.instances",
        "api_manager",
        "API instances",
        "GET",
        _API_BASE,
        "environment",
        scope="read:api_configuration",
        depends_on=("diagnostics.environments",),
        params=_PAGE,
        # pages count asset groups; the instances are flattened once every page is in
        payload=Payload(
            key="assets",
            group="apis",
            read=shapes.api_assets,
            paged=True,
            total=shapes.total_of,
            finish=shapes.flatten_api_assets,
        ),
        denial="403",
    ),
    Probe(
        "api_security_posture.policies",
        "api_security_posture",
        "Applied policies",
        "GET",
        _API_BASE + "/{api_id}/policies",
        "api_instance",
        scope="read:api_policies",
        depends_on=("api_manager.instances",),
        payload=Payload(read=shapes.policies, part="policies"),
        denial="403",
        sample=_ONE_PER_LISTING,
    ),
    Probe(
        "api_security_posture.tiers",
        "api_security_posture",
        "SLA tiers",
        "GET",
        _API_BASE + "/{api_id}/tiers",
        "api_instance",
        scope="read:api_contracts",
        depends_on=("api_manager.instances",),
        payload=Payload(key="tiers", read=shapes.tiers, part="tiers"),
        denial="403",
        sample=_ONE_PER_LISTING,
    ),
    Probe(
        "api_security_posture.contracts",
        "api_security_posture",
        "Contracts",
        "GET",
        _API_BASE + "/{api_id}/contracts",
        "api_instance",
        scope="read:api_contracts",
        depends_on=("api_manager.instances",),
        payload=Payload(key="contracts", read=shapes.contracts, part="contracts"),
        denial="403",
        sample=_ONE_PER_LISTING,
    ),
)


@dataclass(frozen=True)
class Catalogue:
    """Datasets, probes and scopes, with the lookups every stage needs.

    :data:`CATALOGUE` is MuleSight's; a test or a support build can pass another one to a run
    (``with_entries`` adds probes or datasets) and nothing else changes.
    """

    datasets: tuple[Dataset, ...]
    probes: tuple[Probe, ...]
    scopes: tuple[Scope, ...]

    def with_entries(self, *entries: Probe | Dataset | Scope) -> Catalogue:
        """A copy with ``entries`` added (an entry with an existing key replaces it)."""
        out = self
        for entry in entries:
            attr = {Probe: "probes", Dataset: "datasets", Scope: "scopes"}[type(entry)]
            current: tuple[Any, ...] = getattr(out, attr)
            kept = tuple(e for e in current if e.key != entry.key)
            out = replace(out, **{attr: (*kept, entry)})
        return out

    @cached_property
    def probes_by_key(self) -> Mapping[str, Probe]:
        return MappingProxyType({p.key: p for p in self.probes})

    @cached_property
    def datasets_by_key(self) -> Mapping[str, Dataset]:
        return MappingProxyType({d.key: d for d in self.datasets})

    @property
    def dataset_keys(self) -> tuple[str, ...]:
        return tuple(d.key for d in self.datasets)

    def probes_for_dataset(self, dataset: str) -> tuple[Probe, ...]:
        return tuple(p for p in self.probes if p.dataset == dataset)

    def probes_for_scope(self, scope: str) -> tuple[Probe, ...]:
        return tuple(p for p in self.probes if p.scope == scope)

    def children(self, probe: Probe) -> tuple[Probe, ...]:
        return tuple(p for p in self.probes if probe.key in p.depends_on)

    def ancestors(self, probe: Probe) -> tuple[Probe, ...]:
        """Every probe ``probe`` depends on, directly or not (nearest first)."""
        seen: dict[str, Probe] = {}
        todo = list(probe.depends_on)
        while todo:
            key = todo.pop(0)
            if key not in seen:
                seen[key] = self.probes_by_key[key]
                todo.extend(seen[key].depends_on)
        return tuple(seen.values())

    def crawled_datasets(self) -> tuple[str, ...]:
        """The datasets a refresh crawl fetches: scheduled, not derived, with a crawled probe."""
        return tuple(
            d.key
            for d in self.datasets
            if d.scheduled
            and not d.derived
            and any(p.sample.crawled for p in self.probes_for_dataset(d.key))
        )

    def scope_used_by(self, scope: str) -> tuple[str, ...]:
        """Datasets that need a scope: those with a probe it guards, those that fan out over the
        inventory it guards, and the derived datasets built on them."""
        direct = {p.dataset for p in self.probes_for_scope(scope)}
        inventories = {p.key for p in self.probes_for_scope(scope) if p.role == "inventory"}
        direct |= {
            p.dataset
            for p in self.probes
            if inventories & {a.key for a in self.ancestors(p)} and not p.fan_out.once
        }
        derived = {d.key for d in self.datasets if d.derived and direct & set(d.sources)}
        return tuple(k for k in self.dataset_keys if k in direct | derived)

    def scope_validated_by(self, scope: str) -> tuple[str, ...]:
        return tuple(p.path for p in self.probes_for_scope(scope))


CATALOGUE = Catalogue(DATASETS, PROBES, SCOPES)
DATASET_KEYS: tuple[str, ...] = tuple(d.key for d in DATASETS)
SCOPE_KEYS: tuple[str, ...] = tuple(s.key for s in SCOPES)
DATASETS_BY_KEY = CATALOGUE.datasets_by_key
SCOPES_BY_KEY = MappingProxyType({s.key: s for s in SCOPES})
PROBES_BY_KEY = CATALOGUE.probes_by_key

# Which dataset a macro reads, by macro type and (optionally) mode.
MACRO_DATASETS = MappingProxyType(
    {
        ("exchange-asset", None): "exchange",
        ("exchange-asset", "endpoints"): "endpoints",
        ("runtime-manager-app", None): "runtime_manager",
        ("api-manager-instance", None): "api_manager",
        ("api-manager-instance", "security"): "api_security_posture",
        ("environment-summary", None): "ops_dashboard",
    }
)


# What people call each macro: its title in manifest.yml (tests/test_manifest.py keeps them equal).
MACRO_NAMES = MappingProxyType(
    {
        "exchange-asset": "MuleSight Exchange asset",
        "runtime-manager-app": "MuleSight Runtime Manager app",
        "api-manager-instance": "MuleSight API Manager instance",
        "environment-summary": "MuleSight environment summary",
    }
)
MACRO_MODE_NAMES = MappingProxyType(
    {
        "detailed": "detailed view",
        "compact": "compact view",
        "endpoints": "endpoints view",
        "security": "security view",
    }
)


def macro_name(macro: str, mode: str | None = None) -> str:
    """``MuleSight API Manager instance macro (security view)``: a macro as people name it."""
    name = f"{MACRO_NAMES.get(macro, macro)} macro"
    return f"{name} ({MACRO_MODE_NAMES.get(mode, mode)})" if mode else name


def probes_for_dataset(dataset: str) -> tuple[Probe, ...]:
    return CATALOGUE.probes_for_dataset(dataset)


def probes_for_scope(scope: str) -> tuple[Probe, ...]:
    return CATALOGUE.probes_for_scope(scope)


def scope_used_by(scope: str) -> tuple[str, ...]:
    return CATALOGUE.scope_used_by(scope)


def scope_validated_by(scope: str) -> tuple[str, ...]:
    return CATALOGUE.scope_validated_by(scope)


def dataset_for_macro(macro: str, mode: str | None) -> str:
    return MACRO_DATASETS.get((macro, mode)) or MACRO_DATASETS[(macro, None)]
