"""The statistics structures against brute force: summaries, time in activities, windows."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.routing.errors import InvalidParameter
from switchboard.routing.model import Worker
from switchboard.stats.activity import ActivityLog, Method
from switchboard.stats.cumulative import ACCEPTED, CANCELED, QUEUE, split_by_wait_time, task_flow
from switchboard.stats.series import Summary
from switchboard.stats.stored import periods
from switchboard.stats.window import (
    MINUTE_MS,
    RETENTION_MS,
    Window,
    parse_thresholds,
    resolve_window,
)

NOW = 1_767_225_600_000

# ---------------------------------------------------------------------- summaries


@settings(max_examples=300, deadline=None)
@given(first=st.integers(0, 5 * 1440), length=st.one_of(st.none(), st.integers(0, 5 * 1440)))
def test_periods_tile_whole_minutes_with_the_fewest_minutes_hours_and_days(
        first: int, length: int | None) -> None:
    start = first * MINUTE_MS
    end = None if length is None else start + length * MINUTE_MS
    ranges = periods(start, end)
    at = start
    for span, lo, hi in ranges:  # in order, each a run of whole periods, no gap, no overlap
        assert lo == at and lo % span == 0
        if hi is None:
            assert end is None and (span, lo) == ranges[-1][:2]
            return
        assert hi > lo and hi % span == 0
        at = hi
    assert end is not None and at == end
    # At most: minutes up to an hour, hours up to a day, days, hours, minutes.
    assert len(ranges) <= 5
    assert sum((hi - lo) // span for span, lo, hi in ranges if hi is not None) <= (
        59 + 23 + 5 + 23 + 59)


def test_summary_merge() -> None:
    a, b = Summary(2, 30, 10, 20), Summary(1, 5, 5, 5)
    assert a.merge(b) == Summary(3, 35, 5, 20)
    assert a.merge(Summary()) == a
    assert Summary().merge(b) == b


# ---------------------------------------------------------------------- time in activities

ACTIVITIES = ("A", "B", "C")


@dataclass
class Life:
    """One worker's life: created (or there from the start), changes, maybe deleted."""

    sid: str
    created: int | None  # None: it existed before anything was logged
    first: str
    changes: list[tuple[int, str]]
    deleted: int | None


@st.composite
def lives(draw: st.DrawFn) -> list[Life]:
    result = []
    for n in range(draw(st.integers(1, 6))):
        created = draw(st.one_of(st.none(), st.integers(0, 100)))
        t = created or 0
        changes = []
        for _ in range(draw(st.integers(0, 5))):
            t += draw(st.integers(0, 40))
            changes.append((t, draw(st.sampled_from(ACTIVITIES))))
        deleted = t + draw(st.integers(0, 40)) if draw(st.booleans()) else None
        result.append(Life(f"WK{n}", created, draw(st.sampled_from(ACTIVITIES)), changes,
                           deleted))
    return result


def log_of(workers: list[Life]) -> ActivityLog:
    entries: list[tuple[int, int, str, str | None, str | None]] = []  # time, order, ...
    for life in workers:
        current = life.first
        if life.created is not None:
            entries.append((life.created, len(entries), life.sid, None, current))
        for time, activity in life.changes:
            entries.append((time, len(entries), life.sid, current, activity))
            current = activity
        if life.deleted is not None:
            entries.append((life.deleted, len(entries), life.sid, current, None))
    log = ActivityLog()
    for time, _, sid, before, after in sorted(entries):
        log.add(time, sid, before, after)
    return log


def spent_by_brute_force(workers: list[Life], start: int, end: int, now: int
                         ) -> dict[str, Summary]:
    result: dict[str, Summary] = {}
    for life in workers:
        stays = []  # (from, to, activity)
        since, current = (life.created if life.created is not None else -10**9), life.first
        for time, activity in life.changes:
            stays.append((since, time, current))
            since, current = time, activity
        stays.append((since, life.deleted if life.deleted is not None else now, current))
        mine: dict[str, int] = {}
        for lo, hi, activity in stays:
            overlap = min(hi, end) - max(lo, start)
            if overlap > 0:
                mine[activity] = mine.get(activity, 0) + overlap
        for activity, ms in mine.items():
            result[activity] = result.get(activity, Summary()).merge(Summary(1, ms, ms, ms))
    return result


