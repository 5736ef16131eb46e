"""Statistics history read back from the store equals the history followed live, on SQLite and
PostgreSQL: the database extracts the same event_data fields the listener reads."""

from __future__ import annotations

import asyncio
import json

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import Event
from switchboard.service.runtime import Runtime
from switchboard.stats.queries import history_records
from switchboard.stats.records import COUNTED_TYPES, from_event
from tests.conftest import ACCOUNT_SID, START_MS, make_runtime


def run_scenario(runtime: Runtime) -> str:
    """Workers changing activity, tasks reserved, accepted, moved, canceled."""

    def build(now: int) -> WorkspaceEngine:
        engine = WorkspaceEngine.create(account_sid=ACCOUNT_SID, friendly_name="stats", now=now,
                                        sids=runtime.sids)
        available = next(a.sid for a in engine.activities.values() if a.available)
        engine.create_worker("alice", now, activity_sid=available,
                             attributes=json.dumps({"skills": ["b"]}))
        first = engine.create_task_queue("A", now, target_workers="skills HAS 'a'")
        second = engine.create_task_queue("B", now, target_workers="skills HAS 'b'")
        engine.create_workflow("Flow", json.dumps({"task_routing": {"filters": [{
            "expression": "1==1",
            "targets": [{"queue": first.sid, "timeout": 10}, {"queue": second.sid}]}]}}), now)
        return engine

    workspace_sid: str = asyncio.run(runtime.create_workspace(build, lambda e: e.workspace.sid))

    def command(engine: WorkspaceEngine, now: int) -> None:
        engine.create_task(now, attributes='{"n": 1}')
        engine.create_task(now, attributes='{"n": 2}', task_channel="chat")

    async def scenario() -> None:
        await runtime.run(ACCOUNT_SID, workspace_sid, command)
        await runtime.advance_clock(10_000)  # both move to queue B; alice takes the first

        def accept_and_cancel(engine: WorkspaceEngine, now: int) -> None:
            pending = [r for r in engine.reservations.values()
                       if r.reservation_status == "pending"]
            engine.update_reservation(pending[0].sid, now, status="accepted",
                                      task_sid=pending[0].task_sid)
            waiting = [t for t in engine.tasks.values() if t.assignment_status == "reserved"]
            engine.update_task(waiting[0].sid, now, assignment_status="canceled")
            unavailable = next(a.sid for a in engine.activities.values()
                               if a.friendly_name == "Unavailable")
            engine.update_worker(next(iter(engine.workers)), now, activity_sid=unavailable)

        await runtime.advance_clock(3_000)
        await runtime.run(ACCOUNT_SID, workspace_sid, accept_and_cancel)

    asyncio.run(scenario())
    return workspace_sid


def test_history_from_the_store_equals_the_live_one(database_url: str) -> None:
    runtime = make_runtime(database_url)
    heard: list[Event] = []
    runtime.add_listener(lambda _, events: heard.extend(events))
    try:
        workspace_sid = run_scenario(runtime)
        live = [from_event(e) for e in heard
                if e.workspace_sid == workspace_sid and e.event_type in COUNTED_TYPES]
        with runtime.store.engine.connect() as conn:
            stored = list(history_records(conn, workspace_sid, START_MS - 1, batch=3))
        assert stored == live
        kinds = {r.event_type for r in stored}
        assert {"reservation.accepted", "task.canceled", "task-queue.moved",
                "worker.activity.update", "worker.created"} <= kinds
        accepted = next(r for r in stored if r.event_type == "reservation.accepted")
        assert accepted.task_date_created == START_MS
        assert accepted.task_queue_entered_date == START_MS + 10_000
        moved = next(r for r in stored if r.event_type == "task-queue.moved")
        assert moved.previous_task_queue_sid is not None
        update = next(r for r in stored if r.event_type == "worker.activity.update")
        assert update.previous_activity_sid and update.activity_sid
        with runtime.store.engine.connect() as conn:  # the window's start is honoured
            assert list(history_records(conn, workspace_sid, START_MS + 1)) == [
                r for r in live if r.event_date >= START_MS + 1]
    finally:
        runtime.stop()
