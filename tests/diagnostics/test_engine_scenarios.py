"""Every rule of report.md, exercised end to end on the built-in scenarios (simulated Anypoint)."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest
import requests

from diagnostics.anypoint import resolve_base_url
from diagnostics.engine import RunInput, RunOptions, run_diagnostics
from diagnostics.errors import DestinationRefused, DestinationRefusedError
from diagnostics.model import Connection
from diagnostics.report import Report
from diagnostics.simulator import Scenario, load_scenario, parse_scenario, simulated_session

FAST = RunOptions(timeout=(0.2, 0.3))
CANARY_SECRET = "canary-client-secret-9f2b7c1d"


def run_scenario(
    scenario: Scenario, options: RunOptions = FAST, secret: str = CANARY_SECRET
) -> Report:
    base_url = resolve_base_url(scenario.control_plane)
    connection = Connection(
        client_id="test-client",
        client_secret=secret,
        organization_id=scenario.organization().id,
        control_plane=scenario.control_plane,
        base_url=base_url,
    )
    run = RunInput(
        connection=connection,
        state=scenario.app_state(),
        now=scenario.now,
        session=simulated_session(scenario, base_url),
    )
    return run_diagnostics(run, options)


@pytest.fixture(scope="module")
def report_of() -> Callable[[str], dict[str, Any]]:
    cache: dict[str, dict[str, Any]] = {}

    def get(name: str) -> dict[str, Any]:
        if name not in cache:
            cache[name] = dict(run_scenario(load_scenario(name)).data)
        return cache[name]

    return get


def finding(report: dict[str, Any], key: str) -> dict[str, Any]:
    matches = [f for f in report["findings"] if f["key"] == key]
    assert matches, f"no finding {key}: {[f['key'] for f in report['findings']]}"
    return matches[0]


def test_healthy(report_of) -> None:
    r = report_of("healthy")
    assert r["verdict"] == "healthy"
    assert r["findings"] == []
    assert {d["coverage"] for d in r["datasets"].values()} == {"full"}
    assert {s["status"] for s in r["scopes"].values()} == {"full"}
    assert r["suggested_severity"] == "Sev 4"
    assert r["datasets"]["diagnostics"]["freshness"] == "not_applicable"


def test_invalid_credentials_blocks_everything_through_the_token(report_of) -> None:
    r = report_of("invalid-credentials")
    assert r["verdict"] == "broken"
    token = r["datasets"]["diagnostics"]["probes"][0]
    assert (token["probe"], token["outcome"], token["status"]) == (
        "diagnostics.token",
        "forbidden",
        401,
    )
    for key in ("exchange", "runtime_manager", "api_manager", "api_security_posture"):
        d = r["datasets"][key]
        assert (d["coverage"], d["reason"]) == ("none", "auth_blocked")
        assert {p["outcome"] for p in d["probes"]} == {"skipped"}
    creds = finding(r, "credentials.invalid")
    assert creds["owner"] == "customer_admin" and "Connected Apps" in creds["remediation"]
    assert finding(r, "dataset.none:api_manager")["cause"] == "credentials.invalid"
    assert r["suggested_severity"] == "Sev 1"


def test_scope_granted_on_sandbox_only(report_of) -> None:
    r = report_of("api-manager-sandbox-only")
    api = r["datasets"]["api_manager"]
    assert (api["coverage"], api["reason"]) == ("partial", "auth_blocked")
    assert api["failed"]["forbidden"] == [
        p["path"] for p in api["probes"] if p["environment_id"] == "env-prod"
    ]
    scope = r["scopes"]["read:api_configuration"]
    assert (scope["status"], scope["missing_in"]) == ("partial", ["env-prod"])
    assert "api_manager" in scope["used_by"]
    # derived datasets follow their sources
    assert r["datasets"]["ops_dashboard"]["coverage"] == "partial"
    # the failing macro points at its cause: the dataset and the missing scope
    macro_findings = [f for f in r["findings"] if f["id"] == "macro.error"]
    assert macro_findings
    assert all(f["root"] == "scope.partial:read:api_configuration" for f in macro_findings)
    assert "read:api_configuration" in macro_findings[0]["detail"]
    assert (
        "Production (env-prod)" in finding(r, "scope.partial:read:api_configuration")["remediation"]
    )
    assert r["suggested_severity"] == "Sev 2"
    assert r["verdict"] == "broken"


def test_empty_exchange_search_counts_as_forbidden(report_of) -> None:
    r = report_of("exchange-scope-missing")
    search = r["datasets"]["exchange"]["probes"][0]
    assert (search["outcome"], search["status"]) == ("forbidden", 200)
    assert (r["datasets"]["exchange"]["coverage"], r["datasets"]["exchange"]["reason"]) == (
        "none",
        "auth_blocked",
    )
    assert r["datasets"]["endpoints"]["coverage"] == "none"
    scope = r["scopes"]["read:exchange"]
    assert (scope["status"], scope["missing_in"]) == ("none", ["organization"])
    assert "probably missing" in finding(r, "scope.missing:read:exchange")["detail"]


def test_upstream_outage_is_mulesofts(report_of) -> None:
    r = report_of("upstream-outage")
    up = finding(r, "upstream.outage")
    assert up["owner"] == "mulesoft" and "status.mulesoft.com" in up["remediation"]
    assert r["upstream"]["suspected"] is True
    assert r["upstream"]["status_page"] == "https://status.mulesoft.com"
    d = r["datasets"]["api_manager"]
    assert (d["coverage"], d["reason"]) == ("none", "unreachable")
    dataset_finding = finding(r, "dataset.none:api_manager")
    assert (dataset_finding["owner"], dataset_finding["cause"]) == ("mulesoft", "upstream.outage")
    assert all(p["attempts"] >= 2 for p in r["datasets"]["diagnostics"]["probes"][1:])
    assert r["suggested_severity"] == "Sev 1"


def test_rate_limited_then_recovering(report_of) -> None:
    r = report_of("rate-limited-recovering")
    assert r["verdict"] == "healthy"
    attempts = [p["attempts"] for d in r["datasets"].values() for p in d["probes"]]
    assert max(attempts) > 1, "the retries are visible in the probe records"


def test_timeouts_in_one_environment(report_of) -> None:
    r = report_of("timeouts-one-environment")
    rm = r["datasets"]["runtime_manager"]
    assert (rm["coverage"], rm["reason"]) == ("partial", "unreachable")
    timed_out = [p for p in rm["probes"] if p["outcome"] == "timeout"]
    assert timed_out and {p["environment_id"] for p in timed_out} == {"env-sbx"}
    assert rm["failed"]["timeout"]
    assert r["verdict"] == "degraded"
    assert r["upstream"]["suspected"] is False  # partial, not none: not an outage


def test_stale_expired_and_unseeded_caches(report_of) -> None:
    r = report_of("stale-caches")
    freshness = {k: d["freshness"] for k, d in r["datasets"].items()}
    assert freshness["runtime_manager"] == "expired"
    assert freshness["api_manager"] == "stale"
    assert freshness["endpoints"] == "never"
    assert freshness["ops_dashboard"] == "expired"  # worst of its sources
    assert r["datasets"]["api_security_posture"]["stale_fallback"] is True
    assert finding(r, "cache.expired:runtime_manager")["status"] == "fail"
    assert finding(r, "cache.never:endpoints")["status"] == "warn"
    assert finding(r, "cache.stale_fallback:api_security_posture")["status"] == "warn"


def test_macro_errors_caused_by_a_missing_scope(report_of) -> None:
    r = report_of("macro-errors-missing-scope")
    scope = r["scopes"]["read:api_policies"]
    assert scope["status"] == "none"
    errors = [f for f in r["findings"] if f["id"] == "macro.error"]
    assert errors and all(f["root"] == "scope.missing:read:api_policies" for f in errors)
    assert all(r["macros"][i]["status"] == "error" for f in errors for i in f["macros"])


def test_not_rendered_macros_are_reported_without_a_finding(report_of) -> None:
    r = report_of("stale-caches")
    assert any(m["status"] == "not_rendered" for m in r["macros"])
    assert not [f for f in r["findings"] if f["id"] == "macro.not_rendered"]


SCENARIO_ALL_HANG = """
name: all-hang
now: "2026-11-23T10:00:00+11:00"
faults:
  - {path: "^/(accounts/api/organizations|exchange|cloudhub|amc|runtimefabric|apimanager)", timeout: true}
