"""The database: one engine per app, one session per request, migrations at start-up.

``init_app`` puts a :class:`Database` in ``app.extensions["db"]``. Views and repositories use
:func:`get_session` (the request's session, closed — and rolled back if not committed — when the
app context ends). Code outside a request (CLI, jobs) uses ``with db.session() as session:``.
Who commits, and when: :mod:`app.unit_of_work`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# pg_advisory_lock key serialising concurrent start-up migrations ("MSIG").
_MIGRATION_LOCK_KEY = 0x4D534947


def normalize_url(url: str | URL) -> URL:
    """``postgresql://`` and ``postgres://`` URLs use psycopg 3 (psycopg2 is not a dependency)."""
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# A pooled PostgreSQL connection idle longer than this is pinged before use; one in steady use is
# not. A restarted or failed-over server drops every connection, and those idle in the pool are
# the ones that would fail; pinging at every checkout (SQLAlchemy's ``pool_pre_ping``) costs a
# round trip to the server on every request and job step, a third of a webhook's.
IDLE_PING_S = 10.0


def _note_last_use(_dbapi_connection: Any, record: Any) -> None:
    record.info["last_used"] = time.monotonic()


def _ping_if_idle(dialect: Dialect) -> Callable[[Any, Any, Any], None]:
    """A pool ``checkout`` listener: ping a connection idle for :data:`IDLE_PING_S` or more;
    one that does not answer is replaced (the pool retries on ``DisconnectionError``)."""

    def check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("last_used", 0.0) < IDLE_PING_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"a pooled connection no longer answers: {exc}") from exc

    return check


class Database:
    """An engine, its session factory and the migration runner."""

    def __init__(self, url: str | URL, **engine_options: Any) -> None:
        self.url = normalize_url(url)
        if self.url.get_backend_name() == "sqlite":
            engine_options.setdefault("connect_args", {}).setdefault("timeout", 30)
        elif (
            self.url.get_backend_name() == "postgresql" and "connect_timeout" not in self.url.query
        ):
            engine_options.setdefault("connect_args", {}).setdefault("connect_timeout", 5)
        self.engine: Engine = create_engine(self.url, **engine_options)
        if self.url.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        elif "pool_pre_ping" not in engine_options:  # set: the operator chose SQLAlchemy's own
            for moment in ("connect", "checkin"):
                event.listen(self.engine, moment, _note_last_use)
            event.listen(self.engine, "checkout", _ping_if_idle(self.engine.dialect))
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for work outside a request; rolled back unless committed, then closed."""
        with self.sessionmaker() as session:
            yield session

    def ping(self) -> None:
        """Raise unless the database answers ``SELECT 1``."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def upgrade(self, revision: str = "head") -> None:
        """Apply the migrations up to ``revision``; serialised across workers on PostgreSQL."""
        from alembic import command

        postgres = self.engine.dialect.name == "postgresql"
        with self.engine.connect() as conn:
            if postgres:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                conn.commit()
            try:
                config = alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
                conn.commit()
            finally:
                if postgres:
                    conn.rollback()
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                    conn.commit()

    def dispose(self) -> None:
        """Close every pooled connection (tests, shutdown)."""
        self.engine.dispose()


def alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


# Threads of a process that hold a database session besides its request or job threads: the
# sweeper, a job's lease heartbeat, the outbox dispatcher and a command's own session.
_BACKGROUND_SESSIONS = 4


def pool_size(config: Mapping[str, Any]) -> int:
    """Connections a process keeps open: one per thread that can hold a session at once.

    SQLAlchemy's default (5, closing overflow connections when they come back) is below the
    threads a gunicorn web process or a worker process runs: under load every request beyond
    the fifth would open a new PostgreSQL connection (a new server process) and close it again.
    """
    threads = max(
        int(config.get("MULESIGHT_SERVE_THREADS") or 1),
        int(config.get("MULESIGHT_WORKER_THREADS") or 1),
        int(config.get("MULESIGHT_JOB_THREADS") or 1),
    )
    return threads + _BACKGROUND_SESSIONS


def init_app(app: Flask) -> None:
    options = dict(app.config.get("DB_ENGINE_OPTIONS") or {})
    if normalize_url(app.config["MULESIGHT_DATABASE_URL"]).get_backend_name() == "postgresql":
        options.setdefault("pool_size", pool_size(app.config))
    db = Database(app.config["MULESIGHT_DATABASE_URL"], **options)
    app.extensions["db"] = db
    if app.config["MULESIGHT_AUTO_MIGRATE"]:
        db.upgrade()
    app.teardown_appcontext(_close_session)


def get_db() -> Database:
    db: Database = current_app.extensions["db"]
    return db


def get_session() -> Session:
    """The session of the current app context (created on first use)."""
    if "db_session" not in g:
        g.db_session = get_db().sessionmaker()
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()
