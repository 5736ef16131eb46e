"""Workflows: configuration validation, reservation timeout, callback URLs, update, delete."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from switchboard.service.clock import ManualClock

from .conftest import (
    MakeWorkspace,
    Workspace,
    assert_error,
    assert_invalid,
    default_filter,
    unchanged,
)
from .contract import assert_matches_spec

SCHEMA = "taskrouter.v1.workspace.workflow"


@pytest.fixture
def queue(ws: Workspace) -> str:
    return str(ws.queue("Everyone")["sid"])


def routing(queue: str, **filter_fields: Any) -> str:
    """A configuration with one filter (its fields given) and a default filter to ``queue``."""
    return json.dumps({"task_routing": {
        "filters": [{"expression": "1==1", "targets": [{"queue": queue}], **filter_fields}],
        "default_filter": {"queue": queue},
    }})


def test_create_with_defaults(ws: Workspace, queue: str) -> None:
    configuration = default_filter(queue)
    body = ws.create("Workflows", FriendlyName="Route", Configuration=configuration)
    assert body["friendly_name"] == "Route"
    assert body["configuration"] == configuration
    assert body["task_reservation_timeout"] == 120
    assert body["assignment_callback_url"] is None
    assert body["fallback_assignment_callback_url"] is None
    assert body["document_content_type"] == "application/json"
    assert body["workspace_sid"] == ws.sid
    assert body["url"] == ws.url("Workflows", body["sid"])
    assert body["links"]["statistics"] == ws.url("Workflows", body["sid"], "Statistics")
    assert ws.fetch("Workflows", body["sid"]) == body


def test_create_with_every_option(ws: Workspace, queue: str) -> None:
    configuration = json.dumps({"task_routing": {
        "filters": [{
            "filter_friendly_name": "Gold",
            "expression": "customer_value == 'Gold' AND type == 'ticket'",
            "targets": [
                {"queue": queue, "priority": 10, "timeout": 30,
                 "expression": "task.language IN worker.languages",
                 "order_by": "worker.level DESC"},
                {"priority": "20", "skip_if": "workers.available == 0"},
            ],
        }],
        "default_filter": {"queue": queue},
    }}, indent=2)
    body = ws.create("Workflows", FriendlyName="Gold first", Configuration=configuration,
                     AssignmentCallbackUrl="https://example.com/assign",
                     FallbackAssignmentCallbackUrl="http://127.0.0.1:8000/fallback",
                     TaskReservationTimeout="300")
    assert body["configuration"] == configuration  # verbatim, whitespace and all
    assert body["assignment_callback_url"] == "https://example.com/assign"
    assert body["fallback_assignment_callback_url"] == "http://127.0.0.1:8000/fallback"
    assert body["task_reservation_timeout"] == 300


def test_matches_twilio_spec(ws: Workspace, queue: str) -> None:
    created = ws.workflow("Route", queue)
    assert_matches_spec(created, SCHEMA)
    assert_matches_spec(ws.fetch("Workflows", created["sid"]), SCHEMA)
    assert_matches_spec(ws.update("Workflows", created["sid"], FriendlyName="R"), SCHEMA)
    for listed in ws.list("Workflows"):
        assert_matches_spec(listed, SCHEMA)


@pytest.mark.parametrize("timeout", ["1", "86400"])
def test_task_reservation_timeout_bounds_are_accepted(ws: Workspace, queue: str,
                                                      timeout: str) -> None:
    body = ws.workflow("Route", queue, TaskReservationTimeout=timeout)
    assert body["task_reservation_timeout"] == int(timeout)


def test_list_and_filter_by_friendly_name(ws: Workspace, queue: str) -> None:
    first = ws.workflow("First", queue)
    second = ws.workflow("Second", queue)
    assert ws.list("Workflows") == [first, second]
    assert ws.list("Workflows", FriendlyName="Second") == [second]
    assert ws.list("Workflows", FriendlyName="Third") == []


# ---------------------------------------------------------------- validation


def with_filter(rule: dict[str, Any]) -> Callable[[str], str]:
    """A configuration with this one filter rule; ``QUEUE`` in it stands for a real queue."""
    def make(queue: str) -> str:
        text = json.dumps({"task_routing": {"filters": [rule],
                                            "default_filter": {"queue": "QUEUE"}}})
        return text.replace("QUEUE", queue)
    return make


def fixed(text: str) -> Callable[[str], str]:
    return lambda _queue: text


# name: (the configuration, given a real queue's SID; what the error message must name)
BAD_CONFIGURATIONS: dict[str, tuple[Callable[[str], str], list[str]]] = {
    "not JSON": (fixed("{task_routing:"), ["Configuration", "JSON"]),
    "empty": (fixed(""), ["Configuration", "JSON"]),
    "an array": (fixed("[]"), ["Configuration", "object"]),
    "no task_routing": (fixed("{}"), ["task_routing"]),
    "no filters nor default": (fixed('{"task_routing": {}}'), ["filters", "default_filter"]),
    "unknown default queue": (fixed(default_filter("WQ" + "e" * 32)), ["WQ" + "e" * 32]),
    "bad filter expression": (with_filter({"expression": "type ==",
                                           "targets": [{"queue": "QUEUE"}]}),
                              ["filters[0].expression", "type =="]),
    "bad target expression": (with_filter({"expression": "1==1", "targets": [
        {"queue": "QUEUE", "expression": "task.x =="}]}), ["targets[0].expression"]),
    "unknown target queue": (with_filter({"expression": "1==1",
                                          "targets": [{"queue": "WQ" + "d" * 32}]}),
                             ["WQ" + "d" * 32]),
    "bad timeout": (with_filter({"expression": "1==1",
                                 "targets": [{"queue": "QUEUE", "timeout": -5}]}),
                    ["targets[0].timeout"]),
}


@pytest.mark.parametrize(("configuration", "mentions"), BAD_CONFIGURATIONS.values(),
                         ids=BAD_CONFIGURATIONS.keys())
def test_create_rejects_a_bad_configuration(client: TestClient, ws: Workspace, queue: str,
                                            configuration: Callable[[str], str],
                                            mentions: list[str]) -> None:
    with unchanged(client, ws.path("Workflows")):
        assert_invalid(client.post(ws.path("Workflows"), data={
            "FriendlyName": "Route", "Configuration": configuration(queue)}), *mentions)


@pytest.mark.parametrize(("configuration", "mentions"), BAD_CONFIGURATIONS.values(),
                         ids=BAD_CONFIGURATIONS.keys())
def test_update_rejects_a_bad_configuration(client: TestClient, ws: Workspace, queue: str,
                                            configuration: Callable[[str], str],
                                            mentions: list[str]) -> None:
    sid = ws.workflow("Route", queue)["sid"]
    with unchanged(client, ws.path("Workflows", sid)):
        assert_invalid(client.post(ws.path("Workflows", sid), data={
            "FriendlyName": "Renamed", "Configuration": configuration(queue),
        }), *mentions)


def test_a_queue_of_another_workspace_is_refused(
        client: TestClient, make_workspace: MakeWorkspace) -> None:
    mine, theirs = make_workspace(), make_workspace()
    foreign = theirs.queue("Theirs")["sid"]
    with unchanged(client, mine.path("Workflows")):
        assert_invalid(client.post(mine.path("Workflows"), data={
            "FriendlyName": "Route", "Configuration": default_filter(foreign)}), foreign)


@pytest.mark.parametrize(("data", "parameter"), [
    ({"Configuration": None}, "Configuration"),
    ({"FriendlyName": None}, "FriendlyName"),
    ({"FriendlyName": ""}, "FriendlyName"),
    ({"TaskReservationTimeout": "0"}, "TaskReservationTimeout"),
    ({"TaskReservationTimeout": "86401"}, "TaskReservationTimeout"),
    ({"TaskReservationTimeout": "two minutes"}, "TaskReservationTimeout"),
    ({"AssignmentCallbackUrl": "example.com/assign"}, "AssignmentCallbackUrl"),
    ({"AssignmentCallbackUrl": "mailto:ops@example.com"}, "AssignmentCallbackUrl"),
    ({"FallbackAssignmentCallbackUrl": "ftp://example.com"}, "FallbackAssignmentCallbackUrl"),
])
def test_create_rejects_bad_values(client: TestClient, ws: Workspace, queue: str,
                                   data: dict[str, str | None], parameter: str) -> None:
    form = {"FriendlyName": "Route", "Configuration": default_filter(queue), **data}
    form = {k: v for k, v in form.items() if v is not None}
    with unchanged(client, ws.path("Workflows")):
        assert_invalid(client.post(ws.path("Workflows"), data=form), parameter)


# ---------------------------------------------------------------- update and delete


def test_update(ws: Workspace, queue: str, clock: ManualClock) -> None:
    other = ws.queue("Other")["sid"]
    sid = ws.workflow("Route", queue)["sid"]
    clock.advance(2_000)
    configuration = routing(other, filter_friendly_name="All")
    body = ws.update("Workflows", sid, FriendlyName="Rerouted", Configuration=configuration,
                     AssignmentCallbackUrl="https://example.com/a",
                     FallbackAssignmentCallbackUrl="https://example.com/b",
                     TaskReservationTimeout="30", ReEvaluateTasks="true")
    assert body["friendly_name"] == "Rerouted"
    assert body["configuration"] == configuration
    assert body["assignment_callback_url"] == "https://example.com/a"
    assert body["fallback_assignment_callback_url"] == "https://example.com/b"
    assert body["task_reservation_timeout"] == 30
    assert body["date_updated"] == "2026-01-01T00:00:02Z"
    assert ws.fetch("Workflows", sid) == body
    body = ws.update("Workflows", sid, FriendlyName="Again")
    assert body["configuration"] == configuration  # what is not given is kept
    assert body["assignment_callback_url"] == "https://example.com/a"
    assert body["task_reservation_timeout"] == 30


def test_empty_callback_urls_clear_them(ws: Workspace, queue: str) -> None:
    sid = ws.workflow("Route", queue, AssignmentCallbackUrl="https://example.com/a",
                      FallbackAssignmentCallbackUrl="https://example.com/b")["sid"]
    body = ws.update("Workflows", sid, AssignmentCallbackUrl="")
    assert body["assignment_callback_url"] is None
    assert body["fallback_assignment_callback_url"] == "https://example.com/b"
    body = ws.update("Workflows", sid, FallbackAssignmentCallbackUrl="")
    assert body["fallback_assignment_callback_url"] is None


@pytest.mark.parametrize(("data", "parameter"), [
    ({"FriendlyName": ""}, "FriendlyName"),
    ({"TaskReservationTimeout": "0"}, "TaskReservationTimeout"),
    ({"TaskReservationTimeout": "86401"}, "TaskReservationTimeout"),
    ({"AssignmentCallbackUrl": "not a url"}, "AssignmentCallbackUrl"),
    ({"FallbackAssignmentCallbackUrl": "//example.com/x"}, "FallbackAssignmentCallbackUrl"),
    ({"FriendlyName": "Fine", "TaskReservationTimeout": "60",
      "AssignmentCallbackUrl": "bad"}, "AssignmentCallbackUrl"),
])
def test_update_rejects_bad_values_and_changes_nothing(
        client: TestClient, ws: Workspace, queue: str, data: dict[str, str],
        parameter: str) -> None:
    sid = ws.workflow("Route", queue, AssignmentCallbackUrl="https://example.com/a")["sid"]
    with unchanged(client, ws.path("Workflows", sid)):
        assert_invalid(client.post(ws.path("Workflows", sid), data=data), parameter)


def test_delete(client: TestClient, ws: Workspace, queue: str) -> None:
    sid = ws.workflow("Route", queue)["sid"]
    ws.delete("Workflows", sid)
    assert_error(client.get(ws.path("Workflows", sid)), 404, 20404)
    assert_error(client.delete(ws.path("Workflows", sid)), 404, 20404)
    assert ws.list("Workflows") == []
    ws.delete("TaskQueues", queue)  # nothing routes to it any more


def test_unknown_workflow(client: TestClient, ws: Workspace) -> None:
    missing = ws.path("Workflows", "WW" + "f" * 32)
    assert_error(client.get(missing), 404, 20404)
    assert_error(client.post(missing, data={"FriendlyName": "x"}), 404, 20404)
    assert_error(client.delete(missing), 404, 20404)
