"""Transfers and the end of every reservation, through the official Worker SDK, unchanged.

One Node process (``tests/compat/node/worker.js``) serves the whole module: each test connects
the SDK Workers it needs to its own FIFO workspace on the session's server, and disconnects them
after. Tasks are created and deleted with twilio-python; time moves through the manual clock.

Transfers: ``task.transfer(to, {mode, priority, attributes})`` warm and cold, to a worker and to
a queue; accepted, rejected, canceled (``transfer.cancel()``) and timed out; what the transferring
worker hears (``Task#transferInitiated``, then its ``OutgoingTransfer``'s ``attemptFailed``,
``failed``, ``canceled`` or ``completed``) and what the receiving worker's reservation carries
(``reservation.transfer``, ``task.transfers.incoming``).

The end of a reservation: whatever ends it (its task completed, canceled, timed out, deleted or
system-deleted after 24 hours, its worker deleted, rejected by RejectPendingReservations, timed
out, rescinded), the worker's SDK hears the final event and its ``worker.reservations`` empties.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.compat.worker_sdk import Room, Sdk, make_room, needs_node

pytestmark = needs_node

DAY = 86_400


@pytest.fixture(scope="module")
def sdk(server: Any) -> Iterator[Sdk]:
    process = Sdk(server.url, [])
    yield process
    process.close()


@dataclass
class Team:
    """Workers of one workspace, each with an SDK Worker in the module's Node process."""

    sdk: Sdk
    room: Room
    connected: list[int] = field(default_factory=list)

    def join(self, name: str, activity: str = "Available", **attributes: Any) -> tuple[Any, int]:
        """A worker and the index of its SDK Worker (ready when this returns)."""
        worker = self.room.worker(name, activity, **attributes)
        w = self.sdk.connect(self.room.token(worker.sid))
        self.connected.append(w)
        return worker, w

    def held(self, w: int) -> list[str]:
        """The reservations in SDK Worker ``w``'s ``worker.reservations`` map."""
        return [r["reservation"] for r in self.sdk.ok("reservations", w)]

    def task(self, **attributes: Any) -> Any:
        return self.room.create_task(**attributes)

    def status(self, task: Any) -> str:
        return str(self.room.ws.tasks(task.sid).fetch().assignment_status)


@pytest.fixture
def team(sdk: Sdk, server: Any, twilio_client: Any, workspace: Any,
         dev_clock: Any) -> Iterator[Team]:
    made = Team(sdk, make_room(server.url, twilio_client, workspace.sid, dev_clock(server)))
    yield made
    for w in made.connected:
        sdk.call("disconnect", w)


def assigned(team: Team, w: int, **attributes: Any) -> tuple[Any, str]:
    """A task reserved for SDK Worker ``w`` (the only one available) and accepted by it."""
    task = team.task(**(attributes or {"type": "chat"}))
    reservation = team.sdk.expect("reservationCreated", w, task=task.sid)["reservation"]
    team.sdk.ok("accept", w, reservation=reservation)
    team.sdk.expect("reservation.accepted", w, reservation=reservation)
    return task, reservation


@dataclass
class Offered:
    """Alice (SDK Worker ``a``) transferring a task to bob (``b``), whose SDK got the offer."""

    a: int
    b: int
    task: Any
    mine: str  # alice's reservation
    outgoing: dict[str, Any]  # her outgoing transfer, as the SDK answered task.transfer()
    offered: str  # bob's reservation


def offered_to_bob(team: Team) -> Offered:
    _, a = team.join("alice")
    task, mine = assigned(team, a)
    bob, b = team.join("bob")
    outgoing = team.sdk.ok("transfer", a, reservation=mine, to=bob.sid)
    offered = team.sdk.expect("reservationCreated", b, task=task.sid)["reservation"]
    return Offered(a, b, task, mine, outgoing, offered)


def second_queue(team: Team) -> Any:
    return team.room.ws.task_queues.create(friendly_name="Second",
                                           target_workers="team == 'second'")


# ---------------------------------------------------------------------- to a worker


