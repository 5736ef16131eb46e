"""GET /v1/Workspaces/{WS}/TaskQueues/{Sid}/EstimatedWaitTime and QueuePosition's
``estimated_wait_time``: extensions (docs/extensions.md)."""

from __future__ import annotations

import json
from typing import Any

from switchboard.service.clock import ManualClock

from .conftest import Workspace, assert_error, assert_invalid

HANDLE = 100  # seconds from reservation to completion


def serve_one(ws: Workspace, clock: ManualClock, worker_sid: str) -> None:
    """A task taken by ``worker_sid`` and completed HANDLE seconds later."""
    task = ws.create("Tasks", Attributes="{}")
    reservation = next(r for r in ws.list("Tasks", task["sid"], "Reservations")
                       if r["reservation_status"] == "pending")
    assert reservation["worker_sid"] == worker_sid
    ws.update("Tasks", task["sid"], "Reservations", reservation["sid"],
              ReservationStatus="accepted")
    clock.advance(HANDLE * 1000)
    ws.update("Tasks", task["sid"], AssignmentStatus="completed", Reason="done")


def busy_queue(ws: Workspace, clock: ManualClock) -> tuple[dict[str, Any], list[str]]:
    """Two workers, a handle time learnt, both busy 30 s into their tasks, three waiting."""
    queue = ws.queue("Everyone")
    ws.workflow("Everything", queue["sid"])
    first = ws.worker("a", ActivitySid=ws.activity("Available"))
    serve_one(ws, clock, first["sid"])
    ws.worker("b", ActivitySid=ws.activity("Available"))
    held = [ws.create("Tasks", Attributes="{}") for _ in range(2)]
    for task in held:
        reservation = ws.list("Tasks", task["sid"], "Reservations")[0]
        ws.update("Tasks", task["sid"], "Reservations", reservation["sid"],
                  ReservationStatus="accepted")
    clock.advance(30_000)
    waiting = [ws.create("Tasks", Attributes=json.dumps({"n": n}))["sid"] for n in range(3)]
    return queue, waiting


def test_the_estimate_for_a_new_task(ws: Workspace, clock: ManualClock) -> None:
    queue, _ = busy_queue(ws, clock)
    body = ws.fetch("TaskQueues", queue["sid"], "EstimatedWaitTime")
    # Free at 70 s, 70 s, then 170 s for the third waiting task; the new one at 170 s.
    assert body == {
        "account_sid": queue["account_sid"],
        "workspace_sid": ws.sid,
        "task_queue_sid": queue["sid"],
        "waiting_tasks": 3,
        "available_workers": 0,
        "tasks_ahead": 3,
        "estimated_wait_time": 170,
        "url": ws.url("TaskQueues", queue["sid"], "EstimatedWaitTime"),
    }
    ahead = ws.client.get(ws.path("TaskQueues", queue["sid"], "EstimatedWaitTime"),
                          params={"Priority": "7", "TaskChannel": "default"}).json()
    assert (ahead["tasks_ahead"], ahead["estimated_wait_time"]) == (0, 70)
    voice = ws.client.get(ws.path("TaskQueues", queue["sid"], "EstimatedWaitTime"),
                          params={"TaskChannel": "voice"}).json()
    assert voice["waiting_tasks"] == 0


def test_queue_position_carries_the_estimate(ws: Workspace, clock: ManualClock) -> None:
    _, waiting = busy_queue(ws, clock)
    found = [ws.fetch("Tasks", sid, "QueuePosition") for sid in waiting]
    assert [(f["position"], f["estimated_wait_time"]) for f in found] == [
        (1, 70), (2, 70), (3, 170)]


def test_no_basis_is_null(ws: Workspace) -> None:
    queue = ws.queue("Nobody")
    body = ws.fetch("TaskQueues", queue["sid"], "EstimatedWaitTime")
    assert (body["waiting_tasks"], body["available_workers"], body["estimated_wait_time"]) == (
        0, 0, None)


def test_bad_input_is_a_400_naming_it_and_an_unknown_queue_a_404(ws: Workspace) -> None:
    queue = ws.queue("Everyone")
    path = ws.path("TaskQueues", queue["sid"], "EstimatedWaitTime")
    for priority in ("-1", "abc", "1.5", "2147483648"):
        assert_invalid(ws.client.get(path, params={"Priority": priority}), "Priority")
    assert_invalid(ws.client.get(path, params={"TaskChannel": "fax"}), "TaskChannel", "fax")
    missing = ws.path("TaskQueues", "WQ" + "0" * 32, "EstimatedWaitTime")
    assert_error(ws.client.get(missing), 404, 20404)
    assert_error(ws.client.get(ws.path("TaskQueues", "nonsense", "EstimatedWaitTime")), 404,
                 20404)
