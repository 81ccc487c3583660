"""PostgreSQL connection pool: a connection in steady use goes straight to work; one idle in the
pool is pinged first, and replaced when the server dropped it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import app.db
from app.db import Database
from tests.app.conftest import POSTGRES_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def database(postgres_admin: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    db = Database(POSTGRES_URL)
    pings: list[object] = []
    real_ping = db.engine.dialect.do_ping

    def counted_ping(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(db.engine.dialect, "do_ping", counted_ping)
    db.pings = pings  # type: ignore[attr-defined]
    yield db
    db.dispose()


def _backend_pid(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.scalar(sa.text("SELECT pg_backend_pid()")))


def _drop(admin: sa.Engine, pid: int) -> None:
    """What a server restart does to a pooled connection."""
    with admin.begin() as conn:
        assert conn.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def test_a_connection_in_steady_use_is_not_pinged(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.db, "IDLE_PING_S", 3600.0)
    assert sa.event.contains(database.engine, "checkin", app.db._note_last_use)

    first, second = _backend_pid(database), _backend_pid(database)

    assert first == second  # the same pooled connection, reused
    assert database.pings == []  # type: ignore[attr-defined]


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    database: Database, postgres_admin: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend_pid(database)
    _drop(postgres_admin, first)
    monkeypatch.setattr(app.db, "IDLE_PING_S", 0.0)  # every pooled connection counts as idle

    second = _backend_pid(database)  # no error: the ping failed, a new connection took over

    assert second != first
    assert len(database.pings) == 2  # type: ignore[attr-defined]  # the dead one, then the new one


def test_a_drop_inside_the_idle_window_costs_one_statement_then_the_pool_reconnects(
    database: Database, postgres_admin: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The price of not pinging a busy connection, and why it is small: the failed statement is
    an error its caller sees (a webhook is delivered again, a job retried), and the pool drops
    every connection opened before it."""
    monkeypatch.setattr(app.db, "IDLE_PING_S", 3600.0)
    first = _backend_pid(database)
    _drop(postgres_admin, first)

    with pytest.raises(sa.exc.OperationalError) as failed:
        _backend_pid(database)

    assert failed.value.connection_invalidated
    assert _backend_pid(database) != first


def test_an_operator_choosing_sqlalchemys_pre_ping_gets_it(postgres_admin: sa.Engine) -> None:
    db = Database(POSTGRES_URL, pool_pre_ping=True)
    try:
        assert db.engine.pool._pre_ping  # SQLAlchemy's own flag
        assert not sa.event.contains(db.engine, "checkin", app.db._note_last_use)
        assert _backend_pid(db) > 0
    finally:
        db.dispose()
