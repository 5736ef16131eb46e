"""Activities: availability fixed at creation, unique names, guarded deletion."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from switchboard.service.clock import ManualClock

from .conftest import Workspace, assert_error, assert_invalid, unchanged
from .contract import assert_matches_spec

SCHEMA = "taskrouter.v1.workspace.activity"


def test_create_is_available_by_default(ws: Workspace) -> None:
    body = ws.create("Activities", FriendlyName="Ready")
    assert body["friendly_name"] == "Ready"
    assert body["available"] is True
    assert body["workspace_sid"] == ws.sid
    assert body["sid"].startswith("WA")
    assert body["links"] == {"workspace": ws.url()}
    assert body["url"] == ws.url("Activities", body["sid"])
    assert ws.fetch("Activities", body["sid"]) == body


@pytest.mark.parametrize(("value", "available"), [("false", False), ("true", True),
                                                  ("False", False), ("1", True), ("0", False)])
def test_create_with_available(ws: Workspace, value: str, available: bool) -> None:
    assert ws.create("Activities", FriendlyName="X", Available=value)["available"] is available


def test_matches_twilio_spec(ws: Workspace) -> None:
    created = ws.create("Activities", FriendlyName="Lunch", Available="false")
    assert_matches_spec(created, SCHEMA)
    assert_matches_spec(ws.fetch("Activities", created["sid"]), SCHEMA)
    assert_matches_spec(ws.update("Activities", created["sid"], FriendlyName="Break"), SCHEMA)
    for listed in ws.list("Activities"):
        assert_matches_spec(listed, SCHEMA)


def test_list_and_filters(ws: Workspace) -> None:
    lunch = ws.create("Activities", FriendlyName="Lunch", Available="false")
    names = [a["friendly_name"] for a in ws.list("Activities")]
    assert names == ["Offline", "Available", "Unavailable", "Lunch"]
    assert ws.list("Activities", FriendlyName="Lunch") == [lunch]
    assert ws.list("Activities", FriendlyName="Nope") == []
    for word in ("true", "1", "yes"):
        assert [a["friendly_name"] for a in ws.list("Activities", Available=word)] == [
            "Available"]
    assert [a["friendly_name"] for a in ws.list("Activities", Available="false")] == [
        "Offline", "Unavailable", "Lunch"]
    assert [a["friendly_name"] for a in ws.list("Activities", FriendlyName="Lunch",
                                                Available="true")] == []


def test_update_renames(ws: Workspace, clock: ManualClock) -> None:
    sid = ws.create("Activities", FriendlyName="Lunch")["sid"]
    clock.advance(90_000)
    body = ws.update("Activities", sid, FriendlyName="Dinner")
    assert body["friendly_name"] == "Dinner"
    assert body["date_created"] == "2026-01-01T00:00:00Z"
    assert body["date_updated"] == "2026-01-01T00:01:30Z"
    assert ws.fetch("Activities", sid) == body


def test_available_is_fixed_at_creation(ws: Workspace) -> None:
    sid = ws.create("Activities", FriendlyName="Ready")["sid"]
    body = ws.update("Activities", sid, Available="false")  # accepted, and ignored
    assert body["available"] is True
    assert ws.fetch("Activities", sid)["available"] is True


def test_a_rename_shows_in_workers_and_the_workspace(ws: Workspace) -> None:
    worker = ws.worker("alice")
    ws.update("Activities", ws.activity("Offline"), FriendlyName="Away")
    assert ws.fetch("Workers", worker["sid"])["activity_name"] == "Away"
    assert ws.fetch()["default_activity_name"] == "Away"


def test_names_are_unique(client: TestClient, ws: Workspace) -> None:
    lunch = ws.create("Activities", FriendlyName="Lunch")["sid"]
    with unchanged(client, ws.path("Activities")):
        assert_invalid(client.post(ws.path("Activities"), data={"FriendlyName": "Lunch"}),
                       "Lunch")
        assert_invalid(client.post(ws.path("Activities", lunch),
                                   data={"FriendlyName": "Available"}), "Available")
    assert ws.update("Activities", lunch, FriendlyName="Lunch")["friendly_name"] == "Lunch"


@pytest.mark.parametrize(("data", "parameter"), [
    ({}, "FriendlyName"),
    ({"FriendlyName": ""}, "FriendlyName"),
    ({"FriendlyName": "z" * 65}, "FriendlyName"),
    ({"FriendlyName": "ok", "Available": "sometimes"}, "Available"),
])
def test_create_rejects_bad_values(client: TestClient, ws: Workspace, data: dict[str, str],
                                   parameter: str) -> None:
    with unchanged(client, ws.path("Activities")):
        assert_invalid(client.post(ws.path("Activities"), data=data), parameter)


def test_update_rejects_bad_names(client: TestClient, ws: Workspace) -> None:
    sid = ws.create("Activities", FriendlyName="Lunch")["sid"]
    with unchanged(client, ws.path("Activities")):
        for name in ("", "z" * 65):
            assert_invalid(client.post(ws.path("Activities", sid), data={"FriendlyName": name}),
                           "FriendlyName")


def test_delete(client: TestClient, ws: Workspace) -> None:
    sid = ws.create("Activities", FriendlyName="Lunch")["sid"]
    ws.delete("Activities", sid)
    assert_error(client.get(ws.path("Activities", sid)), 404, 20404)
    assert_error(client.delete(ws.path("Activities", sid)), 404, 20404)
    assert len(ws.list("Activities")) == 3


def test_an_activity_a_worker_is_in_cannot_be_deleted(client: TestClient, ws: Workspace) -> None:
    lunch = ws.create("Activities", FriendlyName="Lunch")["sid"]
    worker = ws.worker("alice", ActivitySid=lunch)
    with unchanged(client, ws.path("Activities"), ws.path("Workers", worker["sid"])):
        assert_invalid(client.delete(ws.path("Activities", lunch)), lunch)
    ws.update("Workers", worker["sid"], ActivitySid=ws.activity("Available"))
    ws.delete("Activities", lunch)


@pytest.mark.parametrize("role", ["DefaultActivitySid", "TimeoutActivitySid"])
def test_the_default_and_timeout_activities_cannot_be_deleted(
        client: TestClient, ws: Workspace, role: str) -> None:
    lunch = ws.create("Activities", FriendlyName="Lunch")["sid"]
    ws.update(**{role: lunch})
    with unchanged(client, ws.path("Activities"), ws.path()):
        assert_invalid(client.delete(ws.path("Activities", lunch)), lunch)
        assert_invalid(client.delete(ws.path("Activities", ws.activity("Offline"))))


def test_an_activity_a_queue_uses_cannot_be_deleted(client: TestClient, ws: Workspace) -> None:
    busy = ws.create("Activities", FriendlyName="Busy", Available="false")["sid"]
    queue = ws.queue("Sales", AssignmentActivitySid=busy)
    with unchanged(client, ws.path("Activities")):
        assert_invalid(client.delete(ws.path("Activities", busy)), queue["sid"])
    ws.update("TaskQueues", queue["sid"], AssignmentActivitySid="")
    ws.delete("Activities", busy)


def test_unknown_activity(client: TestClient, ws: Workspace) -> None:
    missing = ws.path("Activities", "WA" + "f" * 32)
    assert_error(client.get(missing), 404, 20404)
    assert_error(client.post(missing, data={"FriendlyName": "x"}), 404, 20404)
    assert_error(client.delete(missing), 404, 20404)
