"""The ``fewest_accepted`` selection strategy (an extension, docs/extensions.md) and the
recent-reservation history it and the wait estimates learn from (routing/history.py)."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from routing_helpers import World, rebuild

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.history import (
    ACCEPT_WINDOW_MS,
    ACCEPTED,
    HANDLED,
    AcceptCounts,
    HandleTimes,
    handle_samples,
)
from switchboard.routing.model import Event, Task, Worker
from switchboard.routing.selection import LongestIdle

HOUR = 3600


def setup(names: tuple[str, ...] = ("a", "b", "c"), **target: Any
          ) -> tuple[World, list[Worker], list[Event]]:
    world = World()
    queue = world.queue()
    world.workflow({"default_filter": {"queue": queue.sid, "worker_selection": "fewest_accepted",
                                       **target}})
    workers = []
    for name in names:  # created a second apart: a is the longest idle, then b, then c
        workers.append(world.worker(name))
        world.clock.advance(1)
    return world, workers, world.events()


def serve(world: World, task: Task, log: list[Event]) -> str:
    """Accept and complete the task at once; the name of who took it."""
    holder = world.holder(task)
    assert holder is not None
    world.accept(world.pending(task))
    world.complete(task)
    log.extend(world.events())
    return str(holder)


def accepted(log: list[Event]) -> list[tuple[int, str]]:
    """The accepts the runtime reads from the store on a restart."""
    return [(e.event_date, str(e.worker_sid)) for e in log if e.event_type == ACCEPTED]


def test_the_worker_with_fewest_accepts_gets_the_task_ties_to_the_longest_idle() -> None:
    world, _, log = setup()
    # Nobody has accepted: a tie, the longest idle first (a), then b (a is now at the back).
    assert serve(world, world.task(), log) == "a"
    world.clock.advance(1)
    assert serve(world, world.task(), log) == "b"
    world.clock.advance(1)
    assert serve(world, world.task(), log) == "c"
    world.clock.advance(1)
    # 1 each: longest idle again (a).
    assert serve(world, world.task(), log) == "a"
    world.clock.advance(1)
    # a has 2: b (1, idle longer than c) then c.
    assert [serve(world, world.task(), log) for _ in range(2)] == ["b", "c"]


def test_only_accepts_count_not_offers_or_rejects() -> None:
    world, _, log = setup(("a", "b"))
    task = world.task()
    assert world.holder(task) == "a"
    world.reject(world.pending(task))  # a rejected: no accept counted; b takes it
    assert serve(world, task, log) == "b"
    world.clock.advance(1)
    assert serve(world, world.task(), log) == "a"  # a 0 accepts, b 1


def test_accepts_leave_the_count_after_24_hours_on_the_engine_clock() -> None:
    world, _, log = setup(("a", "b"))
    for _ in range(3):  # a and b alternate: a twice, b once
        serve(world, world.task(), log)
        world.clock.advance(1)
    world.clock.advance(12 * HOUR)
    assert serve(world, world.task(), log) == "b"  # b 1 < a 2 -> b, now 2 each
    world.clock.advance(12 * HOUR - 3)
    # a's first accept is just over 24 h old: a 1 < b 2.
    assert serve(world, world.task(), log) == "a"
    world.clock.advance(25 * HOUR)
    counts = world.engine.lifecycle.accepts
    counts.prune(world.now)
    assert counts.count(world.named("a").sid) == counts.count(world.named("b").sid) == 0


def test_order_by_comes_first_and_fewest_accepted_breaks_its_ties() -> None:
    world = World()
    queue = world.queue()
    world.workflow({"default_filter": {"queue": queue.sid, "order_by": "worker.level DESC",
                                       "worker_selection": "fewest_accepted"}})
    world.worker("low", level=1)
    for name in ("h1", "h2"):
        world.worker(name, level=5)
        world.clock.advance(1)
    log: list[Event] = []
    taken = [serve(world, world.task(), log) for _ in range(4)]
    assert taken == ["h1", "h2", "h1", "h2"]


def test_the_counts_survive_a_restart_from_the_stored_events() -> None:
    world, _, log = setup()
    taken = [serve(world, world.task(), log) for _ in range(2)]  # a then b, each 1
    world.clock.advance(1)
    assert taken == ["a", "b"]
    world.engine = WorkspaceEngine.load(**_load_args(world.engine, world.now),
                                        accepted=accepted(log))
    accepts = world.engine.lifecycle.accepts
    assert [accepts.count(world.named(n).sid) for n in "abc"] == [1, 1, 0]
    assert serve(world, world.task(), log) == "c"
    # Without the history the counts would be gone: a (longest idle) would take it.
    fresh = rebuild(world.engine, world.now)
    assert fresh.lifecycle.accepts.count(world.named("a").sid) == 0


def _load_args(engine: WorkspaceEngine, now: int) -> dict[str, Any]:
    """``rebuild``'s arguments, to add ``accepted`` to."""
    loaded: dict[str, Any] = {}
    original = WorkspaceEngine.load

    def capture(workspace: Any, **kwargs: Any) -> WorkspaceEngine:
        loaded.update(kwargs, workspace=workspace)
        return original(workspace, **kwargs)

    WorkspaceEngine.load = capture  # type: ignore[method-assign]
    try:
        rebuild(engine, now)
    finally:
        WorkspaceEngine.load = original  # type: ignore[method-assign]
    return loaded


