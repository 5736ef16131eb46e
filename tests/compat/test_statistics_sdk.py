"""Every statistics resource through the official ``twilio`` Python library, unchanged.

One scenario on the session server's manual clock (three tasks for one worker: the first
accepted after 10 s, the second canceled after 30 s, the third still waiting), then each
statistics endpoint called the SDK's way, its fields parsed by the SDK and checked by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException

RESERVATIONS = ("reservations_created", "reservations_accepted", "reservations_rejected",
                "reservations_timed_out", "reservations_canceled", "reservations_rescinded")


@dataclass
class QueueSids:
    """The bulk endpoint's JSON body: the SDK sends ``body.to_dict()``."""

    sids: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"QueueSids": self.sids}


@dataclass
class Scene:
    sid: str
    ws: Any
    queue: Any
    workflow: Any
    alice: Any
    tasks: list[Any]
    start: datetime  # a moment just before the scenario, as the SDK sends it (whole seconds)


@pytest.fixture
def scene(workspace: Any, twilio_client: Any, dev_clock: Any, server: Any,
          advance: Callable[[float], Any]) -> Scene:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    start = datetime.fromtimestamp(dev_clock(server).now_ms() // 1000, UTC)
    available = ws.activities.list(friendly_name="Available")[0]
    alice = ws.workers.create(friendly_name="alice", activity_sid=available.sid)
    queue = ws.task_queues.list(friendly_name="Sample Queue")[0]
    workflow = ws.workflows.list()[0]
    tasks = [ws.tasks.create(workflow_sid=workflow.sid, attributes=json.dumps({"n": n}))
             for n in range(3)]
    assert [t.assignment_status for t in tasks] == ["reserved", "pending", "pending"]
    advance(10)
    reservation = ws.tasks(tasks[0].sid).reservations.list()[0]
    ws.tasks(tasks[0].sid).reservations(reservation.sid).update(reservation_status="accepted")
    advance(20)
    ws.tasks(tasks[1].sid).update(assignment_status="canceled")
    return Scene(workspace.sid, ws, queue, workflow, alice, tasks, start)


def check_cumulative(figures: dict[str, Any] | Any, entered: str) -> None:
    """The scenario's cumulative figures, from a dict or an SDK instance."""
    get = figures.get if isinstance(figures, dict) else lambda name: getattr(figures, name)
    assert get(entered) == 3
    assert get("tasks_canceled") == 1
    assert [get(name) for name in RESERVATIONS] == [1, 1, 0, 0, 0, 0]
    assert get("avg_task_acceptance_time") == 10
    assert get("wait_duration_until_accepted") == {"avg": 10, "min": 10, "max": 10,
                                                   "total": 10}
    assert get("wait_duration_until_canceled") == {"avg": 30, "min": 30, "max": 30,
                                                   "total": 30}


def check_window(instance: Any, start: datetime) -> None:
    assert isinstance(instance.start_time, datetime) and instance.start_time == start
    assert isinstance(instance.end_time, datetime) and instance.end_time > start


def test_workspace_statistics(scene: Scene) -> None:
    combined = scene.ws.statistics().fetch(start_date=scene.start)
    check_cumulative(combined.cumulative, "tasks_created")
    assert combined.realtime["total_tasks"] == 2
    assert combined.url.endswith(f"/Workspaces/{scene.sid}/Statistics")

    realtime = scene.ws.real_time_statistics().fetch()
    assert (realtime.total_tasks, realtime.total_workers) == (2, 1)
    assert realtime.tasks_by_status == {"pending": 1, "reserved": 0, "assigned": 1,
                                        "wrapping": 0}
    assert realtime.tasks_by_priority == {"0": 2}
    assert (realtime.longest_task_waiting_sid, realtime.longest_task_waiting_age) == (
        scene.tasks[2].sid, 30)
    assert {a["friendly_name"]: a["workers"] for a in realtime.activity_statistics} == {
        "Offline": 0, "Available": 1, "Unavailable": 0}

    cumulative = scene.ws.cumulative_statistics().fetch(start_date=scene.start,
                                                        split_by_wait_time="15,60")
    check_cumulative(cumulative, "tasks_created")
    check_window(cumulative, scene.start)
    assert cumulative.split_by_wait_time == {
        "15": {"above": {"tasks_canceled": 1, "reservations_accepted": 0},
               "below": {"tasks_canceled": 0, "reservations_accepted": 1}},
        "60": {"above": {"tasks_canceled": 0, "reservations_accepted": 0},
               "below": {"tasks_canceled": 1, "reservations_accepted": 1}},
    }
    # The window follows Minutes, and TaskChannel filters.
    assert scene.ws.cumulative_statistics().fetch(minutes=1).tasks_created == 3
    assert scene.ws.cumulative_statistics().fetch(
        start_date=scene.start, task_channel="chat").tasks_created == 0


def test_task_queue_statistics(scene: Scene) -> None:
    queue = scene.ws.task_queues(scene.queue.sid)
    combined = queue.statistics().fetch(start_date=scene.start)
    check_cumulative(combined.cumulative, "tasks_entered")
    assert combined.realtime["total_eligible_workers"] == 1
    assert combined.task_queue_sid == scene.queue.sid

    realtime = queue.real_time_statistics().fetch()
    assert (realtime.total_tasks, realtime.total_available_workers,
            realtime.total_eligible_workers) == (2, 1, 1)
    assert (realtime.longest_relative_task_sid_in_queue,
            realtime.longest_relative_task_age_in_queue) == (scene.tasks[2].sid, 30)

    cumulative = queue.cumulative_statistics().fetch(start_date=scene.start)
    check_cumulative(cumulative, "tasks_entered")
    check_window(cumulative, scene.start)
    assert cumulative.wait_duration_in_queue_until_accepted["total"] == 10

    listed = scene.ws.task_queues.statistics.list(start_date=scene.start,
                                                  friendly_name="Sample Queue")
    assert [item.task_queue_sid for item in listed] == [scene.queue.sid]
    check_cumulative(listed[0].cumulative, "tasks_entered")
    assert listed[0].realtime["total_tasks"] == 2

    bulk = scene.ws.task_queues.bulk_real_time_statistics.create(
        body=QueueSids([scene.queue.sid]))
    assert bulk.task_queue_response_count == 1
    assert bulk.task_queue_data[0]["task_queue_sid"] == scene.queue.sid
    assert bulk.task_queue_data[0]["total_tasks"] == 2


def test_workers_statistics(scene: Scene) -> None:
    combined = scene.ws.workers.statistics().fetch(start_date=scene.start)
    assert [combined.cumulative[name] for name in RESERVATIONS] == [1, 1, 0, 0, 0, 0]
    assert combined.realtime["total_workers"] == 1
    spent = {a["friendly_name"]: a["total"] for a in combined.cumulative["activity_durations"]}
    assert spent == {"Offline": 0, "Available": 30, "Unavailable": 0}
    assert scene.ws.workers.statistics().fetch(
        start_date=scene.start, friendly_name="nobody").realtime["total_workers"] == 0

    realtime = scene.ws.workers.real_time_statistics().fetch()
    assert realtime.total_workers == 1

    cumulative = scene.ws.workers.cumulative_statistics().fetch(start_date=scene.start)
    assert (cumulative.reservations_created, cumulative.reservations_accepted) == (1, 1)
    check_window(cumulative, scene.start)
    assert [a["sid"] for a in cumulative.activity_durations] == [
        a.sid for a in scene.ws.activities.list()]

    mine = scene.ws.workers(scene.alice.sid).statistics().fetch(start_date=scene.start)
    assert mine.worker_sid == scene.alice.sid
    assert mine.cumulative["reservations_accepted"] == 1


def test_workflow_statistics(scene: Scene) -> None:
    workflow = scene.ws.workflows(scene.workflow.sid)
    combined = workflow.statistics().fetch(start_date=scene.start)
    check_cumulative(combined.cumulative, "tasks_entered")
    assert combined.realtime["tasks_by_status"]["pending"] == 1

    realtime = workflow.real_time_statistics().fetch()
    assert (realtime.total_tasks, realtime.longest_task_waiting_sid) == (
        2, scene.tasks[2].sid)

    cumulative = workflow.cumulative_statistics().fetch(start_date=scene.start)
    check_cumulative(cumulative, "tasks_entered")
    assert cumulative.tasks_timed_out_in_workflow == 0
    check_window(cumulative, scene.start)


def test_errors_as_the_sdk_raises_them(scene: Scene) -> None:
    with pytest.raises(TwilioRestException) as info:
        scene.ws.cumulative_statistics().fetch(minutes=5, start_date=scene.start)
    assert (info.value.status, info.value.code) == (400, 20001)
    with pytest.raises(TwilioRestException) as info:
        scene.ws.task_queues.bulk_real_time_statistics.create(body=QueueSids([]))
    assert info.value.status == 400
    with pytest.raises(TwilioRestException) as info:
        scene.ws.workers("WK" + "0" * 32).statistics().fetch()
    assert info.value.status == 404
