"""Schemas of the diagnostics-run routes (Forge and support) and of the support look-ups.

Reports are stored already validated and redacted, so :class:`StoredReport` sends them as they
are (extra keys included) while documenting them as the contract's ``Report`` component.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from app.schemas import ConnectionOut, SpaceKeyAlias, space_key_field
from app.storage.runs import MAX_LIMIT, path_key
from diagnostics.render import FORMATS
from diagnostics.report_schema import ReportSchema

RUN_ID = validate.Length(min=1, max=64)


class StoredReport(fields.Nested):
    """A stored report, dumped unchanged; documented as ``ReportSchema``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ReportSchema, **kwargs)

    # marshmallow's Nested names its first parameter unlike Field's: no override satisfies both.
    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]  # see above
        return value


class _Query(Schema):
    class Meta:
        unknown = EXCLUDE


def _limit() -> fields.Integer:
    return fields.Integer(
        load_default=20,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"At most this many runs (1-{MAX_LIMIT})."},
    )


# -- requests ----------------------------------------------------------------------------------


SCOPES = ("space", "site")


class RunIn(SpaceKeyAlias):
    """Start a diagnostics run of one of the caller's spaces, or (``scope: site``, the admin
    self-check) of every configured space of the site, or only ``space_key`` if given."""

    scope = fields.String(
        load_default="space",
        validate=validate.OneOf(SCOPES),
        metadata={"description": "space (default) or site (the self-check)."},
    )
    space_key = space_key_field(load_default=None)

    @validates_schema
    def _space_needed(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("scope") == "space" and not data.get("space_key"):
            raise ValidationError("Name the space to run diagnostics for.", "space_key")


class RunListQuery(SpaceKeyAlias, _Query):
    space_key = space_key_field(load_default=None)
    scope = fields.String(
        load_default=None,
        validate=validate.OneOf(("site",)),
        metadata={"description": "site: only the self-check's runs."},
    )
    limit = _limit()


class ReportFormatQuery(_Query):
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(FORMATS),
        metadata={"description": "json (default), markdown, html or text."},
    )


class DiffQuery(_Query):
    against = fields.String(
        load_default=None,
        validate=RUN_ID,
        metadata={"description": "The run to compare with; default: the space's previous run."},
    )


class SiteSearchQuery(_Query):
    q = fields.String(
        load_default=None,
        validate=validate.Length(max=255),
        metadata={
            "description": "Part of a site URL, cloud id or installation id, or of a space key "
            "or Anypoint organization (id or name)."
        },
    )


class SupportRunListQuery(RunListQuery):
    site = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=2048),
        metadata={"description": "Installation id or key, cloud id, or site URL."},
    )


class AuditQuery(_Query):
    installation = fields.String(load_default=None, validate=validate.Length(min=1, max=255))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


# -- responses ---------------------------------------------------------------------------------


class RunSummaryOut(Schema):
    """One run in a listing."""

    id = fields.String(required=True)
    installation_id = fields.String(required=True)
    space_key: fields.Field[Any] = fields.String(allow_none=True)  # RunOut reads it from the report
    verdict = fields.String(required=True, metadata={"enum": ["healthy", "degraded", "broken"]})
    requested_by = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)


class RunOut(RunSummaryOut):
    """A stored run with its report (the report JSON of report.md)."""

    space_key = fields.Function(lambda run: run.report.get("space_key"), allow_none=True)
    report = StoredReport(required=True)


class SpaceBriefOut(Schema):
    """A connected space, as the self-check's picker lists it."""

    space_key = fields.String(attribute="key", required=True)
    updated_at = fields.AwareDateTime(required=True)


class SiteRunOut(Schema):
    """A self-check of the site: one run per configured space (or the one named)."""

    scope = fields.Constant("site", required=True)
    verdict = fields.String(
        allow_none=True,
        metadata={"enum": ["healthy", "degraded", "broken"], "description": "The worst run's."},
    )
    runs = fields.List(fields.Nested(RunOut), required=True)


class FindingBrief(Schema):
    key = fields.String(required=True)
    id = fields.String(required=True)
    status = fields.String(required=True)
    title = fields.String(required=True)


class RunRef(Schema):
    run_id = fields.String(required=True)
    generated_at = fields.String(required=True)


class Change(Schema):
    key = fields.String(required=True)
    before = fields.String(allow_none=True)
    after = fields.String(allow_none=True)


class VerdictChange(Schema):
    before = fields.String(required=True, allow_none=True)
    after = fields.String(required=True)


class DiffOut(Schema):
    """What changed between two runs (``diagnostics.diff``): findings fixed, new, still open.

    For a space's first run ``before`` is null, the lists are empty and ``message`` says so."""

    before = fields.Nested(RunRef, required=True, allow_none=True)
    message = fields.String(allow_none=True)
    after = fields.Nested(RunRef, required=True)
    verdict = fields.Nested(VerdictChange, required=True)
    coverage = fields.List(fields.Nested(Change), required=True)
    freshness = fields.List(fields.Nested(Change), required=True)
    scopes = fields.List(fields.Nested(Change), required=True)
    fixed = fields.List(fields.Nested(FindingBrief), required=True)
    new = fields.List(fields.Nested(FindingBrief), required=True)
    still_open = fields.List(fields.Nested(FindingBrief), required=True)


class SupportSpaceOut(ConnectionOut):
    """A space's connection as support sees it: the same fields the space's admin sees (never
    the client secret)."""


class SiteOut(Schema):
    """An installation (one Confluence site) and its spaces."""

    installation_id = fields.String(attribute="installation.id", required=True)
    key = fields.Function(
        lambda site: path_key(site["installation"].id),
        metadata={"description": "Names the site in /support/v1/sites/{installation_id}/... URLs."},
    )
    cloud_id = fields.String(attribute="installation.cloud_id", required=True)
    site_url = fields.String(attribute="installation.site_url", allow_none=True)
    spaces = fields.List(fields.Nested(SupportSpaceOut), required=True)


class AuditOut(Schema):
    id = fields.Integer(required=True)
    actor = fields.String(required=True)
    action = fields.String(required=True)
    installation_id = fields.String(allow_none=True)
    space_key = fields.String(allow_none=True)
    target = fields.String(allow_none=True)
    at = fields.AwareDateTime(required=True)