def test_warm_transfer_to_a_worker_accepted(team: Team) -> None:
    sdk = team.sdk
    alice, a = team.join("alice")
    task, mine = assigned(team, a)
    bob, b = team.join("bob")

    outgoing = sdk.ok("transfer", a, reservation=mine, to=bob.sid, options={
        "mode": "WARM", "priority": 5, "attributes": {"type": "chat", "vip": True}})
    assert outgoing["sid"].startswith("TT")
    assert {k: outgoing[k] for k in ("status", "mode", "type", "to", "workerSid",
                                     "reservationSid", "queueSid", "workflowSid")} == {
        "status": "initiated", "mode": "WARM", "type": "WORKER", "to": bob.sid,
        "workerSid": alice.sid, "reservationSid": mine, "queueSid": team.room.queue.sid,
        "workflowSid": team.room.workflow.sid}
    assert sdk.expect("task.transferInitiated", a)["sid"] == outgoing["sid"]

    # Bob's reservation says where the task comes from; the transfer set its attributes.
    offered = sdk.expect("reservationCreated", b, task=task.sid)
    assert offered["transfer"] == offered["incoming"] == outgoing
    assert (offered["taskStatus"], offered["priority"]) == ("reserved", 5)
    assert offered["attributes"] == {"type": "chat", "vip": True}

    sdk.ok("accept", b, reservation=offered["reservation"])
    completed = sdk.expect("transfer.completed", a)
    assert (completed["sid"], completed["status"]) == (outgoing["sid"], "complete")
    assert team.status(task) == "assigned"

    # Alice leaves: her reservation ends, bob goes on with the task and completes it.
    sdk.ok("completeReservation", a, reservation=mine)
    sdk.expect("reservation.completed", a, reservation=mine)
    assert team.held(a) == []
    assert team.status(task) == "assigned"
    sdk.ok("complete", b, reservation=offered["reservation"], reason="resolved")
    assert sdk.expect("task.completed", b)["reason"] == "resolved"
    assert team.held(b) == []


def test_warm_transfer_to_a_worker_rejected(team: Team) -> None:
    sdk = team.sdk
    it = offered_to_bob(team)
    a, b, mine, offered = it.a, it.b, it.mine, it.offered
    assert it.outgoing["mode"] == "WARM"  # the default

    sdk.ok("reject", b, reservation=offered)
    rejected = sdk.expect("reservation.rejected", b, reservation=offered)
    assert rejected["transfer"]["status"] == rejected["incoming"]["status"] == "failed"
    failed = sdk.expect("transfer.failed", a)
    assert (failed["status"], failed["failedReason"]) == (
        "failed", "Transfer failed because the reservation was rejected")
    # As in TaskRouter's own SDK tests: the task is the transferring worker's again.
    assert sdk.expect("task.updated", a)["status"] == "assigned"
    assert team.held(b) == []
    assert team.held(a) == [mine]


def test_warm_transfer_to_a_worker_canceled(team: Team) -> None:
    sdk = team.sdk
    it = offered_to_bob(team)
    a, b, mine, offered, outgoing = it.a, it.b, it.mine, it.offered, it.outgoing

    canceled = sdk.ok("cancelTransfer", a, reservation=mine)
    assert (canceled["sid"], canceled["status"]) == (outgoing["sid"], "canceled")
    assert sdk.expect("transfer.canceled", a)["status"] == "canceled"
    gone = sdk.expect("reservation.canceled", b, reservation=offered)
    assert (gone["incoming"]["status"], gone["taskStatus"]) == ("canceled", "assigned")
    assert team.held(b) == []
    again = sdk.call("cancelTransfer", a, reservation=mine)
    assert not again["ok"]
    assert f"Transfer {outgoing['sid']} is already canceled . Cannot cancel transfer." in (
        again["error"])


