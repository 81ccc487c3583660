"""Schemas of the dataset routes (``app.blueprints.forge_data``): refresh, cache-first reads,
the connection test, the scope checklist, the scheduled trigger and the Rovo actions.

Bodies reject unknown fields (422 naming them), except the Rovo actions', which Forge fills with
the action's inputs *and* its context. Query strings ignore unknown parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
)

from app.schemas import SPACE_KEY, SpaceKeyAlias, SpaceQuery, space_key_field
from diagnostics.catalogue import DATASET_KEYS
from diagnostics.model import MACRO_MODES

DATASET = validate.OneOf(DATASET_KEYS)
REFRESHABLE = tuple(k for k in DATASET_KEYS if k != "rovo")
_ASSET_PART = validate.Length(min=1, max=255)


def _asset_field(**kwargs: Any) -> fields.String:
    return fields.String(load_default=None, allow_none=True, validate=_ASSET_PART, **kwargs)


# -- requests --------------------------------------------------------------------------------------


class SpaceKeyIn(SpaceKeyAlias):
    space_key = space_key_field(required=True)


class RefreshIn(SpaceKeyAlias):
    """Refresh every enabled dataset, or one. ``endpoints`` seeds one Exchange asset version:
    ``group_id`` + ``asset_id`` + ``version``, or a macro ``target`` ``group/asset[/version]``
    (without a version, the one in the Exchange cache). ``environment`` and ``mode`` are what the
    macros send; a refresh always covers every environment."""

    space_key = space_key_field(required=True)
    dataset = fields.String(
        load_default=None,
        allow_none=True,
        validate=DATASET,
        metadata={
            "description": "Dataset key; omit for every enabled dataset. A derived one "
            "(ops_dashboard, rovo) refreshes its sources."
        },
    )
    group_id = _asset_field()
    asset_id = _asset_field()
    version = _asset_field()
    target = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=512))
    environment = fields.String(load_default=None, allow_none=True)
    mode = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(MACRO_MODES))

    @post_load
    def _asset(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        named = [k for k in ("group_id", "asset_id", "version") if data.get(k)]
        if data["dataset"] != "endpoints":
            if named:
                raise ValidationError({named[0]: ["Only for the endpoints dataset."]})
            return data
        if not named and data.get("target"):
            group, _, rest = data["target"].strip().strip("/").partition("/")
            asset, _, version = rest.partition("/")
            if not (group and asset) or "/" in version:
                raise ValidationError({"target": ["Expected groupId/assetId[/version]."]})
            data.update(group_id=group, asset_id=asset, version=version or None)
            named = ["group_id", "asset_id"]
        if named and not (data.get("group_id") and data.get("asset_id")):
            missing = "asset_id" if data.get("group_id") else "group_id"
            raise ValidationError({missing: ["Name both group_id and asset_id."]})
        return data


class DatasetQuery(SpaceQuery):
    """``environment_id`` (or the macros' ``environment``: an id or a name), ``target``."""

    environment_id = fields.String(load_default=None, validate=validate.Length(max=255))
    environment = fields.String(load_default=None, validate=validate.Length(max=255))
    target = fields.String(load_default=None, validate=validate.Length(max=512))
    mode = fields.String(load_default=None)


class ScopesQuery(SpaceQuery):
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "json")))


# -- responses -------------------------------------------------------------------------------------


class OrganizationOut(Schema):
    id = fields.String(required=True)
    name = fields.String(allow_none=True)


class ConnectionTestOut(Schema):
    ok = fields.Boolean(required=True)
    organization = fields.Nested(OrganizationOut, allow_none=True)
    environment_count = fields.Integer(allow_none=True)
    step = fields.String(
        allow_none=True, metadata={"description": "token / organization / environments"}
    )
    http_status = fields.Integer(allow_none=True)
    missing_scope = fields.String(allow_none=True)
    problem = fields.String(allow_none=True, metadata={"description": "What is wrong, plainly."})
    fix = fields.String(allow_none=True, metadata={"description": "Where and how to fix it."})


class ScopeRowOut(Schema):
    scope = fields.String(required=True)
    why_needed = fields.String(required=True)
    used_by = fields.List(fields.String(), required=True, metadata={"description": "Dataset names"})
    used_by_datasets = fields.List(fields.String(), required=True)
    validated_by = fields.List(fields.String(), required=True)
    granted_at = fields.String(required=True, metadata={"example": "per environment"})


class FailedEnvironmentOut(Schema):
    environment_id = fields.String(allow_none=True)
    environment_name = fields.String(allow_none=True)
    outcome = fields.String(required=True)
    error = fields.String(required=True)


class DatasetRefreshOut(Schema):
    dataset = fields.String(required=True)
    status = fields.String(
        required=True, metadata={"description": "ok / partial / failed / disabled"}
    )
    coverage = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    item_count = fields.Integer(required=True)
    failed_environments = fields.List(fields.Nested(FailedEnvironmentOut), required=True)
    asset = fields.String(allow_none=True)


class RefreshOut(Schema):
    space_key = fields.String(required=True)
    refreshed_at = fields.AwareDateTime(required=True)
    datasets = fields.List(fields.Nested(DatasetRefreshOut), required=True)


