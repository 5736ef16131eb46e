"""What statistics read from one event of the log: a few columns and a few event_data fields.

Records are built from a committed ``Event`` (the runtime's listener) or from a stored row
(``queries.py``); both give the same record, so history rebuilt from the store after a restart
equals history followed live.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from switchboard.routing.model import Event

# The event types statistics count; every other type is skipped on arrival.
TASK_TYPES = frozenset({
    "task.created", "task.canceled", "task.completed", "task.deleted", "task.system-deleted",
    "task-queue.entered", "task-queue.moved", "workflow.timeout",
})
RESERVATION_TYPES = frozenset({
    "reservation.created", "reservation.accepted", "reservation.rejected",
    "reservation.timeout", "reservation.canceled", "reservation.rescinded",
})
WORKER_TYPES = frozenset({"worker.created", "worker.activity.update", "worker.deleted"})
COUNTED_TYPES = TASK_TYPES | RESERVATION_TYPES | WORKER_TYPES
# Which event_data fields each type needs (the rest of event_data is never read).
TASK_CREATED_FROM = frozenset({"reservation.accepted", "task.canceled"})
QUEUE_ENTERED_FROM = frozenset({"reservation.accepted"})
PREVIOUS_QUEUE_FROM = frozenset({"task-queue.moved"})
ACTIVITY_FROM = WORKER_TYPES
PREVIOUS_ACTIVITY_FROM = frozenset({"worker.activity.update"})
NEEDS_DATA = (TASK_CREATED_FROM | QUEUE_ENTERED_FROM | PREVIOUS_QUEUE_FROM | ACTIVITY_FROM
              | PREVIOUS_ACTIVITY_FROM)


class EventRecord(NamedTuple):
    seq: int
    event_type: str
    event_date: int
    task_sid: str | None
    worker_sid: str | None
    task_queue_sid: str | None
    workflow_sid: str | None
    task_channel: str | None  # the TaskChannel's unique name
    task_date_created: int | None
    task_queue_entered_date: int | None
    previous_task_queue_sid: str | None  # task-queue.moved: the queue the task left
    activity_sid: str | None  # worker.*: the worker's activity after the event
    previous_activity_sid: str | None  # worker.activity.update: the activity it left


def _int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def from_event(event: Event) -> EventRecord:
    kind = event.event_type
    if kind not in NEEDS_DATA:  # most events: columns only (this runs after every commit)
        return EventRecord(event.seq, kind, event.event_date, event.task_sid, event.worker_sid,
                           event.task_queue_sid, event.workflow_sid, event.task_channel,
                           None, None, None, None, None)
    data = event.data
    return EventRecord(
        event.seq, kind, event.event_date, event.task_sid, event.worker_sid,
        event.task_queue_sid, event.workflow_sid, event.task_channel,
        _int(data.get("task_date_created")) if kind in TASK_CREATED_FROM else None,
        _int(data.get("task_queue_entered_date")) if kind in QUEUE_ENTERED_FROM else None,
        _str(data.get("task_queue_previous_sid")) if kind in PREVIOUS_QUEUE_FROM else None,
        _str(data.get("worker_activity_sid")) if kind in ACTIVITY_FROM else None,
        _str(data.get("worker_previous_activity_sid")) if kind in PREVIOUS_ACTIVITY_FROM
        else None,
    )


def from_row(row: Any) -> EventRecord:
    """A row of ``queries.history_rows`` (columns in EventRecord order)."""
    return EventRecord(
        int(row[0]), row[1], int(row[2]), row[3], row[4], row[5], row[6], row[7],
        _int(row[8]), _int(row[9]), _str(row[10]), _str(row[11]), _str(row[12]))