def test_cold_transfer_to_a_worker_timed_out_is_routed_again(team: Team) -> None:
    sdk = team.sdk
    team.room.ws.workflows(team.room.workflow.sid).update(task_reservation_timeout=10)
    _, a = team.join("alice")
    task, mine = assigned(team, a)
    bob, b = team.join("bob")
    sdk.ok("transfer", a, reservation=mine, to=bob.sid, options={"mode": "COLD"})
    # Cold: the transferring worker is done with the task and wraps up at once.
    assert sdk.expect("reservation.wrapup", a, reservation=mine)["status"] == "wrapping"
    offered = sdk.expect("reservationCreated", b, task=task.sid)
    assert (offered["timeout"], offered["transfer"]["mode"]) == (10, "COLD")
    carol, c = team.join("carol")

    team.room.clock.advance(10)
    timed_out = sdk.expect("reservation.timeout", b, reservation=offered["reservation"])
    assert timed_out["transfer"]["status"] == "failed"
    assert sdk.expect("transfer.failed", a)["failedReason"] == (
        "Transfer failed because the reservation timed out")
    # The workflow routes it again, to the others first: carol.
    again = sdk.expect("reservationCreated", c, task=task.sid)
    assert again["transfer"] is None and again["incoming"] is None
    sdk.ok("completeReservation", a, reservation=mine)
    sdk.expect("reservation.completed", a, reservation=mine)
    assert team.held(a) == [] and team.held(b) == []
    assert team.room.ws.workers(carol.sid).fetch().activity_name == "Available"


# ---------------------------------------------------------------------- to a queue


def test_warm_transfer_to_a_queue_after_a_failed_attempt(team: Team) -> None:
    sdk = team.sdk
    _, a = team.join("alice")
    task, mine = assigned(team, a)
    queue = second_queue(team)
    _, c = team.join("carol", team="second")
    _, d = team.join("dave", team="second")

    outgoing = sdk.ok("transfer", a, reservation=mine, to=queue.sid)
    assert (outgoing["type"], outgoing["to"]) == ("QUEUE", queue.sid)
    sdk.expect("task.transferInitiated", a)
    first = sdk.expect("reservationCreated", c, task=task.sid)
    assert (first["queue"], first["transfer"]["type"]) == ("Second", "QUEUE")

    sdk.ok("reject", c, reservation=first["reservation"])
    attempt = sdk.expect("transfer.attemptFailed", a)
    assert attempt["status"] == "initiated"
    assert "reservation reject" in attempt["failedReason"]
    second = sdk.expect("reservationCreated", d, task=task.sid)
    assert second["incoming"]["sid"] == outgoing["sid"]

    sdk.ok("accept", d, reservation=second["reservation"])
    assert sdk.expect("transfer.completed", a)["status"] == "complete"
    assert team.room.ws.tasks(task.sid).fetch().task_queue_sid == queue.sid
    assert team.held(c) == []


def test_cold_transfer_to_a_queue_accepted(team: Team) -> None:
    sdk = team.sdk
    _, a = team.join("alice")
    task, mine = assigned(team, a)
    queue = second_queue(team)
    _, c = team.join("carol", team="second")
    sdk.ok("transfer", a, reservation=mine, to=queue.sid, options={"mode": "COLD"})
    sdk.expect("reservation.wrapup", a, reservation=mine)
    offered = sdk.expect("reservationCreated", c, task=task.sid)
    sdk.ok("accept", c, reservation=offered["reservation"])
    assert sdk.expect("transfer.completed", a)["mode"] == "COLD"
    sdk.ok("completeReservation", a, reservation=mine)
    sdk.expect("reservation.completed", a, reservation=mine)
    assert team.status(task) == "assigned"
    sdk.ok("complete", c, reservation=offered["reservation"])
    sdk.expect("task.completed", c)


def test_warm_transfer_to_a_queue_timed_out(team: Team) -> None:
    sdk = team.sdk
    team.room.ws.workflows(team.room.workflow.sid).update(task_reservation_timeout=5)
    _, a = team.join("alice")
    task, mine = assigned(team, a)
    queue = second_queue(team)
    _, c = team.join("carol", team="second")
    sdk.ok("transfer", a, reservation=mine, to=queue.sid)
    offered = sdk.expect("reservationCreated", c, task=task.sid)["reservation"]
    team.room.clock.advance(5)
    sdk.expect("reservation.timeout", c, reservation=offered)
    assert sdk.expect("transfer.failed", a)["status"] == "failed"
    assert sdk.expect("task.updated", a)["status"] == "assigned"
    assert team.held(c) == []


