"""The report contract (report.md, schema_version 1) as a marshmallow schema tree.

::

    ReportSchema
    ├── environments[]       EnvironmentSchema
    ├── datasets{key}        DatasetSchema ── probes[] ProbeSchema, failed FailedCallsSchema
    ├── scopes{scope}        ScopeSchema
    ├── macros[]             MacroSchema
    ├── findings[]           FindingSchema
    ├── checks[]             CheckSchema
    ├── ticket_details       TicketDetailsSchema
    ├── redactions           RedactionsSchema
    ├── summary (extra)      RunSummarySchema
    └── upstream (extra)     UpstreamSchema

Every enum of report.md is checked, all eight dataset keys and all eight scopes must be present,
and date-times stay strings but must be ISO-8601 with an offset. Keys the contract does not name
are kept (``unknown = INCLUDE``): the contract allows extra keys. The same classes document the
service's OpenAPI schema, so their names are the public names of the report's parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from marshmallow import (
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from diagnostics.catalogue import DATASET_KEYS, SCOPE_KEYS
from diagnostics.errors import DiagnosticsError
from diagnostics.findings import OWNERS
from diagnostics.model import CONTROL_PLANES, ENVIRONMENT_TYPES, MACRO_MODES, MACRO_TYPES
from diagnostics.probes import OUTCOMES
from diagnostics.statuses import (
    CheckStatus,
    Coverage,
    FindingStatus,
    FreshnessState,
    RenderStatus,
    Verdict,
    values,
)

VERDICTS = values(Verdict)
COVERAGES = values(Coverage)
FRESHNESS_STATES = values(FreshnessState)
MACRO_STATUSES = values(RenderStatus)
FINDING_STATUSES = values(FindingStatus)
CHECK_STATUSES = values(CheckStatus)
SEVERITIES = ("Sev 1", "Sev 2", "Sev 3", "Sev 4")
MISSING = "Missing data for required field."
MAX_LISTED_ERRORS = 10

__all__ = [
    "CheckSchema",
    "DatasetSchema",
    "EnvironmentSchema",
    "FailedCallsSchema",
    "FindingSchema",
    "IsoDateTime",
    "MacroSchema",
    "ProbeSchema",
    "RedactionsSchema",
    "ReportSchema",
    "ReportValidationError",
    "RunSummarySchema",
    "ScopeSchema",
    "TicketDetailsSchema",
    "UpstreamSchema",
    "validate_report",
]


class ReportValidationError(DiagnosticsError):
    """The report does not follow the contract. ``errors`` maps each field path to its messages."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = dict(errors)
        lines = [f"{path}: {' '.join(msgs)}" for path, msgs in self.errors.items()]
        more = len(lines) - MAX_LISTED_ERRORS
        shown = "; ".join(lines[:MAX_LISTED_ERRORS]) + (f"; and {more} more" if more > 0 else "")
        super().__init__(f"invalid report: {shown}")


