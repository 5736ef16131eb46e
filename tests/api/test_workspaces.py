"""Workspaces: templates, defaults, updates, validation and cascading delete."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from switchboard.api.app import create_app
from switchboard.routing.sids import counter_sids
from switchboard.service.clock import ManualClock
from switchboard.service.runtime import Runtime
from switchboard.store.database import Store

from .conftest import (
    BASE_URL,
    MakeWorkspace,
    Workspace,
    assert_error,
    assert_invalid,
    ok,
    unchanged,
)
from .contract import assert_matches_spec

SCHEMA = "taskrouter.v1.workspace"
DEFAULT_CHANNELS = {"default", "voice", "sms", "chat", "video"}


def test_create_with_defaults(ws: Workspace) -> None:
    body = ws.body
    assert body["friendly_name"] == "Workspace 1"
    assert body["multi_task_enabled"] is True
    assert body["prioritize_queue_order"] == "FIFO"
    assert body["event_callback_url"] is None
    assert body["events_filter"] is None
    assert body["account_sid"] == "AC" + "a" * 32
    assert body["url"] == f"{BASE_URL}/v1/Workspaces/{ws.sid}"
    assert body["links"]["workers"] == f"{BASE_URL}/v1/Workspaces/{ws.sid}/Workers"
    assert ws.fetch() == body


def test_every_workspace_gets_offline_available_unavailable(ws: Workspace) -> None:
    activities = {a["friendly_name"]: a for a in ws.list("Activities")}
    assert {name: a["available"] for name, a in activities.items()} == {
        "Offline": False, "Available": True, "Unavailable": False}
    offline = activities["Offline"]["sid"]
    assert ws.body["default_activity_sid"] == ws.body["timeout_activity_sid"] == offline
    assert ws.body["default_activity_name"] == ws.body["timeout_activity_name"] == "Offline"


def test_every_workspace_gets_the_five_default_task_channels(ws: Workspace) -> None:
    assert {c["unique_name"] for c in ws.list("TaskChannels")} == DEFAULT_CHANNELS


def test_template_none_creates_no_queue_workflow_or_worker(
        make_workspace: MakeWorkspace) -> None:
    ws = make_workspace(Template="NONE")
    assert ws.list("TaskQueues") == []
    assert ws.list("Workflows") == []
    assert ws.list("Workers") == []


def test_template_fifo_creates_a_sample_queue_and_a_fifo_workflow(
        make_workspace: MakeWorkspace) -> None:
    ws = make_workspace(Template="FIFO")
    (queue,) = ws.list("TaskQueues")
    assert queue["friendly_name"] == "Sample Queue"
    assert queue["target_workers"] == "1==1"
    assert queue["task_order"] == "FIFO"
    assert queue["max_reserved_workers"] == 1
    (workflow,) = ws.list("Workflows")
    assert workflow["friendly_name"] == "Default Fifo Workflow"
    assert workflow["task_reservation_timeout"] == 120
    configuration = json.loads(workflow["configuration"])
    assert configuration["task_routing"]["default_filter"]["queue"] == queue["sid"]
    assert configuration["task_routing"].get("filters", []) == []
    assert {a["friendly_name"] for a in ws.list("Activities")} == {
        "Offline", "Available", "Unavailable"}
    assert {c["unique_name"] for c in ws.list("TaskChannels")} == DEFAULT_CHANNELS


def test_create_with_every_option(make_workspace: MakeWorkspace) -> None:
    ws = make_workspace(FriendlyName="Support", EventCallbackUrl="https://example.com/events",
                        EventsFilter="task.created,task.canceled", MultiTaskEnabled="true",
                        PrioritizeQueueOrder="LIFO")
    assert ws.body["friendly_name"] == "Support"
    assert ws.body["event_callback_url"] == "https://example.com/events"
    assert ws.body["events_filter"] == "task.created,task.canceled"
    assert ws.body["multi_task_enabled"] is True
    assert ws.body["prioritize_queue_order"] == "LIFO"


def test_matches_twilio_spec(client: TestClient, ws: Workspace) -> None:
    assert_matches_spec(ws.body, SCHEMA)
    assert_matches_spec(ws.fetch(), SCHEMA)
    assert_matches_spec(ws.update(FriendlyName="renamed"), SCHEMA)
    (listed,) = ok(client.get("/v1/Workspaces"))["workspaces"]
    assert_matches_spec(listed, SCHEMA)


@pytest.mark.parametrize(("data", "parameter"), [
    ({"EventCallbackUrl": "not a url"}, "EventCallbackUrl"),
    ({"EventCallbackUrl": "ftp://example.com/events"}, "EventCallbackUrl"),
    ({"EventCallbackUrl": "/relative/path"}, "EventCallbackUrl"),
    ({"FriendlyName": "x" * 65}, "FriendlyName"),
    ({"FriendlyName": "   "}, "FriendlyName"),
])
def test_create_rejects_bad_values(client: TestClient, data: dict[str, str],
                                   parameter: str) -> None:
    data = {"FriendlyName": "ok", **data}
    with unchanged(client, "/v1/Workspaces"):
        assert_invalid(client.post("/v1/Workspaces", data=data), parameter)


def test_friendly_name_may_be_64_characters(make_workspace: MakeWorkspace) -> None:
    assert make_workspace(FriendlyName="x" * 64).body["friendly_name"] == "x" * 64


def test_list_and_filter_by_friendly_name(client: TestClient,
                                          make_workspace: MakeWorkspace) -> None:
    first = make_workspace(FriendlyName="Sales")
    second = make_workspace(FriendlyName="Support")
    listed = ok(client.get("/v1/Workspaces"))["workspaces"]
    assert [w["sid"] for w in listed] == [first.sid, second.sid]
    assert listed == [first.fetch(), second.fetch()]
    named = ok(client.get("/v1/Workspaces", params={"FriendlyName": "Support"}))["workspaces"]
    assert [w["sid"] for w in named] == [second.sid]
    assert ok(client.get("/v1/Workspaces", params={"FriendlyName": "None"}))["workspaces"] == []


def test_update_fields(ws: Workspace, clock: ManualClock) -> None:
    clock.advance(61_000)
    available = ws.activity("Available")
    unavailable = ws.activity("Unavailable")
    body = ws.update(FriendlyName="Renamed", DefaultActivitySid=available,
                     TimeoutActivitySid=unavailable, PrioritizeQueueOrder="LIFO",
                     EventCallbackUrl="http://127.0.0.1:9/cb", EventsFilter="worker.created")
    assert body["friendly_name"] == "Renamed"
    assert (body["default_activity_sid"], body["default_activity_name"]) == (
        available, "Available")
    assert (body["timeout_activity_sid"], body["timeout_activity_name"]) == (
        unavailable, "Unavailable")
    assert body["prioritize_queue_order"] == "LIFO"
    assert body["event_callback_url"] == "http://127.0.0.1:9/cb"
    assert body["events_filter"] == "worker.created"
    assert body["date_created"] == "2026-01-01T00:00:00Z"
    assert body["date_updated"] == "2026-01-01T00:01:01Z"
    assert ws.fetch() == body


def test_update_without_parameters_changes_nothing_but_date_updated(
        ws: Workspace, clock: ManualClock) -> None:
    clock.advance(5_000)
    body = ws.update()
    assert {k: v for k, v in body.items() if k != "date_updated"} == {
        k: v for k, v in ws.body.items() if k != "date_updated"}


def test_new_workers_start_in_the_default_activity(ws: Workspace) -> None:
    available = ws.activity("Available")
    assert ws.worker("before")["activity_name"] == "Offline"
    ws.update(DefaultActivitySid=available)
    worker = ws.worker("after")
    assert (worker["activity_sid"], worker["activity_name"]) == (available, "Available")


def test_an_empty_event_callback_url_clears_it(ws: Workspace) -> None:
    ws.update(EventCallbackUrl="https://example.com/events", EventsFilter="task.created")
    body = ws.update(EventCallbackUrl="")
    assert body["event_callback_url"] is None
    assert body["events_filter"] == "task.created"
    assert ws.update(EventsFilter="")["events_filter"] is None


def test_multitasking_is_on_by_default_and_cannot_be_turned_off(
        client: TestClient, ws: Workspace) -> None:
    assert ws.update(MultiTaskEnabled="true")["multi_task_enabled"] is True
    with unchanged(client, ws.path()):
        assert_invalid(client.post(ws.path(), data={"MultiTaskEnabled": "false"}),
                       "MultiTaskEnabled")


@pytest.mark.parametrize(("data", "parameter"), [
    ({"DefaultActivitySid": "WA" + "f" * 32}, "DefaultActivitySid"),
    ({"TimeoutActivitySid": "WA" + "f" * 32}, "TimeoutActivitySid"),
    ({"EventCallbackUrl": "example.com/events"}, "EventCallbackUrl"),
    ({"PrioritizeQueueOrder": "RANDOM"}, "PrioritizeQueueOrder"),
    ({"FriendlyName": "y" * 65}, "FriendlyName"),
    ({"MultiTaskEnabled": "sometimes"}, "MultiTaskEnabled"),
    # a valid change together with an invalid one: neither is applied
    ({"FriendlyName": "valid", "DefaultActivitySid": "WAnope"}, "DefaultActivitySid"),
])
def test_update_rejects_bad_values_and_changes_nothing(
        client: TestClient, ws: Workspace, data: dict[str, str], parameter: str) -> None:
    with unchanged(client, ws.path(), "/v1/Workspaces"):
        assert_invalid(client.post(ws.path(), data=data), parameter)


def test_the_default_activity_of_another_workspace_is_refused(
        client: TestClient, make_workspace: MakeWorkspace) -> None:
    mine, theirs = make_workspace(), make_workspace()
    with unchanged(client, mine.path()):
        assert_invalid(client.post(mine.path(), data={
            "DefaultActivitySid": theirs.activity("Available")}), "DefaultActivitySid")


def test_unknown_workspace(client: TestClient) -> None:
    missing = "/v1/Workspaces/WS" + "f" * 32
    assert_error(client.get(missing), 404, 20404)
    assert_error(client.post(missing, data={"FriendlyName": "x"}), 404, 20404)
    assert_error(client.delete(missing), 404, 20404)


def populate(ws: Workspace) -> dict[str, str]:
    """A worker, queue, workflow, activity and channel: every kind of child, by path."""
    worker = ws.worker("alice")
    queue = ws.queue("Everyone")
    return {
        "worker": ws.path("Workers", worker["sid"]),
        "worker channel": ws.path("Workers", worker["sid"], "Channels", "default"),
        "queue": ws.path("TaskQueues", queue["sid"]),
        "workflow": ws.path("Workflows", ws.workflow("Route", queue["sid"])["sid"]),
        "activity": ws.path("Activities",
                            ws.create("Activities", FriendlyName="Lunch")["sid"]),
        "channel": ws.path("TaskChannels",
                           ws.create("TaskChannels", FriendlyName="Email",
                                     UniqueName="email")["sid"]),
        "workers": ws.path("Workers"),
        "activities": ws.path("Activities"),
        "queues": ws.path("TaskQueues"),
        "workflows": ws.path("Workflows"),
        "channels": ws.path("TaskChannels"),
    }


@pytest.fixture
def reload(runtime: Runtime, clock: ManualClock) -> Iterator[Any]:
    """``reload()``: a client on a new runtime that reads the same database from scratch."""
    opened: list[tuple[Runtime, TestClient]] = []

    def open_again() -> TestClient:
        again = Runtime(Store(runtime.store.url), clock, sids=counter_sids(10_000))
        again.start()
        client = TestClient(create_app(again), raise_server_exceptions=False)
        client.auth = ("AC" + "a" * 32, "test-auth-token")
        opened.append((again, client))
        return client

    yield open_again
    for again, client in opened:
        client.close()
        again.stop()


def test_delete_cascades_to_every_child(client: TestClient, make_workspace: MakeWorkspace,
                                        reload: Any) -> None:
    doomed, kept = make_workspace(), make_workspace()
    children = populate(doomed)
    kept_children = populate(kept)
    doomed.delete()
    for path in [doomed.path(), *children.values()]:
        assert_error(client.get(path), 404, 20404)
    assert_error(client.delete(doomed.path()), 404, 20404)
    assert [w["sid"] for w in ok(client.get("/v1/Workspaces"))["workspaces"]] == [kept.sid]
    for path in kept_children.values():
        ok(client.get(path))
    # and nothing of it comes back when the state is read again from the database
    fresh = reload()
    assert [w["sid"] for w in ok(fresh.get("/v1/Workspaces"))["workspaces"]] == [kept.sid]
    for path in children.values():
        assert_error(fresh.get(path), 404, 20404)
    for path in kept_children.values():
        assert ok(fresh.get(path)) == ok(client.get(path))
