"""The schema. Entity tables have one column per stored field of the matching dataclass in
``routing/model.py``; times are epoch milliseconds. Changes go through Alembic migrations."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

SID = String(34)


def _sid() -> Column[str]:
    return Column("sid", SID, primary_key=True)


def _times() -> list[Column[int]]:
    return [Column("date_created", BigInteger, nullable=False),
            Column("date_updated", BigInteger, nullable=False)]


accounts = Table(
    "accounts", metadata,
    _sid(),
    Column("friendly_name", String(64), nullable=False),
    Column("auth_token", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    *_times(),
)

api_keys = Table(
    "api_keys", metadata,
    _sid(),
    Column("account_sid", SID, nullable=False, index=True),
    Column("friendly_name", String(64), nullable=False),
    Column("secret", String(64), nullable=False),
    *_times(),
)

# One row whose version moves with every change of accounts or api_keys, in the same
# transaction: servers poll it to reload credentials changed by another process or node.
credentials_version = Table(
    "credentials_version", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)

# The manual clock's time (``serve --clock manual``), one row, so it survives a restart.
manual_clock = Table(
    "manual_clock", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("now_ms", BigInteger, nullable=False),
)

# The nodes sharing this database (PostgreSQL only), each seen at its last heartbeat.
cluster_nodes = Table(
    "cluster_nodes", metadata,
    Column("id", String(128), primary_key=True),
    Column("url", Text, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("leaving", Boolean, nullable=False),
)

# Which node owns each workspace: a lease until ``expires_at`` (the database's clock, ms) and
# an epoch that grows with every change of owner; every commit of the workspace checks it.
# ``pinned``: an operator's choice of node, overriding placement while that node is live.
workspace_leases = Table(
    "workspace_leases", metadata,
    Column("workspace_sid", SID, primary_key=True),
    Column("owner", String(128)),
    Column("epoch", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("pinned", String(128)),
)

workspaces = Table(
    "workspaces", metadata,
    _sid(),
    Column("account_sid", SID, nullable=False, index=True),
    Column("friendly_name", String(64), nullable=False),
    Column("event_callback_url", Text),
    Column("events_filter", Text),
    Column("multi_task_enabled", Boolean, nullable=False),
    Column("prioritize_queue_order", String(4), nullable=False),
    Column("default_activity_sid", SID),
    Column("timeout_activity_sid", SID),
    *_times(),
)


def _workspace_child(name: str, *columns: Column[object]) -> Table:
    return Table(
        name, metadata,
        _sid(),
        Column("account_sid", SID, nullable=False),
        Column("workspace_sid", SID, nullable=False, index=True),
        *columns,
        *_times(),
    )


activities = _workspace_child(
    "activities",
    Column("friendly_name", String(64), nullable=False),
    Column("available", Boolean, nullable=False),
)

task_channels = _workspace_child(
    "task_channels",
    Column("friendly_name", String(64), nullable=False),
    Column("unique_name", String(64), nullable=False),
    Column("channel_optimized_routing", Boolean),
)

workers = _workspace_child(
    "workers",
    Column("friendly_name", String(64), nullable=False),
    Column("attributes", Text, nullable=False),
    Column("activity_sid", SID, nullable=False),
    Column("version", Integer, nullable=False),
    Column("date_status_changed", BigInteger, nullable=False),
    Column("idle_since", BigInteger, nullable=False),
)

worker_channels = _workspace_child(
    "worker_channels",
    Column("worker_sid", SID, nullable=False),
    Column("task_channel_sid", SID, nullable=False),
    Column("configured_capacity", Integer, nullable=False),
    Column("available", Boolean, nullable=False),
)

task_queues = _workspace_child(
    "task_queues",
    Column("friendly_name", String(64), nullable=False),
    Column("target_workers", Text, nullable=False),
    Column("max_reserved_workers", Integer, nullable=False),
    Column("task_order", String(4), nullable=False),
    Column("reservation_activity_sid", SID),
    Column("assignment_activity_sid", SID),
)

workflows = _workspace_child(
    "workflows",
    Column("friendly_name", String(64), nullable=False),
    Column("configuration", Text, nullable=False),
    Column("assignment_callback_url", Text),
    Column("fallback_assignment_callback_url", Text),
    Column("task_reservation_timeout", Integer, nullable=False),
)

tasks = _workspace_child(
    "tasks",
    Column("seq", BigInteger, nullable=False),
    Column("attributes", Text, nullable=False),
    Column("assignment_status", String(16), nullable=False),
    Column("priority", BigInteger, nullable=False),
    Column("reason", Text),
    Column("timeout", Integer, nullable=False),
    Column("task_channel_sid", SID, nullable=False),
    Column("workflow_sid", SID),
    Column("task_queue_sid", SID),
    Column("routing_target", SID),
    Column("ignore_capacity", Boolean),
    Column("virtual_start_time", BigInteger, nullable=False),
    Column("task_queue_entered_date", BigInteger),
    Column("version", Integer, nullable=False),
    Column("filter_index", Integer),
    Column("target_index", Integer, nullable=False),
    Column("step_deadline", BigInteger),
    Column("filter_entered", BigInteger),
    Column("assignment_count", Integer, nullable=False),
    Column("purge_at", BigInteger),
)

reservations = _workspace_child(
    "reservations",
    Column("task_sid", SID, nullable=False, index=True),
    Column("worker_sid", SID, nullable=False),
    Column("reservation_status", String(16), nullable=False),
    Column("task_channel_sid", SID, nullable=False),
    Column("task_queue_sid", SID),
    Column("workflow_sid", SID),
    Column("timeout_at", BigInteger),
    Column("previous_activity_sid", SID),
    Column("version", Integer, nullable=False),
    Column("transfer_sid", SID),
)

transfers = _workspace_child(
    "transfers",
    Column("task_sid", SID, nullable=False, index=True),
    Column("initiating_reservation_sid", SID, nullable=False),
    Column("initiating_worker_sid", SID, nullable=False),
    Column("initiating_queue_sid", SID),
    Column("initiating_workflow_sid", SID),
    Column("transfer_type", String(16), nullable=False),
    Column("transfer_to", SID, nullable=False),
    Column("transfer_mode", String(16), nullable=False),
    Column("transfer_status", String(16), nullable=False),
    Column("transfer_failed_reason", Text),
)

events = Table(
    "events", metadata,
    _sid(),
    Column("account_sid", SID, nullable=False),
    Column("workspace_sid", SID, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("event_date", BigInteger, nullable=False),
    Column("resource_type", String(32), nullable=False),
    Column("resource_sid", SID, nullable=False),
    # Never written: every event's actor is its workspace (the Events API says so).
    Column("actor_type", String(32)),
    Column("actor_sid", SID),
    Column("description", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("task_sid", SID),
    Column("worker_sid", SID),
    Column("reservation_sid", SID),
    Column("task_queue_sid", SID),
    Column("workflow_sid", SID),
    Column("task_channel", String(64)),
    # Where this event is owed a callback, decided when it happened (null: none owed).
    Column("callback_url", Text),
    Column("assignment_url", Text),
    Column("assignment_fallback_url", Text),
    UniqueConstraint("workspace_sid", "seq", name="uq_events_workspace_seq"),
    Index("ix_events_workspace_date", "workspace_sid", "event_date"),
)

# Statistics rollups (``stats/rollups.py``): per workspace, scope (workspace, queue, workflow,
# worker), figure, TaskChannel ('' for none) and period (a minute, an hour or a day: its
# ``span`` and ``period_start``, epoch ms), how many occurrences and, for wait figures, their
# total, least and greatest wait (ms). Written in the transaction of the events they count.
stat_rollups = Table(
    "stat_rollups", metadata,
    Column("workspace_sid", SID, primary_key=True),
    Column("scope", String(16), primary_key=True),
    Column("scope_sid", String(34), primary_key=True),  # '' for the workspace
    Column("span", BigInteger, primary_key=True),
    Column("period_start", BigInteger, primary_key=True),
    Column("figure", String(32), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("minimum", BigInteger, nullable=False),
    Column("maximum", BigInteger, nullable=False),
    sqlite_with_rowid=False,  # rows in key order: a window's rows are read in one run
)

# Waits by whole second (rounded up) per period, for ``SplitByWaitTime``: a wait of ``ms`` is
# at or below ``t`` seconds exactly when ``second`` <= t.
stat_waits = Table(
    "stat_waits", metadata,
    Column("workspace_sid", SID, primary_key=True),
    Column("scope", String(16), primary_key=True),
    Column("scope_sid", String(34), primary_key=True),
    Column("span", BigInteger, primary_key=True),
    Column("period_start", BigInteger, primary_key=True),
    Column("figure", String(32), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("second", BigInteger, primary_key=True),
    Column("count", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# Events stored without rollups (before migration 0008, or written around the store): those of
# the workspace after ``done`` and up to ``seq`` are folded in, a batch at a time, then the row
# goes.
stat_backfill = Table(
    "stat_backfill", metadata,
    Column("workspace_sid", SID, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("done", BigInteger, nullable=False),
)

# How far callback delivery got in each workspace's event log (at-least-once: it may redo a
# little after a crash, never skip).
callback_cursors = Table(
    "callback_cursors", metadata,
    Column("workspace_sid", SID, primary_key=True),
    Column("events_seq", BigInteger, nullable=False),
    Column("assignments_seq", BigInteger, nullable=False),
)

# Callbacks given up on after their last attempt, for operators to see.
callback_failures = Table(
    "callback_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_sid", SID, nullable=False),
    Column("event_sid", SID, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("failed_at", BigInteger, nullable=False),
    Index("ix_callback_failures_workspace", "workspace_sid"),  # the name migration 0003 gave
)

# Entity kind (``Entity.kind``) -> table; workspace children are dropped with their workspace.
ENTITY_TABLES: dict[str, Table] = {
    "workspace": workspaces,
    "activity": activities,
    "task_channel": task_channels,
    "worker": workers,
    "worker_channel": worker_channels,
    "task_queue": task_queues,
    "workflow": workflows,
    "task": tasks,
    "reservation": reservations,
    "transfer": transfers,
}
WORKSPACE_CHILDREN = (activities, task_channels, workers, worker_channels, task_queues, workflows,
                      tasks, reservations, transfers, events, callback_cursors, callback_failures,
                      workspace_leases, stat_rollups, stat_waits, stat_backfill)
