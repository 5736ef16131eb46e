"""Tasks and reservations, with the routing state that makes their timers durable.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SID = sa.String(34)


def _common() -> list[sa.Column[object]]:
    return [sa.Column("sid", SID, primary_key=True),
            sa.Column("account_sid", SID, nullable=False),
            sa.Column("workspace_sid", SID, nullable=False)]


def _times() -> list[sa.Column[int]]:
    return [sa.Column("date_created", sa.BigInteger, nullable=False),
            sa.Column("date_updated", sa.BigInteger, nullable=False)]


def upgrade() -> None:
    op.create_table(
        "tasks",
        *_common(),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("assignment_status", sa.String(16), nullable=False),
        sa.Column("priority", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("timeout", sa.Integer, nullable=False),
        sa.Column("task_channel_sid", SID, nullable=False),
        sa.Column("workflow_sid", SID),
        sa.Column("task_queue_sid", SID),
        sa.Column("routing_target", SID),
        sa.Column("ignore_capacity", sa.Boolean),
        sa.Column("virtual_start_time", sa.BigInteger, nullable=False),
        sa.Column("task_queue_entered_date", sa.BigInteger),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("filter_index", sa.Integer),
        sa.Column("target_index", sa.Integer, nullable=False),
        sa.Column("step_deadline", sa.BigInteger),
        sa.Column("filter_entered", sa.BigInteger),
        sa.Column("assignment_count", sa.Integer, nullable=False),
        sa.Column("purge_at", sa.BigInteger),
        *_times(),
    )
    op.create_index("ix_tasks_workspace_sid", "tasks", ["workspace_sid"])
    op.create_table(
        "reservations",
        *_common(),
        sa.Column("task_sid", SID, nullable=False),
        sa.Column("worker_sid", SID, nullable=False),
        sa.Column("reservation_status", sa.String(16), nullable=False),
        sa.Column("task_channel_sid", SID, nullable=False),
        sa.Column("task_queue_sid", SID),
        sa.Column("workflow_sid", SID),
        sa.Column("timeout_at", sa.BigInteger),
        sa.Column("previous_activity_sid", SID),
        sa.Column("version", sa.Integer, nullable=False),
        *_times(),
    )
    op.create_index("ix_reservations_workspace_sid", "reservations", ["workspace_sid"])
    op.create_index("ix_reservations_task_sid", "reservations", ["task_sid"])


def downgrade() -> None:
    op.drop_table("reservations")
    op.drop_table("tasks")
