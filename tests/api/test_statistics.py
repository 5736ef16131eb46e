"""Statistics of the workspace, task queues, workers and workflows.

Every scenario moves the manual clock by hand and checks figures worked out by hand: counts,
wait durations, time in activities, windows that take in or leave out each event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from switchboard.api.app import create_app
from switchboard.api.render import iso
from switchboard.routing.sids import counter_sids
from switchboard.service.clock import ManualClock
from switchboard.service.runtime import Runtime

from ..conftest import ACCOUNT_SID, AUTH_TOKEN, START_MS, make_runtime
from .conftest import Workspace, assert_invalid, ok
from .contract import assert_matches_spec

S = 1_000  # one second, in ms
ZERO = {"avg": 0, "min": 0, "max": 0, "total": 0}
RESERVATION_FIGURES = ("reservations_created", "reservations_accepted",
                       "reservations_rejected", "reservations_timed_out",
                       "reservations_canceled", "reservations_rescinded")


def at(seconds: float) -> str:
    """The ISO date ``seconds`` after the test clock's start."""
    return str(iso(START_MS + int(seconds * S)))


def reservations(**counts: int) -> dict[str, int]:
    return {name: counts.get(name.removeprefix("reservations_"), 0)
            for name in RESERVATION_FIGURES}


@dataclass
class Center:
    """A workspace with one queue (everyone), one workflow into it, and helpers."""

    client: TestClient
    ws: Workspace
    queue: str
    workflow: str

    def task(self, **data: Any) -> str:
        data.setdefault("WorkflowSid", self.workflow)
        return str(self.ws.create("Tasks", **data)["sid"])

    def reservation(self, task: str, worker: str | None = None) -> str:
        found = [r for r in self.ws.list("Tasks", task, "Reservations")
                 if r["reservation_status"] == "pending"
                 and (worker is None or r["worker_sid"] == worker)]
        assert len(found) == 1, found
        return str(found[0]["sid"])

    def answer(self, task: str, status: str, worker: str | None = None) -> None:
        reservation = self.reservation(task, worker)
        self.ws.update("Tasks", task, "Reservations", reservation, ReservationStatus=status)

    def status(self, task: str) -> str:
        return str(self.ws.fetch("Tasks", task)["assignment_status"])

    def get(self, *path: str, **query: Any) -> dict[str, Any]:
        body: dict[str, Any] = ok(self.client.get(self.ws.path(*path), params=query or None))
        return body

    def advance(self, seconds: float) -> None:
        """Move the manual clock, firing every timer that falls due (``/dev/clock``)."""
        ok(self.client.post("/dev/clock", data={"Advance": seconds}))

    def available(self, name: str, **data: Any) -> str:
        return str(self.ws.worker(name, ActivitySid=self.ws.activity("Available"), **data)["sid"])


@pytest.fixture
def center(client: TestClient, ws: Workspace) -> Center:
    queue = ws.queue("Support")["sid"]
    workflow = ws.workflow("Main", queue)["sid"]
    return Center(client, ws, queue, workflow)


def cumulative_of(body: dict[str, Any]) -> dict[str, Any]:
    """The figures of a cumulative resource, without its identity fields."""
    return {k: v for k, v in body.items()
            if k not in ("account_sid", "workspace_sid", "task_queue_sid", "workflow_sid", "url",
                         "start_time", "end_time")}


# ---------------------------------------------------------------------- the main scenario


@pytest.fixture
def three_tasks(center: Center) -> dict[str, str]:
    """Three tasks at 0 s for one worker: the first accepted at 10 s, the second canceled at
    30 s, the third still waiting. The clock is left at 30 s."""
    alice = center.available("alice")
    first, second, third = center.task(), center.task(), center.task()
    assert [center.status(t) for t in (first, second, third)] == ["reserved", "pending",
                                                                  "pending"]
    center.advance(10)
    center.answer(first, "accepted")
    center.advance(20)
    center.ws.update("Tasks", second, AssignmentStatus="canceled")
    return {"alice": alice, "first": first, "second": second, "third": third}


def test_workspace_cumulative_counts_and_waits(center: Center,
                                               three_tasks: dict[str, str]) -> None:
    body = center.get("CumulativeStatistics")
    assert cumulative_of(body) == {
        "tasks_created": 3, "tasks_canceled": 1, "tasks_completed": 0, "tasks_deleted": 0,
        "tasks_moved": 0, "tasks_timed_out_in_workflow": 0,
        **reservations(created=1, accepted=1),
        "avg_task_acceptance_time": 10,
        "wait_duration_until_accepted": {"avg": 10, "min": 10, "max": 10, "total": 10},
        "wait_duration_until_canceled": {"avg": 30, "min": 30, "max": 30, "total": 30},
        "split_by_wait_time": None,
    }
    assert (body["start_time"], body["end_time"]) == (at(30 - 15 * 60), at(30))
    assert body["url"] == center.ws.url("CumulativeStatistics")
    assert (body["account_sid"], body["workspace_sid"]) == (ACCOUNT_SID, center.ws.sid)


