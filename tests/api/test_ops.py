"""Operations in process: metrics, readiness, rate limits, the failed-authentication brake,
and log lines carrying the request ID."""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from switchboard.api.app import create_app
from switchboard.ops import logs, ratelimits
from switchboard.ops.metrics import Metrics
from switchboard.ops.stack import Ops
from switchboard.service.runtime import Runtime
from tests.api.conftest import Workspace, assert_error, ok
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN

MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(runtime: Runtime) -> Iterator[MakeClient]:
    made: list[Any] = []

    def make(**ops: Any) -> TestClient:
        client = TestClient(create_app(runtime, ops=Ops(**ops)), base_url="http://testserver",
                            raise_server_exceptions=False)
        client.__enter__()
        client.auth = (ACCOUNT_SID, AUTH_TOKEN)
        made.append(client)
        return client

    yield make
    for client in made:
        client.__exit__(None, None, None)


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, parsed by prometheus_client's own parser."""
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def routed_workspace(client: TestClient) -> tuple[Workspace, str]:
    ws = Workspace(client, ok(client.post("/v1/Workspaces", data={"FriendlyName": "Ops"}), 201))
    available = next(a["sid"] for a in ws.list("Activities") if a["available"])
    queue = ws.queue("Everyone")
    ws.workflow("All", queue["sid"])
    worker = ws.worker("Alice", ActivitySid=available)
    return ws, worker["sid"]


def test_metrics_are_present_and_change_as_work_happens(runtime: Runtime,
                                                        make_client: MakeClient) -> None:
    metrics = Metrics(runtime)
    client = make_client(metrics=metrics)
    ws, _ = routed_workspace(client)
    before = samples(metrics)
    assert value(before, "switchboard_tasks", workspace_sid=ws.sid,
                 assignment_status="pending") == 0
    assert value(before, "switchboard_workers", workspace_sid=ws.sid, activity="Available") == 1
    workflow = ws.list("Workflows")[0]["sid"]
    task = ws.create("Tasks", WorkflowSid=workflow, Attributes="{}")
    ws.create("Tasks", WorkflowSid=workflow, Attributes="{}")  # waits: Alice is busy
    (reservation,) = ws.list("Tasks", task["sid"], "Reservations")
    ws.update("Tasks", task["sid"], "Reservations", reservation["sid"],
              ReservationStatus="accepted")
    client.get("/v1/Workspaces/WS" + "0" * 32)  # a 404
    after = samples(metrics)

    route = "/v1/Workspaces/{WorkspaceSid}/Tasks"
    assert value(after, "switchboard_http_requests_total", method="POST", route=route,
                 status="201") == 2
    assert value(after, "switchboard_http_request_duration_seconds_count", method="POST",
                 route=route) == 2
    assert any(name == "switchboard_http_requests_total" and dict(labels)["status"] == "404"
               for name, labels in after)
    assert not any("WS" in dict(labels).get("route", "") for _, labels in after)
    assert value(after, "switchboard_tasks", workspace_sid=ws.sid,
                 assignment_status="assigned") == 1
    assert value(after, "switchboard_tasks", workspace_sid=ws.sid,
                 assignment_status="pending") == 1
    assert value(after, "switchboard_reservations_ended_total", workspace_sid=ws.sid,
                 outcome="accepted") == 1
    assert value(after, "switchboard_reservations_created_total", workspace_sid=ws.sid) == 1
    assert value(after, "switchboard_task_time_to_reservation_seconds_count",
                 workspace_sid=ws.sid) == 1
    assert value(after, "switchboard_store_commit_batch_size_count") > value(
        before, "switchboard_store_commit_batch_size_count")
    assert value(after, "switchboard_store_commit_duration_seconds_count") > 0
    assert value(after, "switchboard_websocket_connections") == 0
    assert value(after, "switchboard_workspaces_loaded") == 1


def test_readyz_answers_with_its_checks(client: TestClient) -> None:
    body = ok(client.get("/readyz"))
    assert body == {"status": "ready", "checks": {"store": "ok", "migrations": "ok",
                                                  "serving": "ok"}}
    assert ok(client.get("/healthz")) == {"status": "ok"}


def filtered(ws: Workspace) -> Any:
    return ws.client.get(ws.path("Workers"), params={"TargetWorkersExpression": "1==1"})


