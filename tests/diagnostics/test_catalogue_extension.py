"""Adding a probe is one catalogue entry plus its simulated answer: no other code changes.

The fixture declares a CloudHub alerts probe (per environment, guarded by ``read:applications``)
and the simulated Anypoint's answer to its path. The same planner, runner, evaluation, rules and
report then take it in: it is planned for every environment, run, counted in the coverage of its
dataset and scope, reported with its path, and crawled into a refresh's snapshots.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from diagnostics.anypoint import AnypointClient, resolve_base_url
from diagnostics.catalogue import CATALOGUE, Catalogue, Dataset, Payload, Probe
from diagnostics.crawl import crawl_datasets
from diagnostics.engine import RunInput, RunOptions, run_diagnostics
from diagnostics.evaluation import evaluate_datasets, evaluate_scopes
from diagnostics.model import Connection
from diagnostics.planner import ProbePlan
from diagnostics.probes import ProbeRecord
from diagnostics.render import render
from diagnostics.report import Report
from diagnostics.simulator import (
    Answer,
    Scenario,
    SimRequest,
    SimResponse,
    Simulation,
    json_answer,
    parse_scenario,
    simulated_session,
)

ALERTS_PATH = "/cloudhub/api/v2/alerts"
SCENARIO = """
name: alerts
now: "2026-11-23T10:00:00+11:00"
environments:
  - {id: env-prod, name: Production, type: production}
  - {id: env-sbx, name: Sandbox, type: sandbox}
"""
# Only the new path is refused, and only in Production: whatever changes is the new probe's doing.
REFUSED = """
faults:
  - {path: "^/cloudhub/api/v2/alerts$", environment: env-prod, status: 403,
     body: {message: "You do not have permission to access this resource"}}
