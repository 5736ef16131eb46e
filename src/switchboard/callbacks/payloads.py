"""The form parameters of event and assignment callbacks, built from an event's data."""

from __future__ import annotations

from typing import Any

from switchboard.routing.model import Event

RESOURCE_TYPES = {
    "task": "Task", "reservation": "Reservation", "worker": "Worker", "activity": "Activity",
    "workflow": "Workflow", "workspace": "Workspace", "task_queue": "TaskQueue",
    "task_channel": "TaskChannel",
}
ASSIGNMENT_FIELDS = (
    "account_sid", "workspace_sid", "workflow_sid", "task_queue_sid", "worker_sid",
    "worker_attributes", "task_sid", "task_attributes", "task_age", "task_priority",
    "reservation_sid",
)


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def event_params(event: Event) -> dict[str, str]:
    """An event callback: the event's own fields plus its data, in CamelCase."""
    params = {camel(k): form_value(v) for k, v in event.data.items() if v is not None}
    params.update(
        Sid=event.sid,
        EventType=event.event_type,
        EventDescription=event.description,
        ResourceType=RESOURCE_TYPES.get(event.resource_type, event.resource_type),
        ResourceSid=event.resource_sid,
        Timestamp=str(event.event_date // 1000),
        TimestampMs=str(event.event_date),
    )
    return params


def assignment_params(event: Event) -> dict[str, str]:
    """An assignment callback for a ``reservation.created`` event."""
    data = event.data
    params = {camel(k): form_value(data[k]) for k in ASSIGNMENT_FIELDS
              if data.get(k) is not None}
    params["Timestamp"] = str(event.event_date // 1000)
    return params
