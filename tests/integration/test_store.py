"""The store on SQLite and PostgreSQL: migrations, group commit, and rebuilding every engine."""

from __future__ import annotations

import asyncio
import gc
import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import RESERVATION_OPEN
from switchboard.routing.sids import new_sid
from switchboard.service.clock import ManualClock
from switchboard.service.runtime import Runtime, ServiceUnavailable
from switchboard.store import tables
from switchboard.store.database import Store, sqlite_url
from tests.conftest import ACCOUNT_SID, START_MS, make_runtime


def snapshot(engine: WorkspaceEngine) -> dict[str, object]:
    """Everything observable about an engine, for before/after comparisons."""
    return {
        "workspace": engine.workspace,
        "activities": list(engine.activities.values()),
        "channels": list(engine.task_channels.values()),
        "workers": [(w.sid, w.friendly_name, w.attributes, w.activity_sid, w.version,
                     w.idle_since) for w in engine.workers.values()],
        "worker_channels": {sid: [(c.sid, c.configured_capacity, c.available, c.reserved,
                                   c.assigned) for c in channels.values()]
                            for sid, channels in engine.worker_channels.items()},
        "queues": [(q.sid, q.target_workers) for q in engine.task_queues.values()],
        "members": {k: sorted(v) for k, v in engine.queue_members.items()},
        "workflows": [(w.sid, w.configuration) for w in engine.workflows.values()],
        "tasks": sorted((t.sid, t.assignment_status, t.priority, t.task_queue_sid,
                         t.filter_index, t.target_index, t.step_deadline, t.version)
                        for t in engine.tasks.values()),
        "reservations": sorted((r.sid, r.reservation_status, r.worker_sid, r.timeout_at)
                               for r in engine.reservations.values()),
        "next_deadline": engine.next_deadline(),
        "event_seq": engine.event_seq,
    }


def build_workspace(runtime: Runtime) -> str:
    """A workspace with routing in flight: one reservation pending, one task waiting."""

    def build(now: int) -> WorkspaceEngine:
        engine = WorkspaceEngine.create(account_sid=ACCOUNT_SID, friendly_name="store", now=now,
                                        template="FIFO", sids=runtime.sids)
        available = next(a.sid for a in engine.activities.values() if a.available)
        engine.create_worker("alice", now, activity_sid=available,
                             attributes=json.dumps({"skills": ["en"], "level": 3}))
        engine.create_worker("bob", now, activity_sid=None, attributes=None)
        english = engine.create_task_queue("English", now, target_workers="skills HAS 'en'")
        engine.create_workflow("Support", json.dumps({"task_routing": {"filters": [{
            "expression": "lang == 'en'",
            "targets": [{"queue": english.sid, "timeout": 30}, {"queue": english.sid}]}]}}),
            now)
        return engine

    sid: str = asyncio.run(runtime.create_workspace(build, lambda e: e.workspace.sid))

    def route(engine: WorkspaceEngine, now: int) -> None:
        workflow = next(w for w in engine.workflows.values() if w.friendly_name == "Support")
        for _ in range(2):
            engine.create_task(now, attributes=json.dumps({"lang": "en"}),
                               workflow_sid=workflow.sid)

    asyncio.run(runtime.run(ACCOUNT_SID, sid, route))
    return sid


def test_migrations_create_every_table(database_url: str) -> None:
    runtime = make_runtime(database_url, sids=new_sid)
    try:
        names = set(inspect(runtime.store.engine).get_table_names())
        assert {t.name for t in tables.metadata.sorted_tables} <= names
        assert "alembic_version" in names
    finally:
        runtime.stop()


def test_engine_rebuilt_from_store_is_identical(database_url: str) -> None:
    clock = ManualClock(START_MS)
    runtime = make_runtime(database_url, clock, new_sid)
    sid = build_workspace(runtime)
    before = snapshot(runtime.engines[sid])
    assert any(r[1] == "pending" for r in before["reservations"])  # type: ignore[union-attr]
    runtime.stop()

    again = make_runtime(database_url, clock, new_sid)
    try:
        assert snapshot(again.engines[sid]) == before
    finally:
        again.stop()


