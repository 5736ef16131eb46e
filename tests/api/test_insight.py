"""The insight extensions (docs/extensions.md): ExpressionEvaluations, Timers and a task's
Routing, through the API."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from switchboard.service.clock import ManualClock
from switchboard.service.runtime import Runtime

from .conftest import Workspace, assert_error, assert_invalid, ok

OTHER_ACCOUNT_SID = "AC" + "b" * 32
OTHER_AUTH_TOKEN = "other-token"


def evaluate(ws: Workspace, **data: str) -> dict[str, object]:
    result: dict[str, object] = ok(ws.client.post(ws.path("ExpressionEvaluations"), data=data))
    return result


def names(body: dict[str, object]) -> list[object]:
    matches = body["matches"]
    assert isinstance(matches, list)
    return [m["friendly_name"] for m in matches]


# ---------------------------------------------------------------------- ExpressionEvaluations


def test_a_target_workers_expression_lists_the_workers_it_matches(ws: Workspace) -> None:
    ws.worker("alice", Attributes=json.dumps({"skills": ["en", "fr"], "level": 3}))
    ws.worker("bob", Attributes=json.dumps({"skills": ["en"], "level": 1}))
    ws.worker("carol", Attributes=json.dumps({"skills": ["de"]}))
    body = evaluate(ws, Expression="skills HAS 'en' AND level >= 1", Subject="Workers")
    assert body == {
        "valid": True, "subject": "Workers", "form": "target_workers", "task_queue_sid": None,
        "matches": body["matches"], "count": 2, "url": ws.url("ExpressionEvaluations")}
    assert names(body) == ["alice", "bob"]


def test_a_queue_with_the_same_expression_answers_from_its_membership(ws: Workspace) -> None:
    ws.worker("alice", Attributes=json.dumps({"skills": ["en"]}))
    ws.worker("bob", Attributes=json.dumps({"skills": ["de"]}))
    queue = ws.queue("English", TargetWorkers="skills HAS 'en'")
    body = evaluate(ws, Expression="skills HAS 'en'", Subject="Workers")
    assert (body["task_queue_sid"], body["count"], names(body)) == (queue["sid"], 1, ["alice"])


def test_a_target_expression_reads_the_task_attributes_given(ws: Workspace) -> None:
    ws.worker("alice", Attributes=json.dumps({"languages": ["en", "fr"]}))
    ws.worker("bob", Attributes=json.dumps({"languages": ["de"]}))
    body = evaluate(ws, Expression="task.language IN worker.languages", Subject="Workers",
                    TaskAttributes=json.dumps({"language": "de"}))
    assert (body["form"], names(body)) == ("target_expression", ["bob"])
    # without TaskAttributes, task.* is null: nobody matches
    assert evaluate(ws, Expression="task.language IN worker.languages",
                    Subject="Workers")["count"] == 0


def test_a_filter_expression_lists_the_tasks_it_matches(ws: Workspace) -> None:
    queue = ws.queue("Everyone", TargetWorkers="1==1")
    ws.workflow("Everything", queue["sid"])
    sales = ws.create("Tasks", Attributes=json.dumps({"type": "sales"}))
    ws.create("Tasks", Attributes=json.dumps({"type": "support"}))
    body = evaluate(ws, Expression="type == 'sales'", Subject="Tasks")
    assert body["form"] == "filter_expression" and body["count"] == 1
    assert body["matches"] == [{"sid": sales["sid"], "friendly_name": None,
                                "assignment_status": "pending",
                                "task_queue_sid": queue["sid"]}]


@pytest.mark.parametrize(("expression", "position", "line", "column", "says"), [
    ("skills HAS", 10, 1, 11, "unexpected end of expression"),
    ("level > 1 AND\n  name ~ 'x'", 21, 2, 8, "unexpected character '~'"),
    ("", 0, 1, 1, "expression is empty"),
    ("a == 'open", 5, 1, 6, "unterminated string"),
])
def test_an_expression_that_does_not_parse_says_where(
        ws: Workspace, expression: str, position: int, line: int, column: int,
        says: str) -> None:
    body = evaluate(ws, Expression=expression, Subject="Workers")
    assert body["valid"] is False and "matches" not in body
    error = body["error"]
    assert isinstance(error, dict)
    assert (error["position"], error["line"], error["column"]) == (position, line, column)
    assert says in error["message"]


def test_bad_evaluation_input_is_a_400_naming_the_parameter(ws: Workspace) -> None:
    path = ws.path("ExpressionEvaluations")
    post = ws.client.post
    assert_invalid(post(path, data={"Subject": "Workers"}), "Expression")
    assert_invalid(post(path, data={"Expression": "1==1"}), "Subject")
    assert_invalid(post(path, data={"Expression": "1==1", "Subject": "Queues"}), "Subject")
    assert_invalid(post(path, data={"Expression": "1==1", "Subject": "Workers",
                                    "TaskAttributes": "[1]"}), "TaskAttributes")
    assert_invalid(post(path, data={"Expression": "1==1", "Subject": "Workers",
                                    "TaskAttributes": "{"}), "TaskAttributes")


# ---------------------------------------------------------------------- Timers


def test_timers_list_what_will_fire_soonest_first(client: TestClient, ws: Workspace) -> None:
    queue = ws.queue("Everyone", TargetWorkers="1==1")
    ws.workflow("Everything", queue["sid"], TaskReservationTimeout=30)
    alice = ws.worker("alice", ActivitySid=ws.activity("Available"))
    task = ws.create("Tasks", Attributes="{}", Timeout=600)
    (reservation,) = ws.list("Tasks", task["sid"], "Reservations")
    body = ws.fetch("Timers")
    assert body["now"] == task["date_created"] and body["url"] == ws.url("Timers")
    timers = body["timers"]
    assert [(t["kind"], t["due_ms"] - body["now_ms"]) for t in timers] == [
        ("reservation_timeout", 30_000), ("task_ttl", 600_000)]
    assert timers[0] | {"description": ""} == {
        "kind": "reservation_timeout", "due_at": timers[0]["due_at"],
        "due_ms": timers[0]["due_ms"], "due_in_ms": 30_000, "task_sid": task["sid"],
        "reservation_sid": reservation["sid"], "worker_sid": alice["sid"],
        "task_queue_sid": queue["sid"], "description": ""}
    assert "times out" in timers[0]["description"]
    # the manual clock moves past the reservation timeout: it fired, the next one is shown
    ok(client.post("/dev/clock", data={"Advance": "31"}))
    kinds = [t["kind"] for t in ws.fetch("Timers")["timers"]]
    assert kinds == ["task_ttl"]


def test_a_finished_task_shows_its_purge(ws: Workspace) -> None:
    queue = ws.queue("Everyone", TargetWorkers="1==1")
    ws.workflow("Everything", queue["sid"])
    task = ws.create("Tasks", Attributes="{}")
    ws.update("Tasks", task["sid"], AssignmentStatus="canceled")
    (timer,) = ws.fetch("Timers")["timers"]
    assert (timer["kind"], timer["task_sid"], timer["due_in_ms"]) == (
        "task_purge", task["sid"], 300_000)


# ---------------------------------------------------------------------- all of them


def test_another_account_gets_404_and_no_credentials_get_401(
        client: TestClient, runtime: Runtime, clock: ManualClock, ws: Workspace) -> None:
    runtime.accounts.create_account(clock.now_ms(), sid=OTHER_ACCOUNT_SID,
                                    auth_token=OTHER_AUTH_TOKEN)
    other = (OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN)
    queue = ws.queue("Everyone", TargetWorkers="1==1")
    ws.workflow("Everything", queue["sid"])
    task = ws.create("Tasks", Attributes="{}")
    evaluation = {"Expression": "1==1", "Subject": "Workers"}
    for response in (
        client.post(ws.path("ExpressionEvaluations"), data=evaluation, auth=other),
        client.get(ws.path("Timers"), auth=other),
    ):
        assert_error(response, 404, 20404)
    client.auth = None  # type: ignore[assignment]
    for response in (
        client.post(ws.path("ExpressionEvaluations"), data=evaluation),
        client.get(ws.path("Timers")),
    ):
        assert_error(response, 401, 20003)
    assert task["sid"]


# ---------------------------------------------------------------------- Routing


def test_routing_tells_a_cascading_tasks_path_and_its_decision(
        client: TestClient, ws: Workspace) -> None:
    one = ws.queue("One", TargetWorkers="team == 'one'")
    two = ws.queue("Two", TargetWorkers="team == 'two'")
    workflow = ws.create("Workflows", FriendlyName="Cascade", Configuration=json.dumps(
        {"task_routing": {"filters": [
            {"filter_friendly_name": "Never", "expression": "type == 'x'",
             "targets": [{"queue": one["sid"]}]},
            {"filter_friendly_name": "Sales", "expression": "type == 'sales'",
             "targets": [{"queue": one["sid"], "timeout": 30},
                         {"queue": two["sid"], "order_by": "worker.level DESC"}]}]}}))
    ws.worker("alice", Attributes=json.dumps({"team": "one"}))  # Offline
    available = ws.activity("Available")
    ws.worker("bob", ActivitySid=available, Attributes=json.dumps({"team": "two", "level": 1}))
    carol = ws.worker("carol", ActivitySid=available,
                      Attributes=json.dumps({"team": "two", "level": 7}))
    task = ws.create("Tasks", Attributes=json.dumps({"type": "sales"}),
                     WorkflowSid=workflow["sid"])
    waiting = ws.fetch("Tasks", task["sid"], "Routing")
    assert waiting["decision"]["as_of"] == "now" and waiting["decision"]["worker_sid"] is None
    assert waiting["decision"]["considered"]["excluded"] == {"not_available": 1}
    ok(client.post("/dev/clock", data={"Advance": "30"}))
    body = ws.fetch("Tasks", task["sid"], "Routing")
    assert (body["task_sid"], body["workflow_sid"], body["workflow_friendly_name"],
            body["assignment_status"], body["url"]) == (
        task["sid"], workflow["sid"], "Cascade", "reserved",
        ws.url("Tasks", task["sid"], "Routing"))
    assert [(s["kind"], s["filter_name"], s["target_index"], s["task_queue_friendly_name"])
            for s in body["steps"]] == [
        ("created", None, None, None), ("workflow_entered", None, None, None),
        ("filter_skipped", "Never", None, None), ("filter_matched", "Sales", None, None),
        ("target_entered", "Sales", 0, "One"), ("target_timeout", "Sales", 0, "One"),
        ("target_entered", "Sales", 1, "Two"), ("reserved", "Sales", 1, "Two")]
    assert body["steps"][-1]["worker_friendly_name"] == "carol"
    assert "Reserved for worker carol" in body["steps"][-1]["reason"]
    assert "queue Two" in body["steps"][-2]["reason"]
    decision = body["decision"]
    assert (decision["as_of"], decision["strategy"], decision["how"], decision["worker_sid"],
            decision["order_by"]) == ("reservation", "order_by", "task_offered",
                                      carol["sid"], "worker.level DESC")
    assert [(c["friendly_name"], c["order_by"]) for c in decision["considered"]["top"]] == [
        ("bob", [1])]


def test_routing_of_unknown_or_foreign_tasks_is_404(
        client: TestClient, runtime: Runtime, clock: ManualClock, ws: Workspace) -> None:
    assert_error(client.get(ws.path("Tasks", "WT" + "0" * 32, "Routing")), 404, 20404)
    runtime.accounts.create_account(clock.now_ms(), sid=OTHER_ACCOUNT_SID,
                                    auth_token=OTHER_AUTH_TOKEN)
    queue = ws.queue("Everyone", TargetWorkers="1==1")
    ws.workflow("Everything", queue["sid"])
    task = ws.create("Tasks", Attributes="{}")
    other = (OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN)
    assert_error(client.get(ws.path("Tasks", task["sid"], "Routing"), auth=other), 404, 20404)
    direct = ws.create("Tasks", Attributes="{}", TaskQueueSid=queue["sid"])
    steps = ws.fetch("Tasks", direct["sid"], "Routing")["steps"]
    assert [s["kind"] for s in steps] == ["created", "queue_entered"]
