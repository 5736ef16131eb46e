"""Task transfers in the routing core: warm and cold, to a worker and to a queue; accepted,
rejected, timed out and canceled; refusals; the end of a task mid-transfer; restarts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from routing_helpers import SECOND, World, only, rebuild, routing_state

from switchboard.routing.errors import InvalidParameter, NotFound
from switchboard.routing.model import Reservation, Task, TaskQueue, Transfer
from switchboard.routing.transfers import FAILED_REASONS

TIMEOUT = 30  # the workflow's reservation timeout, seconds


@pytest.fixture
def world() -> World:
    world = World()
    queue = world.queue("everyone")
    world.queue("second")  # made before the workers: they idle there in the same order
    world.workflow(queue, task_reservation_timeout=TIMEOUT)
    world.workers("alice", "bob", "carol")
    world.take()
    return world


def second(world: World) -> TaskQueue:
    """The queue tasks are transferred to (no workflow routes there)."""
    return next(q for q in world.engine.task_queues.values() if q.friendly_name == "second")


def assigned_to_alice(world: World, **options: Any) -> tuple[Task, Reservation]:
    """A task accepted by alice (the longest idle worker)."""
    task = world.task({"type": "chat"}, **options)
    reservation = world.pending(task)
    assert world.name_of(reservation.worker_sid) == "alice"
    world.accept(reservation)
    world.take()
    return task, reservation


def kept(types: list[str], *wanted: str) -> list[str]:
    """The event types among ``wanted``, in order (``World.advance`` returns types)."""
    return [t for t in types if t in wanted]


def transfer(world: World, reservation: Reservation, to: str, **options: Any) -> Transfer:
    return world.engine.transfer_task(reservation.task_sid, reservation.sid, world.now, to=to,
                                      worker_sid=reservation.worker_sid, **options)


def cancel(world: World, transfer: Transfer) -> Transfer:
    return world.engine.cancel_transfer(transfer.sid, world.now,
                                        worker_sid=transfer.initiating_worker_sid,
                                        task_sid=transfer.task_sid)


# ---------------------------------------------------------------------- to a worker, warm


def test_warm_transfer_to_a_worker_accepted(world: World) -> None:
    task, alices = assigned_to_alice(world)
    bob = world.named("bob")

    made = transfer(world, alices, bob.sid)
    assert (made.transfer_type, made.transfer_mode, made.transfer_status) == (
        "WORKER", "WARM", "initiated")
    assert (made.initiating_reservation_sid, made.initiating_worker_sid) == (
        alices.sid, alices.worker_sid)
    assert made.sid.startswith("TT")
    events = world.events()
    assert [e.event_type for e in events] == ["task.transfer-initiated", "reservation.created"]
    initiated = events[0]
    assert (initiated.resource_type, initiated.task_sid, initiated.worker_sid,
            initiated.reservation_sid) == ("task", task.sid, alices.worker_sid, alices.sid)
    assert initiated.data["transfer_sid"] == made.sid
    assert initiated.data["transfer_to"] == bob.sid
    assert initiated.data["transfer_status"] == "initiated"
    # Bob is offered the task, marked as a transfer; alice keeps working on it meanwhile.
    bobs = world.pending(task)
    assert (bobs.worker_sid, bobs.transfer_sid) == (bob.sid, made.sid)
    assert bobs.timeout_at == world.now + TIMEOUT * SECOND
    assert (task.assignment_status, alices.reservation_status) == ("reserved", "accepted")

    world.accept(bobs)
    assert world.event_types() == ["reservation.accepted", "task.transfer-completed"]
    assert made.transfer_status == "complete"
    assert task.transfer is None
    assert (task.assignment_status, alices.reservation_status, bobs.reservation_status) == (
        "assigned", "accepted", "accepted")

    # Alice leaves: her reservation alone ends, bob goes on with the task.
    world.engine.update_reservation(alices.sid, world.now, status="completed")
    assert world.event_types() == ["reservation.completed"]
    assert (task.assignment_status, world.channel(world.named("alice")).reserved) == (
        "assigned", 0)
    world.engine.update_reservation(bobs.sid, world.now, status="completed")
    assert world.event_types() == ["reservation.completed", "task.completed"]
    assert task.assignment_status == "completed"


def test_the_last_worker_on_a_task_wraps_it_up(world: World) -> None:
    """Once a warm transfer completes two workers hold the task: each wraps up or completes
    its own reservation; the task wraps up when nobody works on it any more, and completes
    with the last reservation."""
    task, alices = assigned_to_alice(world)
    transfer(world, alices, world.named("bob").sid)
    bobs = world.pending(task)
    world.accept(bobs)
    world.take()
    update = world.engine.update_reservation

    update(alices.sid, world.now, status="wrapping")
    assert world.event_types() == ["reservation.wrapup"]
    update(bobs.sid, world.now, status="completed")
    assert world.event_types() == ["reservation.completed", "task.wrapup"]
    assert task.assignment_status == "wrapping"
    update(alices.sid, world.now, status="completed")
    assert world.event_types() == ["reservation.completed", "task.completed"]


def test_warm_transfer_rejected_gives_the_task_back(world: World) -> None:
    task, alices = assigned_to_alice(world)
    made = transfer(world, alices, world.named("bob").sid)
    bobs = world.pending(task)
    world.take()

    world.reject(bobs)
    assert only(world.events(), "reservation.rejected", "task.transfer-failed",
                "task.updated") == ["reservation.rejected", "task.transfer-failed",
                                    "task.updated"]
    assert (made.transfer_status, made.transfer_failed_reason) == (
        "failed", FAILED_REASONS["rejected"])
    assert (task.assignment_status, task.transfer) == ("assigned", None)
    assert alices.reservation_status == "accepted"
    assert world.reservations(task, "pending") == []
    # Carol, idle, is not offered the task: it is alice's again.
    world.complete(task)
    assert alices.reservation_status == "completed"


def test_warm_transfer_timed_out(world: World) -> None:
    task, alices = assigned_to_alice(world)
    bob = world.named("bob")
    made = transfer(world, alices, bob.sid)
    world.take()

    assert world.advance(TIMEOUT - 0.001) == []
    events = world.advance(0.001)
    assert kept(events, "reservation.timeout", "task.transfer-failed", "task.updated") == [
        "reservation.timeout", "task.transfer-failed", "task.updated"]
    assert made.transfer_failed_reason == FAILED_REASONS["timeout"]
    assert task.assignment_status == "assigned"
    assert world.activity_of(bob) == "Offline"  # the workspace's timeout activity


def test_warm_transfer_canceled(world: World) -> None:
    task, alices = assigned_to_alice(world)
    made = transfer(world, alices, world.named("bob").sid)
    bobs = world.pending(task)
    world.take()

    assert cancel(world, made) is made
    assert world.event_types() == ["reservation.canceled", "task.transfer-canceled",
                                   "task.updated"]
    assert (made.transfer_status, bobs.reservation_status, task.assignment_status) == (
        "canceled", "canceled", "assigned")
    assert world.channel(world.named("bob")).reserved == 0
    error = world.refused(InvalidParameter, lambda: cancel(world, made))
    assert error.message == f"Transfer {made.sid} is already canceled . Cannot cancel transfer."
    # A new transfer may start once the last one ended.
    transfer(world, alices, world.named("carol").sid)
    assert world.holder(task) == "carol"


# ---------------------------------------------------------------------- to a worker, cold


def test_cold_transfer_wraps_the_transferring_reservation(world: World) -> None:
    task, alices = assigned_to_alice(world)
    made = transfer(world, alices, world.named("bob").sid, mode="cold")
    assert made.transfer_mode == "COLD"
    assert world.event_types() == ["task.transfer-initiated", "reservation.wrapup",
                                   "reservation.created"]
    assert alices.reservation_status == "wrapping"
    assert task.assignment_status == "reserved"
    # Alice completes her wrap-up before bob answers: only her reservation ends.
    world.engine.update_reservation(alices.sid, world.now, status="completed")
    assert world.event_types() == ["reservation.completed"]
    assert task.assignment_status == "reserved"

    world.accept(world.pending(task))
    assert world.event_types() == ["reservation.accepted", "task.transfer-completed"]
    assert task.assignment_status == "assigned"


def test_cold_transfer_rejected_is_routed_again_by_the_workflow(world: World) -> None:
    alice = world.named("alice")
    world.set_channel(alice, "default", capacity=2)
    task, alices = assigned_to_alice(world)
    carol = world.named("carol")
    world.set_activity(carol, "Offline")
    made = transfer(world, alices, world.named("bob").sid, mode="COLD")
    world.take()

    world.reject(world.pending(task))
    events = world.events()
    assert only(events, "task.transfer-failed", "task.updated", "workflow.entered",
                "reservation.created") == ["task.transfer-failed", "task.updated",
                                           "workflow.entered", "reservation.created"]
    assert made.transfer_status == "failed"
    # Bob rejected it and carol is offline: alice, wrapping up, has room and gets it back.
    again = world.pending(task)
    assert again.worker_sid == alice.sid and again.transfer_sid is None
    assert alices.reservation_status == "wrapping"
    world.accept(again)
    assert task.assignment_status == "assigned"


# ---------------------------------------------------------------------- to a queue


def test_transfer_to_a_queue_tries_its_workers_in_turn(world: World) -> None:
    task, alices = assigned_to_alice(world)
    queue = second(world)

    made = transfer(world, alices, queue.sid)
    assert made.transfer_type == "QUEUE"
    assert world.event_types() == ["task.transfer-initiated", "task-queue.moved",
                                   "task-queue.entered", "reservation.created"]
    assert task.task_queue_sid == queue.sid
    # Bob was idle longest among those who may take it; alice, transferring it, may not.
    assert world.holder(task) == "bob"

    world.reject(world.pending(task))
    events = world.events()
    assert only(events, "task.transfer-attempt-failed", "reservation.created") == [
        "task.transfer-attempt-failed", "reservation.created"]
    attempt = next(e for e in events if e.event_type == "task.transfer-attempt-failed")
    assert attempt.data["transfer_status"] == "initiated"
    assert "reject" in attempt.data["transfer_failed_reason"]
    assert world.holder(task) == "carol"

    world.accept(world.pending(task))
    assert made.transfer_status == "complete"
    assert made.transfer_failed_reason is None
    assert (task.assignment_status, alices.reservation_status) == ("assigned", "accepted")


def test_a_queue_transfer_fails_when_its_reservation_times_out(world: World) -> None:
    task, alices = assigned_to_alice(world)
    made = transfer(world, alices, second(world).sid)
    world.take()
    events = world.advance(TIMEOUT)
    assert kept(events, "reservation.timeout", "task.transfer-failed") == [
        "reservation.timeout", "task.transfer-failed"]
    assert made.transfer_failed_reason == FAILED_REASONS["timeout"]
    assert task.assignment_status == "assigned"  # warm: back to alice
    assert world.reservations(task, "pending") == []


def test_a_queue_transfer_waits_for_a_worker(world: World) -> None:
    task, alices = assigned_to_alice(world, timeout=60)
    for name in ("bob", "carol"):
        world.set_activity(world.named(name), "Offline")
    made = transfer(world, alices, second(world).sid)
    assert task.assignment_status == "pending"
    assert world.reservations(task, "pending") == []
    # The TTL (a limit on the wait before a first assignment) no longer applies.
    world.advance(task.timeout + 1)
    assert task.assignment_status == "pending"

    world.set_activity(world.named("carol"), "Available")
    assert world.holder(task) == "carol"
    cancel(world, made)
    assert (task.assignment_status, made.transfer_status) == ("assigned", "canceled")


def test_a_warm_transfer_whose_worker_left_is_routed_again(world: World) -> None:
    task, alices = assigned_to_alice(world)
    transfer(world, alices, world.named("bob").sid)
    # Alice leaves before bob answers; bob declines: nobody holds the task, so the workflow
    # routes it again.
    world.engine.update_reservation(alices.sid, world.now, status="completed")
    world.reject(world.pending(task))
    assert world.holder(task) == "carol"


# ---------------------------------------------------------------------- what a transfer sets


def test_transfer_replaces_priority_and_attributes(world: World) -> None:
    task, alices = assigned_to_alice(world)
    transfer(world, alices, world.named("bob").sid, priority=7,
             attributes=json.dumps({"type": "chat", "note": "VIP"}))
    assert world.event_types()[0] == "task.updated"
    assert task.priority == 7
    assert task.parsed_attributes == {"type": "chat", "note": "VIP"}


def test_refused_transfers(world: World) -> None:
    task, alices = assigned_to_alice(world)
    bob, carol = world.named("bob"), world.named("carol")
    engine = world.engine

    def refused(**options: Any) -> str:
        options.setdefault("to", bob.sid)
        return world.refused(InvalidParameter, lambda: transfer(world, alices, **options)).message

    assert "WARM or COLD" in refused(mode="HOT")
    assert "between 0 and" in refused(priority=-1)
    assert "not valid JSON" in refused(attributes="{")
    assert "Worker or TaskQueue" in refused(to="WW" + "0" * 32)
    assert "is not a Worker" in refused(to="WK" + "0" * 32)
    assert "the worker transferring it" in refused(to=alices.worker_sid)
    world.set_activity(carol, "Offline")
    assert "cannot take" in refused(to=carol.sid)
    world.set_channel(bob, "default", capacity=0)
    assert "cannot take" in refused()
    world.set_channel(bob, "default", capacity=1)
    # Only the worker whose reservation is accepted, for its own reservation.
    world.refused(NotFound, lambda: engine.transfer_task(
        task.sid, alices.sid, world.now, to=bob.sid, worker_sid=bob.sid))
    made = transfer(world, alices, bob.sid)
    assert "already being transferred" in refused(to=carol.sid)
    world.refused(NotFound, lambda: engine.cancel_transfer(made.sid, world.now,
                                                           worker_sid=bob.sid))
    world.refused(NotFound, lambda: engine.cancel_transfer("TT" + "0" * 32, world.now))
    world.accept(world.pending(task))
    world.wrap(task)
    assert "wrapping" in refused(to=carol.sid)


# ---------------------------------------------------------------------- the task ends


def test_a_task_canceled_mid_transfer_ends_every_reservation(world: World) -> None:
    task, alices = assigned_to_alice(world)
    made = transfer(world, alices, second(world).sid)
    bobs = world.pending(task)
    world.take()

    world.cancel(task)
    assert world.event_types() == ["reservation.completed", "reservation.canceled",
                                   "task.transfer-failed", "task.canceled"]
    assert (alices.reservation_status, bobs.reservation_status) == ("completed", "canceled")
    assert made.transfer_failed_reason == "Transfer failed because the task was canceled"
    assert world.channel(world.named("alice")).reserved == 0


def test_a_task_deleted_mid_transfer_is_remembered_for_its_pushes(world: World) -> None:
    task, alices = assigned_to_alice(world)
    made = transfer(world, alices, world.named("bob").sid)
    bobs = world.pending(task)
    world.take()

    world.engine.delete_task(task.sid, world.now)
    changes = world.take()
    assert [e.event_type for e in changes.events] == [
        "reservation.completed", "reservation.canceled", "task.transfer-failed", "task.deleted"]
    assert ("transfer", made.sid) in changes.deletes
    assert made.sid not in world.engine.transfers
    removed = world.engine.removed
    assert (removed[task.sid], removed[alices.sid], removed[bobs.sid], removed[made.sid]) == (
        task, alices, bobs, made)


def test_a_worker_deleted_with_a_transfer_reservation_fails_it(world: World) -> None:
    task, alices = assigned_to_alice(world)
    bob = world.named("bob")
    made = transfer(world, alices, bob.sid)
    world.take()
    world.engine.delete_worker(bob.sid, world.now)
    assert only(world.events(), "reservation.canceled", "task.transfer-failed") == [
        "reservation.canceled", "task.transfer-failed"]
    assert made.transfer_failed_reason == FAILED_REASONS["canceled"]
    assert task.assignment_status == "assigned"


def test_24_hours_after_its_accept_a_task_in_transfer_is_deleted(world: World) -> None:
    task, alices = assigned_to_alice(world)
    sid = task.sid
    for name in ("bob", "carol"):
        world.set_activity(world.named(name), "Offline")
    transfer(world, alices, second(world).sid)
    world.take()
    events = world.advance(24 * 3600)
    assert kept(events, "task.transfer-failed", "task.system-deleted") == [
        "task.transfer-failed", "task.system-deleted"]
    assert sid not in world.engine.tasks


# ---------------------------------------------------------------------- restarts


@pytest.mark.parametrize("mode", ["WARM", "COLD"])
def test_a_transfer_survives_a_restart(world: World, mode: str) -> None:
    task, alices = assigned_to_alice(world)
    made = transfer(world, alices, second(world).sid, mode=mode)
    world.reject(world.pending(task))
    world.take()
    rebuilt = rebuild(world.engine, world.now)
    assert routing_state(rebuilt) == routing_state(world.engine)
    world.engine = rebuilt

    task = rebuilt.task(task.sid)
    assert task.transfer is not None and task.transfer.sid == made.sid
    world.accept(world.pending(task))
    assert rebuilt.transfer(made.sid).transfer_status == "complete"
