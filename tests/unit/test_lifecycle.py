"""Task and reservation lifecycle in the routing core: states, events, timers, refusals."""

from __future__ import annotations

import pytest
from routing_helpers import SECOND, World, only, types_of

from switchboard.routing.errors import Gone, InvalidParameter, PreconditionFailed
from switchboard.routing.lifecycle import (
    ASSIGNED_LIFETIME_MS,
    MAX_ASSIGNMENTS,
    MAX_ASSIGNMENTS_REASON,
    PURGE_AFTER_MS,
    TTL_REASON,
)


def fifo(world: World, *workers: str, reservation_timeout: int | None = None) -> World:
    """One catch-all queue, a workflow to it, and available workers (first = longest idle)."""
    queue = world.queue()
    world.workflow(queue, task_reservation_timeout=reservation_timeout)
    world.workers(*workers)
    world.take()
    return world


@pytest.fixture
def world() -> World:
    return fifo(World(), "alice", "bob")


# ---------------------------------------------------------------------- the happy path


def test_pending_reserved_assigned_wrapping_completed(world: World) -> None:
    alice = world.named("alice")
    task = world.task({"type": "support"})
    assert task.assignment_status == "reserved"
    assert world.event_types() == [
        "task.created", "workflow.entered", "workflow.target-matched", "task-queue.entered",
        "reservation.created"]
    reservation = world.pending(task)
    assert world.name_of(reservation.worker_sid) == "alice"
    assert (world.channel(alice).reserved, world.channel(alice).assigned) == (1, 0)

    world.clock.advance(5)
    world.accept(reservation)
    assert (task.assignment_status, reservation.reservation_status) == ("assigned", "accepted")
    assert world.event_types() == ["reservation.accepted"]
    assert (world.channel(alice).reserved, world.channel(alice).assigned) == (1, 1)

    world.wrap(task)
    assert (task.assignment_status, reservation.reservation_status) == ("wrapping", "wrapping")
    assert world.event_types() == ["reservation.wrapup", "task.wrapup"]

    world.complete(task)
    assert (task.assignment_status, task.reason) == ("completed", "done")
    assert reservation.reservation_status == "completed"
    assert world.event_types() == ["reservation.completed", "task.completed"]
    assert (world.channel(alice).reserved, world.channel(alice).assigned) == (0, 0)


def test_reservation_completes_an_assigned_task_without_wrapping(world: World) -> None:
    task = world.task()
    reservation = world.pending(task)
    world.accept(reservation)
    world.take()
    world.engine.update_reservation(reservation.sid, world.now, status="completed")
    assert (task.assignment_status, reservation.reservation_status) == ("completed", "completed")
    assert world.event_types() == ["reservation.completed", "task.completed"]


def test_a_freed_worker_takes_the_next_waiting_task(world: World) -> None:
    first, second, third = world.task(), world.task(), world.task()
    assert (world.holder(first), world.holder(second), world.holder(third)) == (
        "alice", "bob", None)
    world.accept(world.pending(first))
    world.complete(first)
    assert world.holder(third) == "alice"


def test_an_assigned_task_is_system_deleted_after_24_hours(world: World) -> None:
    stuck, finished = world.task(), world.task()
    world.accept(world.pending(stuck))
    world.accept(world.pending(finished))
    world.take()
    world.advance(ASSIGNED_LIFETIME_MS / SECOND - 10)
    world.complete(finished)  # completed in time: purged quietly five minutes later
    world.take()
    assert world.advance(10 - 0.001) == []
    assert world.engine.tasks[stuck.sid].assignment_status == "assigned"

    # Its worker hears that its reservation ended (the Worker SDK drops it from its map).
    assert world.advance(0.001) == ["reservation.completed", "task.system-deleted"]
    assert stuck.sid not in world.engine.tasks
    assert world.holder(world.task()) is not None  # the worker has its capacity back


