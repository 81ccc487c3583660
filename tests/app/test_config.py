"""Configuration from the environment, with embedded defaults and test overrides."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from app.config import (
    FORGE_JWKS_URL,
    SETTINGS,
    SETTINGS_BY_KEY,
    ConfigError,
    Setting,
    from_environment,
    settings_reference,
)
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


# -- every setting declared once, settable from the environment ------------------------------------

REPO = Path(__file__).resolve().parents[2]
CONFIG_READ = re.compile(r"""config(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""")
# Keys that Flask itself owns and the app derives (never set by an operator).
FLASK_OWN = {"SECRET_KEY", "SESSION_COOKIE_SAMESITE", "SESSION_COOKIE_SECURE", "TESTING"}
SAMPLES: dict[str, tuple[str, Any]] = {
    "MULESIGHT_ANYPOINT_MODE": ("live", "live"),
    "MULESIGHT_JOB_QUEUE": ("sync", "sync"),
    "MULESIGHT_AUTO_MIGRATE": ("false", False),
    "MULESIGHT_LOCAL_DEVELOPMENT": ("true", True),
    "LOG_LEVEL": ("DEBUG", "DEBUG"),
    "DB_ENGINE_OPTIONS": ('{"pool_pre_ping": true}', {"pool_pre_ping": True}),
}


def keys_read_by_the_code() -> set[str]:
    keys: set[str] = set()
    for package in ("app", "diagnostics"):
        for source in (REPO / package).rglob("*.py"):
            keys.update(CONFIG_READ.findall(source.read_text(encoding="utf-8")))
    return keys


def test_every_setting_the_code_reads_is_declared() -> None:
    read = keys_read_by_the_code()
    assert read, "the scan found no configuration reads at all"
    undeclared = read - set(SETTINGS_BY_KEY) - FLASK_OWN
    assert not undeclared, f"declare these in app/config.py SETTINGS: {sorted(undeclared)}"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.variable)
def test_every_setting_can_be_set_from_the_environment(setting: Setting) -> None:
    if setting.key in SAMPLES:
        text, expected = SAMPLES[setting.key]
    elif setting.parse is str:
        text = expected = "a-value-from-the-environment"
    else:
        expected = setting.parse("7")
        text = "7"
    assert from_environment({setting.variable: text}) == {setting.key: expected}
    assert from_environment({setting.variable: ""}) == {}


@pytest.mark.parametrize(
    ("variable", "text"),
    [
        ("MULESIGHT_AUTO_MIGRATE", "perhaps"),
        ("JSM_TIMEOUT", "ten"),
        ("MULESIGHT_OUTBOX_MAX_ATTEMPTS", "1.5"),
        ("MULESIGHT_DB_ENGINE_OPTIONS", "{not json"),
    ],
)
def test_a_value_that_does_not_parse_names_its_variable(variable: str, text: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        from_environment({variable: text})


def test_auto_migrate_false_from_the_environment_is_honoured(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MULESIGHT_AUTO_MIGRATE", "false")
    app = make_app(app_config)
    try:
        import sqlalchemy as sa

        assert app.config["MULESIGHT_AUTO_MIGRATE"] is False
        assert sa.inspect(app.extensions["db"].engine).get_table_names() == []
    finally:
        app.extensions["db"].dispose()


def test_the_configuration_reference_is_up_to_date() -> None:
    docs = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert docs == settings_reference(), "regenerate: mulesight settings > docs/configuration.md"
