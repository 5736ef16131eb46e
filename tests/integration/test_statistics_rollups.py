"""Cumulative statistics read from the store (rollups per minute, hour and day plus the events
at a window's edges) equal brute force folded from the stored events one by one, for windows
starting and ending anywhere in a minute, an hour or a day, after events folded in late
(``stat_backfill``) and across a restart, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from switchboard.routing.changes import EVENT_FIELDS, Changes
from switchboard.routing.model import Event
from switchboard.service.retention import prune_rollups
from switchboard.service.runtime import Runtime
from switchboard.service.statistics import statistics_of
from switchboard.stats.cumulative import QUEUE, WORKER, WORKFLOW, WORKSPACE
from switchboard.stats.queries import history_records
from switchboard.stats.records import EventRecord
from switchboard.stats.rollups import backfill_step, prune
from switchboard.stats.stored import EdgeMinutes, Reader, WindowReader, brute_force, reading
from switchboard.stats.window import Window
from switchboard.store import tables
from switchboard.store.database import Store, sqlite_url
from tests.conftest import ACCOUNT_SID, START_MS, make_runtime
from tests.integration.test_statistics_store import run_scenario

MINUTE = 60_000
DAY = 86_400_000
BASE = START_MS - START_MS % MINUTE  # a minute's start
QUEUES = ("WQ" + "1" * 32, "WQ" + "2" * 32)
WORKFLOW_SID = "WW" + "1" * 32
WORKERS = ("WK" + "1" * 32, "WK" + "2" * 32)
KINDS = ("task.created", "task-queue.entered", "reservation.created", "reservation.accepted",
         "reservation.rejected", "task.canceled", "task.completed", "task-queue.moved",
         "workflow.timeout", "task.deleted", "worker.activity.update")
_workspaces = itertools.count(1)


def event(workspace_sid: str, seq: int, kind: str, date: int, queue: int, worker: int,
          channel: str | None, wait: int) -> Event:
    data: dict[str, Any] = {"task_date_created": date - wait,
                            "task_queue_entered_date": date - wait // 2,
                            "task_queue_previous_sid": QUEUES[1 - queue]}
    return Event(sid=f"EV{workspace_sid[-8:]}{seq:024d}", account_sid=ACCOUNT_SID,
                 workspace_sid=workspace_sid, seq=seq, event_type=kind, event_date=date,
                 resource_type="task", resource_sid="WT" + "0" * 32, description=kind,
                 data=data, task_sid="WT" + "0" * 32,
                 worker_sid=WORKERS[worker], task_queue_sid=QUEUES[queue],
                 workflow_sid=WORKFLOW_SID, task_channel=channel)


occurrence = st.tuples(
    st.one_of(st.integers(0, 4 * MINUTE), st.integers(0, 3 * DAY)),  # date after BASE
    st.sampled_from(KINDS), st.integers(0, 1), st.integers(0, 1),
    st.sampled_from([None, "default", "chat"]), st.integers(0, 40_000))
window = st.tuples(  # (start after BASE, length)
    st.one_of(st.integers(-MINUTE, 5 * MINUTE), st.integers(-DAY, 3 * DAY)),
    st.one_of(st.integers(0, 4 * MINUTE), st.integers(0, 4 * DAY)))


def stored(store: Store, workspace_sid: str) -> list[EventRecord]:
    with store.engine.connect() as conn:
        return list(history_records(conn, workspace_sid, 0))


def split_brute(records: list[EventRecord], scope: str, sid: str, w: Window,
                channel: str | None) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Histograms of canceled and accepted waits, from the events one by one."""
    from collections import Counter

    from switchboard.stats.cumulative import ACCEPTED, CANCELED, occurrences

    counts: dict[str, Counter[int]] = {CANCELED: Counter(), ACCEPTED: Counter()}
    for record in records:
        if w.start <= record.event_date <= w.end and (channel is None
                                                      or record.task_channel == channel):
            for where, found, figure, wait in occurrences(record):
                if where == scope and found == sid and figure in counts:
                    counts[figure][-(-wait // 1000)] += 1
    return sorted(counts[CANCELED].items()), sorted(counts[ACCEPTED].items())


SCOPES = [(WORKSPACE, ""), *((QUEUE, q) for q in QUEUES), (WORKFLOW, WORKFLOW_SID),
          *((WORKER, w) for w in WORKERS)]


def check_windows(store: Store, workspace_sid: str, windows: list[tuple[int, int]],
                  minutes: EdgeMinutes | None = None) -> None:
    records = stored(store, workspace_sid)
    for (start, length), channel in itertools.product(windows, (None, "chat")):
        w = Window(BASE + start, BASE + start + length)
        with reading(store.engine, workspace_sid, w, channel, minutes) as reader:
            for scope, sid in SCOPES:
                assert reader.figures(scope, [sid])[sid] == brute_force(
                    records, scope, sid, w, channel), (scope, w, channel)
                if scope != WORKER:
                    assert reader.split(scope, sid) == split_brute(records, scope, sid, w,
                                                                   channel)
            _check_reservations(reader, records, w, channel)


def _check_reservations(reader: Reader, records: list[EventRecord], w: Window,
                        channel: str | None) -> None:
    everyone = {f: s.count for f, s in brute_force(records, WORKSPACE, "", w, channel).items()
                if f.startswith("reservations_")}
    assert reader.reservations(None) == everyone
    mine: dict[str, int] = {}
    for worker in WORKERS:
        for figure, summary in brute_force(records, WORKER, worker, w, channel).items():
            mine[figure] = mine.get(figure, 0) + summary.count
    assert reader.reservations(set(WORKERS)) == mine


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(happened=st.lists(occurrence, max_size=40), windows=st.lists(window, min_size=1,
                                                                      max_size=4),
       batches=st.integers(1, 4), late=st.lists(occurrence, max_size=5))
def test_windows_read_from_rollups_and_edges_equal_brute_force(
        store: Store, happened: list[tuple[int, str, int, int, str | None, int]],
        windows: list[tuple[int, int]], batches: int,
        late: list[tuple[int, str, int, int, str | None, int]]) -> None:
    """Events committed in a few batches (a clock may step back: dates are in any order),
    read without and with the edge minutes kept for later requests; then more events, dated
    anywhere (into minutes kept, too), heard as the runtime's listener hears them."""
    workspace_sid = f"WS{next(_workspaces):032d}"
    events = [event(workspace_sid, seq, kind, BASE + at, queue, worker, channel, wait)
              for seq, (at, kind, queue, worker, channel, wait) in enumerate(happened, 1)]
    size = max(1, -(-len(events) // batches))
    for i in range(0, len(events), size):
        store.submit_changes(Changes(events=events[i:i + size])).result()
    check_windows(store, workspace_sid, windows)
    minutes = EdgeMinutes()
    check_windows(store, workspace_sid, windows, minutes)
    check_windows(store, workspace_sid, windows, minutes)  # the minutes kept, read again
    more = [event(workspace_sid, seq, kind, BASE + at, queue, worker, channel, wait)
            for seq, (at, kind, queue, worker, channel, wait) in enumerate(
                late, len(events) + 1)]
    if more:
        store.submit_changes(Changes(events=more)).result()
        minutes.heard(workspace_sid, min(e.event_date for e in more))
    check_windows(store, workspace_sid, windows, minutes)


dense = st.tuples(  # a few busy minutes, waits often equal (ties at the least and greatest)
    st.integers(0, 3 * MINUTE - 1), st.sampled_from(KINDS), st.integers(0, 1),
    st.integers(0, 1), st.sampled_from([None, "default", "chat"]),
    st.one_of(st.sampled_from([1_000, 5_000, 12_000]), st.integers(0, 40_000)))
ending_inside = st.tuples(  # (start after BASE, length): ends within the busy minutes
    st.integers(0, MINUTE), st.integers(MINUTE, 3 * MINUTE // 2))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(happened=st.lists(dense, min_size=20, max_size=80),
       windows=st.lists(ending_inside, min_size=1, max_size=4))
def test_a_window_ending_in_a_minute_still_written_equals_brute_force(
        store: Store, happened: list[tuple[int, str, int, int, str | None, int]],
        windows: list[tuple[int, int]]) -> None:
    """Events after a window's end in its last minute (committed after the request's "now"):
    that minute's rollups less those events, or its events when that cannot be exact."""
    workspace_sid = f"WS{next(_workspaces):032d}"
    events = [event(workspace_sid, seq, kind, BASE + at, queue, worker, channel, wait)
              for seq, (at, kind, queue, worker, channel, wait) in enumerate(happened, 1)]
    store.submit_changes(Changes(events=events)).result()
    check_windows(store, workspace_sid, windows)
    check_windows(store, workspace_sid, windows, EdgeMinutes())


@pytest.mark.parametrize("later_waits", [(5_000,), (5_000, 7_000), (1_000,), (500,), (20_000,),
                                         (5_000, 20_000)])
def test_events_after_the_end_taken_out_of_the_last_minute(
        store: Store, later_waits: tuple[int, ...]) -> None:
    """Waits strictly between the least and the greatest are taken out of the minute's
    rollups; one equal to either sends the read to the events."""
    workspace_sid = f"WS{next(_workspaces):032d}"
    dated = [(2 * MINUTE + 10_000, 1_000), (2 * MINUTE + 20_000, 5_000),
             (2 * MINUTE + 30_000, 12_000), (MINUTE + 5_000, 3_000),
             *((2 * MINUTE + 45_000 + i, w) for i, w in enumerate(later_waits))]
    kinds = [(at, wait, kind) for at, wait in dated
             for kind in ("task.canceled", "reservation.accepted")]
    events = [event(workspace_sid, seq, kind, BASE + at, 0, 0, "chat", wait)
              for seq, (at, wait, kind) in enumerate(kinds, 1)]
    store.submit_changes(Changes(events=events)).result()
    check_windows(store, workspace_sid, [(30_000, 2 * MINUTE + 10_000)])


def test_events_stored_without_rollups_are_folded_in_once(store: Store) -> None:
    """Events written straight into the log (as before migration 0008) count once their
    ``stat_backfill`` mark is folded in, a batch at a time, together with later commits."""
    workspace_sid = f"WS{next(_workspaces):032d}"
    old = [event(workspace_sid, seq, KINDS[seq % len(KINDS)], BASE + seq * 7_001, seq % 2,
                 seq % 3 % 2, ("chat", None)[seq % 2], seq * 997 % 40_000)
           for seq in range(1, 60)]
    rows = [dict(zip(EVENT_FIELDS, row, strict=True))
            for row in Changes(events=old).event_rows()]

    def write_raw(conn: Any) -> None:
        conn.execute(insert(tables.events), rows)
        conn.execute(insert(tables.stat_backfill).values(workspace_sid=workspace_sid,
                                                         seq=len(old), done=0))

    store.submit(write_raw).result()
    later = [event(workspace_sid, seq, "reservation.accepted", BASE + seq * 3_000, 0, 0,
                   "chat", 12_345) for seq in range(60, 80)]
    store.submit_changes(Changes(events=later)).result()
    steps = 0
    while not store.submit(lambda conn: backfill_step(conn, workspace_sid, 0, batch=17)
                           ).result():
        steps += 1
    assert steps == 3  # 59 events, 17 at a time
    assert store.submit(lambda conn: backfill_step(conn, workspace_sid, 0)).result()
    check_windows(store, workspace_sid, [(0, 4 * MINUTE), (12_345, 2 * MINUTE + 1),
                                         (30_000, 30_000), (-MINUTE, 10 * MINUTE)])


def _answers(runtime: Runtime, workspace_sid: str, windows: list[Window]) -> list[Any]:
    """Each window's figures of the workspace and its queues, and its workers' activity."""
    service = statistics_of(runtime)
    engine = runtime.engine(ACCOUNT_SID, workspace_sid)
    queues = sorted(engine.task_queues)

    def read(reader: WindowReader) -> Any:
        return [reader.figures(scope, [sid]) for scope, sid in (
            (WORKSPACE, ""), *((QUEUE, q) for q in queues))]

    async def ask() -> list[Any]:
        found = []
        for w in windows:
            found.append(await service.read(workspace_sid, w, None, read))
            activity = await service.activity(workspace_sid)
            found.append(activity.durations(w.start, w.end, engine.workers))
        return found

    return asyncio.run(ask())


def test_the_same_answers_after_a_restart(database_url: str) -> None:
    windows = [Window(START_MS - 5, START_MS + 13_000), Window(START_MS + 1, START_MS + 12_999),
               Window(START_MS + 10_000, START_MS + 20 * MINUTE)]
    runtime = make_runtime(database_url)
    try:
        workspace_sid = run_scenario(runtime)
        before = _answers(runtime, workspace_sid, windows)
    finally:
        runtime.stop()
    runtime = make_runtime(database_url)
    try:
        after = _answers(runtime, workspace_sid, windows)
    finally:
        runtime.stop()
    assert after == before
    everything = before[0][0][""]
    assert everything["tasks_created"].count == 2
    assert everything["reservations_accepted"].count == 1
    assert everything["tasks_canceled"].count == 1
    assert before[1]  # time in activities


def test_rollups_of_periods_before_the_horizon_are_pruned(store: Store) -> None:
    workspace_sid = f"WS{next(_workspaces):032d}"
    events = [event(workspace_sid, seq, "reservation.accepted", BASE + seq * MINUTE, 0, 0,
                    None, 1_500) for seq in range(1, 6)]
    store.submit_changes(Changes(events=events)).result()

    def periods(table: Any) -> list[tuple[int, int]]:
        with store.engine.connect() as conn:
            return sorted({(int(span) // MINUTE, (int(start) - BASE) // MINUTE)
                           for span, start in conn.execute(
                select(table.c.span, table.c.period_start).where(
                    table.c.workspace_sid == workspace_sid))})

    hour_and_day = [(60, 0), (1440, 0)]
    for table in (tables.stat_rollups, tables.stat_waits):
        assert periods(table) == [(1, n) for n in range(1, 6)] + hour_and_day
    store.submit(lambda conn: prune(conn, BASE + 3 * MINUTE + 1)).result()
    for table in (tables.stat_rollups, tables.stat_waits):  # the minute under way stays
        assert periods(table) == [(1, n) for n in range(3, 6)] + hour_and_day


def test_the_daily_sweep_drops_rollups_statistics_no_longer_reach(tmp_path: Path) -> None:
    runtime = make_runtime(sqlite_url(tmp_path))
    try:
        workspace_sid = f"WS{next(_workspaces):032d}"
        events = [event(workspace_sid, 1, "task.created", BASE, 0, 0, None, 0),
                  event(workspace_sid, 2, "task.created", BASE + 2 * DAY, 0, 0, None, 0)]
        runtime.store.submit_changes(Changes(events=events)).result()
        asyncio.run(runtime.advance_clock(33 * DAY))  # the first event is 33 days old
        # Its minute, hour and day, of the workspace and of the workflow.
        assert asyncio.run(prune_rollups(runtime)) == 6
        with runtime.store.engine.connect() as conn:
            left = {int(start) for (start,) in conn.execute(
                select(tables.stat_rollups.c.period_start).where(
                    tables.stat_rollups.c.workspace_sid == workspace_sid))}
        assert left == {BASE + 2 * DAY}
    finally:
        runtime.stop()
