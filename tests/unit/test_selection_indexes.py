"""The ordered indexes of the selection strategies (selection.py): through random sequences of
operations, every decision equals a ranking computed from scratch over the workers who could
take the task then (docs/extensions.md, "Worker selection strategies")."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from itertools import groupby

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from routing_helpers import World

from switchboard.routing.errors import RoutingError
from switchboard.routing.model import Task, Worker
from switchboard.routing.selection import (
    LongestIdle,
    order_by_key,
    order_by_values,
)

# A strategy, or a strategy after the target's order_by ("+order_by": worker.rank DESC).
BASE = ("round_robin", "least_occupied", "fewest_accepted", "random")
STRATEGIES = (*BASE, "longest_idle+order_by", *(f"{name}+order_by" for name in BASE))
ORDER_BY = "worker.rank DESC"
CHANNELS = ("default", "chat")
OPERATIONS = st.lists(st.tuples(st.integers(0, 10), st.integers(0, 10_000)),
                      min_size=1, max_size=80)


def occupancy(world: World, worker: Worker) -> Fraction:
    channels = world.engine.worker_channels[worker.sid].values()
    capacity = sum(wc.configured_capacity for wc in channels)
    return Fraction(sum(wc.reserved for wc in channels), capacity) if capacity else Fraction(1)


def idle_there(world: World, worker: Worker, queue_sid: str, channel_sid: str) -> bool:
    """Could the worker take a task of that queue and channel, before the target's checks?"""
    activity = world.engine.activities[worker.activity_sid]
    wc = world.engine.worker_channels[worker.sid].get(channel_sid)
    return (activity.available and queue_sid in world.engine.worker_queues.get(worker.sid, ())
            and wc is not None and wc.available and wc.reserved < wc.configured_capacity)