def current(workers: list[Life]) -> dict[str, Worker]:
    found = {}
    for life in workers:
        if life.deleted is None:
            activity = life.changes[-1][1] if life.changes else life.first
            found[life.sid] = Worker(
                sid=life.sid, account_sid="AC", workspace_sid="WS", friendly_name=life.sid,
                attributes="{}", activity_sid=activity, version=0, date_created=0,
                date_updated=0, date_status_changed=0, idle_since=0)
    return found


def methods(only: set[str] | None) -> tuple[Method | None, ...]:
    """Every way of answering: the walk, and sorted windows (all workers) or standings (some)."""
    return (None, "walk", "window" if only is None else "standings")


@settings(max_examples=300, deadline=None)
@given(workers=lives(), start=st.integers(0, 300), length=st.integers(0, 300),
       only=st.one_of(st.none(), st.sets(st.sampled_from([f"WK{n}" for n in range(6)]))))
def test_time_in_activities_like_brute_force(workers: list[Life], start: int, length: int,
                                             only: set[str] | None) -> None:
    now = 400
    end = min(start + length, now)
    log = log_of(workers)
    chosen = workers if only is None else [life for life in workers if life.sid in only]
    expected = spent_by_brute_force(chosen, start, end, now)
    for method in methods(only):
        assert log.durations(start, end, current(workers), only, method=method) == expected


def entries_of(workers: list[Life]) -> list[tuple[int, str, str | None, str | None]]:
    """Every change of every worker, each worker's in its own order."""
    found = []
    for life in workers:
        current = life.first
        if life.created is not None:
            found.append((life.created, life.sid, None, current))
        for time, activity in life.changes:
            found.append((time, life.sid, current, activity))
            current = activity
        if life.deleted is not None:
            found.append((life.deleted, life.sid, current, None))
    return found


@st.composite
def arrivals(draw: st.DrawFn, workers: list[Life]
             ) -> list[tuple[int, str, str | None, str | None]]:
    """The changes in the order they reach the log: by time, but some late (a clock set back),
    each worker's own still in order."""
    pending = {life.sid: [e for e in entries_of(workers) if e[1] == life.sid]
               for life in workers}
    pending = {sid: changes for sid, changes in pending.items() if changes}
    order = []
    while pending:
        sids = sorted(pending, key=lambda sid: pending[sid][0][0])
        sid = sids[0] if not draw(st.booleans()) else draw(st.sampled_from(sids))
        order.append(pending[sid].pop(0))
        if not pending[sid]:
            del pending[sid]
    return order


windows_in_day = st.tuples(st.integers(0, 400), st.integers(0, 400)).map(
    lambda w: (min(w), max(w)))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), workers=lives(), every=st.integers(1, 6),
       asked=st.lists(windows_in_day, min_size=1, max_size=6),
       meanwhile=st.lists(windows_in_day, max_size=6),
       only=st.one_of(st.none(), st.sets(st.sampled_from([f"WK{n}" for n in range(6)]))))
def test_standings_follow_changes_in_any_order(
        data: st.DataObject, workers: list[Life], every: int, asked: list[tuple[int, int]],
        meanwhile: list[tuple[int, int]], only: set[str] | None) -> None:
    """Checkpoints every few changes, windows asked while changes still arrive (some late):
    every window still answers like brute force, both ways."""
    now = 400
    log = ActivityLog(checkpoint_every=every)
    order = data.draw(arrivals(workers))
    engine = current(workers)
    for n, (time, sid, before, after) in enumerate(order):
        log.add(time, sid, before, after)
        if meanwhile and n % 3 == 0:  # answers not checked: the log is half fed
            start, end = meanwhile.pop()
            log.durations(start, end, engine, None, method="window")
            log.durations(start, end, engine, only or set(), method="standings")
    chosen = workers if only is None else [life for life in workers if life.sid in only]
    for start, end in asked:
        expected = spent_by_brute_force(chosen, start, end, now)
        for method in methods(only):
            assert log.durations(start, end, engine, only, method=method) == expected


