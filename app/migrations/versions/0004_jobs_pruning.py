"""Finished jobs are pruned after a retention: an index to find them by status and end time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_jobs_status_finished_at"), "jobs", ["status", "finished_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_jobs_status_finished_at"), table_name="jobs")
