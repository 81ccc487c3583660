"""`mulesight ticket check`: JSON output, text output, and the four exit codes of cli.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import diagnostics.commands.tickets  # noqa: F401  (attaches `ticket` to the group)
from diagnostics.commands import cli

ORG = "6f1c0d7e-0b1a-4c55-9d1e-2a7f0c9b1a11"
COMPLETE = {
    "summary": "Exchange asset macro in endpoints mode is empty on https://acme.atlassian.net",
    "description": (
        f"Since 2026-11-23T10:15:00+11:00. Org ID: {ORG}, Production environment.\n"
        "Dataset: Endpoints. Last refreshed: 2026-11-20 09:00. Cache freshness: stale.\n"
        "Diagnostics coverage: partial.\n\n"
        "Steps to reproduce:\n1. Open page 12345\n2. Click Refresh\n"
    ),
    "attachment": [{"filename": "screenshot.png"}],
}
CANARY = "canary-cli-5e6f7a8b"
JSON_KEYS = {"present", "missing", "sensitive", "suggested_dataset", "suggested_module"}


def _run(*args: str, stdin: str | bytes | None = None) -> Result:
    return CliRunner().invoke(cli, ["ticket", "check", *args], input=stdin)


def _write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def test_complete_ticket_exits_0_with_the_contract_json(tmp_path: Path) -> None:
    result = _run(_write(tmp_path, "t.json", json.dumps(COMPLETE)), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= JSON_KEYS
    assert data["missing"] == []
    assert data["sensitive"] == []
    assert data["present"]["customer_site_url"] == "https://acme.atlassian.net"
    assert data["present"]["screenshots_or_logs"] == "1 attachment: screenshot.png"
    assert data["suggested_dataset"] == "endpoints"
    assert data["suggested_module"] == "exchange-asset"
    assert data["security_impacting"] is False


def test_missing_details_exit_4(tmp_path: Path) -> None:
    result = _run(_write(tmp_path, "t.txt", "The Exchange macro is empty."), "--format", "json")
    assert result.exit_code == 4
    data = json.loads(result.output)
    assert data["missing"][0] == "customer_site_url"
    assert data["present"] == {"affected_module": "exchange-asset macro"}


def test_sensitive_data_exits_3_and_takes_precedence(tmp_path: Path) -> None:
    text = f"Help! client_secret={CANARY}"
    result = _run(_write(tmp_path, "t.txt", text), "--format", "json")
    assert result.exit_code == 3
    assert CANARY not in result.output
    data = json.loads(result.output)
    assert data["missing"]  # details are missing too, but sensitive data wins
    assert data["sensitive"] == [
        {"kind": "client_secret", "excerpt": "Help! client_secret=[REDACTED:client_secret]"}
    ]
    assert data["security_impacting"] is True


def test_sensitive_complete_ticket_exits_3(tmp_path: Path) -> None:
    ticket = dict(COMPLETE, description=COMPLETE["description"] + f"password={CANARY}\n")
    result = _run(_write(tmp_path, "t.json", json.dumps(ticket)))
    assert result.exit_code == 3
    assert CANARY not in result.output


def test_text_format(tmp_path: Path) -> None:
    text = f"Exchange macro on https://acme.atlassian.net\nAuthorization: Bearer {CANARY}"
    result = _run(_write(tmp_path, "t.txt", text))
    assert result.exit_code == 3
    out = result.output
    assert CANARY not in out
    assert "✓ Customer site URL" in out
    assert "✗ Timezone" in out
    assert "Ask which timezone" in out
    assert "WARNING: sensitive data found (1)" in out
    assert "escalate to the security owner" in out


def test_stdin(tmp_path: Path) -> None:
    result = _run("-", "--format", "json", stdin=json.dumps(COMPLETE))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (None, None, "no such file"),
        ("latin1.txt", "café ticket".encode("latin-1"), "not UTF-8 text"),
        ("empty.txt", "", "the ticket is empty"),
        ("blank.txt", "  \n\t\n", "the ticket is empty"),
        ("bad.json", '{"summary": "unterminated', "not valid JSON"),
        ("list.json", '[{"summary": "x"}]', "expected a JSON object"),
    ],
)
def test_unreadable_input_exits_2_with_one_line(
    tmp_path: Path, name: str | None, content: str | bytes | None, message: str
) -> None:
    path = (
        _write(tmp_path, name, content)
        if name and content is not None
        else str(tmp_path / "nope.json")
    )
    result = _run(path)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert path in lines[0] and message in lines[0]


def test_directory_is_unreadable(tmp_path: Path) -> None:
    result = _run(str(tmp_path))
    assert result.exit_code == 2
    assert str(tmp_path) in result.output


def test_bad_format_option_exits_2(tmp_path: Path) -> None:
    result = _run(_write(tmp_path, "t.txt", "x"), "--format", "yaml")
    assert result.exit_code == 2


def test_help() -> None:
    result = CliRunner().invoke(cli, ["ticket", "check", "--help"])
    assert result.exit_code == 0
    assert "Exit codes" in result.output
