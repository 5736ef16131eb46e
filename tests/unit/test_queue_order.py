"""The order of waiting tasks (queue_order.py): FIFO and LIFO queues, priority, virtual start
time, PrioritizeQueueOrder, and the best task for a freed worker across its queues."""

from __future__ import annotations

from routing_helpers import SECOND, T0, World, queue_and_workflow, sids_to_names

from switchboard.routing.model import Task


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
