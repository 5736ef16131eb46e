"""Where a manual clock's time is kept: one row, written before the timers it passes fire."""

from __future__ import annotations

from sqlalchemy import Connection, select

from switchboard.store import tables
from switchboard.store.database import Store


def saved_time(store: Store) -> int | None:
    """The manual clock's last time, or None if no manual clock has moved on this store."""
    value = store.scalar(select(tables.manual_clock.c.now_ms).where(
        tables.manual_clock.c.id == 1))
    return None if value is None else int(value)


def save_time(conn: Connection, now_ms: int) -> None:
    """Record the time (a write for ``Store.submit``)."""
    table = tables.manual_clock
    if conn.execute(table.update().where(table.c.id == 1).values(now_ms=now_ms)).rowcount == 0:
        conn.execute(table.insert().values(id=1, now_ms=now_ms))
