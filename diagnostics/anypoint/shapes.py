"""Normalise the payload shapes Anypoint answers with.

Every function takes the decoded JSON of one answer and returns a list of (shallow-copied)
objects, raising :class:`~diagnostics.errors.InvalidResponseError` when the shape is not one
Anypoint is known to send. A ``status`` field is normalised on the way (``STARTED``, ``Started``
→ ``started``; ``DEPLOYMENT_FAILED`` → ``deployment_failed``).

API Manager's policy list (``.../apis/{apiId}/policies``) comes in three shapes:

* a bare JSON list — what ``?fullInfo=false`` answers (items carry ``id``, ``assetId``,
  ``assetVersion``, ``configurationData``, ``disabled``, ``order``);
* ``{"policies": [...]}`` — the default, full-info answer (items carry ``policyId``,
  ``template`` / ``implementationAsset`` with ``assetId`` / ``assetVersion``, ``configuration``);
* ``{"data": [...], "total": n}`` — the generic paged envelope, accepted for tolerance (and the
  simulator) although live API Manager has not been seen answering it for policies.

:func:`policy_summary` reads one item of any of them into the same small dict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from diagnostics.errors import InvalidResponseError

_SEPARATORS = re.compile(r"[\s\-]+")


def normalize_status(value: Any) -> str | None:
    """``STARTED`` / ``started`` / ``Started`` → ``started``; ``None`` and ``""`` → ``None``."""
    if value is None:
        return None
    text = _SEPARATORS.sub("_", str(value).strip()).casefold()
    return text or None


def total_of(payload: Any) -> int | None:
    """The ``total`` of a paged envelope, or ``None`` when it has none."""
    if isinstance(payload, Mapping):
        total = payload.get("total")
        if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
            return total
    return None


def policies(payload: Any) -> list[dict[str, Any]]:
    """API Manager policies: bare list, ``{"policies": [...]}`` or ``{"data": [...], "total"}``."""
    if isinstance(payload, list):
        return _objects(payload, "policies")
    if isinstance(payload, Mapping):
        for key in ("policies", "data"):
            if key in payload:
                return _objects(payload[key], "policies")
    raise _shape_error("policies")


def policy_summary(item: Mapping[str, Any]) -> dict[str, Any]:
    """One policy of any of the three shapes as ``{id, group_id, asset_id, asset_version,
    template_id, order, disabled, type}`` (missing values are ``None``)."""
    asset = _first_mapping(item, "implementationAsset", "template") or {}
    return {
        "id": _first(item, "policyId", "id"),
        "group_id": _first(item, "groupId") or asset.get("groupId"),
        "asset_id": _first(item, "assetId") or asset.get("assetId"),
        "asset_version": _first(item, "assetVersion") or _first(asset, "assetVersion", "version"),
        "template_id": _first(item, "policyTemplateId"),
        "order": item.get("order"),
        "disabled": bool(item.get("disabled", False)),
        "type": item.get("type"),
    }


def environments(payload: Any) -> list[dict[str, Any]]:
    """Access Management environments: ``{"data": [...], "total": n}``."""
    return _under(payload, "data", "environments")


def api_assets(payload: Any) -> list[dict[str, Any]]:
    """API Manager instances page, as its asset groups: ``{"total": n, "assets": [...]}``.

    ``offset`` / ``limit`` and ``total`` count these groups, so this is the ``items`` to page
    with; :func:`flatten_api_assets` turns them into instances.
    """
    return _under(payload, "assets", "API Manager instances", normalise=False)


_ASSET_DEFAULTS = (
    "groupId",
    "assetId",
    "exchangeAssetName",
    "organizationId",
    "masterOrganizationId",
    "autodiscoveryApiName",
)


def flatten_api_assets(assets: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each asset's ``apis`` as flat instances; the asset's identity fills missing fields."""
    instances: list[dict[str, Any]] = []
    for asset in assets:
        defaults = {key: asset[key] for key in _ASSET_DEFAULTS if key in asset}
        apis = asset.get("apis") or []
        for api in _objects(apis, "API Manager instances"):
            instances.append(_with_status({**defaults, **api}))
    return instances


def api_instances(payload: Any) -> list[dict[str, Any]]:
    """API Manager instances of one page, flattened out of their asset groups."""
    return flatten_api_assets(api_assets(payload))


def deployments(payload: Any) -> list[dict[str, Any]]:
    """AMC (CloudHub 2.0 / Runtime Fabric) deployments: ``{"items": [...]}``.

    Normalises the deployment ``status`` (``APPLIED``) and ``application.status`` (``RUNNING``).
    """
    items = _under(payload, "items", "deployments")
    for item in items:
        application = item.get("application")
        if isinstance(application, Mapping):
            item["application"] = _with_status(dict(application))
    return items


def tiers(payload: Any) -> list[dict[str, Any]]:
    """SLA tiers: ``{"total": n, "tiers": [...]}``."""
    return _under(payload, "tiers", "SLA tiers")


def contracts(payload: Any) -> list[dict[str, Any]]:
    """Contracts: ``{"total": n, "contracts": [...]}``."""
    return _under(payload, "contracts", "contracts")


def cloudhub_applications(payload: Any) -> list[dict[str, Any]]:
    """CloudHub 1.0 applications: a bare JSON list."""
    return _bare_list(payload, "CloudHub applications")


def exchange_assets(payload: Any) -> list[dict[str, Any]]:
    """Exchange asset search: a bare JSON list (no total)."""
    return _bare_list(payload, "Exchange assets")


def runtime_fabric_targets(payload: Any) -> list[dict[str, Any]]:
    """Runtime Fabric targets: a bare JSON list."""
    return _bare_list(payload, "Runtime Fabric targets")


def _bare_list(payload: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(payload, list):
        raise _shape_error(what)
    return [_with_status(item) for item in _objects(payload, what)]


def _under(payload: Any, key: str, what: str, *, normalise: bool = True) -> list[dict[str, Any]]:
    if not isinstance(payload, Mapping) or key not in payload:
        raise _shape_error(what)
    items = _objects(payload[key], what)
    return [_with_status(item) for item in items] if normalise else items


def _objects(value: Any, what: str) -> list[dict[str, Any]]:
    """A list of JSON objects, each shallow-copied so callers may change them freely."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise _shape_error(what)
    return [dict(item) for item in value]


def _with_status(item: dict[str, Any]) -> dict[str, Any]:
    if "status" in item:
        item["status"] = normalize_status(item["status"])
    return item


def _first(item: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if item.get(key) is not None:
            return item[key]
    return None


def _first_mapping(item: Mapping[str, Any], *keys: str) -> Mapping[str, Any] | None:
    for key in keys:
        value = item.get(key)
        if isinstance(value, Mapping):
            return value
    return None


def _shape_error(what: str) -> InvalidResponseError:
    return InvalidResponseError(f"unexpected shape for {what}")
