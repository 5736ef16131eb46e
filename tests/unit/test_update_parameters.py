"""Updates keep what the client sent: every parameter of a task or reservation update is either
applied or refused, never accepted and dropped."""

from __future__ import annotations

import pytest
from routing_helpers import World

from switchboard.routing.errors import InvalidParameter
from switchboard.routing.model import Reservation, Task


@pytest.fixture
def world() -> World:
    world = World()
    world.workflow(world.queue())
    world.workers("alice", "bob")
    world.new_activity("Break", False)
    world.take()
    return world


def assigned(world: World) -> tuple[Task, Reservation]:
    task = world.task({"type": "support"})
    reservation = world.pending(task)
    world.accept(reservation)
    world.take()
    return task, reservation


def test_wrapping_keeps_its_reason(world: World) -> None:
    task, _ = assigned(world)
    world.update_task(task, assignment_status="wrapping", reason="customer hung up")
    assert (task.assignment_status, task.reason) == ("wrapping", "customer hung up")
    # The row the store commits carries it.
    assert world.take().row(("task", task.sid))["reason"] == "customer hung up"
    world.update_task(task, assignment_status="completed", reason="resolved")
    assert task.reason == "resolved"


def test_wrapping_without_a_reason_sets_none(world: World) -> None:
    task, _ = assigned(world)
    world.wrap(task)
    assert (task.assignment_status, task.reason) == ("wrapping", None)


def test_a_reason_without_a_status_is_refused_not_dropped(world: World) -> None:
    task, _ = assigned(world)
    version = task.version
    error = world.refused(InvalidParameter, lambda: world.update_task(task, reason="why"))
    assert "Reason" in error.message and "AssignmentStatus" in error.message
    assert (task.reason, task.version) == (None, version)
    world.refused(InvalidParameter, lambda: world.update_task(task, reason="why", priority=3))
    assert task.priority == 0


@pytest.mark.parametrize("status", ["accepted", "wrapping", "completed"])
def test_worker_activity_sid_moves_the_worker_with_any_status(world: World, status: str) -> None:
    task = world.task()
    reservation = world.pending(task)
    worker = world.engine.workers[reservation.worker_sid]
    if status != "accepted":
        world.accept(reservation)
    brk = next(a.sid for a in world.engine.activities.values() if a.friendly_name == "Break")
    world.take()
    world.engine.update_reservation(reservation.sid, world.now, status=status,
                                    worker_activity_sid=brk)
    assert reservation.reservation_status == status
    assert world.activity_of(worker) == "Break"
    assert "worker.activity.update" in world.event_types()


def test_completing_into_an_unavailable_activity_offers_no_new_task(world: World) -> None:
    world.workers("carol")
    first = world.task()
    reservation = world.pending(first)
    worker = world.engine.workers[reservation.worker_sid]
    world.accept(reservation)
    # Every other worker is busy, so the waiting task could only go to this one.
    for other in [w for w in world.engine.workers.values() if w is not worker]:
        world.set_activity(other, "Break")
    waiting = world.task()
    assert waiting.assignment_status == "pending"
    brk = next(a.sid for a in world.engine.activities.values() if a.friendly_name == "Break")
    world.engine.update_reservation(reservation.sid, world.now, status="completed",
                                    worker_activity_sid=brk)
    assert world.activity_of(worker) == "Break"
    assert waiting.assignment_status == "pending"