class IsoDateTime(fields.String):
    """An ISO-8601 date-time with a UTC offset, kept as the string it was given."""

    default_error_messages = {  # noqa: RUF012 (marshmallow merges this class attribute)
        "format": "Not an ISO-8601 date-time: {input!r}.",
        "naive": "Date-time {input!r} has no UTC offset.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).setdefault("format", "date-time")
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise self.make_error("format", input=text) from exc
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise self.make_error("naive", input=text)
        return text


class JsonNumber(fields.Float):
    """An int or a float, kept as given (plain ``fields.Float`` would turn 12 into 12.0)."""

    def _format_num(self, value: Any) -> int | float:
        if isinstance(value, int | float):
            return value
        raise TypeError(value)


class JsonBoolean(fields.Boolean):
    """``true`` or ``false`` only (plain ``fields.Boolean`` would turn 1 or ``"yes"`` into True)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def _str(*, null: bool = False, required: bool = True, **kwargs: Any) -> fields.String:
    return fields.String(required=required, allow_none=null, **kwargs)


def _enum(choices: Iterable[str | None], *, null: bool = False, **kwargs: Any) -> fields.String:
    return fields.String(
        required=kwargs.pop("required", True),
        allow_none=null,
        validate=validate.OneOf(tuple(choices)),
        **kwargs,
    )


def _enum_list(choices: Iterable[str], **kwargs: Any) -> fields.List[str]:
    return fields.List(
        fields.String(validate=validate.OneOf(tuple(choices))), required=True, **kwargs
    )


def _count(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=0), **kwargs)


class _Open(Schema):
    """Base of every schema here: extra keys are kept, as the contract allows."""

    class Meta:
        unknown = INCLUDE


class EnvironmentSchema(_Open):
    id = _str()
    name = _str()
    type = _enum(ENVIRONMENT_TYPES)


class ProbeSchema(_Open):
    """One probe call (or why it did not run), as the runner recorded it."""

    probe = _str(metadata={"description": "Catalogue key of the probe, e.g. api_manager.instances"})
    environment_id = _str(null=True)
    method = _str()
    path = _str()
    outcome = _enum(OUTCOMES)
    status = fields.Integer(strict=True, required=True, allow_none=True)
    attempts = _count(required=True)
    elapsed_ms = JsonNumber(required=True, validate=validate.Range(min=0))
    message = _str(null=True)


class FailedCallsSchema(_Open):
    forbidden = fields.List(fields.String(), required=True)
    timeout = fields.List(fields.String(), required=True)
    other = fields.List(fields.String(), required=True)


class _Named(_Open):
    """What the report's findings say about a dataset, scope or macro (extras, set by the engine)."""

    finding_status = _enum(
        FINDING_STATUSES,
        null=True,
        required=False,
        metadata={"description": "The worst status of the findings that name it"},
    )
    root_causes = fields.List(
        fields.String(),
        required=False,
        metadata={"description": "Keys of the root causes those findings fold under"},
    )


class DatasetSchema(_Named):
    """Coverage and cache freshness of one dataset."""

    name = _str(required=False, metadata={"description": "Human name of the dataset"})
    coverage = _enum(COVERAGES)
    reason = _str(null=True, metadata={"description": "auth_blocked, unreachable, disabled, ..."})
    impact = _str(null=True, required=False)
    last_successful_fetch = IsoDateTime(required=True, allow_none=True)
    freshness = _enum(FRESHNESS_STATES)
    stale_fallback = JsonBoolean(required=True)
    probes = fields.List(fields.Nested(ProbeSchema), required=True)
    failed = fields.Nested(FailedCallsSchema, required=True)


class ScopeSchema(_Named):
    """Whether a connected-app scope is granted, over the probes it guards."""

    status = _enum(COVERAGES)
    missing_in = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Environment ids, or 'organization'"},
    )
    why_needed = _str()
    used_by = _enum_list(DATASET_KEYS)
    validated_by = fields.List(fields.String(), required=True)
    impact = _str(null=True, required=False)
    verified = JsonBoolean(
        required=True,
        metadata={"description": "A probe got a definitive answer (ok, empty, 401/403)"},
    )


class MacroSchema(_Named):
    """The latest render of one MuleSight macro on one Confluence page."""

    macro = _enum(MACRO_TYPES)
    mode = _enum(MACRO_MODES, null=True)
    page_id = _str()
    space_key = _str(null=True)
    dataset = _enum(DATASET_KEYS)
    status = _enum(MACRO_STATUSES)
    last_rendered_at = IsoDateTime(required=True, allow_none=True)
    error = _str(null=True)


class FindingSchema(_Open):
    """What is wrong, why, who must act and exactly what to do."""

    id = _str(validate=validate.Length(min=1), metadata={"description": "Stable dotted rule id"})
    status = _enum(FINDING_STATUSES)
    title = _str(validate=validate.Length(min=1))
    detail = _str(validate=validate.Length(min=1))
    remediation = _str(validate=validate.Length(min=1))
    owner = _enum(OWNERS)
    owner_label = _str(required=False)
    datasets = _enum_list(DATASET_KEYS)
    scopes = _enum_list(SCOPE_KEYS)
    macros = fields.List(
        _count(), required=True, metadata={"description": "Indexes into the report's macros"}
    )
    doc_url = fields.Url(required=True, allow_none=True, schemes={"http", "https"})
    key = _str(
        validate=validate.Length(min=1),
        metadata={"description": "Unique in the report, e.g. scope.missing:read:exchange"},
    )
    cause = _str(
        null=True,
        required=True,
        metadata={"description": "Key of the finding this one follows from; null for a root cause"},
    )
    root = _str(required=False, metadata={"description": "Key of the root cause it folds under"})
    affects = fields.Dict(
        keys=fields.String(), values=_count(), required=False, metadata={"description": "Counts"}
    )
    group_status = _enum(
        FINDING_STATUSES,
        required=False,
        metadata={"description": "Root causes: the worst status of the root and what it causes"},
    )