def test_workspace_realtime_is_the_present(center: Center,
                                           three_tasks: dict[str, str]) -> None:
    body = center.get("RealTimeStatistics")
    assert body["total_tasks"] == 2  # the canceled one no longer counts
    assert body["tasks_by_status"] == {"pending": 1, "reserved": 0, "assigned": 1,
                                       "wrapping": 0}
    assert body["tasks_by_priority"] == {"0": 2}
    assert (body["longest_task_waiting_sid"], body["longest_task_waiting_age"]) == (
        three_tasks["third"], 30)
    assert body["total_workers"] == 1
    assert {a["friendly_name"]: a["workers"] for a in body["activity_statistics"]} == {
        "Offline": 0, "Available": 1, "Unavailable": 0}
    assert body["url"] == center.ws.url("RealTimeStatistics")


def test_workspace_statistics_combine_both(center: Center, three_tasks: dict[str, str]
                                           ) -> None:
    body = center.get("Statistics", SplitByWaitTime="10")
    assert body["cumulative"] == {
        **cumulative_of(center.get("CumulativeStatistics", SplitByWaitTime="10")),
        "start_time": at(30 - 15 * 60), "end_time": at(30)}
    realtime = center.get("RealTimeStatistics")
    assert body["realtime"] == {k: v for k, v in realtime.items()
                                if k not in ("account_sid", "workspace_sid", "url")}
    assert body["url"] == center.ws.url("Statistics")


def test_queue_statistics(center: Center, three_tasks: dict[str, str]) -> None:
    cumulative = center.get("TaskQueues", center.queue, "CumulativeStatistics")
    assert cumulative_of(cumulative) == {
        "tasks_entered": 3, "tasks_canceled": 1, "tasks_completed": 0, "tasks_deleted": 0,
        "tasks_moved": 0, **reservations(created=1, accepted=1),
        "avg_task_acceptance_time": 10,
        "wait_duration_until_accepted": {"avg": 10, "min": 10, "max": 10, "total": 10},
        "wait_duration_until_canceled": {"avg": 30, "min": 30, "max": 30, "total": 30},
        "wait_duration_in_queue_until_accepted": {"avg": 10, "min": 10, "max": 10, "total": 10},
        "split_by_wait_time": None,
    }
    realtime = center.get("TaskQueues", center.queue, "RealTimeStatistics")
    assert realtime["total_tasks"] == 2
    assert realtime["tasks_by_status"] == {"pending": 1, "reserved": 0, "assigned": 1,
                                           "wrapping": 0}
    assert (realtime["longest_task_waiting_sid"], realtime["longest_task_waiting_age"]) == (
        three_tasks["third"], 30)
    assert (realtime["longest_relative_task_sid_in_queue"],
            realtime["longest_relative_task_age_in_queue"]) == (three_tasks["third"], 30)
    assert (realtime["total_eligible_workers"], realtime["total_available_workers"]) == (1, 1)
    assert realtime["task_queue_sid"] == center.queue
    assert realtime["url"] == center.ws.url("TaskQueues", center.queue, "RealTimeStatistics")
    combined = center.get("TaskQueues", center.queue, "Statistics")
    assert combined["cumulative"]["tasks_entered"] == 3
    assert combined["realtime"]["total_tasks"] == 2
    assert combined["url"] == center.ws.url("TaskQueues", center.queue, "Statistics")


def test_workflow_statistics(center: Center, three_tasks: dict[str, str]) -> None:
    cumulative = center.get("Workflows", center.workflow, "CumulativeStatistics")
    assert cumulative_of(cumulative) == {
        "tasks_entered": 3, "tasks_canceled": 1, "tasks_completed": 0, "tasks_deleted": 0,
        "tasks_moved": 0, "tasks_timed_out_in_workflow": 0,
        **reservations(created=1, accepted=1), "avg_task_acceptance_time": 10,
        "wait_duration_until_accepted": {"avg": 10, "min": 10, "max": 10, "total": 10},
        "wait_duration_until_canceled": {"avg": 30, "min": 30, "max": 30, "total": 30},
        "split_by_wait_time": None,
    }
    assert cumulative["workflow_sid"] == center.workflow
    realtime = center.get("Workflows", center.workflow, "RealTimeStatistics")
    assert (realtime["total_tasks"], realtime["longest_task_waiting_sid"],
            realtime["longest_task_waiting_age"]) == (2, three_tasks["third"], 30)
    combined = center.get("Workflows", center.workflow, "Statistics")
    assert combined["cumulative"]["tasks_entered"] == 3
    assert combined["realtime"]["tasks_by_status"]["assigned"] == 1
    assert combined["url"] == center.ws.url("Workflows", center.workflow, "Statistics")


