"""Prunes events older than the retention period, a small batch at a time, and once a day
statistics rollups older than statistics reach.

Each batch is its own short write, so pruning a large backlog never holds up commands.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from sqlalchemy import Connection, delete, select

from switchboard.service.background import BackgroundLoop
from switchboard.service.runtime import Runtime
from switchboard.stats.rollups import prune
from switchboard.stats.window import KEEP_MS
from switchboard.store import tables

log = logging.getLogger(__name__)
BATCH = 2_000
INTERVAL = 600.0  # seconds between sweeps


async def prune_once(runtime: Runtime, retention_days: float) -> int:
    """Delete every event older than the retention period; returns how many went."""
    cutoff = runtime.clock.now_ms() - int(retention_days * 86_400_000)
    events = tables.events
    removed = 0
    while True:
        def batch(conn: Connection) -> int:
            sids = select(events.c.sid).where(events.c.event_date < cutoff).limit(BATCH)
            result = conn.execute(delete(events).where(events.c.sid.in_(sids.scalar_subquery())))
            return int(result.rowcount or 0)

        count = await asyncio.wrap_future(runtime.store.submit(batch))
        removed += count
        if count < BATCH:
            return removed
        await asyncio.sleep(0)  # let commands through between batches


async def prune_rollups(runtime: Runtime) -> int:
    """Delete statistics rollups older than statistics reach back (30 days and a day), whatever
    the events' retention. One statement that reads every rollup: run it daily."""
    horizon = runtime.clock.now_ms() - KEEP_MS
    return int(await asyncio.wrap_future(runtime.store.submit(partial(prune, before=horizon))))


class EventRetention(BackgroundLoop):
    """Keeps the event log to the retention period: a sweep at start and every 10 minutes."""

    def __init__(self, runtime: Runtime, days: float) -> None:
        self.runtime = runtime
        self.days = days
        self._rollups_day: int | None = None  # the day rollups were last pruned

    async def run(self) -> None:
        while True:
            try:
                removed = await prune_once(self.runtime, self.days)
                if removed:
                    log.info("pruned %d events older than %s days", removed, self.days)
                day = self.runtime.clock.now_ms() // 86_400_000
                if day != self._rollups_day:
                    await prune_rollups(self.runtime)
                    self._rollups_day = day
            except Exception:
                log.exception("event pruning failed; will try again")
            await asyncio.sleep(INTERVAL)