def long_run(strategy: str, seed: int = 7, steps: int = 2000) -> Counter[str]:
    """Accepts per worker: five workers, a task every 30 s, random handle times (mean 100 s,
    exponential, seeded), each offer accepted at once."""
    rng = random.Random(seed)
    world = World()
    queue = world.queue()
    world.workflow({"default_filter": {"queue": queue.sid, "worker_selection": strategy}})
    names = ("a", "b", "c", "d", "e")
    for name in names:
        world.worker(name)
    busy: dict[str, tuple[int, Task]] = {}  # worker name -> (done at, task)
    accepted: Counter[str] = Counter()
    for step in range(steps):
        for name, (done, task) in list(busy.items()):
            if done <= world.now:
                world.complete(task)
                del busy[name]
        if step % 6 == 0:
            world.task()
        for name in names:
            for sid in world.tasks_of(world.named(name), "pending"):
                task = world.engine.task(sid)
                world.accept(world.pending(task))
                accepted[name] += 1
                busy[name] = (world.now + round(rng.expovariate(1 / 100) * 1000), task)
        world.clock.advance(5)
    return accepted


def test_fairness_over_a_long_run() -> None:
    """fewest_accepted keeps the accepts even whatever the handle times were; longest idle
    does not aim at it (benchmarks/wait_estimates.py prints the figures per strategy)."""
    even = long_run("fewest_accepted")
    skewed = long_run("longest_idle")
    assert sum(even.values()) == sum(skewed.values())
    assert max(even.values()) - min(even.values()) <= 6  # offers go to idle workers only
    assert max(skewed.values()) - min(skewed.values()) > max(even.values()) - min(even.values())


def test_accept_counts_window_is_exact() -> None:
    counts = AcceptCounts()
    counts.record("WKa", 1_000)
    counts.record("WKa", 2_000)
    counts.record("WKb", 2_000)
    counts.prune(1_000 + ACCEPT_WINDOW_MS - 1)
    assert (counts.count("WKa"), counts.count("WKb")) == (2, 1)
    counts.prune(1_000 + ACCEPT_WINDOW_MS)  # exactly 24 h old: out
    assert (counts.count("WKa"), counts.count("WKb")) == (1, 1)
    counts.prune(2_000 + ACCEPT_WINDOW_MS)
    assert (counts.count("WKa"), counts.count("WKb")) == (0, 0)


def check_accept_counts(steps: list[tuple[int, int]], window_ms: int) -> AcceptCounts:
    """Records the accepts (worker, ms since the last), pruning after each, and compares
    every count with the brute-force count of the accepts within the window."""
    counts = AcceptCounts(window_ms=window_ms)
    told: Counter[str] = Counter()
    counts.changed = lambda sid, old: told.update((sid,))
    accepted: list[tuple[int, str]] = []
    now = 0
    for worker, step in steps:
        now += step
        counts.record(f"WK{worker}", now)
        accepted.append((now, f"WK{worker}"))
        counts.prune(now)
        # The accepts in the window: those after the last one at or before its start.
        start = bisect_right(accepted, (now - window_ms, "~"))
        live = Counter(sid for _, sid in accepted[start:])
        assert all(counts.count(f"WK{w}") == live[f"WK{w}"] for w in range(4))
    expired = sum(1 for at, _ in accepted if at <= now - window_ms)
    assert sum(told.values()) == len(accepted) + expired  # told of each change once
    return counts


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3_000)), max_size=300),
       st.integers(1, 5_000))
def test_accept_counts_equal_brute_force(steps: list[tuple[int, int]], window_ms: int) -> None:
    check_accept_counts(steps, window_ms)