def test_finished_tasks_leave_the_realtime_figures(center: Center,
                                                   three_tasks: dict[str, str]) -> None:
    first = three_tasks["first"]
    center.ws.update("Tasks", first, AssignmentStatus="wrapping")
    assert center.get("RealTimeStatistics")["tasks_by_status"]["wrapping"] == 1
    center.ws.update("Tasks", first, AssignmentStatus="completed")
    # The third task is now reserved for the worker the first one freed.
    body = center.get("RealTimeStatistics")
    assert body["tasks_by_status"] == {"pending": 0, "reserved": 1, "assigned": 0,
                                       "wrapping": 0}
    assert body["longest_task_waiting_sid"] == three_tasks["third"]
    assert center.get("CumulativeStatistics")["tasks_completed"] == 1
    center.advance(10 * 60)  # finished tasks are purged after five minutes
    center.ws.update("Tasks", three_tasks["third"], AssignmentStatus="canceled")
    assert center.get("RealTimeStatistics")["total_tasks"] == 0


# ---------------------------------------------------------------------- windows


def test_windows_take_in_exactly_their_events(center: Center, three_tasks: dict[str, str]) -> None:
    center.advance(15 * 60 - 10)  # now: 15 min 20 s after the start
    default = center.get("CumulativeStatistics")  # from 20 s: only the cancel at 30 s
    assert (default["tasks_created"], default["reservations_accepted"],
            default["tasks_canceled"]) == (0, 0, 1)
    assert (default["start_time"], default["end_time"]) == (at(20), at(920))
    everything = center.get("CumulativeStatistics", Minutes=16)
    assert (everything["tasks_created"], everything["reservations_accepted"],
            everything["tasks_canceled"]) == (3, 1, 1)
    assert everything["start_time"] == at(920 - 16 * 60)

    # Both ends are included, to the millisecond.
    only_accept = center.get("CumulativeStatistics", StartDate=at(10), EndDate=at(10))
    assert (only_accept["tasks_created"], only_accept["reservations_accepted"],
            only_accept["tasks_canceled"]) == (0, 1, 0)
    assert (only_accept["start_time"], only_accept["end_time"]) == (at(10), at(10))
    after_accept = center.get("CumulativeStatistics", StartDate=at(11))
    assert (after_accept["reservations_accepted"], after_accept["tasks_canceled"]) == (0, 1)
    assert after_accept["end_time"] == at(920)
    # EndDate alone: the 15 minutes before it.
    before_accept = center.get("CumulativeStatistics", EndDate=at(9))
    assert (before_accept["tasks_created"], before_accept["reservations_accepted"]) == (3, 0)
    assert before_accept["start_time"] == at(9 - 15 * 60)
    # Windows of the other resources follow the same rules.
    queue = center.get("TaskQueues", center.queue, "CumulativeStatistics", StartDate=at(10),
                       EndDate=at(30))
    assert (queue["tasks_entered"], queue["reservations_accepted"],
            queue["tasks_canceled"]) == (0, 1, 1)
    workflow = center.get("Workflows", center.workflow, "Statistics", EndDate=at(0))
    assert workflow["cumulative"]["tasks_entered"] == 3


def test_window_errors(center: Center) -> None:
    for path in (("Statistics",), ("CumulativeStatistics",),
                 ("TaskQueues", center.queue, "CumulativeStatistics"),
                 ("Workers", "CumulativeStatistics"),
                 ("Workflows", center.workflow, "Statistics")):
        url = center.ws.path(*path)
        assert_invalid(center.client.get(url, params={"Minutes": 5, "StartDate": at(0)}),
                       "Minutes", "StartDate")
        assert_invalid(center.client.get(url, params={"Minutes": 5, "EndDate": at(0)}),
                       "Minutes")
        assert_invalid(center.client.get(url, params={"StartDate": at(10),
                                                      "EndDate": at(5)}), "StartDate")
        assert_invalid(center.client.get(url, params={"Minutes": 0}), "Minutes")
        assert_invalid(center.client.get(url, params={"StartDate": "yesterday"}), "StartDate")
        assert_invalid(center.client.get(url, params={"StartDate": at(60)}), "StartDate")
        assert_invalid(center.client.get(url, params={"TaskChannel": "fax"}), "TaskChannel")
    assert_invalid(center.client.get(center.ws.path("CumulativeStatistics"),
                                     params={"EndDate": at(-31 * 86_400)}), "30 days")
    for bad in ("5,x", "-5", "1.5", "", "5,,10"):
        assert_invalid(center.client.get(center.ws.path("CumulativeStatistics"),
                                         params={"SplitByWaitTime": bad}), "SplitByWaitTime")


def test_windows_reach_back_30_days(center: Center) -> None:
    center.task()
    center.advance(31 * 86_400)
    body = center.get("CumulativeStatistics", StartDate=at(0))
    assert body["start_time"] == at(86_400)  # 30 days before now
    assert body["tasks_created"] == 0
    body = center.get("CumulativeStatistics", Minutes=60 * 24 * 40)
    assert (body["start_time"], body["tasks_created"]) == (at(86_400), 0)


