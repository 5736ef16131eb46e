"""The Worker SDK's event bridge in process: the JSON RPC, the WebSocket, CORS.

The real SDK runs against a real server in ``tests/compat/test_worker_sdk.py``; these tests pin
the protocol details (shapes, paging, errors, access rules, sessions) quickly and exactly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import TaskRouterGrant
from twilio.jwt.taskrouter.capabilities import WorkerCapabilityToken

from switchboard.api.app import create_app
from switchboard.bridge.sockets import Connection, WorkerSockets
from switchboard.bridge.tokens import TokenVerifier
from switchboard.service.runtime import Runtime

from .conftest import MakeWorkspace, Workspace, left_in_cycles, ok, unchanged

ACCOUNT_SID = "AC" + "a" * 32
AUTH_TOKEN = "test-auth-token"
NOW = 1_767_225_600  # the manual clock's start (tests/conftest.py START_MS), in seconds
WORKER_FIELDS = {"account_sid", "activity_name", "activity_sid", "attributes", "available",
                 "date_created", "date_status_changed", "date_updated", "friendly_name", "sid",
                 "workspace_sid", "version"}
TASK_FIELDS = {"addons", "age", "attributes", "date_created", "date_updated", "priority",
               "queue_name", "queue_sid", "reason", "routing_target", "sid",
               "assignment_status", "task_channel_unique_name", "task_channel_sid", "timeout",
               "workflow_name", "workflow_sid", "version", "virtual_start_time"}
RESERVATION_FIELDS = {"account_sid", "date_created", "date_updated", "reservation_status",
                      "sid", "task", "reservation_timeout", "worker_sid", "workspace_sid",
                      "version"}
CHANNEL_FIELDS = {"account_sid", "assigned_tasks", "available", "available_capacity_percentage",
                  "configured_capacity", "date_created", "date_updated", "last_reserved_time",
                  "sid", "task_channel_sid", "task_channel_unique_name", "worker_sid",
                  "workspace_sid"}
ACTIVITY_FIELDS = {"account_sid", "available", "date_created", "date_updated", "friendly_name",
                   "sid", "workspace_sid"}


class Bridge:
    """A FIFO workspace with an API key: mint tokens, call the RPC, open WebSockets."""

    def __init__(self, client: TestClient, ws: Workspace) -> None:
        self.client = client
        self.ws = ws
        key = ok(client.post(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Keys.json"), 201)
        self.key_sid, self.secret = key["sid"], key["secret"]
        self.available = ws.activity("Available")
        self.workflow = ws.list("Workflows")[0]["sid"]
        self.queue = ws.list("TaskQueues")[0]["sid"]

    def token(self, worker_sid: str | None, *, role: str = "worker", ttl: int = 3600,
              workspace_sid: str | None = None) -> str:
        token = AccessToken(ACCOUNT_SID, self.key_sid, self.secret, identity="someone",
                            nbf=NOW, valid_until=NOW + ttl)
        token.add_grant(TaskRouterGrant(workspace_sid=workspace_sid or self.ws.sid,
                                        worker_sid=worker_sid, role=role))
        return str(token.to_jwt())

    def worker(self, name: str, **data: Any) -> dict[str, Any]:
        return self.ws.worker(name, **data)

    def rpc(self, token: str, method: str, url: str, params: dict[str, Any] | None = None,
            api_version: str = "v1", **headers: str) -> httpx.Response:
        body = json.dumps({"url": url, "method": method, "params": params or {},
                           "token": token})
        # The SDK's HTTP client labels its JSON body as a form.
        return self.client.post("/v1/wschannels", content=body, headers={
            "apiVersion": api_version, "clientVersion": "2.1.1",
            "Content-Type": "application/x-www-form-urlencoded", **headers}, auth=None)

    def payload(self, token: str, method: str, url: str, params: dict[str, Any] | None = None,
                api_version: str = "v1", **headers: str) -> Any:
        return ok(self.rpc(token, method, url, params, api_version, **headers))["payload"]

    def path(self, *parts: str) -> str:
        return "/".join(("Workspaces", self.ws.sid, *parts))

    def task(self, **attributes: Any) -> dict[str, Any]:
        return self.ws.create("Tasks", WorkflowSid=self.workflow,
                              Attributes=json.dumps(attributes))


@pytest.fixture
def bridge(client: TestClient, make_workspace: MakeWorkspace) -> Bridge:
    return Bridge(client, make_workspace(Template="FIFO"))


def refused(response: httpx.Response, status: int, code: int, *mentions: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    for mention in mentions:
        assert mention in body["message"], body["message"]


# ---------------------------------------------------------------------- the RPC


def test_what_the_sdk_reads_when_it_starts(bridge: Bridge) -> None:
    alice = bridge.worker("alice", Attributes=json.dumps({"skills": ["a"]}))
    token = bridge.token(alice["sid"])

    worker = bridge.payload(token, "GET", bridge.path("Workers", alice["sid"]))
    assert set(worker) >= WORKER_FIELDS
    assert worker["date_created"] == NOW and worker["version"] == 0
    assert (worker["activity_name"], worker["available"]) == ("Offline", False)
    assert json.loads(worker["attributes"]) == {"skills": ["a"]}

    activities = bridge.payload(token, "GET", bridge.path("Activities"), {"PageSize": 1000})
    assert activities["after_sid"] is None
    assert [a["friendly_name"] for a in activities["contents"]] == [
        "Offline", "Available", "Unavailable"]
    assert all(set(a) >= ACTIVITY_FIELDS for a in activities["contents"])

    channels = bridge.payload(token, "GET", bridge.path("Workers", alice["sid"],
                                                        "WorkerChannels"), {"PageSize": 1000})
    assert {c["task_channel_unique_name"] for c in channels["contents"]} == {
        "default", "voice", "sms", "chat", "video"}
    assert all(set(c) >= CHANNEL_FIELDS for c in channels["contents"])

    reservations = bridge.payload(token, "GET", bridge.path("Workers", alice["sid"],
                                                            "Reservations"),
                                  {"Active": "true", "PageSize": 1000}, api_version="v2")
    assert reservations == {"contents": [], "after_sid": None,
                            "meta": {"next_token": None, "page_size": 1000}}


def test_lists_page_with_after_sid(bridge: Bridge) -> None:
    alice = bridge.worker("alice")
    token = bridge.token(alice["sid"])
    first = bridge.payload(token, "GET", bridge.path("Activities"), {"PageSize": 2})
    assert len(first["contents"]) == 2 and first["after_sid"] == first["contents"][1]["sid"]
    rest = bridge.payload(token, "GET", bridge.path("Activities"),
                          {"PageSize": 2, "AfterSid": first["after_sid"]})
    assert [a["friendly_name"] for a in rest["contents"]] == ["Unavailable"]
    assert rest["after_sid"] is None


def test_reservations_carry_their_task(bridge: Bridge) -> None:
    alice = bridge.worker("alice", ActivitySid=bridge.available)
    token = bridge.token(alice["sid"])
    task = bridge.task(type="billing")

    (reservation,) = bridge.payload(token, "GET", bridge.path(
        "Workers", alice["sid"], "Reservations"), {"Active": "true"}, api_version="v2"
    )["contents"]
    assert set(reservation) >= RESERVATION_FIELDS
    assert reservation["reservation_status"] == "pending"
    assert reservation["reservation_timeout"] == 120
    assert reservation["date_created"] == NOW and isinstance(reservation["version"], int)
    embedded = reservation["task"]
    assert set(embedded) >= TASK_FIELDS
    assert embedded["sid"] == task["sid"]
    assert (embedded["queue_sid"], embedded["queue_name"]) == (bridge.queue, "Sample Queue")
    assert embedded["workflow_name"] == "Default Fifo Workflow"
    assert embedded["date_created"] == NOW and embedded["addons"] == "{}"

    accepted = bridge.payload(token, "POST", bridge.path(
        "Workers", alice["sid"], "Reservations", reservation["sid"]),
        {"ReservationStatus": "accepted"})
    assert accepted["reservation_status"] == "accepted"
    assert accepted["task"]["assignment_status"] == "assigned"
    assert accepted["version"] == reservation["version"] + 1

    # The worker completes the task it holds; the answer is the task, in the SDK's shape.
    completed = bridge.payload(token, "POST", bridge.path("Tasks", task["sid"]),
                               {"AssignmentStatus": "completed", "Reason": "done"})
    assert set(completed) >= TASK_FIELDS
    assert (completed["assignment_status"], completed["reason"]) == ("completed", "done")
    assert bridge.ws.fetch("Tasks", task["sid"])["assignment_status"] == "completed"
    # Active reservations are open ones only; without Active every one is listed.
    url = bridge.path("Workers", alice["sid"], "Reservations")
    assert bridge.payload(token, "GET", url, {"Active": "true"}, "v2")["contents"] == []
    assert len(bridge.payload(token, "GET", url, {}, "v2")["contents"]) == 1


def test_typed_json_parameters(bridge: Bridge) -> None:
    alice = bridge.worker("alice")
    token = bridge.token(alice["sid"])
    updated = bridge.payload(token, "POST", bridge.path("Workers", alice["sid"]),
                             {"Attributes": {"skills": ["a", "b"], "level": 3}})
    assert json.loads(updated["attributes"]) == {"skills": ["a", "b"], "level": 3}
    assert json.loads(bridge.ws.fetch("Workers", alice["sid"])["attributes"]) == {
        "skills": ["a", "b"], "level": 3}
    # ActivitySid with the SDK's If-Match (enableVersionCheck): a stale version is refused.
    refused(bridge.rpc(token, "POST", bridge.path("Workers", alice["sid"]),
                       {"ActivitySid": bridge.available}, **{"If-Match": "0"}), 412, 20412)
    moved = bridge.payload(token, "POST", bridge.path("Workers", alice["sid"]),
                           {"ActivitySid": bridge.available},
                           **{"If-Match": str(updated["version"])})
    assert (moved["activity_name"], moved["available"]) == ("Available", True)
    # Validation is the REST API's own.
    refused(bridge.rpc(token, "POST", bridge.path("Workers", alice["sid"]),
                       {"ActivitySid": "WA" + "0" * 32}), 400, 20001, "ActivitySid")


def test_worker_create_task_routes_to_itself(bridge: Bridge) -> None:
    alice = bridge.worker("alice", ActivitySid=bridge.available)
    bob = bridge.worker("bob")
    token = bridge.token(alice["sid"])
    params = {"WorkflowSid": bridge.workflow, "TaskQueueSid": bridge.queue,
              "RoutingTarget": alice["sid"], "TaskChannelUniqueName": "voice",
              "Attributes": {"outbound_to": "+15550100", "from": "+15550199"}}
    task = bridge.payload(token, "POST", bridge.path("Tasks"), params)
    assert task["routing_target"] == alice["sid"]
    assert task["task_channel_unique_name"] == "voice"
    assert task["assignment_status"] == "reserved"
    refused(bridge.rpc(token, "POST", bridge.path("Tasks"), {**params,
                                                             "RoutingTarget": bob["sid"]}),
            403, 20403, "RoutingTarget")


def test_errors_carry_a_message(bridge: Bridge) -> None:
    alice = bridge.worker("alice")
    bob = bridge.worker("bob")
    token = bridge.token(alice["sid"])
    refused(bridge.rpc("not-a-token", "GET", bridge.path("Activities")), 401, 20101)
    refused(bridge.rpc(bridge.token(alice["sid"], ttl=-60), "GET", bridge.path("Activities")),
            401, 20104, "expired")
    refused(bridge.rpc(token, "GET", bridge.path("Workers", bob["sid"])), 403, 20403,
            f"cannot act as worker {bob['sid']}")
    refused(bridge.rpc(token, "POST", bridge.path("Workers", bob["sid"], "Reservations",
                                                  "WR" + "0" * 32), {}), 403, 20403)
    refused(bridge.rpc(token, "GET", "Workspaces/WS" + "0" * 32 + "/Activities"), 403, 20403,
            "is for workspace")
    refused(bridge.rpc(token, "GET", bridge.path("Nothing")), 404, 20404)
    refused(bridge.rpc(token, "GET", bridge.path("Workers")), 403, 20403, "admin")
    for route in ("CustomerParticipant", "WorkerParticipant", "HoldWorkerParticipant",
                  "KickWorkerParticipant"):
        refused(bridge.rpc(token, "POST", bridge.path("Workers", alice["sid"], route),
                           {"To": bob["sid"]}, api_version="v2"), 400, 20001,
                "telephone network")
    bad = bridge.client.post("/v1/wschannels", content=b"{nope", auth=None)
    refused(bad, 400, 20001, "JSON")
    refused(bridge.client.post("/v1/wschannels", json={"url": "x"}, auth=None), 400, 20001,
            "method")
    # A token for a workspace the key's account does not have.
    stranger = bridge.token(alice["sid"], workspace_sid="WS" + "0" * 32)
    refused(bridge.rpc(stranger, "GET", "Workspaces/WS" + "0" * 32 + "/Activities"), 404,
            20404)


TRANSFER_FIELDS = {"date_created", "date_updated", "initiating_reservation_sid",
                   "initiating_worker_sid", "initiating_queue_sid", "initiating_workflow_sid",
                   "sid", "transfer_mode", "transfer_to", "transfer_type", "transfer_status",
                   "task_sid"}


def test_transfers(bridge: Bridge) -> None:
    alice = bridge.worker("alice", ActivitySid=bridge.available)
    task = bridge.task(type="chat")
    alice_token = bridge.token(alice["sid"])
    mine = bridge.path("Workers", alice["sid"], "Reservations")
    (reservation,) = bridge.payload(alice_token, "GET", mine, {"Active": "true"}, "v2")[
        "contents"]
    bridge.payload(alice_token, "POST", bridge.path("Workers", alice["sid"], "Reservations",
                                                    reservation["sid"]),
                   {"ReservationStatus": "accepted"})
    bob = bridge.worker("bob", ActivitySid=bridge.available)
    transfers = bridge.path("Workers", alice["sid"], "Transfers")
    params = {"ReservationSid": reservation["sid"], "TaskSid": task["sid"], "To": bob["sid"]}

    # What Task.transfer sends: typed JSON, Attributes an object, on API v2.
    made = bridge.payload(alice_token, "POST", transfers, {
        **params, "Mode": "WARM", "Priority": 5, "Attributes": {"type": "chat", "vip": True}},
        "v2")
    assert set(made) >= TRANSFER_FIELDS
    assert made["sid"].startswith("TT")
    assert (made["transfer_type"], made["transfer_mode"], made["transfer_status"]) == (
        "WORKER", "WARM", "initiated")
    assert (made["initiating_reservation_sid"], made["initiating_worker_sid"]) == (
        reservation["sid"], alice["sid"])
    assert (made["initiating_queue_sid"], made["initiating_workflow_sid"]) == (
        bridge.queue, bridge.workflow)
    assert made["date_created"] == NOW
    fetched = bridge.ws.fetch("Tasks", task["sid"])
    assert (fetched["priority"], json.loads(fetched["attributes"])) == (
        5, {"type": "chat", "vip": True})
    assert bridge.payload(alice_token, "GET", f"{transfers}/{made['sid']}", {}, "v2") == made

    # The transferring worker's reservation names its transfer in progress; the other's, the
    # transfer that offered it.
    (held,) = bridge.payload(alice_token, "GET", mine, {"Active": "true"}, "v2")["contents"]
    assert held["active_outgoing_task_transfer"] == made
    assert "task_transfer" not in held
    bob_token = bridge.token(bob["sid"])
    (offered,) = bridge.payload(bob_token, "GET", bridge.path(
        "Workers", bob["sid"], "Reservations"), {"Active": "true"}, "v2")["contents"]
    assert offered["task_transfer"] == made
    assert offered["task"]["assignment_status"] == "reserved"
    assert "active_outgoing_task_transfer" not in offered

    # Only the worker who started it, and only once.
    refused(bridge.rpc(bob_token, "POST", f"{transfers}/{made['sid']}",
                       {"TaskSid": task["sid"], "TransferStatus": "canceled"}, "v2"),
            403, 20403)
    refused(bridge.rpc(alice_token, "POST", f"{transfers}/{made['sid']}",
                       {"TaskSid": task["sid"], "TransferStatus": "completed"}, "v2"),
            400, 20001, "canceled")
    canceled = bridge.payload(alice_token, "POST", f"{transfers}/{made['sid']}",
                              {"TaskSid": task["sid"], "TransferStatus": "canceled"}, "v2")
    assert canceled["transfer_status"] == "canceled"
    refused(bridge.rpc(alice_token, "POST", f"{transfers}/{made['sid']}",
                       {"TaskSid": task["sid"], "TransferStatus": "canceled"}, "v2"),
            400, 20001, f"Transfer {made['sid']} is already canceled . Cannot cancel transfer.")
    assert bridge.ws.fetch("Tasks", task["sid"])["assignment_status"] == "assigned"

    # Refusals: missing or mistyped parameters, an unavailable worker, a stranger's reservation.
    refused(bridge.rpc(alice_token, "POST", transfers, {"TaskSid": task["sid"]}, "v2"), 400,
            20001, "ReservationSid")
    refused(bridge.rpc(alice_token, "POST", transfers, {**params, "Priority": "high"}, "v2"),
            400, 20001, "Priority")
    bridge.ws.update("Workers", bob["sid"], ActivitySid=bridge.ws.activity("Offline"))
    refused(bridge.rpc(alice_token, "POST", transfers, params, "v2"), 400, 20001,
            "cannot take")
    refused(bridge.rpc(bob_token, "POST", bridge.path("Workers", bob["sid"], "Transfers"),
                       params, "v2"), 404, 20404, "Reservation")


def test_voice_tasks_need_a_telephone_network_to_transfer(bridge: Bridge) -> None:
    alice = bridge.worker("alice", ActivitySid=bridge.available)
    bob = bridge.worker("bob", ActivitySid=bridge.available)
    token = bridge.token(alice["sid"])
    task = bridge.payload(token, "POST", bridge.path("Tasks"), {
        "WorkflowSid": bridge.workflow, "RoutingTarget": alice["sid"],
        "TaskChannelUniqueName": "voice", "Attributes": {}})
    (reservation,) = bridge.ws.list("Tasks", task["sid"], "Reservations")
    bridge.ws.update("Tasks", task["sid"], "Reservations", reservation["sid"],
                     ReservationStatus="accepted")
    with unchanged(bridge.client, f"/v1/Workspaces/{bridge.ws.sid}/Tasks/{task['sid']}"):
        refused(bridge.rpc(token, "POST", bridge.path("Workers", alice["sid"], "Transfers"), {
            "ReservationSid": reservation["sid"], "TaskSid": task["sid"], "To": bob["sid"]},
            "v2"), 400, 20001, "telephone network")


def test_tasks_of_other_workers_are_out_of_reach(bridge: Bridge) -> None:
    alice = bridge.worker("alice")
    bob = bridge.worker("bob", ActivitySid=bridge.available)
    task = bridge.task(type="x")  # reserved for bob
    alice_token, bob_token = bridge.token(alice["sid"]), bridge.token(bob["sid"])
    refused(bridge.rpc(alice_token, "GET", bridge.path("Tasks", task["sid"])), 403, 20403,
            "no reservation")
    refused(bridge.rpc(alice_token, "POST", bridge.path("Tasks", task["sid"]),
                       {"AssignmentStatus": "canceled"}), 403, 20403)
    assert bridge.payload(bob_token, "GET", bridge.path("Tasks", task["sid"]))["sid"] == \
        task["sid"]
    refused(bridge.rpc(alice_token, "GET", bridge.path("Tasks", "WT" + "0" * 32)), 404, 20404)


def test_a_worker_acts_on_a_task_only_while_its_reservation_is_open(bridge: Bridge) -> None:
    bob = bridge.worker("bob", ActivitySid=bridge.available)
    token = bridge.token(bob["sid"])
    task = bridge.task(type="x")
    (reservation,) = bridge.ws.list("Tasks", task["sid"], "Reservations")
    # Pending: the worker may change the task it is offered.
    assert bridge.payload(token, "POST", bridge.path("Tasks", task["sid"]),
                          {"Attributes": {"type": "y"}})["attributes"] == '{"type":"y"}'
    bridge.payload(token, "POST", bridge.path("Workers", bob["sid"], "Reservations",
                                              reservation["sid"]),
                   {"ReservationStatus": "rejected"})
    before = bridge.ws.fetch("Tasks", task["sid"])
    for change in ({"AssignmentStatus": "canceled"}, {"Attributes": {"type": "z"}},
                   {"Priority": 5}):
        refused(bridge.rpc(token, "POST", bridge.path("Tasks", task["sid"]), change), 403,
                20403, "no open reservation")
    assert bridge.ws.fetch("Tasks", task["sid"]) == before
    # Reading what it was once offered is still allowed.
    assert bridge.payload(token, "GET", bridge.path("Tasks", task["sid"]))["sid"] == task["sid"]


def test_admin_tokens_read_the_workspace(bridge: Bridge) -> None:
    alice = bridge.worker("alice")
    bob = bridge.worker("bob")
    admin = bridge.token(alice["sid"], role="admin")
    workers = bridge.payload(admin, "GET", bridge.path("Workers"), {"PageSize": 1})
    assert len(workers["contents"]) == 1 and workers["after_sid"] == alice["sid"]
    assert bridge.payload(admin, "GET", bridge.path("Workers"), {
        "FriendlyName": "bob"})["contents"][0]["sid"] == bob["sid"]
    queues = bridge.payload(admin, "GET", bridge.path("TaskQueues"))["contents"]
    assert [q["friendly_name"] for q in queues] == ["Sample Queue"]
    assert bridge.payload(admin, "GET", bridge.path("TaskQueues", bridge.queue))[
        "target_workers"] == "1==1"
    # A supervisor may act on another worker (Supervisor.setWorkerActivity).
    moved = bridge.payload(bridge.token(alice["sid"], role="supervisor"), "POST",
                           bridge.path("Workers", bob["sid"]), {"ActivitySid": bridge.available})
    assert moved["activity_name"] == "Available"


@pytest.mark.filterwarnings("ignore::jwt.InsecureKeyLengthWarning")  # the test auth token
def test_capability_tokens_follow_their_policies(bridge: Bridge) -> None:
    alice = bridge.worker("alice")

    def capability(**kwargs: Any) -> str:
        return str(WorkerCapabilityToken(ACCOUNT_SID, AUTH_TOKEN, bridge.ws.sid, alice["sid"],
                                         nbf=NOW, valid_until=NOW + 600, **kwargs).to_jwt())

    read_only = capability()
    assert bridge.payload(read_only, "GET", bridge.path("Workers", alice["sid"]))["sid"] == \
        alice["sid"]
    refused(bridge.rpc(read_only, "POST", bridge.path("Workers", alice["sid"]),
                       {"ActivitySid": bridge.available}), 403, 20403, "policies")
    updater = capability(allow_update_activities=True)
    assert bridge.payload(updater, "POST", bridge.path("Workers", alice["sid"]),
                          {"ActivitySid": bridge.available})["activity_name"] == "Available"
    refused(bridge.rpc(updater, "POST", bridge.path("Workers", alice["sid"]),
                       {"Attributes": {}}), 403, 20403)


def test_cors(runtime: Runtime) -> None:
    """A browser page may run the Worker SDK: the preflight allows its own headers."""
    preflight_headers = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "apiversion,clientversion,if-match,content-type"}
    app = create_app(runtime, cors_origins=["https://agents.example"])
    with TestClient(app, base_url="http://testserver") as client:
        preflight = client.options("/v1/wschannels", headers={
            "Origin": "https://agents.example", **preflight_headers})
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == "https://agents.example"
        allowed = preflight.headers["access-control-allow-headers"].lower()
        for header in ("apiversion", "clientversion", "if-match", "authorization"):
            assert header in allowed
        rest = client.get("/v1/Workspaces", auth=(ACCOUNT_SID, AUTH_TOKEN),
                          headers={"Origin": "https://agents.example"})
        assert rest.headers["access-control-allow-origin"] == "https://agents.example"
        assert rest.headers["access-control-expose-headers"] == "ETag"
        other = client.options("/v1/wschannels", headers={
            "Origin": "https://elsewhere.example", **preflight_headers})
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
    # Without --cors-origins: any page, as Twilio.
    with TestClient(create_app(runtime), base_url="http://testserver") as client:
        preflight = client.options("/v1/wschannels", headers={
            "Origin": "https://anywhere.example", **preflight_headers})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "apiVersion" in preflight.headers["access-control-allow-headers"]


# ---------------------------------------------------------------------- the WebSocket


def frame(ws: Any) -> dict[str, Any]:
    """The next non-heartbeat frame."""
    while True:
        text = ws.receive_text()
        if text.strip():
            body: dict[str, Any] = json.loads(text)
            return body


def test_init_then_pushes(bridge: Bridge) -> None:
    alice = bridge.worker("alice", ActivitySid=bridge.available)
    token = bridge.token(alice["sid"], ttl=600)
    with bridge.client.websocket_connect(
            f"/v1/wschannels?token={token}&closeExistingSessions=false&clientVersion=2.1.1"
    ) as ws:
        assert frame(ws) == {"event_type": "init", "payload": {
            "channel_id": alice["sid"], "account_sid": ACCOUNT_SID,
            "workspace_sid": bridge.ws.sid, "token_lifetime": 600_000}}
        task = bridge.task(type="billing")
        created = frame(ws)
        assert created["event_type"] == "reservation.created"
        assert set(created["payload"]) >= RESERVATION_FIELDS
        assert created["payload"]["task"]["sid"] == task["sid"]
        assert created["payload"]["task"]["assignment_status"] == "reserved"

        bridge.ws.update("Tasks", task["sid"], AssignmentStatus="canceled", Reason="gone")
        canceled = frame(ws)
        assert (canceled["event_type"], canceled["payload"]["reservation_status"]) == (
            "reservation.canceled", "canceled")
        task_canceled = frame(ws)
        assert task_canceled["event_type"] == "task.canceled"
        assert task_canceled["payload"]["reason"] == "gone"
        assert set(task_canceled["payload"]) >= TASK_FIELDS

        bridge.ws.update("Workers", alice["sid"], Attributes='{"x":1}')
        attributes = frame(ws)
        assert attributes["event_type"] == "worker.attributes.update"
        assert set(attributes["payload"]) >= WORKER_FIELDS
        bridge.ws.update("Workers", alice["sid"], "Channels", "default", Capacity="3")
        capacity = frame(ws)
        assert capacity["event_type"] == "worker.capacity.update"
        assert set(capacity["payload"]) >= CHANNEL_FIELDS
        assert capacity["payload"]["configured_capacity"] == 3
        bridge.ws.update("Workers", alice["sid"], "Channels", "default", Available="false")
        availability = frame(ws)
        assert availability["event_type"] == "worker.channel.availability.update"
        assert availability["payload"]["available"] is False


def test_a_worker_sdk_session_leaves_no_cycles(bridge: Bridge) -> None:
    """What the SDK reads when it starts and the pushes of a reservation's life, made twice on
    one socket; nothing of the second is left for the garbage collector."""
    alice = bridge.worker("alice", ActivitySid=bridge.available)
    token = bridge.token(alice["sid"], ttl=600)
    with bridge.client.websocket_connect(f"/v1/wschannels?token={token}") as ws:
        assert frame(ws)["event_type"] == "init"

        def session() -> None:
            bridge.payload(token, "GET", bridge.path("Workers", alice["sid"]))
            bridge.payload(token, "GET", bridge.path("Workers", alice["sid"], "Reservations"),
                           {"Active": "true", "PageSize": 1000}, api_version="v2")
            task = bridge.task(type="billing")
            assert frame(ws)["event_type"] == "reservation.created"
            bridge.ws.update("Tasks", task["sid"], AssignmentStatus="canceled", Reason="gone")
            assert [frame(ws)["event_type"] for _ in range(2)] == [
                "reservation.canceled", "task.canceled"]

        session()
        assert left_in_cycles(session) == []


def test_refused_tokens_get_an_error_frame(bridge: Bridge) -> None:
    alice = bridge.worker("alice")
    with bridge.client.websocket_connect(
            f"/v1/wschannels?token={bridge.token(alice['sid'], ttl=-60)}") as ws:
        error = frame(ws)
        assert error["event_type"] == "error"
        assert error["payload"]["code"] == 20104 and "expired" in error["payload"]["message"]
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == 4401
    with bridge.client.websocket_connect(
            f"/v1/wschannels?token={bridge.token(None, role='admin')}") as ws:
        assert frame(ws)["payload"]["code"] == 20403


@pytest.mark.filterwarnings("ignore::jwt.InsecureKeyLengthWarning")  # the test auth token
def test_capability_tokens_on_the_websocket(bridge: Bridge) -> None:
    alice = bridge.worker("alice")
    token = WorkerCapabilityToken(ACCOUNT_SID, AUTH_TOKEN, bridge.ws.sid, alice["sid"],
                                  nbf=NOW, valid_until=NOW + 600).to_jwt()
    with bridge.client.websocket_connect(f"/v1/wschannels?token={token}") as ws:
        assert frame(ws)["payload"]["channel_id"] == alice["sid"]
    no_sockets = WorkerCapabilityToken(ACCOUNT_SID, AUTH_TOKEN, bridge.ws.sid, alice["sid"],
                                       nbf=NOW, valid_until=NOW + 600,
                                       allow_web_sockets=False).to_jwt()
    with bridge.client.websocket_connect(f"/v1/wschannels?token={no_sockets}") as ws:
        error = frame(ws)["payload"]
        assert (error["code"], error["status"]) == (20403, 403)
        assert "wschannels" in error["message"]


def test_only_the_workers_own_events(bridge: Bridge) -> None:
    alice = bridge.worker("alice")
    bob = bridge.worker("bob")
    with bridge.client.websocket_connect(
            f"/v1/wschannels?token={bridge.token(alice['sid'])}") as ws:
        frame(ws)  # init
        bridge.ws.update("Workers", bob["sid"], ActivitySid=bridge.available)
        bridge.ws.update("Workers", alice["sid"], ActivitySid=bridge.available)
        update = frame(ws)
        assert update["event_type"] == "worker.activity.update"
        assert update["payload"]["sid"] == alice["sid"]


def test_close_existing_sessions(bridge: Bridge) -> None:
    alice = bridge.worker("alice", ActivitySid=bridge.available)
    token = bridge.token(alice["sid"])
    with bridge.client.websocket_connect(f"/v1/wschannels?token={token}") as first:
        frame(first)
        with bridge.client.websocket_connect(
                f"/v1/wschannels?token={token}&closeExistingSessions=true") as second:
            frame(second)
            with pytest.raises(WebSocketDisconnect) as info:
                first.receive_text()
            assert info.value.code == 4409
            # The newer session still hears its worker, which stayed Available.
            bridge.ws.update("Workers", alice["sid"], Attributes='{"y":2}')
            assert frame(second)["event_type"] == "worker.attributes.update"
            assert bridge.ws.fetch("Workers", alice["sid"])["activity_name"] == "Available"


def test_offline_when_the_last_socket_closes(bridge: Bridge) -> None:
    alice = bridge.worker("alice", ActivitySid=bridge.available)
    token = bridge.token(alice["sid"])
    with bridge.client.websocket_connect(f"/v1/wschannels?token={token}") as one:
        frame(one)
        with bridge.client.websocket_connect(f"/v1/wschannels?token={token}") as two:
            frame(two)
        # One socket of two closed: nothing happens.
        bridge.ws.update("Workers", alice["sid"], Attributes='{"z":3}')
        assert frame(one)["event_type"] == "worker.attributes.update"
        assert bridge.ws.fetch("Workers", alice["sid"])["activity_name"] == "Available"
    wait_for(lambda: bridge.ws.fetch("Workers", alice["sid"])["activity_name"] == "Offline")

    bob = bridge.worker("bob", ActivitySid=bridge.available)
    with bridge.client.websocket_connect(
            f"/v1/wschannels?token={bridge.token(bob['sid'])}"
            "&setWorkerOfflineIfDisconnected=false") as ws:
        frame(ws)
    # A marker event proves the disconnection was handled before the check.
    with bridge.client.websocket_connect(
            f"/v1/wschannels?token={bridge.token(bob['sid'])}") as ws:
        frame(ws)
        bridge.ws.update("Workers", bob["sid"], Attributes='{"w":1}')
        assert frame(ws)["payload"]["activity_name"] == "Available"


def test_every_reservation_that_ends_is_pushed_to_its_worker(bridge: Bridge) -> None:
    """A task deleted under a worker's pending or accepted reservation, and a worker deleted
    with a pending one: the worker hears the reservation's final event, with its task."""
    alice = bridge.worker("alice", ActivitySid=bridge.available)
    with bridge.client.websocket_connect(
            f"/v1/wschannels?token={bridge.token(alice['sid'])}") as ws:
        frame(ws)  # init
        task = bridge.task(type="x")
        reservation = frame(ws)["payload"]
        bridge.ws.delete("Tasks", task["sid"])
        canceled = frame(ws)
        assert canceled["event_type"] == "reservation.canceled"
        assert canceled["payload"]["sid"] == reservation["sid"]
        assert set(canceled["payload"]) >= RESERVATION_FIELDS
        assert canceled["payload"]["task"]["sid"] == task["sid"]

        task = bridge.task(type="y")
        reservation = frame(ws)["payload"]
        bridge.ws.update("Tasks", task["sid"], "Reservations", reservation["sid"],
                         ReservationStatus="accepted")
        assert frame(ws)["event_type"] == "reservation.accepted"
        bridge.ws.delete("Tasks", task["sid"])
        completed = frame(ws)
        assert (completed["event_type"], completed["payload"]["reservation_status"]) == (
            "reservation.completed", "completed")

        task = bridge.task(type="z")
        reservation = frame(ws)["payload"]
        bridge.ws.delete("Workers", alice["sid"])
        last = frame(ws)
        assert (last["event_type"], last["payload"]["sid"]) == (
            "reservation.canceled", reservation["sid"])
        with pytest.raises(WebSocketDisconnect) as info:
            frame(ws)
        assert info.value.code == 4410