def test_pending_timers_fire_after_restart(database_url: str) -> None:
    clock = ManualClock(START_MS)
    runtime = make_runtime(database_url, clock, new_sid)
    sid = build_workspace(runtime)
    runtime.stop()

    again = make_runtime(database_url, clock, new_sid)
    try:
        # Past the reservation timeout (120 s) and the first step (30 s): both fire, in order.
        asyncio.run(again.advance_clock(121_000))
        rebuilt = again.engines[sid]
        statuses = sorted(r.reservation_status for r in rebuilt.reservations.values())
        assert "timeout" in statuses
        assert not any(r.reservation_status in RESERVATION_OPEN for r in
                       rebuilt.reservations.values())
        with again.store.engine.connect() as conn:
            types = [row.event_type for row in conn.execute(
                select(tables.events.c.event_type).where(tables.events.c.workspace_sid == sid)
                .order_by(tables.events.c.seq))]
        assert types.index("reservation.timeout") > types.index("reservation.created")
        assert "task-queue.timeout" in types
    finally:
        again.stop()


def test_a_transfer_in_progress_survives_a_restart(database_url: str) -> None:
    clock = ManualClock(START_MS)
    runtime = make_runtime(database_url, clock, new_sid)
    sid = build_workspace(runtime)
    engine = runtime.engines[sid]
    pending = next(r for r in engine.reservations.values() if r.reservation_status == "pending")
    bob = engine.worker_by_name("bob")
    assert bob is not None

    def transfer(engine: WorkspaceEngine, now: int) -> str:
        engine.update_reservation(pending.sid, now, status="accepted")
        return engine.transfer_task(pending.task_sid, pending.sid, now, to=pending.task_queue_sid
                                    or "", mode="COLD").sid

    transfer_sid = asyncio.run(runtime.run(ACCOUNT_SID, sid, transfer))
    before = snapshot(engine)
    runtime.stop()

    again = make_runtime(database_url, clock, new_sid)
    try:
        rebuilt = again.engines[sid]
        assert snapshot(rebuilt) == before
        task = rebuilt.task(pending.task_sid)
        assert task.transfer is not None and task.transfer.sid == transfer_sid
        assert rebuilt.transfer(transfer_sid).transfer_mode == "COLD"
        # Bob joins the queue: the transfer goes on, and its reservation names it.
        available = next(a.sid for a in rebuilt.activities.values() if a.available)
        asyncio.run(again.run(ACCOUNT_SID, sid, lambda e, now: e.update_worker(
            bob.sid, now, activity_sid=available, attributes=json.dumps({"skills": ["en"]}))))
        (offered,) = [r for r in rebuilt.reservations.values()
                      if r.reservation_status == "pending" and r.task_sid == task.sid]
        assert offered.transfer_sid == transfer_sid
    finally:
        again.stop()


def test_deleting_a_workspace_removes_every_row(database_url: str) -> None:
    runtime = make_runtime(database_url, sids=new_sid)
    try:
        sid = build_workspace(runtime)
        asyncio.run(runtime.delete_workspace(ACCOUNT_SID, sid))
        for table in tables.WORKSPACE_CHILDREN:
            assert runtime.store.rows(table, table.c.workspace_sid == sid) == []
        assert runtime.store.rows(tables.workspaces, tables.workspaces.c.sid == sid) == []
    finally:
        runtime.stop()


def test_sqlite_binds_none_as_null_and_booleans_as_integers(tmp_path: Path) -> None:
    """The store's sqlite3 adapters for None and bool (a way around a failed lookup per
    parameter) bind what sqlite3 binds without them."""
    store = Store(sqlite_url(tmp_path))
    try:
        with store.engine.connect() as conn:
            row = conn.exec_driver_sql("SELECT typeof(?), typeof(?), ?, ?",
                                       (None, True, True, False)).one()
    finally:
        store.close()
    assert tuple(row) == ("null", "integer", 1, 0)


