"""`mulesight scenarios` and `mulesight simulate`."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import requests
from click.testing import CliRunner

import diagnostics.commands.simulate  # noqa: F401  (registers the commands)
from diagnostics.commands import cli
from diagnostics.simulator import builtin_scenarios

from .conftest import ORG

SERVE = (
    "import diagnostics.commands.simulate\n"
    "from diagnostics.commands import cli\n"
    "cli(prog_name='mulesight')\n"
)


def test_scenarios_lists_every_builtin_with_its_description() -> None:
    result = CliRunner().invoke(cli, ["scenarios"])

    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines == [f"{name}  {description}" for name, description in builtin_scenarios()]
    assert any(line.startswith("healthy  ") for line in lines)


def test_simulate_rejects_a_bad_scenario_file_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ngrants:\n  read:exchange: [organization, env-qa]\n", encoding="utf-8")

    result = CliRunner().invoke(cli, ["simulate", "--scenario", str(bad), "--port", "0"])

    assert result.exit_code == 2
    message = result.output.strip().splitlines()[-1]
    assert "line 3" in message and "grants.read:exchange[1]" in message and "env-qa" in message
    assert "Traceback" not in result.output


def test_simulate_rejects_an_unknown_scenario_with_exit_2() -> None:
    result = CliRunner().invoke(cli, ["simulate", "--scenario", "no-such-thing"])

    assert result.exit_code == 2
    assert "no such built-in scenario" in result.output


def test_simulate_prints_its_url_first_and_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "simulate", "--scenario", "healthy", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        with requests.Session() as session:
            token = session.post(
                f"{base_url}/accounts/api/v2/oauth2/token",
                data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"},
                timeout=5,
            ).json()["access_token"]
            answer = session.get(
                f"{base_url}/accounts/api/organizations/{ORG}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
        assert answer.status_code == 200 and answer.json()["id"] == ORG
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
