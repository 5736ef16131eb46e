"""Queue position and wait estimates (extensions, docs/extensions.md) through the official
client's own request machinery: the SDK has no classes for them, but ``Client.request``
reaches them with the same credentials and transport."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from twilio.rest import Client


def test_estimates_answer_the_official_client(
        twilio_client: Client, workspace: Any, advance: Callable[[float], Any]) -> None:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    available = next(a.sid for a in ws.activities.list() if a.friendly_name == "Available")
    queue = ws.task_queues.create(friendly_name="everyone", target_workers="1==1")
    workflow = ws.workflows.create(friendly_name="all", configuration=json.dumps(
        {"task_routing": {"default_filter": {"queue": queue.sid}}}))
    alice = ws.workers.create(friendly_name="alice", activity_sid=available)
    base = f"{twilio_client.taskrouter.base_url}/v1/Workspaces/{workspace.sid}"

    def get(path: str, **params: str) -> Any:
        reply = twilio_client.request("GET", f"{base}/{path}", params=params)
        return reply.status_code, json.loads(reply.text)

    # One task handled in 120 s teaches the queue its handle time.
    first = ws.tasks.create(workflow_sid=workflow.sid, attributes="{}")
    reservation = ws.tasks(first.sid).reservations.list()[0]
    assert reservation.worker_sid == alice.sid
    ws.tasks(first.sid).reservations(reservation.sid).update(reservation_status="accepted")
    advance(120)
    ws.tasks(first.sid).update(assignment_status="completed", reason="done")
    status, body = get(f"TaskQueues/{queue.sid}/EstimatedWaitTime")
    assert status == 200 and (body["available_workers"], body["estimated_wait_time"]) == (1, 0)

    held = ws.tasks.create(workflow_sid=workflow.sid, attributes="{}")
    reservation = ws.tasks(held.sid).reservations.list()[0]
    ws.tasks(held.sid).reservations(reservation.sid).update(reservation_status="accepted")
    advance(20)
    waiting = ws.tasks.create(workflow_sid=workflow.sid, attributes="{}")
    status, body = get(f"TaskQueues/{queue.sid}/EstimatedWaitTime", Priority="0")
    assert status == 200
    assert (body["waiting_tasks"], body["tasks_ahead"], body["estimated_wait_time"]) == (
        1, 1, 220)  # alice frees in 100 s, then takes the waiting task for 120 s
    status, position = get(f"Tasks/{waiting.sid}/QueuePosition")
    assert (position["position"], position["estimated_wait_time"]) == (1, 100)

    status, refused = get(f"TaskQueues/{queue.sid}/EstimatedWaitTime", Priority="high")
    assert status == 400 and refused["code"] == 20001 and "Priority" in refused["message"]
    status, missing = get(f"TaskQueues/WQ{'0' * 32}/EstimatedWaitTime")
    assert status == 404 and missing["code"] == 20404