def test_transfer_events_reach_the_worker_who_started_it(bridge: Bridge) -> None:
    alice = bridge.worker("alice", ActivitySid=bridge.available)
    task = bridge.task(type="x")
    (reservation,) = bridge.ws.list("Tasks", task["sid"], "Reservations")
    bridge.ws.update("Tasks", task["sid"], "Reservations", reservation["sid"],
                     ReservationStatus="accepted")
    bob = bridge.worker("bob", ActivitySid=bridge.available)
    token = bridge.token(alice["sid"])
    with bridge.client.websocket_connect(f"/v1/wschannels?token={token}") as ws:
        frame(ws)  # init
        made = bridge.payload(token, "POST", bridge.path("Workers", alice["sid"], "Transfers"),
                              {"ReservationSid": reservation["sid"], "TaskSid": task["sid"],
                               "To": bob["sid"], "Mode": "COLD"}, "v2")
        initiated = frame(ws)
        assert (initiated["event_type"], initiated["payload"]) == (
            "task.transfer-initiated", made)
        wrapup = frame(ws)
        # Pushed reservations leave the outgoing transfer to the answer of task.transfer().
        assert wrapup["event_type"] == "reservation.wrapup"
        assert "active_outgoing_task_transfer" not in wrapup["payload"]
        (offered,) = bridge.ws.list("Workers", bob["sid"], "Reservations",
                                    ReservationStatus="pending")
        bridge.ws.update("Tasks", task["sid"], "Reservations", offered["sid"],
                         ReservationStatus="rejected")
        failed = frame(ws)
        assert failed["event_type"] == "task.transfer-failed"
        assert failed["payload"]["transfer_status"] == "failed"
        assert "rejected" in failed["payload"]["transfer_failed_reason"]
        assert frame(ws)["event_type"] == "task.updated"  # routed again by its workflow
    # Bob declined it: the workflow offers it to others first (alice still wraps it up).
    assert bridge.ws.fetch("Tasks", task["sid"])["assignment_status"] == "pending"
    events = bridge.ws.list("Events", TaskSid=task["sid"])
    assert {"task.transfer-initiated", "task.transfer-failed"} <= {
        e["event_type"] for e in events}


