"""Which worker gets a task, which task a worker gets: idle order, queue order, capacity,
multi-reservation, single-tasking and queue membership."""

from __future__ import annotations

from typing import Any

from routing_helpers import SECOND, T0, World, rebuild

from switchboard.routing.model import Task, TaskQueue, Workflow


def queue_and_workflow(world: World, **options: Any) -> tuple[TaskQueue, Workflow]:
    queue = world.queue(**options)
    return queue, world.workflow(queue)


def sids_to_names(tasks: dict[str, Task], sids: list[str]) -> list[str]:
    by_sid = {task.sid: name for name, task in tasks.items()}
    return [by_sid[sid] for sid in sids]


# ---------------------------------------------------------------------- worker order


def test_longest_idle_worker_first() -> None:
    world = World()
    queue_and_workflow(world)
    a, b, c = world.workers("a", "b", "c")
    first = world.task()
    assert world.holder(first) == "a"
    world.clock.advance(1)
    second = world.task()
    assert world.holder(second) == "b"
    world.accept(world.pending(first))
    world.complete(first)
    # a is free again, but c has waited longest since it was last offered a task.
    world.clock.advance(1)
    third = world.task()
    assert world.holder(third) == "c"
    world.clock.advance(1)
    assert world.holder(world.task()) == "a"
    assert (a.idle_since, b.idle_since, c.idle_since) == (
        T0 + 6 * SECOND, T0 + 4 * SECOND, T0 + 5 * SECOND)


def test_a_rejected_offer_still_counts_as_the_worker_s_last_offer() -> None:
    world = World()
    queue_and_workflow(world)
    world.workers("a", "b", "c")
    task = world.task()
    world.reject(world.pending(task))
    assert world.holder(task) == "b"
    world.clock.advance(1)
    assert world.holder(world.task()) == "c"
    world.clock.advance(1)
    assert world.holder(world.task()) == "a"


# ---------------------------------------------------------------------- queue order


def waiting_tasks(world: World) -> dict[str, Task]:
    """Five tasks that wait (nobody is available), with priorities and virtual start times."""
    tasks = {"t1": world.task()}
    world.clock.advance(1)
    tasks["t2"] = world.task(priority=5)
    world.clock.advance(1)
    tasks["t3"] = world.task(virtual_start_time=T0 - 100 * SECOND)
    world.clock.advance(1)
    tasks["t4"] = world.task(priority=5)
    world.clock.advance(1)
    tasks["t5"] = world.task(virtual_start_time=T0 - 100 * SECOND)
    return tasks


def drain(world: World, tasks: dict[str, Task], *, capacity: int = 5) -> list[str]:
    """Make a worker with room for every task available; the order it was given them."""
    worker = world.worker("drain", "Offline", capacity={"default": capacity})
    world.set_activity(worker, "Available")
    return sids_to_names(tasks, world.tasks_of(worker))


def test_fifo_queue_order_is_priority_then_virtual_start_then_creation() -> None:
    world = World()
    queue_and_workflow(world)
    tasks = waiting_tasks(world)
    assert drain(world, tasks) == ["t2", "t4", "t3", "t5", "t1"]


def test_lifo_queue_order_is_newest_first_ignoring_priority() -> None:
    world = World()
    queue_and_workflow(world, task_order="LIFO")
    tasks = waiting_tasks(world)
    assert drain(world, tasks) == ["t4", "t2", "t1", "t5", "t3"]


def test_priority_update_reorders_a_waiting_task() -> None:
    world = World()
    queue_and_workflow(world)
    tasks = waiting_tasks(world)
    world.update_task(tasks["t1"], priority=9)
    world.update_task(tasks["t4"], virtual_start_time=T0 - 200 * SECOND)
    assert drain(world, tasks, capacity=3) == ["t1", "t4", "t2"]


def test_changing_a_queue_s_task_order_reorders_its_waiting_tasks() -> None:
    world = World()
    queue, _ = queue_and_workflow(world)
    tasks = waiting_tasks(world)
    world.engine.update_task_queue(queue.sid, world.now, task_order="LIFO")
    assert drain(world, tasks) == ["t4", "t2", "t1", "t5", "t3"]