def test_finished_tasks_are_purged_five_minutes_later_without_an_event(world: World) -> None:
    done = world.task()
    reservation = world.pending(done)
    world.accept(reservation)
    world.complete(done)
    canceled = world.task()
    world.cancel(canceled)  # it was reserved: its reservation is canceled
    reservations = {r.sid for r in world.reservations(done) + world.reservations(canceled)}
    assert len(reservations) == 2
    world.take()

    assert world.advance(PURGE_AFTER_MS / SECOND - 0.001) == []
    assert done.sid in world.engine.tasks and canceled.sid in world.engine.tasks
    world.clock.advance(0.001)
    assert world.engine.fire_due(world.now) == 2
    changes = world.take()
    assert changes.events == [] and changes.upserts == {}
    assert sorted(changes.deletes) == sorted(
        [("task", done.sid), ("task", canceled.sid)]
        + [("reservation", sid) for sid in reservations])
    assert done.sid not in world.engine.tasks and canceled.sid not in world.engine.tasks
    assert not reservations & set(world.engine.reservations)
    assert world.engine.next_deadline() is None


# ---------------------------------------------------------------------- cancel


def test_cancel_a_pending_task() -> None:
    world = fifo(World())  # nobody to take it
    task = world.task()
    world.take()
    world.cancel(task)
    assert (task.assignment_status, task.reason) == ("canceled", "no longer needed")
    assert world.event_types() == ["task.canceled"]
    assert world.engine.lifecycle.waiting.pending == {}


def test_cancel_a_reserved_task_cancels_its_reservation_and_frees_the_worker(
        world: World) -> None:
    alice = world.named("alice")
    task, waiting = world.task(), world.task()
    world.clock.advance(1)
    third = world.task()
    reservation = world.pending(task)
    assert world.holder(third) is None
    world.take()

    world.cancel(task)
    assert task.assignment_status == "canceled"
    assert reservation.reservation_status == "canceled"
    events = world.events()
    assert types_of(events) == ["reservation.canceled", "task.canceled", "reservation.created"]
    assert events[-1].task_sid == third.sid and events[-1].worker_sid == alice.sid
    assert world.holder(waiting) == "bob"


# ---------------------------------------------------------------------- refusals


def test_accepting_a_rescinded_reservation_is_gone() -> None:
    world = World()
    queue = world.queue(max_reserved_workers=2)
    world.workflow(queue)
    world.workers("alice", "bob")
    task = world.task()
    first, second = world.reservations(task, "pending")
    world.accept(first)
    assert second.reservation_status == "rescinded"
    error = world.refused(Gone, lambda: world.accept(second))
    assert error.status == 410
    world.refused(Gone, lambda: world.reject(second))


def test_accepting_a_canceled_reservation_is_gone(world: World) -> None:
    task = world.task()
    reservation = world.pending(task)
    world.cancel(task)
    assert world.refused(Gone, lambda: world.accept(reservation)).status == 410


def test_accepting_a_timed_out_reservation_is_gone() -> None:
    world = fifo(World(), "alice", reservation_timeout=10)
    task = world.task()
    reservation = world.pending(task)
    world.advance(10)
    assert reservation.reservation_status == "timeout"
    assert world.refused(Gone, lambda: world.accept(reservation)).status == 410


def test_accepting_a_rejected_or_accepted_reservation_is_a_bad_request(world: World) -> None:
    task = world.task()
    rejected = world.pending(task)
    world.reject(rejected)
    error = world.refused(InvalidParameter, lambda: world.accept(rejected))
    assert error.status == 400
    accepted = world.pending(task)
    world.accept(accepted)
    world.refused(InvalidParameter, lambda: world.accept(accepted))
    world.refused(InvalidParameter, lambda: world.reject(accepted))


def test_illegal_task_transitions_change_nothing(world: World) -> None:
    world.set_activity(world.named("alice"), "Offline")
    world.set_activity(world.named("bob"), "Offline")
    pending = world.task()
    assert pending.assignment_status == "pending"
    for status in ("completed", "wrapping", "assigned", "reserved"):
        world.refused(InvalidParameter,
                      lambda: world.update_task(pending, assignment_status=status))  # noqa: B023
    world.refused(InvalidParameter, lambda: world.update_task(
        pending, assignment_status="canceled", attributes={"a": 1}))

    world.set_activity(world.named("alice"), "Available")
    reservation = world.pending(pending)
    world.refused(InvalidParameter, lambda: world.engine.update_reservation(
        reservation.sid, world.now, status="completed"))
    world.refused(InvalidParameter, lambda: world.engine.update_reservation(
        reservation.sid, world.now, status="wrapping"))
    world.refused(InvalidParameter, lambda: world.engine.update_reservation(
        reservation.sid, world.now, status="timeout"))
    world.accept(reservation)
    world.refused(InvalidParameter, lambda: world.cancel(pending))
    world.complete(pending)
    for command in (lambda: world.cancel(pending), lambda: world.complete(pending),
                    lambda: world.update_task(pending, attributes={"a": 1}),
                    lambda: world.update_task(pending, priority=5)):
        world.refused(InvalidParameter, command)


