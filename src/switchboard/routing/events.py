"""The fields each kind of resource contributes to an event's ``event_data``.

Keys are snake_case, as in the Events API; the event callback payload uses the same fields in
CamelCase. One builder per resource keeps the two consistent.
"""

from __future__ import annotations

from typing import Any

from switchboard.routing.model import Activity, TaskChannel, TaskQueue, Worker, Workflow, Workspace


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