class CheckSchema(_Open):
    id = _str()
    title = _str()
    status = _enum(CHECK_STATUSES)
    elapsed_ms = JsonNumber(required=True, allow_none=True, validate=validate.Range(min=0))
    error = _str(required=False, metadata={"description": "The error of a crashed rule"})


class TicketDetailsSchema(_Open):
    """The required support-ticket details this run can fill in (null when it cannot)."""

    customer_site_url = _str(null=True)
    timestamp = IsoDateTime(required=True, allow_none=True)
    timezone = _str(null=True)
    affected_module = _str(null=True)
    organization_id = _str(null=True)
    environments = fields.Raw(required=True, allow_none=True)
    dataset_type = _enum(DATASET_KEYS, null=True)
    last_refresh = IsoDateTime(required=True, allow_none=True)
    cache_freshness = _enum(FRESHNESS_STATES, null=True)
    diagnostics_coverage = _enum(COVERAGES, null=True)


class RedactionsSchema(_Open):
    count = _count(required=True)
    kinds = fields.Dict(keys=fields.String(), values=_count(), required=True)


class RunSummarySchema(_Open):
    fail = _count(required=True)
    warn = _count(required=True)
    pass_ = _count(required=True, data_key="pass", attribute="pass")
    root_causes = _count(required=False)
    consequences = _count(required=False)


class UpstreamSchema(_Open):
    control_plane = _enum(CONTROL_PLANES, required=False)
    status_page = _str(null=True, required=False)
    in_maintenance_window = JsonBoolean()
    suspected = JsonBoolean()
    datasets = fields.List(fields.String(validate=validate.OneOf(DATASET_KEYS)))


class ReportSchema(_Open):
    """One diagnostics run for one site, space and Anypoint organization."""

    schema_version = fields.Integer(strict=True, required=True, validate=validate.Equal(1))
    run_id = _str(validate=validate.Length(min=1))
    generated_at = IsoDateTime(required=True)
    site_url = _str(null=True)
    space_key = _str(null=True)
    organization_id = _str(null=True)
    organization_name = _str(null=True, required=False)
    control_plane = _enum(CONTROL_PLANES)
    environments = fields.List(fields.Nested(EnvironmentSchema), required=True)
    verdict = _enum(VERDICTS)
    datasets = fields.Dict(
        keys=fields.String(validate=validate.OneOf(DATASET_KEYS)),
        values=fields.Nested(DatasetSchema),
        required=True,
        metadata={"description": "All eight datasets, by key"},
    )
    scopes = fields.Dict(
        keys=fields.String(validate=validate.OneOf(SCOPE_KEYS)),
        values=fields.Nested(ScopeSchema),
        required=True,
        metadata={"description": "All eight connected-app scopes, by scope string"},
    )
    macros = fields.List(fields.Nested(MacroSchema), required=True)
    findings = fields.List(fields.Nested(FindingSchema), required=True)
    root_causes = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Keys of the findings without a cause, worst first"},
    )
    checks = fields.List(fields.Nested(CheckSchema), required=True)
    ticket_details = fields.Nested(TicketDetailsSchema, required=True)
    suggested_severity = _enum(SEVERITIES)
    severity_reason = _str(required=False)
    escalation_stage = _str(null=True, required=False)
    summary = fields.Nested(RunSummarySchema, required=False)
    upstream = fields.Nested(UpstreamSchema, required=False, allow_none=True)
    elapsed_ms = JsonNumber(required=False, validate=validate.Range(min=0))
    deadline_s = JsonNumber(required=False, validate=validate.Range(min=0))
    redactions = fields.Nested(RedactionsSchema, required=True)

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _all_keys_present(self, _data: Any, original: Any, **_: Any) -> None:
        """Every dataset key and every scope is present (judged on the input, not the output)."""
        errors: dict[str, Any] = {}
        for name, expected in (("datasets", DATASET_KEYS), ("scopes", SCOPE_KEYS)):
            given = original.get(name) if isinstance(original, Mapping) else None
            if isinstance(given, Mapping):
                missing = {key: [MISSING] for key in expected if key not in given}
                if missing:
                    errors[name] = missing
        if errors:
            raise ValidationError(errors)

    @validates_schema
    def _references_hold(self, data: Mapping[str, Any], **_: Any) -> None:
        """Macro indexes and causes point into the report; the verdict follows the findings."""
        count = len(data["macros"])
        errors: dict[int, Any] = {}
        for i, finding in enumerate(data["findings"]):
            bad = [m for m in finding["macros"] if m >= count]
            if bad:
                errors[i] = {"macros": [f"Index {bad[0]} is out of range ({count} macros)."]}
        errors.update(_cause_errors(data["findings"]))
        if errors:
            raise ValidationError(errors, "findings")
        roots = [f["key"] for f in data["findings"] if f["cause"] is None]
        if sorted(roots) != sorted(data["root_causes"]):
            raise ValidationError(
                f"Must list exactly the findings without a cause: {roots}.", "root_causes"
            )
        statuses = {f["status"] for f in data["findings"]}
        expected = "broken" if "fail" in statuses else "degraded" if statuses else "healthy"
        if data["verdict"] != expected:
            raise ValidationError(
                f"Must be {expected!r} for these findings (report.md: the verdict follows them).",
                "verdict",
            )