def test_unknown_ids_and_bad_input_change_nothing(world: World) -> None:
    from switchboard.routing.errors import NotFound

    task = world.task()
    reservation = world.pending(task)
    world.refused(NotFound, lambda: world.engine.update_task("WT" + "f" * 32, world.now))
    world.refused(NotFound, lambda: world.engine.update_reservation(
        reservation.sid, world.now, status="accepted", task_sid="WT" + "f" * 32))
    world.refused(InvalidParameter, lambda: world.engine.update_reservation(
        reservation.sid, world.now, status="rejected", worker_activity_sid="WA" + "f" * 32))
    world.refused(InvalidParameter, lambda: world.update_task(task, priority=-1))
    world.refused(InvalidParameter, lambda: world.update_task(task, attributes="[1]"))
    world.refused(InvalidParameter, lambda: world.task(timeout=0))
    world.refused(InvalidParameter, lambda: world.task(task_channel="fax"))


# ---------------------------------------------------------------------- reject


def test_reject_with_an_activity_moves_the_worker_and_routes_to_the_next(world: World) -> None:
    alice = world.named("alice")
    task = world.task()
    first = world.pending(task)
    world.take()
    world.reject(first, "Unavailable")
    assert first.reservation_status == "rejected"
    assert world.activity_of(alice) == "Unavailable"
    assert world.event_types() == [
        "reservation.rejected", "worker.activity.update", "reservation.created"]
    assert world.holder(task) == "bob"
    assert task.assignment_status == "reserved"


def test_reject_without_an_activity_keeps_the_worker_available(world: World) -> None:
    alice = world.named("alice")
    task = world.task()
    world.reject(world.pending(task))
    assert world.activity_of(alice) == "Available"
    assert world.holder(task) == "bob"


def test_the_rejecting_worker_gets_the_task_again_only_at_a_later_opportunity() -> None:
    # lifecycle.py: "A rejected task is offered to the other eligible workers first; the worker
    # who rejected it may get it again on a later opportunity."
    world = fifo(World(), "alice")
    alice = world.named("alice")
    task = world.task()
    world.reject(world.pending(task))
    assert task.assignment_status == "pending"
    assert world.holder(task) is None
    world.set_activity(alice, "Available")  # any change to the worker is an opportunity
    assert world.holder(task) == "alice"


def test_a_task_is_canceled_after_max_assignment_attempts(world: World) -> None:
    task = world.task()
    for attempt in range(1, MAX_ASSIGNMENTS):
        assert task.assignment_count == attempt
        world.reject(world.pending(task))
    world.take()
    assert task.assignment_count == MAX_ASSIGNMENTS
    last = world.pending(task)
    world.reject(last)
    assert (task.assignment_status, task.reason) == ("canceled", MAX_ASSIGNMENTS_REASON)
    assert world.event_types() == ["reservation.rejected", "task.canceled"]
    assert len(world.reservations(task)) == MAX_ASSIGNMENTS
    assert world.reservations(task, "pending") == []


# ---------------------------------------------------------------------- timers


def test_reservation_timeout_moves_the_worker_to_the_timeout_activity_and_reroutes() -> None:
    world = fifo(World(), "alice", "bob", reservation_timeout=30)
    alice = world.named("alice")
    task = world.task()
    reservation = world.pending(task)
    assert reservation.timeout_at == world.now + 30 * SECOND
    assert world.engine.next_deadline() == reservation.timeout_at
    world.take()
    assert world.advance(29.999) == []
    events = world.advance(0.001)
    assert events == ["reservation.timeout", "worker.activity.update", "reservation.created"]
    assert reservation.reservation_status == "timeout"
    assert world.activity_of(alice) == "Offline"
    assert world.engine.workspace.timeout_activity_sid == world.activity["Offline"]
    assert world.holder(task) == "bob"