class EnvironmentStateOut(Schema):
    environment_id = fields.String(allow_none=True)
    environment_name = fields.String(allow_none=True)
    dataset = fields.String(required=True)
    fetched_at = fields.AwareDateTime(allow_none=True)
    last_attempt_at = fields.AwareDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    coverage = fields.String(allow_none=True)
    item_count = fields.Integer(required=True)
    stale_fallback = fields.Boolean(required=True)


class DatasetOut(Schema):
    dataset = fields.String(required=True)
    name = fields.String(required=True)
    space_key = fields.String(required=True)
    enabled = fields.Boolean(required=True)
    environment_id = fields.String(allow_none=True)
    freshness = fields.String(
        required=True, metadata={"description": "fresh / stale / expired / never / not_applicable"}
    )
    stale = fields.Boolean(required=True, metadata={"description": "stale, expired or fallback"})
    last_successful_fetch = fields.AwareDateTime(allow_none=True)
    last_attempt_at = fields.AwareDateTime(allow_none=True)
    stale_fallback = fields.Boolean(required=True)
    coverage = fields.String(required=True)
    sync_interval_hours = fields.Integer(required=True)
    item_count = fields.Integer(required=True)
    items = fields.List(fields.Dict(), required=True)
    environments = fields.List(fields.Nested(EnvironmentStateOut), required=True)
    sources = fields.List(fields.String(), required=True)


class SkippedSpaceOut(Schema):
    space_key = fields.String(required=True)
    reason = fields.String(
        required=True, metadata={"description": "not_due / claimed_elsewhere / error / ..."}
    )


class ScheduledRefreshOut(Schema):
    refreshed = fields.List(fields.Nested(RefreshOut), required=True)
    skipped = fields.List(fields.Nested(SkippedSpaceOut), required=True)
    deferred = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "Due spaces whose refresh job was still going when the trigger "
            "answered; it finishes in the background."
        },
    )


# -- Rovo actions ----------------------------------------------------------------------------------


class RovoIn(Schema):
    """A Rovo action's payload: its inputs (camelCase as the manifest names them) and Forge's
    ``context``. The space is ``spaceKey`` / ``space_key``, else the context's Confluence space;
    ``space_key`` is ``None`` when neither names one."""

    class Meta:
        unknown = EXCLUDE

    space_key = fields.String(load_default=None, allow_none=True)
    context = fields.Dict(load_default=dict, allow_none=True)

    @pre_load
    def _flatten(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        inner = data.get("payload")
        merged = {**data, **inner} if isinstance(inner, Mapping) else dict(data)
        for alias in ("spaceKey", "space"):
            if alias in merged and not merged.get("space_key"):
                merged["space_key"] = merged[alias]
        return {k: (None if isinstance(v, str) and not v.strip() else v) for k, v in merged.items()}

    @post_load
    def _space(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        key = data.get("space_key") or _context_space(data.get("context"))
        if key is not None:
            key = str(key).strip()
            try:
                SPACE_KEY(key)
            except ValidationError:
                raise ValidationError({"space_key": ["Not a Confluence space key."]}) from None
        data["space_key"] = key or None
        return data


def _context_space(context: Any) -> str | None:
    """The Confluence space of a Rovo context (``context.confluence.spaceKey``), if any."""
    if not isinstance(context, Mapping):
        return None
    candidates = []
    for node in (context.get("confluence"), context):
        if isinstance(node, Mapping):
            candidates.append(node.get("spaceKey"))
            space = node.get("space")
            if isinstance(space, Mapping):
                candidates.append(space.get("key"))
    return next((c for c in candidates if isinstance(c, str) and c.strip()), None)


_TEXT = validate.Length(max=500)


class ApiInventoryIn(RovoIn):
    environment = fields.String(load_default=None, allow_none=True, validate=_TEXT)
    query = fields.String(load_default=None, allow_none=True, validate=_TEXT)


class RuntimeAppsIn(ApiInventoryIn):
    status = fields.String(load_default=None, allow_none=True, validate=_TEXT)


class RefreshDatasetIn(RovoIn):
    dataset = fields.String(required=True, validate=validate.OneOf(REFRESHABLE))


class EndpointsIn(RovoIn):
    question = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    api = fields.String(load_default=None, allow_none=True, validate=_TEXT)
    method = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=16))
    path = fields.String(load_default=None, allow_none=True, validate=_TEXT)


class MissingEnvironmentOut(Schema):
    environment_id = fields.String(allow_none=True)
    environment_name = fields.String(allow_none=True)
    reason = fields.String(required=True)
    has_fallback = fields.Boolean(required=True)
    sentence = fields.String(required=True)


class RovoOut(Schema):
    status = fields.String(
        required=True,
        metadata={
            "description": "ok / no-data / disabled / context-required; a refresh also "
            "pending / error"
        },
    )
    message = fields.String(required=True, metadata={"description": "Say this to the user."})
    space_key = fields.String(allow_none=True)
    dataset = fields.String(allow_none=True)
    freshness = fields.String(allow_none=True)
    last_successful_fetch = fields.AwareDateTime(allow_none=True)
    stale_fallback = fields.Boolean()
    coverage = fields.String(allow_none=True)
    missing_environments = fields.List(fields.Nested(MissingEnvironmentOut))
    results = fields.List(fields.Dict())
