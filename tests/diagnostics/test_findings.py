"""Findings fold under their root causes: the chain holds, owners follow it, counts are made once."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from diagnostics.findings import (
    Check,
    CheckStatus,
    Finding,
    Owner,
    Verdict,
    arrange_findings,
    owner_label,
    people_time,
)
from diagnostics.render import render
from diagnostics.simulator import load_scenario
from tests.diagnostics.test_engine_scenarios import run_scenario


def finding(key: str, status: str = "fail", cause: str | None = None, **kw: Any) -> Finding:
    rule, _, subject = key.partition(":")
    return Finding(
        id=rule,
        subject=subject,
        status=status,
        title=f"title of {key}",
        detail="why",
        remediation=f"fix {key}",
        owner=kw.pop("owner", "customer_admin"),
        cause=cause,
        **kw,
    )


def test_roots_first_worst_first_with_their_consequences_after_them() -> None:
    found = [
        finding("cache.stale:x", "warn"),
        finding("macro.error:m", "fail", cause="dataset.partial:a", macros=[0]),
        finding("dataset.partial:a", "warn", cause="scope.partial:s", datasets=["a"]),
        finding("scope.partial:s", "warn", scopes=["s"]),
    ]
    arranged = arrange_findings(found, [Check("c", "C", CheckStatus.PASS, 0.1)])
    assert arranged.root_causes == ["scope.partial:s", "cache.stale:x"]  # it causes a FAIL
    assert [f.key for f in arranged.findings] == [
        "scope.partial:s",
        "dataset.partial:a",
        "macro.error:m",
        "cache.stale:x",
    ]
    assert arranged.verdict is Verdict.BROKEN
    assert arranged.summary == {
        "fail": 1,
        "warn": 3,
        "pass": 1,
        "root_causes": 2,
        "consequences": 2,
    }
    root = arranged.findings[0]
    assert root.affects == {"findings": 2, "datasets": 1, "scopes": 1, "macros": 1}
    assert {f.root for f in arranged.findings[:3]} == {"scope.partial:s"}


def test_consequences_follow_the_cause_chain_level_by_level_worst_first() -> None:
    found = [
        finding("a:1", "warn", cause="r:1"),
        finding("a:2", "warn", cause="a:1"),
        finding("b:1", "fail", cause="r:1"),
        finding("b:2", "warn", cause="b:1"),
        finding("a:3", "fail", cause="a:1"),
        finding("r:1", "warn"),
        finding("c:1", "warn", cause="r:1"),
    ]
    arranged = arrange_findings(found)
    # direct consequences first (worst first, then rule order), then theirs in their causes' order
    assert [f.key for f in arranged.findings] == ["r:1", "b:1", "a:1", "c:1", "b:2", "a:3", "a:2"]
    root = arranged.findings[0]
    assert root.group_status == "fail" and root.to_report()["group_status"] == "fail"
    assert "group_status" not in arranged.findings[1].to_report()


def test_owner_follows_the_root_cause_and_its_fix_is_not_repeated() -> None:
    found = [
        finding("upstream.outage", owner="mulesoft"),
        finding("dataset.none:rovo", cause="upstream.outage", after_fix="reload the page."),
        finding(
            "cache.stale_fallback:x", "warn", cause="upstream.outage", owner="mulesight_support"
        ),
    ]
    arranged = arrange_findings(found)
    assert {f.owner for f in arranged.findings} == {Owner.MULESOFT}
    rovo = arranged.findings[1]
    assert rovo.remediation == (
        "Follows from “title of upstream.outage”: fix that first, then reload the page."
    )
    assert "fix upstream.outage" not in " ".join(f.remediation for f in arranged.findings[1:])


def test_a_missing_cause_or_a_loop_leaves_a_root_cause() -> None:
    found = [
        finding("a:1", cause="no.such:finding"),
        finding("b:1", cause="c:1"),
        finding("c:1", cause="b:1"),
    ]
    arranged = arrange_findings(found)
    assert set(arranged.root_causes) == {"a:1", "c:1"} or set(arranged.root_causes) == {
        "a:1",
        "b:1",
    }
    for f in arranged.findings:
        seen = {f.key}
        while f.cause is not None:
            assert f.cause not in seen
            seen.add(f.cause)
            f = next(x for x in arranged.findings if x.key == f.cause)


def test_nothing_found_is_healthy() -> None:
    arranged = arrange_findings([])
    assert (arranged.verdict, arranged.root_causes, arranged.summary["fail"]) == (
        Verdict.HEALTHY,
        [],
        0,
    )


def test_statuses_are_enums_and_bad_values_are_refused() -> None:
    assert finding("x:y").status == "fail"
    with pytest.raises(ValueError):
        finding("x:y", status="FAIL")
    with pytest.raises(ValueError):
        finding("x:y", owner="nobody")


def test_words_for_the_reader() -> None:
    assert owner_label("customer_admin", "admin") == "You (Anypoint / Confluence admin)"
    assert owner_label("customer_admin") == "The customer's Anypoint / Confluence admin"
    assert people_time("2026-11-22T22:55:31.674583+00:00", "Australia/Melbourne") == (
        "23 Nov 2026 09:55 AEDT"
    )
    assert (
        people_time("2026-06-01T00:00:00+00:00", "Australia/Melbourne") == "01 Jun 2026 10:00 AEST"
    )


def test_a_crashed_rule_keeps_its_error_and_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from diagnostics import engine, rules

    def broken(_ctx: Any) -> list[Finding]:
        raise KeyError("no such dataset")

    monkeypatch.setattr(engine, "RULES", (*rules.RULES, ("broken", "A broken rule", broken)))
    with caplog.at_level(logging.ERROR, logger="diagnostics.engine"):
        report = run_scenario(load_scenario("healthy"))
    check = next(c for c in report.data["checks"] if c["id"] == "broken")
    assert check["status"] == "error"
    assert check["error"] == "KeyError: 'no such dataset'"
    assert "the check itself failed: KeyError" in check["title"]
    # With the app's log redaction installed (any app test earlier in the process), the traceback
    # travels as redacted text instead of exc_info.
    logged = [
        r
        for r in caplog.records
        if r.name == "diagnostics.engine" and (r.exc_info or "KeyError" in (r.exc_text or ""))
    ]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR and "broken" in logged[0].message
    assert report.verdict == "healthy"  # the other checks still ran
    assert "[✗] A broken rule (the check itself failed: KeyError" in render(report, "text")
    assert "crashed" in render(report, "text").split("A broken rule", 1)[1].splitlines()[0]


@pytest.mark.parametrize("name", ["invalid-credentials", "upstream-outage"])
def test_unverified_scopes_could_not_be_checked_and_have_a_cause(name: str) -> None:
    data = run_scenario(load_scenario(name)).data
    for key, scope in data["scopes"].items():
        assert scope["verified"] is False
        f = next(
            f for f in data["findings"] if f["scopes"] == [key] and f["id"].startswith("scope")
        )
        assert f["id"] == "scope.unverified" and "could not be checked" in f["title"]
        assert f["cause"] == data["root_causes"][0]


def test_timeouts_name_dataset_environment_and_wait() -> None:
    data = run_scenario(load_scenario("timeouts-one-environment")).data
    assert data["root_causes"] == ["anypoint.unreachable:env-sbx"]
    root = data["findings"][0]
    assert root["title"].startswith(
        "Runtime Manager and API Manager in Sandbox (env-sbx) did not answer (waited "
    )
    assert "timed out after" in root["detail"]
    assert "see the upstream finding" not in str(data["findings"])
