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
