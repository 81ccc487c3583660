"""The report schema: the contract's keys, enums and date-times, with field paths in errors."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from diagnostics.errors import DiagnosticsError
from diagnostics.report_schema import ReportSchema, ReportValidationError, validate_report

from .conftest import broken_report_data, healthy_report_data, strip_extras

Mutation = Callable[[dict[str, Any]], Any]


def test_samples_validate_unchanged(
    broken_data: dict[str, Any], healthy_data: dict[str, Any]
) -> None:
    for data in (broken_data, healthy_data, strip_extras(broken_data)):
        validated = validate_report(copy.deepcopy(data))
        assert validated == data
        # Same key order everywhere: the JSON rendering keeps the engine's (contract's) order.
        assert json.dumps(validated) == json.dumps(data)


def test_extra_keys_are_kept(broken_data: dict[str, Any]) -> None:
    broken_data["x_engine_build"] = "2026.11.3"
    broken_data["findings"][0]["x_rank"] = 1
    broken_data["datasets"]["exchange"]["x_pages"] = 3
    validated = validate_report(broken_data)
    assert validated["x_engine_build"] == "2026.11.3"
    assert validated["findings"][0]["x_rank"] == 1
    assert validated["datasets"]["exchange"]["x_pages"] == 3


def test_numbers_keep_their_type(broken_data: dict[str, Any]) -> None:
    broken_data["elapsed_ms"] = 6418
    validated = validate_report(broken_data)
    assert validated["elapsed_ms"] == 6418 and isinstance(validated["elapsed_ms"], int)
    assert isinstance(validated["deadline_s"], float)


def _delete(path: tuple[Any, ...]) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _set(path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


CASES: list[tuple[str, Mutation, str, str]] = [
    (
        "missing dataset key",
        _delete(("datasets", "api_manager")),
        "datasets.api_manager",
        "Missing",
    ),
    (
        "missing scope",
        _delete(("scopes", "read:api_policies")),
        "scopes.read:api_policies",
        "Missing",
    ),
    ("unknown dataset key", _set(("datasets", "billing"), {}), "datasets.billing", "Unknown key"),
    ("bad verdict", _set(("verdict",), "sick"), "verdict", "Must be one of"),
    (
        "bad coverage",
        _set(("datasets", "exchange", "coverage"), "some"),
        "datasets.exchange.coverage",
        "one of",
    ),
    (
        "bad freshness",
        _set(("datasets", "rovo", "freshness"), "old"),
        "datasets.rovo.freshness",
        "one of",
    ),
    (
        "bad probe outcome",
        _set(("datasets", "api_manager", "probes", 0, "outcome"), "denied"),
        "datasets.api_manager.probes[0].outcome",
        "one of",
    ),
    (
        "bad scope status",
        _set(("scopes", "read:exchange", "status"), "no"),
        "scopes.read:exchange.status",
        "one of",
    ),
    ("bad macro status", _set(("macros", 0, "status"), "broken"), "macros[0].status", "one of"),
    ("bad macro type", _set(("macros", 1, "macro"), "mule-app"), "macros[1].macro", "one of"),
    ("bad owner", _set(("findings", 2, "owner"), "customer"), "findings[2].owner", "one of"),
    (
        "bad finding status",
        _set(("findings", 0, "status"), "error"),
        "findings[0].status",
        "one of",
    ),
    (
        "bad finding scope",
        _set(("findings", 1, "scopes"), ["read:everything"]),
        "findings[1].scopes[0]",
        "one of",
    ),
    ("bad check status", _set(("checks", 0, "status"), "ok"), "checks[0].status", "one of"),
    ("bad severity", _set(("suggested_severity",), "P1"), "suggested_severity", "one of"),
    ("bad control plane", _set(("control_plane",), "apac"), "control_plane", "one of"),
    (
        "bad environment type",
        _set(("environments", 0, "type"), "prod"),
        "environments[0].type",
        "one of",
    ),
    (
        "naive generated_at",
        _set(("generated_at",), "2026-11-23T10:15:42"),
        "generated_at",
        "no UTC offset",
    ),
    (
        "naive last fetch",
        _set(("datasets", "exchange", "last_successful_fetch"), "2026-11-22T22:00:00"),
        "datasets.exchange.last_successful_fetch",
        "no UTC offset",
    ),
    (
        "date only",
        _set(("macros", 0, "last_rendered_at"), "2026-11-23"),
        "macros[0].last_rendered_at",
        "offset",
    ),
    (
        "not a date",
        _set(("ticket_details", "timestamp"), "yesterday"),
        "ticket_details.timestamp",
        "ISO-8601",
    ),
    (
        "missing remediation",
        _delete(("findings", 1, "remediation")),
        "findings[1].remediation",
        "Missing",
    ),
    ("missing finding title", _delete(("findings", 3, "title")), "findings[3].title", "Missing"),
    (
        "empty remediation",
        _set(("findings", 1, "remediation"), ""),
        "findings[1].remediation",
        "Shorter",
    ),
    (
        "missing ticket detail",
        _delete(("ticket_details", "timezone")),
        "ticket_details.timezone",
        "Missing",
    ),
    ("bool as count", _set(("redactions", "count"), True), "redactions.count", "integer"),
    (
        "number as boolean",
        _set(("datasets", "exchange", "stale_fallback"), 1),
        "datasets.exchange.stale_fallback",
        "boolean",
    ),
    (
        "word as boolean",
        _set(("scopes", "read:exchange", "verified"), "yes"),
        "scopes.read:exchange.verified",
        "boolean",
    ),
    (
        "negative count",
        _set(("redactions", "kinds", "client_secret"), -1),
        "redactions.kinds.client_secret",
        "greater",
    ),
    (
        "macro index out of range",
        _set(("findings", 1, "macros"), [7]),
        "findings[1].macros",
        "out of range",
    ),
    ("verdict against findings", _set(("verdict",), "degraded"), "verdict", "'broken'"),
    ("schema version", _set(("schema_version",), 2), "schema_version", "equal"),
]


@pytest.mark.parametrize(
    ("mutate", "path", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_reports_name_the_field(
    broken_data: dict[str, Any], mutate: Mutation, path: str, message: str
) -> None:
    mutate(broken_data)
    with pytest.raises(ReportValidationError) as raised:
        validate_report(broken_data)
    assert path in raised.value.errors, raised.value.errors
    assert message.lower() in " ".join(raised.value.errors[path]).lower()
    assert f"{path}: " in str(raised.value)


def test_healthy_report_with_a_finding_must_not_say_healthy() -> None:
    data = healthy_report_data()
    data["findings"] = broken_report_data()["findings"][:1]
    data["root_causes"] = ["upstream.outage"]
    with pytest.raises(ReportValidationError, match="verdict"):
        validate_report(data)


def test_causes_must_name_a_finding_and_never_loop() -> None:
    data = broken_report_data()
    data["findings"][1]["cause"] = "no.such:finding"
    with pytest.raises(ReportValidationError, match=r"findings\[1\]\.cause: No finding"):
        validate_report(data)
    data = broken_report_data()
    data["findings"][0]["cause"] = data["findings"][1]["key"]
    data["root_causes"].remove("upstream.outage")
    with pytest.raises(ReportValidationError, match="loops"):
        validate_report(data)


def test_root_causes_list_exactly_the_findings_without_a_cause() -> None:
    data = broken_report_data()
    data["root_causes"].pop()
    with pytest.raises(ReportValidationError, match="root_causes"):
        validate_report(data)


def test_a_scope_says_whether_it_was_verified() -> None:
    data = broken_report_data()
    del data["scopes"]["read:exchange"]["verified"]
    with pytest.raises(ReportValidationError, match=r"scopes\.read:exchange\.verified"):
        validate_report(data)


def test_error_is_a_diagnostics_error_and_lists_a_bounded_number_of_paths() -> None:
    with pytest.raises(DiagnosticsError) as raised:
        validate_report({"schema_version": 1})
    message = str(raised.value)
    assert message.startswith("invalid report: run_id: Missing data for required field.")
    assert "more" in message


@pytest.mark.parametrize("value", [None, [], "report"])
def test_not_an_object(value: Any) -> None:
    with pytest.raises(ReportValidationError, match="JSON object"):
        validate_report(value)


def test_schema_names_for_openapi() -> None:
    nested = {
        name: type(field.inner.schema if hasattr(field, "inner") else field.schema).__name__
        for name, field in ReportSchema().fields.items()
        if name in ("environments", "macros", "findings", "checks", "ticket_details", "redactions")
    }
    assert nested == {
        "environments": "EnvironmentSchema",
        "macros": "MacroSchema",
        "findings": "FindingSchema",
        "checks": "CheckSchema",
        "ticket_details": "TicketDetailsSchema",
        "redactions": "RedactionsSchema",
    }
    datasets = ReportSchema().fields["datasets"]
    assert type(datasets.value_field.schema).__name__ == "DatasetSchema"
