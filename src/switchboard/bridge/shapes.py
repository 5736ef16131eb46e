"""Resources as the Worker SDK (twilio-taskrouter.js) reads them from the event bridge.

These shapes differ from the public REST API's: dates are epoch **seconds** (except a
channel's ``last_reserved_time``, in milliseconds), ``version`` is an integer, a task names
its queue ``queue_sid``/``queue_name``, a queue says ``lifo_queue``, and a reservation carries
its whole task. The SDK refuses a payload that lacks any field its descriptors list (the
``*Properties`` lists of twilio-taskrouter 2.1.1: Worker, Activity, Channel, TaskQueue, Task,
Reservation), so every one is always present, null when there is no value;
``tests/compat/test_sdk_descriptors.py`` checks each shape against those lists under Node.

Transfers (``transfer``) are the exception: a reservation carries ``task_transfer`` (the
transfer that offered it) and ``active_outgoing_task_transfer`` (the transfer its worker has
in progress) only when there is one, and only where the SDK reads them with the task: pushed
reservations and the v2 list it loads at start. The SDK parses any object there, ``null``
included, as a transfer, and fails on ``null``; it parses answers to its reservation updates
without their task, and fails on a transfer there.
"""

from __future__ import annotations

from typing import Any, TypeVar

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import (
    Activity,
    Reservation,
    Task,
    TaskQueue,
    Transfer,
    Worker,
    WorkerChannel,
)
from switchboard.routing.resources import DEFAULT_RESERVATION_TIMEOUT
from switchboard.routing.views import channel_figures

E = TypeVar("E", Task, Reservation, Transfer)


def seconds(ms: int | None) -> int | None:
    return None if ms is None else ms // 1000


def removed(engine: WorkspaceEngine, sid: str | None, kind: type[E]) -> E | None:
    """A task, reservation or transfer deleted by a recent command: pushes of its last events
    are rendered after their commit."""
    found = engine.removed.get(sid or "")
    return found if isinstance(found, kind) else None


def worker(engine: WorkspaceEngine, w: Worker) -> dict[str, Any]:
    activity = engine.activities.get(w.activity_sid)
    return {
        "account_sid": w.account_sid,
        "workspace_sid": w.workspace_sid,
        "sid": w.sid,
        "friendly_name": w.friendly_name,
        "attributes": w.attributes,
        "activity_sid": w.activity_sid,
        "activity_name": activity.friendly_name if activity else None,
        "available": bool(activity and activity.available),
        "date_created": seconds(w.date_created),
        "date_updated": seconds(w.date_updated),
        "date_status_changed": seconds(w.date_status_changed),
        "version": w.version,
    }


def activity(a: Activity) -> dict[str, Any]:
    return {
        "account_sid": a.account_sid,
        "workspace_sid": a.workspace_sid,
        "sid": a.sid,
        "friendly_name": a.friendly_name,
        "available": a.available,
        "date_created": seconds(a.date_created),
        "date_updated": seconds(a.date_updated),
    }


def worker_channel(engine: WorkspaceEngine, wc: WorkerChannel) -> dict[str, Any]:
    figures = channel_figures(wc)
    channel = engine.task_channels.get(wc.task_channel_sid)
    reserved = [r.date_created for r in engine.worker_reservations.get(
        wc.worker_sid, {}).values() if r.task_channel_sid == wc.task_channel_sid]
    return {
        "account_sid": wc.account_sid,
        "workspace_sid": wc.workspace_sid,
        "sid": wc.sid,
        "worker_sid": wc.worker_sid,
        "task_channel_sid": wc.task_channel_sid,
        "task_channel_unique_name": channel.unique_name if channel else None,
        "configured_capacity": wc.configured_capacity,
        "available": wc.available,
        "assigned_tasks": figures["assigned_tasks"],
        "available_capacity_percentage": figures["available_capacity_percentage"],
        "last_reserved_time": max(reserved) if reserved else None,
        "date_created": seconds(wc.date_created),
        "date_updated": seconds(wc.date_updated),
    }


