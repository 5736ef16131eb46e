"""The worker selection strategies beyond TaskRouter's (an extension, docs/extensions.md):
a workflow target's ``worker_selection``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from routing_helpers import World, rebuild

from switchboard.routing.errors import RoutingError
from switchboard.routing.model import Task, Worker


def setup(strategy: str | None, names: tuple[str, ...] = ("a", "b", "c", "d"),
          **target: Any) -> tuple[World, list[Worker]]:
    world = World()
    queue = world.queue()
    if strategy is not None:
        target["worker_selection"] = strategy
    world.workflow({"filters": [], "default_filter": {"queue": queue.sid, **target}})
    return world, world.workers(*names)


def serve(world: World, task: Task) -> str:
    """Accept and complete a task at once: the name of who took it."""
    holder = world.holder(task)
    assert holder is not None
    world.accept(world.pending(task))
    world.complete(task)
    return holder


def by_sid(workers: list[Worker]) -> list[str]:
    return [w.friendly_name for w in sorted(workers, key=lambda w: w.sid)]


def test_an_unknown_strategy_is_refused_by_name() -> None:
    world = World()
    queue = world.queue()
    with pytest.raises(RoutingError) as info:
        world.workflow({"default_filter": {"queue": queue.sid, "worker_selection": "fewest"}})
    assert "worker_selection" in str(info.value) and "'fewest'" in str(info.value)
    assert info.value.status == 400


def test_longest_idle_by_name_is_the_default() -> None:
    for strategy in (None, "longest_idle"):
        world, _ = setup(strategy)
        taken = []
        for _ in range(3):
            taken.append(serve(world, world.task()))
            world.clock.advance(1)
        assert taken == ["a", "b", "c"]


def test_round_robin_goes_round_in_a_fixed_order() -> None:
    world, workers = setup("round_robin")
    order = by_sid(workers)
    # Each task is served at once; unlike longest idle, the order does not follow idle time.
    world.set_activity(workers[0], "Offline")
    world.set_activity(workers[0], "Available")  # a goes to the back of the idle order
    taken = [serve(world, world.task()) for _ in range(8)]
    assert taken == order * 2


def test_round_robin_continues_after_the_last_one_reserved_and_skips_the_busy() -> None:
    world, workers = setup("round_robin")
    order = by_sid(workers)
    first = world.task()
    assert world.holder(first) == order[0]
    second = world.task()  # order[0] still holds the first (capacity 1): the next one
    assert world.holder(second) == order[1]
    serve(world, first)
    serve(world, second)
    assert serve(world, world.task()) == order[2]


def test_least_occupied_takes_the_lowest_share_of_capacity() -> None:
    world = World()
    queue = world.queue()
    world.workflow({"default_filter": {"queue": queue.sid, "worker_selection": "least_occupied"}})
    big = world.worker("big", capacity={"default": 4})
    world.clock.advance(1)
    small = world.worker("small", capacity={"default": 2})
    # big 0/4 = small 0/2: the longest idle (big); then small 0/2 < big 1/4; then big 1/4 <
    # small 1/2; big takes four in all, small two, each full at the end.
    holders = [world.holder(world.task()) for _ in range(6)]
    assert holders[:3] == ["big", "small", "big"]
    assert Counter(holders) == {"big": 4, "small": 2}
    assert world.channel(big).reserved == 4 and world.channel(small).reserved == 2


def test_least_occupied_balances_over_a_long_run() -> None:
    world, workers = setup("least_occupied", names=("a", "b", "c", "d", "e"))
    for w in workers:
        world.set_channel(w, "default", capacity=10)
    held: list[Task] = []
    spread = []
    for step in range(400):
        loads = {w.friendly_name: world.channel(w).reserved for w in workers}
        task = world.task()
        holder = world.holder(task)
        if holder is not None:
            assert loads[holder] == min(loads.values())  # always the least loaded
            world.accept(world.pending(task))
            held.append(task)
        if len(held) > 30 or (step % 7 == 0 and held):
            world.complete(held.pop((step * 13) % len(held)))
        loads = {w.friendly_name: world.channel(w).reserved for w in workers}
        spread.append(max(loads.values()) - min(loads.values()))
        world.clock.advance(1)
    # Completions unbalance for a moment; the next assignments even it out again.
    assert max(spread) <= 2


def test_round_robin_spreads_evenly_over_a_long_run() -> None:
    world, workers = setup("round_robin", names=("a", "b", "c", "d", "e"))
    counts = Counter(serve(world, world.task()) for _ in range(500))
    assert counts == {w.friendly_name: 100 for w in workers}


def test_random_is_reproducible_and_spreads() -> None:
    runs = []
    for _ in range(2):
        world, _ = setup("random", names=("a", "b", "c", "d", "e"))
        runs.append([serve(world, world.task()) for _ in range(500)])
    assert runs[0] == runs[1]  # the same SIDs give the same draws
    counts = Counter(runs[0])
    assert set(counts) == {"a", "b", "c", "d", "e"}
    assert min(counts.values()) >= 60  # 100 each expected


def test_random_draws_again_after_a_reject() -> None:
    world, _ = setup("random", names=("a", "b", "c", "d", "e", "f", "g", "h"))
    task = world.task()
    seen = [world.holder(task)]
    for _ in range(3):
        world.reject(world.pending(task))
        seen.append(world.holder(task))
    # Each offer is a new draw (a worker who rejected may draw again, as it may under longest
    # idle when it is the only one).
    assert len(set(seen)) > 1


def test_order_by_first_then_the_strategy_breaks_ties() -> None:
    world = World()
    queue = world.queue()
    world.workflow({"default_filter": {"queue": queue.sid, "order_by": "worker.level DESC",
                                       "worker_selection": "round_robin"}})
    low = world.worker("low", level=1)
    high = [world.worker(name, level=5) for name in ("h1", "h2", "h3")]
    order = by_sid(high)
    taken = [serve(world, world.task()) for _ in range(6)]
    assert taken == order * 2
    assert "low" not in taken and low.friendly_name == "low"


def test_the_strategy_survives_a_rebuild() -> None:
    world, _ = setup("least_occupied")
    task = world.task()
    assert world.holder(task) == "a"
    world.engine = rebuild(world.engine, world.now)
    target = world.engine.task(task.sid).target
    assert target is not None and target.worker_selection == "least_occupied"
