"""The ``mulesight`` entry point: service commands, one-line errors, loopback by default."""

from __future__ import annotations

from typing import Any

import click
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from app import cli


def test_serve_binds_loopback_and_prints_the_url(
    app: Flask, runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(cli, "create_app", lambda: app)
    monkeypatch.setattr(
        cli,
        "run_simple",
        lambda host, port, wsgi, **kw: served.update(host=host, port=port, app=wsgi),
    )
    result = runner.invoke(cli.serve, [])
    assert result.exit_code == 0, result.output
    assert served == {"host": "127.0.0.1", "port": 8000, "app": app}
    assert "http://127.0.0.1:8000/" in result.stdout


def test_serve_port_option(
    app: Flask, runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(cli, "create_app", lambda: app)
    monkeypatch.setattr(cli, "run_simple", lambda host, port, wsgi, **kw: served.update(port=port))
    assert runner.invoke(cli.serve, ["--port", "8123"]).exit_code == 0
    assert served["port"] == 8123


def _group() -> click.Group:
    @click.group()
    def group() -> None:
        """A stand-in for the engine's group."""

    return cli.build_cli(group)


def test_usage_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(_group(), ["token", "revoke"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("Error: ")


def test_unknown_command_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(_group(), ["frobnicate"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_bare_group_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(_group(), ["token"]) == 2
    assert "revoke" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(_group(), ["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("serve", "token", "db"):
        assert command in out


def test_token_commands_through_run(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real path: ``run`` builds the app from the environment (here: a tmp instance)."""
    from app import create_app

    apps: list[Flask] = []

    def build() -> Flask:
        apps.append(create_app(app_config))
        return apps[-1]

    monkeypatch.setattr(cli, "create_app", build)
    try:
        assert cli.run(_group(), ["token", "create", "--name", "ops", "--role", "viewer"]) == 0
        out, err = capsys.readouterr()
        assert out.strip().startswith("mst_")
        assert "cannot be shown again" in err
        assert cli.run(_group(), ["token", "revoke", "ghost"]) == 2
        assert capsys.readouterr().err.count("\n") == 1
    finally:
        for built in apps:
            built.extensions["db"].dispose()


def test_bad_configuration_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    monkeypatch.setenv("MULESIGHT_ANYPOINT_MODE", "imaginary")
    assert cli.run(_group(), ["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "MULESIGHT_ANYPOINT_MODE" in err and err.count("\n") == 1


def test_main_uses_the_engine_commands() -> None:
    from diagnostics.commands import register_engine_commands

    group = register_engine_commands()
    cli.build_cli(group)
    assert {"serve", "token", "db", "diagnose"} <= set(group.commands)
