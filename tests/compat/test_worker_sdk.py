"""The official JavaScript Worker SDK (npm ``twilio-taskrouter``, pinned) against a real server.

Each test runs ``tests/compat/node/worker.js`` under Node: it builds SDK ``Worker`` objects
with nothing changed but ``ebServer``/``wsServer``, prints what they see as JSON lines, and
runs the commands the test writes to its stdin. Tokens are minted in Python with the official
``twilio`` library, from an API key made through the API; tasks are created with twilio-python;
time moves only through the manual clock.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import TaskRouterGrant

NODE_DIR = Path(__file__).parent / "node"
WAIT = 15.0  # seconds to wait for something the SDK should see within milliseconds

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "twilio-taskrouter").exists(),
    reason="needs Node and tests/compat/node/node_modules (./dev test installs them)")


class Sdk:
    """One Node process driving SDK Workers; ``expect`` what they see, ``call`` them."""

    def __init__(self, url: str, workers: list[dict[str, Any]]) -> None:
        env = {**os.environ, "SB_URL": url, "SB_WORKERS": json.dumps(workers),
               "NO_PROXY": "127.0.0.1,localhost"}
        self.process = subprocess.Popen(
            ["node", "worker.js"], cwd=NODE_DIR, env=env, text=True, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []  # everything read, in order
        self.unread: list[dict[str, Any]] = []
        self.ids = iter(range(1, 1_000_000))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _next(self, deadline: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"timed out; the SDK saw: {self.seen}") from None
        if line is None:
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise AssertionError(f"the Node process ended: {stderr}; it saw: {self.seen}")
        item: dict[str, Any] = json.loads(line)
        self.seen.append(item)
        return item

    def expect(self, event: str, w: int = 0, timeout: float = WAIT, **match: Any
               ) -> dict[str, Any]:
        """The next not yet expected ``event`` of worker ``w`` whose fields include ``match``."""
        def fits(item: dict[str, Any]) -> bool:
            return item["event"] == event and item["w"] == w and all(
                item.get(k) == v for k, v in match.items())

        for item in self.unread:
            if fits(item):
                self.unread.remove(item)
                return item
        deadline = time.monotonic() + timeout
        while True:
            item = self._next(deadline)
            if fits(item):
                return item
            self.unread.append(item)

    def call(self, op: str, w: int = 0, **args: Any) -> dict[str, Any]:
        """Run a command; its result (``ok`` and ``value`` or ``error``)."""
        command_id = next(self.ids)
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": command_id, "w": w, "op": op, **args}) + "\n")
        self.process.stdin.flush()
        return self.expect("result", w, id=command_id)

    def ok(self, op: str, w: int = 0, **args: Any) -> Any:
        result = self.call(op, w, **args)
        assert result["ok"], result
        return result["value"]

    def events(self, w: int = 0) -> list[str]:
        return [item["event"] for item in self.seen if item["w"] == w]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@dataclass
class Room:
    """A FIFO-template workspace, an API key, and a way to start SDK processes on it."""

    url: str
    ws: Any  # twilio-python's workspace context
    sid: str
    account_sid: str
    key: Any
    clock: Any
    activity: dict[str, Any]
    workflow: Any
    queue: Any
    processes: list[Sdk]

    def worker(self, name: str, activity: str = "Offline", **attributes: Any) -> Any:
        return self.ws.workers.create(friendly_name=name, attributes=json.dumps(attributes),
                                      activity_sid=self.activity[activity].sid)

    def token(self, worker_sid: str, ttl: int = 3600, *, nbf_offset: int = 0) -> str:
        """An access token minted as twilio-python mints it, valid by the server's clock."""
        now = self.clock.now_ms() // 1000
        token = AccessToken(self.account_sid, self.key.sid, self.key.secret,
                            identity=worker_sid, nbf=now + nbf_offset, valid_until=now + ttl)
        token.add_grant(TaskRouterGrant(workspace_sid=self.sid, worker_sid=worker_sid,
                                        role="worker"))
        return str(token.to_jwt())

    def sdk(self, *workers: Any, url: str | None = None, **options: Any) -> Sdk:
        process = Sdk(url or self.url, [
            {"token": w if isinstance(w, str) else self.token(w.sid), "options": options}
            for w in workers])
        self.processes.append(process)
        return process

    def create_task(self, **attributes: Any) -> Any:
        return self.ws.tasks.create(workflow_sid=self.workflow.sid,
                                    attributes=json.dumps(attributes))


def make_room(url: str, client: Any, workspace_sid: str, clock: Any) -> Room:
    ws = client.taskrouter.v1.workspaces(workspace_sid)
    key = client.new_keys.create(friendly_name=f"worker-sdk-{uuid.uuid4().hex[:8]}")
    return Room(url=url, ws=ws, sid=workspace_sid, account_sid=client.account_sid, key=key,
                clock=clock,
                activity={a.friendly_name: a for a in ws.activities.list()},
                workflow=ws.workflows.list()[0],
                queue=ws.task_queues.list(friendly_name="Sample Queue")[0], processes=[])


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
    # Voice-only features say so.
    transfer = sdk.call("transfer", reservation=reservation, to=alice.sid)
    assert not transfer["ok"] and "telephone network" in transfer["error"]

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


def wait_until(condition: Callable[[], bool], attempts: int = 500) -> None:
    """Poll the API (each attempt is a request round trip) until ``condition()`` holds."""
    for _ in range(attempts):
        if condition():
            return
    raise AssertionError("the condition never held")


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
