"""One planner, two plans: a diagnosis samples, a refresh crawl takes every listed item."""

from __future__ import annotations

from diagnostics.catalogue import PROBES_BY_KEY
from diagnostics.model import Environment
from diagnostics.planner import ProbePlan, ProbeTask, in_plan_order
from diagnostics.probes import ProbeRecord

ORG = "org-1"
INSTANCES = PROBES_BY_KEY["api_manager.instances"]
APIS = [{"id": 1}, {"id": 2}, {"id": 3}]
PROD, SBX = (
    Environment("env-prod", "Production", "production"),
    Environment("env-sbx", "Sandbox", "sandbox"),
)


def listed(task: ProbeTask, items: list) -> ProbeRecord:
    return ProbeRecord(task.probe, task.environment_id, task.path, "ok", items=items)


def instance_task(plan: ProbePlan) -> ProbeTask:
    return ProbeTask(
        INSTANCES, {"org_id": ORG, "env_id": "env-prod", "page_size": "20"}, plan.crawl
    )


def test_a_diagnosis_samples_one_instance_and_reads_one_page() -> None:
    plan = ProbePlan(ORG)
    follow, _ = plan.after(instance_task(plan), listed(instance_task(plan), APIS))
    assert sorted({t.probe.key for t in follow}) == [
        "api_security_posture.contracts",
        "api_security_posture.policies",
        "api_security_posture.tiers",
    ]
    assert {t.bindings["api_id"] for t in follow} == {"1"}
    assert not any(t.crawl for t in follow)
    assert instance_task(plan).params == {"offset": "0", "limit": "20"}


def test_a_crawl_visits_every_instance_and_plans_only_crawled_probes() -> None:
    plan = ProbePlan(ORG, dataset_filter=("api_security_posture",), crawl=True)
    tasks, skipped = plan.initial()
    assert [t.probe.key for t in tasks] == ["diagnostics.environments"]  # no token, me, ...
    assert skipped == []
    follow, _ = plan.after(instance_task(plan), listed(instance_task(plan), APIS))
    assert sorted(t.bindings["api_id"] for t in follow) == [
        "1",
        "1",
        "1",
        "2",
        "2",
        "2",
        "3",
        "3",
        "3",
    ]
    assert all(t.crawl and t.parent_item in APIS for t in follow)


def test_given_environments_are_crawled_without_listing_them() -> None:
    plan = ProbePlan(
        ORG, dataset_filter=("api_manager",), crawl=True, environments_given=[PROD, SBX]
    )
    tasks, _ = plan.initial()
    assert [(t.probe.key, t.environment_id) for t in tasks] == [
        ("api_manager.instances", "env-prod"),
        ("api_manager.instances", "env-sbx"),
    ]


def test_records_come_in_plan_order_whatever_order_they_finished_in() -> None:
    def rec(key: str, env: str | None) -> ProbeRecord:
        return ProbeRecord(PROBES_BY_KEY[key], env, "/", "ok")

    finished = [
        rec("api_manager.instances", "env-sbx"),
        rec("diagnostics.token", None),
        rec("api_manager.instances", "env-prod"),
        rec("runtime_manager.rtf_targets", None),
    ]
    plan = ProbePlan(ORG)
    ordered = in_plan_order(finished, plan.catalogue, [PROD, SBX])
    assert [(r.probe.key, r.environment_id) for r in ordered] == [
        ("diagnostics.token", None),
        ("runtime_manager.rtf_targets", None),
        ("api_manager.instances", "env-prod"),
        ("api_manager.instances", "env-sbx"),
    ]


def test_an_environments_probes_are_planned_together() -> None:
    plan = ProbePlan(ORG, dataset_filter=("runtime_manager", "api_manager"), crawl=True)
    tasks, _ = plan.initial()
    listing = next(t for t in tasks if t.probe.provides == "environments")
    envs = [{"id": "env-prod", "name": "Production"}, {"id": "env-sbx", "name": "Sandbox"}]
    follow, _ = plan.after(listing, listed(listing, envs))
    assert [(t.environment_id, t.probe.key) for t in follow] == [
        ("env-prod", "runtime_manager.cloudhub_apps"),
        ("env-prod", "runtime_manager.deployments"),
        ("env-prod", "api_manager.instances"),
        ("env-sbx", "runtime_manager.cloudhub_apps"),
        ("env-sbx", "runtime_manager.deployments"),
        ("env-sbx", "api_manager.instances"),
    ]
