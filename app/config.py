"""Configuration: every setting the service reads, declared once, then ``test_config`` overrides.

Each :class:`Setting` names its config key (what the code reads, ``app.config[KEY]``), the
environment variable that sets it (the key itself unless said otherwise), its default and its
meaning; ``docs/configuration.md`` is generated from :data:`SETTINGS` (``mulesight settings``).
Order of precedence: defaults < environment < ``test_config``. A value that does not parse is a
:class:`ConfigError` naming the variable, at start-up.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from app.instance_files import create_once

ANYPOINT_MODES = ("simulated", "live")
JOB_QUEUES = ("inprocess", "sync")
FORGE_JWKS_URL = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
MAX_JWT_LEEWAY = 60
SECRET_KEY_FILE = "secret_key"
MIN_SECRET_KEY_LENGTH = 16
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def parse_bool(text: str) -> bool:
    """``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case)."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected true or false, not {text!r}")


def one_of(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, not {text!r}")
        return text

    return parse


@dataclass(frozen=True)
class Setting:
    """One configuration setting: ``key`` in ``app.config``, set by environment ``variable``."""

    key: str
    default: Any
    meaning: str
    parse: Callable[[str], Any] = str
    env: str | None = None  # the environment variable when it differs from ``key``
    secret: bool = False

    @property
    def variable(self) -> str:
        return self.env or self.key


SETTINGS: tuple[Setting, ...] = (
    # -- service.md ---------------------------------------------------------------------------
    Setting(
        "MULESIGHT_DATABASE_URL",
        None,
        "Any SQLAlchemy URL; PostgreSQL in production. Unset: a SQLite file in the instance folder.",
    ),
    Setting(
        "MULESIGHT_SECRET_KEY",
        None,
        "Encrypts stored connected-app secrets and signs sessions (at least 16 characters). "
        "Unset: generated once and stored in the instance folder (mode 0600).",
        secret=True,
    ),
    Setting(
        "MULESIGHT_ANYPOINT_MODE",
        "simulated",
        "`simulated` (scenario files, no network) or `live` (the customer's Anypoint).",
        one_of(*ANYPOINT_MODES),
    ),
    Setting(
        "MULESIGHT_SCENARIO",
        None,
        "Built-in scenario name or scenario file for simulated tenants. Unset: `healthy`.",
    ),
    Setting(
        "FORGE_APP_ID",
        None,
        "The app's full ARI, the expected `aud` of Forge Invocation Tokens. Unset: every Forge "
        "request is refused.",
    ),
    Setting("FORGE_JWKS_URL", FORGE_JWKS_URL, "Where the Forge token signing keys are fetched."),
    Setting(
        "MULESIGHT_WEBHOOK_SECRET",
        None,
        "Shared secret of Service Management webhooks (HMAC-SHA256). Unset: webhooks refused.",
        secret=True,
    ),
    Setting(
        "JSM_BASE_URL",
        None,
        "Jira Service Management site, e.g. `https://flowdence.atlassian.net`. Unset (or any of "
        "the four JSM settings unset): tickets go to the local ticket store.",
    ),
    Setting("JSM_EMAIL", None, "The Atlassian account that writes to Service Management."),
    Setting("JSM_API_TOKEN", None, "That account's API token.", secret=True),
    Setting("JSM_SERVICE_DESK_ID", None, "The service desk that support tickets belong to."),
    Setting(
        "MULESIGHT_REDIS_URL",
        None,
        "Redis for the job queue and shared caches of multi-process deployments. Unset: jobs "
        "run in-process.",
        secret=True,
    ),
    # -- tuning -------------------------------------------------------------------------------
    Setting("FORGE_JWKS_TIMEOUT", 5.0, "Seconds to wait for the Forge JWKS.", float),
    Setting("FORGE_JWKS_CACHE_SECONDS", 3600.0, "How long fetched Forge keys are kept.", float),
    Setting(
        "FORGE_JWKS_MIN_REFRESH_SECONDS",
        10.0,
        "Least time between two JWKS fetches caused by an unknown key id.",
        float,
    ),
    Setting(
        "FORGE_JWT_LEEWAY",
        MAX_JWT_LEEWAY,
        f"Seconds of clock skew allowed on token `exp`/`nbf` (at most {MAX_JWT_LEEWAY}).",
        int,
    ),
    Setting("JSM_TIMEOUT", 10.0, "Seconds to wait for one Service Management call.", float),
    Setting(
        "MULESIGHT_JOB_QUEUE",
        "inprocess",
        "`inprocess` (a background thread per process) or `sync` (run each job at once, in the "
        "caller: tests and one-off commands).",
        one_of(*JOB_QUEUES),
    ),
    # -- background work (docs/deploy.md) -----------------------------------------------------
    Setting(
        "MULESIGHT_QUEUE_NAME",
        "mulesight",
        "The RQ queue on Redis, and the prefix of every Redis key the service writes.",
    ),
    Setting("MULESIGHT_JOB_THREADS", 2, "Job threads of the in-process queue.", int),
    Setting(
        "MULESIGHT_WORKER_THREADS",
        8,
        "Jobs each `mulesight worker` process runs at once (jobs mostly wait on Service "
        "Management and the database, so one process keeps several going).",
        int,
    ),
    Setting(
        "MULESIGHT_WORKER_NICE",
        10,
        "How much `mulesight worker` processes lower their CPU priority (`nice`), so web "
        "processes on the same host answer first (0: unchanged); a worker leading a session of "
        "its own lowers that session's CPU group too (Linux autogroup).",
        int,
    ),
    Setting(
        "MULESIGHT_JOB_LEASE_S",
        60.0,
        "How long a running job's lease lasts: its worker renews it while alive, so a dead "
        "worker's job goes to another within this; also how long a queued job waits for a "
        "worker before it is woken again.",
        float,
    ),
    Setting(
        "MULESIGHT_JOB_MAX_ATTEMPTS", 5, "Tries of a failing job before it is marked failed.", int
    ),
    Setting(
        "MULESIGHT_JOB_RETENTION_DAYS",
        7.0,
        "Finished jobs (done or failed) are deleted by the sweeper this many days after they "
        "ended.",
        float,
    ),
    Setting(
        "MULESIGHT_JOB_TIMEOUT_S",
        900,
        "Longest one job may run on a Redis worker before RQ stops it (a live worker renews its "
        "lease meanwhile, so a long job is never given to a second worker).",
        int,
    ),
    Setting(
        "MULESIGHT_SWEEP_INTERVAL_S",
        10.0,
        "Seconds between two passes of the sweeper (every worker process, and the in-process "
        "queue) that wakes abandoned jobs and delivers due outbox messages.",
        float,
    ),
    Setting(
        "MULESIGHT_RUN_WAIT_S",
        8.0,
        "How long `POST /forge/v1/runs` waits for the run before answering 202 with its id.",
        float,
    ),
    Setting(
        "MULESIGHT_REFRESH_WAIT_S",
        22.0,
        "How long a refresh request (Forge, Rovo, the scheduled trigger) waits for its refresh "
        "jobs before answering; a refresh still going finishes in the background. Below Forge's "
        "25 s limit.",
        float,
    ),
    Setting(
        "MULESIGHT_SHARED_DIAGNOSIS_S",
        300.0,
        "Tickets about one space share a diagnostics run this recent (0: a run per ticket).",
        float,
    ),
    Setting(
        "MULESIGHT_ANYPOINT_RATE_PER_S",
        20.0,
        "Anypoint calls per second per organization and host, across every process (live mode "
        "with Redis).",
        float,
    ),
    Setting(
        "MULESIGHT_ANYPOINT_BURST",
        40,
        "Anypoint calls allowed at once above that rate, per organization and host.",
        int,
    ),
    Setting("MULESIGHT_SERVE_THREADS", 8, "Threads per gunicorn web process.", int),
    Setting(
        "MULESIGHT_AUTO_MIGRATE",
        True,
        "Apply database migrations at start-up. Turn off where a deployment step runs "
        "`alembic upgrade` once before the new processes start.",
        parse_bool,
    ),
    Setting(
        "MULESIGHT_OUTBOX_MAX_ATTEMPTS",
        8,
        "Deliveries of one ticket write tried before it becomes a dead letter.",
        int,
    ),
    Setting(
        "MULESIGHT_OUTBOX_BASE_DELAY_S", 30.0, "First retry delay; it doubles each time.", float
    ),
    Setting("MULESIGHT_OUTBOX_MAX_DELAY_S", 3600.0, "Longest retry delay.", float),
    Setting(
        "MULESIGHT_OUTBOX_LEASE_S",
        300.0,
        "How long a worker holds a claimed outbox message before another may take it.",
        float,
    ),
    Setting(
        "MULESIGHT_RENDER_WINDOW_DAYS",
        14,
        "Macro renders older than this many days are not considered by a diagnostics run.",
        int,
    ),
    # -- security (docs/security.md) ------------------------------------------------------------
    Setting(
        "MULESIGHT_INSTANCE_PATH",
        None,
        "The instance folder: SQLite file, generated secret key, local Forge signing key. "
        "Unset: Flask's instance folder.",
    ),
    Setting(
        "MULESIGHT_SECRET_KEY_PREVIOUS",
        None,
        "Earlier secret keys, comma-separated: still read while `mulesight keys rotate` "
        "re-encrypts the stored secrets under MULESIGHT_SECRET_KEY.",
        secret=True,
    ),
    Setting(
        "MULESIGHT_OUTBOUND_ALLOW",
        None,
        "Networks outbound calls to tenant-chosen hosts may reach besides public addresses, "
        "comma-separated (e.g. `127.0.0.0/8` for local development and tests). Unset: none.",
    ),
    Setting(
        "MULESIGHT_LOCAL_DEVELOPMENT",
        False,
        "On a developer's plain-http machine only: session cookies without `Secure`.",
        parse_bool,
    ),
    Setting(
        "MAX_CONTENT_LENGTH",
        1024 * 1024,
        "Largest request body accepted, in bytes.",
        int,
        env="MULESIGHT_MAX_CONTENT_LENGTH",
    ),
    Setting(
        "LOG_LEVEL",
        "INFO",
        "Log level: DEBUG, INFO, WARNING, ERROR.",
        one_of("DEBUG", "INFO", "WARNING", "ERROR"),
        env="MULESIGHT_LOG_LEVEL",
    ),
    Setting(
        "DB_ENGINE_OPTIONS",
        {},
        'Extra SQLAlchemy `create_engine` options as a JSON object, e.g. `{"pool_size": 10}` '
        "(on PostgreSQL the pool holds one connection per thread unless set here).",
        json.loads,
        env="MULESIGHT_DB_ENGINE_OPTIONS",
    ),
)
SETTINGS_BY_KEY: Mapping[str, Setting] = {s.key: s for s in SETTINGS}
ENV_VARIABLES: tuple[str, ...] = tuple(s.variable for s in SETTINGS)
DEFAULTS: Mapping[str, Any] = {s.key: s.default for s in SETTINGS}


class ConfigError(RuntimeError):
    """The configuration cannot work; raised by :func:`configure` at start-up."""


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings set (non-empty) in ``environ``, parsed; a bad value is a ConfigError."""
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        text = environ.get(setting.variable)
        if not text:
            continue
        try:
            values[setting.key] = setting.parse(text)
        except ValueError as exc:
            raise ConfigError(f"{setting.variable}: {exc}") from None
    return values


def configure(app: Flask, test_config: Mapping[str, Any] | None = None) -> None:
    """Fill ``app.config``: defaults < environment < ``test_config``; then check and complete it."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_mapping(from_environment(os.environ))
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
    cfg["MULESIGHT_INSTANCE_PATH"] = str(instance)
    if not cfg.get("MULESIGHT_DATABASE_URL"):
        cfg["MULESIGHT_DATABASE_URL"] = f"sqlite:///{instance / 'mulesight.db'}"
    if not cfg.get("MULESIGHT_SECRET_KEY"):
        cfg["MULESIGHT_SECRET_KEY"] = instance_secret_key(instance / SECRET_KEY_FILE)
    if len(cfg["MULESIGHT_SECRET_KEY"]) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"MULESIGHT_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters"
        )


