"""Initial schema: tenants, spaces and caches, telemetry, runs, audit, support tokens, tickets.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column[Any]:
    return sa.Column("id", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "installations",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("cloud_id", sa.String(255), nullable=False),
        sa.Column("site_url", sa.String(2048), nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installations")),
    )
    op.create_index(op.f("ix_installations_cloud_id"), "installations", ["cloud_id"])

    op.create_table(
        "spaces",
        _id(),
        sa.Column("installation_id", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("client_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("organization_id", sa.String(255), nullable=True),
        sa.Column("control_plane", sa.String(16), nullable=False),
        sa.Column("base_url", sa.String(2048), nullable=True),
        sa.Column("scenario", sa.String(255), nullable=True),
        sa.Column("sync_interval_hours", sa.Integer(), nullable=False),
        sa.Column("datasets_enabled", JSON, nullable=False),
        _time("last_refresh_scheduled_at", nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.CheckConstraint(
            "sync_interval_hours >= 1", name=op.f("ck_spaces_sync_interval_hours_min")
        ),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installations.id"],
            name=op.f("fk_spaces_installation_id_installations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spaces")),
        sa.UniqueConstraint("installation_id", "key", name=op.f("uq_spaces_installation_id_key")),
    )
    op.create_index(op.f("ix_spaces_installation_id"), "spaces", ["installation_id"])

    op.create_table(
        "dataset_snapshots",
        _id(),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("environment_id", sa.String(255), nullable=True),
        _time("fetched_at", nullable=True),
        _time("last_attempt_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("coverage", sa.String(32), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=True),
        sa.Column("payload", JSON, nullable=True),
        sa.Column("asset_version", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["space_id"],
            ["spaces.id"],
            name=op.f("fk_dataset_snapshots_space_id_spaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_snapshots")),
    )
    # NULL environments count as one value (a unique constraint would treat them as distinct).
    op.create_index(
        "uq_dataset_snapshots_space_dataset_env",
        "dataset_snapshots",
        ["space_id", "dataset", sa.text("coalesce(environment_id, '')")],
        unique=True,
    )

    op.create_table(
        "render_events",
        _id(),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("macro", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(32), nullable=True),
        sa.Column("page_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _time("at"),
        _time("received_at"),
        sa.ForeignKeyConstraint(
            ["space_id"],
            ["spaces.id"],
            name=op.f("fk_render_events_space_id_spaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_render_events")),
    )
    op.create_index(
        op.f("ix_render_events_space_id_page_id"), "render_events", ["space_id", "page_id"]
    )

    op.create_table(
        "diagnostic_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("installation_id", sa.String(255), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=True),
        sa.Column("report", JSON, nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        _time("created_at"),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installations.id"],
            name=op.f("fk_diagnostic_runs_installation_id_installations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["space_id"],
            ["spaces.id"],
            name=op.f("fk_diagnostic_runs_space_id_spaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnostic_runs")),
    )
    op.create_index(
        op.f("ix_diagnostic_runs_installation_id_created_at"),
        "diagnostic_runs",
        ["installation_id", "created_at"],
    )
    op.create_index(op.f("ix_diagnostic_runs_space_id"), "diagnostic_runs", ["space_id"])

    op.create_table(
        "audit_log",
        _id(),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("installation_id", sa.String(255), nullable=True),
        sa.Column("space_key", sa.String(255), nullable=True),
        sa.Column("target", sa.String(255), nullable=True),
        _time("at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_installation_id"), "audit_log", ["installation_id"])

    op.create_table(
        "support_tokens",
        _id(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _time("created_at"),
        _time("last_used_at", nullable=True),
        _time("revoked_at", nullable=True),
        sa.CheckConstraint(
            "role IN ('viewer', 'support')", name=op.f("ck_support_tokens_role_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_support_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_support_tokens_token_hash")),
    )
    op.create_index(op.f("ix_support_tokens_prefix"), "support_tokens", ["prefix"])

    op.create_table(
        "tickets",
        _id(),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("site_url", sa.String(2048), nullable=True),
        sa.Column("summary", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(16), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("key", name=op.f("uq_tickets_key")),
    )
    op.create_table(
        "ticket_comments",
        _id(),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _time("created_at"),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_comments_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_comments")),
    )
    op.create_index(op.f("ix_ticket_comments_ticket_id"), "ticket_comments", ["ticket_id"])
    op.create_table(
        "ticket_attachments",
        _id(),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.Column("body_bytes", sa.LargeBinary(), nullable=True),
        _time("created_at"),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_attachments_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_attachments")),
    )
    op.create_index(op.f("ix_ticket_attachments_ticket_id"), "ticket_attachments", ["ticket_id"])

    op.create_table(
        "webhook_events",
        _id(),
        sa.Column("delivery_id", sa.String(255), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        _time("received_at"),
        _time("processed_at", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_webhook_events_delivery_id")),
    )
    op.create_table(
        "outbox",
        _id(),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _time("delivered_at", nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    op.create_index(
        op.f("ix_outbox_delivered_at_next_attempt_at"),
        "outbox",
        ["delivered_at", "next_attempt_at"],
    )


def downgrade() -> None:
    for table in (
        "outbox",
        "webhook_events",
        "ticket_attachments",
        "ticket_comments",
        "tickets",
        "support_tokens",
        "audit_log",
        "diagnostic_runs",
        "render_events",
        "dataset_snapshots",
        "spaces",
        "installations",
    ):
        op.drop_table(table)