def both_kinds(prioritize: str) -> tuple[World, dict[str, Task]]:
    world = World(prioritize_queue_order=prioritize)
    fifo = world.queue("fifo", "kinds HAS 'fifo'")
    lifo = world.queue("lifo", "kinds HAS 'lifo'", task_order="LIFO")
    to_fifo, to_lifo = world.workflow(fifo, "to-fifo"), world.workflow(lifo, "to-lifo")
    tasks = {}
    for n in range(2):
        tasks[f"f{n}"] = world.task(workflow=to_fifo, priority=n)
        world.clock.advance(1)
        tasks[f"l{n}"] = world.task(workflow=to_lifo, priority=n)
        world.clock.advance(1)
    worker = world.worker("both", "Offline", kinds=["fifo", "lifo"], capacity={"default": 4})
    world.set_activity(worker, "Available")
    return world, {name: task for name, task in tasks.items()}


def test_prioritize_queue_order_fifo() -> None:
    world, tasks = both_kinds("FIFO")
    worker = world.named("both")
    assert sids_to_names(tasks, world.tasks_of(worker)) == ["f1", "f0", "l1", "l0"]


def test_prioritize_queue_order_lifo() -> None:
    world, tasks = both_kinds("LIFO")
    worker = world.named("both")
    assert sids_to_names(tasks, world.tasks_of(worker)) == ["l1", "l0", "f1", "f0"]


def test_a_freed_worker_takes_the_best_task_across_its_queues() -> None:
    world = World()
    sales = world.queue("sales", "skills HAS 'sales'")
    support = world.queue("support", "skills HAS 'support'")
    to_sales, to_support = world.workflow(sales, "s"), world.workflow(support, "p")
    worker = world.worker("both", skills=["sales", "support"])
    busy = world.task(workflow=to_sales)
    old_low = world.task(workflow=to_sales, priority=1)
    world.clock.advance(1)
    new_high = world.task(workflow=to_support, priority=5)
    world.clock.advance(1)
    newest_high = world.task(workflow=to_sales, priority=5)
    world.accept(world.pending(busy))
    world.complete(busy)
    assert world.holder(new_high) == "both"
    world.accept(world.pending(new_high))
    world.complete(new_high)
    assert world.holder(newest_high) == "both"
    world.reject(world.pending(newest_high), "Offline")
    world.set_activity(worker, "Available")
    assert world.holder(newest_high) == "both"  # it is still the best one
    assert old_low.assignment_status == "pending"


# ---------------------------------------------------------------------- multi-reservation


def test_max_reserved_workers_reserves_several_and_the_first_accept_wins() -> None:
    world = World()
    queue_and_workflow(world, max_reserved_workers=2)
    world.workers("a", "b", "c")
    task = world.task()
    assert world.reserved_to(task) == ["a", "b"]
    assert task.assignment_count == 1  # the burst counts once
    waiting = world.task()
    assert world.reserved_to(waiting) == ["c"]
    first, second = world.reservations(task, "pending")
    world.take()
    world.accept(second)
    assert (task.assignment_status, first.reservation_status) == ("assigned", "rescinded")
    assert world.event_types() == ["reservation.accepted", "reservation.rescinded"]
    # a is free again: it does not join the burst of a task already reserved, it takes the
    # next task.
    assert world.reserved_to(waiting) == ["c"]
    assert world.reserved_to(world.task()) == ["a"]


def test_a_multi_reserved_task_returns_to_pending_only_when_all_ended() -> None:
    world = World()
    queue_and_workflow(world, max_reserved_workers=2)
    world.workers("a", "b")
    task = world.task()
    first, second = world.reservations(task, "pending")
    world.reject(first, "Offline")
    assert task.assignment_status == "reserved"
    assert world.reserved_to(task) == ["b"]
    world.reject(second, "Offline")
    assert task.assignment_status == "pending"


def test_multi_reservations_time_out_together() -> None:
    world = World()
    queue = world.queue(max_reserved_workers=3)
    world.workflow(queue, task_reservation_timeout=10)
    world.workers("a", "b")
    task = world.task()
    world.take()
    events = world.advance(10)
    assert events.count("reservation.timeout") == 2
    assert task.assignment_status == "pending"
    assert {world.activity_of(w) for w in world.engine.workers.values()} == {"Offline"}


