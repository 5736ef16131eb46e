"""What fewest_accepted and the wait estimates learn (routing/history.py) survives a restart:
it is rebuilt from the stored events of the last 24 hours."""

from __future__ import annotations

import asyncio
import json

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.sids import new_sid
from switchboard.service.clock import ManualClock
from switchboard.service.runtime import Runtime
from tests.conftest import ACCOUNT_SID, START_MS, make_runtime

HOUR_MS = 3_600_000


def serve_two(runtime: Runtime, clock: ManualClock) -> tuple[str, str, str]:
    """A workspace where alice accepts two tasks, each held 50 s: (workspace, queue, alice)."""

    def build(now: int) -> WorkspaceEngine:
        engine = WorkspaceEngine.create(account_sid=ACCOUNT_SID, friendly_name="history",
                                        now=now, sids=runtime.sids)
        available = next(a.sid for a in engine.activities.values() if a.available)
        queue = engine.create_task_queue("all", now, target_workers="1==1")
        engine.create_workflow("all", json.dumps({"task_routing": {"default_filter": {
            "queue": queue.sid, "worker_selection": "fewest_accepted"}}}), now)
        engine.create_worker("alice", now, activity_sid=available, attributes=None)
        return engine

    sid: str = asyncio.run(runtime.create_workspace(build, lambda e: e.workspace.sid))
    for _ in range(2):
        def take(engine: WorkspaceEngine, now: int) -> str:
            task = engine.create_task(now, attributes="{}")
            reservation = next(r for r in engine.task_reservations[task.sid])
            engine.update_reservation(reservation.sid, now, status="accepted")
            return task.sid

        task_sid = asyncio.run(runtime.run(ACCOUNT_SID, sid, take))
        clock.advance(50_000)
        asyncio.run(runtime.run(ACCOUNT_SID, sid, lambda engine, now, t=task_sid: (
            engine.update_task(t, now, assignment_status="completed", reason="done"))))
    engine = runtime.engines[sid]
    queue_sid = next(iter(engine.task_queues))
    alice = next(iter(engine.workers))
    return sid, queue_sid, alice


def test_accept_counts_and_handle_times_survive_a_restart(database_url: str) -> None:
    clock = ManualClock(START_MS)
    runtime = make_runtime(database_url, clock, new_sid)
    sid, queue_sid, alice = serve_two(runtime, clock)
    runtime.stop()

    again = make_runtime(database_url, clock, new_sid)
    try:
        lifecycle = again.engines[sid].lifecycle
        assert lifecycle.accepts.count(alice) == 2
        assert lifecycle.handle_times.mean(queue_sid) == 50_000
    finally:
        again.stop()

    clock.advance(24 * HOUR_MS)  # the accepts are now more than 24 hours old
    later = make_runtime(database_url, clock, new_sid)
    try:
        lifecycle = later.engines[sid].lifecycle
        assert lifecycle.accepts.count(alice) == 0
        assert lifecycle.handle_times.mean(queue_sid) is None
    finally:
        later.stop()
