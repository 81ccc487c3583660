"""The rules of a scenario file (scenario.md): every key checked, every default filled in.

:func:`scenario_fields` turns YAML text into the keyword arguments of
:class:`~diagnostics.simulator.scenario.Scenario`; a mistake raises
:class:`~diagnostics.simulator.errors.ScenarioError` naming the key path and the line.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from diagnostics import model
from diagnostics.catalogue import DATASET_KEYS, DATASETS, SCOPE_KEYS
from diagnostics.simulator.faults import Fault
from diagnostics.simulator.generate import (
    EXCHANGE_TYPES,
    AssetSpec,
    EnvironmentData,
    generated_assets,
)
from diagnostics.simulator.yamldoc import KeyPath, Reader

NAME_PATTERN = r"[a-z0-9-]+"
ENVIRONMENT_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
ORGANIZATION = "organization"
CONTROL_PLANES = ("us", "eu", "gov")
CREDENTIALS = ("valid", "invalid")
# Datasets with a cache of their own (the derived ones are computed from these).
CACHED_DATASETS = tuple(d.key for d in DATASETS if not d.derived and d.key != "diagnostics")
DEFAULT_ORGANIZATION = model.Organization(
    "6f1c0d7e-0b1a-4c55-9d1e-2a7f0c9b1a11", "Sparrow Logistics"
)
DEFAULT_ENVIRONMENTS = (
    model.Environment("env-prod", "Production", "production"),
    model.Environment("env-sbx", "Sandbox", "sandbox"),
)
DEFAULT_SITE_URL = "https://sparrow.atlassian.net"
DEFAULT_SPACE_KEY = "OPS"
DEFAULT_EXCHANGE_ASSETS = 8
MAX_COUNT = 1000

_TOP_KEYS = (
    "name",
    "description",
    "now",
    "control_plane",
    "credentials",
    "organization",
    "environments",
    "grants",
    "exchange_assets",
    "data",
    "faults",
    "latency_ms",
    "space",
    "cache",
    "renders",
    "pages",
    "site_url",
)
_FAULT_KEYS = ("path", "status", "times", "environment", "method", "timeout", "body", "headers")
_RENDER_KEYS = ("macro", "mode", "page_id", "space_key", "status", "error", "at")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def scenario_fields(text: str, source: str) -> dict[str, Any]:
    """The validated fields of a scenario, with every default of scenario.md filled in."""
    return _Parser(Reader(text, source)).fields()


def all_granted() -> Mapping[str, frozenset[str]]:
    """Every scope granted on the organization (the default)."""
    return MappingProxyType({s: frozenset({ORGANIZATION}) for s in SCOPE_KEYS})


# -- the parser ---------------------------------------------------------------------------------


class _Parser:
    def __init__(self, reader: Reader) -> None:
        self.r = reader
        self.env_ids: tuple[str, ...] = ()

    def fields(self) -> dict[str, Any]:
        r = self.r
        doc = r.mapping({} if r.data is None else r.data, (), _TOP_KEYS, required=("name",))
        name = r.string(doc["name"], ("name",), pattern=NAME_PATTERN)
        org = self.organization(doc.get("organization"))
        envs = self.environments(doc.get("environments"))
        self.env_ids = tuple(e.id for e in envs)
        space = self.space(doc.get("space"))
        return dict(
            name=name,
            description=self.optional_text(doc, "description") or "",
            now=r.timestamp(doc["now"], ("now",)) if doc.get("now") is not None else None,
            control_plane=self.optional_choice(doc, "control_plane", CONTROL_PLANES, "us"),
            credentials=self.optional_choice(doc, "credentials", CREDENTIALS, "valid"),
            org=org,
            envs=envs,
            grants=self.grants(doc),
            exchange_assets=self.exchange_assets(doc.get("exchange_assets"), name, org.id),
            data=self.data(doc.get("data")),
            faults=self.faults(doc.get("faults")),
            latency_ms=r.integer(
                doc.get("latency_ms", 0), ("latency_ms",), minimum=0, maximum=60000
            ),
            space=space,
            cache=self.cache(doc["cache"]) if "cache" in doc else None,
            renders=self.renders(doc.get("renders"), space.key),
            pages=self.pages(doc.get("pages"), space.key),
            site_url=self.optional_text(doc, "site_url") or DEFAULT_SITE_URL,
            source=r.source,
        )

    # -- small helpers ---------------------------------------------------------------------------

    def optional_text(self, doc: Mapping[str, Any], key: str, path: KeyPath = ()) -> str | None:
        value = doc.get(key)
        return None if value is None else self.r.string(value, (*path, key))

    def optional_choice(
        self, doc: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str | None
    ) -> Any:
        value = doc.get(key)
        return default if value is None else self.r.choice(value, (key,), choices)

    def env_ref(self, value: Any, path: KeyPath, *, allow_organization: bool = False) -> str:
        text = self.r.string(value, path)
        known = (ORGANIZATION, *self.env_ids) if allow_organization else self.env_ids
        if text not in known:
            self.r.fail(
                path, f"unknown environment id {text!r} (known: {', '.join(known) or 'none'})"
            )
        return text

    def items(self, value: Any, path: KeyPath) -> list[tuple[KeyPath, Any]]:
        if value is None:
            return []
        return [((*path, i), item) for i, item in enumerate(self.r.sequence(value, path))]

    # -- sections --------------------------------------------------------------------------------

    def organization(self, value: Any) -> model.Organization:
        if value is None:
            return DEFAULT_ORGANIZATION
        path = ("organization",)
        org = self.r.mapping(value, path, ("id", "name"))
        return model.Organization(
            id=self.r.string(org["id"], (*path, "id")) if "id" in org else DEFAULT_ORGANIZATION.id,
            name=self.optional_text(org, "name", path) or DEFAULT_ORGANIZATION.name,
        )

    def environments(self, value: Any) -> tuple[model.Environment, ...]:
        path: KeyPath = ("environments",)
        if value is None:
            return DEFAULT_ENVIRONMENTS
        if isinstance(value, int) and not isinstance(value, bool):
            count = self.r.integer(value, path, minimum=0, maximum=MAX_COUNT)
            return tuple(
                model.Environment(
                    f"env-{i:03d}",
                    "Production" if i == 1 else f"Sandbox {i:03d}",
                    "production" if i == 1 else "sandbox",
                )
                for i in range(1, count + 1)
            )
        envs: list[model.Environment] = []
        for item_path, item in self.items(value, path):
            env = self.r.mapping(item, item_path, ("id", "name", "type"), required=("id",))
            env_id = self.r.string(env["id"], (*item_path, "id"), pattern=ENVIRONMENT_ID_PATTERN)
            if env_id == ORGANIZATION or env_id in {e.id for e in envs}:
                self.r.fail(
                    (*item_path, "id"), f"environment id {env_id!r} is reserved or repeated"
                )
            env_type = env.get("type", "sandbox")
            envs.append(
                model.Environment(
                    env_id,
                    self.optional_text(env, "name", item_path) or env_id,
                    self.r.choice(env_type, (*item_path, "type"), model.ENVIRONMENT_TYPES),
                )
            )
        return tuple(envs)

    def grants(self, doc: Mapping[str, Any]) -> Mapping[str, frozenset[str]]:
        if "grants" not in doc:
            return all_granted()
        path: KeyPath = ("grants",)
        grants = self.r.mapping(doc["grants"] or {}, path)
        result = {}
        for scope, where in grants.items():
            if scope not in SCOPE_KEYS:
                self.r.fail(
                    (*path, scope),
                    f"unknown scope {scope!r} (expected one of: {', '.join(SCOPE_KEYS)})",
                )
            targets = [
                self.env_ref(item, item_path, allow_organization=True)
                for item_path, item in self.items(where, (*path, scope))
            ]
            result[scope] = frozenset(targets)
        return MappingProxyType(result)

    def exchange_assets(self, value: Any, name: str, org_id: str) -> tuple[AssetSpec, ...]:
        path: KeyPath = ("exchange_assets",)
        if value is None:
            return generated_assets(name, org_id, DEFAULT_EXCHANGE_ASSETS)
        if isinstance(value, int) and not isinstance(value, bool):
            return generated_assets(
                name, org_id, self.r.integer(value, path, minimum=0, maximum=MAX_COUNT * 10)
            )
        assets: list[AssetSpec] = []
        seen: set[tuple[str, str, str]] = set()
        for item_path, item in self.items(value, path):
            spec = self.r.mapping(
                item,
                item_path,
                ("groupId", "assetId", "version", "type", "name"),
                required=("assetId",),
            )
            asset = AssetSpec(
                group_id=self.optional_text(spec, "groupId", item_path) or org_id,
                asset_id=self.r.string(
                    spec["assetId"], (*item_path, "assetId"), pattern=r"[A-Za-z0-9._-]+"
                ),
                version=self.r.string(
                    spec.get("version", "1.0.0"),
                    (*item_path, "version"),
                    pattern=r"\d+\.\d+\.\d+[A-Za-z0-9.+-]*",
                ),
                type=self.r.choice(
                    spec.get("type", "rest-api"), (*item_path, "type"), EXCHANGE_TYPES
                ),
                name=self.optional_text(spec, "name", item_path) or spec["assetId"],
            )
            key = (asset.group_id, asset.asset_id, asset.version)
            if key in seen:
                self.r.fail(item_path, f"asset {'/'.join(key)} is listed twice")
            seen.add(key)
            assets.append(asset)
        return tuple(assets)

    def data(self, value: Any) -> Mapping[str, EnvironmentData]:
        path: KeyPath = ("data",)
        given = self.r.mapping(value or {}, path)
        result = {env_id: EnvironmentData() for env_id in self.env_ids}
        for env_id, counts in given.items():
            self.env_ref(env_id, (*path, env_id))
            fields = ("cloudhub_apps", "deployments", "apis")
            counts = self.r.mapping(counts or {}, (*path, env_id), fields)
            result[env_id] = EnvironmentData(
                **{
                    key: self.r.integer(
                        counts[key], (*path, env_id, key), minimum=0, maximum=MAX_COUNT
                    )
                    for key in fields
                    if key in counts
                }
            )
        return MappingProxyType(result)

    def faults(self, value: Any) -> tuple[Fault, ...]:
        faults = []
        for item_path, item in self.items(value, ("faults",)):
            spec = self.r.mapping(item, item_path, _FAULT_KEYS, required=("path",))
            timeout = self.r.boolean(spec.get("timeout", False), (*item_path, "timeout"))
            if "status" not in spec and not timeout:
                self.r.fail(item_path, "a fault needs a status or timeout: true")
            body = spec.get("body")
            if body is not None and not isinstance(body, dict | str):
                self.r.fail((*item_path, "body"), "expected a mapping (JSON) or a string")
            headers = self.r.mapping(spec.get("headers") or {}, (*item_path, "headers"))
            faults.append(
                Fault(
                    path=self.r.regex(spec["path"], (*item_path, "path")),
                    status=self.r.integer(
                        spec["status"], (*item_path, "status"), minimum=100, maximum=599
                    )
                    if "status" in spec
                    else None,
                    times=self.r.integer(spec["times"], (*item_path, "times"), minimum=1)
                    if "times" in spec
                    else None,
                    environment=self.env_ref(spec["environment"], (*item_path, "environment"))
                    if spec.get("environment") is not None
                    else None,
                    method=self.r.choice(
                        str(spec["method"]).upper(), (*item_path, "method"), _METHODS
                    )
                    if spec.get("method") is not None
                    else None,
                    timeout=timeout,
                    body=MappingProxyType(body) if isinstance(body, dict) else body,
                    headers=MappingProxyType(
                        {
                            k: self.r.string(v, (*item_path, "headers", k))
                            for k, v in headers.items()
                        }
                    ),
                )
            )
        return tuple(faults)

    def space(self, value: Any) -> model.SpaceConfig:
        path: KeyPath = ("space",)
        space = self.r.mapping(
            value or {}, path, ("key", "sync_interval_hours", "datasets_enabled")
        )
        enabled = self.r.mapping(space.get("datasets_enabled") or {}, (*path, "datasets_enabled"))
        for key, flag in enabled.items():
            item = (*path, "datasets_enabled", key)
            if key not in DATASET_KEYS:
                self.r.fail(
                    item, f"unknown dataset {key!r} (expected one of: {', '.join(DATASET_KEYS)})"
                )
            self.r.boolean(flag, item)
        return model.SpaceConfig(
            key=self.optional_text(space, "key", path) or DEFAULT_SPACE_KEY,
            sync_interval_hours=self.r.integer(
                space.get("sync_interval_hours", model.DEFAULT_SYNC_INTERVAL_HOURS),
                (*path, "sync_interval_hours"),
                minimum=1,
            ),
            datasets_enabled=MappingProxyType(dict(enabled)),
        )

    def cache(self, value: Any) -> Mapping[str, model.CacheEntry]:
        path: KeyPath = ("cache",)
        entries = {}
        for key, spec in self.r.mapping(value or {}, path).items():
            item = (*path, key)
            if key not in CACHED_DATASETS:
                self.r.fail(
                    item,
                    f"unknown cached dataset {key!r} (expected one of: {_names(CACHED_DATASETS)})",
                )
            spec = self.r.mapping(
                spec or {}, item, ("last_success", "last_attempt_failed", "items", "asset_version")
            )
            entries[key] = model.CacheEntry(
                dataset=key,
                last_success=self.r.timestamp(spec["last_success"], (*item, "last_success"))
                if spec.get("last_success") is not None
                else None,
                last_attempt_failed=self.r.boolean(
                    spec.get("last_attempt_failed", False), (*item, "last_attempt_failed")
                ),
                items=self.r.integer(spec["items"], (*item, "items"), minimum=0)
                if "items" in spec
                else None,
                asset_version=self.optional_text(spec, "asset_version", item),
            )
        return MappingProxyType(entries)

    def renders(self, value: Any, space_key: str | None) -> tuple[model.RenderEvent, ...]:
        events = []
        for item_path, item in self.items(value, ("renders",)):
            spec = self.r.mapping(
                item, item_path, _RENDER_KEYS, required=("macro", "page_id", "status", "at")
            )
            events.append(
                model.RenderEvent(
                    macro=self.r.choice(spec["macro"], (*item_path, "macro"), model.MACRO_TYPES),
                    page_id=self.r.string(spec["page_id"], (*item_path, "page_id")),
                    status=self.r.choice(
                        spec["status"], (*item_path, "status"), model.RENDER_STATUSES
                    ),
                    at=self.r.timestamp(spec["at"], (*item_path, "at")),
                    mode=self.mode(spec, item_path),
                    space_key=self.optional_text(spec, "space_key", item_path) or space_key,
                    error=self.optional_text(spec, "error", item_path),
                )
            )
        return tuple(events)

    def pages(self, value: Any, space_key: str | None) -> tuple[model.MacroPage, ...]:
        pages = []
        for item_path, item in self.items(value, ("pages",)):
            spec = self.r.mapping(
                item, item_path, ("page_id", "title", "space_key", "macros"), required=("page_id",)
            )
            macros = []
            for macro_path, macro in self.items(spec.get("macros"), (*item_path, "macros")):
                placement = self.r.mapping(
                    macro, macro_path, ("macro", "mode"), required=("macro",)
                )
                macros.append(
                    model.MacroPlacement(
                        self.r.choice(
                            placement["macro"], (*macro_path, "macro"), model.MACRO_TYPES
                        ),
                        self.mode(placement, macro_path),
                    )
                )
            page_id = self.r.string(spec["page_id"], (*item_path, "page_id"))
            pages.append(
                model.MacroPage(
                    page_id=page_id,
                    title=self.optional_text(spec, "title", item_path) or f"Page {page_id}",
                    space_key=self.optional_text(spec, "space_key", item_path) or space_key,
                    macros=tuple(macros),
                )
            )
        return tuple(pages)

    def mode(self, spec: Mapping[str, Any], path: KeyPath) -> str | None:
        if spec.get("mode") is None:
            return None
        return self.r.choice(spec["mode"], (*path, "mode"), model.MACRO_MODES)


def _names(keys: tuple[str, ...]) -> str:
    return ", ".join(keys)
