"""Event and assignment callbacks: which events owe a callback, and how far delivery got.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("callback_url", sa.Text))
        batch.add_column(sa.Column("assignment_url", sa.Text))
        batch.add_column(sa.Column("assignment_fallback_url", sa.Text))
    op.create_table(
        "callback_cursors",
        sa.Column("workspace_sid", sa.String(34), primary_key=True),
        sa.Column("events_seq", sa.BigInteger, nullable=False),
        sa.Column("assignments_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "callback_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace_sid", sa.String(34), nullable=False),
        sa.Column("event_sid", sa.String(34), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("failed_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_callback_failures_workspace", "callback_failures", ["workspace_sid"])


def downgrade() -> None:
    op.drop_table("callback_failures")
    op.drop_table("callback_cursors")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("assignment_fallback_url")
        batch.drop_column("assignment_url")
        batch.drop_column("callback_url")