def test_spent_accepts_are_dropped_and_counts_stay_exact() -> None:
    rng = random.Random(7)
    steps = [(rng.randrange(4), rng.randrange(0, 30)) for _ in range(6_000)]
    counts = check_accept_counts(steps, window_ms=1_000)  # ~70 accepts in the window
    assert len(counts._times) < 2_200  # spent accepts went in batches, not all kept


def test_handle_times_mean_and_conditional_residual() -> None:
    times = HandleTimes(samples=4)
    assert times.mean("WQ") is None and times.residual("WQ", 0) is None
    for d in (10, 20, 30, 40, 100):  # the oldest (10) falls out
        times.record("WQ", d)
    assert times.mean("WQ") == 47.5
    assert times.residual("WQ", 0) == 47.5
    assert times.residual("WQ", 25) == (30 + 40 + 100) / 3 - 25
    assert times.residual("WQ", 100) == 0.0  # longer than every sample: due now


def test_handle_times_are_learnt_from_reservation_to_completion() -> None:
    world, _, _ = setup(("a",))
    queue_sid = next(iter(world.engine.task_queues))
    task = world.task()
    world.clock.advance(5)
    world.accept(world.pending(task))
    world.clock.advance(20)
    world.complete(task)
    assert world.engine.lifecycle.handle_times.mean(queue_sid) == 25_000


def test_handle_samples_read_the_newest_events_and_stop_when_every_queue_has_enough() -> None:
    events = []
    for n in range(10):  # reservation n of queue A: created at 100 n, completed 10 + n later
        events.append(("reservation.created", 100 * n, f"WR{n}", "WQa"))
        events.append(("reservation.completed", 100 * n + 10 + n, f"WR{n}", "WQa"))
    events.append(("reservation.created", 2_000, "WRb", "WQb"))  # not completed: no sample
    read = []

    def newest_first() -> Iterator[tuple[str, int, str | None, str | None]]:
        for event in sorted(events, key=lambda e: -e[1]):
            read.append(event)
            yield event

    found = handle_samples(newest_first(), {"WQa"}, samples=3)
    assert found == {"WQa": [17, 18, 19]}  # the latest three, oldest first
    assert len(read) == 7  # stopped at the third one's creation
    assert handle_samples(iter([("reservation.created", 1, "WR1", "WQa")]), set()) == {}
    assert set(HANDLED) == {"reservation.created", "reservation.completed"}


def check_index(world: World) -> None:
    """Every ordered index fewest_accepted keeps equals one computed from scratch."""
    selector = world.engine.lifecycle.selector
    assert isinstance(selector, LongestIdle)
    accepts = world.engine.lifecycle.accepts
    for slot, index in selector.by_accepts.items():
        expected = sorted((accepts.count(sid), world.engine.workers[sid].idle_since, sid)
                          for sid in selector.idle.get(slot, ()))
        assert list(index) == expected


def test_the_ordered_index_stays_exact_through_accepts_expiry_and_activity_changes() -> None:
    rng = random.Random(3)
    world, workers, _ = setup(("a", "b", "c", "d", "e"))
    for worker in workers[:3]:
        world.set_channel(worker, "default", capacity=3)  # idle while holding tasks
    held: list[Task] = []
    for _ in range(400):
        action = rng.random()
        if action < 0.45:
            task = world.task()
            for reservation in world.reservations(task, "pending"):
                # The worker with fewest accepts among the idle ones got it.
                check_index(world)
                world.accept(reservation)
                held.append(task)
        elif action < 0.75 and held:
            world.complete(held.pop(rng.randrange(len(held))))
        elif action < 0.85:
            worker = rng.choice(workers)
            world.set_activity(worker, rng.choice(["Offline", "Available"]))
        else:
            world.clock.advance(rng.choice([60, 3600, 6 * 3600]))
        world.clock.advance(1)
        check_index(world)


def test_each_decision_takes_the_fewest_accepts_among_the_idle() -> None:
    rng = random.Random(5)
    world, workers, _ = setup(("a", "b", "c", "d"))
    accepts = world.engine.lifecycle.accepts
    for _ in range(200):
        idle = [w for w in workers
                if world.channel(w).reserved == 0 and world.activity_of(w) == "Available"]
        accepts.prune(world.now)
        best = min(((accepts.count(w.sid), w.idle_since, w.sid) for w in idle), default=None)
        task = world.task()
        holder = world.holder(task)
        if best is not None:
            assert holder == world.name_of(best[2])
            world.accept(world.pending(task))
            if rng.random() < 0.7:
                world.complete(task)
        world.clock.advance(rng.choice([1, 600, 4 * 3600]))
