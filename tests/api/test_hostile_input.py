"""Input no client should send: out-of-range numbers, deeply nested JSON, text no store can keep.
Each gets a 400 naming the problem, and nothing changes."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from switchboard.api.params import Param, parse
from switchboard.routing.errors import InvalidParameter

from .conftest import MakeWorkspace, Workspace, assert_error, assert_invalid, ok, unchanged

HUGE = "18446744073709551616"  # 2**64


@pytest.fixture
def ws(make_workspace: MakeWorkspace) -> Workspace:
    """A workspace with a workflow, where tasks can be created."""
    return make_workspace(Template="FIFO")


@pytest.mark.parametrize(("path", "query", "name"), [
    ("Tasks", {"Page": HUGE}, "Page"),
    ("Tasks", {"PageSize": HUGE}, "PageSize"),
    ("Tasks", {"Page": "-" + HUGE}, "Page"),
    ("Workers", {"Page": "9" * 5000}, "Page"),
    ("Events", {"Minutes": str(10**30)}, "Minutes"),
    ("Events", {"Page": HUGE}, "Page"),
    ("Statistics", {"Minutes": str(10**30)}, "Minutes"),
    ("Workers/CumulativeStatistics", {"Minutes": HUGE}, "Minutes"),
    ("TaskQueues/Statistics", {"Minutes": HUGE}, "Minutes"),
])
def test_integers_beyond_range_are_refused(ws: Workspace, path: str, query: dict[str, str],
                                           name: str) -> None:
    assert_invalid(ws.client.get(ws.path(path), params=query), name)


def test_integers_in_bodies_beyond_range_are_refused(ws: Workspace) -> None:
    queue = ws.queue("q")
    with unchanged(ws.client, ws.path("TaskQueues", queue["sid"]), ws.path("Tasks")):
        assert_invalid(ws.client.post(ws.path("Tasks"), data={"Priority": HUGE}), "Priority")
        assert_invalid(ws.client.post(ws.path("Tasks"), data={"Timeout": "9" * 30}), "Timeout")
        assert_invalid(ws.client.post(ws.path("TaskQueues", queue["sid"]),
                                      data={"MaxReservedWorkers": HUGE}), "MaxReservedWorkers")


def test_the_largest_32_bit_integer_is_accepted(ws: Workspace) -> None:
    ok(ws.client.get(ws.path("Events"), params={"Minutes": str(2**31 - 1)}))
    ok(ws.client.get(ws.path("Tasks"), params={"Page": str(2**31 - 1)}))
    assert_invalid(ws.client.get(ws.path("Tasks"), params={"Page": str(2**31)}), "Page")


@pytest.mark.parametrize("token", ["PA" + "9" * 30, "PA" + "9" * 5000, "PA²", "PA1²"])
def test_page_tokens_beyond_range_are_refused(ws: Workspace, token: str) -> None:
    assert_invalid(ws.client.get(ws.path("Events"), params={"PageToken": token}), "PageToken")
    assert_invalid(ws.client.get(ws.path("Workers"), params={"PageToken": token + ".WK1"}),
                   "PageToken")


@pytest.mark.parametrize("date", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_dates_that_cannot_be_rendered_are_refused(ws: Workspace, date: str) -> None:
    assert_invalid(ws.client.get(ws.path("Statistics"), params={"StartDate": date}),
                   "StartDate")
    assert_invalid(ws.client.get(ws.path("Events"), params={"EndDate": date}), "EndDate")


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [65, 1_500])
def test_deeply_nested_attributes_are_refused(ws: Workspace, depth: int) -> None:
    worker = ws.worker("w")
    deep = '{"x": ' + "[" * depth + "]" * depth + "}" if depth > 1000 else nested(depth)
    with unchanged(ws.client, ws.path("Tasks"), ws.path("Workers")):
        assert_invalid(ws.client.post(ws.path("Tasks"), data={"Attributes": deep}),
                       "Attributes", "nested")
        assert_invalid(ws.client.post(ws.path("Workers"),
                                      data={"FriendlyName": "v", "Attributes": deep}),
                       "Attributes", "nested")
        assert_invalid(ws.client.post(ws.path("Workers", worker["sid"]),
                                      data={"Attributes": deep}), "Attributes", "nested")


def test_nesting_up_to_the_limit_and_brackets_in_strings_are_fine(ws: Workspace) -> None:
    ok(ws.client.post(ws.path("Tasks"), data={"Attributes": nested(63)}), 201)
    brackets = json.dumps({"text": "[" * 3000})
    task = ok(ws.client.post(ws.path("Tasks"), data={"Attributes": brackets}), 201)
    assert task["attributes"] == brackets


def test_deeply_nested_json_bodies_are_refused(ws: Workspace) -> None:
    body = '{"QueueSids": ' + "[" * 1500 + "]" * 1500 + "}"
    response = ws.client.post(ws.path("TaskQueues", "RealTimeStatistics"), content=body,
                              headers={"Content-Type": "application/json"})
    assert_invalid(response, "nested")
    response = ws.client.post(ws.path("TaskQueues", "RealTimeStatistics"),
                              content='{"QueueSids": [[1], {"a": 2}]}',
                              headers={"Content-Type": "application/json"})
    assert_invalid(response, "QueueSids")


def test_deeply_nested_workflow_configuration_is_refused(ws: Workspace) -> None:
    queue = ws.queue("q")
    config = '{"task_routing": {"default_filter": {"queue": "' + queue["sid"] + '"}}, "x": ' \
        + "[" * 2000 + "]" * 2000 + "}"
    assert_invalid(ws.client.post(ws.path("Workflows"), data={
        "FriendlyName": "deep", "Configuration": config}), "nested")


def test_text_no_store_can_keep_is_refused(ws: Workspace) -> None:
    text = "nul\x00byte"  # PostgreSQL cannot store it; refused on SQLite alike
    worker = ws.worker("w")
    with unchanged(ws.client, ws.path("Workers"), ws.path("Tasks"), ws.path("Activities")):
        assert_invalid(ws.client.post(ws.path("Workers"), data={"FriendlyName": text}),
                       "FriendlyName")
        assert_invalid(ws.client.post(ws.path("Workers", worker["sid"]),
                                      data={"FriendlyName": text}), "FriendlyName")
        assert_invalid(ws.client.post(ws.path("Tasks"), data={
            "Attributes": '{"a": "' + text + '"}'}), "Attributes")
        assert_invalid(ws.client.post(ws.path("Activities"), data={"FriendlyName": text}),
                       "FriendlyName")
        assert_invalid(ws.client.get(ws.path("Events"), params={"TaskSid": text}), "TaskSid")
    assert_invalid(ws.client.get(ws.path("Events", "EV%00")), "Sid")


@pytest.mark.parametrize("text", ["nul\x00byte", "lone\ud800surrogate", "\udfff"])
def test_every_parameter_refuses_unstorable_text(text: str) -> None:
    # Lone surrogates cannot even be sent as UTF-8; whatever decodes to one is refused too.
    for kind in ("string", "list", "integer", "datetime"):
        with pytest.raises(InvalidParameter, match="Invalid parameter Name: it contains"):
            parse((Param("Name", kind),), [("Name", text)], "post body")


def test_escaped_nul_inside_json_text_is_kept_verbatim(ws: Workspace) -> None:
    attributes = '{"a": "\\u0000"}'
    task = ok(ws.client.post(ws.path("Tasks"), data={"Attributes": attributes}), 201)
    assert ws.fetch("Tasks", task["sid"])["attributes"] == attributes


# ---------------------------------------------------------------------- the manual clock


@pytest.mark.parametrize("advance", ["1e20", "1e300", str(10**30)])
def test_clock_advances_that_would_overflow_are_refused(client: TestClient, ws: Workspace,
                                                        advance: str) -> None:
    before = ok(client.get("/dev/clock"))
    assert_error(client.post("/dev/clock", data={"Advance": advance}), 400, 20001, "Advance")
    assert ok(client.get("/dev/clock")) == before
    ok(ws.client.post(ws.path("Tasks"), data={}), 201)  # dates still render
    ok(ws.client.get(ws.path("Tasks")))


def test_empty_routing_target_and_queue_mean_absent(ws: Workspace) -> None:
    task = ok(ws.client.post(ws.path("Tasks"), data={"RoutingTarget": "", "TaskQueueSid": ""}),
              201)
    assert task["routing_target"] is None
    assert task["workflow_sid"] == ws.list("Workflows")[0]["sid"]
