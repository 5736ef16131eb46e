"""List filters that name a resource: malformed or unknown is a 400 (code 20001) naming the
parameter, on REST and on the event bridge's RPC, never an empty or shifted page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from .conftest import MakeWorkspace, Workspace, assert_invalid, ok
from .test_event_bridge import Bridge, refused

UNKNOWN = "f" * 32


@pytest.fixture
def fifo(make_workspace: MakeWorkspace) -> Workspace:
    """A FIFO workspace with an available worker holding a reserved task."""
    ws = make_workspace(Template="FIFO")
    ws.worker("alice", ActivitySid=ws.activity("Available"))
    ws.create("Tasks", Attributes=json.dumps({"type": "x"}))
    return ws


def refused_query(ws: Workspace, collection: str, query: dict[str, str], *mentions: str
                  ) -> None:
    assert_invalid(ws.client.get(ws.path(collection), params=query), *query, *mentions)


# ---------------------------------------------------------------------- REST


@pytest.mark.parametrize(("query", "mention"), [
    ({"ActivitySid": "WA" + UNKNOWN}, "not an Activity of this workspace"),
    ({"ActivitySid": "WK" + UNKNOWN}, "WA and 32 hex digits"),
    ({"ActivitySid": "Available"}, "must be an Activity SID"),
    ({"ActivitySid": ""}, "must be"),
    ({"ActivityName": "Lunch"}, "no Activity of this workspace has that name"),
    ({"TaskQueueSid": "WQ" + UNKNOWN}, "not a TaskQueue"),
    ({"TaskQueueSid": "WQ123"}, "WQ and 32 hex digits"),
    ({"TaskQueueName": "Nowhere"}, "no TaskQueue"),
])
def test_workers_list(fifo: Workspace, query: dict[str, str], mention: str) -> None:
    refused_query(fifo, "Workers", query, mention)


def test_workers_list_with_real_filters_still_answers(fifo: Workspace) -> None:
    (queue,) = fifo.list("TaskQueues")
    assert [w["friendly_name"] for w in fifo.list(
        "Workers", ActivitySid=fifo.activity("Available"), ActivityName="Available",
        TaskQueueSid=queue["sid"], TaskQueueName=queue["friendly_name"])] == ["alice"]
    # A real activity no worker is in is an empty page, not an error.
    assert fifo.list("Workers", ActivityName="Offline") == []


@pytest.mark.parametrize(("query", "mention"), [
    ({"WorkflowSid": "WW" + UNKNOWN}, "not a Workflow"),
    ({"WorkflowSid": "Default Fifo Workflow"}, "must be a Workflow SID"),
    ({"WorkflowName": "Elsewhere"}, "no Workflow"),
    ({"TaskQueueSid": "WQ" + UNKNOWN}, "not a TaskQueue"),
    ({"TaskQueueSid": "WT" + UNKNOWN}, "must be a TaskQueue SID"),
    ({"TaskQueueName": "Nowhere"}, "no TaskQueue"),
    ({"RoutingTarget": "WK" + UNKNOWN}, "not a Worker"),
    ({"RoutingTarget": "WQ" + UNKNOWN}, "not a TaskQueue"),
    ({"RoutingTarget": "WA" + UNKNOWN}, "a Worker SID (WK and 32 hex digits) or a TaskQueue"),
])
def test_tasks_list(fifo: Workspace, query: dict[str, str], mention: str) -> None:
    refused_query(fifo, "Tasks", query, mention)


def test_finished_tasks_keep_their_deleted_queue_and_workflow_as_filters(
        fifo: Workspace) -> None:
    queue = fifo.queue("Temporary")["sid"]
    workflow = fifo.workflow("Temporary", queue)["sid"]
    task = fifo.create("Tasks", WorkflowSid=workflow, Attributes="{}")["sid"]
    fifo.update("Tasks", task, AssignmentStatus="canceled")
    fifo.delete("Workflows", workflow)
    fifo.delete("TaskQueues", queue)
    # Within the five minutes before it is purged, the task still names both.
    assert [t["sid"] for t in fifo.list("Tasks", WorkflowSid=workflow)] == [task]
    assert [t["sid"] for t in fifo.list("Tasks", TaskQueueSid=queue)] == [task]
    # Their names are gone with them.
    refused_query(fifo, "Tasks", {"TaskQueueName": "Temporary"})


def test_task_reservations_list(fifo: Workspace) -> None:
    (task,) = fifo.list("Tasks")
    (reservation,) = fifo.list("Tasks", task["sid"], "Reservations")
    path = ("Tasks", task["sid"], "Reservations")
    assert fifo.list(*path, WorkerSid=reservation["worker_sid"]) == [reservation]
    bob = fifo.worker("bob")["sid"]
    assert fifo.list(*path, WorkerSid=bob) == []
    for value, mention in (("WK" + UNKNOWN, "not a Worker"), ("alice", "must be a Worker SID")):
        assert_invalid(fifo.client.get(fifo.path(*path), params={"WorkerSid": value}),
                       "WorkerSid", mention)


def test_a_deleted_workers_past_reservation_stays_reachable(fifo: Workspace) -> None:
    (task,) = fifo.list("Tasks")
    (reservation,) = fifo.list("Tasks", task["sid"], "Reservations")
    worker = reservation["worker_sid"]
    fifo.update("Tasks", task["sid"], AssignmentStatus="canceled")
    fifo.delete("Workers", worker)
    assert [r["sid"] for r in fifo.list("Tasks", task["sid"], "Reservations",
                                        WorkerSid=worker)] == [reservation["sid"]]


def test_task_queues_list(fifo: Workspace) -> None:
    for value, mention in (("WK" + UNKNOWN, "not a Worker"), ("WK", "must be a Worker SID")):
        refused_query(fifo, "TaskQueues", {"WorkerSid": value}, mention)


def test_events_check_the_form_of_sids_not_that_they_still_exist(fifo: Workspace) -> None:
    for name, prefix in (("ReservationSid", "WR"), ("TaskQueueSid", "WQ"), ("TaskSid", "WT"),
                         ("WorkerSid", "WK"), ("WorkflowSid", "WW"), ("Sid", "EV")):
        refused_query(fifo, "Events", {name: prefix + "123"}, f"{prefix} and 32 hex digits")
        refused_query(fifo, "Events", {name: "XX" + UNKNOWN})
        assert fifo.list("Events", **{name: prefix + UNKNOWN}) == []
    # A task purged five minutes after it ended is still in the log, and found by its SID.
    (task,) = fifo.list("Tasks")
    fifo.update("Tasks", task["sid"], AssignmentStatus="canceled")
    ok(fifo.client.post("/dev/clock", data={"Advance": "301"}))  # fires the purge
    assert fifo.list("Tasks") == []
    events = fifo.list("Events", TaskSid=task["sid"], Minutes=60)
    assert "task.canceled" in {e["event_type"] for e in events}


@pytest.mark.parametrize("resource", ["Statistics", "CumulativeStatistics",
                                      "RealTimeStatistics"])
def test_worker_statistics_queue_filters(fifo: Workspace, resource: str) -> None:
    (queue,) = fifo.list("TaskQueues")
    path = fifo.path("Workers", resource)
    ok(fifo.client.get(path, params={"TaskQueueSid": queue["sid"]}))
    for query in ({"TaskQueueSid": "WQ" + UNKNOWN}, {"TaskQueueSid": "x"},
                  {"TaskQueueName": "Nowhere"}):
        assert_invalid(fifo.client.get(path, params=query), *query)


def test_the_message_names_the_parameter_and_its_value(
        client: TestClient, fifo: Workspace) -> None:
    body = assert_invalid(client.get(fifo.path("Workers"), params={"ActivitySid": "nope"}))
    assert body["message"].startswith("Invalid ActivitySid 'nope'")


# ---------------------------------------------------------------------- the event bridge's RPC


@pytest.fixture
def bridge(client: TestClient, make_workspace: MakeWorkspace) -> Bridge:
    return Bridge(client, make_workspace(Template="FIFO"))


def test_rpc_list_filters_are_the_rest_apis(bridge: Bridge) -> None:
    alice = bridge.worker("alice")
    admin = bridge.token(alice["sid"], role="admin")
    for url, params in (
            (bridge.path("Workers"), {"ActivitySid": "WA" + UNKNOWN}),
            (bridge.path("Workers"), {"ActivityName": "Lunch"}),
            (bridge.path("Workers"), {"TaskQueueName": "Nowhere"}),
            (bridge.path("TaskQueues"), {"WorkerSid": "alice"})):
        refused(bridge.rpc(admin, "GET", url, params), 400, 20001, *params)


def sids_of(payload: dict[str, Any]) -> list[str]:
    return [item["sid"] for item in payload["contents"]]


def test_rpc_after_sid_must_name_an_item_of_the_list(bridge: Bridge) -> None:
    alice = bridge.worker("alice")
    token = bridge.token(alice["sid"])
    url = bridge.path("Activities")
    first = bridge.payload(token, "GET", url, {"PageSize": 1})
    assert len(sids_of(first)) == 1
    second = bridge.payload(token, "GET", url, {"PageSize": 1, "AfterSid": first["after_sid"]})
    assert sids_of(second) != sids_of(first)
    for value, mention in (("WA" + UNKNOWN, "names nothing of this list"),
                           (alice["sid"], "must be an Activity SID (WA and 32 hex digits)"),
                           ("Available", "must be an Activity SID"), ("", "must be"),
                           (7, "must be")):
        for name in ("AfterSid", "NextToken"):
            refused(bridge.rpc(token, "GET", url, {"PageSize": 1, name: value}), 400, 20001,
                    name, mention)


def test_rpc_after_sid_of_each_list(bridge: Bridge) -> None:
    alice = bridge.worker("alice", ActivitySid=bridge.available)
    bob = bridge.worker("bob", ActivitySid=bridge.available)
    token, admin = bridge.token(alice["sid"]), bridge.token(alice["sid"], role="admin")
    bridge.task(type="a")
    bridge.task(type="b")
    (bobs,) = bridge.ws.list("Workers", bob["sid"], "Reservations")
    lists = {  # url, token, api version, a SID of the right kind that is not in the list
        "Workers": (bridge.path("Workers"), admin, "v1", "WK" + UNKNOWN),
        "TaskQueues": (bridge.path("TaskQueues"), admin, "v1", "WQ" + UNKNOWN),
        "WorkerChannels": (bridge.path("Workers", alice["sid"], "WorkerChannels"), token, "v1",
                           bridge.ws.list("Workers", bob["sid"], "Channels")[0]["sid"]),
        "Reservations": (bridge.path("Workers", alice["sid"], "Reservations"), token, "v2",
                         bobs["sid"]),
    }
    for name, (url, who, version, stranger) in lists.items():
        everything = sids_of(bridge.payload(who, "GET", url, {"PageSize": 1000}, version))
        assert everything, name
        rest = bridge.payload(who, "GET", url, {"PageSize": 1000, "AfterSid": everything[0]},
                              version)
        assert sids_of(rest) == everything[1:], name
        refused(bridge.rpc(who, "GET", url, {"AfterSid": stranger}, version), 400, 20001,
                "AfterSid", "names nothing of this list")


def test_rpc_after_sid_that_left_the_filter_goes_on_where_it_stood(bridge: Bridge) -> None:
    names = ["ann", "ben", "cat", "dan"]
    sids = [bridge.worker(name, ActivitySid=bridge.available)["sid"] for name in names]
    admin = bridge.token(sids[0], role="admin")
    url, query = bridge.path("Workers"), {"PageSize": 2, "ActivityName": "Available"}
    first = bridge.payload(admin, "GET", url, query)
    assert sids_of(first) == sids[:2] and first["after_sid"] == sids[1]
    bridge.ws.update("Workers", sids[1], ActivitySid=bridge.ws.activity("Offline"))
    second = bridge.payload(admin, "GET", url, {**query, "AfterSid": first["after_sid"]})
    assert sids_of(second) == sids[2:]
    # A worker deleted since names nothing any more.
    bridge.ws.delete("Workers", sids[1])
    refused(bridge.rpc(admin, "GET", url, {**query, "AfterSid": sids[1]}), 400, 20001,
            "AfterSid")