def test_voice_tasks_are_not_transferred(team: Team) -> None:
    sdk = team.sdk
    _, a = team.join("alice")
    bob, _ = team.join("bob")
    task = team.room.ws.tasks.create(workflow_sid=team.room.workflow.sid, task_channel="voice",
                                     attributes=json.dumps({"call_sid": "CA" + "0" * 32}))
    reservation = sdk.expect("reservationCreated", a, task=task.sid)["reservation"]
    sdk.ok("accept", a, reservation=reservation)
    refused = sdk.call("transfer", a, reservation=reservation, to=bob.sid)
    assert not refused["ok"] and "telephone network" in refused["error"]
    assert team.status(task) == "assigned"


# ---------------------------------------------------------------------- every reservation ends


def test_every_end_of_a_reservation_empties_the_sdk_map(team: Team) -> None:
    sdk = team.sdk
    alice, a = team.join("alice")
    ws = team.room.ws

    def ends(event: str, action: Any, **attributes: Any) -> None:
        task = team.task(**attributes)
        reservation = sdk.expect("reservationCreated", a, task=task.sid)["reservation"]
        action(task, reservation)
        assert sdk.expect(event, a, reservation=reservation)["reservation"] == reservation
        assert team.held(a) == []
        # Out of the way of the next step: a task sent back to its queue waits there.
        if any(t.sid == task.sid for t in ws.tasks.list(assignment_status="pending")):
            ws.tasks(task.sid).delete()
        ws.workers(alice.sid).update(activity_sid=team.room.activity["Available"].sid)

    def accept(reservation: str) -> None:
        sdk.ok("accept", a, reservation=reservation)
        sdk.expect("reservation.accepted", a, reservation=reservation)

    # A pending reservation's task deleted; an accepted one's.
    ends("reservation.canceled", lambda t, r: ws.tasks(t.sid).delete())
    ends("reservation.completed", lambda t, r: (accept(r), ws.tasks(t.sid).delete()))
    # Its task canceled, or completed.
    ends("reservation.canceled", lambda t, r: ws.tasks(t.sid).update(
        assignment_status="canceled", reason="gone"))
    ends("reservation.completed", lambda t, r: (accept(r), ws.tasks(t.sid).update(
        assignment_status="completed", reason="done")))
    # Rejected, by the worker or with RejectPendingReservations.
    ends("reservation.rejected", lambda t, r: sdk.ok("reject", a, reservation=r))
    ends("reservation.rejected", lambda t, r: sdk.ok(
        "activity", a, name="Unavailable", options={"rejectPendingReservations": True}))
    # Timed out, and its task's TTL (manual clock).
    ends("reservation.timeout", lambda t, r: team.room.clock.advance(120))
    task = ws.tasks.create(workflow_sid=team.room.workflow.sid, timeout=60,
                           attributes=json.dumps({"ttl": 60}))
    reservation = sdk.expect("reservationCreated", a, task=task.sid)["reservation"]
    team.room.clock.advance(60)
    sdk.expect("reservation.canceled", a, reservation=reservation)
    assert team.held(a) == []


def test_a_deleted_worker_hears_its_reservation_canceled(team: Team) -> None:
    sdk = team.sdk
    alice, a = team.join("alice")
    task = team.task(type="x")
    reservation = sdk.expect("reservationCreated", a, task=task.sid)["reservation"]
    team.room.ws.workers(alice.sid).delete()
    sdk.expect("reservation.canceled", a, reservation=reservation)
    assert team.held(a) == []


def test_the_rescinded_and_the_system_deleted(team: Team) -> None:
    sdk = team.sdk
    team.room.ws.task_queues(team.room.queue.sid).update(max_reserved_workers=2)
    _, a = team.join("alice")
    _, b = team.join("bob")
    task = team.task(type="x")
    mine = sdk.expect("reservationCreated", a, task=task.sid)["reservation"]
    theirs = sdk.expect("reservationCreated", b, task=task.sid)["reservation"]
    sdk.ok("accept", a, reservation=mine)
    sdk.expect("reservation.rescinded", b, reservation=theirs)
    assert team.held(b) == []

    # Assigned for 24 hours: TaskRouter deletes it, and its worker hears so.
    team.room.clock.advance(DAY)
    sdk.expect("reservation.completed", a, reservation=mine)
    assert team.held(a) == []