def test_twilio_rate_limits_answer_429_with_20429_and_headers(make_client: MakeClient) -> None:
    client = make_client(rate_limits="twilio")
    ws = Workspace(client, ok(client.post("/v1/Workspaces", data={"FriendlyName": "R"}), 201))
    answers = [filtered(ws) for _ in range(6)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert answers[0].headers["X-Rate-Limit-Limit"] == "3"
    assert answers[0].headers["X-Rate-Limit-Remaining"] == "2"
    assert answers[0].headers["X-Rate-Limit-Config"] == "Worker-List-TargetWorkersExpression"
    refused = [a for a in answers if a.status_code == 429]
    assert refused, "a 4th request within the second must be refused"
    assert_error(refused[0], 429, 20429)
    assert refused[0].headers["X-Rate-Limit-Remaining"] == "0"
    assert refused[0].headers["X-Rate-Limit-Config"] == "Worker-List-TargetWorkersExpression"
    assert refused[0].headers["Twilio-Request-Id"].startswith("RQ")
    assert int(refused[0].headers["Retry-After"]) >= 1
    # Unfiltered, the account's concurrency limit applies instead.
    plain = client.get(ws.path("Workers"))
    assert plain.status_code == 200
    assert plain.headers["X-Rate-Limit-Config"] == ratelimits.CONCURRENCY_KEY
    assert plain.headers["X-Rate-Limit-Limit"] == str(ratelimits.CONCURRENCY_LIMIT)


def test_without_rate_limits_there_is_never_a_429_nor_the_headers(client: TestClient) -> None:
    ws = Workspace(client, ok(client.post("/v1/Workspaces", data={"FriendlyName": "R"}), 201))
    answers = [filtered(ws) for _ in range(10)]
    assert {a.status_code for a in answers} == {200}
    assert not any(name.lower().startswith("x-rate-limit") for a in answers
                   for name in a.headers)


def test_repeated_failed_authentications_are_logged_and_slowed(
        make_client: MakeClient, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(ratelimits.asyncio, "sleep", fake_sleep)
    with caplog.at_level(logging.WARNING, logger="switchboard.ops.ratelimits"):
        for _ in range(ratelimits.FREE_FAILURES + 2):
            assert client.get("/v1/Workspaces", auth=(ACCOUNT_SID, "wrong-secret")
                              ).status_code == 401
    failures = [r for r in caplog.records if "authentication failed" in r.getMessage()]
    assert len(failures) == ratelimits.FREE_FAILURES + 2
    assert all("wrong-secret" not in r.getMessage() for r in caplog.records)
    assert ACCOUNT_SID in failures[0].getMessage()
    assert slept == [ratelimits.BASE_DELAY_SECONDS]  # the 7th waited; the 6th failure armed it
    assert client.get("/v1/Workspaces").status_code == 200  # a success clears the address
    assert client.get("/v1/Workspaces").status_code == 200
    assert len(slept) == 2


def test_json_log_lines_carry_the_request_id_of_the_answer(make_client: MakeClient) -> None:
    lines: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            lines.extend(line for line in text.splitlines() if line)

        def flush(self) -> None:
            pass

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logs.configure("info", "json", Sink())
        client = make_client(access_log=True)
        answer = client.get("/v1/Workspaces")
        client.get("/v1/Workspaces", auth=(ACCOUNT_SID, "nope"))
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    entries = [json.loads(line) for line in lines]
    access = [e for e in entries if e["logger"] == logs.ACCESS_LOGGER]
    mine = next(e for e in access if e["request_id"] == answer.headers["Twilio-Request-Id"])
    assert {"time", "level", "logger", "message"} <= set(mine)
    assert mine["method"] == "GET" and mine["path"] == "/v1/Workspaces"
    assert mine["status"] == 200 and mine["account_sid"] == ACCOUNT_SID
    assert isinstance(mine["duration_ms"], float)
    failed = [e for e in entries if "authentication failed" in e["message"]]
    assert failed and failed[0]["request_id"].startswith("RQ")
    assert failed[0]["level"] == "warning"
    assert not any("nope" in line for line in lines)


def test_every_metric_is_documented_and_on_the_dashboard(runtime: Runtime) -> None:
    from pathlib import Path

    class Figures:
        def __init__(self) -> None:
            self.sent = {"event": 1}
            self.failed: dict[str, int] = {}
            self.claimed = {"WS1": 1}
            self.takeovers = 1
            self.lost_leases = 0
            self.count = 0

        def owed(self) -> int:
            return 0

    figures = Figures()
    metrics = Metrics(runtime, callbacks=figures, cluster=figures)
    metrics.sockets = figures
    docs = Path(__file__).parents[2] / "docs"
    page = (docs / "operations.md").read_text()
    dashboard = (docs / "grafana-dashboard.json").read_text()
    names = {family.name for family in text_string_to_metric_families(metrics.render().decode())
             if not family.name.endswith("_created")}
    assert "switchboard_cluster_takeovers" in names
    for name in names:
        documented = name if f"`{name}`" in page else f"{name}_total"
        assert f"`{documented}`" in page, name
        assert name in dashboard, name


def test_garbage_collector_pauses_are_timed_and_what_it_freed_counted_while_installed(
        runtime: Runtime) -> None:
    metrics = Metrics(runtime)
    metrics.gc_watch.install()
    metrics.gc_watch.install()  # once only
    try:
        gc.collect(1)
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        gc.collect()
    finally:
        metrics.gc_watch.remove()
    assert not any(getattr(c, "__self__", None) is metrics.gc_watch for c in gc.callbacks)
    found = samples(metrics)
    full = value(found, "switchboard_gc_pause_seconds_count", generation="2")
    assert full == 1
    assert value(found, "switchboard_gc_pause_seconds_count", generation="1") >= 1
    assert value(found, "switchboard_gc_pause_seconds_sum", generation="2") > 0
    assert value(found, "switchboard_gc_collected_objects_total", generation="2") >= 1
    gc.collect()
    assert value(samples(metrics), "switchboard_gc_pause_seconds_count", generation="2") == full
