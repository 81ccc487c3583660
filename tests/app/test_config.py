"""Configuration from the environment, with embedded defaults and test overrides."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from app.config import FORGE_JWKS_URL, ConfigError
from tests.app.conftest import make_app


def build(config: dict[str, Any]) -> Any:
    app = make_app(config)
    app.extensions["db"].dispose()
    return app


def test_embedded_defaults(app_config: dict[str, Any]) -> None:
    app = build({**app_config, "FORGE_APP_ID": None})
    instance = Path(app_config["INSTANCE_PATH"])
    assert app.config["MULESIGHT_DATABASE_URL"] == f"sqlite:///{instance / 'mulesight.db'}"
    assert (instance / "mulesight.db").exists()
    assert app.config["MULESIGHT_ANYPOINT_MODE"] == "simulated"
    assert app.config["FORGE_JWKS_URL"] == FORGE_JWKS_URL
    assert app.config["FORGE_APP_ID"] is None
    assert app.config["MULESIGHT_WEBHOOK_SECRET"] is None
    assert app.config["MULESIGHT_REDIS_URL"] is None
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024


def test_secret_key_is_generated_once_with_mode_0600(app_config: dict[str, Any]) -> None:
    first = build(app_config).config["MULESIGHT_SECRET_KEY"]
    key_file = Path(app_config["INSTANCE_PATH"]) / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert build(app_config).config["MULESIGHT_SECRET_KEY"] == first


def test_a_world_readable_key_file_is_refused(app_config: dict[str, Any]) -> None:
    build(app_config)
    os.chmod(Path(app_config["INSTANCE_PATH"]) / "secret_key", 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        build(app_config)


def test_environment_is_read(app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULESIGHT_SECRET_KEY", "an-environment-secret-key")
    monkeypatch.setenv("MULESIGHT_ANYPOINT_MODE", "live")
    monkeypatch.setenv("MULESIGHT_SCENARIO", "api-manager-sandbox-only")
    monkeypatch.setenv("FORGE_JWKS_URL", "https://keys.example.com/jwks.json")
    monkeypatch.setenv("JSM_BASE_URL", "https://flowdence.atlassian.net")
    app = build({k: v for k, v in app_config.items() if k != "FORGE_APP_ID"})
    assert app.config["MULESIGHT_SECRET_KEY"] == "an-environment-secret-key"
    assert app.config["MULESIGHT_ANYPOINT_MODE"] == "live"
    assert app.config["MULESIGHT_SCENARIO"] == "api-manager-sandbox-only"
    assert app.config["FORGE_JWKS_URL"] == "https://keys.example.com/jwks.json"
    assert app.config["JSM_BASE_URL"] == "https://flowdence.atlassian.net"
    assert not (Path(app_config["INSTANCE_PATH"]) / "secret_key").exists()


def test_test_config_overrides_the_environment(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MULESIGHT_ANYPOINT_MODE", "live")
    assert (
        build({**app_config, "MULESIGHT_ANYPOINT_MODE": "simulated"}).config[
            "MULESIGHT_ANYPOINT_MODE"
        ]
        == "simulated"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"MULESIGHT_ANYPOINT_MODE": "imaginary"}, "MULESIGHT_ANYPOINT_MODE"),
        ({"MULESIGHT_SECRET_KEY": "short"}, "MULESIGHT_SECRET_KEY"),
    ],
)
def test_bad_configuration_is_refused(
    app_config: dict[str, Any], changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        build({**app_config, **changes})


def test_migrations_can_be_left_to_the_operator(app_config: dict[str, Any]) -> None:
    app = make_app({**app_config, "MULESIGHT_AUTO_MIGRATE": False})
    try:
        import sqlalchemy as sa

        assert sa.inspect(app.extensions["db"].engine).get_table_names() == []
        app.extensions["db"].upgrade()
        assert "spaces" in sa.inspect(app.extensions["db"].engine).get_table_names()
    finally:
        app.extensions["db"].dispose()
