"""Statistics rollups: what each minute, hour and day of a workspace's log adds to each figure,
kept in the store.

Every counted event is an occurrence of one figure in a few scopes (``cumulative.occurrences``:
the workspace, the task's queue and workflow, the reservation's worker), possibly with a wait
(ms). Per (scope, figure, TaskChannel, period) the store keeps how many occurred and, for
waits, their total, least and greatest (``stat_rollups``), and for the waits
``SplitByWaitTime`` splits, how many fell in each whole second rounded up (``stat_waits``): a
wait is at or below ``t`` seconds exactly when its rounded-up second is, so any thresholds are
answered exactly. Periods are minutes, hours and days (UTC), each event counted in the three
that hold it, so a 30-day window reads a few hundred periods, not 43,200 minutes.

The rows are written by the store in the transaction that appends the events (one upsert per
row a batch of commits touches, not per event), so they always agree with the log, in a
cluster too (the same fenced transaction). Events written without them (stored before the
rollups existed, or written straight into the database) are folded in once, a batch at a
time, by ``backfill_step``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Dialect, delete, select, update

from switchboard.routing.model import Event
from switchboard.stats.cumulative import SPLIT_FIGURES, WORKER, occurrences
from switchboard.stats.queries import records_in_log
from switchboard.stats.records import COUNTED_TYPES, EventRecord, from_event
from switchboard.store import tables

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
SPANS = (MINUTE_MS, HOUR_MS, DAY_MS)
# (workspace, scope, scope SID, span, period start, figure, channel)
# -> [count, total, minimum, maximum]
PeriodKey = tuple[str, str, str, int, int, str, str]
WaitKey = tuple[str, str, str, int, int, str, str, int]  # ... and the wait's second
# Runs a statement once for each row of values, in the caller's transaction: a DB-API cursor's
# or connection's ``executemany``, or SQLAlchemy's ``Connection.exec_driver_sql``.
ExecuteMany = Callable[[str, Sequence[Sequence[Any]]], object]


class Rollup:
    """Rows of ``stat_rollups`` and ``stat_waits`` summed over some events."""

    __slots__ = ("periods", "waits")

    def __init__(self) -> None:
        self.periods: dict[PeriodKey, list[int]] = {}
        self.waits: dict[WaitKey, int] = {}

    def __bool__(self) -> bool:
        return bool(self.periods)

    def add(self, workspace_sid: str, record: EventRecord) -> None:
        date = record.event_date
        channel = record.task_channel or ""
        periods, waits = self.periods, self.waits
        for scope, sid, figure, wait in occurrences(record):
            split = figure in SPLIT_FIGURES and scope != WORKER
            for span in SPANS:
                start = date - date % span
                key = (workspace_sid, scope, sid, span, start, figure, channel)
                row = periods.get(key)
                if row is None:
                    periods[key] = [1, wait, wait, wait]
                else:
                    row[0] += 1
                    row[1] += wait
                    if wait < row[2]:
                        row[2] = wait
                    if wait > row[3]:
                        row[3] = wait
                if split:
                    wait_key = (*key, wait_second(wait))
                    waits[wait_key] = waits.get(wait_key, 0) + 1

    def add_events(self, events: Iterable[Event]) -> None:
        for event in events:
            if event.event_type in COUNTED_TYPES:
                self.add(event.workspace_sid, from_event(event))


class RollupListener(Protocol):
    """Told by the store, on the thread that commits (the event loop on SQLite, the writer
    thread on PostgreSQL), of the events each transaction stores: before it commits, and with
    their rollup once it has; never two transactions at once."""

    def staged(self, events: Sequence[Event]) -> None: ...

    def committed(self, events: Sequence[Event], rollup: Rollup,
                  dropped: Collection[str] = ()) -> None: ...


class RollupWriter:
    """Upserts a ``Rollup`` with one executemany per table, straight to the driver (its rows
    are plain values already)."""

    def __init__(self, dialect: str, paramstyle: str) -> None:
        mark = "?" if paramstyle == "qmark" else "%s"
        least, greatest = ("min", "max") if dialect == "sqlite" else ("LEAST", "GREATEST")
        m = "stat_rollups"
        key = "workspace_sid, scope, scope_sid, span, period_start, figure, channel"
        self.periods_sql = (
            f"INSERT INTO {m} ({key}, count, total, minimum, maximum) "
            f"VALUES ({', '.join([mark] * 11)}) ON CONFLICT ({key}) DO UPDATE SET "
            f"count = {m}.count + excluded.count, total = {m}.total + excluded.total, "
            f"minimum = {least}({m}.minimum, excluded.minimum), "
            f"maximum = {greatest}({m}.maximum, excluded.maximum)")
        self.waits_sql = (
            f"INSERT INTO stat_waits ({key}, second, count) VALUES ({', '.join([mark] * 9)}) "
            f"ON CONFLICT ({key}, second) DO UPDATE SET count = stat_waits.count + "
            "excluded.count")

    def write(self, execute: ExecuteMany, rollup: Rollup) -> None:
        if rollup.periods:
            execute(self.periods_sql, [(*key, *row) for key, row in rollup.periods.items()])
        if rollup.waits:
            execute(self.waits_sql, [(*key, n) for key, n in rollup.waits.items()])


def wait_second(wait_ms: int) -> int:
    """The whole second a wait counts in for ``SplitByWaitTime`` (rounded up), as every
    histogram (rollups, folds of events, memory) buckets it."""
    return -(-wait_ms // 1000)


def writer_for(dialect: Dialect) -> RollupWriter:
    return RollupWriter(dialect.name, dialect.paramstyle)


def pending_backfill(conn: Connection, workspace_sid: str) -> bool:
    """True while some of the workspace's events are still to fold into the rollups."""
    b = tables.stat_backfill
    return conn.execute(select(b.c.seq).where(b.c.workspace_sid == workspace_sid)
                        ).first() is not None


def backfill_step(conn: Connection, workspace_sid: str, since: int, batch: int = 20_000
                  ) -> bool:
    """Fold the next ``batch`` events of the workspace's ``stat_backfill`` range (those from
    ``since`` on: older ones are outside every window) into the rollups, in the caller's
    transaction (the store's writer: one short write at a time). True once none are left."""
    b = tables.stat_backfill
    # Locked: two nodes folding the same batch would count it twice (SQLite has one writer).
    row = conn.execute(select(b.c.seq, b.c.done).where(b.c.workspace_sid == workspace_sid)
                       .with_for_update()).first()
    if row is None:
        return True
    upto, done = int(row[0]), int(row[1])
    step = min(upto, done + batch)
    rollup = Rollup()
    for record in records_in_log(conn, workspace_sid, done, step, since):
        rollup.add(workspace_sid, record)
    writer_for(conn.dialect).write(conn.exec_driver_sql, rollup)
    if step >= upto:
        conn.execute(delete(b).where(b.c.workspace_sid == workspace_sid))
        return True
    conn.execute(update(b).where(b.c.workspace_sid == workspace_sid).values(done=step))
    return False


def prune(conn: Connection, before: int) -> int:
    """Drop rollups of periods that end before ``before``; returns how many rows went."""
    removed = 0
    for table in (tables.stat_rollups, tables.stat_waits):
        result = conn.execute(delete(table).where(
            table.c.period_start + table.c.span < before))
        removed += int(result.rowcount or 0)
    return removed
