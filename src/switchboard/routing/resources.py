"""The resources a workspace is configured with, their lookups and their rules.

Activities, task channels, workers and their channels, task queues and workflows: the
collections that hold them, the lookups that find them (404 for the path's own resource, 400
naming the parameter that refers to one), every validation rule on their input, and the changes
each makes to itself with its events. What a change means for routing (queue membership, offers
to workers, waiting tasks) is not decided here: the workspace engine (``engine.py``) calls the
parts that decide it after the resource has changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict, TypeVar

from switchboard.routing import events as event_data
from switchboard.routing import validate
from switchboard.routing.changes import ChangeRecorder
from switchboard.routing.errors import InvalidParameter, NotFound, PreconditionFailed
from switchboard.routing.events import EventLog
from switchboard.routing.expressions import Expression, ExpressionError, compile_expression
from switchboard.routing.model import (
    TASK_ACTIVE,
    Activity,
    Task,
    TaskChannel,
    TaskQueue,
    Worker,
    WorkerChannel,
    Workflow,
    Workspace,
)
from switchboard.routing.sids import SidFactory
from switchboard.routing.views import ChannelView, WorkerView
from switchboard.routing.workflow_config import (
    WorkflowConfig,
    WorkflowConfigError,
    parse_workflow_configuration,
)

DEFAULT_ACTIVITIES = (("Offline", False), ("Available", True), ("Unavailable", False))
DEFAULT_TASK_CHANNELS = (
    ("Default", "default"),
    ("Voice", "voice"),
    ("SMS", "sms"),
    ("Chat", "chat"),
    ("Video", "video"),
)
FIFO_QUEUE_NAME = "Sample Queue"
FIFO_WORKFLOW_NAME = "Default Fifo Workflow"
MATCH_ALL = "1==1"
MAX_RESERVED_WORKERS = 50
DEFAULT_RESERVATION_TIMEOUT = 120
MAX_RESERVATION_TIMEOUT = 86_400
MAX_WORKER_CHANNEL_CAPACITY = 1000
QUEUE_ORDERS = ("FIFO", "LIFO")

UNSET: Any = object()  # a keyword argument not given (None clears the value)
T = TypeVar("T")


class TaskQueueSettings(TypedDict, total=False):
    """A task queue's optional settings, as its creation and update take them (the engine
    passes them through to ``Resources``); one not given keeps its default or present value."""

    target_workers: str | None
    max_reserved_workers: int | None
    task_order: str | None
    reservation_activity_sid: str | None
    assignment_activity_sid: str | None


class WorkflowSettings(TypedDict, total=False):
    """A workflow's optional settings, as its creation and update take them."""

    assignment_callback_url: str | None
    fallback_assignment_callback_url: str | None
    task_reservation_timeout: int | None


def compile_target_workers(text: str, name: str = "TargetWorkers") -> Expression:
    try:
        return compile_expression(text)
    except ExpressionError as exc:
        raise InvalidParameter(f"{name}: {exc}") from None


def lookup(items: dict[str, T], sid: str, label: str, name: str | None) -> T:
    """A resource by SID: 404 when it is the path's resource, 400 naming the parameter when a
    parameter refers to it."""
    item = items.get(sid)
    if item is None:
        if name:
            article = "an" if label[0] in "AEIOU" else "a"
            raise InvalidParameter(f"{name} '{sid}' is not {article} {label} of this workspace")
        raise NotFound(f"The requested resource {label} {sid} was not found")
    return item


def check_queue_order(value: str) -> None:
    if value not in QUEUE_ORDERS:
        raise InvalidParameter(f"PrioritizeQueueOrder must be FIFO or LIFO, got '{value}'")


def check_task_order(value: str) -> None:
    if value not in QUEUE_ORDERS:
        raise InvalidParameter(f"TaskOrder must be FIFO or LIFO, got '{value}'")


def check_version(version: int, if_match: str | None, what: str) -> None:
    """``If-Match``: the resource's ETag is its version."""
    if if_match is not None and if_match.strip('"') != str(version):
        raise PreconditionFailed(
            f"{what} has version {version}; If-Match '{if_match}' does not match"
        )


def channel_event_fields(wc: WorkerChannel) -> dict[str, Any]:
    return {
        "worker_channel_available": wc.available,
        "worker_channel_available_capacity": max(0, wc.configured_capacity - wc.reserved),
        "worker_channel_task_count": wc.assigned,
    }