def _cause_errors(findings: list[Mapping[str, Any]]) -> dict[int, dict[str, list[str]]]:
    """Keys are unique; every cause names a finding; following causes never loops."""
    errors: dict[int, dict[str, list[str]]] = {}
    by_key: dict[str, Mapping[str, Any]] = {}
    for i, f in enumerate(findings):
        if f["key"] in by_key:
            errors[i] = {"key": [f"Duplicate key {f['key']!r}."]}
        by_key[f["key"]] = f
    for i, f in enumerate(findings):
        seen, current = {f["key"]}, f
        while current["cause"] is not None:
            if current["cause"] not in by_key:
                errors[i] = {"cause": [f"No finding has the key {current['cause']!r}."]}
                break
            if current["cause"] in seen:
                errors[i] = {"cause": ["Following the causes loops."]}
                break
            seen.add(current["cause"])
            current = by_key[current["cause"]]
    return errors


def validate_report(data: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``data`` against the contract; return it (extra keys kept, in their order) or raise.

    Raises :class:`ReportValidationError` whose message names each failing field path, e.g.
    ``datasets.api_manager.coverage`` or ``findings[2].owner``.
    """
    if not isinstance(data, Mapping):
        raise ReportValidationError({"(report)": ["Must be a JSON object."]})
    try:
        loaded = ReportSchema().load(data)
    except ValidationError as exc:
        raise ReportValidationError(dict(_flatten(exc.messages))) from None
    if loaded == data and isinstance(data, dict):
        # Every field keeps its value as given, so a valid report loads as an equal copy (one
        # compare in C), and the report is returned as it came, key order included.
        return data
    ordered: dict[str, Any] = _in_order_of(data, loaded)
    return ordered


def _in_order_of(original: Any, loaded: Any) -> Any:
    """``loaded`` with its keys in the order of ``original`` (the engine's, the contract's)."""
    if isinstance(original, Mapping) and isinstance(loaded, dict):
        ordered = {k: _in_order_of(v, loaded[k]) for k, v in original.items() if k in loaded}
        ordered.update((k, v) for k, v in loaded.items() if k not in ordered)
        return ordered
    if isinstance(original, list | tuple) and isinstance(loaded, list):
        return [_in_order_of(o, v) for o, v in zip(original, loaded, strict=True)]
    return loaded


def _flatten(messages: Any, path: str = "") -> Iterable[tuple[str, list[str]]]:
    """Marshmallow's nested error dict as ``(dotted.path[index], messages)`` pairs."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "value" and path:  # a Dict field's value
                yield from _flatten(value, path)
            elif key == "key" and path:  # a Dict field's key
                yield from ((p, [f"Unknown key: {' '.join(m)}"]) for p, m in _flatten(value, path))
            elif key == "_schema":
                yield from _flatten(value, path or "(report)")
            else:
                yield from _flatten(value, _join(path, key))
    elif isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        yield path or "(report)", list(messages)
    else:
        yield path or "(report)", [str(messages)]


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)