def instance_path(overrides: Mapping[str, Any]) -> str | None:
    """The instance folder: ``INSTANCE_PATH`` in ``test_config``, else ``MULESIGHT_INSTANCE_PATH``."""
    return overrides.get("INSTANCE_PATH") or os.environ.get("MULESIGHT_INSTANCE_PATH") or None


def instance_secret_key(path: Path) -> str:
    """The secret key stored at ``path``, generated (mode 0600) the first time.

    Concurrent workers starting together all end up with the same key (:func:`create_once`).
    """
    create_once(path, lambda: secrets.token_urlsafe(48).encode("ascii"))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{path} must not be readable by others (mode {mode:o}; chmod 600 it)")
    return path.read_text(encoding="ascii").strip()


def settings_reference() -> str:
    """The Markdown reference of every setting (``docs/configuration.md``)."""
    lines = [
        "# Configuration",
        "",
        "Every setting the service reads, from the environment (generated from",
        "`app/config.py` by `mulesight settings`; a test keeps this file in step). Unset or empty",
        "means the default. A value that does not parse stops start-up with a message naming the",
        "variable. Secrets are never logged.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for setting in SETTINGS:
        default = "—" if setting.default in (None, {}) else f"`{setting.default}`"
        meaning = setting.meaning + (" Secret." if setting.secret else "")
        lines.append(f"| `{setting.variable}` | {default} | {meaning} |")
    return "\n".join(lines) + "\n"
