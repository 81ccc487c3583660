"""The catalogue: MuleSight's datasets, the Anypoint probes that feed them, and the scopes they need.

This is the single declarative source that the planner, the evaluation, the scope table, the CSV
checklist, the renderers and the docs read. Adding a probe is a data change here: give it a key, a
dataset, a path template, the scope that guards it and what it depends on.

Path templates use ``{org_id}``, ``{env_id}``, ``{api_id}``, ``{group_id}``, ``{asset_id}`` and
``{version}``; header and query templates use the same names plus ``{page_size}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Per = Literal["organization", "environment", "api_instance", "rest_asset"]
Denial = Literal["401", "403", "empty", "404", "none"]

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

    @property
    def derived(self) -> bool:
        return bool(self.sources)


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
    items: str | None = (
        None  # where the listed items are: a key path, "" for a bare list, None for an object
    )
    denial: Denial = "none"  # how Anypoint answers when the scope is missing (datasets.md)


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

PROBES: tuple[Probe, ...] = (
    Probe(
        "diagnostics.token",
        "diagnostics",
        "Connected-app token",
        "POST",
        "/accounts/api/v2/oauth2/token",
        "organization",
        denial="401",
    ),
    Probe(
        "diagnostics.me",
        "diagnostics",
        "Connected-app identity",
        "GET",
        "/accounts/api/me",
        "organization",
        depends_on=("diagnostics.token",),
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
        items="data",
        denial="403",
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
        items="",
        denial="empty",
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
        items="",
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
        items="items",
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
        items="",
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
        items="assets",
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
        denial="403",
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
        items="tiers",
        denial="403",
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
        items="contracts",
        denial="403",
    ),
)

DATASET_KEYS: tuple[str, ...] = tuple(d.key for d in DATASETS)
SCOPE_KEYS: tuple[str, ...] = tuple(s.key for s in SCOPES)
DATASETS_BY_KEY = MappingProxyType({d.key: d for d in DATASETS})
SCOPES_BY_KEY = MappingProxyType({s.key: s for s in SCOPES})
PROBES_BY_KEY = MappingProxyType({p.key: p for p in PROBES})

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


def probes_for_dataset(dataset: str) -> tuple[Probe, ...]:
    return tuple(p for p in PROBES if p.dataset == dataset)


def probes_for_scope(scope: str) -> tuple[Probe, ...]:
    return tuple(p for p in PROBES if p.scope == scope)


def scope_used_by(scope: str) -> tuple[str, ...]:
    """Datasets that need a scope: those with a probe it guards, and the derived ones built on them."""
    direct = {p.dataset for p in probes_for_scope(scope)}
    if scope == "read:orgenvironments":
        direct |= {p.dataset for p in PROBES if p.per in ("environment", "api_instance")}
    derived = {d.key for d in DATASETS if d.derived and direct & set(d.sources)}
    return tuple(k for k in DATASET_KEYS if k in direct | derived)


def scope_validated_by(scope: str) -> tuple[str, ...]:
    return tuple(p.path for p in probes_for_scope(scope))


def dataset_for_macro(macro: str, mode: str | None) -> str:
    return MACRO_DATASETS.get((macro, mode)) or MACRO_DATASETS[(macro, None)]
