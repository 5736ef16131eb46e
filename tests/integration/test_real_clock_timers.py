"""The real-clock scheduler: a wake-up is armed for the earliest deadline and fires it.

The clock here reports whatever time the test sets but is not "manual", so the runtime arms
real wake-ups; moving it past a deadline makes the armed delay zero: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from switchboard.routing.engine import WorkspaceEngine
from switchboard.store.database import sqlite_url
from tests.conftest import ACCOUNT_SID, START_MS, make_runtime


class SettableClock:
    manual = False

    def __init__(self, now: int) -> None:
        self.now = now

    def now_ms(self) -> int:
        return self.now


def test_deadlines_fire_on_the_real_clock_path(tmp_path: Path) -> None:
    clock = SettableClock(START_MS)
    runtime = make_runtime(sqlite_url(tmp_path))
    runtime.clock = clock

    async def scenario() -> None:
        sid = await runtime.create_workspace(
            lambda now: WorkspaceEngine.create(account_sid=ACCOUNT_SID, friendly_name="t",
                                               now=now, template="FIFO", sids=runtime.sids),
            lambda engine: engine.workspace.sid)
        task = await runtime.run(ACCOUNT_SID, sid, lambda e, now: e.create_task(
            now, attributes=json.dumps({}), timeout=60))
        assert runtime._wakeups[sid][0] == START_MS + 60_000  # armed for the TTL
        clock.now += 61_000
        runtime.schedule_all()  # re-arm: the deadline has passed, so the delay is zero
        for _ in range(100):
            await asyncio.sleep(0)
            if task.assignment_status == "canceled":
                break
        assert task.assignment_status == "canceled"
        assert task.reason == "Task TTL Exceeded"
        assert sid not in runtime._wakeups or runtime._wakeups[sid][0] > clock.now

    try:
        asyncio.run(scenario())
    finally:
        runtime.stop()