def test_a_reservation_accepted_in_time_does_not_time_out() -> None:
    world = fifo(World(), "alice", reservation_timeout=30)
    task = world.task()
    world.accept(world.pending(task))
    world.take()
    assert world.advance(60) == []
    assert task.assignment_status == "assigned"


def test_task_ttl_cancels_a_waiting_task() -> None:
    world = fifo(World())
    task = world.task(timeout=60)
    assert world.engine.next_deadline() == task.date_created + 60 * SECOND
    world.take()
    assert world.advance(59.999) == []
    assert world.advance(0.001) == ["task.canceled"]
    assert (task.assignment_status, task.reason) == ("canceled", TTL_REASON)
    assert TTL_REASON == "Task TTL Exceeded"


def test_task_ttl_cancels_a_reserved_task_and_its_reservation(world: World) -> None:
    task = world.task(timeout=60)
    reservation = world.pending(task)
    world.take()
    assert world.advance(60) == ["reservation.canceled", "task.canceled"]
    assert reservation.reservation_status == "canceled"
    assert task.reason == TTL_REASON


def test_task_ttl_does_not_touch_an_assigned_task(world: World) -> None:
    task = world.task(timeout=60)
    world.accept(world.pending(task))
    world.take()
    assert world.advance(120) == []
    assert task.assignment_status == "assigned"


# ---------------------------------------------------------------------- worker changes


def test_reject_pending_reservations_with_an_unavailable_activity(world: World) -> None:
    alice = world.named("alice")
    task = world.task()
    world.take()
    world.set_activity(alice, "Offline", reject_pending_reservations=True)
    assert world.activity_of(alice) == "Offline"
    assert world.event_types() == [
        "worker.activity.update", "reservation.rejected", "reservation.created"]
    assert world.holder(task) == "bob"


def test_reject_pending_reservations_needs_an_unavailable_activity(world: World) -> None:
    alice = world.named("alice")
    world.task()
    world.refused(InvalidParameter, lambda: world.set_activity(
        alice, "Available", reject_pending_reservations=True))
    world.refused(InvalidParameter, lambda: world.engine.update_worker(
        alice.sid, world.now, reject_pending_reservations=True))


def test_a_worker_going_unavailable_keeps_its_pending_reservation(world: World) -> None:
    alice = world.named("alice")
    task = world.task()
    reservation = world.pending(task)
    world.take()
    world.set_activity(alice, "Offline")
    assert world.event_types() == ["worker.activity.update"]
    assert reservation.reservation_status == "pending"
    world.accept(reservation)
    assert task.assignment_status == "assigned"


def test_deleting_a_worker_with_a_pending_reservation_reroutes_the_task(world: World) -> None:
    alice = world.named("alice")
    task = world.task()
    reservation = world.pending(task)
    world.take()
    world.engine.delete_worker(alice.sid, world.now)
    assert reservation.reservation_status == "canceled"
    assert world.event_types() == [
        "reservation.canceled", "worker.deleted", "reservation.created"]
    assert world.holder(task) == "bob"


def test_deleting_the_only_worker_leaves_its_task_waiting_for_nobody() -> None:
    world = fifo(World(), "alice")
    alice = world.named("alice")
    task = world.task()
    reservation = world.pending(task)
    world.engine.delete_worker(alice.sid, world.now)
    assert reservation.reservation_status == "canceled"
    assert task.assignment_status == "pending"
    assert world.reservations(task, "pending") == []
    assert all(r.worker_sid != alice.sid for r in world.engine.reservations.values()
               if r.reservation_status == "pending")
    bob = world.worker("bob")
    assert world.holder(task) == "bob"
    assert world.engine.worker_by_name("bob") is bob


def test_deleting_a_worker_directly_targeted_by_a_task() -> None:
    world = fifo(World(), "alice")
    alice = world.named("alice")
    task = world.task(routing_target=alice.sid)
    reservation = world.pending(task)
    world.engine.delete_worker(alice.sid, world.now)
    assert reservation.reservation_status == "canceled"
    assert task.assignment_status == "pending"
    assert world.reservations(task, "pending") == []
    assert world.engine.lifecycle.waiting.known == {}