# ---------------------------------------------------------------------- waits in detail


def test_wait_durations_and_split_by_wait_time(center: Center, ws: Workspace) -> None:
    alice = center.available("alice")
    ws.update("Workers", alice, "Channels", "default", Capacity=5)
    accepted = [center.task() for _ in range(3)]
    canceled = [center.task(TaskChannel="chat") for _ in range(2)]  # alice has no chat room
    ws.update("Workers", alice, "Channels", "chat", Capacity=0)
    center.advance(5)
    center.answer(accepted[0], "accepted")  # waited 5 s
    center.advance(5)
    center.answer(accepted[1], "accepted")  # 10 s
    center.advance(11)
    center.answer(accepted[2], "accepted")  # 21 s
    center.advance(4)
    for task in canceled:  # 25 s, then 40 s
        if center.status(task) != "canceled":
            ws.update("Tasks", task, AssignmentStatus="canceled")
        center.advance(15)

    body = center.get("CumulativeStatistics", SplitByWaitTime="5,10,20,60")
    assert body["wait_duration_until_accepted"] == {"avg": 12, "min": 5, "max": 21,
                                                    "total": 36}
    assert body["avg_task_acceptance_time"] == 12
    assert body["wait_duration_until_canceled"] == {"avg": 33, "min": 25, "max": 40,
                                                    "total": 65}
    split = body["split_by_wait_time"]
    assert list(split) == ["5", "10", "20", "60"]
    assert split["5"] == {"below": {"tasks_canceled": 0, "reservations_accepted": 1},
                          "above": {"tasks_canceled": 2, "reservations_accepted": 2}}
    assert split["10"] == {"below": {"tasks_canceled": 0, "reservations_accepted": 2},
                           "above": {"tasks_canceled": 2, "reservations_accepted": 1}}
    assert split["20"] == split["10"]
    assert split["60"] == {"below": {"tasks_canceled": 2, "reservations_accepted": 3},
                           "above": {"tasks_canceled": 0, "reservations_accepted": 0}}
    queue = center.get("TaskQueues", center.queue, "Statistics", SplitByWaitTime="20")
    assert queue["cumulative"]["split_by_wait_time"] == {"20": split["20"]}
    assert center.get("Workflows", center.workflow, "CumulativeStatistics",
                      SplitByWaitTime="20")["split_by_wait_time"] == {"20": split["20"]}


def test_task_channel_filters(center: Center, ws: Workspace) -> None:
    on_default = center.task()
    on_chat = [center.task(TaskChannel="chat"), center.task(TaskChannel="chat")]
    center.advance(7)
    ws.update("Tasks", on_chat[0], AssignmentStatus="canceled")
    chat = next(c for c in ws.list("TaskChannels") if c["unique_name"] == "chat")

    by_name = center.get("CumulativeStatistics", TaskChannel="chat")
    assert (by_name["tasks_created"], by_name["tasks_canceled"]) == (2, 1)
    assert by_name["wait_duration_until_canceled"]["total"] == 7
    assert center.get("CumulativeStatistics", TaskChannel=chat["sid"]) == by_name
    default = center.get("CumulativeStatistics", TaskChannel="default")
    assert (default["tasks_created"], default["tasks_canceled"]) == (1, 0)
    assert center.get("CumulativeStatistics", TaskChannel="voice")["tasks_created"] == 0

    realtime = center.get("RealTimeStatistics", TaskChannel="chat")
    assert (realtime["total_tasks"], realtime["longest_task_waiting_sid"]) == (1, on_chat[1])
    realtime = center.get("RealTimeStatistics", TaskChannel="default")
    assert (realtime["total_tasks"], realtime["longest_task_waiting_sid"]) == (1, on_default)
    assert center.get("RealTimeStatistics")["total_tasks"] == 2
    queue = center.get("TaskQueues", center.queue, "Statistics", TaskChannel="chat")
    assert (queue["cumulative"]["tasks_entered"], queue["realtime"]["total_tasks"]) == (2, 1)
    workflow = center.get("Workflows", center.workflow, "RealTimeStatistics",
                          TaskChannel="chat")
    assert workflow["total_tasks"] == 1


def test_task_channel_and_workers(center: Center, ws: Workspace) -> None:
    alice = center.available("alice")
    center.available("bob")
    ws.update("Workers", alice, "Channels", "chat", Capacity=0)
    assert center.get("Workers", "RealTimeStatistics", TaskChannel="chat")["total_workers"] == 1
    assert center.get("Workers", "RealTimeStatistics")["total_workers"] == 2
    queue = center.get("TaskQueues", center.queue, "RealTimeStatistics", TaskChannel="chat")
    assert (queue["total_eligible_workers"], queue["total_available_workers"]) == (1, 1)
    ws.update("Workers", alice, "Channels", "default", Available=False)
    queue = center.get("TaskQueues", center.queue, "RealTimeStatistics", TaskChannel="default")
    assert (queue["total_eligible_workers"], queue["total_available_workers"]) == (2, 1)


