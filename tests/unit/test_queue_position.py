"""A waiting task's place in its queue (an extension, docs/extensions.md): the rank of its key
in the live index equals the rank a brute-force ordering of the waiting tasks gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from routing_helpers import SECOND, World, queue_and_workflow

from switchboard.routing.model import Task


def brute_force(tasks: list[Task], lifo: bool) -> list[str]:
    """The waiting tasks in the order the router serves them, computed from scratch."""
    waiting = [t for t in tasks if t.assignment_status == "pending"]
    if lifo:
        waiting.sort(key=lambda t: (-t.virtual_start_time, -t.seq))
    else:
        waiting.sort(key=lambda t: (-t.priority, t.virtual_start_time, t.seq))
    return [t.sid for t in waiting]


operation = st.one_of(
    st.tuples(st.just("create"), st.integers(0, 3), st.integers(0, 10)),
    st.tuples(st.just("cancel"), st.integers(0, 50), st.just(0)),
    st.tuples(st.just("priority"), st.integers(0, 50), st.integers(0, 3)),
    st.tuples(st.just("vst"), st.integers(0, 50), st.integers(0, 10)),
)


@settings(max_examples=60, deadline=None)
@given(lifo=st.booleans(), ops=st.lists(operation, min_size=1, max_size=30))
def test_position_is_the_brute_force_rank(lifo: bool, ops: list[tuple[str, int, int]]) -> None:
    world = World()
    queue_and_workflow(world, task_order="LIFO" if lifo else "FIFO")
    tasks: list[Task] = []
    for kind, a, b in ops:
        live = [t for t in tasks if t.assignment_status == "pending"]
        if kind == "create":
            tasks.append(world.task(priority=a, virtual_start_time=world.now - b * SECOND))
        elif live and kind == "cancel":
            world.cancel(live[a % len(live)])
        elif live and kind == "priority":
            world.update_task(live[a % len(live)], priority=b)
        elif live and kind == "vst":
            world.update_task(live[a % len(live)], virtual_start_time=world.now - b * SECOND)
        world.clock.advance(1)
        expected = brute_force(tasks, lifo)
        for task in tasks:
            position = world.engine.queue_position(task.sid)
            if task.sid in expected:
                assert position == expected.index(task.sid) + 1
            else:
                assert position is None


def test_reserved_and_finished_tasks_have_no_position_and_those_behind_move_up() -> None:
    world = World()
    queue_and_workflow(world)
    first, second, third = (world.task() for _ in range(3))
    assert [world.engine.queue_position(t.sid) for t in (first, second, third)] == [1, 2, 3]
    worker = world.worker("w")
    assert world.holder(first) == "w"
    assert [world.engine.queue_position(t.sid) for t in (first, second, third)] == [None, 1, 2]
    world.cancel(second)
    assert world.engine.queue_position(third.sid) == 1
    world.reject(world.pending(first), activity="Offline")  # back in the queue, first again
    assert [world.engine.queue_position(t.sid) for t in (first, third)] == [1, 2]
    assert worker.friendly_name == "w"


def test_positions_are_per_channel() -> None:
    world = World()
    queue_and_workflow(world)
    voice = world.task(task_channel="voice")
    default = world.task()
    assert world.engine.queue_position(voice.sid) == 1
    assert world.engine.queue_position(default.sid) == 1


def test_a_target_timeout_moves_the_task_and_its_position_to_the_next_queue() -> None:
    world = World()
    first = world.queue("first", "tier == 1")
    second = world.queue("second", "tier == 2")
    cascade = world.workflow({"default_filter": {"queue": first.sid}, "filters": [
        {"filter_friendly_name": "all", "expression": "1==1", "targets": [
            {"queue": first.sid, "timeout": 10}, {"queue": second.sid}]}]})
    direct = world.workflow({"default_filter": {"queue": second.sid}}, "direct")
    a = world.task(workflow=cascade)
    world.clock.advance(1)
    b = world.task(workflow=cascade)
    world.clock.advance(1)
    c = world.task(workflow=direct)  # waits in the second queue from the start
    assert [world.engine.queue_position(t.sid) for t in (a, b, c)] == [1, 2, 1]
    world.advance(10)  # a and b time out of the first queue; older, they go before c
    assert all(t.task_queue_sid == second.sid for t in (a, b, c))
    assert [world.engine.queue_position(t.sid) for t in (a, b, c)] == [1, 2, 3]
    # The router serves them in that order.
    world.worker("w", tier=2)
    served = []
    for _ in range(3):
        task = next(t for t in (a, b, c) if world.holder(t) == "w")
        served.append(task.sid)
        world.accept(world.pending(task))
        world.complete(task)
    assert served == [a.sid, b.sid, c.sid]


def test_positions_are_per_queue_and_prioritize_queue_order_decides_between_queues() -> None:
    for prioritized in ("FIFO", "LIFO"):
        world = World(prioritize_queue_order=prioritized)
        fifo = world.queue("fifo", "1==1")
        lifo = world.queue("lifo", "1==1", task_order="LIFO")
        to_fifo = world.workflow({"default_filter": {"queue": fifo.sid}}, "f")
        to_lifo = world.workflow({"default_filter": {"queue": lifo.sid}}, "l")
        made = []
        for _ in range(2):
            made.append(world.task(workflow=to_fifo))
            world.clock.advance(1)
            made.append(world.task(workflow=to_lifo))
            world.clock.advance(1)
        f1, l1, f2, l2 = made
        # Each queue in its own order: FIFO oldest first, LIFO newest first.
        assert [world.engine.queue_position(t.sid) for t in made] == [1, 2, 2, 1]
        world.worker("w")
        served = []
        for _ in range(4):
            task = next(t for t in made if world.holder(t) == "w")
            served.append(task)
            world.accept(world.pending(task))
            world.complete(task)
        # A worker in both drains the prioritized kind first, each queue in position order.
        expected = [f1, f2, l2, l1] if prioritized == "FIFO" else [l2, l1, f1, f2]
        assert served == expected


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["create", "cancel", "serve", "reject"]),
                              st.integers(0, 3), st.integers(0, 50)), min_size=1, max_size=30))
def test_position_is_the_brute_force_rank_with_workers_taking_and_rejecting(
        ops: list[tuple[str, int, int]]) -> None:
    """With a worker taking, completing and rejecting tasks (rejected ones come back)."""
    world = World()
    queue_and_workflow(world)
    worker = world.worker("w", capacity={"default": 2})
    world.set_activity(worker, "Offline")
    tasks: list[Task] = []
    for kind, a, b in ops:
        if kind == "create":
            tasks.append(world.task(priority=a, virtual_start_time=world.now - b * SECOND))
        else:
            live = [t for t in tasks if t.assignment_status == "pending"]
            held = [t for t in tasks if world.holder(t) == "w"]
            if kind == "cancel" and live:
                world.cancel(live[b % len(live)])
            elif kind == "serve":
                world.set_activity(worker, "Available")  # takes up to two, in queue order
                world.set_activity(worker, "Offline")
            elif kind == "reject" and held:
                world.reject(world.pending(held[b % len(held)]), activity="Offline")
        world.clock.advance(1)
        expected = brute_force(tasks, lifo=False)
        assert [world.engine.queue_position(t.sid) for t in tasks] == [
            expected.index(t.sid) + 1 if t.sid in expected else None for t in tasks]
