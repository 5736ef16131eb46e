"""The fields each kind of resource contributes to an event's ``event_data``.

Keys are snake_case, as in the Events API; the event callback payload uses the same fields in
CamelCase. One builder per resource keeps the two consistent.
"""

from __future__ import annotations

from typing import Any

from switchboard.routing.model import (
    Activity,
    Reservation,
    Task,
    TaskChannel,
    TaskQueue,
    Worker,
    Workflow,
    Workspace,
)


def workspace_data(workspace: Workspace) -> dict[str, Any]:
    return {"workspace_sid": workspace.sid, "workspace_name": workspace.friendly_name}


def activity_data(activity: Activity) -> dict[str, Any]:
    return {
        "activity_sid": activity.sid,
        "activity_name": activity.friendly_name,
        "activity_available": activity.available,
    }


def task_channel_data(channel: TaskChannel) -> dict[str, Any]:
    return {
        "task_channel_sid": channel.sid,
        "task_channel_name": channel.friendly_name,
        "task_channel_unique_name": channel.unique_name,
        "task_channel_optimized_routing": channel.channel_optimized_routing,
    }


def worker_data(worker: Worker, activity: Activity | None) -> dict[str, Any]:
    return {
        "worker_sid": worker.sid,
        "worker_name": worker.friendly_name,
        "worker_attributes": worker.attributes,
        "worker_activity_sid": worker.activity_sid,
        "worker_activity_name": activity.friendly_name if activity else None,
        "worker_version": str(worker.version),
    }


def task_queue_data(queue: TaskQueue) -> dict[str, Any]:
    return {
        "task_queue_sid": queue.sid,
        "task_queue_name": queue.friendly_name,
        "task_queue_target_expression": queue.target_workers,
    }


def workflow_data(workflow: Workflow) -> dict[str, Any]:
    return {"workflow_sid": workflow.sid, "workflow_name": workflow.friendly_name}


def task_data(task: Task, now: int, channel: TaskChannel | None, queue: TaskQueue | None,
              workflow: Workflow | None) -> dict[str, Any]:
    return {
        "task_sid": task.sid,
        "task_attributes": task.attributes,
        "task_age": max(0, (now - task.date_created) // 1000),
        "task_priority": task.priority,
        "task_assignment_status": task.assignment_status,
        "task_canceled_reason": task.reason if task.assignment_status == "canceled" else None,
        "task_completed_reason": task.reason if task.assignment_status == "completed" else None,
        "task_channel_sid": task.task_channel_sid,
        "task_channel_unique_name": channel.unique_name if channel else None,
        "task_queue_sid": task.task_queue_sid,
        "task_queue_name": queue.friendly_name if queue else None,
        "task_queue_entered_date": task.task_queue_entered_date,
        "task_date_created": task.date_created,
        "task_version": str(task.version),
        "task_routing_target": task.routing_target,
        "workflow_sid": task.workflow_sid,
        "workflow_name": workflow.friendly_name if workflow else None,
    }


def reservation_data(reservation: Reservation) -> dict[str, Any]:
    return {
        "reservation_sid": reservation.sid,
        "reservation_status": reservation.reservation_status,
        "reservation_version": str(reservation.version),
    }