# ---------------------------------------------------------------------- moves and timeouts


def test_moves_between_queues_and_waits_in_queue(center: Center, ws: Workspace) -> None:
    first = ws.queue("First", TargetWorkers="skills HAS 'first'")["sid"]
    second = ws.queue("Second", TargetWorkers="skills HAS 'second'")["sid"]
    workflow = ws.create("Workflows", FriendlyName="Cascade", Configuration=json.dumps(
        {"task_routing": {"filters": [{"filter_friendly_name": "all", "expression": "1==1",
                                        "targets": [{"queue": first, "timeout": 60},
                                                    {"queue": second}]}]}}))["sid"]
    center.available("alice", Attributes=json.dumps({"skills": ["second"]}))
    task = center.task(WorkflowSid=workflow)
    center.advance(60)  # the first step times out: the task moves to the second queue
    assert center.status(task) == "reserved"
    center.advance(10)
    center.answer(task, "accepted")

    assert center.get("CumulativeStatistics")["tasks_moved"] == 1
    left = center.get("TaskQueues", first, "CumulativeStatistics")
    assert (left["tasks_entered"], left["tasks_moved"], left["reservations_created"]) == (
        1, 1, 0)
    arrived = center.get("TaskQueues", second, "CumulativeStatistics")
    assert (arrived["tasks_entered"], arrived["tasks_moved"]) == (1, 0)
    assert arrived["wait_duration_until_accepted"] == {"avg": 70, "min": 70, "max": 70,
                                                       "total": 70}
    assert arrived["wait_duration_in_queue_until_accepted"] == {"avg": 10, "min": 10,
                                                                "max": 10, "total": 10}
    assert center.get("Workflows", workflow, "CumulativeStatistics")["tasks_moved"] == 1
    assert center.get("Workflows", center.workflow, "CumulativeStatistics")["tasks_moved"] == 0


def test_timed_out_in_workflow(center: Center, ws: Workspace) -> None:
    nobody = ws.queue("Nobody", TargetWorkers="skills HAS 'none'")["sid"]
    workflow = ws.create("Workflows", FriendlyName="Short", Configuration=json.dumps(
        {"task_routing": {"filters": [{"filter_friendly_name": "all", "expression": "1==1",
                                        "targets": [{"queue": nobody, "timeout": 30}]}]}}))["sid"]
    task = center.task(WorkflowSid=workflow)
    center.advance(30)
    assert center.status(task) == "canceled"
    body = center.get("CumulativeStatistics")
    assert (body["tasks_timed_out_in_workflow"], body["tasks_canceled"]) == (1, 1)
    assert body["wait_duration_until_canceled"]["total"] == 30
    assert center.get("Workflows", workflow, "CumulativeStatistics")[
        "tasks_timed_out_in_workflow"] == 1
    assert center.get("Workflows", center.workflow, "CumulativeStatistics")[
        "tasks_timed_out_in_workflow"] == 0
    assert center.get("TaskQueues", nobody, "CumulativeStatistics")["tasks_canceled"] == 1


def test_deleted_tasks(center: Center, ws: Workspace) -> None:
    task = center.task()
    ws.delete("Tasks", task)
    assert center.get("CumulativeStatistics")["tasks_deleted"] == 1
    assert center.get("TaskQueues", center.queue, "CumulativeStatistics")["tasks_deleted"] == 1
    assert center.get("RealTimeStatistics")["total_tasks"] == 0


def test_tasks_the_system_deleted_count_as_deleted(center: Center, ws: Workspace) -> None:
    alice = center.available("alice")
    task = center.task()
    center.answer(task, "accepted", alice)
    center.advance(24 * 3600)  # assigned for 24 hours and never completed
    body = center.get("CumulativeStatistics", Minutes=1)
    assert (body["tasks_deleted"], body["tasks_completed"]) == (1, 0)
    assert center.get("RealTimeStatistics")["total_tasks"] == 0
    events = center.get("Events", EventType="task.system-deleted")["events"]
    assert [e["resource_sid"] for e in events] == [task]


# ---------------------------------------------------------------------- reservations


