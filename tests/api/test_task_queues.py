"""TaskQueues: defaults, validation, membership by TargetWorkers, filters, guarded deletion."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from switchboard.service.clock import ManualClock

from .conftest import MakeWorkspace, Workspace, assert_error, assert_invalid, ok, unchanged
from .contract import assert_matches_spec

SCHEMA = "taskrouter.v1.workspace.task_queue"


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["friendly_name"] for item in items]


def members(ws: Workspace, queue_sid: str) -> list[str]:
    return names(ws.list("Workers", TaskQueueSid=queue_sid))


# ---------------------------------------------------------------- create, fetch, update


def test_create_with_defaults(ws: Workspace) -> None:
    body = ws.queue("Everyone")
    assert body["friendly_name"] == "Everyone"
    assert body["target_workers"] == "1==1"
    assert body["max_reserved_workers"] == 1
    assert body["task_order"] == "FIFO"
    for role in ("reservation", "assignment"):
        assert body[f"{role}_activity_sid"] is None
        assert body[f"{role}_activity_name"] is None
        assert body["links"][f"{role}_activity"] is None
    assert body["url"] == ws.url("TaskQueues", body["sid"])
    assert body["links"]["workspace"] == ws.url()
    assert body["links"]["statistics"] == ws.url("TaskQueues", body["sid"], "Statistics")
    assert ws.fetch("TaskQueues", body["sid"]) == body


def test_create_with_every_option(ws: Workspace) -> None:
    busy = ws.create("Activities", FriendlyName="Busy", Available="false")["sid"]
    reserved = ws.create("Activities", FriendlyName="Reserved", Available="false")["sid"]
    body = ws.queue("Sales", TargetWorkers="skills HAS 'sales'", MaxReservedWorkers="50",
                    TaskOrder="LIFO", ReservationActivitySid=reserved,
                    AssignmentActivitySid=busy)
    assert body["target_workers"] == "skills HAS 'sales'"
    assert body["max_reserved_workers"] == 50
    assert body["task_order"] == "LIFO"
    assert (body["reservation_activity_sid"], body["reservation_activity_name"]) == (
        reserved, "Reserved")
    assert (body["assignment_activity_sid"], body["assignment_activity_name"]) == (
        busy, "Busy")
    assert body["links"]["reservation_activity"] == ws.url("Activities", reserved)
    assert body["links"]["assignment_activity"] == ws.url("Activities", busy)


def test_matches_twilio_spec(ws: Workspace) -> None:
    busy = ws.create("Activities", FriendlyName="Busy", Available="false")["sid"]
    plain = ws.queue("Plain")
    assert_matches_spec(plain, SCHEMA)
    assert_matches_spec(ws.queue("Full", AssignmentActivitySid=busy,
                                 ReservationActivitySid=busy), SCHEMA)
    assert_matches_spec(ws.fetch("TaskQueues", plain["sid"]), SCHEMA)
    assert_matches_spec(ws.update("TaskQueues", plain["sid"], TaskOrder="LIFO"), SCHEMA)
    for listed in ws.list("TaskQueues"):
        assert_matches_spec(listed, SCHEMA)


def test_update(ws: Workspace, clock: ManualClock) -> None:
    busy = ws.create("Activities", FriendlyName="Busy", Available="false")["sid"]
    sid = ws.queue("Sales")["sid"]
    clock.advance(4_000)
    body = ws.update("TaskQueues", sid, FriendlyName="Inside Sales", TargetWorkers="level > 2",
                     MaxReservedWorkers="5", TaskOrder="LIFO", ReservationActivitySid=busy,
                     AssignmentActivitySid=busy)
    assert body["friendly_name"] == "Inside Sales"
    assert body["target_workers"] == "level > 2"
    assert body["max_reserved_workers"] == 5
    assert body["task_order"] == "LIFO"
    assert body["reservation_activity_name"] == body["assignment_activity_name"] == "Busy"
    assert body["date_updated"] == "2026-01-01T00:00:04Z"
    assert ws.fetch("TaskQueues", sid) == body
    body = ws.update("TaskQueues", sid, ReservationActivitySid="", AssignmentActivitySid="")
    assert body["reservation_activity_sid"] is body["assignment_activity_sid"] is None
    assert body["task_order"] == "LIFO"  # not given: unchanged


@pytest.mark.parametrize("value", ["1", "50"])
def test_max_reserved_workers_bounds_are_accepted(ws: Workspace, value: str) -> None:
    assert ws.queue("Q", MaxReservedWorkers=value)["max_reserved_workers"] == int(value)


@pytest.mark.parametrize(("data", "parameter"), [
    ({}, "FriendlyName"),
    ({"FriendlyName": ""}, "FriendlyName"),
    ({"FriendlyName": "Q", "MaxReservedWorkers": "0"}, "MaxReservedWorkers"),
    ({"FriendlyName": "Q", "MaxReservedWorkers": "51"}, "MaxReservedWorkers"),
    ({"FriendlyName": "Q", "TaskOrder": "PRIORITY"}, "TaskOrder"),
    ({"FriendlyName": "Q", "TaskOrder": "fifo"}, "TaskOrder"),
    ({"FriendlyName": "Q", "TargetWorkers": "skills HAS"}, "TargetWorkers"),
    ({"FriendlyName": "Q", "TargetWorkers": "level >> 3"}, "TargetWorkers"),
    ({"FriendlyName": "Q", "ReservationActivitySid": "WA" + "f" * 32},
     "ReservationActivitySid"),
    ({"FriendlyName": "Q", "AssignmentActivitySid": "WA" + "f" * 32}, "AssignmentActivitySid"),
])
def test_create_rejects_bad_values(client: TestClient, ws: Workspace, data: dict[str, str],
                                   parameter: str) -> None:
    with unchanged(client, ws.path("TaskQueues")):
        assert_invalid(client.post(ws.path("TaskQueues"), data=data), parameter)


@pytest.mark.parametrize(("data", "parameter"), [
    ({"FriendlyName": ""}, "FriendlyName"),
    ({"MaxReservedWorkers": "0"}, "MaxReservedWorkers"),
    ({"MaxReservedWorkers": "51"}, "MaxReservedWorkers"),
    ({"TaskOrder": "RANDOM"}, "TaskOrder"),
    ({"TargetWorkers": "skills HAS"}, "TargetWorkers"),
    ({"ReservationActivitySid": "WA" + "f" * 32}, "ReservationActivitySid"),
    ({"AssignmentActivitySid": "WA" + "f" * 32}, "AssignmentActivitySid"),
    ({"FriendlyName": "Valid", "TargetWorkers": "1==1", "TaskOrder": "LIFO",
      "AssignmentActivitySid": "WAnope"}, "AssignmentActivitySid"),
])
def test_update_rejects_bad_values_and_changes_nothing(
        client: TestClient, ws: Workspace, data: dict[str, str], parameter: str) -> None:
    sid = ws.queue("Sales", TargetWorkers="skills HAS 'sales'")["sid"]
    ws.worker("alice", Attributes='{"skills": ["sales"]}')
    with unchanged(client, ws.path("TaskQueues", sid),
                   ws.path("Workers") + f"?TaskQueueSid={sid}"):
        assert_invalid(client.post(ws.path("TaskQueues", sid), data=data), parameter)


def test_activities_of_another_workspace_are_refused(
        client: TestClient, make_workspace: MakeWorkspace) -> None:
    mine, theirs = make_workspace(), make_workspace()
    with unchanged(client, mine.path("TaskQueues")):
        assert_invalid(client.post(mine.path("TaskQueues"), data={
            "FriendlyName": "Q", "AssignmentActivitySid": theirs.activity("Offline")}),
            "AssignmentActivitySid")


# ---------------------------------------------------------------- membership


def test_the_default_queue_holds_every_worker(ws: Workspace) -> None:
    ws.worker("alice")
    ws.worker("bob", ActivitySid=ws.activity("Available"))
    everyone = ws.queue("Everyone")["sid"]
    ws.worker("carol")
    assert members(ws, everyone) == ["alice", "bob", "carol"]


def test_membership_follows_worker_attributes(ws: Workspace) -> None:
    sales = ws.queue("Sales", TargetWorkers="skills HAS 'sales'")["sid"]
    alice = ws.worker("alice", Attributes='{"skills": ["sales"]}')["sid"]
    bob = ws.worker("bob", Attributes='{"skills": []}')["sid"]
    assert members(ws, sales) == ["alice"]
    ws.update("Workers", alice, Attributes='{"skills": ["support"]}')
    ws.update("Workers", bob, Attributes='{"skills": ["sales", "support"]}')
    assert members(ws, sales) == ["bob"]
    ws.delete("Workers", bob)
    assert members(ws, sales) == []


def test_membership_follows_the_worker_activity(ws: Workspace) -> None:
    ready = ws.queue("Ready", TargetWorkers="activity_name == 'Available'")["sid"]
    alice = ws.worker("alice")["sid"]
    assert members(ws, ready) == []
    ws.update("Workers", alice, ActivitySid=ws.activity("Available"))
    assert members(ws, ready) == ["alice"]
    ws.update("Workers", alice, ActivitySid=ws.activity("Unavailable"))
    assert members(ws, ready) == []


def test_membership_follows_an_activity_rename(ws: Workspace) -> None:
    ready = ws.queue("Ready", TargetWorkers="activity_name == 'Ready'")["sid"]
    ws.worker("alice", ActivitySid=ws.activity("Available"))
    assert members(ws, ready) == []
    ws.update("Activities", ws.activity("Available"), FriendlyName="Ready")
    assert members(ws, ready) == ["alice"]


def test_membership_follows_the_activity_sid(ws: Workspace) -> None:
    available = ws.activity("Available")
    queue = ws.queue("Q", TargetWorkers=f"activity_sid == '{available}'")["sid"]
    alice = ws.worker("alice")["sid"]
    ws.update("Workers", alice, ActivitySid=available)
    assert members(ws, queue) == ["alice"]


def test_membership_follows_a_worker_rename(ws: Workspace) -> None:
    queue = ws.queue("Bobs", TargetWorkers="friendly_name == 'bob'")["sid"]
    alice = ws.worker("alice")["sid"]
    ws.update("Workers", alice, FriendlyName="bob")
    assert ws.list("Workers", TargetWorkersExpression="friendly_name == 'bob'") != []
    assert members(ws, queue) == ["bob"]


def test_membership_follows_a_worker_channel_change(ws: Workspace) -> None:
    queue = ws.queue("Multi", TargetWorkers="channel.voice.configured_capacity > 1")["sid"]
    alice = ws.worker("alice")["sid"]
    ws.update("Workers", alice, "Channels", "voice", Capacity="3")
    expression = "channel.voice.configured_capacity > 1"
    assert names(ws.list("Workers", TargetWorkersExpression=expression)) == ["alice"]
    assert members(ws, queue) == ["alice"]


def test_membership_follows_a_target_workers_update(ws: Workspace) -> None:
    queue = ws.queue("Q", TargetWorkers="level >= 3")["sid"]
    ws.worker("junior", Attributes='{"level": 1}')
    ws.worker("senior", Attributes='{"level": 5}')
    assert members(ws, queue) == ["senior"]
    ws.update("TaskQueues", queue, TargetWorkers="level < 3")
    assert members(ws, queue) == ["junior"]
    ws.update("TaskQueues", queue, TargetWorkers="1==1")
    assert members(ws, queue) == ["junior", "senior"]


# ---------------------------------------------------------------- list filters


@pytest.fixture
def queues(ws: Workspace, clock: ManualClock) -> dict[str, str]:
    sids = {}
    for name, target in (("Support", "skills HAS 'support'"), ("Everyone", "1==1"),
                         ("Sales", "skills HAS 'sales'"), ("Seniors", "level > 3")):
        sids[name] = ws.queue(name, TargetWorkers=target)["sid"]
        clock.advance(1_000)
    return sids


def test_list_in_creation_order(ws: Workspace, queues: dict[str, str]) -> None:
    assert names(ws.list("TaskQueues")) == ["Support", "Everyone", "Sales", "Seniors"]


def test_filter_by_friendly_name(ws: Workspace, queues: dict[str, str]) -> None:
    assert names(ws.list("TaskQueues", FriendlyName="Sales")) == ["Sales"]
    assert ws.list("TaskQueues", FriendlyName="Marketing") == []


def test_filter_by_evaluate_worker_attributes(ws: Workspace, queues: dict[str, str]) -> None:
    attributes = json.dumps({"skills": ["sales"], "level": 5})
    assert names(ws.list("TaskQueues", EvaluateWorkerAttributes=attributes)) == [
        "Everyone", "Sales", "Seniors"]
    assert names(ws.list("TaskQueues", EvaluateWorkerAttributes="{}")) == ["Everyone"]
    assert names(ws.list("TaskQueues", EvaluateWorkerAttributes=attributes,
                         FriendlyName="Sales")) == ["Sales"]


@pytest.mark.parametrize("attributes", ["not json", "[]", "x" * 4097])
def test_invalid_evaluate_worker_attributes_is_a_400(
        client: TestClient, ws: Workspace, queues: dict[str, str], attributes: str) -> None:
    assert_invalid(client.get(ws.path("TaskQueues"), params={
        "EvaluateWorkerAttributes": attributes}), "EvaluateWorkerAttributes")


def test_filter_by_worker_sid(ws: Workspace, queues: dict[str, str]) -> None:
    alice = ws.worker("alice", Attributes='{"skills": ["support"], "level": 4}')["sid"]
    bob = ws.worker("bob")["sid"]
    assert names(ws.list("TaskQueues", WorkerSid=alice)) == ["Support", "Everyone", "Seniors"]
    assert names(ws.list("TaskQueues", WorkerSid=bob)) == ["Everyone"]
    for unknown in ("WK" + "f" * 32, "alice"):
        assert_invalid(ws.client.get(ws.path("TaskQueues"), params={"WorkerSid": unknown}),
                       "WorkerSid", unknown)


@pytest.mark.parametrize(("ordering", "expected"), [
    ("FriendlyName:asc", ["Everyone", "Sales", "Seniors", "Support"]),
    ("FriendlyName:desc", ["Support", "Seniors", "Sales", "Everyone"]),
    ("DateCreated:desc", ["Seniors", "Sales", "Everyone", "Support"]),
    ("DateUpdated:asc", ["Everyone", "Sales", "Seniors", "Support"]),
])
def test_ordering(ws: Workspace, queues: dict[str, str], clock: ManualClock, ordering: str,
                  expected: list[str]) -> None:
    clock.advance(1_000)
    ws.update("TaskQueues", queues["Support"], TaskOrder="LIFO")
    assert names(ws.list("TaskQueues", Ordering=ordering)) == expected


def test_an_invalid_ordering_is_a_400(client: TestClient, ws: Workspace) -> None:
    assert_invalid(client.get(ws.path("TaskQueues"), params={"Ordering": "Size:asc"}),
                   "Ordering")


# ---------------------------------------------------------------- delete


def test_delete(client: TestClient, ws: Workspace) -> None:
    sid = ws.queue("Sales")["sid"]
    alice = ws.worker("alice")["sid"]
    ws.delete("TaskQueues", sid)
    assert_error(client.get(ws.path("TaskQueues", sid)), 404, 20404)
    assert_error(client.delete(ws.path("TaskQueues", sid)), 404, 20404)
    assert ws.list("TaskQueues", WorkerSid=alice) == []
    # The deleted queue is no filter any more.
    assert_invalid(client.get(ws.path("Workers"), params={"TaskQueueSid": sid}), "TaskQueueSid")


def test_a_queue_a_workflow_routes_to_cannot_be_deleted(
        client: TestClient, ws: Workspace) -> None:
    sales, support = ws.queue("Sales")["sid"], ws.queue("Support")["sid"]
    configuration = {"task_routing": {
        "filters": [{"expression": "type == 'sales'", "targets": [{"queue": sales}]}],
        "default_filter": {"queue": support},
    }}
    workflow = ws.create("Workflows", FriendlyName="Route",
                         Configuration=json.dumps(configuration))["sid"]
    for queue in (sales, support):
        with unchanged(client, ws.path("TaskQueues")):
            assert_invalid(client.delete(ws.path("TaskQueues", queue)), workflow)
    ws.update("Workflows", workflow, Configuration=json.dumps(
        {"task_routing": {"default_filter": {"queue": support}}}))
    ws.delete("TaskQueues", sales)
    ws.delete("Workflows", workflow)
    ws.delete("TaskQueues", support)
    assert ws.list("TaskQueues") == []


def test_the_fifo_sample_queue_is_protected_by_its_workflow(
        client: TestClient, make_workspace: MakeWorkspace) -> None:
    ws = make_workspace(Template="FIFO")
    (queue,) = ws.list("TaskQueues")
    (workflow,) = ws.list("Workflows")
    with unchanged(client, ws.path("TaskQueues")):
        assert_invalid(client.delete(ws.path("TaskQueues", queue["sid"])), workflow["sid"])


def test_unknown_task_queue(client: TestClient, ws: Workspace) -> None:
    missing = ws.path("TaskQueues", "WQ" + "f" * 32)
    assert_error(client.get(missing), 404, 20404)
    assert_error(client.post(missing, data={"FriendlyName": "x"}), 404, 20404)
    assert_error(client.delete(missing), 404, 20404)
    ok(client.get(ws.path("TaskQueues")))
