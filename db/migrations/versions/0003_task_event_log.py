"""The durable task event log and its per-user counters (SPEC §7).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_events",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "seq", name="pk_task_events"),
    )
    op.create_index("ix_task_events_created_at", "task_events", ["created_at"])
    op.create_table(
        "task_event_counters",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("user_id", name="pk_task_event_counters"),
    )


def downgrade() -> None:
    op.drop_table("task_event_counters")
    op.drop_table("task_events")
