"""``switchboard simulate``: the same seed, the same run on a manual clock; offers heard
through the workers' event streams, never polled; real time on the system clock."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from switchboard.cli import main
from switchboard.simulate import Clock, Plan, Pushed, StreamError, Streams, simulate
from switchboard.testing import Server, TaskRouter

PLAN = Plan(workers=3, tasks=12, rate_per_minute=4, think_seconds=4, handle_seconds=45,
            reject_probability=0.2, timeout_probability=0.15, seed=7)


def run_once(tr: TaskRouter, plan: Plan = PLAN) -> dict[str, Any]:
    v1 = tr.client.taskrouter.v1
    workspace = v1.workspaces.create(friendly_name="Simulated", template="FIFO")
    return simulate(tr.client, Clock(tr.url, (tr.account_sid, tr.auth_token)), workspace.sid,
                    plan)


def test_a_seeded_simulation_gives_the_same_result_twice(taskrouter: TaskRouter,
                                                         switchboard_server: Server) -> None:
    first = run_once(taskrouter)
    other = switchboard_server.taskrouter("again")
    try:
        second = run_once(other)
    finally:
        other.delete_workspaces()
        other.close()

    assert first == second
    assert first["tasks"] == 12
    assert first["completed"] == first["accepted"] == 12  # every task was handled in the end
    assert first["rejected"] > 0 and first["timed_out"] > 0
    assert first["wait_seconds"]["avg"] > 0
    assert sum(w["completed"] for w in first["workers"].values()) == 12


def test_another_seed_gives_another_run(taskrouter: TaskRouter) -> None:
    first = run_once(taskrouter)
    taskrouter.delete_workspaces()
    assert run_once(taskrouter, Plan(**{**vars(PLAN), "seed": 8})) != first


def test_the_command_prints_the_report(taskrouter: TaskRouter) -> None:
    workspace = taskrouter.client.taskrouter.v1.workspaces.create(friendly_name="Cli",
                                                                   template="FIFO")
    result = CliRunner().invoke(main, [
        "simulate", workspace.sid, "--workers", "2", "--tasks", "3", "--seed", "1",
        "--url", taskrouter.url, "--account-sid", taskrouter.account_sid,
        "--auth-token", taskrouter.auth_token])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["tasks"] == 3 and set(report["workers"]) == {"sim-001", "sim-002"}


class RecordingHttpClient(TwilioHttpClient):
    """The official client's transport, noting each request's method and path."""

    def __init__(self) -> None:
        super().__init__(timeout=30)
        if self.session is not None:
            self.session.trust_env = False
        self.requests: list[tuple[str, str]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        self.requests.append((method.upper(), urlsplit(url).path))
        return super().request(method, url, *args, **kwargs)


def test_offers_come_through_the_event_stream_not_polling(
        taskrouter: TaskRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    http = RecordingHttpClient()
    client = Client(taskrouter.account_sid, taskrouter.auth_token, environment={},
                    http_client=http)
    client.taskrouter.base_url = client.api.base_url = taskrouter.url
    pushed: Counter[str] = Counter()
    get = Streams.get

    def counting_get(self: Streams, timeout: float) -> Pushed | None:
        item = get(self, timeout)
        if item is not None:
            pushed[item[1]] += 1
        return item

    monkeypatch.setattr(Streams, "get", counting_get)
    workspace = taskrouter.client.taskrouter.v1.workspaces.create(friendly_name="Pushed",
                                                                   template="FIFO")
    report = simulate(client, Clock(taskrouter.url, (taskrouter.account_sid,
                                                     taskrouter.auth_token)),
                      workspace.sid, PLAN)

    # Every offer the simulation answered or let time out reached it as a push.
    offers = report["accepted"] + report["rejected"] + report["timed_out"]
    assert report["completed"] == 12 and report["timed_out"] > 0
    assert pushed["reservation.created"] == offers
    assert pushed["reservation.timeout"] == report["timed_out"]
    # …and none was read from the REST API: no reservation is ever fetched or listed, the
    # workers are listed once (to find the sim-… ones), and the rest is the Events log.
    gets = Counter(path.split("/")[-1] if "/Events" not in path else "Events"
                   for method, path in http.requests if method == "GET")
    assert not [path for method, path in http.requests
                if method == "GET" and "Reservations" in path]
    assert gets["Workers"] == 1 and gets["Activities"] == 1 and gets["Workflows"] == 1
    assert set(gets) == {"Workers", "Activities", "Workflows", "Events"}
    # The answers went through the REST API.
    assert sum(1 for method, path in http.requests
               if method == "POST" and "/Reservations/" in path) == (
        report["accepted"] + report["rejected"])


def test_a_token_the_event_bridge_refuses_stops_the_run(taskrouter: TaskRouter) -> None:
    workspace = taskrouter.client.taskrouter.v1.workspaces.create(friendly_name="Refused",
                                                                   template="FIFO")
    key = taskrouter.client.new_keys.create(friendly_name="refused")
    with pytest.raises(StreamError, match="the event bridge refused worker WK"):
        simulate(taskrouter.client, Clock(taskrouter.url, (taskrouter.account_sid,
                                                           taskrouter.auth_token)),
                 workspace.sid, PLAN, api_key=(key.sid, "not-its-secret" * 4))


def test_on_the_system_clock_it_runs_in_real_time() -> None:
    with Server(clock="system") as running:
        tr = running.taskrouter()
        try:
            workspace = tr.client.taskrouter.v1.workspaces.create(friendly_name="Live",
                                                                   template="FIFO")
            clock = Clock(tr.url, (tr.account_sid, tr.auth_token))
            assert not clock.manual
            report = simulate(tr.client, clock, workspace.sid, Plan(
                workers=2, tasks=4, rate_per_minute=600, think_seconds=0.05,
                handle_seconds=0.1, reject_probability=0, timeout_probability=0, seed=3))
        finally:
            tr.close()
    assert report["completed"] == report["accepted"] == 4
    assert 0 < report["simulated_seconds"] < 30
