"""SQL: a workspace's counted events — since a moment (in log order), between two moments (the
edges of a statistics window), or between two sequence numbers (folding old events into the
rollups).

The few event_data fields statistics need are extracted by the database (only for the event
types that carry them), so the large event_data texts never leave it. Each query is served by
an index: (workspace_sid, seq) or (workspace_sid, event_date).
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


def history_query(workspace_sid: str, since: int, dialect: str,
                  types: frozenset[str] = records.COUNTED_TYPES) -> Any:
    return _columns(dialect).where(
        _events.c.workspace_sid == workspace_sid,
        _events.c.event_date >= since,
        _events.c.event_type.in_(sorted(types)),
    ).order_by(_events.c.seq)


def _columns(dialect: str) -> Any:
    return select(
        _events.c.seq, _events.c.event_type, _events.c.event_date, _events.c.task_sid,
        _events.c.worker_sid, _events.c.task_queue_sid, _events.c.workflow_sid,
        _events.c.task_channel,
        _only(records.TASK_CREATED_FROM, _field("task_date_created", dialect)),
        _only(records.QUEUE_ENTERED_FROM, _field("task_queue_entered_date", dialect)),
        _only(records.PREVIOUS_QUEUE_FROM, _field("task_queue_previous_sid", dialect)),
        _only(records.ACTIVITY_FROM, _field("worker_activity_sid", dialect)),
        _only(records.PREVIOUS_ACTIVITY_FROM, _field("worker_previous_activity_sid", dialect)),
    )


def history_records(conn: Connection, workspace_sid: str, since: int,
                    batch: int = 10_000, types: frozenset[str] = records.COUNTED_TYPES
                    ) -> Iterator[EventRecord]:
    """The workspace's counted events (or those of ``types``) from ``since`` on, in log order,
    streamed."""
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(
        history_query(workspace_sid, since, conn.dialect.name, types))
    for row in result:
        yield records.from_row(row)


def records_between(conn: Connection, workspace_sid: str, start: int, end: int,
                    limit: int | None = None) -> list[EventRecord]:
    """The workspace's counted events with ``start <= event_date < end`` (at most ``limit``,
    any of them)."""
    query = _columns(conn.dialect.name).where(
        _events.c.workspace_sid == workspace_sid,
        _events.c.event_date >= start, _events.c.event_date < end,
        _events.c.event_type.in_(sorted(records.COUNTED_TYPES))).limit(limit)
    return [records.from_row(row) for row in conn.execute(query)]


def records_in_log(conn: Connection, workspace_sid: str, after: int, upto: int, since: int
                   ) -> list[EventRecord]:
    """The workspace's counted events with ``after < seq <= upto`` and ``event_date >= since``,
    in log order."""
    query = _columns(conn.dialect.name).where(
        _events.c.workspace_sid == workspace_sid,
        _events.c.seq > after, _events.c.seq <= upto, _events.c.event_date >= since,
        _events.c.event_type.in_(sorted(records.COUNTED_TYPES))).order_by(_events.c.seq)
    return [records.from_row(row) for row in conn.execute(query)]
