"""Workers and their channels: attributes, activities, names, ETags, list filters."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from switchboard.service.clock import ManualClock

from .conftest import Workspace, assert_error, assert_invalid, ok, unchanged
from .contract import assert_matches_spec

SCHEMA = "taskrouter.v1.workspace.worker"
CHANNEL_SCHEMA = "taskrouter.v1.workspace.worker.worker_channel"
DEFAULT_CHANNELS = {"default", "voice", "sms", "chat", "video"}


def names(workers: list[dict[str, Any]]) -> list[str]:
    return [w["friendly_name"] for w in workers]


# ---------------------------------------------------------------- create and fetch


def test_create_with_defaults(client: TestClient, ws: Workspace) -> None:
    response = client.post(ws.path("Workers"), data={"FriendlyName": "alice"})
    body = ok(response, 201)
    assert response.headers["ETag"]
    assert body["friendly_name"] == "alice"
    assert body["attributes"] == "{}"
    assert body["activity_sid"] == ws.activity("Offline")
    assert body["activity_name"] == "Offline"
    assert body["available"] is False
    assert body["date_created"] == body["date_updated"] == body["date_status_changed"]
    assert body["url"] == ws.url("Workers", body["sid"])
    assert body["links"]["activity"] == ws.url("Activities", body["activity_sid"])
    assert body["links"]["channels"] == ws.url("Workers", body["sid"], "Channels")
    fetched = client.get(ws.path("Workers", body["sid"]))
    assert ok(fetched) == body
    assert fetched.headers["ETag"] == response.headers["ETag"]


def test_create_in_an_available_activity(ws: Workspace) -> None:
    available = ws.activity("Available")
    body = ws.worker("alice", ActivitySid=available,
                     Attributes=json.dumps({"skills": ["sales"], "level": 3}))
    assert (body["activity_sid"], body["activity_name"], body["available"]) == (
        available, "Available", True)
    assert json.loads(body["attributes"]) == {"skills": ["sales"], "level": 3}


def test_attributes_are_returned_exactly_as_given(ws: Workspace) -> None:
    text = '{ "b": 1,\n  "a": [true, null] }'
    assert ws.worker("alice", Attributes=text)["attributes"] == text


def test_matches_twilio_spec(ws: Workspace) -> None:
    created = ws.worker("alice")
    assert_matches_spec(created, SCHEMA)
    assert_matches_spec(ws.fetch("Workers", created["sid"]), SCHEMA)
    assert_matches_spec(ws.update("Workers", created["sid"], Attributes='{"a": 1}'), SCHEMA)
    for listed in ws.list("Workers"):
        assert_matches_spec(listed, SCHEMA)
    channels = ws.list("Workers", created["sid"], "Channels")
    for channel in channels:
        assert_matches_spec(channel, CHANNEL_SCHEMA)
    assert_matches_spec(ws.fetch("Workers", created["sid"], "Channels", channels[0]["sid"]),
                        CHANNEL_SCHEMA)


def test_attributes_of_4096_characters_are_accepted(ws: Workspace) -> None:
    text = json.dumps({"notes": "x" * (4096 - len('{"notes": ""}'))})
    assert len(text) == 4096
    sid = ws.worker("alice", Attributes=text)["sid"]
    assert ws.fetch("Workers", sid)["attributes"] == text


@pytest.mark.parametrize(("attributes", "problem"), [
    (json.dumps({"notes": "x" * (4097 - len('{"notes": ""}'))}), "4097"),
    ("[]", "object"),
    ('"text"', "object"),
    ("null", "object"),
    ("{not json}", "JSON"),
    ("", "JSON"),
])
def test_bad_attributes_are_refused(client: TestClient, ws: Workspace, attributes: str,
                                    problem: str) -> None:
    with unchanged(client, ws.path("Workers")):
        assert_invalid(client.post(ws.path("Workers"), data={
            "FriendlyName": "alice", "Attributes": attributes}), "Attributes", problem)


@pytest.mark.parametrize(("data", "parameter"), [
    ({}, "FriendlyName"),
    ({"FriendlyName": ""}, "FriendlyName"),
    ({"FriendlyName": "n" * 65}, "FriendlyName"),
    ({"FriendlyName": "alice", "ActivitySid": "WA" + "f" * 32}, "ActivitySid"),
])
def test_create_rejects_bad_values(client: TestClient, ws: Workspace, data: dict[str, str],
                                   parameter: str) -> None:
    with unchanged(client, ws.path("Workers")):
        assert_invalid(client.post(ws.path("Workers"), data=data), parameter)


@pytest.mark.parametrize("duplicate", ["alice", "Alice", "ALICE"])
def test_friendly_names_are_unique_in_any_case(client: TestClient, ws: Workspace,
                                               duplicate: str) -> None:
    ws.worker("alice")
    with unchanged(client, ws.path("Workers")):
        assert_invalid(client.post(ws.path("Workers"), data={"FriendlyName": duplicate}),
                       duplicate)


def test_a_name_is_free_again_once_its_worker_is_deleted(ws: Workspace) -> None:
    ws.delete("Workers", ws.worker("alice")["sid"])
    assert ws.worker("Alice")["friendly_name"] == "Alice"


# ---------------------------------------------------------------- update


def test_available_follows_the_activity(ws: Workspace) -> None:
    sid = ws.worker("alice")["sid"]
    body = ws.update("Workers", sid, ActivitySid=ws.activity("Available"))
    assert (body["activity_name"], body["available"]) == ("Available", True)
    body = ws.update("Workers", sid, ActivitySid=ws.activity("Unavailable"))
    assert (body["activity_name"], body["available"]) == ("Unavailable", False)
    assert ws.fetch("Workers", sid) == body


def test_date_status_changed_moves_only_when_the_activity_changes(
        ws: Workspace, clock: ManualClock) -> None:
    sid = ws.worker("alice")["sid"]
    clock.advance(10_000)
    body = ws.update("Workers", sid, Attributes='{"level": 2}', FriendlyName="Alice")
    assert body["date_updated"] == "2026-01-01T00:00:10Z"
    assert body["date_status_changed"] == "2026-01-01T00:00:00Z"
    clock.advance(10_000)
    body = ws.update("Workers", sid, ActivitySid=ws.activity("Available"))
    assert body["date_status_changed"] == body["date_updated"] == "2026-01-01T00:00:20Z"
    clock.advance(10_000)
    body = ws.update("Workers", sid, ActivitySid=ws.activity("Available"))  # the same again
    assert body["date_status_changed"] == "2026-01-01T00:00:20Z"
    assert body["date_created"] == "2026-01-01T00:00:00Z"


def test_update_attributes_and_name(ws: Workspace) -> None:
    sid = ws.worker("alice", Attributes='{"level": 1}')["sid"]
    body = ws.update("Workers", sid, Attributes='{"level": 2}', FriendlyName="Alice Smith")
    assert body["attributes"] == '{"level": 2}'
    assert body["friendly_name"] == "Alice Smith"
    assert body["activity_name"] == "Offline"
    assert ws.fetch("Workers", sid) == body


def test_a_worker_may_change_the_case_of_its_own_name(ws: Workspace) -> None:
    sid = ws.worker("alice")["sid"]
    assert ws.update("Workers", sid, FriendlyName="ALICE")["friendly_name"] == "ALICE"


@pytest.mark.parametrize(("data", "parameter"), [
    ({"FriendlyName": "Bob"}, "Bob"),
    ({"FriendlyName": ""}, "FriendlyName"),
    ({"Attributes": "[1, 2]"}, "Attributes"),
    ({"Attributes": "x" * 4097}, "Attributes"),
    ({"ActivitySid": "WA" + "f" * 32}, "ActivitySid"),
    ({"RejectPendingReservations": "perhaps"}, "RejectPendingReservations"),
    # one bad value spoils the whole update
    ({"Attributes": '{"level": 9}', "ActivitySid": "WAnope"}, "ActivitySid"),
    ({"Attributes": '{"level": 9}', "FriendlyName": "BOB"}, "BOB"),
])
def test_update_rejects_bad_values_and_changes_nothing(
        client: TestClient, ws: Workspace, data: dict[str, str], parameter: str) -> None:
    alice = ws.worker("alice")["sid"]
    ws.worker("bob")
    with unchanged(client, ws.path("Workers"), ws.path("Workers", alice)):
        assert_invalid(client.post(ws.path("Workers", alice), data=data), parameter)


def test_a_refused_update_does_not_change_the_activity(client: TestClient, ws: Workspace) -> None:
    alice = ws.worker("alice")["sid"]
    ws.worker("bob")
    with unchanged(client, ws.path("Workers", alice)):
        assert_invalid(client.post(ws.path("Workers", alice), data={
            "ActivitySid": ws.activity("Available"), "FriendlyName": "Bob"}), "Bob")
    assert ws.list("Workers", Available="true") == []


def test_reject_pending_reservations_needs_an_unavailable_activity(
        client: TestClient, ws: Workspace) -> None:
    sid = ws.worker("alice")["sid"]
    with unchanged(client, ws.path("Workers", sid)):
        assert_invalid(client.post(ws.path("Workers", sid), data={
            "ActivitySid": ws.activity("Available"), "RejectPendingReservations": "true"}),
            "RejectPendingReservations")
        assert_invalid(client.post(ws.path("Workers", sid), data={
            "RejectPendingReservations": "true"}), "RejectPendingReservations")
    body = ws.update("Workers", sid, ActivitySid=ws.activity("Unavailable"),
                     RejectPendingReservations="true")
    assert body["activity_name"] == "Unavailable"


def test_etag_changes_with_every_update(client: TestClient, ws: Workspace) -> None:
    created = client.post(ws.path("Workers"), data={"FriendlyName": "alice"})
    sid = created.json()["sid"]
    etags = [created.headers["ETag"]]
    for data in ({"Attributes": '{"a": 1}'}, {"ActivitySid": ws.activity("Available")},
                 {"FriendlyName": "Alice"}):
        response = client.post(ws.path("Workers", sid), data=data)
        ok(response)
        etags.append(response.headers["ETag"])
        assert client.get(ws.path("Workers", sid)).headers["ETag"] == etags[-1]
    assert len(set(etags)) == len(etags)


def test_if_match_guards_update_and_delete(client: TestClient, ws: Workspace) -> None:
    created = client.post(ws.path("Workers"), data={"FriendlyName": "alice"})
    sid, etag = created.json()["sid"], created.headers["ETag"]
    path = ws.path("Workers", sid)
    updated = client.post(path, data={"Attributes": '{"v": 2}'}, headers={"If-Match": etag})
    ok(updated)
    stale = etag
    with unchanged(client, path):
        assert_error(client.post(path, data={"Attributes": '{"v": 3}'},
                                 headers={"If-Match": stale}), 412, 20412)
        assert_error(client.delete(path, headers={"If-Match": stale}), 412, 20412)
    current = updated.headers["ETag"]
    ok(client.post(path, data={"FriendlyName": "Alice"}, headers={"If-Match": f'"{current}"'}))
    current = client.get(path).headers["ETag"]
    assert client.delete(path, headers={"If-Match": current}).status_code == 204
    assert_error(client.get(path), 404, 20404)


# ---------------------------------------------------------------- delete


def test_delete(client: TestClient, ws: Workspace) -> None:
    sid = ws.worker("alice")["sid"]
    ws.delete("Workers", sid)
    for path in (ws.path("Workers", sid), ws.path("Workers", sid, "Channels"),
                 ws.path("Workers", sid, "Channels", "default")):
        assert_error(client.get(path), 404, 20404)
    assert_error(client.delete(ws.path("Workers", sid)), 404, 20404)
    assert ws.list("Workers") == []


def test_unknown_worker(client: TestClient, ws: Workspace) -> None:
    missing = ws.path("Workers", "WK" + "f" * 32)
    assert_error(client.get(missing), 404, 20404)
    assert_error(client.post(missing, data={"FriendlyName": "x"}), 404, 20404)
    assert_error(client.delete(missing), 404, 20404)


# ---------------------------------------------------------------- list filters


@pytest.fixture
def team(ws: Workspace, clock: ManualClock) -> dict[str, str]:
    """Four workers, created a second apart, in different activities and with skills."""
    available, unavailable = ws.activity("Available"), ws.activity("Unavailable")
    sids = {}
    for name, activity, skills in (("dave", available, ["sales", "support"]),
                                   ("Carol", None, ["support"]),
                                   ("bob", unavailable, []),
                                   ("alice", available, ["sales"])):
        data = {"Attributes": json.dumps({"skills": skills})}
        if activity:
            data["ActivitySid"] = activity
        sids[name] = ws.worker(name, **data)["sid"]
        clock.advance(1_000)
    return sids


def test_list_in_creation_order(ws: Workspace, team: dict[str, str]) -> None:
    assert names(ws.list("Workers")) == ["dave", "Carol", "bob", "alice"]


def test_filter_by_activity(ws: Workspace, team: dict[str, str]) -> None:
    assert names(ws.list("Workers", ActivitySid=ws.activity("Available"))) == ["dave", "alice"]
    assert names(ws.list("Workers", ActivityName="Unavailable")) == ["bob"]
    assert names(ws.list("Workers", ActivityName="Offline")) == ["Carol"]
    # A filter that names no activity is a mistake, not an empty page (api/filters.py).
    for query in ({"ActivityName": "Nope"}, {"ActivityName": "available"},
                  {"ActivitySid": "WA" + "f" * 32}, {"ActivitySid": "Available"}):
        assert_invalid(ws.client.get(ws.path("Workers"), params=query), *query)


@pytest.mark.parametrize(("value", "expected"), [
    ("true", ["dave", "alice"]), ("1", ["dave", "alice"]), ("yes", ["dave", "alice"]),
    ("false", ["Carol", "bob"]), ("0", ["Carol", "bob"]),
])
def test_filter_by_available(ws: Workspace, team: dict[str, str], value: str,
                             expected: list[str]) -> None:
    assert names(ws.list("Workers", Available=value)) == expected


def test_filter_by_friendly_name(ws: Workspace, team: dict[str, str]) -> None:
    assert names(ws.list("Workers", FriendlyName="carol")) == ["Carol"]
    assert names(ws.list("Workers", FriendlyName="alice")) == ["alice"]
    assert ws.list("Workers", FriendlyName="eve") == []


@pytest.mark.parametrize(("expression", "expected"), [
    ("skills HAS 'sales'", ["dave", "alice"]),
    ("skills HAS 'support' AND skills HAS 'sales'", ["dave"]),
    ("activity_name == 'Available'", ["dave", "alice"]),
    ("friendly_name == 'bob'", ["bob"]),
    ("1==1", ["dave", "Carol", "bob", "alice"]),
])
def test_filter_by_target_workers_expression(ws: Workspace, team: dict[str, str],
                                             expression: str, expected: list[str]) -> None:
    assert names(ws.list("Workers", TargetWorkersExpression=expression)) == expected


def test_filter_by_sid_expression(ws: Workspace, team: dict[str, str]) -> None:
    expression = f"sid IN ['{team['bob']}', '{team['dave']}']"
    assert names(ws.list("Workers", TargetWorkersExpression=expression)) == ["dave", "bob"]


@pytest.mark.parametrize("expression", ["skills HAS", "level >", "(a == 1", "a === 1"])
def test_an_invalid_target_workers_expression_is_a_400(
        client: TestClient, ws: Workspace, expression: str) -> None:
    assert_invalid(client.get(ws.path("Workers"), params={
        "TargetWorkersExpression": expression}), "TargetWorkersExpression")


def test_filter_by_task_queue(ws: Workspace, team: dict[str, str]) -> None:
    sales = ws.queue("Sales", TargetWorkers="skills HAS 'sales'")
    ws.queue("Nobody", TargetWorkers="skills HAS 'nothing'")
    assert names(ws.list("Workers", TaskQueueSid=sales["sid"])) == ["dave", "alice"]
    assert names(ws.list("Workers", TaskQueueName="Sales")) == ["dave", "alice"]
    assert ws.list("Workers", TaskQueueName="Nobody") == []
    for query in ({"TaskQueueName": "No such queue"}, {"TaskQueueSid": "WQ" + "f" * 32},
                  {"TaskQueueSid": sales["sid"][:-1]}):
        assert_invalid(ws.client.get(ws.path("Workers"), params=query), *query)


def test_filters_combine(ws: Workspace, team: dict[str, str]) -> None:
    ws.queue("Support", TargetWorkers="skills HAS 'support'")
    assert names(ws.list("Workers", TaskQueueName="Support", Available="true")) == ["dave"]
    assert names(ws.list("Workers", TargetWorkersExpression="skills HAS 'sales'",
                         ActivityName="Available", FriendlyName="ALICE")) == ["alice"]


@pytest.mark.parametrize(("ordering", "expected"), [
    ("DateCreated:asc", ["dave", "Carol", "bob", "alice"]),
    ("DateCreated:desc", ["alice", "bob", "Carol", "dave"]),
    ("FriendlyName:asc", ["alice", "bob", "Carol", "dave"]),
    ("FriendlyName:desc", ["dave", "Carol", "bob", "alice"]),
    ("DateStatusChanged:desc", ["Carol", "alice", "bob", "dave"]),
    ("DateUpdated", ["dave", "bob", "alice", "Carol"]),
])
def test_ordering(ws: Workspace, team: dict[str, str], clock: ManualClock, ordering: str,
                  expected: list[str]) -> None:
    clock.advance(1_000)
    ws.update("Workers", team["Carol"], ActivitySid=ws.activity("Available"))
    assert names(ws.list("Workers", Ordering=ordering)) == expected


@pytest.mark.parametrize("ordering", ["Age:asc", "FriendlyName:up", "Sid"])
def test_an_invalid_ordering_is_a_400(client: TestClient, ws: Workspace, ordering: str) -> None:
    assert_invalid(client.get(ws.path("Workers"), params={"Ordering": ordering}), "Ordering")


# ---------------------------------------------------------------- worker channels


def test_a_worker_has_one_channel_per_task_channel(ws: Workspace) -> None:
    worker = ws.worker("alice")
    channels = ws.list("Workers", worker["sid"], "Channels")
    task_channels = {c["sid"]: c["unique_name"] for c in ws.list("TaskChannels")}
    assert {c["task_channel_sid"]: c["task_channel_unique_name"] for c in channels} == (
        task_channels)
    for channel in channels:
        assert channel["sid"].startswith("WC")
        assert channel["worker_sid"] == worker["sid"]
        assert channel["workspace_sid"] == ws.sid
        assert channel["configured_capacity"] == 1
        assert channel["available"] is True
        assert channel["assigned_tasks"] == 0
        assert channel["available_capacity_percentage"] == 100
        assert channel["url"] == ws.url("Workers", worker["sid"], "Channels", channel["sid"])


def test_fetch_a_worker_channel_by_sid_or_task_channel(ws: Workspace) -> None:
    worker = ws.worker("alice")["sid"]
    voice = ws.fetch("TaskChannels", "voice")["sid"]
    by_name = ws.fetch("Workers", worker, "Channels", "voice")
    assert by_name["task_channel_sid"] == voice
    assert ws.fetch("Workers", worker, "Channels", by_name["sid"]) == by_name
    assert ws.fetch("Workers", worker, "Channels", voice) == by_name


def test_update_a_worker_channel(ws: Workspace, clock: ManualClock) -> None:
    worker = ws.worker("alice")["sid"]
    clock.advance(7_000)
    body = ws.update("Workers", worker, "Channels", "chat", Capacity="3")
    assert body["configured_capacity"] == 3
    assert body["available"] is True
    assert body["date_updated"] == "2026-01-01T00:00:07Z"
    body = ws.update("Workers", worker, "Channels", body["sid"], Available="false")
    assert (body["configured_capacity"], body["available"]) == (3, False)
    assert ws.fetch("Workers", worker, "Channels", "chat") == body
    body = ws.update("Workers", worker, "Channels", "chat", Capacity="0", Available="true")
    assert (body["configured_capacity"], body["available"]) == (0, True)
    assert body["available_capacity_percentage"] == 0
    others = [c for c in ws.list("Workers", worker, "Channels")
              if c["task_channel_unique_name"] != "chat"]
    assert {(c["configured_capacity"], c["available"]) for c in others} == {(1, True)}


@pytest.mark.parametrize(("data", "parameter"), [
    ({"Capacity": "-1"}, "Capacity"),
    ({"Capacity": "many"}, "Capacity"),
    ({"Available": "later"}, "Available"),
    ({"Capacity": "2", "Available": "later"}, "Available"),
])
def test_update_a_worker_channel_rejects_bad_values(
        client: TestClient, ws: Workspace, data: dict[str, str], parameter: str) -> None:
    worker = ws.worker("alice")["sid"]
    path = ws.path("Workers", worker, "Channels", "voice")
    with unchanged(client, path):
        assert_invalid(client.post(path, data=data), parameter)


def test_unknown_worker_channel(client: TestClient, ws: Workspace) -> None:
    worker = ws.worker("alice")["sid"]
    for missing in ("WC" + "f" * 32, "fax", "TC" + "f" * 32):
        path = ws.path("Workers", worker, "Channels", missing)
        assert_error(client.get(path), 404, 20404)
        assert_error(client.post(path, data={"Capacity": "2"}), 404, 20404)
    other = ws.worker("bob")["sid"]
    theirs = ws.fetch("Workers", other, "Channels", "voice")["sid"]
    assert_error(client.get(ws.path("Workers", worker, "Channels", theirs)), 404, 20404)
    assert_error(client.get(ws.path("Workers", "WK" + "f" * 32, "Channels")), 404, 20404)
