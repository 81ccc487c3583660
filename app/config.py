"""Configuration: the environment variables of ``service.md``, then ``test_config`` overrides.

Config keys are the variable names themselves (``app.config["FORGE_APP_ID"]``), plus a few
service settings that are not environment variables (``MULESIGHT_AUTO_MIGRATE``,
``FORGE_JWT_LEEWAY``, ``MAX_CONTENT_LENGTH``, ``LOG_LEVEL``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

ENV_VARIABLES = (
    "MULESIGHT_DATABASE_URL",
    "MULESIGHT_SECRET_KEY",
    "MULESIGHT_ANYPOINT_MODE",
    "MULESIGHT_SCENARIO",
    "FORGE_APP_ID",
    "FORGE_JWKS_URL",
    "MULESIGHT_WEBHOOK_SECRET",
    "JSM_BASE_URL",
    "JSM_EMAIL",
    "JSM_API_TOKEN",
    "JSM_SERVICE_DESK_ID",
    "MULESIGHT_REDIS_URL",
)
ANYPOINT_MODES = ("simulated", "live")
FORGE_JWKS_URL = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
MAX_JWT_LEEWAY = 60
SECRET_KEY_FILE = "secret_key"
MIN_SECRET_KEY_LENGTH = 16

DEFAULTS: Mapping[str, Any] = {
    "MULESIGHT_ANYPOINT_MODE": "simulated",
    "MULESIGHT_SCENARIO": None,  # None: the engine's built-in healthy scenario
    "FORGE_APP_ID": None,
    "FORGE_JWKS_URL": FORGE_JWKS_URL,
    "FORGE_JWKS_TIMEOUT": 5.0,
    "FORGE_JWKS_CACHE_SECONDS": 3600,
    "FORGE_JWKS_MIN_REFRESH_SECONDS": 10,
    "FORGE_JWT_LEEWAY": MAX_JWT_LEEWAY,
    "MULESIGHT_WEBHOOK_SECRET": None,
    "JSM_BASE_URL": None,
    "JSM_EMAIL": None,
    "JSM_API_TOKEN": None,
    "JSM_SERVICE_DESK_ID": None,
    "MULESIGHT_REDIS_URL": None,
    "MULESIGHT_AUTO_MIGRATE": True,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "LOG_LEVEL": "INFO",
    "JSON_SORT_KEYS": False,
}


class ConfigError(RuntimeError):
    """The configuration cannot work; raised by :func:`configure` at start-up."""


def configure(app: Flask, test_config: Mapping[str, Any] | None = None) -> None:
    """Fill ``app.config``: defaults < environment < ``test_config``; then check and complete it."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_mapping(
        {name: os.environ[name] for name in ENV_VARIABLES if os.environ.get(name)}
    )
    if test_config:
        app.config.from_mapping(test_config)
    cfg = app.config
    if cfg["MULESIGHT_ANYPOINT_MODE"] not in ANYPOINT_MODES:
        raise ConfigError(
            f"MULESIGHT_ANYPOINT_MODE must be one of {', '.join(ANYPOINT_MODES)}, "
            f"not {cfg['MULESIGHT_ANYPOINT_MODE']!r}"
        )
    cfg["FORGE_JWT_LEEWAY"] = min(int(cfg["FORGE_JWT_LEEWAY"]), MAX_JWT_LEEWAY)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not cfg.get("MULESIGHT_DATABASE_URL"):
        cfg["MULESIGHT_DATABASE_URL"] = f"sqlite:///{instance / 'mulesight.db'}"
    if not cfg.get("MULESIGHT_SECRET_KEY"):
        cfg["MULESIGHT_SECRET_KEY"] = instance_secret_key(instance / SECRET_KEY_FILE)
    if len(cfg["MULESIGHT_SECRET_KEY"]) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"MULESIGHT_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters"
        )


def instance_secret_key(path: Path) -> str:
    """The secret key stored at ``path``, generated (mode 0600) the first time.

    The file is written under a temporary name and linked into place, so concurrent workers
    starting together all end up with the same key.
    """
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):  # another worker won: use its key
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{path} must not be readable by others (mode {mode:o}; chmod 600 it)")
    return path.read_text(encoding="ascii").strip()