def test_reservations_by_outcome(center: Center, ws: Workspace) -> None:
    ws.update("TaskQueues", center.queue, MaxReservedWorkers=2)
    ws.update("Workflows", center.workflow, TaskReservationTimeout=30)
    alice, bob = center.available("alice"), center.available("bob")
    first = center.task()  # offered to both
    center.advance(5)
    center.answer(first, "accepted", alice)  # bob's offer is rescinded
    second = center.task()  # bob is free again
    center.advance(1)
    center.answer(second, "rejected", bob)
    third = center.task()  # bob, not excluded for this one
    center.advance(1)
    ws.update("Tasks", third, AssignmentStatus="canceled")  # bob's offer is canceled
    assert center.reservation(second, bob)  # bob, free again, is offered the second again
    center.advance(30)  # and lets it time out

    assert {k: center.get("CumulativeStatistics")[k] for k in RESERVATION_FIGURES} == (
        reservations(created=5, accepted=1, rejected=1, timed_out=1, canceled=1, rescinded=1))
    queue = center.get("TaskQueues", center.queue, "CumulativeStatistics")
    assert {k: queue[k] for k in RESERVATION_FIGURES} == reservations(
        created=5, accepted=1, rejected=1, timed_out=1, canceled=1, rescinded=1)
    of_alice = center.get("Workers", alice, "Statistics")["cumulative"]
    assert {k: of_alice[k] for k in RESERVATION_FIGURES} == reservations(created=1, accepted=1)
    of_bob = center.get("Workers", bob, "Statistics")["cumulative"]
    assert {k: of_bob[k] for k in RESERVATION_FIGURES} == reservations(
        created=4, rejected=1, timed_out=1, canceled=1, rescinded=1)
    named = center.get("Workers", "CumulativeStatistics", FriendlyName="BOB")
    assert {k: named[k] for k in RESERVATION_FIGURES} == {k: of_bob[k]
                                                          for k in RESERVATION_FIGURES}
    everyone = center.get("Workers", "Statistics")["cumulative"]
    assert everyone["reservations_created"] == 5


# ---------------------------------------------------------------------- workers' time


@pytest.fixture
def shifts(center: Center, ws: Workspace) -> dict[str, str]:
    """alice: Available, Unavailable at 60 s, Available at 100 s. bob: Offline, Available at
    100 s. carol: Offline throughout. dave: Available, deleted at 20 s. Clock left at 150 s."""
    available, unavailable = ws.activity("Available"), ws.activity("Unavailable")
    team = ws.queue("Team", TargetWorkers="team == 'x'")["sid"]
    sids = {"alice": center.available("alice"),
            "bob": str(ws.worker("bob", Attributes='{"team": "x"}')["sid"]),
            "carol": str(ws.worker("carol", Attributes='{"team": "x"}')["sid"]),
            "dave": center.available("dave"), "team": team}
    center.advance(20)
    ws.delete("Workers", sids["dave"])
    center.advance(40)
    ws.update("Workers", sids["alice"], ActivitySid=unavailable)
    center.advance(40)
    ws.update("Workers", sids["alice"], ActivitySid=available)
    ws.update("Workers", sids["bob"], ActivitySid=available)
    center.advance(50)
    return sids


