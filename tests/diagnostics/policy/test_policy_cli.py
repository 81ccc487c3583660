"""`mulesight sla`, `upstream` and `credit` through click."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner, Result

import diagnostics.commands.policy  # noqa: F401  (registers the commands)
from diagnostics.commands import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def run_json(*args: str) -> dict:
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_input_error(result: Result, flag: str) -> None:
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert flag in lines[0]


# -- sla ----------------------------------------------------------------------------------------


def test_sla_json() -> None:
    data = run_json(
        "sla", "--severity", "Sev 1", "--opened", "2026-10-30T15:00:00+11:00",
        "--now", "2026-11-05T12:00:00+11:00",
    )  # fmt: skip
    assert data["severity"] == "Sev 1"
    assert data["timezone"] == "Australia/Melbourne"
    assert data["initial_response_due"] == "2026-11-02T15:00:00+11:00"
    assert data["next_update_due"] == "2026-11-05T15:00:00+11:00"
    assert data["resolution_due"] == "2026-11-06T15:00:00+11:00"
    assert data["holiday_policy"] == "reduced_staffing"
    assert data["holiday_in_window"] == [{"date": "2026-11-03", "name": "Melbourne Cup Day"}]
    assert data["resolution_breached"] is False
    assert data["requires"] == []


def test_sla_closed_holidays_and_breach() -> None:
    data = run_json(
        "sla", "--severity", "sev 2", "--opened", "2026-11-02T18:30", "--holidays", "closed",
        "--now", "2026-11-20T10:00:00Z",
    )  # fmt: skip
    assert data["opened_at"] == "2026-11-02T18:30:00+11:00"  # naive: Melbourne time
    assert data["clock_started_at"] == "2026-11-04T09:00:00+11:00"
    assert data["holiday_policy"] == "closed"
    assert data["resolution_breached"] is True
    assert data["requires"] == ["workaround_or_mitigation_plan", "revised_eta"]


def test_sla_text_shows_melbourne_and_utc() -> None:
    result = run(
        "sla", "--severity", "Sev 3", "--opened", "2027-04-02T15:00:00+11:00",
        "--now", "2027-04-02T15:00:00+11:00",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Initial response due: Mon 05 Apr 2027 15:00 AEST (+10:00) = Mon 05 Apr 05:00 UTC" in (
        result.stdout
    )
    assert "Resolution due:" in result.stdout


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--severity", "Sev 5", "--opened", "2026-11-02T10:00"], "--severity"),
        (["--severity", "Sev 1", "--opened", "02/11/2026"], "--opened"),
        (["--severity", "Sev 1", "--opened", "2026-11-02T10:00", "--now", "soon"], "--now"),
        (
            ["--severity", "Sev 1", "--opened", "2026-11-02T10:00", "--holidays", "open"],
            "--holidays",
        ),
    ],
)
def test_sla_bad_input(args: list[str], flag: str) -> None:
    assert_input_error(run("sla", *args), flag)


# -- upstream -----------------------------------------------------------------------------------


def test_upstream_json() -> None:
    data = run_json(
        "upstream", "--tier", "platinum", "--severity", "S1",
        "--opened", "2026-11-14T12:00:00-08:00", "--zone", "PST",
    )  # fmt: skip
    assert {
        "tier": "platinum",
        "severity": "S1",
        "zone": "PST",
        "response_due": "2026-11-15T09:00:00+11:00",
        "round_the_clock": True,
        "in_maintenance_window": True,
    }.items() <= data.items()


def test_upstream_naive_time_is_read_in_the_zone_and_text() -> None:
    data = run_json(
        "upstream",
        "--tier",
        "gold",
        "--severity",
        "S3",
        "--opened",
        "2026-11-09T10:00",
        "--zone",
        "EST",
    )
    assert data["response_due_local"] == "2026-11-10T10:00:00-05:00"
    result = run(
        "upstream", "--tier", "gold", "--severity", "S3", "--opened", "2026-11-09T10:00:00-05:00"
    )
    assert result.exit_code == 0, result.output
    assert "zone AEST" in result.stdout  # the default zone
    assert "Response due:" in result.stdout


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--tier", "bronze", "--severity", "S1", "--opened", "2026-11-09T10:00"], "--tier"),
        (["--tier", "gold", "--severity", "Sev 1x", "--opened", "2026-11-09T10:00"], "--severity"),
        (["--tier", "gold", "--severity", "S1", "--opened", "yesterday"], "--opened"),
        (
            ["--tier", "gold", "--severity", "S1", "--opened", "2026-11-09T10:00", "--zone", "CET"],
            "--zone",
        ),
    ],
)
def test_upstream_bad_input(args: list[str], flag: str) -> None:
    assert_input_error(run("upstream", *args), flag)


# -- credit -------------------------------------------------------------------------------------


def test_credit_from_uptime() -> None:
    data = run_json("credit", "--uptime", "99.7")
    assert {
        "monthly_uptime_percent": 99.7,
        "credit_percent": 5.0,
        "credit_amount": None,
    }.items() <= data.items()


def test_credit_from_minutes_with_amount() -> None:
    data = run_json(
        "credit", "--unavailable-minutes", "864", "--month", "2026-06", "--annual-fee", "120000",
        "--vcores-affected", "2", "--vcores-total", "8",
    )  # fmt: skip
    assert data["monthly_uptime_percent"] == 98.0
    assert data["credit_percent"] == 10.0
    assert data["credit_amount"] == 250.0
    text = run("credit", "--uptime", "97")
    assert text.exit_code == 0
    assert "credit 15 %" in text.stdout


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--unavailable-minutes", "-5", "--month", "2026-06"], "--unavailable-minutes"),
        (["--unavailable-minutes", "50000", "--month", "2026-06"], "--unavailable-minutes"),
        (["--unavailable-minutes", "5", "--month", "2026-6"], "--month"),
        (["--unavailable-minutes", "5"], "--month"),
        (["--uptime", "99", "--unavailable-minutes", "5"], "--uptime"),
        ([], "--uptime"),
        (["--uptime", "101"], "--uptime"),
        (["--uptime", "99", "--annual-fee", "1000"], "--annual-fee"),
        (
            [
                "--uptime",
                "99",
                "--annual-fee",
                "1000",
                "--vcores-affected",
                "9",
                "--vcores-total",
                "8",
            ],
            "--vcores-affected",
        ),
    ],
)
def test_credit_bad_input(args: list[str], flag: str) -> None:
    assert_input_error(run("credit", *args), flag)


def test_help_is_the_docstring() -> None:
    for command in ("sla", "upstream", "credit"):
        result = run(command, "--help")
        assert result.exit_code == 0
        assert "--format" in result.stdout