# ---------------------------------------------------------------------- channels


def test_channel_capacity() -> None:
    world = World()
    queue_and_workflow(world)
    two = world.worker("two", capacity={"default": 2})
    tasks = [world.task() for _ in range(3)]
    assert [world.holder(t) for t in tasks] == ["two", "two", None]
    assert world.channel(two).reserved == 2
    world.accept(world.pending(tasks[0]))
    world.wrap(tasks[0])
    assert world.holder(tasks[2]) is None  # wrapping still holds capacity
    world.complete(tasks[0])
    assert world.holder(tasks[2]) == "two"


def test_capacity_zero_and_unavailable_channels_take_nothing() -> None:
    world = World()
    queue_and_workflow(world)
    zero = world.worker("zero", capacity={"default": 0})
    off = world.worker("off")
    world.set_channel(off, "default", available=False)
    task = world.task()
    assert world.holder(task) is None
    world.set_channel(off, "default", available=True)
    assert world.holder(task) == "off"
    world.clock.advance(1)
    other = world.task()
    assert world.holder(other) is None
    world.set_channel(zero, "default", capacity=1)
    assert world.holder(other) == "zero"


def test_tasks_on_different_channels_are_independent() -> None:
    world = World()
    queue_and_workflow(world)
    agent = world.worker("agent", capacity={"chat": 2})
    voice = world.task(task_channel="voice")
    chats = [world.task(task_channel="chat") for _ in range(3)]
    assert world.holder(voice) == "agent"
    assert [world.holder(t) for t in chats] == ["agent", "agent", None]
    world.accept(world.pending(voice))
    world.complete(voice)
    assert world.holder(chats[2]) is None  # voice capacity does not serve chat
    assert (world.channel(agent, "voice").reserved, world.channel(agent, "chat").reserved) == (
        0, 2)


def test_changing_a_waiting_task_s_channel() -> None:
    world = World()
    queue_and_workflow(world)
    agent = world.worker("agent")
    world.set_channel(agent, "default", available=False)
    task = world.task()
    assert world.holder(task) is None
    world.update_task(task, task_channel="sms")
    assert world.holder(task) == "agent"
    assert world.pending(task).task_channel_sid == world.engine.task_channel("sms").sid


# ---------------------------------------------------------------------- single-tasking


def single_tasking() -> World:
    world = World(multi_task_enabled=False)
    reserved = world.new_activity("Reserved", False)
    busy = world.new_activity("Busy", False)
    queue_and_workflow(world, reservation_activity_sid=reserved, assignment_activity_sid=busy)
    world.workers("alice", "bob")
    world.take()
    return world


def test_single_tasking_moves_the_worker_through_the_queue_activities() -> None:
    world = single_tasking()
    alice = world.named("alice")
    task = world.task(task_channel="voice")
    assert world.event_types()[-2:] == ["worker.activity.update", "reservation.created"]
    assert world.activity_of(alice) == "Reserved"
    reservation = world.pending(task)
    assert reservation.previous_activity_sid == world.activity["Available"]
    world.accept(reservation)
    assert world.event_types() == ["worker.activity.update", "reservation.accepted"]
    assert world.activity_of(alice) == "Busy"
    world.complete(task)
    assert world.activity_of(alice) == "Busy"  # the application moves it back


def test_single_tasking_reject_restores_the_previous_activity() -> None:
    world = single_tasking()
    alice = world.named("alice")
    task = world.task()
    world.reject(world.pending(task))
    assert world.activity_of(alice) == "Available"
    assert world.holder(task) == "bob"
    other = world.task()
    assert world.holder(other) == "alice"
    world.reject(world.pending(other), "Offline")
    assert world.activity_of(alice) == "Offline"


def test_single_tasking_reject_pending_keeps_the_requested_activity() -> None:
    world = single_tasking()
    alice = world.named("alice")
    task = world.task()
    world.set_activity(alice, "Offline", reject_pending_reservations=True)
    assert world.activity_of(alice) == "Offline"
    assert world.holder(task) == "bob"
    assert world.tasks_of(alice, "pending") == []


