"""Marshmallow schemas: request validation and response shapes, and the OpenAPI components.

Request bodies reject unknown fields (422 naming them); query strings ignore them. The Forge
front end names the space ``space_key``; ``space`` is accepted as an alias.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from app.errors import ApiError
from app.net import BlockedDestination, check_url, outbound_policy
from diagnostics.anypoint.controlplanes import resolve_base_url
from diagnostics.catalogue import DATASETS_BY_KEY
from diagnostics.errors import ConfigurationError
from diagnostics.model import (
    CONTROL_PLANES,
    DEFAULT_SYNC_INTERVAL_HOURS,
    MACRO_MODES,
    MACRO_TYPES,
    RENDER_STATUSES,
)
from diagnostics.simulator import builtin_scenarios

MAX_RENDER_EVENTS = 500
MAX_SYNC_INTERVAL_HOURS = 24 * 365
MAX_RENDER_ERROR_CHARS = 2000
SPACE_KEY = validate.Regexp(
    r"^~?[A-Za-z0-9][A-Za-z0-9_:-]{0,254}$", error="Not a Confluence space key."
)
STRICT_BOOLEAN: dict[str, Any] = {"truthy": {True}, "falsy": {False}}


def space_key_field(**kwargs: Any) -> fields.String:
    return fields.String(validate=SPACE_KEY, metadata={"example": "OPS"}, **kwargs)


class SpaceKeyAlias(Schema):
    """Accept ``space`` for ``space_key`` (both names are in use by callers)."""

    @pre_load
    def _alias_space(self, data: Any, **_: Any) -> Any:
        if isinstance(data, Mapping) and "space" in data and "space_key" not in data:
            data = {("space_key" if k == "space" else k): v for k, v in data.items()}
        return data


# -- shared --------------------------------------------------------------------------------------


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"example": "not_found"})
    message = fields.String(required=True)
    request_id = fields.String(metadata={"description": "Given on 5xx; quote it to support."})
    field_errors = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        metadata={"description": "Validation messages by field name (422)."},
    )


class Error(Schema):
    error = fields.Nested(ErrorBody, required=True)


class Status(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class SpaceQuery(SpaceKeyAlias):
    class Meta:
        unknown = EXCLUDE

    space_key = space_key_field(required=True)


# -- connection ------------------------------------------------------------------------------------


def _check_base_url(url: str) -> str:
    """The normalised URL; refuses what the multi-tenant service must not call (SSRF).

    The host is judged on what it resolves to (:mod:`app.net`); the connection is checked again
    when it is made, so a DNS answer changed after saving cannot reach an internal address.
    """
    try:
        normalised = resolve_base_url("custom", url)
    except ConfigurationError as exc:
        raise ValidationError(str(exc)) from None
    parts = urlsplit(normalised)
    if parts.scheme != "https":
        raise ValidationError("The base URL must use https.")
    host = (parts.hostname or "").rstrip(".").lower()
    if host.endswith((".local", ".internal")):
        raise ValidationError("The base URL must be a public host.")
    try:
        check_url(normalised, outbound_policy(current_app.config))
    except BlockedDestination as exc:
        raise ValidationError(str(exc)) from None
    return normalised


class ConnectionIn(SpaceKeyAlias):
    """A space's connected app. Omit ``client_secret`` to keep the stored one."""

    space_key = space_key_field(required=True)
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=255))
    client_secret = fields.String(
        load_only=True,
        validate=validate.Length(min=1, max=1024),
        metadata={"description": "Write-only; never returned. Omit to keep the stored secret."},
    )
    organization_id = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=255)
    )
    control_plane = fields.String(required=True, validate=validate.OneOf(CONTROL_PLANES))
    base_url = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=2048),
        metadata={"description": "https URL of the Anypoint API host (custom control plane)."},
    )
    sync_interval_hours = fields.Integer(
        load_default=DEFAULT_SYNC_INTERVAL_HOURS,
        strict=True,
        validate=validate.Range(min=1, max=MAX_SYNC_INTERVAL_HOURS),
    )
    datasets_enabled = fields.Dict(
        keys=fields.String(validate=validate.OneOf(sorted(DATASETS_BY_KEY))),
        values=fields.Boolean(**STRICT_BOOLEAN),
        load_default=dict,
        metadata={"description": "Dataset key → enabled; datasets not named stay enabled."},
    )
    scenario = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf([name for name, _ in builtin_scenarios()]),
        metadata={
            "description": "Simulated mode only: the built-in scenario this space's simulated "
            "Anypoint organization follows (default: MULESIGHT_SCENARIO, else healthy)."
        },
    )

    @validates("base_url")
    def _base_url(self, value: str | None, **_: Any) -> None:
        if value:
            _check_base_url(value)

    @validates_schema
    def _custom_needs_url(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("control_plane") == "custom" and not data.get("base_url"):
            raise ValidationError("The custom control plane needs a base URL.", "base_url")

    @post_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["base_url"] = _check_base_url(data["base_url"]) if data.get("base_url") else None
        return data


class ConnectionOut(Schema):
    space_key = fields.String(attribute="key", required=True)
    client_id = fields.String(required=True)
    client_secret_set = fields.Boolean(required=True)
    organization_id = fields.String(allow_none=True)
    control_plane = fields.String(required=True)
    base_url = fields.String(allow_none=True)
    sync_interval_hours = fields.Integer(required=True)
    datasets_enabled = fields.Dict(keys=fields.String(), values=fields.Boolean(), required=True)
    scenario = fields.String(allow_none=True)
    updated_at = fields.AwareDateTime(required=True)


# -- render telemetry ------------------------------------------------------------------------------


class RenderEventIn(Schema):
    macro = fields.String(required=True, validate=validate.OneOf(MACRO_TYPES))
    mode = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(MACRO_MODES))
    page_id = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=64)
    )
    space_key = space_key_field(load_default=None, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(RENDER_STATUSES))
    error = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": f"Kept up to {MAX_RENDER_ERROR_CHARS} characters, redacted."},
    )
    at = fields.AwareDateTime(required=True, metadata={"example": "2026-11-23T10:00:00+11:00"})

    @post_load
    def _truncate(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("error"):
            data["error"] = data["error"][:MAX_RENDER_ERROR_CHARS]
        return data


class RenderBatchIn(SpaceKeyAlias):
    """Up to 500 render events; an event without ``space_key`` belongs to the batch's space."""

    space_key = space_key_field(load_default=None, allow_none=True)
    events = fields.List(
        fields.Nested(RenderEventIn),
        required=True,
        validate=validate.Length(max=MAX_RENDER_EVENTS),
    )

    @pre_load
    def _limit(self, data: Any, **_: Any) -> Any:
        events = data.get("events") if isinstance(data, Mapping) else None
        if isinstance(events, list) and len(events) > MAX_RENDER_EVENTS:
            raise ApiError(
                413,
                "too_many_events",
                f"At most {MAX_RENDER_EVENTS} render events per batch; split the batch.",
            )
        return data

    @post_load
    def _space_per_event(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        batch_space = data["space_key"]
        missing = [i for i, e in enumerate(data["events"]) if not (e["space_key"] or batch_space)]
        if missing:
            error = {"space_key": ["No space_key on the event nor on the batch."]}
            raise ValidationError({"events": dict.fromkeys(missing, error)})
        for event in data["events"]:
            event["space_key"] = event["space_key"] or batch_space
        return data


class Accepted(Schema):
    accepted = fields.Integer(required=True, metadata={"description": "Events stored."})
