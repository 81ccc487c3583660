"""Scenario files: validation messages, defaults, built-ins and the app state."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from diagnostics import model
from diagnostics.catalogue import SCOPE_KEYS
from diagnostics.errors import DiagnosticsError
from diagnostics.simulator import (
    ScenarioError,
    builtin_scenarios,
    load_scenario,
    parse_scenario,
)

from .conftest import ORG

BUILTINS = (
    "api-manager-sandbox-only",
    "exchange-scope-missing",
    "healthy",
    "invalid-credentials",
    "large-organization",
    "macro-errors-missing-scope",
    "rate-limited-recovering",
    "stale-caches",
    "timeouts-one-environment",
    "upstream-outage",
)

# (case, yaml, key path in the message, line in the message)
INVALID = [
    ("unknown top-level key", "name: x\ncolour: blue\n", "colour", 2),
    (
        "unknown nested key",
        "name: x\nenvironments:\n  - {id: e1, nam: P}\n",
        "environments[0].nam",
        3,
    ),
    (
        "unknown fault key",
        "name: x\nfaults:\n  - {path: '^/', status: 500, tmes: 2}\n",
        "faults[0].tmes",
        3,
    ),
    ("unknown space key", "name: x\nspace:\n  key: OPS\n  sync: 3\n", "space.sync", 4),
    ("malformed now", 'name: x\nnow: "2026-13-01T10:00:00+11:00"\n', "now", 2),
    ("now without offset", 'name: x\nnow: "2026-11-23T10:00:00"\n', "now", 2),
    ("now as a date", "name: x\nnow: 2026-11-23\n", "now", 2),
    (
        "malformed cache date",
        "name: x\ncache:\n  api_manager: {last_success: yesterday}\n",
        "cache.api_manager.last_success",
        3,
    ),
    (
        "malformed render date",
        "name: x\nrenders:\n  - {macro: exchange-asset, page_id: '1', status: ok, at: soon}\n",
        "renders[0].at",
        3,
    ),
    (
        "unknown scope",
        "name: x\ngrants:\n  read:everything: [organization]\n",
        "grants.read:everything",
        3,
    ),
    (
        "unknown environment in grants",
        "name: x\ngrants:\n  read:exchange:\n    - organization\n    - env-qa\n",
        "grants.read:exchange[1]",
        5,
    ),
    ("unknown environment in data", "name: x\ndata:\n  env-qa: {apis: 1}\n", "data.env-qa", 3),
    (
        "unknown environment in faults",
        "name: x\nfaults:\n  - path: '^/cloudhub/'\n    status: 500\n    environment: env-qa\n",
        "faults[0].environment",
        5,
    ),
    (
        "bad regex",
        "name: x\nfaults:\n  - {path: '^/(unclosed', status: 500}\n",
        "faults[0].path",
        3,
    ),
    ("bad control plane", "name: x\ncontrol_plane: mars\n", "control_plane", 2),
    ("bad credentials", "name: x\ncredentials: maybe\n", "credentials", 2),
    (
        "bad environment type",
        "name: x\nenvironments:\n  - {id: e1, type: staging}\n",
        "environments[0].type",
        3,
    ),
    (
        "bad macro",
        "name: x\npages:\n  - page_id: '7'\n    macros: [{macro: jira-issue}]\n",
        "pages[0].macros[0].macro",
        4,
    ),
    (
        "bad mode",
        "name: x\nrenders:\n  - {macro: exchange-asset, mode: huge, page_id: '1', status: ok,"
        " at: '2026-11-23T10:00:00+11:00'}\n",
        "renders[0].mode",
        3,
    ),
    (
        "bad render status",
        "name: x\nrenders:\n  - {macro: exchange-asset, page_id: '1', status: broken,"
        " at: '2026-11-23T10:00:00+11:00'}\n",
        "renders[0].status",
        3,
    ),
    ("bad name", "description: d\nname: Bad_Name\n", "name", 2),
    (
        "sync interval below 1",
        "name: x\nspace: {sync_interval_hours: 0}\n",
        "space.sync_interval_hours",
        2,
    ),
    (
        "unknown dataset toggle",
        "name: x\nspace:\n  datasets_enabled: {crm: true}\n",
        "space.datasets_enabled.crm",
        3,
    ),
    ("unknown cached dataset", "name: x\ncache:\n  rovo: {}\n", "cache.rovo", 3),
    ("fault without status", "name: x\nfaults:\n  - {path: '^/'}\n", "faults[0]", 3),
    ("duplicate key", "name: x\nlatency_ms: 1\nlatency_ms: 2\n", "latency_ms", 3),
    ("negative latency", "name: x\nlatency_ms: -5\n", "latency_ms", 2),
]


@pytest.mark.parametrize(
    ("text", "path", "line"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_scenarios_name_the_key_and_the_line(text: str, path: str, line: int) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "bad.yaml")

    message = str(caught.value)
    assert message.startswith(f"bad.yaml, line {line}: {path}: "), message
    assert "\n" not in message and "Traceback" not in message
    assert caught.value.path == path and caught.value.line == line
    assert isinstance(caught.value, DiagnosticsError)


def test_missing_name_and_broken_yaml_are_reported_with_a_line() -> None:
    with pytest.raises(ScenarioError, match="missing required key 'name'"):
        parse_scenario("description: no name\n", "bad.yaml")
    with pytest.raises(ScenarioError, match=r"bad\.yaml, line 2: not valid YAML"):
        parse_scenario("name: x\nnow: a: b\n", "bad.yaml")
    with pytest.raises(ScenarioError, match=r"line 4: .*flow sequence started on line 3"):
        parse_scenario("name: x\ngrants:\n  read:exchange: [organization\n", "bad.yaml")
    with pytest.raises(ScenarioError, match="expected a mapping"):
        parse_scenario("- just\n- a list\n", "bad.yaml")


def test_defaults_are_healthy() -> None:
    scenario = parse_scenario("name: minimal\n")

    assert scenario.now is None and scenario.control_plane == "us"
    assert scenario.credentials == "valid" and scenario.latency_ms == 0 and scenario.faults == ()
    assert scenario.organization() == model.Organization(ORG, "Sparrow Logistics")
    assert scenario.environments() == [
        model.Environment("env-prod", "Production", "production"),
        model.Environment("env-sbx", "Sandbox", "sandbox"),
    ]
    assert all(scenario.granted(scope) for scope in SCOPE_KEYS)
    assert set(scenario.data) == {"env-prod", "env-sbx"}
    assert all(d.cloudhub_apps and d.deployments and d.apis for d in scenario.data.values())
    assert scenario.exchange_assets and all(a.group_id == ORG for a in scenario.exchange_assets)


def test_an_absent_scope_is_granted_nowhere_and_environment_grants_are_per_environment() -> None:
    scenario = parse_scenario("name: x\ngrants:\n  read:api_configuration: [env-sbx]\n")

    assert scenario.granted("read:api_configuration", "env-sbx")
    assert not scenario.granted("read:api_configuration", "env-prod")
    assert not scenario.granted("read:api_configuration")
    assert not scenario.granted("read:exchange", "env-sbx")


def test_environment_count_generates_numbered_environments() -> None:
    scenario = parse_scenario("name: big\nenvironments: 200\n")

    envs = scenario.environments()
    assert [e.id for e in envs[:2]] == ["env-001", "env-002"] and envs[-1].id == "env-200"
    assert envs[0].type == "production" and {e.type for e in envs[1:]} == {"sandbox"}
    assert len(scenario.data) == 200


def test_exchange_assets_as_a_list_keep_their_fields() -> None:
    scenario = parse_scenario(
        textwrap.dedent(
            """\
            name: x
            exchange_assets:
              - {assetId: orders-api, version: 2.0.1, name: Orders API}
              - {groupId: other-group, assetId: dates, type: raml-fragment}
            """
        )
    )

    first, second = scenario.exchange_assets
    assert (first.group_id, first.asset_id, first.version, first.type) == (
        ORG,
        "orders-api",
        "2.0.1",
        "rest-api",
    )
    assert (second.group_id, second.version, second.type) == (
        "other-group",
        "1.0.0",
        "raml-fragment",
    )


def test_absent_cache_means_refreshed_an_hour_before_now_with_endpoints_seeded() -> None:
    scenario = parse_scenario('name: x\nnow: "2026-11-23T10:00:00+11:00"\n')

    state = scenario.app_state()
    expected = scenario.now - timedelta(hours=1)
    assert set(state.cache) == {
        "exchange",
        "endpoints",
        "runtime_manager",
        "api_manager",
        "api_security_posture",
    }
    assert {e.last_success for e in state.cache.values()} == {expected}
    assert state.cache["endpoints"].asset_version is not None
    assert state.site_url == "https://sparrow.atlassian.net" and state.space.key == "OPS"


def test_present_cache_names_only_what_was_refreshed() -> None:
    scenario = parse_scenario(
        textwrap.dedent(
            """\
            name: x
            space: {key: ENG, sync_interval_hours: 6, datasets_enabled: {rovo: false}}
            site_url: https://acme.atlassian.net
            cache:
              runtime_manager:
                {last_success: "2026-11-21T01:00:00+11:00", last_attempt_failed: true}
            renders:
              - {macro: api-manager-instance, mode: security, page_id: 98304,
                 status: error, error: "403 from policies", at: "2026-11-23T09:55:00+11:00"}
            pages:
              - page_id: "98304"
                title: Runbook
                macros: [{macro: exchange-asset, mode: endpoints}]
            """
        )
    )

    state = scenario.app_state()
    assert list(state.cache) == ["runtime_manager"]
    assert state.cache["runtime_manager"].last_attempt_failed
    assert state.space == model.SpaceConfig("ENG", 6, {"rovo": False})
    assert not state.space.is_enabled("rovo")
    assert state.site_url == "https://acme.atlassian.net"
    (render,) = state.renders
    assert (render.page_id, render.mode, render.space_key, render.error) == (
        "98304",
        "security",
        "ENG",
        "403 from policies",
    )
    assert render.at.utcoffset() == timedelta(hours=11)
    assert state.pages == (
        model.MacroPage(
            "98304", "Runbook", "ENG", (model.MacroPlacement("exchange-asset", "endpoints"),)
        ),
    )


def test_every_builtin_scenario_loads() -> None:
    listed = builtin_scenarios()

    assert [name for name, _ in listed] == list(BUILTINS)
    for name, description in listed:
        scenario = load_scenario(name)
        assert scenario.name == name and description
        assert scenario.now is not None and scenario.now.tzinfo is not None
        scenario.app_state()


def test_builtins_set_up_the_problem_they_are_named_after() -> None:
    assert load_scenario("invalid-credentials").credentials == "invalid"
    sandbox_only = load_scenario("api-manager-sandbox-only")
    assert sandbox_only.granted("read:api_configuration", "env-sbx")
    assert not sandbox_only.granted("read:api_configuration", "env-prod")
    assert not load_scenario("exchange-scope-missing").granted("read:exchange")
    assert not load_scenario("macro-errors-missing-scope").granted("read:api_policies", "env-prod")
    assert load_scenario("upstream-outage").now.weekday() < 5
    large = load_scenario("large-organization")
    assert len(large.environments()) == 100 and large.latency_ms == 20
    assert all(d.apis for d in large.data.values())
    stale = load_scenario("stale-caches").app_state()
    assert (
        "endpoints" not in stale.cache and stale.cache["api_security_posture"].last_attempt_failed
    )


def test_load_scenario_reads_files_and_rejects_unknown_names(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: from-a-file\nenvironments: 3\n", encoding="utf-8")

    assert load_scenario(str(path)).name == "from-a-file"
    with pytest.raises(ScenarioError, match="no such built-in scenario"):
        load_scenario("no-such-scenario")
    with pytest.raises(ScenarioError, match=r"mine\.yaml, line 1: name"):
        path.write_text("name: Not Valid\n", encoding="utf-8")
        load_scenario(str(path))