class Resources:
    """One workspace's configuration resources, by SID, with the indexes their rules need."""

    def __init__(self, workspace: Workspace, sids: SidFactory, log: EventLog,
                 changes: ChangeRecorder) -> None:
        self.workspace = workspace
        self.sids = sids
        self.log = log
        self.changes = changes
        self.activities: dict[str, Activity] = {}
        self.task_channels: dict[str, TaskChannel] = {}
        self.workers: dict[str, Worker] = {}
        self.worker_channels: dict[str, dict[str, WorkerChannel]] = {}  # worker -> channel -> WC
        self.task_queues: dict[str, TaskQueue] = {}
        self.workflows: dict[str, Workflow] = {}
        self.worker_names: dict[str, str] = {}  # casefolded friendly name -> worker sid
        self.channel_names: dict[str, str] = {}  # unique name -> task channel sid

    # ------------------------------------------------------------------ activities

    def activity(self, sid: str, name: str | None = None) -> Activity:
        return lookup(self.activities, sid, "Activity", name)

    def create_activity(self, friendly_name: str, available: bool, now: int) -> Activity:
        self.check_activity_name(friendly_name)
        activity = Activity(
            sid=self.sids("WA"),
            account_sid=self.workspace.account_sid,
            workspace_sid=self.workspace.sid,
            friendly_name=friendly_name,
            available=available,
            date_created=now,
            date_updated=now,
        )
        self.activities[activity.sid] = activity
        self.changes.touch(activity)
        self.log.emit("activity.created", "activity", activity.sid, now,
                      f"Activity {friendly_name} created", event_data.activity_data(activity))
        return activity

    def rename_activity(self, activity: Activity, friendly_name: str) -> None:
        self.check_activity_name(friendly_name, activity.sid)
        activity.friendly_name = friendly_name

    def activity_updated(self, activity: Activity, now: int) -> None:
        activity.date_updated = now
        self.changes.touch(activity)
        self.log.emit("activity.updated", "activity", activity.sid, now,
                      f"Activity {activity.friendly_name} updated",
                      event_data.activity_data(activity))

    def delete_activity(self, sid: str, now: int) -> None:
        activity = self.activity(sid)
        ws = self.workspace
        if sid in (ws.default_activity_sid, ws.timeout_activity_sid):
            raise InvalidParameter(
                f"Activity {sid} is the workspace's default or timeout activity and cannot be "
                "deleted"
            )
        if any(worker.activity_sid == sid for worker in self.workers.values()):
            raise InvalidParameter(f"Activity {sid} cannot be deleted while Workers are in it")
        for queue in self.task_queues.values():
            if sid in (queue.reservation_activity_sid, queue.assignment_activity_sid):
                raise InvalidParameter(
                    f"Activity {sid} cannot be deleted: TaskQueue {queue.sid} uses it"
                )
        del self.activities[sid]
        self.changes.delete(activity)
        self.log.emit("activity.deleted", "activity", sid, now,
                      f"Activity {activity.friendly_name} deleted",
                      event_data.activity_data(activity))

    def check_activity_name(self, name: str, own_sid: str | None = None) -> None:
        validate.friendly_name(name)
        folded = name.casefold()
        for activity in self.activities.values():
            if activity.sid != own_sid and activity.friendly_name.casefold() == folded:
                raise InvalidParameter(f"An Activity named '{name}' already exists")

    # ------------------------------------------------------------------ task channels

    def task_channel(self, sid_or_name: str, name: str | None = None) -> TaskChannel:
        sid = self.channel_names.get(sid_or_name, sid_or_name)
        channel = self.task_channels.get(sid)
        if channel is None:
            if name:
                raise InvalidParameter(
                    f"{name} '{sid_or_name}' is not a TaskChannel SID or unique name of this "
                    "workspace"
                )
            raise NotFound(f"The requested resource TaskChannel {sid_or_name} was not found")
        return channel

    def task_channel_by_name(self, unique_name: str) -> TaskChannel | None:
        sid = self.channel_names.get(unique_name)
        return self.task_channels[sid] if sid else None

    def create_task_channel(
        self, friendly_name: str, unique_name: str, optimized: bool | None, now: int
    ) -> TaskChannel:
        """A new channel; the caller gives every worker its channel (``add_worker_channel``)."""
        validate.friendly_name(friendly_name)
        validate.identifier(unique_name, "UniqueName")
        if unique_name in self.channel_names:
            raise InvalidParameter(f"A TaskChannel with UniqueName '{unique_name}' already exists")
        channel = TaskChannel(
            sid=self.sids("TC"),
            account_sid=self.workspace.account_sid,
            workspace_sid=self.workspace.sid,
            friendly_name=friendly_name,
            unique_name=unique_name,
            channel_optimized_routing=bool(optimized),
            date_created=now,
            date_updated=now,
        )
        self.task_channels[channel.sid] = channel
        self.channel_names[unique_name] = channel.sid
        self.changes.touch(channel)
        self.log.emit("task-channel.created", "task_channel", channel.sid, now,
                      f"TaskChannel {unique_name} created", event_data.task_channel_data(channel),
                      task_channel=unique_name)
        return channel

    def update_task_channel(
        self, sid: str, now: int, *, friendly_name: str | None, optimized: bool | None
    ) -> TaskChannel:
        channel = self.task_channel(sid)
        if friendly_name is not None:
            validate.friendly_name(friendly_name)
            channel.friendly_name = friendly_name
        if optimized is not None:
            channel.channel_optimized_routing = optimized
        channel.date_updated = now
        self.changes.touch(channel)
        self.log.emit("task-channel.updated", "task_channel", channel.sid, now,
                      f"TaskChannel {channel.unique_name} updated",
                      event_data.task_channel_data(channel), task_channel=channel.unique_name)
        return channel

    def delete_task_channel(self, sid: str, now: int, tasks: Iterable[Task]) -> None:
        """``tasks``: the workspace's tasks (a channel with active tasks stays)."""
        channel = self.task_channel(sid)
        if any(t.task_channel_sid == channel.sid and t.assignment_status in TASK_ACTIVE
               for t in tasks):
            raise InvalidParameter(f"TaskChannel {channel.unique_name} cannot be deleted while "
                                   "it has active Tasks")
        del self.task_channels[channel.sid]
        del self.channel_names[channel.unique_name]
        for channels in self.worker_channels.values():
            wc = channels.pop(channel.sid, None)
            if wc is not None:
                self.changes.delete(wc)
        self.changes.delete(channel)
        self.log.emit("task-channel.deleted", "task_channel", channel.sid, now,
                      f"TaskChannel {channel.unique_name} deleted",
                      event_data.task_channel_data(channel), task_channel=channel.unique_name)

    # ------------------------------------------------------------------ workers

    def worker(self, sid: str, name: str | None = None) -> Worker:
        return lookup(self.workers, sid, "Worker", name)

    def worker_by_name(self, friendly_name: str) -> Worker | None:
        sid = self.worker_names.get(friendly_name.casefold())
        return self.workers[sid] if sid else None

    def worker_view(self, worker: Worker) -> WorkerView:
        """The worker as TargetWorkers and ``worker.`` expressions see it."""
        channels = ChannelView(self.worker_channels[worker.sid], self.task_channel_by_name)
        return WorkerView(worker, self.activities.get(worker.activity_sid), channels)

    def create_worker(
        self, friendly_name: str, now: int, *, activity_sid: str | None, attributes: str | None
    ) -> Worker:
        """A new worker with a channel for every task channel, not yet in any queue."""
        self.check_worker_name(friendly_name)
        attributes = "{}" if attributes is None else attributes
        parsed = validate.attributes(attributes)
        activity_sid = activity_sid or self.workspace.default_activity_sid
        if activity_sid is None:
            raise InvalidParameter("ActivitySid is required: the workspace has no default activity")
        activity = self.activity(activity_sid, "ActivitySid")
        worker = Worker(
            sid=self.sids("WK"),
            account_sid=self.workspace.account_sid,
            workspace_sid=self.workspace.sid,
            friendly_name=friendly_name,
            attributes=attributes,
            activity_sid=activity.sid,
            version=0,
            date_created=now,
            date_updated=now,
            date_status_changed=now,
            idle_since=now,
            parsed_attributes=parsed,
        )
        self.workers[worker.sid] = worker
        self.worker_channels[worker.sid] = {}
        self.worker_names[friendly_name.casefold()] = worker.sid
        self.changes.touch(worker)
        self.log.emit("worker.created", "worker", worker.sid, now,
                      f"Worker {friendly_name} created", event_data.worker_data(worker, activity),
                      worker_sid=worker.sid)
        for channel in self.task_channels.values():
            self.add_worker_channel(worker, channel)
        return worker

    def check_worker_update(
        self,
        worker: Worker,
        *,
        activity_sid: str | None,
        attributes: str | None,
        friendly_name: str | None,
        reject_pending_reservations: bool,
        if_match: str | None,
    ) -> tuple[Activity | None, dict[str, Any] | None]:
        """Every check of a worker update, before anything changes: the new activity and the
        parsed attributes, when given."""
        check_version(worker.version, if_match, f"Worker {worker.sid}")
        # An empty ActivitySid is refused like any SID of no activity, not taken as absent.
        activity = (self.activity(activity_sid, "ActivitySid") if activity_sid is not None
                    else None)
        parsed = validate.attributes(attributes) if attributes is not None else None
        if friendly_name is not None and friendly_name != worker.friendly_name:
            self.check_worker_name(friendly_name, worker.sid)
        if reject_pending_reservations and (activity is None or activity.available):
            raise InvalidParameter(
                "Unable to reject pending reservations when updating to an Available activity "
                "state. RejectPendingReservations needs an ActivitySid of an unavailable Activity"
            )
        return activity, parsed

    def rename_worker(self, worker: Worker, friendly_name: str) -> None:
        del self.worker_names[worker.friendly_name.casefold()]
        self.worker_names[friendly_name.casefold()] = worker.sid
        worker.friendly_name = friendly_name

    def set_worker_attributes(self, worker: Worker, attributes: str, parsed: dict[str, Any],
                              now: int) -> None:
        worker.attributes = attributes
        worker.parsed_attributes = parsed
        self.bump_worker(worker, now)
        self.log.emit("worker.attributes.update", "worker", worker.sid, now,
                      f"Worker {worker.friendly_name} updated attributes",
                      event_data.worker_data(worker, self.activities.get(worker.activity_sid)),
                      worker_sid=worker.sid)

    def change_activity(self, worker: Worker, activity: Activity, now: int) -> None:
        """Move a worker to another activity (its queues may change: see ``membership``)."""
        previous = self.activities.get(worker.activity_sid)
        time_in_previous = now - worker.date_status_changed
        worker.activity_sid = activity.sid
        worker.date_status_changed = now
        self.bump_worker(worker, now)
        data = event_data.worker_data(worker, activity)
        data.update(
            worker_previous_activity_sid=previous.sid if previous else None,
            worker_previous_activity_name=previous.friendly_name if previous else None,
            worker_time_in_previous_activity=time_in_previous // 1000,
            worker_time_in_previous_activity_ms=time_in_previous,
        )
        self.log.emit("worker.activity.update", "worker", worker.sid, now,
                      f"Worker {worker.friendly_name} updated to {activity.friendly_name} "
                      "Activity", data, worker_sid=worker.sid)

    def bump_worker(self, worker: Worker, now: int) -> None:
        worker.version += 1
        worker.date_updated = now
        self.changes.touch(worker)

    def bump_worker_version(self, worker: Worker) -> None:
        """A change of what the worker holds rather than of the worker: its version (ETag)
        grows as TaskRouter's does, on each channel capacity or availability change and each
        reservation offered; the Worker SDK counts these itself and sends the count as
        If-Match (``enableVersionCheck``), since their pushes carry no worker."""
        worker.version += 1
        self.changes.touch(worker)

    def delete_worker(self, worker: Worker, now: int) -> None:
        """Remove a worker and its channels (its reservations and queues are the caller's)."""
        sid = worker.sid
        for wc in self.worker_channels.pop(sid).values():
            self.changes.delete(wc)
        del self.workers[sid]
        del self.worker_names[worker.friendly_name.casefold()]
        self.changes.delete(worker)
        self.log.emit("worker.deleted", "worker", sid, now,
                      f"Worker {worker.friendly_name} deleted",
                      event_data.worker_data(worker, self.activities.get(worker.activity_sid)),
                      worker_sid=sid)

    def check_worker_name(self, name: str, own_sid: str | None = None) -> None:
        validate.friendly_name(name)
        holder = self.worker_names.get(name.casefold())
        if holder is not None and holder != own_sid:
            raise InvalidParameter(f"A Worker named '{name}' already exists in this workspace")

    # ------------------------------------------------------------------ worker channels

    def worker_channel(self, worker_sid: str, sid: str) -> WorkerChannel:
        """A worker's channel by its WC SID, or by its TaskChannel's SID or unique name."""
        channels = self.worker_channels[self.worker(worker_sid).sid]
        for wc in channels.values():
            if wc.sid == sid:
                return wc
        task_channel = self.task_channels.get(self.channel_names.get(sid, sid))
        if task_channel is not None and task_channel.sid in channels:
            return channels[task_channel.sid]
        raise NotFound(f"The requested resource WorkerChannel {sid} was not found")

    def add_worker_channel(self, worker: Worker, channel: TaskChannel) -> None:
        wc = WorkerChannel(
            sid=self.sids("WC"),
            account_sid=self.workspace.account_sid,
            workspace_sid=self.workspace.sid,
            worker_sid=worker.sid,
            task_channel_sid=channel.sid,
            configured_capacity=1,
            available=True,
            date_created=channel.date_created if channel.date_created > worker.date_created
            else worker.date_created,
            date_updated=worker.date_updated,
        )
        self.worker_channels[worker.sid][channel.sid] = wc
        self.changes.touch(wc)

    def update_worker_channel(
        self, worker_sid: str, sid: str, now: int, *, capacity: int | None, available: bool | None
    ) -> WorkerChannel:
        wc = self.worker_channel(worker_sid, sid)
        if capacity is not None:
            validate.in_range(capacity, "Capacity", 0, MAX_WORKER_CHANNEL_CAPACITY)
        worker = self.workers[worker_sid]
        channel = self.task_channels[wc.task_channel_sid]
        base = event_data.worker_data(worker, self.activities.get(worker.activity_sid))
        base.update(event_data.task_channel_data(channel))
        if capacity is not None and capacity != wc.configured_capacity:
            previous = wc.configured_capacity
            wc.configured_capacity = capacity
            self.log.emit("worker.capacity.update", "worker", worker_sid, now,
                          f"Worker {worker.friendly_name} capacity on {channel.unique_name} "
                          "updated",
                          {**base, **channel_event_fields(wc),
                           "worker_channel_previous_capacity": previous},
                          worker_sid=worker_sid, task_channel=channel.unique_name)
            self.bump_worker_version(worker)
        if available is not None and available != wc.available:
            wc.available = available
            self.log.emit("worker.channel.availability.update", "worker", worker_sid, now,
                          f"Worker {worker.friendly_name} availability on {channel.unique_name} "
                          "updated",
                          {**base, **channel_event_fields(wc)},
                          worker_sid=worker_sid, task_channel=channel.unique_name)
            self.bump_worker_version(worker)
        wc.date_updated = now
        self.changes.touch(wc)
        return wc

    # ------------------------------------------------------------------ task queues

    def task_queue(self, sid: str, name: str | None = None) -> TaskQueue:
        return lookup(self.task_queues, sid, "TaskQueue", name)

    def create_task_queue(
        self,
        friendly_name: str,
        now: int,
        *,
        target_workers: str | None = None,
        max_reserved_workers: int | None = None,
        task_order: str | None = None,
        reservation_activity_sid: str | None = None,
        assignment_activity_sid: str | None = None,
    ) -> TaskQueue:
        """A new queue, without members yet (``membership.index_queue``)."""
        validate.friendly_name(friendly_name)
        target_workers = MATCH_ALL if target_workers is None else target_workers
        target = compile_target_workers(target_workers)
        max_reserved = 1 if max_reserved_workers is None else max_reserved_workers
        validate.in_range(max_reserved, "MaxReservedWorkers", 1, MAX_RESERVED_WORKERS)
        task_order = task_order or "FIFO"
        check_task_order(task_order)
        for sid, name in ((reservation_activity_sid, "ReservationActivitySid"),
                          (assignment_activity_sid, "AssignmentActivitySid")):
            if sid:
                self.activity(sid, name)
        queue = TaskQueue(
            sid=self.sids("WQ"),
            account_sid=self.workspace.account_sid,
            workspace_sid=self.workspace.sid,
            friendly_name=friendly_name,
            target_workers=target_workers,
            max_reserved_workers=max_reserved,
            task_order=task_order,
            reservation_activity_sid=reservation_activity_sid or None,
            assignment_activity_sid=assignment_activity_sid or None,
            date_created=now,
            date_updated=now,
            target=target,
        )
        self.task_queues[queue.sid] = queue
        self.changes.touch(queue)
        self.log.emit("task-queue.created", "task_queue", queue.sid, now,
                      f"TaskQueue {friendly_name} created", event_data.task_queue_data(queue),
                      task_queue_sid=queue.sid)
        return queue

    def update_task_queue(
        self,
        sid: str,
        now: int,
        *,
        friendly_name: str | None = None,
        target_workers: str | None = None,
        max_reserved_workers: int | None = None,
        task_order: str | None = None,
        reservation_activity_sid: str | None = None,
        assignment_activity_sid: str | None = None,
    ) -> tuple[TaskQueue, bool, bool]:
        """Returns the queue, whether its task order changed (its waiting tasks are to be
        re-keyed) and whether its TargetWorkers changed (its members are to be recomputed)."""
        queue = self.task_queue(sid)
        if friendly_name is not None:
            validate.friendly_name(friendly_name)
        target = compile_target_workers(target_workers) if target_workers is not None else None
        if max_reserved_workers is not None:
            validate.in_range(max_reserved_workers, "MaxReservedWorkers", 1, MAX_RESERVED_WORKERS)
        if task_order is not None:
            check_task_order(task_order)
        for activity_sid, name in ((reservation_activity_sid, "ReservationActivitySid"),
                                   (assignment_activity_sid, "AssignmentActivitySid")):
            if activity_sid:
                self.activity(activity_sid, name)

        if friendly_name is not None:
            queue.friendly_name = friendly_name
        if max_reserved_workers is not None:
            queue.max_reserved_workers = max_reserved_workers
        reorder = task_order is not None and task_order != queue.task_order
        if task_order is not None and reorder:
            queue.task_order = task_order
        if reservation_activity_sid is not None:
            queue.reservation_activity_sid = reservation_activity_sid or None
        if assignment_activity_sid is not None:
            queue.assignment_activity_sid = assignment_activity_sid or None
        queue.date_updated = now
        self.changes.touch(queue)
        retarget = target is not None and target_workers != queue.target_workers
        if target is not None and retarget:
            queue.target_workers = target_workers or ""
            queue.target = target
            self.log.emit("task-queue.expression.updated", "task_queue", sid, now,
                          f"TaskQueue {queue.friendly_name} target workers updated",
                          event_data.task_queue_data(queue), task_queue_sid=sid)
        return queue, reorder, retarget

    def check_task_queue_deletable(self, sid: str, tasks: Iterable[Task]) -> TaskQueue:
        """The queue, if nothing routes to it: no workflow and no active task."""
        queue = self.task_queue(sid)
        for workflow in self.workflows.values():
            if workflow.config is not None and sid in workflow.config.queue_sids:
                raise InvalidParameter(
                    f"TaskQueue {sid} cannot be deleted: Workflow {workflow.sid} "
                    f"('{workflow.friendly_name}') routes to it"
                )
        if any(t.task_queue_sid == sid and t.assignment_status in TASK_ACTIVE for t in tasks):
            raise InvalidParameter(f"TaskQueue {sid} cannot be deleted while it has active "
                                   "Tasks")
        return queue

    def delete_task_queue(self, queue: TaskQueue, now: int) -> None:
        del self.task_queues[queue.sid]
        self.changes.delete(queue)
        self.log.emit("task-queue.deleted", "task_queue", queue.sid, now,
                      f"TaskQueue {queue.friendly_name} deleted", event_data.task_queue_data(queue),
                      task_queue_sid=queue.sid)

    # ------------------------------------------------------------------ workflows

    def workflow(self, sid: str, name: str | None = None) -> Workflow:
        return lookup(self.workflows, sid, "Workflow", name)

    def parse_configuration(self, configuration: str) -> WorkflowConfig:
        try:
            return parse_workflow_configuration(configuration, self.task_queues.__contains__)
        except WorkflowConfigError as exc:
            raise InvalidParameter(str(exc)) from None

    def create_workflow(
        self,
        friendly_name: str,
        configuration: str,
        now: int,
        *,
        assignment_callback_url: str | None = None,
        fallback_assignment_callback_url: str | None = None,
        task_reservation_timeout: int | None = None,
    ) -> Workflow:
        validate.friendly_name(friendly_name)
        config = self.parse_configuration(configuration)
        validate.callback_url(assignment_callback_url, "AssignmentCallbackUrl")
        validate.callback_url(fallback_assignment_callback_url, "FallbackAssignmentCallbackUrl")
        timeout = DEFAULT_RESERVATION_TIMEOUT if task_reservation_timeout is None else (
            task_reservation_timeout
        )
        validate.in_range(timeout, "TaskReservationTimeout", 1, MAX_RESERVATION_TIMEOUT)
        workflow = Workflow(
            sid=self.sids("WW"),
            account_sid=self.workspace.account_sid,
            workspace_sid=self.workspace.sid,
            friendly_name=friendly_name,
            configuration=configuration,
            assignment_callback_url=assignment_callback_url or None,
            fallback_assignment_callback_url=fallback_assignment_callback_url or None,
            task_reservation_timeout=timeout,
            date_created=now,
            date_updated=now,
            config=config,
        )
        self.workflows[workflow.sid] = workflow
        self.changes.touch(workflow)
        self.log.emit("workflow.created", "workflow", workflow.sid, now,
                      f"Workflow {friendly_name} created", event_data.workflow_data(workflow),
                      workflow_sid=workflow.sid)
        return workflow

    def update_workflow(
        self,
        sid: str,
        now: int,
        *,
        friendly_name: str | None = None,
        configuration: str | None = None,
        assignment_callback_url: str | None = UNSET,
        fallback_assignment_callback_url: str | None = UNSET,
        task_reservation_timeout: int | None = None,
    ) -> tuple[Workflow, WorkflowConfig | None]:
        """Change a workflow (``workflow_updated`` records the event); returns it and its new
        configuration, if it has one."""
        workflow = self.workflow(sid)
        if friendly_name is not None:
            validate.friendly_name(friendly_name)
        config = self.parse_configuration(configuration) if configuration is not None else None
        if assignment_callback_url is not UNSET:
            validate.callback_url(assignment_callback_url, "AssignmentCallbackUrl")
        if fallback_assignment_callback_url is not UNSET:
            validate.callback_url(fallback_assignment_callback_url,
                                  "FallbackAssignmentCallbackUrl")
        if task_reservation_timeout is not None:
            validate.in_range(task_reservation_timeout, "TaskReservationTimeout", 1,
                              MAX_RESERVATION_TIMEOUT)

        if friendly_name is not None:
            workflow.friendly_name = friendly_name
        if config is not None and configuration is not None:
            workflow.configuration = configuration
            workflow.config = config
        if assignment_callback_url is not UNSET:
            workflow.assignment_callback_url = assignment_callback_url or None
        if fallback_assignment_callback_url is not UNSET:
            workflow.fallback_assignment_callback_url = fallback_assignment_callback_url or None
        if task_reservation_timeout is not None:
            workflow.task_reservation_timeout = task_reservation_timeout
        workflow.date_updated = now
        self.changes.touch(workflow)
        return workflow, config

    def workflow_updated(self, workflow: Workflow, now: int) -> None:
        self.log.emit("workflow.updated", "workflow", workflow.sid, now,
                      f"Workflow {workflow.friendly_name} updated",
                      event_data.workflow_data(workflow), workflow_sid=workflow.sid)

    def delete_workflow(self, sid: str, now: int, tasks: Iterable[Task]) -> None:
        """``tasks``: the workspace's tasks (a workflow with active tasks stays)."""
        workflow = self.workflow(sid)
        if any(t.workflow_sid == sid and t.assignment_status in TASK_ACTIVE for t in tasks):
            raise InvalidParameter(f"Workflow {sid} cannot be deleted while it has active Tasks")
        del self.workflows[sid]
        self.changes.delete(workflow)
        self.log.emit("workflow.deleted", "workflow", sid, now,
                      f"Workflow {workflow.friendly_name} deleted",
                      event_data.workflow_data(workflow), workflow_sid=sid)
