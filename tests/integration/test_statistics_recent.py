"""Windows answered from memory (``stats.recent``: the live minutes fed by the store's writer,
closed periods' sums cached) equal brute force folded from the stored events one by one: after
more commits, after events landing in closed minutes (the clock stepped back), after a restart,
with a cache too small for them all; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.routing.changes import Changes
from switchboard.service.runtime import Runtime
from switchboard.service.statistics import statistics_of
from switchboard.stats.cumulative import QUEUE, WORKER, WORKSPACE
from switchboard.stats.recent import LIVE_MINUTES, RecentRollups
from switchboard.stats.stored import EdgeMinutes, WindowReader, brute_force, reading
from switchboard.stats.window import Window
from switchboard.store.database import Store
from tests.conftest import ACCOUNT_SID, START_MS, make_runtime
from tests.integration.test_statistics_rollups import (
    BASE,
    DAY,
    KINDS,
    MINUTE,
    QUEUES,
    SCOPES,
    WORKERS,
    _check_reservations,
    event,
    split_brute,
    stored,
)
from tests.integration.test_statistics_store import run_scenario

_workspaces = itertools.count(1)


class Fed:
    """A store with recent statistics fed by its writer, as the statistics service sets up."""

    def __init__(self, store: Store, closed_entries: int = 256, closed_sids: int = 10_000
                 ) -> None:
        self.store = store
        self.edges = EdgeMinutes()
        self.recent = RecentRollups(self.edges, store.submit, closed_entries, closed_sids)
        store.rollup_listeners.append(self.recent)
        self.hits = 0

    def settle(self) -> None:
        """Wait until the writer has done what was queued (loads, sums)."""
        self.store.submit(lambda conn: None).result()

    def read(self, workspace_sid: str, w: Window, channel: str | None, tries: int = 4,
             ask: Callable[[WindowReader], Any] | None = None) -> Any:
        """The window's answers from memory, once the store path and the writer have filled
        what it missed (None: it still cannot answer, e.g. a window starting in a live
        minute)."""
        ask = ask or answers
        for _ in range(tries):
            reader = self.recent.reader(workspace_sid, w, channel)
            if reader is not None:
                found = ask(reader)
                if reader.complete:
                    self.hits += 1
                    return found
                self.recent.fill(workspace_sid, reader.missing)
            with reading(self.store.engine, workspace_sid, w, channel, self.edges) as store:
                ask(store)  # as the service does on a miss: keeps the edge minute
            self.settle()
        return None


def answers(reader: WindowReader) -> list[Any]:
    found: list[Any] = []
    for scope, sid in SCOPES:
        found.append(reader.figures(scope, [sid])[sid])
        if scope != WORKER:
            found.append(reader.split(scope, sid))
    found.append(reader.reservations(None))
    found.append(reader.reservations(set(WORKERS)))
    return found


def brute(store: Store, workspace_sid: str, w: Window, channel: str | None) -> list[Any]:
    records = stored(store, workspace_sid)
    found: list[Any] = []
    for scope, sid in SCOPES:
        found.append(brute_force(records, scope, sid, w, channel))
        if scope != WORKER:
            found.append(split_brute(records, scope, sid, w, channel))
    with reading(store.engine, workspace_sid, w, channel) as reader:
        _check_reservations(reader, records, w, channel)  # the store path agrees
        found.append(reader.reservations(None))
        found.append(reader.reservations(set(WORKERS)))
    return found


def commit(store: Store, workspace_sid: str, first_seq: int,
           happened: list[tuple[int, str, int, int, str | None, int]]) -> int:
    events = [event(workspace_sid, seq, kind, BASE + at, queue, worker, channel, wait)
              for seq, (at, kind, queue, worker, channel, wait) in enumerate(happened,
                                                                               first_seq)]
    if events:
        store.submit_changes(Changes(events=events)).result()
    return first_seq + len(events)


busy = st.tuples(  # some minutes of events, then the windows end at or after the newest
    st.integers(0, 40 * MINUTE), st.sampled_from(KINDS), st.integers(0, 1), st.integers(0, 1),
    st.sampled_from([None, "default", "chat"]),
    st.one_of(st.sampled_from([1_000, 5_000]), st.integers(0, 40_000)))
reach = st.one_of(st.integers(1, 50 * MINUTE), st.integers(1, 3 * DAY))  # a window's length


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(happened=st.lists(busy, min_size=1, max_size=60), later=st.lists(busy, max_size=20),
       late=st.lists(busy, max_size=6), lengths=st.lists(reach, min_size=1, max_size=3),
       after=st.integers(0, 3 * MINUTE), entries=st.sampled_from([1, 256]))
def test_windows_from_memory_equal_brute_force(
        store: Store, happened: list[Any], later: list[Any], late: list[Any],
        lengths: list[int], after: int, entries: int) -> None:
    """Commits, reads; more commits (the live minutes move on), reads; events dated in
    closed minutes, reads — each read from memory equal to brute force, with a cache of one
    closed sum (too few for a request: always read from the store) or many."""
    fed = Fed(store, closed_entries=entries)
    workspace_sid = f"WS{next(_workspaces):032d}"
    happened.sort()  # the clock moves forward...
    seq = commit(store, workspace_sid, 1, happened)
    newest = happened[-1][0]

    def check(now: int) -> None:
        for length, channel in itertools.product(lengths, (None, "chat")):
            w = Window(BASE + now - length, BASE + now)
            found = fed.read(workspace_sid, w, channel)
            if found is not None:
                assert found == brute(store, workspace_sid, w, channel), (w, channel)
            elif entries > 1 and w.start % MINUTE and first_whole(w) <= live_since(newest):
                pytest.fail(f"{w} starts in a closed minute: memory should answer it")

    def first_whole(w: Window) -> int:
        return (w.start // MINUTE + 1) * MINUTE

    def live_since(newest: int) -> int:
        return BASE + newest - newest % MINUTE - (LIVE_MINUTES - 1) * MINUTE

    check(newest + after)
    check(newest + after)  # the cached sums
    more = sorted((at + newest, *rest) for at, *rest in later)
    seq = commit(store, workspace_sid, seq, more)
    newest = max(newest, *(at for at, *_ in more)) if more else newest
    check(newest + after)
    seq = commit(store, workspace_sid, seq, late)  # ...or steps back, into closed minutes
    newest = max(newest, *(at for at, *_ in late)) if late else newest
    check(newest + after)
    assert len(fed.recent._closed) <= entries


def test_the_default_window_is_answered_from_memory_and_stays_exact(store: Store) -> None:
    """A dashboard's "last 15 minutes", read again and again while events are committed:
    memory answers all but the first reads of each minute, and an event dated in a closed
    minute (the clock stepped back) is counted at once."""
    fed = Fed(store)
    workspace_sid = f"WS{next(_workspaces):032d}"
    seq = 1
    kinds = itertools.cycle(KINDS)
    answered = 0
    for second in range(0, 40 * 60, 7):  # 40 minutes, an event every 7 s
        seq = commit(store, workspace_sid, seq, [
            (second * 1000, next(kinds), seq % 2, seq % 3 % 2, ("chat", None)[seq % 2],
             seq * 997 % 40_000)])
        if second % 91 == 0:
            now = BASE + second * 1000 + 500
            w = Window(now - 15 * MINUTE, now)
            found = fed.read(workspace_sid, w, None)
            if second >= 16 * 60:
                assert found is not None
                answered += 1
            if found is not None:
                assert found == brute(store, workspace_sid, w, None)
    assert answered >= 10
    # Back in time: into the first whole minute of the window, and into its first part-minute.
    now = BASE + 40 * 60 * 1000
    w = Window(now - 15 * MINUTE + 30_000, now)
    before = fed.read(workspace_sid, w, None)
    assert before is not None
    for at in (now - 14 * MINUTE + 1_000, w.start + 10_000):
        seq = commit(store, workspace_sid, seq, [(at - BASE, "reservation.accepted", 0, 0,
                                                  None, 99_000)])
        found = fed.read(workspace_sid, w, None)
        assert found is not None and found != before
        assert found == brute(store, workspace_sid, w, None)
        before = found


def test_the_cache_is_bounded(store: Store) -> None:
    fed = Fed(store, closed_entries=4, closed_sids=6)
    workspace_sid = f"WS{next(_workspaces):032d}"
    commit(store, workspace_sid, 1, [(at * 20_000, KINDS[at % len(KINDS)], at % 2, 0, None,
                                      at * 311) for at in range(200)])
    now = BASE + 200 * 20_000
    records = stored(store, workspace_sid)
    for minutes in [*range(10, 40), *range(10, 40)]:  # each window's sums dropped, summed again
        w = Window(now - minutes * MINUTE - 1_000, now)
        found = fed.read(workspace_sid, w, None, ask=lambda r: r.figures(QUEUE, QUEUES))
        assert found == {q: brute_force(records, QUEUE, q, w, None) for q in QUEUES}
        assert len(fed.recent._closed) <= 3  # 2 SIDs each, at most 6 in all
        assert fed.recent._closed._weight <= 6


def test_the_same_answers_after_a_restart(database_url: str) -> None:
    """Through the statistics service: read from memory before a restart and after it (the
    live minutes loaded from the store), equal to the store's answers."""

    def answers_of(reader: WindowReader) -> tuple[Any, str]:
        return [reader.figures(scope, [sid]) for scope, sid in (
            (WORKSPACE, ""), *((QUEUE, q) for q in queues))], type(reader).__name__

    def ask(runtime: Runtime) -> list[tuple[Any, str]]:
        service = statistics_of(runtime)

        async def go() -> list[tuple[Any, str]]:
            found = []
            for w in windows:
                for _ in range(3):  # the first reads load and sum; the last from memory
                    found.append(await service.read(workspace_sid, w, None, answers_of))
                    runtime.store.submit(lambda conn: None).result()
            return found

        return asyncio.run(go())

    runtime = make_runtime(database_url)
    try:
        workspace_sid = run_scenario(runtime)
        queues = sorted(runtime.engine(ACCOUNT_SID, workspace_sid).task_queues)
        asyncio.run(runtime.advance_clock(5 * MINUTE))
        asyncio.run(runtime.run(ACCOUNT_SID, workspace_sid,
                                lambda engine, now: engine.create_task(now, attributes="{}")))
        asyncio.run(runtime.advance_clock(20 * MINUTE))
        now = runtime.clock.now_ms()
        windows = [Window(START_MS - 1_000, now), Window(now - 26 * MINUTE, now)]
        before = ask(runtime)
    finally:
        runtime.stop()
    runtime = make_runtime(database_url)
    try:
        after = ask(runtime)
    finally:
        runtime.stop()
    for found in (before, after):
        assert [kind for _, kind in found][2::3] == ["RecentReader"] * len(windows)
        # The same answers from the store and from memory.
        assert all(answer == found[0][0] for answer, _ in found)
    assert after[0][0] == before[0][0]
    workspace = before[0][0][0][""]
    assert workspace["tasks_created"].count == 3
    assert workspace["reservations_accepted"].count == 1


def test_a_commit_while_reading_is_noticed(store: Store) -> None:
    """A batch committed between a reader's first and second read: the reader says so (the
    service reads again) rather than mixing two states of the log."""
    fed = Fed(store)
    workspace_sid = f"WS{next(_workspaces):032d}"
    seq = commit(store, workspace_sid, 1, [(at * 10_000, "task.created", 0, 0, None, 0)
                                           for at in range(40)])
    now = BASE + 40 * 10_000 + 1_000
    w = Window(now - 5 * MINUTE, now)
    assert fed.read(workspace_sid, w, None) is not None
    reader = fed.recent.reader(workspace_sid, w, None)
    assert reader is not None
    first = reader.figures(WORKSPACE, [""])
    commit(store, workspace_sid, seq, [(40 * 10_000 + 500, "task.created", 0, 0, None, 0)])
    reader.figures(WORKSPACE, [""])
    assert reader.changed and not reader.complete and not reader.missing
    again = fed.recent.reader(workspace_sid, w, None)
    assert again is not None
    assert again.figures(WORKSPACE, [""])[""]["tasks_created"].count == (
        first[""]["tasks_created"].count + 1)
    assert again.complete