"""


def read_alerts(payload: Any) -> list[dict[str, Any]]:
    return [dict(item) for item in payload["data"]]


ALERTS = Probe(
    "runtime_manager.alerts",
    "runtime_manager",
    "CloudHub alerts",
    "GET",
    ALERTS_PATH,
    "environment",
    scope="read:applications",
    depends_on=("diagnostics.environments",),
    headers=(("X-ANYPNT-ORG-ID", "{org_id}"), ("X-ANYPNT-ENV-ID", "{env_id}")),
    payload=Payload(key="data", read=read_alerts, kind="alert"),
    denial="403",
)


def answer_alerts(sim: Simulation, req: SimRequest) -> SimResponse:
    env_id = req.headers.get("X-ANYPNT-ENV-ID") or ""
    if (refused := sim.refusal(req, "read:applications", env_id)) is not None:
        return refused
    alerts = [{"id": f"{env_id}-cpu", "name": "CPU above 80%", "severity": "WARNING"}]
    return json_answer(200, {"data": alerts, "total": len(alerts)})


ALERTS_ANSWER = Answer("GET", ALERTS_PATH, answer_alerts)


@pytest.fixture
def catalogue() -> Catalogue:
    return CATALOGUE.with_entries(ALERTS)


def run(scenario: Scenario, catalogue: Catalogue) -> dict[str, Any]:
    base_url = resolve_base_url(scenario.control_plane)
    connection = Connection(
        "test-client", "test-secret", scenario.organization().id, scenario.control_plane, base_url
    )
    session = simulated_session(scenario, base_url, answers=[ALERTS_ANSWER])
    report = run_diagnostics(
        RunInput(connection, scenario.app_state(), scenario.now, session),
        RunOptions(timeout=(0.2, 0.3), catalogue=catalogue),
    )
    return dict(report.data)


def alert_probes(report: dict[str, Any]) -> list[dict[str, Any]]:
    probes = report["datasets"]["runtime_manager"]["probes"]
    return sorted(
        (p for p in probes if p["probe"] == ALERTS.key), key=lambda p: p["environment_id"]
    )


def test_the_new_probe_is_planned_for_every_environment(catalogue) -> None:
    plan = ProbePlan(organization_id="org-1", catalogue=catalogue)
    tasks, _ = plan.initial()
    (token,) = tasks  # everything waits for the token
    environments = next(p for p in catalogue.probes if p.provides == "environments")
    follow, _ = plan.after(token, _answered(token.probe))
    env_task = next(t for t in follow if t.probe == environments)
    follow, _ = plan.after(env_task, _answered(environments, [{"id": "e1"}, {"id": "e2"}]))
    alerts = [t for t in follow if t.probe == ALERTS]
    assert [(t.environment_id, t.path, t.headers["X-ANYPNT-ENV-ID"]) for t in alerts] == [
        ("e1", ALERTS_PATH, "e1"),
        ("e2", ALERTS_PATH, "e2"),
    ]


def test_the_new_probe_is_run_evaluated_and_reported(catalogue) -> None:
    report = run(parse_scenario(SCENARIO), catalogue)

    assert [(p["environment_id"], p["outcome"], p["path"]) for p in alert_probes(report)] == [
        ("env-prod", "ok", ALERTS_PATH),
        ("env-sbx", "ok", ALERTS_PATH),
    ]
    assert report["datasets"]["runtime_manager"]["coverage"] == "full"
    assert ALERTS_PATH in report["scopes"]["read:applications"]["validated_by"]
    assert report["verdict"] == "healthy"


def test_a_refused_new_probe_changes_coverage_scope_and_findings(catalogue) -> None:
    scenario = parse_scenario(SCENARIO + REFUSED)

    before = run(scenario, CATALOGUE)
    after = run(scenario, catalogue)

    assert before["datasets"]["runtime_manager"]["coverage"] == "full"  # the path is unused
    assert [(p["environment_id"], p["outcome"]) for p in alert_probes(after)] == [
        ("env-prod", "forbidden"),
        ("env-sbx", "ok"),
    ]
    runtime = after["datasets"]["runtime_manager"]
    assert (runtime["coverage"], runtime["reason"]) == ("partial", "auth_blocked")
    assert runtime["failed"]["forbidden"] == [ALERTS_PATH]
    scope = after["scopes"]["read:applications"]
    assert (scope["status"], scope["missing_in"]) == ("partial", ["env-prod"])
    assert after["verdict"] == "degraded"
    assert any("runtime_manager" in f["datasets"] for f in after["findings"])
    assert ALERTS_PATH in render_markdown(after)


def test_the_new_probe_is_crawled_into_its_dataset(catalogue) -> None:
    scenario = parse_scenario(SCENARIO)
    session = simulated_session(scenario, answers=[ALERTS_ANSWER])
    client = AnypointClient(Connection("cid", "secret", scenario.org.id), session=session)

    result = crawl_datasets(client, scenario.org.id, ["runtime_manager"], catalogue=catalogue)

    for env in ("env-prod", "env-sbx"):
        snapshot = result.snapshot("runtime_manager", env, ALERTS.key)
        assert snapshot is not None and snapshot.outcome == "ok"
        assert snapshot.kind == "alert"
        assert [a["id"] for a in snapshot.items] == [f"{env}-cpu"]
    assert result.coverage == {"runtime_manager": "full"}
    assert result.snapshot("runtime_manager", "env-prod", ALERTS.key) is not None
    # the default catalogue crawls no such thing
    default = crawl_datasets(client, scenario.org.id, ["runtime_manager"])
    assert default.snapshot("runtime_manager", "env-prod", ALERTS.key) is None


def render_markdown(data: dict[str, Any]) -> str:
    return render(Report(data), "markdown")


def _answered(probe: Probe, items: list[dict[str, Any]] | None = None) -> ProbeRecord:
    return ProbeRecord(probe, None, probe.path, "ok", status=200, items=items)


def test_a_new_dataset_is_planned_crawled_and_evaluated() -> None:
    """A dataset is one more entry too (the report's eight keys are fixed by its contract, so
    this one stops short of the report)."""
    alerts_dataset = Dataset(
        "alerts", "Alerts", "CloudHub alerts per environment", "Alert macros show nothing."
    )
    probe = replace(ALERTS, key="alerts.list", dataset="alerts")
    catalogue = CATALOGUE.with_entries(alerts_dataset, probe)
    scenario = parse_scenario(SCENARIO + REFUSED)
    session = simulated_session(scenario, answers=[ALERTS_ANSWER])
    client = AnypointClient(Connection("cid", "secret", scenario.org.id), session=session)

    assert "alerts" in catalogue.crawled_datasets()
    crawl = crawl_datasets(client, scenario.org.id, ["alerts"], catalogue=catalogue)
    assert [(s.environment_id, s.outcome) for s in crawl.for_dataset("alerts")] == [
        ("env-prod", "forbidden"),
        ("env-sbx", "ok"),
    ]
    assert (crawl.coverage, crawl.reasons) == ({"alerts": "partial"}, {"alerts": "auth_blocked"})

    results = evaluate_datasets(crawl.records, scenario.app_state(), scenario.now, catalogue)
    assert (results["alerts"].coverage, results["alerts"].reason) == ("partial", "auth_blocked")
    scopes = evaluate_scopes(crawl.records, catalogue)
    assert scopes["read:applications"].missing_in == ["env-prod"]
