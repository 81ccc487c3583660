"""Deterministic Anypoint data for a scenario: same scenario, same ids and answers, always.

Every id, count and choice comes from a SHA-256 of the scenario's name, the organization id and
the item's own coordinates — never from :mod:`random`. :func:`build_organization` turns a
:class:`~diagnostics.simulator.scenario.Scenario` into an :class:`OrganizationData` that holds the
JSON bodies the handler serves (in the shapes of datasets.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diagnostics.simulator.scenario import Scenario

EXCHANGE_TYPES = (
    "rest-api",
    "raml-fragment",
    "connector",
    "template",
    "example",
    "policy",
    "custom",
    "soap-api",
    "http-api",
    "api-group",
    "async-api",
)
MULESOFT_POLICY_GROUP = "68ef9520-24e9-4cf2-b2f5-620025690913"
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_NOUNS = (
    "orders",
    "payments",
    "customers",
    "inventory",
    "shipments",
    "invoices",
    "products",
    "accounts",
    "quotes",
    "returns",
    "pricing",
    "loyalty",
    "claims",
    "bookings",
    "drivers",
    "fleet",
    "warehouses",
    "suppliers",
    "tracking",
    "notifications",
)
_LAYERS = ("system", "process", "experience")
_REGIONS = {
    "us": ("us-east-2", "us-e2.cloudhub.io"),
    "eu": ("eu-central-1", "de-c1.eu1.cloudhub.io"),
    "gov": ("us-gov-west-1", "usgw1.gov.cloudhub.io"),
}
# (assetId, assetVersion, configuration) of policies MuleSoft ships.
_POLICIES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "client-id-enforcement",
        "1.3.2",
        {
            "credentialsOriginHasHttpBasicAuthenticationHeader": "customExpression",
            "clientIdExpression": "#[attributes.headers['client_id']]",
            "clientSecretExpression": "#[attributes.headers['client_secret']]",
        },
    ),
    (
        "rate-limiting",
        "1.4.0",
        {
            "rateLimits": [{"maximumRequests": 100, "timePeriodInMilliseconds": 60000}],
            "clusterizable": True,
            "exposeHeaders": False,
        },
    ),
    (
        "jwt-validation",
        "0.11.1",
        {"jwtOrigin": "httpBearerAuthenticationHeader", "signingMethod": "rsa", "jwksUrl": ""},
    ),
    (
        "ip-allowlist",
        "1.1.1",
        {"ipExpression": "#[attributes.headers['x-forwarded-for']]", "ips": ["10.0.0.0/8"]},
    ),
    ("cors", "1.3.1", {"publicResource": False, "supportCredentials": False}),
)
_TIERS = (("Gold", 1000), ("Silver", 200), ("Bronze", 50))


# -- hashing -----------------------------------------------------------------------------------


def stable_int(*parts: object) -> int:
    """A non-negative 64-bit integer that only depends on ``parts``."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def stable_uuid(*parts: object) -> str:
    """A version-4-shaped UUID that only depends on ``parts``."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return str(uuid.UUID(bytes=hashlib.sha256(text).digest()[:16], version=4))


def stable_hex(*parts: object, length: int = 32) -> str:
    text = "\x1f".join(str(p) for p in parts).encode()
    return hashlib.sha256(text).hexdigest()[:length]


# -- scenario inputs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetSpec:
    """One Exchange asset version of the organization."""

    group_id: str
    asset_id: str
    version: str
    type: str = "rest-api"
    name: str = ""


@dataclass(frozen=True)
class EnvironmentData:
    """How much there is in one environment."""

    cloudhub_apps: int = 2
    deployments: int = 1
    apis: int = 2


def generated_assets(seed: str, organization_id: str, count: int) -> tuple[AssetSpec, ...]:
    """``count`` assets: mostly ``rest-api``, some ``raml-fragment`` and ``connector``."""
    assets = []
    for i in range(count):
        noun, rounds = _NOUNS[i % len(_NOUNS)], i // len(_NOUNS)
        kind = {5: "raml-fragment", 7: "connector"}.get(i % 8, "rest-api")
        if kind == "rest-api":
            layer = _LAYERS[rounds % len(_LAYERS)]
            suffix = f"-{rounds // len(_LAYERS) + 1}" if rounds >= len(_LAYERS) else ""
            asset_id, name = f"{noun}-{layer}-api{suffix}", f"{noun.title()} {layer.title()} API"
        elif kind == "raml-fragment":
            suffix = f"-{rounds + 1}" if rounds else ""
            asset_id, name = f"{noun}-data-types{suffix}", f"{noun.title()} Data Types"
        else:
            suffix = f"-{rounds + 1}" if rounds else ""
            asset_id, name = f"{noun}-connector{suffix}", f"{noun.title()} Connector"
        h = stable_int(seed, organization_id, "asset", asset_id)
        version = f"{1 + h % 2}.{h // 2 % 5}.{h // 10 % 10}"
        assets.append(AssetSpec(organization_id, asset_id, version, kind, name))
    return tuple(assets)


# -- the generated organization ----------------------------------------------------------------


@dataclass(frozen=True)
class ApiInstance:
    id: int
    environment_id: str
    asset: AssetSpec
    body: dict[str, Any]


@dataclass(frozen=True)
class OrganizationData:
    """Everything the simulated Anypoint serves, precomputed once per simulation."""

    organization: dict[str, Any]
    hierarchy: dict[str, Any]
    environments: list[dict[str, Any]]
    assets: list[dict[str, Any]]  # Exchange search items, in order
    asset_files: dict[tuple[str, str, str], list[dict[str, Any]]]  # (g, a, v) -> file entries
    files: dict[tuple[str, str, str, str, str], tuple[str, bytes]]  # (g,a,v,classifier,packaging)
    cloudhub_apps: dict[str, list[dict[str, Any]]]
    deployments: dict[str, list[dict[str, Any]]]
    targets: list[dict[str, Any]]
    apis: dict[str, list[ApiInstance]]
    api_by_id: dict[int, ApiInstance] = field(default_factory=dict)
    policies: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    tiers: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    contracts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


def build_organization(scenario: Scenario) -> OrganizationData:
    """The whole simulated organization of ``scenario``."""
    return _Builder(scenario).build()


class _Builder:
    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.org_id = scenario.org.id
        self.seed = f"{scenario.name}\x1f{self.org_id}"
        self.base = scenario.now.astimezone(UTC) if scenario.now else _EPOCH
        self.region, self.domain_host = _REGIONS.get(scenario.control_plane, _REGIONS["us"])
        self.slug = _slug(scenario.org.name or "org")[:12].strip("-") or "org"

    def build(self) -> OrganizationData:
        envs = [self.environment(e.id, e.name, e.type) for e in self.s.envs]
        assets, asset_files, files = self.exchange()
        targets = self.targets()
        data = OrganizationData(
            organization=self.organization(envs),
            hierarchy=self.hierarchy(),
            environments=envs,
            assets=assets,
            asset_files=asset_files,
            files=files,
            cloudhub_apps={},
            deployments={},
            targets=targets,
            apis={},
        )
        next_api_id = 15_000_000 + stable_int(self.seed, "api-ids") % 5_000_000
        for index, env in enumerate(self.s.envs):
            counts = self.s.data.get(env.id, EnvironmentData())
            data.cloudhub_apps[env.id] = [
                self.cloudhub_app(env.id, i) for i in range(counts.cloudhub_apps)
            ]
            data.deployments[env.id] = [
                self.deployment(env.id, i, targets) for i in range(counts.deployments)
            ]
            instances = []
            for i in range(counts.apis):
                api = self.api_instance(next_api_id, env.id, index, i, counts.apis)
                next_api_id += 1 + stable_int(self.seed, "gap", api.id) % 7
                instances.append(api)
                data.api_by_id[api.id] = api
                data.policies[api.id] = self.policies(api, i)
                data.tiers[api.id] = self.tiers(api)
                data.contracts[api.id] = self.contracts(api, data.tiers[api.id])
            data.apis[env.id] = instances
        return data

    # -- Access Management -----------------------------------------------------------------------

    def stamp(self, *parts: object, days: int = 400) -> datetime:
        """A moment before the scenario's clock, fixed by ``parts``."""
        h = stable_int(self.seed, "time", *parts)
        return self.base - timedelta(days=7 + h % days, seconds=h // 1000 % 86400)

    def environment(self, env_id: str, name: str, env_type: str) -> dict[str, Any]:
        return {
            "id": env_id,
            "name": name,
            "organizationId": self.org_id,
            "isProduction": env_type == "production",
            "type": env_type,
            "clientId": stable_hex(self.seed, "env-client", env_id),
            "arcNamespace": None,
        }

    def organization(self, envs: list[dict[str, Any]]) -> dict[str, Any]:
        name = self.s.org.name or "Organization"
        production = sum(1 for e in envs if e["isProduction"])
        return {
            "id": self.org_id,
            "name": name,
            "createdAt": _iso(self.stamp("org-created", days=900)),
            "updatedAt": _iso(self.stamp("org-updated", days=30)),
            "ownerId": stable_uuid(self.seed, "owner"),
            "clientId": stable_hex(self.seed, "org-client"),
            "domain": self.slug,
            "idprovider_id": "mulesoft",
            "isFederated": False,
            "isMaster": True,
            "orgType": "business",
            "parentOrganizationIds": [],
            "subOrganizationIds": [],
            "tenantOrganizationIds": [],
            "mfaRequired": "false",
            "environments": envs,
            "entitlements": {
                "createEnvironments": True,
                "createSubOrgs": True,
                "globalDeployment": False,
                "hybrid": {"enabled": True},
                "runtimeFabric": True,
                "vCoresProduction": {"assigned": float(max(production, 1) * 2), "reassigned": 0.0},
                "vCoresSandbox": {
                    "assigned": float(max(len(envs) - production, 1)),
                    "reassigned": 0.0,
                },
                "apis": {"enabled": True},
                "exchange2": {"enabled": True},
            },
        }

    def hierarchy(self) -> dict[str, Any]:
        return {
            "id": self.org_id,
            "name": self.s.org.name or "Organization",
            "parentId": None,
            "parentName": None,
            "parentOrganizationIds": [],
            "isFederated": False,
            "subOrganizations": [],
            "tenantOrganizations": [],
        }

    # -- Exchange --------------------------------------------------------------------------------

    def exchange(
        self,
    ) -> tuple[
        list[dict[str, Any]],
        dict[tuple[str, str, str], list[dict[str, Any]]],
        dict[tuple[str, str, str, str, str], tuple[str, bytes]],
    ]:
        items, asset_files, files = [], {}, {}
        owner = self.s.org.name or "the organization"
        for spec in self.s.exchange_assets:
            created = self.stamp("asset", spec.group_id, spec.asset_id)
            major, _, rest = spec.version.partition(".")
            minor = rest.partition(".")[0] or "0"
            items.append(
                {
                    "id": f"{spec.group_id}/{spec.asset_id}/{spec.version}",
                    "groupId": spec.group_id,
                    "assetId": spec.asset_id,
                    "version": spec.version,
                    "minorVersion": f"{major}.{minor}",
                    "versionGroup": f"v{major}",
                    "name": spec.name or spec.asset_id,
                    "description": f"{spec.name or spec.asset_id} of {owner}.",
                    "type": spec.type,
                    "isPublic": False,
                    "organizationId": spec.group_id,
                    "createdDate": _iso(created),
                    "updatedDate": _iso(created + timedelta(days=3)),
                    "status": "published",
                    "labels": [spec.type, spec.asset_id.split("-")[0]],
                    "rating": 0,
                    "numberOfRates": 0,
                }
            )
            key = (spec.group_id, spec.asset_id, spec.version)
            entries = []
            for classifier, packaging, main, content in _asset_files(spec):
                files[(*key, classifier, packaging)] = (_content_type(packaging), content)
                entries.append(
                    {
                        "classifier": classifier,
                        "packaging": packaging,
                        "mainFile": main,
                        "md5": hashlib.md5(content, usedforsecurity=False).hexdigest(),
                        "sha1": hashlib.sha1(content, usedforsecurity=False).hexdigest(),
                        "createdDate": _iso(created),
                        "isGenerated": False,
                    }
                )
            asset_files[key] = entries
        return items, asset_files, files

    # -- Runtime Manager -------------------------------------------------------------------------

    def cloudhub_app(self, env_id: str, i: int) -> dict[str, Any]:
        noun = _NOUNS[(stable_int(self.seed, "app-noun", env_id) + i) % len(_NOUNS)]
        rounds = i // len(_NOUNS)
        domain = f"{self.slug}-{noun}-{_env_slug(env_id)}" + (f"-{rounds + 1}" if rounds else "")
        domain = domain[:42].strip("-")
        h = stable_int(self.seed, "app", env_id, i)
        workers = 1 + h % 2
        updated = self.stamp("app-updated", env_id, i, days=60)
        return {
            "domain": domain,
            "fullDomain": f"{domain}.{self.domain_host}",
            "status": "STARTED",
            "workers": {
                "amount": workers,
                "type": {
                    "name": "Micro",
                    "weight": 0.1,
                    "cpu": "0.1 vCores",
                    "memory": "500 MB memory",
                },
                "remainingOrgWorkers": 0.0,
                "totalOrgWorkers": 0.0,
            },
            "workerType": "Micro",
            "muleVersion": {
                "version": "4.6.2",
                "updateId": stable_hex(self.seed, "mule", h, length=24),
            },
            "region": self.region,
            "lastUpdateTime": int(updated.timestamp() * 1000),
            "fileName": f"{noun}-app-1.{h % 9}.0-mule-application.jar",
            "hasFile": True,
            "properties": {"env": _env_slug(env_id)},
            "propertiesOptions": {},
            "trackingSettings": {"trackingLevel": "DISABLED"},
            "persistentQueues": False,
            "monitoringEnabled": True,
            "monitoringAutoRestart": True,
            "staticIPsEnabled": False,
            "multitenanted": False,
            "vpnEnabled": False,
            "loggingNgEnabled": True,
            "loggingCustomLog4JEnabled": False,
            "ipAddresses": [],
            "supportedVersion": True,
        }

    def targets(self) -> list[dict[str, Any]]:
        return [
            {
                "id": stable_uuid(self.seed, "target", "rtf"),
                "name": f"{self.slug}-rtf",
                "type": "runtime-fabric",
                "status": "Active",
                "organizationId": self.org_id,
                "region": self.region,
                "vendor": "eks",
                "version": "2.4.31",
                "nodes": [],
            },
            {
                "id": stable_uuid(self.seed, "target", "ps"),
                "name": f"{self.slug}-private-space",
                "type": "private-space",
                "status": "Active",
                "organizationId": self.org_id,
                "region": self.region,
                "vendor": "mulesoft",
                "version": "1.0.0",
                "nodes": [],
            },
        ]

    def deployment(self, env_id: str, i: int, targets: list[dict[str, Any]]) -> dict[str, Any]:
        noun = _NOUNS[(stable_int(self.seed, "dep-noun", env_id) + i) % len(_NOUNS)]
        h = stable_int(self.seed, "deployment", env_id, i)
        created = self.stamp("deployment", env_id, i, days=200)
        target = targets[h % len(targets)]
        return {
            "id": stable_uuid(self.seed, "deployment", env_id, i),
            "name": f"{noun}-{'process' if h % 2 else 'system'}-app" + (f"-{i}" if i >= 20 else ""),
            "creationDate": int(created.timestamp() * 1000),
            "lastModifiedDate": int((created + timedelta(days=2)).timestamp() * 1000),
            "target": {"provider": "MC", "targetId": target["id"]},
            "status": "APPLIED",
            "application": {"status": "RUNNING"},
            "currentRuntimeVersion": "4.6.2:8e-java17",
            "lastSuccessfulRuntimeVersion": "4.6.2:8e-java17",
        }

    # -- API Manager -----------------------------------------------------------------------------

    def api_instance(
        self, api_id: int, env_id: str, env_index: int, i: int, per_env: int
    ) -> ApiInstance:
        rest = [a for a in self.s.exchange_assets if a.type == "rest-api"]
        if rest:
            asset = rest[(env_index * per_env + i) % len(rest)]
        else:
            noun = _NOUNS[i % len(_NOUNS)]
            asset = AssetSpec(
                self.org_id, f"{noun}-api", "1.0.0", "rest-api", f"{noun.title()} API"
            )
        major = asset.version.partition(".")[0]
        created = self.stamp("api", api_id, days=300)
        body = {
            "id": api_id,
            "groupId": asset.group_id,
            "assetId": asset.asset_id,
            "assetVersion": asset.version,
            "productVersion": f"v{major}",
            "instanceLabel": f"{asset.asset_id}-{_env_slug(env_id)}" + (f"-{i}" if i else ""),
            "status": "active",
            "technology": "mule4",
            "environmentId": env_id,
            "organizationId": self.org_id,
            "masterOrganizationId": self.org_id,
            "endpointUri": f"https://{asset.asset_id}-{_env_slug(env_id)}.{self.domain_host}/api",
            "autodiscoveryInstanceName": f"v{major}:{api_id}",
            "isPublic": False,
            "deprecated": False,
            "lastActiveDate": None,
            "activeContractsCount": 0,
            "audit": {"created": {"date": _iso(created)}, "updated": {"date": _iso(created)}},
        }
        return ApiInstance(api_id, env_id, asset, body)

    def policies(self, api: ApiInstance, i: int) -> list[dict[str, Any]]:
        h = stable_int(self.seed, "policies", api.id)
        count = 2 if i == 0 else h % 4
        start = h // 4 % len(_POLICIES)
        chosen = [_POLICIES[(start + n) % len(_POLICIES)] for n in range(count)]
        items = []
        for order, (asset_id, version, configuration) in enumerate(chosen, start=1):
            items.append(
                {
                    "policyId": 4_000_000
                    + stable_int(self.seed, "policy", api.id, asset_id) % 900_000,
                    "policyTemplateId": str(300_000 + stable_int("template", asset_id) % 9_000),
                    "apiId": api.id,
                    "order": order,
                    "type": "system",
                    "disabled": False,
                    "template": {
                        "groupId": MULESOFT_POLICY_GROUP,
                        "assetId": asset_id,
                        "assetVersion": version,
                    },
                    "implementationAsset": {
                        "name": f"{asset_id} (mule4)",
                        "groupId": MULESOFT_POLICY_GROUP,
                        "assetId": f"{asset_id}-mule",
                        "version": version,
                        "technology": "mule4",
                    },
                    "configuration": configuration,
                    "pointcutData": None,
                }
            )
        return items

    def tiers(self, api: ApiInstance) -> list[dict[str, Any]]:
        count = stable_int(self.seed, "tiers", api.id) % 3
        return [
            {
                "id": 2_000_000 + stable_int(self.seed, "tier", api.id, name) % 900_000,
                "name": name,
                "description": f"{name} SLA",
                "status": "ACTIVE",
                "autoApprove": name != "Gold",
                "apiId": api.id,
                "applicationCount": 0,
                "limits": [
                    {"visible": True, "maximumRequests": limit, "timePeriodInMilliseconds": 60000}
                ],
            }
            for name, limit in _TIERS[:count]
        ]

    def contracts(self, api: ApiInstance, tiers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        count = stable_int(self.seed, "contracts", api.id) % 4
        items = []
        for n in range(count):
            tier = tiers[n % len(tiers)] if tiers else None
            app_id = 1_000_000 + stable_int(self.seed, "application", api.id, n) % 900_000
            items.append(
                {
                    "id": 3_000_000 + stable_int(self.seed, "contract", api.id, n) % 900_000,
                    "status": "APPROVED",
                    "approvedDate": _iso(self.stamp("contract", api.id, n, days=90)),
                    "apiId": api.id,
                    "applicationId": app_id,
                    "application": {"id": app_id, "name": f"{_NOUNS[n % len(_NOUNS)]}-client"},
                    "tierId": tier["id"] if tier else None,
                    "tier": {"id": tier["id"], "name": tier["name"]} if tier else None,
                    "requestedTierId": None,
                }
            )
        return items


# -- spec files --------------------------------------------------------------------------------


def _asset_files(spec: AssetSpec) -> list[tuple[str, str, str, bytes]]:
    """(classifier, packaging, mainFile, content) of an asset's downloadable files."""
    if spec.type == "rest-api":
        main = f"{spec.asset_id}.json"
        return [("oas", "json", main, openapi_document(spec).encode())]
    if spec.type == "raml-fragment":
        main = f"{spec.asset_id}.raml"
        text = (
            f"#%RAML 1.0 Library\ntypes:\n  {_singular(_noun(spec)).title()}:\n    type: object\n"
        )
        return [("raml-fragment", "zip", main, _zip({main: text}))]
    if spec.type == "connector":
        return [
            ("mule-plugin", "jar", "", _zip({"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n"}))
        ]
    return []


def openapi_document(spec: AssetSpec) -> str:
    """A small OpenAPI 3 document for a REST asset: a collection, an item and a health check."""
    noun = _noun(spec)
    item = _singular(noun)
    ident = "{" + re.sub(r"\W", "", item.title().replace(" ", "")) + "Id}"
    ident = ident[0] + ident[1].lower() + ident[2:]

    def op(summary: str, op_id: str, code: str = "200") -> dict[str, Any]:
        return {
            "summary": summary,
            "operationId": op_id,
            "responses": {code: {"description": "OK"}},
        }

    document = {
        "openapi": "3.0.3",
        "info": {
            "title": spec.name or spec.asset_id,
            "version": f"v{spec.version.partition('.')[0]}",
        },
        "servers": [{"url": f"https://{spec.asset_id}.example.com/api"}],
        "paths": {
            f"/{noun}": {
                "get": op(f"List {noun}", f"list{noun.title()}"),
                "post": op(f"Create a new {item}", f"create{item.title()}", "201"),
            },
            f"/{noun}/{ident}": {
                "get": op(f"Get one {item}", f"get{item.title()}"),
                "put": op(f"Update a {item}", f"update{item.title()}"),
                "delete": op(f"Delete a {item}", f"delete{item.title()}", "204"),
            },
            "/health": {"get": op("Health check", "health")},
        },
    }
    return json.dumps(document, indent=2)


def _noun(spec: AssetSpec) -> str:
    return re.sub(r"[^a-z0-9]", "", spec.asset_id.split("-")[0].lower()) or "items"


def _singular(noun: str) -> str:
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith("s") and not noun.endswith("ss"):
        return noun[:-1]
    return noun


def _zip(members: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


def _content_type(packaging: str) -> str:
    return {
        "json": "application/json",
        "yaml": "application/yaml",
        "raml": "application/raml+yaml",
        "zip": "application/zip",
        "jar": "application/java-archive",
    }.get(packaging, "application/octet-stream")


# -- small helpers -----------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _env_slug(env_id: str) -> str:
    slug = _slug(env_id)
    return slug.removeprefix("env-") or slug or "env"
