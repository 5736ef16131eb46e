"""Event callbacks: signed like Twilio's, filtered, ordered, retried, durable, never blocking."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.callbacks.conftest import FAST_RETRIES, Api
from tests.callbacks.receiver import Answer, Received, Receiver, valid
from tests.conftest import AUTH_TOKEN, ServerProcess, free_port


def test_every_callback_carries_a_signature_the_official_validator_accepts(
        api: Api, receiver: Receiver) -> None:
    ws = api.workspace(EventCallbackUrl=receiver.url + "/events?source=test")
    api.worker(ws, "alice")
    task = api.task(ws, type="support")
    received = receiver.wait_for(lambda rs: any(
        r.params.get("EventType") == "reservation.created" for r in rs))
    assert received
    for request in received:
        assert valid(AUTH_TOKEN, receiver.url, request), request.params["EventType"]
    created = receiver.of_type("task.created")[0].params
    assert created["TaskSid"] == task["sid"]
    assert created["WorkspaceSid"] == ws
    assert created["ResourceType"] == "Task"
    assert created["ResourceSid"] == task["sid"]
    assert created["Sid"].startswith("EV")
    assert int(created["TimestampMs"]) // 1000 == int(created["Timestamp"])
    assert created["TaskAttributes"] == '{"type": "support"}'
    reservation = receiver.of_type("reservation.created")[0].params
    assert reservation["WorkerName"] == "alice"
    assert reservation["ReservationSid"].startswith("WR")


def test_events_filter_limits_what_is_sent(api: Api, receiver: Receiver) -> None:
    ws = api.workspace(EventCallbackUrl=receiver.url,
                       EventsFilter="task.created,task.canceled")
    task = api.task(ws)
    api.post(f"/v1/Workspaces/{ws}/Tasks/{task['sid']}", AssignmentStatus="canceled",
             Reason="test")
    received = receiver.wait_for(lambda rs: len(rs) >= 2)
    time.sleep(0.3)  # give any wrongly sent event the chance to arrive
    assert [r.params["EventType"] for r in receiver.received] == ["task.created",
                                                                  "task.canceled"]
    assert received[1].params["TaskCanceledReason"] == "test"


def _in_log_order(api: Api, ws: str, received: list[Received]) -> None:
    logged = api.get(f"/v1/Workspaces/{ws}/Events", PageSize=1000,
                     EventType=received[0].params["EventType"])["events"]
    wanted = [event["sid"] for event in reversed(logged)]
    assert [r.params["Sid"] for r in received] == wanted


def test_callbacks_arrive_in_log_order_under_concurrent_load(api: Api,
                                                             receiver: Receiver) -> None:
    ws = api.workspace(EventCallbackUrl=receiver.url, EventsFilter="task.created")
    threads = [threading.Thread(target=lambda: [api.task(ws, n=i) for i in range(10)])
               for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    received = receiver.wait_for(lambda rs: len(rs) >= 50)
    _in_log_order(api, ws, received)


def test_a_500_is_retried_and_order_is_kept(api: Api, receiver: Receiver) -> None:
    failures = {"left": 2}

    def answer(path: str, params: dict[str, str]) -> Answer:
        if params["EventType"] == "task.created" and failures["left"] > 0:
            failures["left"] -= 1
            return Answer(status=500)
        return Answer()

    receiver.answer = answer
    ws = api.workspace(EventCallbackUrl=receiver.url,
                       EventsFilter="task.created,task.canceled")
    task = api.task(ws)
    api.post(f"/v1/Workspaces/{ws}/Tasks/{task['sid']}", AssignmentStatus="canceled")
    received = receiver.wait_for(lambda rs: any(r.params["EventType"] == "task.canceled"
                                                for r in rs))
    types = [r.params["EventType"] for r in received]
    assert types == ["task.created"] * 3 + ["task.canceled"]


def test_a_refused_connection_is_retried_until_the_receiver_is_up(api: Api) -> None:
    port = free_port()
    ws = api.workspace(EventCallbackUrl=f"http://127.0.0.1:{port}/late",
                       EventsFilter="task.created")
    task = api.task(ws)
    time.sleep(0.2)  # the first attempts find nobody listening
    late = Receiver().start(port)
    try:
        received = late.wait_for(lambda rs: len(rs) >= 1, timeout=30)
        assert received[0].params["TaskSid"] == task["sid"]
        assert received[0].path == "/late"
    finally:
        late.stop()


def test_a_hanging_receiver_delays_neither_the_api_nor_routing(api: Api) -> None:
    hanging = Receiver(answer=lambda path, params: Answer(delay=30)).start()
    try:
        ws = api.workspace(EventCallbackUrl=hanging.url)
        other = api.workspace()
        hanging.wait_for(lambda rs: len(rs) >= 1)  # the receiver is now stuck on one
        api.worker(ws, "alice")
        api.worker(other, "bob")
        started = time.monotonic()
        for _ in range(5):
            assert api.task(ws)["sid"]
        second = api.task(ws)
        assert api.task(other)["assignment_status"] == "reserved"
        elapsed = time.monotonic() - started
        assert elapsed < 5, f"task creation took {elapsed:.1f} s behind a hanging receiver"
        # routing went on: alice holds a reservation although callbacks are stuck
        assert api.get(f"/v1/Workspaces/{ws}/Tasks/{second['sid']}")["sid"]
        reserved = api.get(f"/v1/Workspaces/{ws}/Tasks", AssignmentStatus="reserved")
        assert len(reserved["tasks"]) == 1
    finally:
        hanging.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path, clock="system", extra_args=FAST_RETRIES)
    server.start()
    yield server
    server.stop()


def test_undelivered_callbacks_survive_kill_and_restart(own_server: ServerProcess) -> None:
    down = Receiver(answer=lambda path, params: Answer(status=503)).start()
    api = Api(own_server.url)
    port = down.server.server_address[1] if down.server else 0
    ws = api.workspace(EventCallbackUrl=down.url, EventsFilter="task.created")
    sids = [api.task(ws, n=i)["sid"] for i in range(3)]
    down.wait_for(lambda rs: len(rs) >= 2)
    own_server.stop(kill=True)
    down.stop()

    up = Receiver().start(port)
    try:
        own_server.start()
        received = up.wait_for(lambda rs: len({r.params["TaskSid"] for r in rs}) >= 3,
                               timeout=30)
        assert [r.params["TaskSid"] for r in received][:1] == sids[:1]
        assert {r.params["TaskSid"] for r in received} == set(sids)
        order = list(dict.fromkeys(r.params["TaskSid"] for r in received))
        assert order == sids
    finally:
        up.stop()


def test_give_ups_are_visible_to_operators(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, clock="system",
                           extra_args=("--callback-attempts", "2", "--callback-backoff", "0.01"))
    server.start()
    broken = Receiver(answer=lambda path, params: Answer(status=500)).start()
    try:
        api = Api(server.url)
        ws = api.workspace(EventCallbackUrl=broken.url + "/broken", EventsFilter="task.created")
        task = api.task(ws)
        broken.wait_for(lambda rs: len(rs) >= 2)
        deadline = time.monotonic() + 10
        while True:  # the failure is recorded just after the last attempt
            result = subprocess.run(
                [sys.executable, "-m", "switchboard", "callbacks", "--data-dir", str(tmp_path),
                 "--workspace", ws, "--failed", "--json"],
                capture_output=True, text=True, check=True)
            failed = json.loads(result.stdout)["failed"]
            if failed or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(failed) == 1
        assert failed[0]["kind"] == "event"
        assert failed[0]["attempts"] == 2
        assert failed[0]["error"] == "HTTP 500"
        assert failed[0]["url"].endswith("/broken")
        events = api.get(f"/v1/Workspaces/{ws}/Events", EventType="task.created")["events"]
        assert failed[0]["event_sid"] == events[0]["sid"]
        assert events[0]["event_data"]["task_sid"] == task["sid"]
        assert "failed after 2 attempt(s)" in (tmp_path / "server.log").read_text()
    finally:
        broken.stop()
        server.stop()


def _sender_pid(server: ServerProcess, other_than: int | None = None) -> int:
    """The server's callback sender process (its only child), once it is running."""
    assert server.process is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = [int(pid) for path in Path(f"/proc/{server.process.pid}/task").iterdir()
                    for pid in (path / "children").read_text().split()]
        if children and children[0] != other_than:
            return children[0]
        time.sleep(0.05)
    raise AssertionError("no callback sender process")


def test_the_sender_runs_below_the_server_and_is_restarted_when_it_dies(
        own_server: ServerProcess, receiver: Receiver) -> None:
    assert own_server.process is not None
    api = Api(own_server.url)
    ws = api.workspace(EventCallbackUrl=receiver.url, EventsFilter="task.created")
    first = api.task(ws, n=0)["sid"]
    receiver.wait_for(lambda rs: len(rs) >= 1)  # the sender is up and running
    sender = _sender_pid(own_server)
    assert (os.getpriority(os.PRIO_PROCESS, sender)
            == os.getpriority(os.PRIO_PROCESS, own_server.process.pid) + 10)  # the default

    os.kill(sender, signal.SIGKILL)
    sids = [first] + [api.task(ws, n=i)["sid"] for i in range(1, 4)]
    received = receiver.wait_for(lambda rs: {r.params["TaskSid"] for r in rs} == set(sids))
    assert list(dict.fromkeys(r.params["TaskSid"] for r in received)) == sids
    assert _sender_pid(own_server, other_than=sender) != sender
    assert "the callback sender stopped" in (own_server.data_dir / "server.log").read_text()
