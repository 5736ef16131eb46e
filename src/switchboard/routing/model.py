"""The routing core's entities.

Each entity's stored fields are plain values (str, int, bool, None) with the same names as the
columns of its table in ``store/tables.py``; times are integer milliseconds since the epoch.
Derived, in-memory-only state (parsed attributes, counters, compiled expressions) lives in
fields marked ``derived`` and is rebuilt from the stored fields when the engine is loaded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from switchboard.routing.expressions import Expression
from switchboard.routing.workflow_config import Target, WorkflowConfig

DERIVED = {"derived": True}


def derived(default: Any = None, factory: Any = None) -> Any:
    """A field that is not stored but rebuilt from the stored ones."""
    if factory is not None:
        return field(default_factory=factory, metadata=DERIVED, compare=False, repr=False)
    return field(default=default, metadata=DERIVED, compare=False, repr=False)


def stored_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if not f.metadata.get("derived"))


@dataclass(slots=True)
class Workspace:
    kind: ClassVar[str] = "workspace"
    sid: str
    account_sid: str
    friendly_name: str
    event_callback_url: str | None
    events_filter: str | None
    multi_task_enabled: bool
    prioritize_queue_order: str
    default_activity_sid: str | None
    timeout_activity_sid: str | None
    date_created: int
    date_updated: int


@dataclass(slots=True)
class Activity:
    kind: ClassVar[str] = "activity"
    sid: str
    account_sid: str
    workspace_sid: str
    friendly_name: str
    available: bool
    date_created: int
    date_updated: int


@dataclass(slots=True)
class TaskChannel:
    kind: ClassVar[str] = "task_channel"
    sid: str
    account_sid: str
    workspace_sid: str
    friendly_name: str
    unique_name: str
    channel_optimized_routing: bool | None
    date_created: int
    date_updated: int


@dataclass(slots=True)
class Worker:
    kind: ClassVar[str] = "worker"
    sid: str
    account_sid: str
    workspace_sid: str
    friendly_name: str
    attributes: str
    activity_sid: str
    version: int
    date_created: int
    date_updated: int
    date_status_changed: int
    # When the worker last became free of work; the default worker order is longest idle first.
    idle_since: int
    parsed_attributes: dict[str, Any] = derived(factory=dict)


@dataclass(slots=True)
class WorkerChannel:
    kind: ClassVar[str] = "worker_channel"
    sid: str
    account_sid: str
    workspace_sid: str
    worker_sid: str
    task_channel_sid: str
    configured_capacity: int
    available: bool
    date_created: int
    date_updated: int
    # Reservations that hold capacity on this channel: pending, accepted and wrapping.
    reserved: int = derived(0)
    # Tasks the worker has accepted on this channel (accepted and wrapping reservations).
    assigned: int = derived(0)


@dataclass(slots=True)
class TaskQueue:
    kind: ClassVar[str] = "task_queue"
    sid: str
    account_sid: str
    workspace_sid: str
    friendly_name: str
    target_workers: str
    max_reserved_workers: int
    task_order: str
    reservation_activity_sid: str | None
    assignment_activity_sid: str | None
    date_created: int
    date_updated: int
    target: Expression | None = derived()


@dataclass(slots=True)
class Workflow:
    kind: ClassVar[str] = "workflow"
    sid: str
    account_sid: str
    workspace_sid: str
    friendly_name: str
    configuration: str
    assignment_callback_url: str | None
    fallback_assignment_callback_url: str | None
    task_reservation_timeout: int
    date_created: int
    date_updated: int
    config: WorkflowConfig | None = derived()


@dataclass(slots=True)
class Transfer:
    """A worker handing a task it holds to another worker or a queue (``transfers.py``)."""

    kind: ClassVar[str] = "transfer"
    sid: str
    account_sid: str
    workspace_sid: str
    task_sid: str
    initiating_reservation_sid: str
    initiating_worker_sid: str
    initiating_queue_sid: str | None
    initiating_workflow_sid: str | None
    transfer_type: str  # WORKER or QUEUE
    transfer_to: str  # the worker or queue SID
    transfer_mode: str  # WARM or COLD
    transfer_status: str  # initiated, failed, complete or canceled
    transfer_failed_reason: str | None
    date_created: int
    date_updated: int


TASK_ACTIVE = frozenset({"pending", "reserved", "assigned", "wrapping"})
TASK_WAITING = frozenset({"pending", "reserved"})
RESERVATION_OPEN = frozenset({"pending", "accepted", "wrapping"})


@dataclass(slots=True)
class Task:
    kind: ClassVar[str] = "task"
    sid: str
    account_sid: str
    workspace_sid: str
    seq: int  # creation order within the workspace: the last tie-break of queue order
    attributes: str
    assignment_status: str
    priority: int
    reason: str | None
    timeout: int  # seconds the task may wait to be assigned (its TTL)
    task_channel_sid: str
    workflow_sid: str | None
    task_queue_sid: str | None
    routing_target: str | None
    ignore_capacity: bool | None
    virtual_start_time: int
    task_queue_entered_date: int | None
    version: int
    date_created: int
    date_updated: int
    # Where the workflow has the task: the matched filter (-1 = default filter, None = routed
    # by RoutingTarget), the target within it, when that target times out, and when the
    # filter was entered (target timeouts add up from there).
    filter_index: int | None = None
    target_index: int = 0
    step_deadline: int | None = None
    filter_entered: int | None = None
    assignment_count: int = 0
    # When a finished task is purged, like TaskRouter's deletion 5 minutes after the end.
    purge_at: int | None = None
    parsed_attributes: dict[str, Any] = derived(factory=dict)
    target: Target | None = derived()
    config: WorkflowConfig | None = derived()  # the configuration the task routes by
    queue_key: tuple[Any, ...] | None = derived()  # its entry in a pending-task order
    # The transfer routing the task now (initiated, not yet ended): it, not the workflow or
    # RoutingTarget, says where the task goes.
    transfer: Transfer | None = derived()
    # How its latest reservation came about, for explaining it (routing/explain.py): when,
    # "task" (offered to the idle workers) or "worker" (a worker that became free took it),
    # and the first worker chosen with its idle_since before reserving reset it. Not stored.
    decision: tuple[int, str, str, int] | None = derived()


@dataclass(slots=True)
class Reservation:
    kind: ClassVar[str] = "reservation"
    sid: str
    account_sid: str
    workspace_sid: str
    task_sid: str
    worker_sid: str
    reservation_status: str
    task_channel_sid: str
    task_queue_sid: str | None
    workflow_sid: str | None
    timeout_at: int | None  # when a pending reservation times out
    # The worker's activity before this reservation changed it (single-tasking workspaces).
    previous_activity_sid: str | None
    version: int
    date_created: int
    date_updated: int
    transfer_sid: str | None = None  # the transfer that offered the task to this worker


@dataclass(slots=True)
class Event:
    """One entry of a workspace's ordered event log."""

    kind: ClassVar[str] = "event"
    sid: str
    account_sid: str
    workspace_sid: str
    seq: int
    event_type: str
    event_date: int
    resource_type: str
    resource_sid: str
    description: str
    data: dict[str, Any]  # the event_data of the Events API
    task_sid: str | None = None
    worker_sid: str | None = None
    reservation_sid: str | None = None
    task_queue_sid: str | None = None
    workflow_sid: str | None = None
    task_channel: str | None = None
    # The callbacks this event is owed, decided when it happens (the workspace's and workflow's
    # settings at that moment).
    callback_url: str | None = None
    assignment_url: str | None = None
    assignment_fallback_url: str | None = None


Entity = (
    Workspace | Activity | TaskChannel | Worker | WorkerChannel | TaskQueue | Workflow | Task
    | Reservation | Transfer
)