def test_heartbeats(bridge: Bridge) -> None:
    alice = bridge.worker("alice")
    sockets = bridge.client.app.state.event_bridge.sockets  # type: ignore[attr-defined]
    sockets.heartbeat_seconds = 0.05
    with bridge.client.websocket_connect(
            f"/v1/wschannels?token={bridge.token(alice['sid'])}") as ws:
        frame(ws)
        assert ws.receive_text() == " "


def wait_for(condition: Any, attempts: int = 200) -> None:
    """Poll the API until ``condition()`` (each poll is a full request round trip)."""
    for _ in range(attempts):
        if condition():
            return
    raise AssertionError("the condition never held")


# ---------------------------------------------------------------------- a slow client


class StuckSocket:
    """A WebSocket whose client never reads: sends wait forever."""

    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    async def send_text(self, text: str) -> None:
        await asyncio.Event().wait()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason or "")


@pytest.fixture
def sockets(runtime: Runtime) -> Iterator[WorkerSockets]:
    yield WorkerSockets(runtime, TokenVerifier(runtime.accounts, runtime.clock), queue_size=3)


async def test_a_slow_client_is_dropped_not_waited_for(runtime: Runtime,
                                                       sockets: WorkerSockets) -> None:
    from switchboard.routing.engine import WorkspaceEngine

    def build(now: int) -> WorkspaceEngine:
        return WorkspaceEngine.create(account_sid=ACCOUNT_SID, friendly_name="slow", now=now,
                                      sids=runtime.sids)

    engine = await runtime.create_workspace(build, lambda e: e)
    worker = await runtime.run(ACCOUNT_SID, engine.workspace.sid, lambda e, now: e.create_worker(
        "alice", now, activity_sid=None, attributes=None))
    stuck, fine = StuckSocket(), StuckSocket()

    class FakeGrant:
        account_sid = ACCOUNT_SID
        workspace_sid = engine.workspace.sid

    slow = Connection(stuck, FakeGrant(), worker.sid,  # type: ignore[arg-type]
                      offline_on_close=False, queue_size=3)
    other = Connection(fine, FakeGrant(), worker.sid,  # type: ignore[arg-type]
                       offline_on_close=False, queue_size=100)
    slow.writer = asyncio.create_task(slow.write())
    sockets._add(slow, close_others=False)
    sockets._add(other, close_others=False)

    for i in range(6):  # each update pushes one frame; the stuck client reads none
        await runtime.run(ACCOUNT_SID, engine.workspace.sid, lambda e, now, i=i: e.update_worker(
            worker.sid, now, attributes=json.dumps({"i": i})))
    await asyncio.sleep(0)  # let the close task run
    assert stuck.closed is not None and stuck.closed[0] == 4429
    assert slow not in sockets.connections(engine.workspace.sid, worker.sid)
    assert other in sockets.connections(engine.workspace.sid, worker.sid)
    assert other.queue.qsize() == 6  # everyone else kept every frame, in order
    frames = [json.loads(other.queue.get_nowait())["payload"]["attributes"] for _ in range(6)]
    assert frames == [json.dumps({"i": i}) for i in range(6)]
    sockets._remove(other)
