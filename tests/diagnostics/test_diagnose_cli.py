"""`mulesight diagnose`: formats, exit codes, bad input, and --live against `mulesight simulate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from diagnostics.commands import register_engine_commands
from diagnostics.report_schema import validate_report
from diagnostics.simulator import SimulatorServer, load_scenario

cli = register_engine_commands()


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["diagnose", *args], env=env)


@pytest.mark.parametrize(
    ("scenario", "code"),
    [
        ("healthy", 0),
        ("stale-caches", 3),
        ("api-manager-sandbox-only", 3),
        ("invalid-credentials", 3),
    ],
)
def test_exit_code_follows_the_verdict(scenario: str, code: int) -> None:
    result = invoke("--scenario", scenario, "--format", "json")
    assert result.exit_code == code, result.output
    assert validate_report(json.loads(result.stdout))["verdict"]


def test_degraded_exits_4(tmp_path: Path) -> None:
    text = "name: sbx-off\nnow: '2026-11-23T10:00:00+11:00'\nspace: {datasets_enabled: {exchange: false}}\n"
    (tmp_path / "s.yaml").write_text(text)
    assert invoke("--scenario", str(tmp_path / "s.yaml")).exit_code == 4


@pytest.mark.parametrize(
    ("fmt", "marker"),
    [
        ("json", '"schema_version": 1'),
        ("markdown", "# "),
        ("html", "<!DOCTYPE html>"),
        ("text", "✗"),
        ("ticket", "h3. (x) MuleSight diagnostics: Broken"),
    ],
)
def test_every_format(fmt: str, marker: str) -> None:
    result = invoke("--scenario", "api-manager-sandbox-only", "--format", fmt)
    assert marker in result.stdout
    assert "read:api_configuration" in result.stdout


def test_ticket_format_is_a_short_jira_summary() -> None:
    result = invoke("--scenario", "invalid-credentials", "--format", "ticket")
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert len(lines) <= 20
    assert lines[2] == (
        "h4. 1. (x) FAIL: Anypoint rejected the connected app's client id or secret"
    )
    assert "*Who must act:* The customer's Anypoint / Confluence admin" in result.stdout
    assert "the full report is attached" in lines[-1]


def test_output_file(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    result = invoke("--scenario", "healthy", "--format", "html", "--output", str(target))
    assert result.exit_code == 0
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), "exactly one of --scenario"),
        (("--scenario", "healthy", "--live"), "exactly one of --scenario"),
        (("--scenario", "no-such-scenario"), "no-such-scenario"),
        (("--scenario", "healthy", "--now", "yesterday"), "--now"),
        (("--scenario", "healthy", "--now", "2026-11-23T10:00:00"), "offset"),
        (("--scenario", "healthy", "--env", "env-nope"), "env-nope"),
        (("--scenario", "healthy", "--dataset", "nope"), "nope"),
        (("--live",), "ANYPOINT_CLIENT_ID"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: tuple[str, ...], words: str) -> None:
    result = invoke(*args, env={"ANYPOINT_CLIENT_ID": "", "ANYPOINT_CLIENT_SECRET": ""})
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("name: x\nbogus: 1\n", "bogus"),
        ("name: x\nnow: 'not a date'\n", "now"),
        ("name: x\ngrants:\n  read:everything: [organization]\n", "read:everything"),
        ("name: x\ngrants:\n  read:exchange: [env-qa]\n", "env-qa"),
        ("name: x\nfaults:\n  - {path: '([', status: 500}\n", "faults[0].path"),
    ],
)
def test_bad_scenario_files_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = invoke("--scenario", str(path))
    assert result.exit_code == 2
    assert key in result.output and "line" in result.output
    assert len(result.output.strip().splitlines()) == 1


def _coverage_and_scopes(report: dict) -> tuple[dict, dict]:
    return (
        {k: (d["coverage"], d["reason"]) for k, d in report["datasets"].items() if k != "endpoints"}
        | {"endpoints": (report["datasets"]["endpoints"]["coverage"], None)},
        {k: (s["status"], s["missing_in"]) for k, s in report["scopes"].items()},
    )


@pytest.mark.parametrize("name", ["api-manager-sandbox-only", "exchange-scope-missing", "healthy"])
def test_live_against_the_simulator_matches_the_scenario(name: str) -> None:
    offline = json.loads(invoke("--scenario", name, "--format", "json").stdout)
    scenario = load_scenario(name)
    with SimulatorServer(scenario) as server:
        env = {
            "ANYPOINT_CLIENT_ID": "any-client",
            "ANYPOINT_CLIENT_SECRET": "any-secret-value",
            "ANYPOINT_ORG_ID": scenario.organization().id,
            "ANYPOINT_CONTROL_PLANE": "custom",
            "ANYPOINT_BASE_URL": server.base_url,
        }
        live = json.loads(invoke("--live", "--format", "json", env=env).stdout)
    live_cov, live_scopes = _coverage_and_scopes(live)
    off_cov, off_scopes = _coverage_and_scopes(offline)
    assert live_scopes == off_scopes
    # --live has no cache of the service; only the exchange-empty rule may differ through it
    assert live_cov == off_cov or name == "exchange-scope-missing"
    assert live["checks"][[c["id"] for c in live["checks"]].index("caches")]["status"] == "skipped"