def test_group_commit_isolates_a_failing_write(database_url: str) -> None:
    runtime = make_runtime(database_url, sids=new_sid)
    try:
        def boom(_: object) -> None:
            raise RuntimeError("disk on fire")

        def insert_account(conn: object) -> None:
            conn.execute(tables.accounts.insert(), [{  # type: ignore[attr-defined]
                "sid": "AC" + "b" * 32, "friendly_name": "b", "auth_token": "t",
                "status": "active", "date_created": 0, "date_updated": 0}])

        futures = [runtime.store.submit(boom), runtime.store.submit(insert_account)]
        with pytest.raises(Exception, match="could not be stored"):
            futures[0].result(timeout=10)
        futures[1].result(timeout=10)
        assert runtime.store.rows(tables.accounts, tables.accounts.c.sid == "AC" + "b" * 32)
    finally:
        runtime.stop()


def test_failed_commit_rebuilds_the_workspace_and_changes_nothing(database_url: str) -> None:
    runtime = make_runtime(database_url, sids=new_sid)
    try:
        sid = build_workspace(runtime)
        before = snapshot(runtime.engines[sid])
        store = runtime.store
        original = store.apply_changes

        def failing(conn: object, changes: object) -> None:
            raise RuntimeError("connection lost")

        store.apply_changes = failing  # type: ignore[method-assign]
        with pytest.raises(ServiceUnavailable):
            asyncio.run(runtime.run(ACCOUNT_SID, sid, lambda e, now: e.create_worker(
                "carol", now, activity_sid=None, attributes=None)))
        store.apply_changes = original  # type: ignore[method-assign]
        assert snapshot(runtime.engines[sid]) == before
    finally:
        runtime.stop()


def test_a_caller_that_stops_waiting_does_not_stop_the_writer(database_url: str) -> None:
    runtime = make_runtime(database_url, sids=new_sid)
    try:
        sid = build_workspace(runtime)

        async def cancel_then_commit() -> None:
            waiting = asyncio.create_task(runtime.run(ACCOUNT_SID, sid, lambda e, now: (
                e.create_worker("carol", now, activity_sid=None, attributes=None))))
            await asyncio.sleep(0)
            waiting.cancel()
            plain = runtime.store.submit(lambda conn: None)
            plain.cancel()
            await runtime.run(ACCOUNT_SID, sid, lambda e, now: e.create_worker(
                "dave", now, activity_sid=None, attributes=None))

        asyncio.run(asyncio.wait_for(cancel_then_commit(), timeout=10))
        names = {w.friendly_name for w in runtime.engines[sid].workers.values()}
        assert {"carol", "dave"} <= names
    finally:
        runtime.stop()


def test_a_command_failing_half_way_leaves_no_trace(database_url: str) -> None:
    runtime = make_runtime(database_url, sids=new_sid)
    try:
        sid = build_workspace(runtime)
        before = snapshot(runtime.engines[sid])

        def half_way(engine: WorkspaceEngine, now: int) -> None:
            engine.create_worker("ghost", now, activity_sid=None, attributes=None)
            raise RuntimeError("a fault after a change")

        with pytest.raises(RuntimeError):
            asyncio.run(runtime.run(ACCOUNT_SID, sid, half_way))
        assert snapshot(runtime.engines[sid]) == before  # rebuilt from the store
        asyncio.run(runtime.run(ACCOUNT_SID, sid, lambda e, now: e.create_worker(
            "real", now, activity_sid=None, attributes=None)))
        names = {r["friendly_name"] for r in runtime.store.rows(
            tables.workers, tables.workers.c.workspace_sid == sid)}
        assert "real" in names and "ghost" not in names
    finally:
        runtime.stop()


def test_a_workspace_loaded_while_serving_joins_the_frozen_state(database_url: str) -> None:
    """A server freezes what start-up loaded out of the garbage collector's sight; a workspace
    loaded later (taken over, rebuilt) is frozen too, so no collection walks it. Before the
    server freezes anything, a load leaves the collector as it is."""
    runtime = make_runtime(database_url, sids=new_sid)
    try:
        sid = build_workspace(runtime)
        gc.unfreeze()  # a process that froze nothing yet
        unfrozen = runtime._load_workspace(sid)
        assert gc.get_freeze_count() == 0
        assert any(o is unfrozen for o in gc.get_objects())
        gc.freeze()  # as serving.tune_gc
        try:
            loaded = runtime._load_workspace(sid)
            assert loaded is not None and loaded.workers
            assert not any(o is loaded or o is unfrozen for o in gc.get_objects())
        finally:
            gc.unfreeze()
    finally:
        runtime.stop()
