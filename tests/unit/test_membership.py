"""Queue membership (membership.py): TargetWorkers kept current as workers and queues
change."""

from __future__ import annotations

from routing_helpers import World, queue_and_workflow


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