def draw(seed: str, attempt: int, size: int) -> int:
    digest = hashlib.blake2b(f"{seed}{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % size


def random_choice(seed: str, idle: list[str], eligible: set[str], wanted: int,
                  chosen: list[str], attempt: int = 0) -> int:
    """random as documented: uniform positions in the SID order of the idle workers, drawn
    again on a miss; after 2 wanted + 16 draws, drawn from the list of the eligible left.
    Returns the next draw number."""
    drawn: set[str] = set()
    tries = 0
    while len(chosen) < wanted and len(drawn) < len(idle):
        if tries == 2 * wanted + 16:
            rest = [sid for sid in idle if sid not in drawn and sid in eligible]
            while len(chosen) < wanted and rest:
                chosen.append(rest.pop(draw(seed, attempt, len(rest))))
                attempt += 1
            break
        sid = idle[draw(seed, attempt, len(idle))]
        attempt += 1
        tries += 1
        if sid not in drawn:
            drawn.add(sid)
            if sid in eligible:
                chosen.append(sid)
    return attempt


def brute_force(world: World, selector: LongestIdle, strategy: str, task: Task, wanted: int,
                exclude: str | None) -> list[str]:
    """The strategy's choice, ranking every worker of the workspace from scratch."""
    engine = world.engine
    now = world.now
    assert task.task_queue_sid is not None
    idle = sorted(w.sid for w in engine.workers.values()
                  if idle_there(world, w, task.task_queue_sid, task.task_channel_sid))
    eligible = [engine.workers[sid] for sid in idle if sid != exclude
                and selector.eligibility.fits(task, engine.workers[sid], now)]
    target = task.target
    assert target is not None
    name, _, order_by = strategy.partition("+")

    def values(w: Worker) -> tuple[object, ...]:
        return order_by_key(w, target) if order_by else ()

    if name == "random":
        offers = len(engine.task_reservations.get(task.sid, ()))
        seed = f"{task.sid}:{offers}:"
        ok = {w.sid for w in eligible}
        chosen: list[str] = []
        attempt = 0
        idle_workers = sorted((engine.workers[sid] for sid in idle),
                              key=lambda w: (values(w), w.sid))
        for _, group in groupby(idle_workers, key=values):
            attempt = random_choice(seed, [w.sid for w in group], ok, wanted, chosen, attempt)
        return chosen
    last = selector.last_reserved.get(task.task_queue_sid)
    accepts = engine.lifecycle.accepts
    accepts.prune(now)
    tie = {
        "longest_idle": lambda w: (w.idle_since, w.sid),
        "round_robin": lambda w: (last is not None and w.sid <= last, w.sid),
        "least_occupied": lambda w: (occupancy(world, w), w.idle_since, w.sid),
        "fewest_accepted": lambda w: (accepts.count(w.sid), w.idle_since, w.sid),
    }[name]
    eligible.sort(key=lambda w: (values(w), tie(w)))
    return [w.sid for w in eligible[:wanted]]


def check_indexes(world: World, selector: LongestIdle) -> None:
    """Every ordered index equals one computed from scratch (a stale key shows here even
    before it changes a decision)."""
    engine = world.engine
    accepts = engine.lifecycle.accepts
    accepts.prune(world.now)
    for indexes, key in (
            (selector.by_sid, lambda w: w.sid),
            (selector.by_share, lambda w: (float(occupancy(world, w)), w.idle_since, w.sid)),
            (selector.by_accepts, lambda w: (accepts.count(w.sid), w.idle_since, w.sid))):
        for (queue_sid, channel_sid), index in indexes.items():
            idle = [w for w in engine.workers.values()
                    if idle_there(world, w, queue_sid, channel_sid)]
            assert list(index) == sorted(key(w) for w in idle)
    for (queue_sid, channel_sid), rankings in selector.by_order.items():
        idle = [w for w in engine.workers.values()
                if idle_there(world, w, queue_sid, channel_sid)]
        for (order_by, name), ranking in rankings.items():
            tail = {
                "longest_idle": lambda w: (w.idle_since, w.sid),
                "round_robin": lambda w: (w.sid,),
                "random": lambda w: (w.sid,),
                "least_occupied": lambda w: (float(occupancy(world, w)), w.idle_since, w.sid),
                "fewest_accepted": lambda w: (accepts.count(w.sid), w.idle_since, w.sid),
            }[name]
            expected = sorted((*order_by_values(w, order_by), *tail(w)) for w in idle)
            assert list(ranking.order) == expected
            assert sorted(ranking.keys) == sorted(w.sid for w in idle)


def attributes(n: int) -> dict[str, int]:
    """A level (0: the target's expression refuses the worker) and mostly a rank (order_by;
    a worker without one comes after those with one)."""
    return {"level": n % 3} if n % 5 == 0 else {"level": n % 3, "rank": n % 4}


def run(strategy: str, operations: list[tuple[int, int]]) -> int:
    """Apply the operations, checking every decision; returns how many were checked."""
    world = World()
    queue = world.queue(max_reserved_workers=2)
    # Workers of level 0 are in the queue but fail the target's expression: passed over.
    target: dict[str, str] = {"queue": queue.sid,
                              "worker_selection": strategy.removesuffix("+order_by"),
              "expression": "worker.level > 0"}
    if strategy.endswith("+order_by"):
        target["order_by"] = ORDER_BY
    world.workflow({"default_filter": target})
    selector = world.engine.lifecycle.selector
    assert isinstance(selector, LongestIdle)
    real = selector.select
    checked = 0

    def select(task: Task, wanted: int, now: int, exclude: str | None) -> list[Worker]:
        nonlocal checked
        expected = brute_force(world, selector, strategy, task, wanted, exclude)
        chosen = real(task, wanted, now, exclude)
        assert [w.sid for w in chosen] == expected
        checked += 1
        return chosen

    selector.select = select  # type: ignore[method-assign]
    names = 0
    for op, n in operations:
        workers = list(world.engine.workers.values())
        worker = workers[n % len(workers)] if workers else None
        tasks = [t for t in world.engine.tasks.values()
                 if t.assignment_status in ("reserved", "assigned")]
        task = tasks[n % len(tasks)] if tasks else None
        try:
            if op == 0 or worker is None:
                names += 1
                world.worker(f"w{names}", **attributes(n))
            elif op == 1:
                world.engine.delete_worker(worker.sid, world.now)
            elif op == 2:
                world.set_activity(worker, "Offline" if n % 3 == 0 else "Available")
            elif op == 3:
                world.set_channel(worker, CHANNELS[n % 2], capacity=n % 4)
            elif op in (4, 5):
                world.task(task_channel=CHANNELS[n % 2])
            elif op == 6 and task is not None:
                pending = world.reservations(task, "pending")
                if pending:
                    world.accept(pending[n % len(pending)])
            elif op == 7 and task is not None:
                pending = world.reservations(task, "pending")
                if pending:
                    world.reject(pending[n % len(pending)])
            elif op == 8 and task is not None and task.assignment_status == "assigned":
                world.complete(task)
            elif op == 9:
                world.advance((1, 30, 150, 13 * 3600)[n % 4])  # 150 s: reservations time out
            elif op == 10:
                world.set_attributes(worker, **attributes(n))
        except RoutingError:
            pass  # e.g. deleting a worker with an accepted task: refused, nothing changed
        check_indexes(world, selector)
        world.clock.advance(1)
    return checked


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=OPERATIONS)
def test_each_decision_equals_a_ranking_from_scratch(strategy: str,
                                                     operations: list[tuple[int, int]]) -> None:
    run(strategy, operations)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_long_seeded_run_makes_many_checked_decisions(strategy: str) -> None:
    """A fixed long sequence, so that many decisions are checked whatever hypothesis draws."""
    operations = [((n * 7919) % 11, (n * 104_729) % 10_007) for n in range(1500)]
    operations[:0] = [(0, n) for n in range(12)]  # a dozen workers to start with
    assert run(strategy, operations) > 100


def test_random_spreads_evenly() -> None:
    """The draws are uniform: 1,000 single offers over 10 idle workers, about 100 each."""
    world = World()
    queue = world.queue()
    world.workflow({"default_filter": {"queue": queue.sid, "worker_selection": "random"}})
    workers = world.workers(*(f"w{i}" for i in range(10)))
    counts = dict.fromkeys((w.friendly_name for w in workers), 0)
    for _ in range(1000):
        task = world.task()
        holder = world.holder(task)
        assert holder is not None
        counts[holder] += 1
        world.cancel(task)
    assert min(counts.values()) >= 70 and max(counts.values()) <= 130


def test_random_with_order_by_draws_among_the_first_ranked() -> None:
    world = World()
    queue = world.queue(max_reserved_workers=3)
    world.workflow({"default_filter": {"queue": queue.sid, "worker_selection": "random",
                                       "order_by": ORDER_BY}})
    for i in range(12):
        world.worker(f"w{i}", rank=i % 3)  # four of rank 2, four of 1, four of 0
    seen = set()
    for _ in range(40):
        task = world.task()
        reserved = world.reserved_to(task)
        assert len(reserved) == 3
        assert {world.named(name).parsed_attributes["rank"] for name in reserved} == {2}
        seen.update(reserved)
        world.cancel(task)
    assert seen == {f"w{i}" for i in range(12) if i % 3 == 2}
