"""The task and reservation lifecycle: their state machines, the events they emit, and the
offers that join waiting tasks to free workers.

Tasks move pending -> reserved -> assigned -> wrapping -> completed, or to canceled (by the
application, their TTL, the end of their workflow or too many assignments); reservations move
pending -> accepted -> wrapping -> completed, or end rejected, timeout, rescinded or canceled.
A task steps through its workflow (``workflows.py`` decides where to) and waits in queue order
(``queue_order.py``); workers are picked by a selection strategy (``selection.py``).

Two questions are asked, each answered from indexes rather than scans:

* a task became routable: which workers take it? -> the selector's idle workers of the task's
  queue and channel;
* a worker became free: which task does it take? -> the waiting tasks of the worker's queues.

Each timer (``timers.py``) is a transition here when it comes due: a pending reservation times
out, a waiting task's TTL cancels it, a workflow step's timeout moves the task on, and finished
(or 24-hour assigned) tasks are purged.

Behaviour TaskRouter leaves undocumented, chosen here (see docs/differences.md):

* A rejected task is offered to the other eligible workers first; the worker who rejected it
  may get it again on a later opportunity.
* A target's timeout counts from the moment its filter was entered (task creation for the
  first matching filter); a reservation in progress at a step's deadline is left alone and the
  step ends when the task is waiting again.
* A task that matches no filter and has no default filter is canceled at once, like a task
  that falls off the end of its workflow.
* A task that ends (canceled or deleted) ends its open reservations: pending ones canceled,
  accepted and wrapping ones completed, each with its event.

Transfers (``transfers.py`` keeps them and their rules) are carried out here: while a task is
transferred its transfer, not its workflow, says where it goes; a reservation the transfer made
decides the transfer when it ends; a transfer that fails or is canceled gives the task back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from switchboard.routing import events as event_data
from switchboard.routing import timers, validate, workflows
from switchboard.routing.changes import ChangeRecorder
from switchboard.routing.errors import Gone, InvalidParameter, NotFound
from switchboard.routing.events import EventLog
from switchboard.routing.history import HandleTimes
from switchboard.routing.membership import QueueMembership
from switchboard.routing.model import (
    RESERVATION_OPEN,
    TASK_ACTIVE,
    TASK_WAITING,
    Event,
    Reservation,
    Task,
    TaskQueue,
    Transfer,
    Worker,
    Workflow,
)
from switchboard.routing.queue_order import WaitingTasks
from switchboard.routing.resources import DEFAULT_RESERVATION_TIMEOUT, Resources, check_version
from switchboard.routing.selection import Eligibility, LongestIdle, SelectorFactory
from switchboard.routing.transfers import (
    CANCELED,
    COLD,
    COMPLETE,
    FAILED,
    TASK_ENDED_REASON,
    TO_QUEUE,
    TaskTransfers,
)
from switchboard.routing.workflow_config import WorkflowConfig
from switchboard.routing.workflows import ignores_capacity, is_for_one_worker, known_worker

DEFAULT_TASK_TIMEOUT = 86_400
MAX_TASK_TIMEOUT = 1_209_600
MAX_PRIORITY = validate.MAX_PRIORITY
MAX_ASSIGNMENTS = 1_000
PURGE_AFTER_MS = 300_000  # finished tasks are kept five minutes, as on TaskRouter
ASSIGNED_LIFETIME_MS = 86_400_000  # an assigned task not completed within 24 h is deleted
TTL_REASON = "Task TTL Exceeded"
WORKFLOW_TIMEOUT_REASON = "Task canceled on Workflow timeout"
MAX_ASSIGNMENTS_REASON = "Task TTL Exceeded or Max assignment count exceeded"
# Deleted tasks (with their reservations and transfers) kept for this many entries, so that
# whoever renders a command's events after its commit (the Worker SDK's pushes) still finds them.
REMEMBERED_REMOVALS = 1_000


class TaskLifecycle:
    """One workspace's tasks and reservations, with the indexes that route them."""

    def __init__(self, resources: Resources, membership: QueueMembership, log: EventLog,
                 changes: ChangeRecorder, selector: SelectorFactory = LongestIdle) -> None:
        self.resources = resources
        self.membership = membership
        self.workspace = resources.workspace
        self.sids = resources.sids
        self.workers = resources.workers
        self.activities = resources.activities
        self.task_channels = resources.task_channels
        self.worker_channels = resources.worker_channels
        self.task_queues = resources.task_queues
        self.workflows = resources.workflows
        self.emit = log.emit
        self.changes = changes
        self.tasks: dict[str, Task] = {}
        self.reservations: dict[str, Reservation] = {}
        self.task_reservations: dict[str, list[Reservation]] = {}
        self.worker_reservations: dict[str, dict[str, Reservation]] = {}
        self.eligibility = Eligibility(self.workspace, resources, membership.worker_queues,
                                       self.task_reservations)
        self.selector = selector(self.eligibility, changes)
        # Extensions (docs/extensions.md): fewest_accepted and the wait-time estimates.
        self.accepts = self.eligibility.accepts
        self.handle_times = HandleTimes()
        self.waiting = WaitingTasks(self.tasks, resources, self.eligibility)
        self.transfers = TaskTransfers(resources, self.eligibility, changes, self._task_event)
        self.timers = timers.Timers()
        self.task_seq = 0
        self.removed: dict[str, Task | Reservation | Transfer] = {}

    # ================================================================== reading

    def task(self, sid: str) -> Task:
        task = self.tasks.get(sid)
        if task is None:
            raise NotFound(f"The requested resource Task {sid} was not found")
        return task

    def reservation(self, sid: str, *, task_sid: str | None = None,
                    worker_sid: str | None = None) -> Reservation:
        reservation = self.reservations.get(sid)
        if reservation is None or (task_sid and reservation.task_sid != task_sid) or (
                worker_sid and reservation.worker_sid != worker_sid):
            raise NotFound(f"The requested resource Reservation {sid} was not found")
        return reservation

    def reservations_of_worker(self, worker_sid: str) -> list[Reservation]:
        return sorted(self.worker_reservations.get(worker_sid, {}).values(),
                      key=lambda r: (r.date_created, r.sid))

    # ================================================================== tasks

    def create_task(
        self,
        now: int,
        *,
        attributes: str | None = None,
        priority: int | None = None,
        timeout: int | None = None,
        task_channel: str | None = None,
        workflow_sid: str | None = None,
        virtual_start_time: int | None = None,
        routing_target: str | None = None,
        ignore_capacity: bool | None = None,
        task_queue_sid: str | None = None,
    ) -> Task:
        resources = self.resources
        attributes = "{}" if attributes is None else attributes
        parsed = validate.attributes(attributes)
        if priority is not None:
            validate.in_range(priority, "Priority", 0, MAX_PRIORITY)
        timeout = DEFAULT_TASK_TIMEOUT if timeout is None else timeout
        validate.in_range(timeout, "Timeout", 1, MAX_TASK_TIMEOUT)
        channel = resources.task_channel(task_channel or "default", "TaskChannel")
        if virtual_start_time is not None:
            _check_virtual_start_time(virtual_start_time, now)
        # Empty values mean absent, as the official clients send an unset optional parameter.
        routing_target = routing_target or None
        task_queue_sid = task_queue_sid or None
        workflow: Workflow | None = None
        queue: TaskQueue | None = None
        target_worker: Worker | None = None
        if routing_target:
            prefix = routing_target[:2]
            if prefix == "WK":
                target_worker = resources.worker(routing_target, "RoutingTarget")
            elif prefix == "WQ":
                queue = resources.task_queue(routing_target, "RoutingTarget")
            elif prefix == "WW":
                workflow = resources.workflow(routing_target, "RoutingTarget")
            else:
                raise InvalidParameter(
                    f"RoutingTarget '{routing_target}' must be a Worker, TaskQueue or "
                    "Workflow SID")
        if ignore_capacity is not None and target_worker is None:
            raise InvalidParameter("IgnoreCapacity can only be used with a Worker RoutingTarget")
        if task_queue_sid:
            named_queue = resources.task_queue(task_queue_sid, "TaskQueueSid")
            if routing_target is None:
                queue = named_queue
        if workflow_sid:
            workflow = workflow or resources.workflow(workflow_sid, "WorkflowSid")
        elif routing_target is None and task_queue_sid is None:
            if len(self.workflows) != 1:
                raise InvalidParameter(
                    "WorkflowSid field is required: the workspace has "
                    f"{len(self.workflows)} workflows")
            workflow = next(iter(self.workflows.values()))

        self.task_seq += 1
        task = Task(
            sid=self.sids("WT"),
            account_sid=self.workspace.account_sid,
            workspace_sid=self.workspace.sid,
            seq=self.task_seq,
            attributes=attributes,
            assignment_status="pending",
            priority=priority or 0,
            reason=None,
            timeout=timeout,
            task_channel_sid=channel.sid,
            workflow_sid=workflow.sid if workflow else None,
            task_queue_sid=None,
            routing_target=routing_target or None,
            ignore_capacity=(True if ignore_capacity is None else ignore_capacity)
            if target_worker else None,
            virtual_start_time=now if virtual_start_time is None else virtual_start_time,
            task_queue_entered_date=None,
            version=0,
            date_created=now,
            date_updated=now,
            parsed_attributes=parsed,
        )
        self.tasks[task.sid] = task
        self.task_reservations[task.sid] = []
        self._touch(task)
        self._task_event("task.created", task, now, "Task created")
        self.timers.schedule(self.ttl_deadline(task), timers.TASK_TTL, task.sid)
        if target_worker is not None:
            task.filter_index = None
            task.task_queue_sid = task_queue_sid or None
            self._offer_task(task, now)
        elif queue is not None and workflow is None:
            task.filter_index = None
            self._enter_queue(task, queue.sid, now)
            self._offer_task(task, now)
        else:
            assert workflow is not None and workflow.config is not None
            task.config = workflow.config
            self._task_event("workflow.entered", task, now, "Task entered workflow")
            self._match_filters(task, 0, now, after_skip=False)
        return task

    def update_task(
        self,
        sid: str,
        now: int,
        *,
        attributes: str | None = None,
        assignment_status: str | None = None,
        reason: str | None = None,
        priority: int | None = None,
        task_channel: str | None = None,
        virtual_start_time: int | None = None,
        if_match: str | None = None,
    ) -> Task:
        task = self.task(sid)
        check_version(task.version, if_match, f"Task {sid}")
        parsed = validate.attributes(attributes) if attributes is not None else None
        if priority is not None:
            validate.in_range(priority, "Priority", 0, MAX_PRIORITY)
        channel = (self.resources.task_channel(task_channel, "TaskChannel")
                   if task_channel is not None else None)
        if virtual_start_time is not None:
            _check_virtual_start_time(virtual_start_time, now)
        status = task.assignment_status
        if reason is not None and assignment_status is None:
            # A reason belongs to a change of status: kept with it, never silently dropped.
            raise InvalidParameter("Reason is kept only with AssignmentStatus canceled, "
                                   "wrapping or completed; send it with one of them")
        if assignment_status is not None:
            if parsed is not None:
                raise InvalidParameter(
                    "AssignmentStatus and Attributes cannot be updated in the same request")
            allowed = {
                "canceled": ("pending", "reserved"),
                "wrapping": ("assigned",),
                "completed": ("assigned", "wrapping"),
            }.get(assignment_status)
            if allowed is None:
                raise InvalidParameter(
                    f"AssignmentStatus can only be set to canceled, wrapping or completed, "
                    f"not '{assignment_status}'")
            if status not in allowed:
                raise InvalidParameter(
                    f"Task {sid} is {status}; it cannot move to {assignment_status} (only from "
                    f"{' or '.join(allowed)})")
        if status in ("canceled", "completed") and (
                parsed is not None or priority is not None or channel is not None
                or virtual_start_time is not None):
            raise InvalidParameter(f"Task {sid} is {status}; it can no longer be changed")
        if channel is not None and status not in TASK_WAITING:
            raise InvalidParameter(f"Task {sid} is {status}; its TaskChannel can no longer "
                                   "be changed")

        changed_routing = False
        if parsed is not None and attributes is not None:
            task.attributes = attributes
            task.parsed_attributes = parsed
            changed_routing = True
        if priority is not None and priority != task.priority:
            task.priority = priority
            changed_routing = True
        if channel is not None and channel.sid != task.task_channel_sid:
            task.task_channel_sid = channel.sid
            changed_routing = True
        if virtual_start_time is not None and virtual_start_time != task.virtual_start_time:
            task.virtual_start_time = virtual_start_time
            changed_routing = True
        if assignment_status is None or changed_routing:
            self._bump(task, now)
            self._task_event("task.updated", task, now, "Task updated")
        if changed_routing and task.assignment_status == "pending":
            self._reroute(task, now, reevaluate=parsed is not None)
        if assignment_status == "canceled":
            self.cancel_task(task, now, reason or "Task canceled")
        elif assignment_status == "wrapping":
            self._wrap_up(task, now, reason)
        elif assignment_status == "completed":
            self._complete(task, now, reason or "Task completed")
        return task

    def delete_task(self, sid: str, now: int, *, if_match: str | None = None) -> None:
        task = self.task(sid)
        check_version(task.version, if_match, f"Task {sid}")
        self._remove(task, now, "task.deleted", "Task deleted")

    def _remove(self, task: Task, now: int, event_type: str, description: str) -> None:
        """Delete a task, ending its open reservations (their workers hear of it and get
        their capacity back)."""
        self.waiting.discard(task)
        freed = self._end_open_reservations(task, now, "deleted")
        self._task_event(event_type, task, now, description)
        gone = self._forget_task(task)
        removed = self.removed
        for entity in gone:
            removed[entity.sid] = entity
        while len(removed) > REMEMBERED_REMOVALS:
            del removed[next(iter(removed))]
        self._offer_workers(freed, now)

    def _end_open_reservations(self, task: Task, now: int, why: str) -> list[str]:
        """The task ends (``why``: canceled or deleted): pending reservations are canceled,
        accepted and wrapping ones completed, and a transfer in progress fails."""
        freed = [self._end_reservation(
            r, "canceled" if r.reservation_status == "pending" else "completed", now)
            for r in self.task_reservations[task.sid] if r.reservation_status in RESERVATION_OPEN]
        if task.transfer is not None:
            self.transfers.end(task.transfer, task, FAILED, now, TASK_ENDED_REASON.format(why))
            task.transfer = None
        return freed

    def cancel_task(self, task: Task, now: int, reason: str) -> None:
        self.waiting.discard(task)
        task.assignment_status = "canceled"
        task.reason = reason
        freed = self._end_open_reservations(task, now, "canceled")
        self._finish(task, now)
        self._task_event("task.canceled", task, now, f"Task canceled: {reason}")
        self._offer_workers(freed, now)

    def _wrap_up(self, task: Task, now: int, reason: str | None = None) -> None:
        task.assignment_status = "wrapping"
        if reason is not None:  # Task.wrapUp({reason}) sends one; TaskRouter keeps it
            task.reason = reason
        self._bump(task, now)
        for reservation in self.task_reservations[task.sid]:
            if reservation.reservation_status == "accepted":
                self._wrap_reservation(reservation, now)
        self._task_event("task.wrapup", task, now, "Task wrapping up")

    def _wrap_reservation(self, reservation: Reservation, now: int) -> None:
        reservation.reservation_status = "wrapping"
        self._bump_reservation(reservation, now)
        self._reservation_event("reservation.wrapup", reservation, now, "Reservation wrapping up")

    def _complete(self, task: Task, now: int, reason: str) -> None:
        task.assignment_status = "completed"
        task.reason = reason
        freed = [self._end_reservation(r, "completed", now)
                 for r in self.task_reservations[task.sid]
                 if r.reservation_status in ("accepted", "wrapping")]
        self._finish(task, now)
        self._task_event("task.completed", task, now, f"Task completed: {reason}")
        self._offer_workers(freed, now)

    def _finish(self, task: Task, now: int) -> None:
        task.purge_at = now + PURGE_AFTER_MS
        task.step_deadline = None
        self._bump(task, now)
        self.timers.schedule(task.purge_at, timers.TASK_PURGE, task.sid)

    # ================================================================== workflow steps

    def _match_filters(self, task: Task, start: int, now: int, *, after_skip: bool,
                       entered: int | None = None, exclude: str | None = None) -> None:
        """Enter the first filter from ``start`` that matches, else the default or cancel.

        A first filter is entered at the task's creation unless ``entered`` says otherwise;
        ``exclude`` is a worker the task is not offered to at once (it just declined it)."""
        config = task.config
        assert config is not None
        index = workflows.matching_filter(config, task.parsed_attributes, now, start,
                                          after_skip=after_skip)
        if index is None:
            self._fall_off_workflow(task, now)
            return
        task.filter_index = index
        first = task.date_created if entered is None else entered
        task.filter_entered = first if start == 0 and index >= 0 else now
        self._enter_target(task, config, 0, now, exclude)

    def _enter_target(self, task: Task, config: WorkflowConfig, index: int, now: int,
                      exclude: str | None = None) -> None:
        steps = workflows.targets(task, config)
        target = steps[index]
        task.target = target
        task.target_index = index
        if target.priority is not None:
            task.priority = target.priority
        task.step_deadline = workflows.step_deadline(task, steps, index)
        if task.step_deadline is not None:
            self.timers.schedule(task.step_deadline, timers.STEP_TIMEOUT, task.sid)
        self._bump(task, now)
        data = workflows.filter_fields(task, config)
        self._task_event("workflow.target-matched", task, now, "Task matched a workflow target",
                         data)
        self._enter_queue(task, target.queue_sid, now)
        if task.step_deadline is not None and task.step_deadline <= now:
            self._advance(task, now, skipped=False)
            return
        if not self._offer_task(task, now, exclude) and target.skip_if is not None and (
                target.skip_if.evaluate({"workers": self._presence(target.queue_sid)})):
            self.waiting.discard(task)
            self._advance(task, now, skipped=True)

    def _enter_queue(self, task: Task, queue_sid: str, now: int) -> None:
        previous = task.task_queue_sid
        if previous == queue_sid:
            return
        task.task_queue_sid = queue_sid
        task.task_queue_entered_date = now
        if previous is not None and previous in self.task_queues:
            self._task_event("task-queue.moved", task, now, "Task moved to another queue",
                             {"task_queue_previous_sid": previous})
        self._task_event("task-queue.entered", task, now, "Task entered a queue")

    def _advance(self, task: Task, now: int, *, skipped: bool) -> None:
        """Leave the current target: the next target, the next matching filter, or the end."""
        config = task.config
        if config is None or task.filter_index is None or task.filter_index < 0:
            return  # direct routing and the default filter have no next step
        if not skipped:
            self._task_event("task-queue.timeout", task, now, "Task timed out of its queue step")
        steps = workflows.targets(task, config)
        if task.target_index + 1 < len(steps):
            self._enter_target(task, config, task.target_index + 1, now)
            return
        if skipped:
            self._task_event("workflow.skipped", task, now, "Task skipped the last workflow step")
        self._match_filters(task, task.filter_index + 1, now, after_skip=skipped)

    def _fall_off_workflow(self, task: Task, now: int) -> None:
        self._task_event("workflow.timeout", task, now, "Task reached the end of its workflow")
        self.cancel_task(task, now, WORKFLOW_TIMEOUT_REASON)

    def _reroute(self, task: Task, now: int, *, reevaluate: bool) -> None:
        """A waiting task changed: put it back in order, re-running the filters if asked."""
        self.waiting.discard(task)
        config = task.config
        if reevaluate and config is not None and task.filter_index is not None:
            matched = workflows.matching_filter(config, task.parsed_attributes, now)
            if matched != task.filter_index:
                self._task_event("workflow.entered", task, now, "Task re-evaluated")
                self._match_filters(task, 0, now, after_skip=False)
                return
        self._offer_task(task, now)

    def reevaluate_workflow(self, workflow: Workflow, now: int) -> None:
        """``ReEvaluateTasks``: the workflow's waiting tasks route by its new configuration."""
        for task in list(self.tasks.values()):
            if task.workflow_sid == workflow.sid and task.assignment_status == "pending" and (
                    task.transfer is None):  # a transfer, not the workflow, routes it now
                self.waiting.discard(task)
                task.config = workflow.config
                self._task_event("workflow.entered", task, now, "Task re-evaluated")
                self._match_filters(task, 0, now, after_skip=False)

    def _presence(self, queue_sid: str) -> dict[str, int]:
        return workflows.presence(self.membership.members.get(queue_sid, ()), self.workers,
                                  self.activities)

    # ================================================================== matching

    def _offer_task(self, task: Task, now: int, exclude: str | None = None) -> bool:
        """Reserve workers for a waiting task now, or list it to wait. True if reserved."""
        workers = self._candidates(task, now, exclude)
        if workers:
            self._reserve(task, workers, now)
            return True
        self.waiting.add(task)
        return False

    def _max_reserved(self, task: Task) -> int:
        if is_for_one_worker(task):
            return 1
        queue = self.task_queues.get(task.task_queue_sid or "")
        return queue.max_reserved_workers if queue else 1

    def _candidates(self, task: Task, now: int, exclude: str | None) -> list[Worker]:
        if is_for_one_worker(task):
            worker = known_worker(task, self.workers, self.resources.worker_by_name)
            if worker is None or worker.sid == exclude:
                return []
            if ignores_capacity(task):
                return [] if self.eligibility.holds(worker, task) else [worker]
            if self.eligibility.fits(task, worker, now):
                return [worker]
            return []
        if task.task_queue_sid is None:
            return []
        return self.selector.select(task, self._max_reserved(task), now, exclude)

    def offer_worker(self, worker: Worker, now: int) -> None:
        """A worker may have become free: give it the best waiting tasks it can take."""
        while True:
            activity = self.activities.get(worker.activity_sid)
            if activity is None or not activity.available:
                return
            task = self.waiting.best_task_for(worker, now)
            if task is None:
                return
            workers = [worker]
            wanted = self._max_reserved(task)
            if wanted > 1:
                self.waiting.discard(task)
                others = self._candidates(task, now, exclude=worker.sid)
                workers += others[:wanted - 1]
            self._reserve(task, workers, now, "worker")

    def refresh_worker(self, worker: Worker, now: int | None = None) -> None:
        """Recompute where the worker could take work after any change to it."""
        self.selector.refresh(worker, now)

    def worker_changed(self, worker: Worker, now: int) -> None:
        """Anything that may let a worker take work: reindex it and offer it tasks."""
        self.selector.refresh(worker, now)
        self.offer_worker(worker, now)

    def set_activity(self, worker: Worker, activity_sid: str, now: int) -> None:
        """Move a worker to an activity (no-op if it is there already)."""
        if activity_sid != worker.activity_sid:
            self.resources.change_activity(worker, self.activities[activity_sid], now)
            self.membership.reindex_worker(worker, activity_only=True)
            self.selector.refresh(worker, now)

    def forget_worker(self, worker: Worker, now: int) -> list[Task]:
        """A worker is being deleted: cancel its pending reservations and unindex it.

        Returns the tasks those reservations held: the engine routes them again with
        ``route_again`` once the worker is gone, so that none can be offered to it again.
        """
        for reservation in list(self.worker_reservations.get(worker.sid, {}).values()):
            if reservation.reservation_status in ("accepted", "wrapping"):
                raise InvalidParameter(
                    f"Worker {worker.sid} has an active reservation ({reservation.sid}) and "
                    "cannot be deleted until its task is completed")
        orphans = []
        for reservation in list(self.worker_reservations.get(worker.sid, {}).values()):
            if reservation.reservation_status == "pending":
                self._end_reservation(reservation, "canceled", now)
                orphans.append(self.tasks[reservation.task_sid])
        self.worker_reservations.pop(worker.sid, None)
        self.selector.forget(worker)
        self.waiting.forget_worker(worker.sid)
        return orphans

    def route_again(self, tasks: Iterable[Task], now: int) -> None:
        """Tasks whose reservations ended without a worker to offer them to: route them."""
        for task in tasks:
            self._task_back(task, now, cause="canceled")

    # ================================================================== transfers

    def transfer_task(self, task_sid: str, reservation_sid: str, now: int, *, to: str,
                      worker_sid: str | None = None, mode: str | None = None,
                      priority: int | None = None, attributes: str | None = None) -> Transfer:
        """A worker hands a task it is working on to another worker or a queue."""
        task = self.task(task_sid)
        reservation = self.reservation(reservation_sid, task_sid=task_sid, worker_sid=worker_sid)
        transfer_type, mode, parsed = self.transfers.check(
            task, reservation, to=to, mode=mode, priority=priority, attributes=attributes)
        if parsed is not None and attributes is not None:
            task.attributes, task.parsed_attributes = attributes, parsed
        if priority is not None:
            task.priority = priority
        if parsed is not None or priority is not None:
            self._bump(task, now)
            self._task_event("task.updated", task, now, "Task updated")
        transfer = self.transfers.initiate(task, reservation, transfer_type=transfer_type,
                                           to=to, mode=mode, now=now)
        if mode == COLD:  # the worker who hands it on is done with it
            self._wrap_reservation(reservation, now)
        task.transfer = transfer
        # The transfer routes the task from now on: no workflow step, no step timeout.
        task.assignment_status = "pending"
        task.filter_index, task.target, task.step_deadline = None, None, None
        self._bump(task, now)
        if transfer_type == TO_QUEUE:
            self._enter_queue(task, to, now)
        self._offer_task(task, now)
        return transfer

    def cancel_transfer(self, sid: str, now: int, *, worker_sid: str | None = None,
                        task_sid: str | None = None) -> Transfer:
        """The worker who started a transfer calls it off: its pending reservations are
        canceled and the task goes back (``_after_transfer``)."""
        transfer = self.transfers.transfer(sid)
        if worker_sid and transfer.initiating_worker_sid != worker_sid:
            raise NotFound(f"The requested resource Transfer {sid} was not found")
        self.transfers.check_cancel(transfer, task_sid)
        task = self.tasks[transfer.task_sid]
        freed = [self._end_reservation(r, "canceled", now) for r in self.task_reservations[task.sid]
                 if r.reservation_status == "pending" and r.transfer_sid == transfer.sid]
        self.transfers.end(transfer, task, CANCELED, now)
        self._after_transfer(task, transfer, now)
        self._offer_workers(freed, now)
        return transfer

    def _after_transfer(self, task: Task, transfer: Transfer, now: int,
                        exclude: str | None = None) -> None:
        """A transfer failed or was canceled: back to the worker who started it if it still
        works on the task (warm), else routed again as when the task was created (cold)."""
        task.transfer = None
        self.waiting.discard(task)
        initiating = self.reservations.get(transfer.initiating_reservation_sid)
        back = initiating is not None and initiating.reservation_status == "accepted"
        task.assignment_status = "assigned" if back else "pending"
        self._bump(task, now)
        self._task_event("task.updated", task, now, "Task updated")
        if back:
            return
        workflow = self.workflows.get(task.workflow_sid or "")
        if workflow is not None and workflow.config is not None:
            task.config = workflow.config
            self._task_event("workflow.entered", task, now, "Task entered workflow")
            self._match_filters(task, 0, now, after_skip=False, entered=now, exclude=exclude)
            return
        # Routed without a workflow: to its RoutingTarget worker, else its first queue.
        if not is_for_one_worker(task) and transfer.initiating_queue_sid in self.task_queues:
            self._enter_queue(task, transfer.initiating_queue_sid, now)
        self._offer_task(task, now, exclude)

    # ================================================================== reservations

    def _reserve(self, task: Task, workers: list[Worker], now: int, via: str = "task") -> None:
        self.waiting.discard(task)
        task.assignment_count += 1
        if task.assignment_count > MAX_ASSIGNMENTS:
            self.cancel_task(task, now, MAX_ASSIGNMENTS_REASON)
            return
        task.decision = (now, via, workers[0].sid, workers[0].idle_since)
        task.assignment_status = "reserved"
        self._bump(task, now)
        workflow = self.workflows.get(task.workflow_sid or "")
        timeout = workflow.task_reservation_timeout if workflow else DEFAULT_RESERVATION_TIMEOUT
        queue = self.task_queues.get(task.task_queue_sid or "")
        for worker in workers:
            reservation = Reservation(
                sid=self.sids("WR"),
                account_sid=task.account_sid,
                workspace_sid=task.workspace_sid,
                task_sid=task.sid,
                worker_sid=worker.sid,
                reservation_status="pending",
                task_channel_sid=task.task_channel_sid,
                task_queue_sid=task.task_queue_sid,
                workflow_sid=task.workflow_sid,
                timeout_at=now + timeout * 1000,
                previous_activity_sid=None,
                version=0,
                date_created=now,
                date_updated=now,
                transfer_sid=task.transfer.sid if task.transfer is not None else None,
            )
            self._remember(reservation)
            self.hold(reservation, worker, +1, 0)
            self.resources.bump_worker_version(worker)  # as TaskRouter's (and the SDK's count)
            worker.idle_since = now
            self.changes.touch(worker)
            if not self.workspace.multi_task_enabled and queue and (
                    queue.reservation_activity_sid):
                reservation.previous_activity_sid = worker.activity_sid
                self.set_activity(worker, queue.reservation_activity_sid, now)
            self.selector.refresh(worker)
            self.timers.schedule(reservation.timeout_at or now, timers.RESERVATION_TIMEOUT,
                                 reservation.sid)
            self._reservation_event("reservation.created", reservation, now,
                                    "Reservation created")

    def update_reservation(
        self,
        sid: str,
        now: int,
        *,
        status: str | None,
        worker_activity_sid: str | None = None,
        task_sid: str | None = None,
        worker_sid: str | None = None,
        if_match: str | None = None,
    ) -> Reservation:
        reservation = self.reservation(sid, task_sid=task_sid, worker_sid=worker_sid)
        check_version(reservation.version, if_match, f"Reservation {sid}")
        if worker_activity_sid is not None:  # empty is refused, not read as absent
            self.resources.activity(worker_activity_sid, "WorkerActivitySid")
        current = reservation.reservation_status
        task = self.tasks[reservation.task_sid]
        if status in ("accepted", "rejected") and current != "pending":
            message = (f"Reservation {sid} is {current} and can no longer be {status}")
            if current in ("rescinded", "canceled", "timeout"):
                raise Gone(message)
            raise InvalidParameter(message)
        if status == "wrapping" and current != "accepted":
            raise InvalidParameter(f"Reservation {sid} is {current}; only an accepted "
                                   "reservation can move to wrapping")
        if status == "completed" and current not in ("accepted", "wrapping"):
            raise InvalidParameter(f"Reservation {sid} is {current}; only an accepted or "
                                   "wrapping reservation can be completed")
        if status not in (None, "accepted", "rejected", "wrapping", "completed"):
            raise InvalidParameter(
                f"ReservationStatus can be set to accepted, rejected, wrapping or completed, "
                f"not '{status}'")

        # WorkerActivitySid moves the worker whatever the status: when rejecting, instead of
        # its activity before the reservation; when completing, before it is offered new work;
        # when accepting or wrapping, after (over a queue's AssignmentActivitySid).
        worker = self.workers[reservation.worker_sid]
        if status == "accepted":
            self._accept(reservation, task, now)
        elif status == "rejected":
            self._reject(reservation, task, now, worker_activity_sid)
        elif status == "wrapping":
            if task.assignment_status == "assigned" and not self._others(
                    reservation, task, ("accepted",)):
                self._wrap_up(task, now)
            else:
                self._wrap_reservation(reservation, now)
        elif status == "completed":
            if worker_activity_sid:
                self.set_activity(worker, worker_activity_sid, now)
            if task.assignment_status in ("assigned", "wrapping") and not self._others(
                    reservation, task, RESERVATION_OPEN):
                self._complete(task, now, "Task completed")
            else:
                freed = self._end_reservation(reservation, "completed", now)
                if task.assignment_status == "assigned" and not self._others(
                        reservation, task, ("accepted",)):
                    self._wrap_up(task, now)  # nobody works on it now; others wrap it up
                self._offer_workers([freed], now)
        if worker_activity_sid and status in (None, "accepted", "wrapping"):
            self.set_activity(worker, worker_activity_sid, now)
            self.offer_worker(worker, now)
        return reservation

    def _others(self, reservation: Reservation, task: Task, statuses: Iterable[str]) -> bool:
        """Do other reservations hold the task (a transfer in progress or completed warm)?

        Wrapping or completing a reservation wraps or completes its task only when it is the
        last to work on it (then the task's own wrap-up or completion follows); else it acts
        on that reservation alone."""
        return any(other is not reservation and other.reservation_status in statuses
                   for other in self.task_reservations[task.sid])

    def reject_pending(self, worker: Worker, now: int) -> None:
        """``RejectPendingReservations``: reject every pending reservation of the worker."""
        for reservation in list(self.worker_reservations.get(worker.sid, {}).values()):
            if reservation.reservation_status == "pending":
                # The worker stays in the activity it asked for, not the one before reserving.
                self._reject(reservation, self.tasks[reservation.task_sid], now,
                             worker.activity_sid)

    def _accept(self, reservation: Reservation, task: Task, now: int) -> None:
        worker = self.workers[reservation.worker_sid]
        reservation.reservation_status = "accepted"
        self._bump_reservation(reservation, now)
        self.hold(reservation, worker, 0, +1)
        self.accepts.record(worker.sid, now)
        task.assignment_status = "assigned"
        task.step_deadline = None
        task.purge_at = now + ASSIGNED_LIFETIME_MS
        self._bump(task, now)
        self.timers.schedule(task.purge_at, timers.TASK_PURGE, task.sid)
        queue = self.task_queues.get(reservation.task_queue_sid or "")
        if not self.workspace.multi_task_enabled and queue and queue.assignment_activity_sid:
            self.set_activity(worker, queue.assignment_activity_sid, now)
        self._reservation_event("reservation.accepted", reservation, now, "Reservation accepted")
        if task.transfer is not None:
            self.transfers.end(task.transfer, task, COMPLETE, now)
            task.transfer = None
        rescinded = [self._end_reservation(other, "rescinded", now)
                     for other in self.task_reservations[task.sid]
                     if other is not reservation and other.reservation_status == "pending"]
        self._offer_workers(rescinded, now)

    def _reject(self, reservation: Reservation, task: Task, now: int,
                worker_activity_sid: str | None) -> None:
        worker = self.workers[reservation.worker_sid]
        self._end_reservation(reservation, "rejected", now)
        activity_sid = worker_activity_sid or reservation.previous_activity_sid
        if activity_sid:
            self.set_activity(worker, activity_sid, now)
        self.offer_worker(worker, now)
        self._task_back(task, now, exclude=worker.sid)

    def _timeout(self, reservation: Reservation, now: int) -> None:
        worker = self.workers[reservation.worker_sid]
        task = self.tasks[reservation.task_sid]
        self._end_reservation(reservation, "timeout", now)
        timeout_activity = self.workspace.timeout_activity_sid
        if timeout_activity and timeout_activity in self.activities:
            self.set_activity(worker, timeout_activity, now)
        self.offer_worker(worker, now)
        self._task_back(task, now, exclude=worker.sid, cause="timeout")

    def _task_back(self, task: Task, now: int, exclude: str | None = None,
                   cause: str = "rejected") -> None:
        """After a reservation ended unaccepted (``cause``: rejected, timeout or canceled):
        route the task again if nothing holds it."""
        if task.assignment_status != "reserved":
            return
        if any(r.reservation_status == "pending" for r in self.task_reservations[task.sid]):
            return
        transfer = task.transfer
        if transfer is not None and self.transfers.unanswered(transfer, task, cause, now):
            self._after_transfer(task, transfer, now, exclude)
            return
        task.assignment_status = "pending"
        self._bump(task, now)
        if transfer is not None:  # one failed attempt: the task waits in its new queue
            self._offer_task(task, now, exclude)
        elif self._ttl_over(task, now):
            self.cancel_task(task, now, TTL_REASON)
        elif task.step_deadline is not None and now >= task.step_deadline:
            self._advance(task, now, skipped=False)
        else:
            self._offer_task(task, now, exclude)

    def _end_reservation(self, reservation: Reservation, status: str, now: int) -> str:
        """pending/accepted/wrapping -> a final status, giving back the worker's capacity.

        Returns the worker's SID: the caller offers the freed worker new work once the
        command's own changes are done.
        """
        self._release(reservation, now)
        if status == "completed" and reservation.task_queue_sid is not None:
            self.handle_times.record(reservation.task_queue_sid, now - reservation.date_created)
        reservation.reservation_status = status
        reservation.timeout_at = None
        self._bump_reservation(reservation, now)
        self._reservation_event(f"reservation.{status}", reservation, now,
                                f"Reservation {status}")
        return reservation.worker_sid

    def _release(self, reservation: Reservation, now: int) -> None:
        worker = self.workers.get(reservation.worker_sid)
        if worker is None:
            return
        assigned = -1 if reservation.reservation_status in ("accepted", "wrapping") else 0
        self.hold(reservation, worker, -1, assigned)
        self.selector.refresh(worker, now)

    def hold(self, reservation: Reservation, worker: Worker, reserved: int, assigned: int
             ) -> None:
        """Count (or give back) what a reservation holds of its worker's channel."""
        wc = self.worker_channels[worker.sid].get(reservation.task_channel_sid)
        if wc is not None:
            wc.reserved += reserved
            wc.assigned += assigned

    def _offer_workers(self, worker_sids: list[str], now: int) -> None:
        for worker_sid in dict.fromkeys(worker_sids):
            worker = self.workers.get(worker_sid)
            if worker is not None:
                self.offer_worker(worker, now)

    def _remember(self, reservation: Reservation) -> None:
        self.reservations[reservation.sid] = reservation
        self.task_reservations.setdefault(reservation.task_sid, []).append(reservation)
        self.worker_reservations.setdefault(reservation.worker_sid, {})[reservation.sid] = (
            reservation)
        self.changes.touch(reservation)

    def _forget_reservation(self, reservation: Reservation) -> None:
        self.reservations.pop(reservation.sid, None)
        mine = self.worker_reservations.get(reservation.worker_sid)
        if mine is not None:
            mine.pop(reservation.sid, None)
        self.changes.delete(reservation)

    # ================================================================== time

    def ttl_deadline(self, task: Task) -> int:
        return task.date_created + task.timeout * 1000

    def _is_live(self, deadline: int, kind: int, sid: str) -> bool:
        if kind == timers.RESERVATION_TIMEOUT:
            reservation = self.reservations.get(sid)
            return (reservation is not None and reservation.reservation_status == "pending"
                    and reservation.timeout_at == deadline)
        task = self.tasks.get(sid)
        if task is None:
            return False
        if kind == timers.TASK_TTL:
            return task.assignment_status in TASK_WAITING and self.ttl_deadline(task) == deadline \
                and not self.transfers.had_any(task.sid)
        if kind == timers.STEP_TIMEOUT:
            return task.assignment_status in TASK_WAITING and task.step_deadline == deadline
        return task.purge_at == deadline

    def next_deadline(self) -> int | None:
        return self.timers.next_deadline(self._is_live)

    def pending_timers(self) -> list[timers.Entry]:
        """The live timers, soonest first (what will fire, for reading: routing/agenda.py)."""
        return self.timers.live(self._is_live)

    def fire_due(self, now: int) -> int:
        """Fire every live timer due by ``now``, in deadline order; returns how many fired."""
        fired = 0
        while (entry := self.timers.pop_due(now)) is not None:
            deadline, kind, _, sid = entry
            if not self._is_live(deadline, kind, sid):
                continue
            fired += 1
            if kind == timers.RESERVATION_TIMEOUT:
                self._timeout(self.reservations[sid], now)
            elif kind == timers.TASK_TTL:
                self.cancel_task(self.tasks[sid], now, TTL_REASON)
            elif kind == timers.STEP_TIMEOUT:
                task = self.tasks[sid]
                if task.assignment_status == "pending":  # a reservation in progress waits
                    self.waiting.discard(task)
                    self._advance(task, now, skipped=False)
            elif self.tasks[sid].assignment_status in TASK_ACTIVE:  # 24 h after an accept
                self._remove(self.tasks[sid], now, "task.system-deleted",
                             "Task deleted by the system: assigned for 24 hours")
            else:
                self._purge(self.tasks[sid])
        return fired

    def _purge(self, task: Task) -> None:
        """Finished tasks leave the system quietly (no event), as on TaskRouter."""
        self._forget_task(task)

    def _forget_task(self, task: Task) -> list[Task | Reservation | Transfer]:
        """Take a task, its reservations and its transfers out of the workspace."""
        del self.tasks[task.sid]
        self.changes.delete(task)
        reservations = self.task_reservations.pop(task.sid, [])
        for reservation in reservations:
            self._forget_reservation(reservation)
        return [task, *reservations, *self.transfers.forget_task(task.sid)]

    def _ttl_over(self, task: Task, now: int) -> bool:
        """The TTL limits waiting before a task is first assigned: a transferred task has been."""
        return now >= self.ttl_deadline(task) and not self.transfers.had_any(task.sid)

    # ================================================================== events and versions

    def _touch(self, task: Task) -> None:
        self.changes.touch(task)

    def _bump(self, task: Task, now: int) -> None:
        task.version += 1
        task.date_updated = now
        self.changes.touch(task)

    def _bump_reservation(self, reservation: Reservation, now: int) -> None:
        reservation.version += 1
        reservation.date_updated = now
        self.changes.touch(reservation)

    def _task_event(self, event_type: str, task: Task, now: int, description: str,
                    extra: dict[str, Any] | None = None, *, worker_sid: str | None = None,
                    reservation_sid: str | None = None) -> Event:
        channel = self.task_channels.get(task.task_channel_sid)
        data = event_data.task_data(task, now, channel,
                                    self.task_queues.get(task.task_queue_sid or ""),
                                    self.workflows.get(task.workflow_sid or ""))
        if extra:
            data.update(extra)
        return self.emit(event_type, "task", task.sid, now, description, data,
                         task_sid=task.sid, task_queue_sid=task.task_queue_sid,
                         workflow_sid=task.workflow_sid,
                         task_channel=channel.unique_name if channel else None,
                         worker_sid=worker_sid, reservation_sid=reservation_sid)

    def _reservation_event(self, event_type: str, reservation: Reservation, now: int,
                           description: str) -> None:
        task = self.tasks[reservation.task_sid]
        worker = self.workers.get(reservation.worker_sid)
        task_channels = self.task_channels
        data = event_data.task_data(task, now, task_channels.get(task.task_channel_sid),
                                    self.task_queues.get(reservation.task_queue_sid or ""),
                                    self.workflows.get(task.workflow_sid or ""))
        if worker is not None:
            data.update(event_data.worker_data(worker, self.activities.get(worker.activity_sid)))
        data.update(event_data.reservation_data(reservation))
        channel = task_channels.get(task.task_channel_sid)
        event = self.emit(event_type, "reservation", reservation.sid, now, description, data,
                          task_sid=task.sid, worker_sid=reservation.worker_sid,
                          reservation_sid=reservation.sid,
                          task_queue_sid=reservation.task_queue_sid,
                          workflow_sid=task.workflow_sid,
                          task_channel=channel.unique_name if channel else None)
        workflow = self.workflows.get(task.workflow_sid or "")
        if event_type == "reservation.created" and workflow is not None and (
                workflow.assignment_callback_url):
            event.assignment_url = workflow.assignment_callback_url
            event.assignment_fallback_url = workflow.fallback_assignment_callback_url


def _check_virtual_start_time(value: int, now: int) -> None:
    if value > now:
        raise InvalidParameter("VirtualStartTime cannot be in the future")
    if value < -2_208_988_800_000:  # 1900-01-01T00:00:00Z
        raise InvalidParameter("VirtualStartTime cannot be before the year 1900")