@settings(max_examples=200, deadline=None)
@given(workers=lives(), every=st.integers(1, 6), cut=st.integers(0, 300),
       asked=st.lists(windows_in_day, min_size=1, max_size=4))
def test_forgetting_old_changes_keeps_later_windows_exact(
        workers: list[Life], every: int, cut: int, asked: list[tuple[int, int]]) -> None:
    now = 400
    log = ActivityLog(checkpoint_every=every)
    for time, sid, before, after in sorted(entries_of(workers), key=lambda e: e[0]):
        log.add(time, sid, before, after)
    log.durations(0, now, current(workers), method="window")
    log.durations(0, now, current(workers), {"WK0"}, method="standings")
    log.forget_before(cut)
    for start, end in asked:
        start, end = max(start, cut), max(end, cut)
        expected = spent_by_brute_force(workers, start, end, now)
        for method in methods(None):
            assert log.durations(start, end, current(workers), method=method) == expected


def test_forgetting_old_changes_keeps_later_windows() -> None:
    log = ActivityLog()
    log.add(10, "WK1", None, "A")
    log.add(20, "WK1", "A", "B")
    log.add(30, "WK1", "B", "A")
    log.forget_before(25)
    workers = current([Life("WK1", 10, "A", [(20, "B"), (30, "A")], None)])
    for method in methods(None):
        assert log.durations(25, 40, workers, method=method) == {
            "B": Summary(1, 5, 5, 5), "A": Summary(1, 10, 10, 10)}


def test_windows_asked_again_and_again_while_workers_move() -> None:
    """A dashboard's polls: the same lengths of window, a little later each time, while
    changes keep coming (new workers and an activity among them); the sorted windows of
    earlier polls are moved along and answer like brute force."""
    workers = [Life(f"WK{n}", None if n % 3 else n, ACTIVITIES[n % 3],
                    [(n + 7 * k, ACTIVITIES[(n + k) % 3]) for k in range(1, 50)],
                    n + 351 if n % 7 == 0 else None)
               for n in range(40)]
    workers.append(Life("WK99", 300, "D", [(320, "A"), (390, "D")], None))
    entries = sorted(entries_of(workers), key=lambda e: e[0])
    log = ActivityLog(checkpoint_every=100)
    fed = 0
    for now in range(100, 401, 3):
        while fed < len(entries) and entries[fed][0] <= now:
            log.add(*entries[fed])
            fed += 1
        so_far = [life_until(life, now) for life in workers if life_until(life, now)]
        engine = current(so_far)
        for length in (0, 20, 90, 400):
            start, end = max(0, now - length), now
            expected = spent_by_brute_force(so_far, start, end, now)
            assert log.durations(start, end, engine, method="window") == expected
            assert log.durations(start, end, engine) == expected
    assert len(log._windows) == 4


def life_until(life: Life, now: int) -> Life | None:
    """A worker's life as known at ``now``."""
    if life.created is not None and life.created > now:
        return None
    return Life(life.sid, life.created, life.first, [c for c in life.changes if c[0] <= now],
                life.deleted if life.deleted is not None and life.deleted <= now else None)


def test_some_workers_over_many_changes_read_standings() -> None:
    workers = [Life(f"WK{n}", None, ACTIVITIES[n % 3],
                    [(n + 7 * k, ACTIVITIES[(n + k) % 3]) for k in range(1, 50)], None)
               for n in range(40)]
    log = ActivityLog(checkpoint_every=100)
    for entry in sorted(entries_of(workers), key=lambda e: e[0]):
        log.add(*entry)
    only = {"WK1", "WK2", "WK7", "WK30", "WK99"}
    assert log._cheapest(5, 390, only) == "standings"
    for start, end in ((5, 390), (6, 391), (30, 380), (0, 400), (200, 200)):
        assert log.durations(start, end, current(workers), only) == spent_by_brute_force(
            [w for w in workers if w.sid in only], start, end, 400)


# ---------------------------------------------------------------------- windows


def test_default_and_minutes_windows() -> None:
    assert resolve_window(NOW) == Window(NOW - 15 * MINUTE_MS, NOW)
    assert resolve_window(NOW, minutes=240) == Window(NOW - 240 * MINUTE_MS, NOW)
    assert resolve_window(NOW, minutes=10**9) == Window(NOW - RETENTION_MS, NOW)