def test_single_tasking_one_task_at_a_time_whatever_the_channel() -> None:
    world = World(multi_task_enabled=False)
    queue_and_workflow(world)  # no queue activities: the worker stays Available
    alice = world.worker("alice", capacity={"chat": 3})
    voice = world.task(task_channel="voice")
    chat = world.task(task_channel="chat")
    assert (world.holder(voice), world.holder(chat)) == ("alice", None)
    assert world.activity_of(alice) == "Available"
    world.accept(world.pending(voice))
    world.complete(voice)
    assert world.holder(chat) == "alice"


def test_multitasking_ignores_the_queue_activities() -> None:
    world = World()
    busy = world.new_activity("Busy", False)
    queue_and_workflow(world, reservation_activity_sid=busy, assignment_activity_sid=busy)
    alice = world.worker("alice")
    task = world.task()
    world.accept(world.pending(task))
    assert world.activity_of(alice) == "Available"


def test_multi_task_enabled_cannot_be_turned_off() -> None:
    from switchboard.routing.errors import InvalidParameter

    world = World()
    world.refused(InvalidParameter, lambda: world.engine.update_workspace(
        world.now, multi_task_enabled=False))


# ---------------------------------------------------------------------- membership


def test_queue_membership_follows_worker_attributes() -> None:
    world = World()
    queue, _ = queue_and_workflow(world, target="skills HAS 'billing'")
    worker = world.worker("w", skills=["sales"])
    assert world.engine.queue_members[queue.sid] == set()
    first = world.task()
    assert world.holder(first) is None
    world.take()
    world.set_attributes(worker, skills=["sales", "billing"])
    assert world.engine.queue_members[queue.sid] == {worker.sid}
    assert world.event_types() == ["worker.attributes.update", "reservation.created"]
    assert world.holder(first) == "w"
    world.set_attributes(worker, skills=["sales"])
    assert world.holder(first) == "w"  # the reservation it holds stays
    world.reject(world.pending(first))
    world.set_activity(worker, "Available")
    assert world.holder(first) is None


def test_queue_membership_follows_the_queue_expression() -> None:
    world = World()
    queue, _ = queue_and_workflow(world, target="level >= 3")
    world.worker("junior", level=1)
    task = world.task()
    assert world.holder(task) is None
    world.take()
    world.engine.update_task_queue(queue.sid, world.now, target_workers="level >= 1")
    assert world.event_types() == ["task-queue.expression.updated", "reservation.created"]
    assert world.holder(task) == "junior"


def test_queue_membership_by_activity_name() -> None:
    world = World()
    queue_and_workflow(world, target="activity_name == 'Available'")
    worker = world.worker("w", "Offline")
    task = world.task()
    assert world.holder(task) is None
    world.set_activity(worker, "Available")
    assert world.holder(task) == "w"


def test_a_worker_made_available_through_its_reservation_takes_waiting_work() -> None:
    world = World()
    queue_and_workflow(world)
    agent = world.worker("agent")
    voice = world.task(task_channel="voice")
    reservation = world.pending(voice)
    world.accept(reservation)
    world.set_activity(agent, "Offline")
    chat = world.task(task_channel="chat")
    assert world.holder(chat) is None
    world.router.update_reservation(reservation.sid, world.now, status=None,
                                    worker_activity_sid=world.activity["Available"])
    assert world.activity_of(agent) == "Available"
    assert world.holder(chat) == "agent"


def test_a_worker_coming_back_goes_to_the_back_of_the_idle_order() -> None:
    # router.py: a worker coming back from an unavailable activity or finishing its last task
    # goes to the back.
    world = World()
    queue_and_workflow(world)
    a, _, _ = world.workers("a", "b", "c")
    world.set_activity(a, "Offline")
    world.set_activity(a, "Available")
    assert [world.holder(world.task()) for _ in range(3)] == ["b", "c", "a"]


def test_the_idle_order_survives_a_restart() -> None:
    world = World()
    queue_and_workflow(world)
    a, _, _ = world.workers("a", "b", "c")
    world.set_activity(a, "Offline")
    world.set_activity(a, "Available")
    world.engine = rebuild(world.engine, world.now)
    assert [world.holder(world.task()) for _ in range(3)] == ["b", "c", "a"]
