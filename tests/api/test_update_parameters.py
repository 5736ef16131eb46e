"""Updates keep what the client sent: every parameter TaskRouter documents for updating a task,
reservation, worker or worker channel is either applied or refused with a 400 that says why,
never accepted and dropped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from .conftest import MakeWorkspace, Workspace, assert_invalid, ok, unchanged
from .contract import spec

UPDATES = {  # Twilio's operationId -> the path in both documents
    "UpdateTask": "/v1/Workspaces/{WorkspaceSid}/Tasks/{Sid}",
    "UpdateTaskReservation": "/v1/Workspaces/{WorkspaceSid}/Tasks/{TaskSid}/Reservations/{Sid}",
    "UpdateWorkerReservation":
        "/v1/Workspaces/{WorkspaceSid}/Workers/{WorkerSid}/Reservations/{Sid}",
    "UpdateWorker": "/v1/Workspaces/{WorkspaceSid}/Workers/{Sid}",
    "UpdateWorkerChannel": "/v1/Workspaces/{WorkspaceSid}/Workers/{WorkerSid}/Channels/{Sid}",
}
# The reservation update's parameters this server acts on; every other one configures a
# telephony instruction and is refused.
RESERVATION_ACTED_ON = {"ReservationStatus", "WorkerActivitySid", "Instruction"}


def _form_properties(document: dict[str, Any], path: str) -> dict[str, Any]:
    body = document["paths"][path]["post"]["requestBody"]["content"]
    properties: dict[str, Any] = body["application/x-www-form-urlencoded"]["schema"][
        "properties"]
    return properties


def _telephony_parameters() -> dict[str, dict[str, Any]]:
    properties = _form_properties(spec(), UPDATES["UpdateTaskReservation"])
    return {name: schema for name, schema in properties.items()
            if name not in RESERVATION_ACTED_ON}


def test_every_documented_update_parameter_is_declared(client: TestClient) -> None:
    """An undeclared parameter would be ignored like any unknown one: none may be."""
    ours = ok(client.get("/openapi.json"))
    for operation, path in UPDATES.items():
        theirs = set(_form_properties(spec(), path))
        missing = theirs - set(_form_properties(ours, path))
        assert not missing, f"{operation} does not declare {sorted(missing)}"


@pytest.fixture
def busy(make_workspace: MakeWorkspace) -> tuple[Workspace, dict[str, Any], dict[str, Any]]:
    """A FIFO workspace whose only available worker holds a pending reservation."""
    ws = make_workspace(Template="FIFO")
    ws.worker("alice", ActivitySid=ws.activity("Available"))
    task = ws.create("Tasks", Attributes=json.dumps({"type": "x"}))
    (reservation,) = ws.list("Tasks", task["sid"], "Reservations")
    return ws, task, reservation


def _value(schema: dict[str, Any]) -> Any:
    """A value of the documented type (telephony parameters are refused whatever it is)."""
    kind = schema.get("type")
    if kind == "integer":
        return "30"
    if kind == "boolean":
        return "true"
    if kind == "array":
        return ["completed"]
    if schema.get("$ref", "").endswith("supervisor_mode"):
        return "monitor"
    return "sip:agent@example.com"


def test_telephony_parameters_without_an_instruction_are_refused(
        client: TestClient, busy: tuple[Workspace, dict[str, Any], dict[str, Any]]) -> None:
    ws, task, reservation = busy
    worker_path = ws.path("Workers", reservation["worker_sid"], "Reservations",
                          reservation["sid"])
    task_path = ws.path("Tasks", task["sid"], "Reservations", reservation["sid"])
    parameters = _telephony_parameters()
    assert len(parameters) > 40  # the spec lists them all
    for name, schema in parameters.items():
        for path in (task_path, worker_path):
            with unchanged(client, task_path, ws.path("Tasks", task["sid"]),
                           ws.path("Workers", reservation["worker_sid"])):
                # Even alongside an accept: the accept would go through and the rest vanish.
                assert_invalid(client.post(path, data={"ReservationStatus": "accepted",
                                                       name: _value(schema)}),
                               name, "telephone network", "nothing was changed")
    # Several at once are named together.
    assert_invalid(client.post(task_path, data={"CallTo": "client:alice", "CallFrom": "+1555"}),
                   "CallFrom, CallTo configure telephony")


def test_an_instruction_is_refused_as_before(
        client: TestClient, busy: tuple[Workspace, dict[str, Any], dict[str, Any]]) -> None:
    ws, task, reservation = busy
    path = ws.path("Tasks", task["sid"], "Reservations", reservation["sid"])
    assert_invalid(client.post(path, data={"Instruction": "conference", "To": "client:a"}),
                   "Instruction 'conference' needs a telephone network")
    assert_invalid(client.post(path, data={"Instruction": "teleport"}), "Invalid Instruction")


@pytest.mark.parametrize("status", ["accepted", "wrapping", "completed"])
def test_worker_activity_sid_is_applied_with_any_status(
        client: TestClient, busy: tuple[Workspace, dict[str, Any], dict[str, Any]],
        status: str) -> None:
    ws, _, reservation = busy
    path = ws.path("Workers", reservation["worker_sid"], "Reservations", reservation["sid"])
    if status != "accepted":
        ok(client.post(path, data={"ReservationStatus": "accepted"}))
    unavailable = ws.activity("Unavailable")
    answer = ok(client.post(path, data={"ReservationStatus": status,
                                        "WorkerActivitySid": unavailable}))
    assert answer["reservation_status"] == status
    assert ws.fetch("Workers", reservation["worker_sid"])["activity_name"] == "Unavailable"


def test_wrapping_keeps_its_reason_and_a_lone_reason_is_refused(
        client: TestClient, busy: tuple[Workspace, dict[str, Any], dict[str, Any]]) -> None:
    ws, task, reservation = busy
    path = ws.path("Tasks", task["sid"])
    with unchanged(client, path):
        assert_invalid(client.post(path, data={"Reason": "why"}), "Reason", "AssignmentStatus")
    ws.update("Tasks", task["sid"], "Reservations", reservation["sid"],
              ReservationStatus="accepted")
    wrapping = ws.update("Tasks", task["sid"], AssignmentStatus="wrapping",
                         Reason="customer hung up")
    assert (wrapping["assignment_status"], wrapping["reason"]) == ("wrapping",
                                                                   "customer hung up")
    assert ws.fetch("Tasks", task["sid"])["reason"] == "customer hung up"
    events = ws.list("Events", TaskSid=task["sid"], EventType="task.wrapup")
    assert len(events) == 1
    completed = ws.update("Tasks", task["sid"], AssignmentStatus="completed", Reason="resolved")
    assert completed["reason"] == "resolved"


def test_an_empty_worker_activity_is_refused(client: TestClient, ws: Workspace) -> None:
    sid = ws.worker("bob")["sid"]
    path = ws.path("Workers", sid)
    with unchanged(client, path):
        assert_invalid(client.post(path, data={"ActivitySid": ""}), "ActivitySid")
        assert_invalid(client.post(path, data={"FriendlyName": ""}), "FriendlyName")
        assert_invalid(client.post(path, data={"Attributes": ""}), "Attributes")
def test_an_empty_worker_activity_sid_is_refused(
        client: TestClient, busy: tuple[Workspace, dict[str, Any], dict[str, Any]]) -> None:
    ws, task, reservation = busy
    path = ws.path("Tasks", task["sid"], "Reservations", reservation["sid"])
    with unchanged(client, path):
        assert_invalid(client.post(path, data={"ReservationStatus": "accepted",
                                               "WorkerActivitySid": ""}), "WorkerActivitySid")


def test_an_empty_task_channel_is_refused(
        client: TestClient, busy: tuple[Workspace, dict[str, Any], dict[str, Any]]) -> None:
    ws, task, _ = busy
    path = ws.path("Tasks", task["sid"])
    with unchanged(client, path):
        assert_invalid(client.post(path, data={"TaskChannel": ""}), "TaskChannel")


