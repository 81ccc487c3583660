"""Storage on SQLite and PostgreSQL: migrations, encryption at rest, constraints, tenancy."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import storage
from app.crypto import SecretBox
from app.db import alembic_config, normalize_url
from app.models import Base, DatasetSnapshot, Installation, Space, SupportToken
from tests.app.conftest import CLOUD_A, CLOUD_B, SITE_A, SITE_B, make_app

SECRET = "Anyp0int-Client-Secret-7f3e9a1b"


@pytest.fixture
def app(app_config: dict[str, Any], database_url: str) -> Iterator[Flask]:
    app = make_app({**app_config, "MULESIGHT_DATABASE_URL": database_url})
    yield app
    app.extensions["db"].dispose()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.extensions["db"].session() as session:
        storage.ensure_installation(session, SITE_A, CLOUD_A)
        storage.ensure_installation(session, SITE_B, CLOUD_B)
        session.commit()
        yield session


@pytest.fixture
def box(app: Flask) -> SecretBox:
    return app.extensions["secret_box"]


def save(
    session: Session, box: SecretBox, site: str = SITE_A, key: str = "OPS", **kw: Any
) -> Space:
    fields = {
        "client_id": "client-1",
        "control_plane": "us",
        "sync_interval_hours": 24,
        "client_secret": SECRET,
        **kw,
    }
    space = storage.save_connection(session, box, site, space_key=key, **fields)
    session.commit()  # the test is the unit of work
    return space


def test_migrations_apply_and_reach_head(app: Flask) -> None:
    engine = app.extensions["db"].engine
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head
    tables = set(sa.inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    app.extensions["db"].upgrade()  # a second run is a no-op


def test_models_and_migrations_agree(app: Flask) -> None:
    engine = app.extensions["db"].engine
    with engine.connect() as conn, warnings.catch_warnings():
        # SQLite cannot reflect the expression index: test_one_snapshot_per_... checks it.
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


def test_secret_is_encrypted_at_rest(app: Flask, session: Session, box: SecretBox) -> None:
    space = save(session, box)
    with app.extensions["db"].engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM spaces WHERE id = :id"), {"id": space.id}).one()
    raw = " ".join(str(value) for value in row)
    assert SECRET not in raw
    assert row.client_secret_encrypted.startswith("gAAAA")  # a Fernet token
    assert storage.connection_for(space, box).client_secret == SECRET
    assert storage.get_space(session, SITE_A, "OPS").client_secret_set


def test_a_different_secret_key_cannot_decrypt(session: Session, box: SecretBox) -> None:
    space = save(session, box)
    from app.crypto import SecretDecryptionError

    with pytest.raises(SecretDecryptionError):
        storage.connection_for(space, SecretBox("another-secret-key-of-enough-length"))


def test_saving_without_a_secret_keeps_the_stored_one(session: Session, box: SecretBox) -> None:
    save(session, box)
    space = save(session, box, client_secret=None, client_id="client-2")
    assert space.client_id == "client-2"
    assert storage.connection_for(space, box).client_secret == SECRET


def test_space_key_is_unique_per_installation(session: Session, box: SecretBox) -> None:
    save(session, box, SITE_A, "OPS")
    save(session, box, SITE_B, "OPS")  # the same key on another site is another space
    session.add(Space(installation_id=SITE_A, key="OPS", client_id="dup"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    assert {s.installation_id for s in session.scalars(sa.select(Space))} == {SITE_A, SITE_B}


def test_sync_interval_at_least_one_hour_in_the_database(session: Session) -> None:
    session.add(Space(installation_id=SITE_A, key="ZERO", client_id="c", sync_interval_hours=0))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_space_needs_a_known_installation(session: Session) -> None:
    session.add(
        Space(installation_id="ari:cloud:ecosystem::installation/nope", key="X", client_id="c")
    )
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_one_snapshot_per_space_dataset_environment(session: Session, box: SecretBox) -> None:
    space = save(session, box)
    session.add(DatasetSnapshot(space_id=space.id, dataset="exchange", environment_id=None))
    session.add(DatasetSnapshot(space_id=space.id, dataset="exchange", environment_id="env-1"))
    session.commit()
    session.add(DatasetSnapshot(space_id=space.id, dataset="exchange", environment_id=None))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    session.add(DatasetSnapshot(space_id=space.id, dataset="exchange", environment_id="env-1"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_support_token_role_is_checked(session: Session) -> None:
    session.add(SupportToken(name="x", role="admin", prefix="0000", token_hash="0" * 64))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_times_come_back_as_aware_utc(session: Session) -> None:
    melbourne = timezone(timedelta(hours=11))
    created = datetime(2026, 11, 23, 10, 0, tzinfo=melbourne)
    session.add(
        Installation(id="ari:cloud:ecosystem::installation/t", cloud_id="c", created_at=created)
    )
    session.commit()
    session.expire_all()
    stored = session.get(Installation, "ari:cloud:ecosystem::installation/t")
    assert stored is not None
    assert stored.created_at == created
    assert stored.created_at.tzinfo == UTC


def test_another_tenants_space_is_not_found(session: Session, box: SecretBox) -> None:
    save(session, box, SITE_A, "OPS")
    with pytest.raises(storage.NotFound):
        storage.get_space(session, SITE_B, "OPS")
    assert storage.list_spaces(session, SITE_B) == []


def test_ensure_installation_is_idempotent(session: Session) -> None:
    first = storage.ensure_installation(session, SITE_A, CLOUD_A)
    again = storage.ensure_installation(session, SITE_A, CLOUD_A)
    assert first is again
    assert session.scalar(sa.select(sa.func.count()).select_from(Installation)) == 2


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_database_urls_use_psycopg(given: str, driver: str) -> None:
    assert normalize_url(given).drivername == driver
