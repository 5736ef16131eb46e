"""The official JavaScript Worker SDK (npm ``twilio-taskrouter``, pinned) against a real server.

Each test runs ``tests/compat/node/worker.js`` under Node: it builds SDK ``Worker`` objects
with nothing changed but ``ebServer``/``wsServer``, prints what they see as JSON lines, and
runs the commands the test writes to its stdin. Tokens are minted in Python with the official
``twilio`` library, from an API key made through the API; tasks are created with twilio-python;
time moves only through the manual clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.compat.worker_sdk import Room, make_room, needs_node, wait_until

pytestmark = needs_node


@pytest.fixture
def room(server: Any, twilio_client: Any, workspace: Any,
         dev_clock: Callable[[Any], Any]) -> Iterator[Room]:
    made = make_room(server.url, twilio_client, workspace.sid, dev_clock(server))
    yield made
    for process in made.processes:
        process.close()


# ---------------------------------------------------------------------- connecting


def test_worker_reaches_ready_and_goes_available(room: Room) -> None:
    alice = room.worker("alice", skills=["billing"])
    sdk = room.sdk(alice)
    ready = sdk.expect("ready")
    assert ready["sid"] == alice.sid
    assert ready["name"] == "alice"
    assert ready["activity"] == "Offline"
    assert ready["attributes"] == {"skills": ["billing"]}
    assert ready["activities"] == ["Offline", "Available", "Unavailable"]
    assert {c["name"] for c in ready["channels"]} >= {"default", "voice", "chat"}
    assert ready["reservations"] == []

    assert sdk.ok("activity", name="Available") == {"activity": "Available", "available": True}
    assert sdk.expect("activityUpdated")["activity"] == "Available"
    assert room.ws.workers(alice.sid).fetch().activity_name == "Available"

    # A change made through the REST API reaches the SDK as a push.
    room.ws.workers(alice.sid).update(attributes=json.dumps({"skills": ["sales"]}))
    assert sdk.expect("attributesUpdated")["attributes"] == {"skills": ["sales"]}
    # And the SDK's own writes go through the same service.
    assert sdk.ok("attributes", attributes={"skills": ["support"], "level": 2}) == {
        "attributes": {"skills": ["support"], "level": 2}}
    assert json.loads(room.ws.workers(alice.sid).fetch().attributes) == {
        "skills": ["support"], "level": 2}


def test_expired_token_is_refused(room: Room) -> None:
    alice = room.worker("alice")
    sdk = room.sdk(room.token(alice.sid, ttl=-3600))
    error = sdk.expect("error")
    assert "expired" in error["message"]
    assert "ready" not in sdk.events()
    assert sdk.expect("disconnected")["message"].startswith("The token expired")


# ---------------------------------------------------------------------- the lifecycle


def test_reservation_accepted_and_task_completed(room: Room) -> None:
    alice = room.worker("alice", activity="Available")
    sdk = room.sdk(alice)
    sdk.expect("ready")

    task = room.create_task(type="billing", customer="ACME")
    created = sdk.expect("reservationCreated")
    assert created["task"] == task.sid
    assert created["status"] == "pending"
    assert created["taskStatus"] == "reserved"
    assert created["attributes"] == {"type": "billing", "customer": "ACME"}
    assert created["queue"] == "Sample Queue"
    assert created["workflow"] == "Default Fifo Workflow"
    assert created["timeout"] == 120
    reservation = created["reservation"]

    accepted = sdk.ok("accept", reservation=reservation)
    assert accepted["status"] == "accepted"
    assert sdk.expect("reservation.accepted")["taskStatus"] == "assigned"
    assert room.ws.tasks(task.sid).fetch().assignment_status == "assigned"

    # An error from the server reaches the SDK's promise with the server's message.
    again = sdk.call("accept", reservation=reservation)
    assert not again["ok"]
    assert "Request failed with status code 400" in again["error"]
    assert "can no longer be accepted" in again["error"]
    # A task is not transferred to the worker who holds it (transfers: test_transfers_sdk.py).
    transfer = sdk.call("transfer", reservation=reservation, to=alice.sid)
    assert not transfer["ok"] and "the worker transferring it" in transfer["error"]

    completed = sdk.ok("complete", reservation=reservation, reason="resolved")
    assert completed == {"task": task.sid, "status": "completed", "reason": "resolved"}
    assert sdk.expect("reservation.completed")["status"] == "completed"
    assert sdk.expect("task.completed") == {
        "w": 0, "event": "task.completed", "task": task.sid, "status": "completed",
        "reason": "resolved", "attributes": {"type": "billing", "customer": "ACME"}}
    fetched = room.ws.tasks(task.sid).fetch()
    assert (fetched.assignment_status, fetched.reason) == ("completed", "resolved")
    # Pushes arrive in commit order.
    lifecycle = [e for e in sdk.events() if e.startswith(("reservation", "task."))]
    assert lifecycle == ["reservationCreated", "reservation.accepted", "reservation.completed",
                         "task.completed"]


def test_reject_with_an_activity(room: Room) -> None:
    alice = room.worker("alice", activity="Available")
    sdk = room.sdk(alice)
    sdk.expect("ready")
    task = room.create_task(type="sales")
    reservation = sdk.expect("reservationCreated")["reservation"]

    rejected = sdk.ok("reject", reservation=reservation, activity="Unavailable")
    assert rejected["status"] == "rejected"
    assert sdk.expect("reservation.rejected")["reservation"] == reservation
    assert sdk.expect("activityUpdated")["activity"] == "Unavailable"
    assert room.ws.workers(alice.sid).fetch().activity_name == "Unavailable"
    assert room.ws.tasks(task.sid).fetch().assignment_status == "pending"


def test_reservation_timeout_on_the_manual_clock(room: Room) -> None:
    alice = room.worker("alice", activity="Available")
    sdk = room.sdk(alice)
    sdk.expect("ready")
    task = room.create_task(type="sales")
    reservation = sdk.expect("reservationCreated")["reservation"]

    room.clock.advance(119)
    assert room.ws.tasks(task.sid).reservations(reservation).fetch().reservation_status == \
        "pending"
    room.clock.advance(2)
    assert sdk.expect("reservation.timeout")["reservation"] == reservation
    # The workspace's timeout activity (Offline) is pushed too.
    assert sdk.expect("activityUpdated")["activity"] == "Offline"


def test_the_losing_worker_sees_the_rescind(room: Room) -> None:
    room.ws.task_queues(room.queue.sid).update(max_reserved_workers=2)
    alice = room.worker("alice", activity="Available")
    bob = room.worker("bob", activity="Available")
    sdk = room.sdk(alice, bob)
    sdk.expect("ready", w=0)
    sdk.expect("ready", w=1)

    task = room.create_task(type="sales")
    mine = sdk.expect("reservationCreated", w=0)
    theirs = sdk.expect("reservationCreated", w=1)
    assert mine["task"] == theirs["task"] == task.sid
    assert mine["reservation"] != theirs["reservation"]

    sdk.ok("accept", w=0, reservation=mine["reservation"])
    assert sdk.expect("reservation.accepted", w=0)["reservation"] == mine["reservation"]
    rescinded = sdk.expect("reservation.rescinded", w=1)
    assert rescinded["reservation"] == theirs["reservation"]
    assert rescinded["status"] == "rescinded"
    # The loser cannot accept any more.
    late = sdk.call("accept", w=1, reservation=theirs["reservation"])
    assert not late["ok"]


def test_wrap_up_then_complete_and_a_canceled_task(room: Room) -> None:
    alice = room.worker("alice", activity="Available")
    sdk = room.sdk(alice)
    sdk.expect("ready")
    room.create_task(type="chat")
    reservation = sdk.expect("reservationCreated")["reservation"]
    sdk.ok("accept", reservation=reservation)
    assert sdk.ok("wrap", reservation=reservation)["status"] == "wrapping"
    assert sdk.expect("reservation.wrapup")["status"] == "wrapping"
    assert sdk.expect("task.wrapup")["status"] == "wrapping"
    sdk.ok("complete", reservation=reservation, reason="wrapped")
    assert sdk.expect("task.completed")["reason"] == "wrapped"

    task = room.create_task(type="chat")
    reservation = sdk.expect("reservationCreated", task=task.sid)["reservation"]
    room.ws.tasks(task.sid).update(assignment_status="canceled", reason="customer left")
    assert sdk.expect("reservation.canceled")["reservation"] == reservation
    assert sdk.expect("task.canceled")["reason"] == "customer left"


def test_sessions_and_going_offline(room: Room) -> None:
    alice = room.worker("alice", activity="Available")
    first = room.sdk(alice)
    first.expect("ready")
    second = room.sdk(alice, closeExistingSessions=True)
    second.expect("ready")
    # The older session is closed and told why; its SDK reconnects by itself.
    assert "another session" in first.expect("disconnected")["message"]
    first.expect("ready")
    assert room.ws.workers(alice.sid).fetch().activity_name == "Available"

    first.ok("disconnect")
    first.expect("disconnected")
    second.ok("disconnect")
    # setWorkerOfflineIfDisconnected (default true): the last socket closed.
    wait_until(lambda: room.ws.workers(alice.sid).fetch().activity_name == "Offline")


# ---------------------------------------------------------------------- restarts


def test_reconnects_after_the_server_restarts(own_server: Any, make_client: Any,
                                              dev_clock: Callable[[Any], Any]) -> None:
    client = make_client(own_server.url)
    workspace = client.taskrouter.v1.workspaces.create(friendly_name="restart",
                                                       template="FIFO")
    room = make_room(own_server.url, client, workspace.sid, dev_clock(own_server))
    try:
        alice = room.worker("alice", activity="Available")
        sdk = room.sdk(alice)
        assert sdk.expect("ready")["activity"] == "Available"

        own_server.stop()  # the same port and data: the SDK reconnects to the same URL
        sdk.expect("disconnected")
        own_server.start()
        # The SDK reconnects by itself and initialises again; the worker kept its activity.
        assert sdk.expect("ready", timeout=30)["activity"] == "Available"

        task = room.create_task(type="after-restart")
        assert sdk.expect("reservationCreated")["task"] == task.sid
    finally:
        for process in room.processes:
            process.close()
