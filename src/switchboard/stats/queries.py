"""SQL: a workspace's counted events since a moment, for rebuilding its statistics history.

The few event_data fields statistics need are extracted by the database (only for the event
types that carry them), so the large event_data texts never leave it. Rows come in log order
(the unique (workspace_sid, seq) index serves the scan; events before the retention period are
pruned, so the scan is bounded by the log's length).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, String, case, cast, func, literal_column, select

from switchboard.stats import records
from switchboard.stats.records import EventRecord
from switchboard.store import tables

_events = tables.events


def _field(name: str, dialect: str) -> Any:
    """``event_data[name]`` as text, extracted by the database."""
    if dialect == "sqlite":
        return cast(func.json_extract(_events.c.data, literal_column(f"'$.{name}'")), String)
    from sqlalchemy.dialects.postgresql import JSONB  # only here: SQLite starts faster

    return cast(_events.c.data, JSONB)[name].astext


def _only(types: frozenset[str], value: Any) -> Any:
    return case((_events.c.event_type.in_(sorted(types)), value), else_=None)


def history_query(workspace_sid: str, since: int, dialect: str) -> Any:
    return select(
        _events.c.seq, _events.c.event_type, _events.c.event_date, _events.c.task_sid,
        _events.c.worker_sid, _events.c.task_queue_sid, _events.c.workflow_sid,
        _events.c.task_channel,
        _only(records.TASK_CREATED_FROM, _field("task_date_created", dialect)),
        _only(records.QUEUE_ENTERED_FROM, _field("task_queue_entered_date", dialect)),
        _only(records.PREVIOUS_QUEUE_FROM, _field("task_queue_previous_sid", dialect)),
        _only(records.ACTIVITY_FROM, _field("worker_activity_sid", dialect)),
        _only(records.PREVIOUS_ACTIVITY_FROM, _field("worker_previous_activity_sid", dialect)),
    ).where(
        _events.c.workspace_sid == workspace_sid,
        _events.c.event_date >= since,
        _events.c.event_type.in_(sorted(records.COUNTED_TYPES)),
    ).order_by(_events.c.seq)


def history_records(conn: Connection, workspace_sid: str, since: int,
                    batch: int = 10_000) -> Iterator[EventRecord]:
    """The workspace's counted events from ``since`` on, in log order, streamed."""
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(
        history_query(workspace_sid, since, conn.dialect.name))
    for row in result:
        yield records.from_row(row)