def task(engine: WorkspaceEngine, t: Task, now: int) -> dict[str, Any]:
    queue = engine.task_queues.get(t.task_queue_sid or "")
    workflow = engine.workflows.get(t.workflow_sid or "")
    channel = engine.task_channels.get(t.task_channel_sid)
    return {
        "account_sid": t.account_sid,
        "workspace_sid": t.workspace_sid,
        "sid": t.sid,
        "attributes": t.attributes,
        "addons": "{}",
        "age": max(0, (now - t.date_created) // 1000),
        "assignment_status": t.assignment_status,
        "priority": t.priority,
        "reason": t.reason,
        "timeout": t.timeout,
        "queue_sid": t.task_queue_sid,
        "queue_name": queue.friendly_name if queue else None,
        "workflow_sid": t.workflow_sid,
        "workflow_name": workflow.friendly_name if workflow else None,
        "task_channel_sid": t.task_channel_sid,
        "task_channel_unique_name": channel.unique_name if channel else None,
        "routing_target": t.routing_target,
        "date_created": seconds(t.date_created),
        "date_updated": seconds(t.date_updated),
        "task_queue_entered_date": seconds(t.task_queue_entered_date),
        "virtual_start_time": seconds(t.virtual_start_time),
        "version": t.version,
    }


def reservation_timeout(engine: WorkspaceEngine, r: Reservation) -> int:
    """Seconds a pending reservation has to be answered: its workflow's setting."""
    if r.timeout_at is not None:
        return max(0, (r.timeout_at - r.date_created) // 1000)
    workflow = engine.workflows.get(r.workflow_sid or "")
    return workflow.task_reservation_timeout if workflow else DEFAULT_RESERVATION_TIMEOUT


def reservation(engine: WorkspaceEngine, r: Reservation, now: int, *,
                incoming: bool = False, outgoing: bool = False) -> dict[str, Any]:
    """A reservation with its task and, when there is one and it is asked for, the transfer
    that offered it (``incoming``) and the transfer its worker has in progress
    (``outgoing``)."""
    w = engine.workers.get(r.worker_sid)
    t = engine.tasks.get(r.task_sid) or removed(engine, r.task_sid, Task)
    shape = {
        "account_sid": r.account_sid,
        "workspace_sid": r.workspace_sid,
        "sid": r.sid,
        "reservation_status": r.reservation_status,
        "reservation_timeout": reservation_timeout(engine, r),
        "task_sid": r.task_sid,
        "task_channel_sid": r.task_channel_sid,
        "worker_sid": r.worker_sid,
        "worker_name": w.friendly_name if w else None,
        "worker_previous_activity_sid": r.previous_activity_sid,
        "date_created": seconds(r.date_created),
        "date_updated": seconds(r.date_updated),
        "version": r.version,
        "task": task(engine, t, now) if t is not None else None,
    }
    if incoming and r.transfer_sid is not None:
        offered_by = engine.transfers.get(r.transfer_sid) or removed(
            engine, r.transfer_sid, Transfer)
        if offered_by is not None:
            shape["task_transfer"] = transfer(offered_by)
    if outgoing and t is not None and t.transfer is not None and (
            t.transfer.initiating_reservation_sid == r.sid):
        shape["active_outgoing_task_transfer"] = transfer(t.transfer)
    return shape


def transfer(t: Transfer) -> dict[str, Any]:
    """The SDK's Transfer (``TransferProperties``); ``task_sid`` names its OutgoingTransfer's
    task."""
    return {
        "account_sid": t.account_sid,
        "workspace_sid": t.workspace_sid,
        "sid": t.sid,
        "task_sid": t.task_sid,
        "initiating_reservation_sid": t.initiating_reservation_sid,
        "initiating_worker_sid": t.initiating_worker_sid,
        "initiating_queue_sid": t.initiating_queue_sid,
        "initiating_workflow_sid": t.initiating_workflow_sid,
        "transfer_type": t.transfer_type,
        "transfer_to": t.transfer_to,
        "transfer_mode": t.transfer_mode,
        "transfer_status": t.transfer_status,
        "transfer_failed_reason": t.transfer_failed_reason,
        "date_created": seconds(t.date_created),
        "date_updated": seconds(t.date_updated),
    }


def task_queue(engine: WorkspaceEngine, q: TaskQueue) -> dict[str, Any]:
    reservation_activity = engine.activities.get(q.reservation_activity_sid or "")
    assignment_activity = engine.activities.get(q.assignment_activity_sid or "")
    return {
        "account_sid": q.account_sid,
        "workspace_sid": q.workspace_sid,
        "sid": q.sid,
        "friendly_name": q.friendly_name,
        "target_workers": q.target_workers,
        "max_reserved_workers": q.max_reserved_workers,
        "task_order": q.task_order,
        # The SDK's TaskQueue descriptor requires it (TaskQueueProperties), beside task_order.
        "lifo_queue": q.task_order == "LIFO",
        "reservation_activity_sid": q.reservation_activity_sid,
        "reservation_activity_name": (reservation_activity.friendly_name
                                      if reservation_activity else None),
        "assignment_activity_sid": q.assignment_activity_sid,
        "assignment_activity_name": (assignment_activity.friendly_name
                                     if assignment_activity else None),
        "date_created": seconds(q.date_created),
        "date_updated": seconds(q.date_updated),
    }
