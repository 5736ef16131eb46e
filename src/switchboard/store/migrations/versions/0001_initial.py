"""Accounts, keys, the configuration resources and the event log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SID = sa.String(34)


def _times() -> list[sa.Column[int]]:
    return [sa.Column("date_created", sa.BigInteger, nullable=False),
            sa.Column("date_updated", sa.BigInteger, nullable=False)]


def _child(name: str, *columns: sa.Column[object]) -> None:
    op.create_table(
        name,
        sa.Column("sid", SID, primary_key=True),
        sa.Column("account_sid", SID, nullable=False),
        sa.Column("workspace_sid", SID, nullable=False),
        *columns,
        *_times(),
    )
    op.create_index(f"ix_{name}_workspace_sid", name, ["workspace_sid"])


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("sid", SID, primary_key=True),
        sa.Column("friendly_name", sa.String(64), nullable=False),
        sa.Column("auth_token", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        *_times(),
    )
    op.create_table(
        "api_keys",
        sa.Column("sid", SID, primary_key=True),
        sa.Column("account_sid", SID, nullable=False),
        sa.Column("friendly_name", sa.String(64), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        *_times(),
    )
    op.create_index("ix_api_keys_account_sid", "api_keys", ["account_sid"])
    op.create_table(
        "workspaces",
        sa.Column("sid", SID, primary_key=True),
        sa.Column("account_sid", SID, nullable=False),
        sa.Column("friendly_name", sa.String(64), nullable=False),
        sa.Column("event_callback_url", sa.Text),
        sa.Column("events_filter", sa.Text),
        sa.Column("multi_task_enabled", sa.Boolean, nullable=False),
        sa.Column("prioritize_queue_order", sa.String(4), nullable=False),
        sa.Column("default_activity_sid", SID),
        sa.Column("timeout_activity_sid", SID),
        *_times(),
    )
    op.create_index("ix_workspaces_account_sid", "workspaces", ["account_sid"])
    _child(
        "activities",
        sa.Column("friendly_name", sa.String(64), nullable=False),
        sa.Column("available", sa.Boolean, nullable=False),
    )
    _child(
        "task_channels",
        sa.Column("friendly_name", sa.String(64), nullable=False),
        sa.Column("unique_name", sa.String(64), nullable=False),
        sa.Column("channel_optimized_routing", sa.Boolean),
    )
    _child(
        "workers",
        sa.Column("friendly_name", sa.String(64), nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("activity_sid", SID, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("date_status_changed", sa.BigInteger, nullable=False),
        sa.Column("idle_since", sa.BigInteger, nullable=False),
    )
    _child(
        "worker_channels",
        sa.Column("worker_sid", SID, nullable=False),
        sa.Column("task_channel_sid", SID, nullable=False),
        sa.Column("configured_capacity", sa.Integer, nullable=False),
        sa.Column("available", sa.Boolean, nullable=False),
    )
    _child(
        "task_queues",
        sa.Column("friendly_name", sa.String(64), nullable=False),
        sa.Column("target_workers", sa.Text, nullable=False),
        sa.Column("max_reserved_workers", sa.Integer, nullable=False),
        sa.Column("task_order", sa.String(4), nullable=False),
        sa.Column("reservation_activity_sid", SID),
        sa.Column("assignment_activity_sid", SID),
    )
    _child(
        "workflows",
        sa.Column("friendly_name", sa.String(64), nullable=False),
        sa.Column("configuration", sa.Text, nullable=False),
        sa.Column("assignment_callback_url", sa.Text),
        sa.Column("fallback_assignment_callback_url", sa.Text),
        sa.Column("task_reservation_timeout", sa.Integer, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("sid", SID, primary_key=True),
        sa.Column("account_sid", SID, nullable=False),
        sa.Column("workspace_sid", SID, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("event_date", sa.BigInteger, nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_sid", SID, nullable=False),
        sa.Column("actor_type", sa.String(32)),
        sa.Column("actor_sid", SID),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("task_sid", SID),
        sa.Column("worker_sid", SID),
        sa.Column("reservation_sid", SID),
        sa.Column("task_queue_sid", SID),
        sa.Column("workflow_sid", SID),
        sa.Column("task_channel", sa.String(64)),
        sa.UniqueConstraint("workspace_sid", "seq", name="uq_events_workspace_seq"),
    )
    op.create_index("ix_events_workspace_date", "events", ["workspace_sid", "event_date"])


def downgrade() -> None:
    for table in ("events", "workflows", "task_queues", "worker_channels", "workers",
                  "task_channels", "activities", "workspaces", "api_keys", "accounts"):
        op.drop_table(table)