"""


def test_the_run_keeps_its_deadline_when_everything_hangs() -> None:
    options = RunOptions(deadline_s=1.0, timeout=(0.2, 5.0))
    r = run_scenario(parse_scenario(SCENARIO_ALL_HANG, "all-hang.yaml"), options).data
    outcomes = {p["outcome"] for d in r["datasets"].values() for p in d["probes"]}
    assert "timeout" in outcomes
    assert set(r["datasets"]) >= {"exchange", "api_manager", "rovo"}
    assert r["verdict"] == "broken"


SCENARIO_DISABLED = """
name: disabled-exchange
now: "2026-11-23T10:00:00+11:00"
space: {key: OPS, datasets_enabled: {exchange: false}}
"""


def test_a_disabled_dataset_is_a_warning_not_a_failure() -> None:
    r = run_scenario(parse_scenario(SCENARIO_DISABLED, "disabled.yaml")).data
    assert (r["datasets"]["exchange"]["coverage"], r["datasets"]["exchange"]["reason"]) == (
        "none",
        "disabled",
    )
    assert finding(r, "dataset.disabled:exchange")["status"] == "warn"
    assert r["verdict"] == "degraded"


def test_dataset_filter_runs_only_what_was_asked() -> None:
    options = RunOptions(timeout=(0.2, 0.3), datasets=("api_manager",))
    r = run_scenario(load_scenario("healthy"), options).data
    assert r["datasets"]["api_manager"]["coverage"] == "full"
    assert r["datasets"]["exchange"]["reason"] == "not_selected"
    assert not [f for f in r["findings"] if "exchange" in f["datasets"]]


SCENARIO_LEAKY = """
name: leaky
now: "2026-11-23T10:00:00+11:00"
faults:
  - path: "^/cloudhub/"
    status: 500
    body: {message: "proxy said Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl and client_secret=canary-leak-77aa"}
