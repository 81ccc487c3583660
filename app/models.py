"""The service's tables (SQLAlchemy 2 declarative, typed).

Tenancy: an :class:`Installation` is one Confluence site's installation of the Forge app; every
tenant-owned row hangs off it (directly, or through its :class:`Space`). Queries on tenant data
always filter by ``installation_id`` — see :mod:`app.storage`.

Times are timezone-aware UTC in Python (:class:`UTCDateTime`). Secrets are never stored in clear:
``Space.client_secret_encrypted`` holds a Fernet token (:mod:`app.crypto`), ``SupportToken``
holds a SHA-256 hash.

The schema itself is created by the Alembic migrations in ``app/migrations``; change both together
(``tests/app/test_storage.py`` checks that they agree).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app import clock
from diagnostics.model import DEFAULT_SYNC_INTERVAL_HOURS

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SUPPORT_ROLES = ("viewer", "support")


def utcnow() -> datetime:
    """Column defaults take the app's clock (see :mod:`app.clock`)."""
    return clock.now()


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


class Installation(Base):
    """One Confluence site's installation of the app; ``id`` is Forge's ``app.installationId``."""

    __tablename__ = "installations"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    cloud_id: Mapped[str] = mapped_column(String(255), index=True)
    site_url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Space(Base):
    """A Confluence space of an installation and its MuleSight connection (connected app)."""

    __tablename__ = "spaces"
    __table_args__ = (
        UniqueConstraint("installation_id", "key"),
        CheckConstraint("sync_interval_hours >= 1", name="sync_interval_hours_min"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[str] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    organization_id: Mapped[str | None] = mapped_column(String(255))
    control_plane: Mapped[str] = mapped_column(String(16), default="us")
    base_url: Mapped[str | None] = mapped_column(String(2048))
    scenario: Mapped[str | None] = mapped_column(String(255))
    sync_interval_hours: Mapped[int] = mapped_column(default=DEFAULT_SYNC_INTERVAL_HOURS)
    datasets_enabled: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_refresh_scheduled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def client_secret_set(self) -> bool:
        return self.client_secret_encrypted is not None


class DatasetSnapshot(Base):
    """The cached result of one dataset for a space (and environment, when per environment)."""

    __tablename__ = "dataset_snapshots"
    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    dataset: Mapped[str] = mapped_column(String(64))
    environment_id: Mapped[str | None] = mapped_column(String(255))
    fetched_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    coverage: Mapped[str | None] = mapped_column(String(32))
    item_count: Mapped[int | None]
    payload: Mapped[dict[str, Any] | None]
    asset_version: Mapped[str | None] = mapped_column(String(255))


# One snapshot per (space, dataset, environment), a NULL environment counting as one value: a plain
# unique constraint would let any number of NULL-environment rows in.
Index(
    "uq_dataset_snapshots_space_dataset_env",
    DatasetSnapshot.space_id,
    DatasetSnapshot.dataset,
    func.coalesce(DatasetSnapshot.environment_id, ""),
    unique=True,
)


class RenderEvent(Base):
    """One macro render reported by the Confluence app (telemetry)."""

    __tablename__ = "render_events"
    __table_args__ = (Index(None, "space_id", "page_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    macro: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str | None] = mapped_column(String(32))
    page_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class DiagnosticRun(Base):
    """A stored diagnostics report. ``space_id`` is NULL for a site-wide run (self-check)."""

    __tablename__ = "diagnostic_runs"
    __table_args__ = (Index(None, "installation_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    installation_id: Mapped[str] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    space_id: Mapped[int | None] = mapped_column(
        ForeignKey("spaces.id", ondelete="CASCADE"), index=True
    )
    report: Mapped[dict[str, Any]]
    verdict: Mapped[str] = mapped_column(String(16))
    # Who asked: "forge:<accountId>", "support:<token name>", "webhook:<ticket key>".
    requested_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    """Who did what to which tenant's data. Not tied by foreign keys: it outlives what it names."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    installation_id: Mapped[str | None] = mapped_column(String(255), index=True)
    space_key: Mapped[str | None] = mapped_column(String(255))
    target: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SupportToken(Base):
    """A support API token: only its SHA-256 hash is stored; ``prefix`` finds the row."""

    __tablename__ = "support_tokens"
    __table_args__ = (
        CheckConstraint(
            "role IN ({})".format(", ".join(f"'{r}'" for r in SUPPORT_ROLES)), name="role_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Ticket(Base):
    """A ticket of the local ticket store (used when Service Management is not configured)."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)  # e.g. MSUP-1
    site_url: Mapped[str | None] = mapped_column(String(2048))
    # The installation the ticket was matched to (no foreign key: a ticket outlives an uninstall).
    installation_id: Mapped[str | None] = mapped_column(String(255), index=True)
    summary: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), default="open")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    labels: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TicketComment(Base):
    """A comment; ``public`` ones are shown to the customer, the others to agents only."""

    __tablename__ = "ticket_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketAttachment(Base):
    """A file attached to a ticket: text in ``body_text`` or binary in ``body_bytes``."""

    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str | None] = mapped_column(Text)
    body_bytes: Mapped[bytes | None] = mapped_column(LargeBinary)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """A verified webhook delivery; ``delivery_id`` (idempotency key) makes redelivery a no-op."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(255), unique=True)
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="received")
    error: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    """A call to an external system (JSM, ...) to deliver at least once, in order of creation.

    ``status``: ``pending`` → ``delivered`` (``result`` holds the ids the system answered) or
    ``dead`` (gave up; ``last_error`` says why). A worker owns a pending message while
    ``claimed_until`` is in the future (see :mod:`app.services.outbox`).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index(None, "delivered_at", "next_attempt_at"),
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    target: Mapped[str] = mapped_column(String(32))  # the target system, e.g. "jsm"
    operation: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """A unit of background work: the record the queue only points at (design note 13).

    ``key`` makes submitting twice a no-op (``"event:12"``, ``"run:<uuid>"``). ``status``:
    ``queued`` → ``running`` → ``done`` or ``failed`` (gave up; ``error`` says why). While
    ``running``, ``lease_until`` is the worker's lease; while ``queued``, it is when the sweeper
    wakes the job again if no worker has taken it (a lost wake-up, a retry's backoff).
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index(None, "status", "lease_until"),
        Index(None, "status", "finished_at"),  # pruning finished jobs
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    installation_id: Mapped[str | None] = mapped_column(String(255), index=True)
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
