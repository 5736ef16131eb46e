"""TaskChannels: unique names, fetch by unique name, optimized routing, worker channels."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from switchboard.service.clock import ManualClock

from .conftest import Workspace, assert_error, assert_invalid, unchanged
from .contract import assert_matches_spec

SCHEMA = "taskrouter.v1.workspace.task_channel"


def test_create_fetch_and_list(ws: Workspace) -> None:
    body = ws.create("TaskChannels", FriendlyName="Email", UniqueName="email")
    assert body["friendly_name"] == "Email"
    assert body["unique_name"] == "email"
    assert body["channel_optimized_routing"] is False  # false unless asked for
    assert body["workspace_sid"] == ws.sid
    assert body["url"] == ws.url("TaskChannels", body["sid"])
    assert body["links"] == {"workspace": ws.url()}
    assert ws.fetch("TaskChannels", body["sid"]) == body
    assert [c["unique_name"] for c in ws.list("TaskChannels")] == [
        "default", "voice", "sms", "chat", "video", "email"]


def test_matches_twilio_spec(ws: Workspace) -> None:
    created = ws.create("TaskChannels", FriendlyName="Email", UniqueName="email",
                        ChannelOptimizedRouting="true")
    assert_matches_spec(created, SCHEMA)
    assert_matches_spec(ws.fetch("TaskChannels", "email"), SCHEMA)
    assert_matches_spec(ws.update("TaskChannels", "email", FriendlyName="Mail"), SCHEMA)
    for listed in ws.list("TaskChannels"):
        assert_matches_spec(listed, SCHEMA)


def test_fetch_update_and_delete_by_unique_name(client: TestClient, ws: Workspace) -> None:
    sid = ws.create("TaskChannels", FriendlyName="Email", UniqueName="email")["sid"]
    assert ws.fetch("TaskChannels", "email")["sid"] == sid
    assert ws.update("TaskChannels", "email", FriendlyName="Mail")["friendly_name"] == "Mail"
    assert ws.fetch("TaskChannels", "voice")["unique_name"] == "voice"
    ws.delete("TaskChannels", "email")
    assert_error(client.get(ws.path("TaskChannels", sid)), 404, 20404)
    assert_error(client.get(ws.path("TaskChannels", "email")), 404, 20404)


def test_channel_optimized_routing(ws: Workspace) -> None:
    body = ws.create("TaskChannels", FriendlyName="Chat 2", UniqueName="chat2",
                     ChannelOptimizedRouting="true")
    assert body["channel_optimized_routing"] is True
    assert ws.update("TaskChannels", body["sid"], ChannelOptimizedRouting="false")[
        "channel_optimized_routing"] is False
    assert ws.update("TaskChannels", body["sid"], FriendlyName="Chat two")[
        "channel_optimized_routing"] is False  # unchanged when not given


def test_update(ws: Workspace, clock: ManualClock) -> None:
    sid = ws.create("TaskChannels", FriendlyName="Email", UniqueName="email")["sid"]
    clock.advance(3_000)
    body = ws.update("TaskChannels", sid, FriendlyName="Mail", UniqueName="mail")
    assert body["friendly_name"] == "Mail"
    assert body["unique_name"] == "email"  # the unique name is fixed at creation
    assert body["date_updated"] == "2026-01-01T00:00:03Z"
    assert ws.fetch("TaskChannels", sid) == body


@pytest.mark.parametrize("unique_name", [
    "1email", "e-mail", "e mail", "email!", "", "x" * 65, "émail",
])
def test_unique_name_must_be_an_identifier(client: TestClient, ws: Workspace,
                                           unique_name: str) -> None:
    with unchanged(client, ws.path("TaskChannels")):
        assert_invalid(client.post(ws.path("TaskChannels"), data={
            "FriendlyName": "Email", "UniqueName": unique_name}), "UniqueName")


@pytest.mark.parametrize("unique_name", ["_email", "$email", "Email_2", "x" * 64])
def test_identifier_unique_names_are_accepted(ws: Workspace, unique_name: str) -> None:
    assert ws.create("TaskChannels", FriendlyName="Email",
                     UniqueName=unique_name)["unique_name"] == unique_name


@pytest.mark.parametrize("unique_name", ["email", "voice"])
def test_unique_name_is_unique(client: TestClient, ws: Workspace, unique_name: str) -> None:
    ws.create("TaskChannels", FriendlyName="Email", UniqueName="email")
    with unchanged(client, ws.path("TaskChannels")):
        assert_invalid(client.post(ws.path("TaskChannels"), data={
            "FriendlyName": "Again", "UniqueName": unique_name}), unique_name)


@pytest.mark.parametrize(("data", "parameter"), [
    ({"UniqueName": "email"}, "FriendlyName"),
    ({"FriendlyName": "Email"}, "UniqueName"),
    ({"FriendlyName": "e" * 65, "UniqueName": "email"}, "FriendlyName"),
    ({"FriendlyName": "Email", "UniqueName": "email", "ChannelOptimizedRouting": "often"},
     "ChannelOptimizedRouting"),
])
def test_create_rejects_bad_values(client: TestClient, ws: Workspace, data: dict[str, str],
                                   parameter: str) -> None:
    with unchanged(client, ws.path("TaskChannels")):
        assert_invalid(client.post(ws.path("TaskChannels"), data=data), parameter)


def test_update_rejects_bad_values(client: TestClient, ws: Workspace) -> None:
    sid = ws.create("TaskChannels", FriendlyName="Email", UniqueName="email")["sid"]
    with unchanged(client, ws.path("TaskChannels", sid)):
        assert_invalid(client.post(ws.path("TaskChannels", sid), data={
            "FriendlyName": "", "ChannelOptimizedRouting": "true"}), "FriendlyName")
        assert_invalid(client.post(ws.path("TaskChannels", sid), data={
            "ChannelOptimizedRouting": "often"}), "ChannelOptimizedRouting")


def test_a_new_channel_gives_every_worker_a_channel(ws: Workspace) -> None:
    alice, bob = ws.worker("alice"), ws.worker("bob")
    channel = ws.create("TaskChannels", FriendlyName="Email", UniqueName="email")
    for worker in (alice, bob, ws.worker("carol")):
        wc = ws.fetch("Workers", worker["sid"], "Channels", "email")
        assert wc["task_channel_sid"] == channel["sid"]
        assert wc["task_channel_unique_name"] == "email"
        assert wc["configured_capacity"] == 1
        assert wc["available"] is True
        assert len(ws.list("Workers", worker["sid"], "Channels")) == 6


def test_deleting_a_channel_removes_the_workers_channels(
        client: TestClient, ws: Workspace) -> None:
    worker = ws.worker("alice")
    ws.create("TaskChannels", FriendlyName="Email", UniqueName="email")
    ws.delete("TaskChannels", "email")
    assert_error(client.get(ws.path("Workers", worker["sid"], "Channels", "email")), 404, 20404)
    assert {c["task_channel_unique_name"] for c in ws.list(
        "Workers", worker["sid"], "Channels")} == {"default", "voice", "sms", "chat", "video"}


def test_a_deleted_unique_name_can_be_reused(ws: Workspace) -> None:
    first = ws.create("TaskChannels", FriendlyName="Email", UniqueName="email")["sid"]
    ws.delete("TaskChannels", first)
    second = ws.create("TaskChannels", FriendlyName="Email", UniqueName="email")["sid"]
    assert second != first
    assert ws.fetch("TaskChannels", "email")["sid"] == second


def test_unknown_task_channel(client: TestClient, ws: Workspace) -> None:
    for missing in ("TC" + "f" * 32, "carrier_pigeon"):
        path = ws.path("TaskChannels", missing)
        assert_error(client.get(path), 404, 20404)
        assert_error(client.post(path, data={"FriendlyName": "x"}), 404, 20404)
        assert_error(client.delete(path), 404, 20404)
