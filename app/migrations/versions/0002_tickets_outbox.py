"""Tickets and outbox: public/internal comments and attachments, labels, the installation a
ticket was matched to, and the outbox's status, claim and result.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("installation_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("labels", JSON, nullable=False, server_default=sa.text("'[]'")))
        batch.create_index(batch.f("ix_tickets_installation_id"), ["installation_id"])
    for table in ("ticket_comments", "ticket_attachments"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false())
            )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'pending'"))
        )
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("result", JSON, nullable=True))
        batch.create_index(
            batch.f("ix_outbox_status_next_attempt_at"), ["status", "next_attempt_at"]
        )
    # Rows delivered before this revision.
    op.execute("UPDATE outbox SET status = 'delivered' WHERE delivered_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index(batch.f("ix_outbox_status_next_attempt_at"))
        for column in ("result", "claimed_until", "claimed_by", "status"):
            batch.drop_column(column)
    for table in ("ticket_attachments", "ticket_comments"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("public")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index(batch.f("ix_tickets_installation_id"))
        batch.drop_column("labels")
        batch.drop_column("installation_id")