def test_date_windows() -> None:
    assert resolve_window(NOW, start_date=NOW - 5) == Window(NOW - 5, NOW)
    assert resolve_window(NOW, end_date=NOW - 5) == Window(NOW - 5 - 15 * MINUTE_MS, NOW - 5)
    assert resolve_window(NOW, start_date=NOW - 9, end_date=NOW + 99) == Window(NOW - 9, NOW)
    assert resolve_window(NOW, start_date=0, end_date=NOW) == Window(NOW - RETENTION_MS, NOW)
    assert resolve_window(NOW, start_date=NOW, end_date=NOW) == Window(NOW, NOW)


@pytest.mark.parametrize("kwargs", [
    {"minutes": 5, "start_date": NOW},
    {"minutes": 5, "end_date": NOW},
    {"minutes": 0},
    {"start_date": NOW, "end_date": NOW - 1},
    {"start_date": NOW + 1},
    {"end_date": NOW - RETENTION_MS - 1},
])
def test_window_errors(kwargs: dict[str, int]) -> None:
    with pytest.raises(InvalidParameter):
        resolve_window(NOW, **kwargs)


def test_thresholds() -> None:
    assert parse_thresholds(None) is None
    assert parse_thresholds("5, 30,5,0") == (5, 30, 0)
    for bad in ("", "5,", "a", "-1", "1.5", "1" * 11, "\u0661"):
        with pytest.raises(InvalidParameter):
            parse_thresholds(bad)


def test_short_windows_over_many_workers() -> None:
    """Few changes in the window, many workers in the log (the walk keeps its state sparse)."""
    workers = [Life(f"WK{n}", None, "A", [(10 + n, "B")], None) for n in range(50)]
    workers[0].changes.append((390, "C"))
    workers[1].deleted = 395
    log = log_of(workers)
    for start, end in ((380, 400), (385, 392), (0, 400)):
        assert log.durations(start, end, current(workers)) == spent_by_brute_force(
            workers, start, end, 400)


@settings(max_examples=200, deadline=None)
@given(workers=lives(), ends=st.tuples(st.integers(0, 60), st.integers(0, 60)))
def test_a_window_sorted_from_every_worker_or_from_those_that_moved_is_the_same(
        workers: list[Life], ends: tuple[int, int]) -> None:
    log = log_of(workers)
    first, last = sorted(min(end, len(log.times)) for end in ends)
    everyone = log._sorted_window(first, last, every=True)
    moved = log._sorted_window(first, last, every=False)
    assert everyone.spans == moved.spans
    assert everyone.totals == moved.totals


def test_task_flow_from_figures() -> None:
    figures = {"tasks_entered": Summary(2), ACCEPTED: Summary(2, 3_000, 1_000, 2_000),
               CANCELED: Summary(1, 500, 500, 500)}
    flow = task_flow(figures, QUEUE, ([(1, 1)], [(1, 1), (2, 1)]), (1,))
    assert flow["tasks_entered"] == 2
    assert flow["reservations_accepted"] == 2
    assert flow["wait_duration_until_accepted"] == {"avg": 2, "min": 1, "max": 2, "total": 3}
    assert flow["avg_task_acceptance_time"] == 2
    assert flow["wait_duration_until_canceled"] == {"avg": 1, "min": 1, "max": 1, "total": 1}
    assert flow["split_by_wait_time"] == {"1": {
        "above": {"tasks_canceled": 0, "reservations_accepted": 1},
        "below": {"tasks_canceled": 1, "reservations_accepted": 1}}}
    assert task_flow({}, QUEUE, None, None)["split_by_wait_time"] is None


def test_split_by_wait_time_counts_a_wait_on_the_threshold_as_below() -> None:
    """Waits are kept as whole seconds rounded up: 5.000 s is 5 (below 5), 5.001 s is 6."""
    split = split_by_wait_time([], [(5, 2), (6, 1), (30, 4)], (4, 5, 30, 31))
    assert [split[t]["below"]["reservations_accepted"] for t in ("4", "5", "30", "31")] == [
        0, 2, 7, 7]
    assert split["5"]["above"]["reservations_accepted"] == 5
