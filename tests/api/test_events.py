"""The Events resource: the stored event log, filtered and paged."""

from __future__ import annotations

import json
from typing import Any

from starlette.testclient import TestClient

from switchboard.service.clock import ManualClock

from .conftest import DATE, MakeWorkspace, Workspace, assert_error, assert_invalid, list_all, ok
from .contract import assert_matches_spec


def _routed(make_workspace: MakeWorkspace) -> tuple[Workspace, dict[str, Any], str]:
    ws = make_workspace(Template="FIFO")
    worker = ws.worker("alice", ActivitySid=ws.activity("Available"))
    task = ws.create("Tasks", Attributes=json.dumps({"type": "support"}))
    return ws, task, str(worker["sid"])


def test_a_routed_task_leaves_its_events_newest_first(make_workspace: MakeWorkspace) -> None:
    ws, task, worker = _routed(make_workspace)
    events = ws.list("Events", TaskSid=task["sid"])
    types = [e["event_type"] for e in reversed(events)]
    assert types == ["task.created", "workflow.entered", "workflow.target-matched",
                     "task-queue.entered", "reservation.created"]
    newest = events[0]
    assert_matches_spec(newest, "taskrouter.v1.workspace.event")
    assert newest["resource_type"] == "reservation"
    assert newest["resource_url"].endswith(
        f"/Tasks/{task['sid']}/Reservations/{newest['resource_sid']}")
    assert newest["event_data"]["worker_sid"] == worker
    assert newest["event_data"]["task_priority"] == "0"  # values are strings, as on Twilio
    assert DATE.match(newest["event_date"])
    assert newest["event_date_ms"] // 1000 * 1000 <= newest["event_date_ms"]
    assert newest["url"].endswith(f"/Events/{newest['sid']}")


def test_fetch_one_and_unknown(client: TestClient, make_workspace: MakeWorkspace) -> None:
    ws, _, _ = _routed(make_workspace)
    first = ws.list("Events", EventType="task.created")[0]
    assert ws.fetch("Events", first["sid"]) == first
    assert_error(client.get(ws.path("Events", "EV" + "0" * 32)), 404, 20404)


def test_every_filter(make_workspace: MakeWorkspace) -> None:
    ws, task, worker = _routed(make_workspace)
    reservation = ws.list("Tasks", task["sid"], "Reservations")[0]
    queue = task["task_queue_sid"]
    cases = {
        "EventType": ("reservation.created", lambda e: e["event_type"] == "reservation.created"),
        "ReservationSid": (reservation["sid"],
                           lambda e: e["event_data"].get("reservation_sid") == reservation["sid"]),
        "TaskQueueSid": (queue, lambda e: e["event_data"].get("task_queue_sid") == queue),
        "TaskSid": (task["sid"], lambda e: e["event_data"].get("task_sid") == task["sid"]),
        "WorkerSid": (worker, lambda e: e["event_data"].get("worker_sid") == worker),
        "WorkflowSid": (task["workflow_sid"],
                        lambda e: e["event_data"].get("workflow_sid") == task["workflow_sid"]),
        "TaskChannel": ("default", lambda e: e["event_data"].get("task_channel_unique_name")
                        == "default" or e["event_type"].startswith("task-channel")),
    }
    for name, (value, matches) in cases.items():
        found = ws.list("Events", **{name: value})
        assert found, name
        assert all(matches(e) for e in found), name
    one = ws.list("Events", Sid=found[0]["sid"])
    assert [e["sid"] for e in one] == [found[0]["sid"]]


def test_time_windows(client: TestClient, clock: ManualClock,
                      make_workspace: MakeWorkspace) -> None:
    ws, task, _ = _routed(make_workspace)
    clock.advance(20 * 60_000)
    assert ws.list("Events") == []  # older than 15 minutes
    assert ws.list("Events", Minutes=30)
    created = ok(client.get(ws.path("Tasks", str(task["sid"]))))["date_created"]
    assert ws.list("Events", StartDate=created, EventType="task.created")
    assert ws.list("Events", EndDate="2000-01-01T00:00:00Z", StartDate="1999-01-01T00:00:00Z"
                   ) == []
    assert_invalid(client.get(ws.path("Events"), params={
        "StartDate": "2030-01-02T00:00:00Z", "EndDate": "2030-01-01T00:00:00Z"}), "StartDate")
    assert_invalid(client.get(ws.path("Events"), params={"Minutes": "x"}), "Minutes")


def test_paging_is_exact_while_events_arrive(client: TestClient,
                                             make_workspace: MakeWorkspace) -> None:
    ws = make_workspace()
    for i in range(7):
        ws.worker(f"w{i}")
    first = ok(client.get(ws.path("Events"), params={"PageSize": 3}))
    ws.worker("late")  # a new event must not shift the pages already being read
    seen = [e["sid"] for e in first["events"]]
    body = first
    while body["meta"]["next_page_url"]:
        body = ok(client.get(body["meta"]["next_page_url"]))
        seen += [e["sid"] for e in body["events"]]
    everything = list_all(client, ws.path("Events"), PageSize=1000)
    assert seen == [e["sid"] for e in everything][1:]  # all but the late one, no repeats
    assert_invalid(client.get(ws.path("Events"), params={"PageToken": "nope"}), "PageToken")