def test_deleting_a_worker_with_an_accepted_reservation_is_refused(world: World) -> None:
    alice = world.named("alice")
    task = world.task()
    world.accept(world.pending(task))
    world.refused(InvalidParameter, lambda: world.engine.delete_worker(alice.sid, world.now))
    world.wrap(task)
    world.refused(InvalidParameter, lambda: world.engine.delete_worker(alice.sid, world.now))
    world.complete(task)
    world.engine.delete_worker(alice.sid, world.now)
    assert alice.sid not in world.engine.workers


def test_deleting_a_task_frees_its_worker(world: World) -> None:
    task, waiting = world.task(), world.task()
    world.clock.advance(1)
    third = world.task()
    assert world.holder(task) == "alice"
    world.take()
    world.engine.delete_task(task.sid, world.now)
    assert task.sid not in world.engine.tasks
    assert only(world.events(), "reservation.canceled", "task.deleted",
                "reservation.created") == [
        "reservation.canceled", "task.deleted", "reservation.created"]
    assert world.holder(third) == "alice"
    assert world.holder(waiting) == "bob"


@pytest.mark.parametrize("accepted", [False, True])
def test_a_deleted_tasks_reservations_end_with_their_events(world: World,
                                                            accepted: bool) -> None:
    """Every path that ends a task ends its open reservations with an event its worker hears:
    a pending one canceled, an accepted or wrapping one completed."""
    task = world.task()
    reservation = world.pending(task)
    if accepted:
        world.accept(reservation)
    world.take()
    world.engine.delete_task(task.sid, world.now)
    events = world.events()
    final = "completed" if accepted else "canceled"
    assert [e.event_type for e in events] == [f"reservation.{final}", "task.deleted"]
    assert events[0].reservation_sid == reservation.sid
    assert reservation.reservation_status == final
    # Rendered after their commit, the events still find what they name.
    assert world.engine.removed[reservation.sid] is reservation
    assert world.engine.removed[task.sid] is task


# ---------------------------------------------------------------------- resources in use


def test_deleting_a_queue_with_active_tasks_is_refused() -> None:
    world = World()
    routed = world.queue("routed")
    direct = world.queue("direct")
    world.workflow(routed)
    task = world.task(routing_target=direct.sid)
    assert (task.task_queue_sid, task.assignment_status) == (direct.sid, "pending")
    world.refused(InvalidParameter, lambda: world.engine.delete_task_queue(direct.sid, world.now))
    world.refused(InvalidParameter, lambda: world.engine.delete_task_queue(routed.sid, world.now))
    world.cancel(task)
    world.engine.delete_task_queue(direct.sid, world.now)
    assert direct.sid not in world.engine.task_queues


def test_deleting_a_workflow_with_active_tasks_is_refused(world: World) -> None:
    workflow = next(iter(world.engine.workflows.values()))
    task = world.task()
    world.accept(world.pending(task))
    world.refused(InvalidParameter, lambda: world.engine.delete_workflow(workflow.sid, world.now))
    world.complete(task)
    world.engine.delete_workflow(workflow.sid, world.now)
    assert workflow.sid not in world.engine.workflows


# ---------------------------------------------------------------------- If-Match


def test_if_match_on_tasks(world: World) -> None:
    task = world.task()
    version = task.version
    world.refused(PreconditionFailed, lambda: world.update_task(
        task, priority=3, if_match=str(version + 1)))
    assert world.refused(PreconditionFailed, lambda: world.engine.delete_task(
        task.sid, world.now, if_match='"0"')).status == 412
    world.update_task(task, priority=3, if_match=f'"{version}"')
    assert task.priority == 3 and task.version == version + 1
    world.engine.delete_task(task.sid, world.now, if_match=str(task.version))
    assert task.sid not in world.engine.tasks


def test_if_match_on_reservations(world: World) -> None:
    task = world.task()
    reservation = world.pending(task)
    assert reservation.version == 0
    world.refused(PreconditionFailed, lambda: world.accept(reservation, if_match='"1"'))
    world.accept(reservation, if_match='"0"')
    assert reservation.version == 1
    world.refused(PreconditionFailed, lambda: world.engine.update_reservation(
        reservation.sid, world.now, status="completed", if_match="0"))
    world.engine.update_reservation(reservation.sid, world.now, status="completed",
                                    if_match="1")
    assert task.assignment_status == "completed"