"""


@pytest.mark.parametrize("fmt", ["json", "markdown", "html", "text"])
def test_no_secret_survives_in_any_output(fmt: str) -> None:
    from diagnostics.render import render

    report = run_scenario(parse_scenario(SCENARIO_LEAKY, "leaky.yaml"))
    out = render(report, fmt)
    for canary in (CANARY_SECRET, "canary-leak-77aa", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0"):
        assert canary not in out
    assert report.data["redactions"]["count"] >= 1
    # look-alike non-secrets survive
    assert report.data["organization_id"] in out
    if fmt != "text":  # the terminal shows environment names only
        assert "env-prod" in out


class _RefusingAdapter(requests.adapters.BaseAdapter):
    """A transport whose outbound policy refuses every host (as the service's guarded session)."""

    def send(self, request: Any, **kwargs: Any) -> Any:
        raise DestinationRefused("10.0.0.5", "10.0.0.5 is a private address")

    def close(self) -> None:
        pass


def test_a_refused_destination_is_one_root_cause_not_a_crash(caplog) -> None:
    session = requests.Session()
    session.mount("https://", _RefusingAdapter())
    connection = Connection(
        client_id="id",
        client_secret="s3cret-value",
        control_plane="custom",
        base_url="https://anypoint.internal.example",
        organization_id="org-1",
    )
    scenario = load_scenario("healthy")
    run = RunInput(connection, state=scenario.app_state(), now=scenario.now, session=session)
    report = dict(run_diagnostics(run, FAST).data)
    assert report["root_causes"] == ["anypoint.destination_refused"]
    refused = finding(report, "anypoint.destination_refused")
    assert refused["owner"] == "customer_admin"
    assert "10.0.0.5 is a private address" in refused["detail"]
    assert all(f["root"] == "anypoint.destination_refused" for f in report["findings"])
    assert report["upstream"]["suspected"] is False
    assert "crashed" not in caplog.text


def test_the_refusal_keeps_its_host_and_reason_across_processes() -> None:
    error = DestinationRefusedError("GET /x: refused", host="h", reason="r", attempts=1)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.host, copy.reason, copy.attempts) == (
        DestinationRefusedError,
        "h",
        "r",
        1,
    )