def durations(body: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {a["friendly_name"]: {k: a[k] for k in ("avg", "min", "max", "total")}
            for a in body["activity_durations"]}


def test_time_in_each_activity(center: Center, shifts: dict[str, str]) -> None:
    body = center.get("Workers", "CumulativeStatistics")
    # Available: alice 60 + 50, bob 50, dave 20. Offline: bob 100, carol 150.
    assert durations(body) == {
        "Offline": {"avg": 125, "min": 100, "max": 150, "total": 250},
        "Available": {"avg": 60, "min": 20, "max": 110, "total": 180},
        "Unavailable": {"avg": 40, "min": 40, "max": 40, "total": 40},
    }
    assert [a["sid"] for a in body["activity_durations"]] == [
        a["sid"] for a in center.ws.list("Activities")]
    assert center.get("Workers", "Statistics")["cumulative"]["activity_durations"] == body[
        "activity_durations"]


def test_time_in_each_activity_over_windows(center: Center, shifts: dict[str, str]) -> None:
    # From 80 s: alice Unavailable 20 then Available 50; bob Offline 20 then Available 50;
    # carol, who did not move since, Offline 70.
    late = center.get("Workers", "CumulativeStatistics", StartDate=at(80))
    assert durations(late) == {
        "Offline": {"avg": 45, "min": 20, "max": 70, "total": 90},
        "Available": {"avg": 50, "min": 50, "max": 50, "total": 100},
        "Unavailable": {"avg": 20, "min": 20, "max": 20, "total": 20},
    }
    # 10 s to 80 s: alice Available 50, Unavailable 20; bob and carol Offline 70; dave
    # Available 10.
    middle = center.get("Workers", "CumulativeStatistics", StartDate=at(10), EndDate=at(80))
    assert durations(middle) == {
        "Offline": {"avg": 70, "min": 70, "max": 70, "total": 140},
        "Available": {"avg": 30, "min": 10, "max": 50, "total": 60},
        "Unavailable": {"avg": 20, "min": 20, "max": 20, "total": 20},
    }


def test_time_in_each_activity_of_some_workers(center: Center, shifts: dict[str, str]) -> None:
    alice = center.get("Workers", shifts["alice"], "Statistics")
    assert durations(alice["cumulative"]) == {
        "Offline": ZERO, "Available": {"avg": 110, "min": 110, "max": 110, "total": 110},
        "Unavailable": {"avg": 40, "min": 40, "max": 40, "total": 40}}
    assert (alice["worker_sid"], alice["url"]) == (
        shifts["alice"], center.ws.url("Workers", shifts["alice"], "Statistics"))
    team = center.get("Workers", "Statistics", TaskQueueSid=shifts["team"])
    assert durations(team["cumulative"]) == {
        "Offline": {"avg": 125, "min": 100, "max": 150, "total": 250},
        "Available": {"avg": 50, "min": 50, "max": 50, "total": 50}, "Unavailable": ZERO}
    assert team["realtime"]["total_workers"] == 2
    assert center.get("Workers", "CumulativeStatistics", TaskQueueName="Team") == {
        **center.get("Workers", "CumulativeStatistics", TaskQueueSid=shifts["team"])}
    carol = center.get("Workers", "RealTimeStatistics", FriendlyName="carol")
    assert carol["total_workers"] == 1
    nobody = center.get("Workers", "Statistics", TaskQueueSid=shifts["team"],
                        FriendlyName="alice")
    assert nobody["realtime"]["total_workers"] == 0
    assert all(a["total"] == 0 for a in nobody["cumulative"]["activity_durations"])


def test_workers_realtime(center: Center, shifts: dict[str, str]) -> None:
    body = center.get("Workers", "RealTimeStatistics")
    assert body["total_workers"] == 3
    assert {a["friendly_name"]: a["workers"] for a in body["activity_statistics"]} == {
        "Offline": 1, "Available": 2, "Unavailable": 0}
    assert body["url"] == center.ws.url("Workers", "RealTimeStatistics")
    queue = center.get("TaskQueues", shifts["team"], "RealTimeStatistics")
    assert (queue["total_eligible_workers"], queue["total_available_workers"]) == (2, 1)


def test_a_deleted_worker_has_no_statistics(center: Center, shifts: dict[str, str]) -> None:
    response = center.client.get(center.ws.path("Workers", shifts["dave"], "Statistics"))
    assert response.status_code == 404


# ---------------------------------------------------------------------- every queue at once


def test_list_of_queue_statistics(center: Center, ws: Workspace) -> None:
    names = ["Support", "B", "C", "D", "E"]
    for name in names[1:]:
        ws.queue(name)
    center.task()
    listed = ws.list("TaskQueues", "Statistics", PageSize=2)
    assert [item["task_queue_sid"] for item in listed] == [q["sid"]
                                                          for q in ws.list("TaskQueues")]
    assert listed[0]["cumulative"]["tasks_entered"] == 1
    assert listed[0]["realtime"]["total_tasks"] == 1
    assert all(item["cumulative"]["tasks_entered"] == 0 for item in listed[1:])
    page = ok(center.client.get(ws.path("TaskQueues", "Statistics"), params={"PageSize": 2}))
    assert page["meta"]["key"] == "task_queues_statistics"
    assert page["meta"]["next_page_url"]
    named = ws.list("TaskQueues", "Statistics", FriendlyName="C")
    assert len(named) == 1 and named[0]["realtime"]["total_tasks"] == 0


def test_bulk_realtime_statistics(center: Center, ws: Workspace) -> None:
    other = ws.queue("Other")["sid"]
    center.task()
    unknown = "WQ" + "f" * 32
    response = center.client.post(ws.path("TaskQueues", "RealTimeStatistics"),
                                  json={"QueueSids": [center.queue, other, unknown]})
    body = ok(response)
    assert body["task_queue_response_count"] == 3
    assert [d["task_queue_sid"] for d in body["task_queue_data"]] == [center.queue, other,
                                                                      unknown]
    assert [d["total_tasks"] for d in body["task_queue_data"]] == [1, 0, 0]
    single = center.get("TaskQueues", center.queue, "RealTimeStatistics")
    assert body["task_queue_data"][0] == {
        k: v for k, v in single.items() if k not in ("account_sid", "workspace_sid", "url")}
    assert body["url"] == ws.url("TaskQueues", "RealTimeStatistics")
    # The documentation's spelling, and a form, work too.
    assert ok(center.client.post(ws.path("TaskQueues", "RealTimeStatistics"),
                                 json={"queueSids": [other]}))["task_queue_response_count"] == 1
    assert ok(center.client.post(ws.path("TaskQueues", "RealTimeStatistics"),
                                 data={"QueueSids": [center.queue, other]})
              )["task_queue_response_count"] == 2


def test_bulk_realtime_statistics_errors(center: Center, ws: Workspace) -> None:
    path = ws.path("TaskQueues", "RealTimeStatistics")
    assert_invalid(center.client.post(path, json={"QueueSids": []}), "QueueSids")
    assert_invalid(center.client.post(path, json={}), "QueueSids")
    assert_invalid(center.client.post(path, json={"QueueSids": ["WQ" + f"{i:032x}"
                                                                for i in range(51)]}), "50")
    assert_invalid(center.client.post(path, json={"QueueSids": ["nope"]}), "nope")
    assert_invalid(center.client.post(path, content=b"{", headers={
        "content-type": "application/json"}), "JSON")
    assert ok(center.client.post(path, json={"QueueSids": ["WQ" + f"{i:032x}"
                                                           for i in range(50)]}))


# ---------------------------------------------------------------------- resources and routes


def test_statistics_paths_are_not_taken_for_sids(center: Center, ws: Workspace) -> None:
    assert "task_queues_statistics" in center.get("TaskQueues", "Statistics")
    assert "activity_statistics" in center.get("Workers", "RealTimeStatistics")
    assert "activity_durations" in center.get("Workers", "CumulativeStatistics")
    assert "cumulative" in center.get("Workers", "Statistics")
    assert "task_queue_data" in ok(center.client.post(
        ws.path("TaskQueues", "RealTimeStatistics"), json={"QueueSids": [center.queue]}))
    # The resources next to them still work.
    assert ws.fetch("TaskQueues", center.queue)["sid"] == center.queue
    assert ws.update("TaskQueues", center.queue, FriendlyName="Renamed")["friendly_name"] == (
        "Renamed")


def test_unknown_resources_are_404(center: Center) -> None:
    for path in (("TaskQueues", "WQ" + "0" * 32, "Statistics"),
                 ("Workflows", "WW" + "0" * 32, "CumulativeStatistics"),
                 ("Workers", "WK" + "0" * 32, "Statistics")):
        assert center.client.get(center.ws.path(*path)).status_code == 404
    assert center.client.get("/v1/Workspaces/WS" + "0" * 32 + "/Statistics").status_code == 404


def test_every_field_of_the_spec(center: Center, three_tasks: dict[str, str]) -> None:
    q, w, wk = center.queue, center.workflow, three_tasks["alice"]
    schemas = {
        ("Statistics",): "workspace_statistics",
        ("RealTimeStatistics",): "workspace_real_time_statistics",
        ("CumulativeStatistics",): "workspace_cumulative_statistics",
        ("TaskQueues", q, "Statistics"): "task_queue.task_queue_statistics",
        ("TaskQueues", q, "RealTimeStatistics"): "task_queue.task_queue_real_time_statistics",
        ("TaskQueues", q, "CumulativeStatistics"):
            "task_queue.task_queue_cumulative_statistics",
        ("Workers", "Statistics"): "worker.worker_statistics",
        ("Workers", "RealTimeStatistics"): "worker.workers_real_time_statistics",
        ("Workers", "CumulativeStatistics"): "worker.workers_cumulative_statistics",
        ("Workers", wk, "Statistics"): "worker.worker_instance_statistics",
        ("Workflows", w, "Statistics"): "workflow.workflow_statistics",
        ("Workflows", w, "RealTimeStatistics"): "workflow.workflow_real_time_statistics",
        ("Workflows", w, "CumulativeStatistics"): "workflow.workflow_cumulative_statistics",
    }
    for path, schema in schemas.items():
        assert_matches_spec(center.get(*path), "taskrouter.v1.workspace." + schema)
    for item in center.ws.list("TaskQueues", "Statistics"):
        assert_matches_spec(item, "taskrouter.v1.workspace.task_queue.task_queues_statistics")
    bulk = ok(center.client.post(center.ws.path("TaskQueues", "RealTimeStatistics"),
                                 json={"QueueSids": [q]}))
    assert_matches_spec(
        bulk, "taskrouter.v1.workspace.task_queue.task_queue_bulk_real_time_statistics")
    # The nested figures carry what the standalone resources carry.
    combined = center.get("TaskQueues", q, "Statistics")
    cumulative = center.get("TaskQueues", q, "CumulativeStatistics")
    assert set(combined["cumulative"]) == set(cumulative) - {
        "account_sid", "workspace_sid", "task_queue_sid", "url"}


# ---------------------------------------------------------------------- after a restart


def test_history_rebuilt_after_a_restart_gives_the_same_figures(
        center: Center, clock: ManualClock, runtime: Runtime, shifts: dict[str, str]) -> None:
    first = center.task()
    center.advance(3)
    center.ws.update("Tasks", first, AssignmentStatus="canceled")
    queries: list[tuple[tuple[str, ...], dict[str, Any]]] = [
        (("Statistics",), {"SplitByWaitTime": "2,5"}),
        (("Workers", "CumulativeStatistics"), {"StartDate": at(10)}),
        (("TaskQueues", center.queue, "CumulativeStatistics"), {}),
        (("Workflows", center.workflow, "Statistics"), {"Minutes": 60}),
        (("Workers", shifts["alice"], "Statistics"), {}),
    ]
    before = [center.get(*path, **query) for path, query in queries]

    again = make_runtime(runtime.store.url, clock, sids=counter_sids(10_000))
    try:
        with TestClient(create_app(again), base_url="http://testserver") as other:
            other.auth = (ACCOUNT_SID, AUTH_TOKEN)
            after = [ok(other.get(center.ws.path(*path), params=query or None))
                     for path, query in queries]
    finally:
        again.stop()
    assert after == before
