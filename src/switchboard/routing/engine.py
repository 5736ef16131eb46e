"""One workspace's live state and every command that changes it: the workspace aggregate.

The engine is the functional core: no I/O, no clock (every command is given ``now`` in epoch
milliseconds), no randomness beyond the injected SID factory. A command validates all its input
first, raising a ``RoutingError`` before anything changes, then applies its changes and records
them; ``take_changes()`` hands the rows and events to the caller, who commits them.

The engine owns the workspace, its event log and the change recorder, and holds the parts that
decide (see the map in ``routing/__init__.py``): the configuration resources, queue membership
and the task lifecycle. Each command here calls the parts in order; no part calls back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Unpack

from switchboard.routing import estimates, loading, validate
from switchboard.routing import events as event_data
from switchboard.routing.changes import ChangeRecorder, Changes
from switchboard.routing.errors import InvalidParameter
from switchboard.routing.events import EventLog
from switchboard.routing.history import replay_accepts
from switchboard.routing.lifecycle import TaskLifecycle
from switchboard.routing.membership import QueueMembership
from switchboard.routing.model import (
    Activity,
    Reservation,
    Task,
    TaskChannel,
    TaskQueue,
    Transfer,
    Worker,
    WorkerChannel,
    Workflow,
    Workspace,
)
from switchboard.routing.resources import (
    DEFAULT_ACTIVITIES,
    DEFAULT_TASK_CHANNELS,
    FIFO_QUEUE_NAME,
    FIFO_WORKFLOW_NAME,
    UNSET,
    Resources,
    TaskQueueSettings,
    WorkflowSettings,
    check_queue_order,
    check_version,
)
from switchboard.routing.sids import SidFactory, new_sid


class WorkspaceEngine:
    """The in-memory state of one workspace, with the indexes routing decisions need."""

    def __init__(self, workspace: Workspace, *, sids: SidFactory = new_sid,
                 event_seq: int = 0) -> None:
        self.workspace = workspace
        self.sids = sids
        self.changes = ChangeRecorder()
        self.event_log = EventLog(workspace, sids, self.changes, event_seq)
        self.resources = resources = Resources(workspace, sids, self.event_log, self.changes)
        self.membership = membership = QueueMembership(
            resources.workers, resources.task_queues, resources.worker_view)
        self.lifecycle = lifecycle = TaskLifecycle(resources, membership, self.event_log,
                                                   self.changes)
        # The collections, shared with the parts that keep them (never replaced).
        self.activities = resources.activities
        self.task_channels = resources.task_channels
        self.workers = resources.workers
        self.worker_channels = resources.worker_channels
        self.task_queues = resources.task_queues
        self.workflows = resources.workflows
        self.queue_members = membership.members
        self.worker_queues = membership.worker_queues
        self.tasks = lifecycle.tasks
        self.reservations = lifecycle.reservations
        self.task_reservations = lifecycle.task_reservations
        self.worker_reservations = lifecycle.worker_reservations
        # Lookups, answered by the part that keeps the resource.
        self.activity = resources.activity
        self.task_channel = resources.task_channel
        self.task_channel_by_name = resources.task_channel_by_name
        self.worker = resources.worker
        self.worker_by_name = resources.worker_by_name
        self.worker_view = resources.worker_view
        self.worker_channel = resources.worker_channel
        self.task_queue = resources.task_queue
        self.workflow = resources.workflow
        self.workers_matching = membership.workers_matching
        self.queues_for_attributes = membership.queues_for_attributes
        # Commands that change nothing routing depends on: the resources' own, bound here.
        self.create_activity = resources.create_activity
        self.delete_activity = resources.delete_activity
        self.update_task_channel = resources.update_task_channel
        self.create_workflow = resources.create_workflow
        # Tasks and reservations: their commands and reads are the lifecycle's own, bound here
        # so that a command costs no extra call.
        self.task = lifecycle.task
        self.reservation = lifecycle.reservation
        self.reservations_of_worker = lifecycle.reservations_of_worker
        self.create_task = lifecycle.create_task
        self.update_task = lifecycle.update_task
        self.delete_task = lifecycle.delete_task
        self.update_reservation = lifecycle.update_reservation
        # Transfers: kept by their own part (``transfers.py``), carried out by the lifecycle.
        self.transfers = lifecycle.transfers.transfers
        self.transfer = lifecycle.transfers.transfer
        self.transfer_task = lifecycle.transfer_task
        self.cancel_transfer = lifecycle.cancel_transfer
        # Tasks, reservations and transfers deleted by recent commands, by SID: events are
        # rendered after their commit (the Worker SDK's pushes) and may name them.
        self.removed = lifecycle.removed
        # Time passes: the next live deadline, and firing every timer due.
        self.next_deadline = lifecycle.next_deadline
        self.fire_due = lifecycle.fire_due
        # An extension (docs/extensions.md): a waiting task's place in its queue, or None.
        self.queue_position = lifecycle.waiting.position
        # An extension: wait-time estimates, each queue's simulation kept until a change.
        self.estimates = estimates.Estimates(lifecycle, self.changes)

    def estimate_wait(self, queue_sid: str, now: int, *, task_channel: str | None = None,
                      priority: int = 0) -> estimates.QueueEstimate:
        """An extension (docs/extensions.md): what a task created now in the queue would
        wait. ``task_channel``: a SID or unique name, ``default`` if not given."""
        queue = self.task_queue(queue_sid)
        channel = self.task_channel(task_channel or "default", "TaskChannel")
        return self.estimates.for_new_task(queue.sid, channel.sid, priority, now)

    def task_wait_estimate(self, task_sid: str, now: int) -> float | None:
        """An extension: ms until a waiting task would be reserved; None without a basis."""
        return self.estimates.for_task(self.task(task_sid), now)

    @property
    def event_seq(self) -> int:
        """The number of the workspace's last event."""
        return self.event_log.seq

    @property
    def task_seq(self) -> int:
        """The creation number of the workspace's last task."""
        return self.lifecycle.task_seq

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
        check_queue_order(prioritize_queue_order)
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
        engine.event_log.emit("workspace.created", "workspace", workspace.sid, now,
                              f"Workspace {friendly_name} created",
                              event_data.workspace_data(workspace))
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
        transfers: Iterable[Transfer] = (),
        accepted: Iterable[tuple[int, str]] = (),
        handle_samples: dict[str, list[int]] | None = None,
        event_seq: int,
        now: int,
        sids: SidFactory = new_sid,
    ) -> WorkspaceEngine:
        """Rebuild the engine and its indexes from stored rows (given in creation order).

        What the extensions learn from the past (``routing/history.py``): ``accepted``, the
        stored ``reservation.accepted`` events of the last 24 hours as (date, worker) in log
        order; ``handle_samples``, handle times per queue (``history.handle_samples``)."""
        engine = cls(workspace, sids=sids, event_seq=event_seq)
        loading.load_resources(
            engine.resources, engine.membership, activities=activities,
            task_channels=task_channels, workers=workers, worker_channels=worker_channels,
            task_queues=task_queues, workflows=workflows)
        loading.load_tasks(engine.lifecycle, tasks, reservations, now, transfers)
        lifecycle = engine.lifecycle
        replay_accepts(accepted, lifecycle.accepts, now)
        for queue_sid, durations in (handle_samples or {}).items():
            for duration in durations:
                lifecycle.handle_times.record(queue_sid, duration)
        engine.changes.take()  # what loading touched is stored already
        return engine

    def take_changes(self) -> Changes:
        return self.changes.take()

    # ------------------------------------------------------------------ workspace

    def update_workspace(
        self,
        now: int,
        *,
        friendly_name: str | None = None,
        event_callback_url: str | None = UNSET,
        events_filter: str | None = UNSET,
        default_activity_sid: str | None = None,
        timeout_activity_sid: str | None = None,
        multi_task_enabled: bool | None = None,
        prioritize_queue_order: str | None = None,
    ) -> Workspace:
        ws = self.workspace
        if friendly_name is not None:
            validate.friendly_name(friendly_name)
        if event_callback_url is not UNSET:
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
            check_queue_order(prioritize_queue_order)

        if friendly_name is not None:
            ws.friendly_name = friendly_name
        if event_callback_url is not UNSET:
            ws.event_callback_url = event_callback_url or None
        if events_filter is not UNSET:
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
        self.event_log.emit("workspace.updated", "workspace", ws.sid, now,
                            f"Workspace {ws.friendly_name} updated",
                            event_data.workspace_data(ws))
        return ws

    def delete_workspace(self, now: int) -> None:
        ws = self.workspace
        self.changes.drop_workspace(ws.sid)
        self.event_log.emit("workspace.deleted", "workspace", ws.sid, now,
                            f"Workspace {ws.friendly_name} deleted",
                            event_data.workspace_data(ws))

    # ------------------------------------------------------------------ activities

    def update_activity(self, sid: str, now: int, *, friendly_name: str | None) -> Activity:
        activity = self.activity(sid)
        if friendly_name is not None and friendly_name != activity.friendly_name:
            self.resources.rename_activity(activity, friendly_name)
            # Expressions may name activity_name: the members of such queues may change.
            for worker in self.workers.values():
                if worker.activity_sid == sid:
                    self.membership.reindex_worker(worker, activity_only=True)
                    self.lifecycle.worker_changed(worker, now)
        self.resources.activity_updated(activity, now)
        return activity

    # ------------------------------------------------------------------ task channels

    def create_task_channel(
        self, friendly_name: str, unique_name: str, optimized: bool | None, now: int
    ) -> TaskChannel:
        channel = self.resources.create_task_channel(friendly_name, unique_name, optimized, now)
        for worker in self.workers.values():
            self.resources.add_worker_channel(worker, channel)
            self.lifecycle.worker_changed(worker, now)
        return channel

    def delete_task_channel(self, sid: str, now: int) -> None:
        self.resources.delete_task_channel(sid, now, self.tasks.values())
        for worker in self.workers.values():  # its capacity went with it (least_occupied)
            self.lifecycle.refresh_worker(worker)

    # ------------------------------------------------------------------ workers

    def create_worker(
        self, friendly_name: str, now: int, *, activity_sid: str | None, attributes: str | None
    ) -> Worker:
        worker = self.resources.create_worker(friendly_name, now, activity_sid=activity_sid,
                                              attributes=attributes)
        self.membership.add_worker(worker.sid)
        self.membership.reindex_worker(worker)
        self.lifecycle.worker_changed(worker, now)
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
        resources, membership = self.resources, self.membership
        worker = self.worker(sid)
        activity, parsed = resources.check_worker_update(
            worker, activity_sid=activity_sid, attributes=attributes,
            friendly_name=friendly_name,
            reject_pending_reservations=reject_pending_reservations, if_match=if_match)

        if friendly_name is not None and friendly_name != worker.friendly_name:
            resources.rename_worker(worker, friendly_name)
            membership.reindex_worker(worker)  # TargetWorkers may name friendly_name
        if parsed is not None and attributes is not None:
            resources.set_worker_attributes(worker, attributes, parsed, now)
            membership.reindex_worker(worker)
        if activity is not None and activity.sid != worker.activity_sid:
            resources.change_activity(worker, activity, now)
            membership.reindex_worker(worker, activity_only=True)
        if reject_pending_reservations:
            self.lifecycle.reject_pending(worker, now)
        resources.bump_worker(worker, now)
        self.lifecycle.worker_changed(worker, now)
        return worker

    def set_activity(self, worker: Worker, activity_sid: str, now: int) -> None:
        """Move a worker to an activity (no-op if it is there already)."""
        self.lifecycle.set_activity(worker, activity_sid, now)

    def delete_worker(self, sid: str, now: int, *, if_match: str | None = None) -> None:
        worker = self.worker(sid)
        check_version(worker.version, if_match, f"Worker {sid}")
        orphans = self.lifecycle.forget_worker(worker, now)
        self.membership.remove_worker(sid)
        self.resources.delete_worker(worker, now)
        self.lifecycle.route_again(orphans, now)

    # ------------------------------------------------------------------ worker channels

    def update_worker_channel(
        self, worker_sid: str, sid: str, now: int, *, capacity: int | None, available: bool | None
    ) -> WorkerChannel:
        wc = self.resources.update_worker_channel(worker_sid, sid, now, capacity=capacity,
                                                  available=available)
        worker = self.workers[worker_sid]
        self.membership.reindex_worker(worker)  # TargetWorkers may name worker.channel.<name>.*
        self.lifecycle.worker_changed(worker, now)
        return wc

    # ------------------------------------------------------------------ task queues

    def create_task_queue(self, friendly_name: str, now: int,
                          **settings: Unpack[TaskQueueSettings]) -> TaskQueue:
        queue = self.resources.create_task_queue(friendly_name, now, **settings)
        for worker_sid in self.membership.index_queue(queue):
            self.lifecycle.refresh_worker(self.workers[worker_sid])
        return queue

    def update_task_queue(self, sid: str, now: int, *, friendly_name: str | None = None,
                          **settings: Unpack[TaskQueueSettings]) -> TaskQueue:
        queue, reorder, retarget = self.resources.update_task_queue(
            sid, now, friendly_name=friendly_name, **settings)
        if reorder:
            self.lifecycle.waiting.reorder_queue(sid)
        if retarget:
            for worker_sid in self.membership.index_queue(queue):
                self.lifecycle.worker_changed(self.workers[worker_sid], now)
        return queue

    def delete_task_queue(self, sid: str, now: int) -> None:
        queue = self.resources.check_task_queue_deletable(sid, self.tasks.values())
        for worker_sid in self.membership.remove_queue(sid):
            self.lifecycle.refresh_worker(self.workers[worker_sid])
        self.resources.delete_task_queue(queue, now)

    # ------------------------------------------------------------------ workflows

    def update_workflow(
        self,
        sid: str,
        now: int,
        *,
        friendly_name: str | None = None,
        configuration: str | None = None,
        re_evaluate_tasks: bool = False,
        **settings: Unpack[WorkflowSettings],
    ) -> Workflow:
        workflow, config = self.resources.update_workflow(
            sid, now, friendly_name=friendly_name, configuration=configuration, **settings)
        if re_evaluate_tasks and config is not None:
            self.lifecycle.reevaluate_workflow(workflow, now)
        self.resources.workflow_updated(workflow, now)
        return workflow

    def delete_workflow(self, sid: str, now: int) -> None:
        self.resources.delete_workflow(sid, now, self.tasks.values())
