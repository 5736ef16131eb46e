"""One workspace's live state and every command that changes it.

The engine is the functional core: no I/O, no clock (every command is given ``now`` in epoch
milliseconds), no randomness beyond the injected SID factory. A command validates all its input
first, raising a ``RoutingError`` before anything changes, then applies its changes and records
them; ``take_changes()`` hands the rows and events to the caller, who commits them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from switchboard.routing import events as event_data
from switchboard.routing import validate
from switchboard.routing.changes import ChangeRecorder, Changes
from switchboard.routing.errors import InvalidParameter, NotFound, PreconditionFailed
from switchboard.routing.expressions import Expression, ExpressionError, compile_expression
from switchboard.routing.model import (
    TASK_ACTIVE,
    Activity,
    Event,
    Reservation,
    Task,
    TaskChannel,
    TaskQueue,
    Worker,
    WorkerChannel,
    Workflow,
    Workspace,
)
from switchboard.routing.router import Router
from switchboard.routing.sids import SidFactory, new_sid
from switchboard.routing.views import ACTIVITY_FIELDS, ChannelView, WorkerView
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

_UNSET: Any = object()
T = TypeVar("T")
# A worker as queue membership is evaluated against it: its SID and view.
Candidate = tuple[str, WorkerView]


def compile_target_workers(text: str, name: str = "TargetWorkers") -> Expression:
    try:
        return compile_expression(text)
    except ExpressionError as exc:
        raise InvalidParameter(f"{name}: {exc}") from None


class WorkspaceEngine:
    """The in-memory state of one workspace, with the indexes routing decisions need."""

    def __init__(self, workspace: Workspace, *, sids: SidFactory = new_sid) -> None:
        self.workspace = workspace
        self.sids = sids
        self.activities: dict[str, Activity] = {}
        self.task_channels: dict[str, TaskChannel] = {}
        self.workers: dict[str, Worker] = {}
        self.worker_channels: dict[str, dict[str, WorkerChannel]] = {}  # worker -> channel -> WC
        self.task_queues: dict[str, TaskQueue] = {}
        self.workflows: dict[str, Workflow] = {}
        # Queue membership by TargetWorkers, kept current as workers and queues change.
        self.queue_members: dict[str, set[str]] = {}
        self._activity_queues: dict[str, TaskQueue] = {}  # queues whose members follow activity
        self.worker_queues: dict[str, set[str]] = {}
        self._worker_names: dict[str, str] = {}  # casefolded friendly name -> worker sid
        self._channel_names: dict[str, str] = {}  # unique name -> task channel sid
        self.event_seq = 0
        self.changes = ChangeRecorder()
        self.router = Router(self)
        self._filter_text: str | None = None
        self._filter: frozenset[str] = frozenset()

    # ------------------------------------------------------------------ creation and loading

    @classmethod
    def create(
        cls,
        *,
        account_sid: str,
        friendly_name: str,
        now: int,
        event_callback_url: str | None = None,
        events_filter: str | None = None,
        multi_task_enabled: bool = True,
        template: str | None = None,
        prioritize_queue_order: str = "FIFO",
        sids: SidFactory = new_sid,
    ) -> WorkspaceEngine:
        """A new workspace with TaskRouter's default activities and channels."""
        validate.friendly_name(friendly_name)
        validate.callback_url(event_callback_url, "EventCallbackUrl")
        template = (template or "NONE").upper()
        if template not in ("NONE", "FIFO"):
            raise InvalidParameter(f"Template must be NONE or FIFO, got '{template}'")
        _check_queue_order(prioritize_queue_order)
        workspace = Workspace(
            sid=sids("WS"),
            account_sid=account_sid,
            friendly_name=friendly_name,
            event_callback_url=event_callback_url or None,
            events_filter=events_filter or None,
            multi_task_enabled=multi_task_enabled,
            prioritize_queue_order=prioritize_queue_order,
            default_activity_sid=None,
            timeout_activity_sid=None,
            date_created=now,
            date_updated=now,
        )
        engine = cls(workspace, sids=sids)
        engine.changes.touch(workspace)
        engine.emit("workspace.created", "workspace", workspace.sid, now,
                     f"Workspace {friendly_name} created", event_data.workspace_data(workspace))
        offline = None
        for name, available in DEFAULT_ACTIVITIES:
            activity = engine.create_activity(name, available, now)
            offline = offline or activity
        assert offline is not None
        workspace.default_activity_sid = workspace.timeout_activity_sid = offline.sid
        for name, unique_name in DEFAULT_TASK_CHANNELS:
            engine.create_task_channel(name, unique_name, None, now)
        if template == "FIFO":
            queue = engine.create_task_queue(FIFO_QUEUE_NAME, now)
            engine.create_workflow(
                FIFO_WORKFLOW_NAME,
                json.dumps({"task_routing": {"default_filter": {"queue": queue.sid}}}),
                now,
            )
        return engine

    @classmethod
    def load(
        cls,
        workspace: Workspace,
        *,
        activities: Iterable[Activity],
        task_channels: Iterable[TaskChannel],
        workers: Iterable[Worker],
        worker_channels: Iterable[WorkerChannel],
        task_queues: Iterable[TaskQueue],
        workflows: Iterable[Workflow],
        tasks: Iterable[Task] = (),
        reservations: Iterable[Reservation] = (),
        event_seq: int,
        now: int,
        sids: SidFactory = new_sid,
    ) -> WorkspaceEngine:
        """Rebuild the engine and its indexes from stored rows (given in creation order)."""
        engine = cls(workspace, sids=sids)
        engine.event_seq = event_seq
        for activity in activities:
            engine.activities[activity.sid] = activity
        for channel in task_channels:
            engine.task_channels[channel.sid] = channel
            engine._channel_names[channel.unique_name] = channel.sid
        for worker in workers:
            worker.parsed_attributes = json.loads(worker.attributes)
            engine.workers[worker.sid] = worker
            engine.worker_channels[worker.sid] = {}
            engine.worker_queues[worker.sid] = set()
            engine._worker_names[worker.friendly_name.casefold()] = worker.sid
        for wc in worker_channels:
            engine.worker_channels[wc.worker_sid][wc.task_channel_sid] = wc
        candidates = engine._candidates()
        for queue in task_queues:
            queue.target = compile_expression(queue.target_workers)
            engine.task_queues[queue.sid] = queue
            engine._index_queue(queue, candidates)
        for workflow in workflows:
            workflow.config = parse_workflow_configuration(
                workflow.configuration, engine.task_queues.__contains__
            )
            engine.workflows[workflow.sid] = workflow
        engine.router.load(tasks, reservations, now)
        engine.changes = ChangeRecorder()
        return engine

    def take_changes(self) -> Changes:
        return self.changes.take()

    # ------------------------------------------------------------------ events

    def emit(
        self,
        event_type: str,
        resource_type: str,
        resource_sid: str,
        now: int,
        description: str,
        data: dict[str, Any],
        **sids: str | None,
    ) -> Event:
        self.event_seq += 1
        workspace = self.workspace
        payload = {
            "account_sid": workspace.account_sid,
            "workspace_sid": workspace.sid,
            "workspace_name": workspace.friendly_name,
            **data,
        }
        event = Event(
            sid=self.sids("EV"),
            account_sid=workspace.account_sid,
            workspace_sid=workspace.sid,
            seq=self.event_seq,
            event_type=event_type,
            event_date=now,
            resource_type=resource_type,
            resource_sid=resource_sid,
            actor_type=sids.pop("actor_type", None),
            actor_sid=sids.pop("actor_sid", None),
            description=description,
            data=payload,
            callback_url=self._callback_url(event_type),
            **sids,
        )
        self.changes.event(event)
        return event

    def _callback_url(self, event_type: str) -> str | None:
        """The workspace's EventCallbackUrl if this event type passes its EventsFilter."""
        workspace = self.workspace
        url = workspace.event_callback_url
        if not url:
            return None
        if workspace.events_filter != self._filter_text:  # parse the filter once per change
            self._filter_text = workspace.events_filter
            self._filter = frozenset(
                t.strip() for t in (workspace.events_filter or "").split(",") if t.strip())
        return url if not self._filter or event_type in self._filter else None

    # ------------------------------------------------------------------ workspace

    def update_workspace(
        self,
        now: int,
        *,
        friendly_name: str | None = None,
        event_callback_url: str | None = _UNSET,
        events_filter: str | None = _UNSET,
        default_activity_sid: str | None = None,
        timeout_activity_sid: str | None = None,
        multi_task_enabled: bool | None = None,
        prioritize_queue_order: str | None = None,
    ) -> Workspace:
        ws = self.workspace
        if friendly_name is not None:
            validate.friendly_name(friendly_name)
        if event_callback_url is not _UNSET:
            validate.callback_url(event_callback_url, "EventCallbackUrl")
        if default_activity_sid is not None:
            self.activity(default_activity_sid, "DefaultActivitySid")
        if timeout_activity_sid is not None:
            self.activity(timeout_activity_sid, "TimeoutActivitySid")
        if multi_task_enabled is False and ws.multi_task_enabled:
            raise InvalidParameter(
                "MultiTaskEnabled cannot be turned off once a workspace is multitasking"
            )
        if prioritize_queue_order is not None:
            _check_queue_order(prioritize_queue_order)

        if friendly_name is not None:
            ws.friendly_name = friendly_name
        if event_callback_url is not _UNSET:
            ws.event_callback_url = event_callback_url or None
        if events_filter is not _UNSET:
            ws.events_filter = events_filter or None
        if default_activity_sid is not None:
            ws.default_activity_sid = default_activity_sid
        if timeout_activity_sid is not None:
            ws.timeout_activity_sid = timeout_activity_sid
        if multi_task_enabled is not None:
            ws.multi_task_enabled = multi_task_enabled
        if prioritize_queue_order is not None:
            ws.prioritize_queue_order = prioritize_queue_order
        ws.date_updated = now
        self.changes.touch(ws)
        self.emit("workspace.updated", "workspace", ws.sid, now,
                   f"Workspace {ws.friendly_name} updated", event_data.workspace_data(ws))
        return ws

    def delete_workspace(self, now: int) -> None:
        ws = self.workspace
        self.changes.drop_workspace(ws.sid)
        self.emit("workspace.deleted", "workspace", ws.sid, now,
                   f"Workspace {ws.friendly_name} deleted", event_data.workspace_data(ws))

    # ------------------------------------------------------------------ activities

    def activity(self, sid: str, name: str | None = None) -> Activity:
        return _lookup(self.activities, sid, "Activity", name)

    def create_activity(self, friendly_name: str, available: bool, now: int) -> Activity:
        self._check_activity_name(friendly_name)
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
        self.emit("activity.created", "activity", activity.sid, now,
                   f"Activity {friendly_name} created", event_data.activity_data(activity))
        return activity

    def update_activity(self, sid: str, now: int, *, friendly_name: str | None) -> Activity:
        activity = self.activity(sid)
        if friendly_name is not None and friendly_name != activity.friendly_name:
            self._check_activity_name(friendly_name, activity.sid)
            activity.friendly_name = friendly_name
            # Expressions may name activity_name: the members of such queues may change.
            for worker in self.workers.values():
                if worker.activity_sid == sid:
                    self._reindex_worker(worker, activity_only=True)
                    self._worker_changed(worker, now)
        activity.date_updated = now
        self.changes.touch(activity)
        self.emit("activity.updated", "activity", sid, now,
                   f"Activity {activity.friendly_name} updated", event_data.activity_data(activity))
        return activity

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
        self.emit("activity.deleted", "activity", sid, now,
                   f"Activity {activity.friendly_name} deleted", event_data.activity_data(activity))

    def _check_activity_name(self, name: str, own_sid: str | None = None) -> None:
        validate.friendly_name(name)
        folded = name.casefold()
        for activity in self.activities.values():
            if activity.sid != own_sid and activity.friendly_name.casefold() == folded:
                raise InvalidParameter(f"An Activity named '{name}' already exists")

    # ------------------------------------------------------------------ task channels

    def task_channel(self, sid_or_name: str, name: str | None = None) -> TaskChannel:
        sid = self._channel_names.get(sid_or_name, sid_or_name)
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
        sid = self._channel_names.get(unique_name)
        return self.task_channels[sid] if sid else None

    def create_task_channel(
        self, friendly_name: str, unique_name: str, optimized: bool | None, now: int
    ) -> TaskChannel:
        validate.friendly_name(friendly_name)
        validate.identifier(unique_name, "UniqueName")
        if unique_name in self._channel_names:
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
        self._channel_names[unique_name] = channel.sid
        self.changes.touch(channel)
        self.emit("task-channel.created", "task_channel", channel.sid, now,
                   f"TaskChannel {unique_name} created", event_data.task_channel_data(channel),
                   task_channel=unique_name)
        for worker in self.workers.values():
            self._add_worker_channel(worker, channel)
            self._worker_changed(worker, now)
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
        self.emit("task-channel.updated", "task_channel", channel.sid, now,
                   f"TaskChannel {channel.unique_name} updated",
                   event_data.task_channel_data(channel), task_channel=channel.unique_name)
        return channel

    def delete_task_channel(self, sid: str, now: int) -> None:
        channel = self.task_channel(sid)
        if any(t.task_channel_sid == channel.sid and t.assignment_status in TASK_ACTIVE
               for t in self.router.tasks.values()):
            raise InvalidParameter(f"TaskChannel {channel.unique_name} cannot be deleted while "
                                   "it has active Tasks")
        del self.task_channels[channel.sid]
        del self._channel_names[channel.unique_name]
        for channels in self.worker_channels.values():
            wc = channels.pop(channel.sid, None)
            if wc is not None:
                self.changes.delete(wc)
        self.changes.delete(channel)
        self.emit("task-channel.deleted", "task_channel", channel.sid, now,
                   f"TaskChannel {channel.unique_name} deleted",
                   event_data.task_channel_data(channel), task_channel=channel.unique_name)

    # ------------------------------------------------------------------ workers

    def worker(self, sid: str, name: str | None = None) -> Worker:
        return _lookup(self.workers, sid, "Worker", name)

    def worker_view(self, worker: Worker) -> WorkerView:
        channels = ChannelView(self.worker_channels[worker.sid], self.task_channel_by_name)
        return WorkerView(worker, self.activities.get(worker.activity_sid), channels)

    def create_worker(
        self, friendly_name: str, now: int, *, activity_sid: str | None, attributes: str | None
    ) -> Worker:
        self._check_worker_name(friendly_name)
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
        self.worker_queues[worker.sid] = set()
        self._worker_names[friendly_name.casefold()] = worker.sid
        self.changes.touch(worker)
        self.emit("worker.created", "worker", worker.sid, now,
                   f"Worker {friendly_name} created", event_data.worker_data(worker, activity),
                   worker_sid=worker.sid)
        for channel in self.task_channels.values():
            self._add_worker_channel(worker, channel)
        self._reindex_worker(worker)
        self._worker_changed(worker, now)
        return worker

    def update_worker(
        self,
        sid: str,
        now: int,
        *,
        activity_sid: str | None = None,
        attributes: str | None = None,
        friendly_name: str | None = None,
        reject_pending_reservations: bool = False,
        if_match: str | None = None,
    ) -> Worker:
        worker = self.worker(sid)
        self.check_version(worker.version, if_match, f"Worker {sid}")
        activity = self.activity(activity_sid, "ActivitySid") if activity_sid else None
        parsed = validate.attributes(attributes) if attributes is not None else None
        if friendly_name is not None and friendly_name != worker.friendly_name:
            self._check_worker_name(friendly_name, sid)
        if reject_pending_reservations and (activity is None or activity.available):
            raise InvalidParameter(
                "Unable to reject pending reservations when updating to an Available activity "
                "state. RejectPendingReservations needs an ActivitySid of an unavailable Activity"
            )

        if friendly_name is not None and friendly_name != worker.friendly_name:
            del self._worker_names[worker.friendly_name.casefold()]
            self._worker_names[friendly_name.casefold()] = sid
            worker.friendly_name = friendly_name
            self._reindex_worker(worker)  # TargetWorkers may name friendly_name
        if parsed is not None and attributes is not None:
            worker.attributes = attributes
            worker.parsed_attributes = parsed
            self._reindex_worker(worker)
            self._bump(worker, now)
            self.emit("worker.attributes.update", "worker", sid, now,
                      f"Worker {worker.friendly_name} updated attributes",
                      event_data.worker_data(worker, self.activities.get(worker.activity_sid)),
                      worker_sid=sid)
        if activity is not None and activity.sid != worker.activity_sid:
            self._change_activity(worker, activity, now)  # _worker_changed reindexes below
        if reject_pending_reservations:
            self.router.reject_pending(worker, now)
        self._bump(worker, now)
        self._worker_changed(worker, now)
        return worker

    def worker_by_name(self, friendly_name: str) -> Worker | None:
        sid = self._worker_names.get(friendly_name.casefold())
        return self.workers[sid] if sid else None

    def set_activity(self, worker: Worker, activity_sid: str, now: int) -> None:
        """Move a worker to an activity (no-op if it is there already)."""
        if activity_sid != worker.activity_sid:
            self._change_activity(worker, self.activities[activity_sid], now)
            self.router.refresh_worker(worker, now)

    def _worker_changed(self, worker: Worker, now: int) -> None:
        """Anything that may let a worker take work: reindex it and offer it tasks."""
        self.router.refresh_worker(worker, now)
        self.router.offer_worker(worker, now)

    def _change_activity(self, worker: Worker, activity: Activity, now: int) -> None:
        previous = self.activities.get(worker.activity_sid)
        time_in_previous = now - worker.date_status_changed
        worker.activity_sid = activity.sid
        worker.date_status_changed = now
        self._reindex_worker(worker, activity_only=True)
        self._bump(worker, now)
        data = event_data.worker_data(worker, activity)
        data.update(
            worker_previous_activity_sid=previous.sid if previous else None,
            worker_previous_activity_name=previous.friendly_name if previous else None,
            worker_time_in_previous_activity=time_in_previous // 1000,
            worker_time_in_previous_activity_ms=time_in_previous,
        )
        self.emit("worker.activity.update", "worker", worker.sid, now,
                   f"Worker {worker.friendly_name} updated to {activity.friendly_name} Activity",
                   data, worker_sid=worker.sid)

    def delete_worker(self, sid: str, now: int, *, if_match: str | None = None) -> None:
        worker = self.worker(sid)
        self.check_version(worker.version, if_match, f"Worker {sid}")
        orphans = self.router.forget_worker(worker, now)
        for queue_sid in self.worker_queues.pop(sid):
            self.queue_members[queue_sid].discard(sid)
        for wc in self.worker_channels.pop(sid).values():
            self.changes.delete(wc)
        del self.workers[sid]
        del self._worker_names[worker.friendly_name.casefold()]
        self.changes.delete(worker)
        self.emit("worker.deleted", "worker", sid, now, f"Worker {worker.friendly_name} deleted",
                   event_data.worker_data(worker, self.activities.get(worker.activity_sid)),
                   worker_sid=sid)
        self.router.route_again(orphans, now)

    def _check_worker_name(self, name: str, own_sid: str | None = None) -> None:
        validate.friendly_name(name)
        holder = self._worker_names.get(name.casefold())
        if holder is not None and holder != own_sid:
            raise InvalidParameter(f"A Worker named '{name}' already exists in this workspace")

    def _bump(self, worker: Worker, now: int) -> None:
        worker.version += 1
        worker.date_updated = now
        self.changes.touch(worker)

    @staticmethod
    def check_version(version: int, if_match: str | None, what: str) -> None:
        if if_match is not None and if_match.strip('"') != str(version):
            raise PreconditionFailed(
                f"{what} has version {version}; If-Match '{if_match}' does not match"
            )

    # ------------------------------------------------------------------ worker channels

    def worker_channel(self, worker_sid: str, sid: str) -> WorkerChannel:
        """A worker's channel by its WC SID, or by its TaskChannel's SID or unique name."""
        channels = self.worker_channels[self.worker(worker_sid).sid]
        for wc in channels.values():
            if wc.sid == sid:
                return wc
        task_channel = self.task_channels.get(self._channel_names.get(sid, sid))
        if task_channel is not None and task_channel.sid in channels:
            return channels[task_channel.sid]
        raise NotFound(f"The requested resource WorkerChannel {sid} was not found")

    def _add_worker_channel(self, worker: Worker, channel: TaskChannel) -> None:
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
            self.emit("worker.capacity.update", "worker", worker_sid, now,
                       f"Worker {worker.friendly_name} capacity on {channel.unique_name} updated",
                       {**base, **self._channel_event_fields(wc),
                        "worker_channel_previous_capacity": previous},
                       worker_sid=worker_sid, task_channel=channel.unique_name)
        if available is not None and available != wc.available:
            wc.available = available
            self.emit("worker.channel.availability.update", "worker", worker_sid, now,
                       f"Worker {worker.friendly_name} availability on {channel.unique_name} "
                       "updated",
                       {**base, **self._channel_event_fields(wc)},
                       worker_sid=worker_sid, task_channel=channel.unique_name)
        wc.date_updated = now
        self.changes.touch(wc)
        self._reindex_worker(worker)  # TargetWorkers may name worker.channel.<name>.*
        self._worker_changed(worker, now)
        return wc

    @staticmethod
    def _channel_event_fields(wc: WorkerChannel) -> dict[str, Any]:
        return {
            "worker_channel_available": wc.available,
            "worker_channel_available_capacity": max(0, wc.configured_capacity - wc.reserved),
            "worker_channel_task_count": wc.assigned,
        }

    # ------------------------------------------------------------------ queues and membership

    def task_queue(self, sid: str, name: str | None = None) -> TaskQueue:
        return _lookup(self.task_queues, sid, "TaskQueue", name)

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
        validate.friendly_name(friendly_name)
        target_workers = MATCH_ALL if target_workers is None else target_workers
        target = compile_target_workers(target_workers)
        max_reserved = 1 if max_reserved_workers is None else max_reserved_workers
        validate.in_range(max_reserved, "MaxReservedWorkers", 1, MAX_RESERVED_WORKERS)
        task_order = task_order or "FIFO"
        _check_task_order(task_order)
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
        for worker_sid in self._index_queue(queue):
            self.router.refresh_worker(self.workers[worker_sid])
        self.changes.touch(queue)
        self.emit("task-queue.created", "task_queue", queue.sid, now,
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
    ) -> TaskQueue:
        queue = self.task_queue(sid)
        if friendly_name is not None:
            validate.friendly_name(friendly_name)
        target = compile_target_workers(target_workers) if target_workers is not None else None
        if max_reserved_workers is not None:
            validate.in_range(max_reserved_workers, "MaxReservedWorkers", 1, MAX_RESERVED_WORKERS)
        if task_order is not None:
            _check_task_order(task_order)
        for activity_sid, name in ((reservation_activity_sid, "ReservationActivitySid"),
                                   (assignment_activity_sid, "AssignmentActivitySid")):
            if activity_sid:
                self.activity(activity_sid, name)

        if friendly_name is not None:
            queue.friendly_name = friendly_name
        if max_reserved_workers is not None:
            queue.max_reserved_workers = max_reserved_workers
        if task_order is not None and task_order != queue.task_order:
            queue.task_order = task_order
            self.router.reorder_queue(sid)
        if reservation_activity_sid is not None:
            queue.reservation_activity_sid = reservation_activity_sid or None
        if assignment_activity_sid is not None:
            queue.assignment_activity_sid = assignment_activity_sid or None
        queue.date_updated = now
        self.changes.touch(queue)
        if target is not None and target_workers != queue.target_workers:
            queue.target_workers = target_workers or ""
            queue.target = target
            self.emit("task-queue.expression.updated", "task_queue", sid, now,
                       f"TaskQueue {queue.friendly_name} target workers updated",
                       event_data.task_queue_data(queue), task_queue_sid=sid)
            for worker_sid in self._index_queue(queue):
                self._worker_changed(self.workers[worker_sid], now)
        return queue

    def delete_task_queue(self, sid: str, now: int) -> None:
        queue = self.task_queue(sid)
        for workflow in self.workflows.values():
            if workflow.config is not None and sid in workflow.config.queue_sids:
                raise InvalidParameter(
                    f"TaskQueue {sid} cannot be deleted: Workflow {workflow.sid} "
                    f"('{workflow.friendly_name}') routes to it"
                )
        if any(t.task_queue_sid == sid and t.assignment_status in TASK_ACTIVE
               for t in self.router.tasks.values()):
            raise InvalidParameter(f"TaskQueue {sid} cannot be deleted while it has active "
                                   "Tasks")
        for worker_sid in self.queue_members.pop(sid):
            self.worker_queues[worker_sid].discard(sid)
            self.router.refresh_worker(self.workers[worker_sid])
        del self.task_queues[sid]
        self._activity_queues.pop(sid, None)
        self.changes.delete(queue)
        self.emit("task-queue.deleted", "task_queue", sid, now,
                   f"TaskQueue {queue.friendly_name} deleted", event_data.task_queue_data(queue),
                   task_queue_sid=sid)

    def _index_queue(self, queue: TaskQueue, workers: list[Candidate] | None = None
                     ) -> set[str]:
        """(Re)compute one queue's members: one evaluation per worker. Returns who changed.

        ``workers``: ``self._candidates()``, when many queues are indexed in a row (at load)."""
        target = queue.target
        if target is not None and target.roots & ACTIVITY_FIELDS:
            self._activity_queues[queue.sid] = queue
        else:
            self._activity_queues.pop(queue.sid, None)
        old = self.queue_members.get(queue.sid, set())
        if target is None or not queue.target_workers.strip():
            new = set()  # an empty TargetWorkers matches nobody
        elif target.always_true:
            new = set(self.workers)
        else:
            evaluate = target.evaluate
            if workers is None:
                workers = self._candidates()
            new = {sid for sid, view in workers if evaluate(view)}
        for worker_sid in old - new:
            self.worker_queues[worker_sid].discard(queue.sid)
        for worker_sid in new - old:
            self.worker_queues[worker_sid].add(queue.sid)
        self.queue_members[queue.sid] = new
        return old ^ new

    def _candidates(self) -> list[Candidate]:
        return [(sid, self.worker_view(w)) for sid, w in self.workers.items()]

    def _reindex_worker(self, worker: Worker, activity_only: bool = False) -> None:
        """(Re)compute one worker's queues; after an activity change, only the queues whose
        TargetWorkers name the activity can change."""
        queues = self._activity_queues if activity_only else self.task_queues
        for queue in queues.values():
            members = self.queue_members[queue.sid]
            if self._is_member(queue, worker):
                members.add(worker.sid)
                self.worker_queues[worker.sid].add(queue.sid)
            else:
                members.discard(worker.sid)
                self.worker_queues[worker.sid].discard(queue.sid)

    def _is_member(self, queue: TaskQueue, worker: Worker) -> bool:
        target = queue.target
        if target is None or not queue.target_workers.strip():
            return False  # an empty TargetWorkers matches nobody: tasks wait until moved
        return target.always_true or target.evaluate(self.worker_view(worker))

    def workers_matching(self, expression: Expression) -> Iterator[Worker]:
        for worker in self.workers.values():
            if expression.always_true or expression.evaluate(self.worker_view(worker)):
                yield worker

    def queues_for_attributes(self, attributes: dict[str, Any]) -> Iterator[TaskQueue]:
        """Queues a worker with these attributes would belong to (EvaluateWorkerAttributes)."""
        for queue in self.task_queues.values():
            target = queue.target
            if target is not None and queue.target_workers.strip() and (
                target.always_true or target.evaluate(attributes)
            ):
                yield queue

    # ------------------------------------------------------------------ workflows

    def workflow(self, sid: str, name: str | None = None) -> Workflow:
        return _lookup(self.workflows, sid, "Workflow", name)

    def _parse_configuration(self, configuration: str) -> WorkflowConfig:
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
        config = self._parse_configuration(configuration)
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
        self.emit("workflow.created", "workflow", workflow.sid, now,
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
        assignment_callback_url: str | None = _UNSET,
        fallback_assignment_callback_url: str | None = _UNSET,
        task_reservation_timeout: int | None = None,
        re_evaluate_tasks: bool = False,
    ) -> Workflow:
        workflow = self.workflow(sid)
        if friendly_name is not None:
            validate.friendly_name(friendly_name)
        config = self._parse_configuration(configuration) if configuration is not None else None
        if assignment_callback_url is not _UNSET:
            validate.callback_url(assignment_callback_url, "AssignmentCallbackUrl")
        if fallback_assignment_callback_url is not _UNSET:
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
        if assignment_callback_url is not _UNSET:
            workflow.assignment_callback_url = assignment_callback_url or None
        if fallback_assignment_callback_url is not _UNSET:
            workflow.fallback_assignment_callback_url = fallback_assignment_callback_url or None
        if task_reservation_timeout is not None:
            workflow.task_reservation_timeout = task_reservation_timeout
        workflow.date_updated = now
        self.changes.touch(workflow)
        if re_evaluate_tasks and config is not None:
            self.router.reevaluate_workflow(workflow, now)
        self.emit("workflow.updated", "workflow", sid, now,
                   f"Workflow {workflow.friendly_name} updated", event_data.workflow_data(workflow),
                   workflow_sid=sid)
        return workflow

    def delete_workflow(self, sid: str, now: int) -> None:
        workflow = self.workflow(sid)
        if any(t.workflow_sid == sid and t.assignment_status in TASK_ACTIVE
               for t in self.router.tasks.values()):
            raise InvalidParameter(f"Workflow {sid} cannot be deleted while it has active Tasks")
        del self.workflows[sid]
        self.changes.delete(workflow)
        self.emit("workflow.deleted", "workflow", sid, now,
                   f"Workflow {workflow.friendly_name} deleted",
                   event_data.workflow_data(workflow), workflow_sid=sid)


def _lookup(items: dict[str, T], sid: str, label: str, name: str | None) -> T:
    """A resource by SID: 404 when it is the path's resource, 400 naming the parameter when a
    parameter refers to it."""
    item = items.get(sid)
    if item is None:
        if name:
            article = "an" if label[0] in "AEIOU" else "a"
            raise InvalidParameter(f"{name} '{sid}' is not {article} {label} of this workspace")
        raise NotFound(f"The requested resource {label} {sid} was not found")
    return item


def _check_queue_order(value: str) -> None:
    if value not in QUEUE_ORDERS:
        raise InvalidParameter(f"PrioritizeQueueOrder must be FIFO or LIFO, got '{value}'")


def _check_task_order(value: str) -> None:
    if value not in QUEUE_ORDERS:
        raise InvalidParameter(f"TaskOrder must be FIFO or LIFO, got '{value}'")

