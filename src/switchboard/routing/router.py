"""Tasks, reservations and the routing decisions between them.

Two questions are asked, each answered from indexes rather than scans:

* a task became routable: which workers take it? -> ``idle[(queue, channel)]``, the queue's
  members that could take a task of that channel now, longest idle first;
* a worker became free: which task does it take? -> ``pending[(queue, channel)]``, the queue's
  waiting tasks of that channel in queue order, for each of the worker's queues.

Queue order: FIFO queues by priority (high first), then virtual start time, then creation;
LIFO queues by virtual start time, newest first, ignoring priority. A worker in both kinds of
queue drains the kind named by the workspace's ``PrioritizeQueueOrder`` first.

Behaviour TaskRouter leaves undocumented, chosen here (see docs/differences.md):

* "Longest idle" means the longest time since the worker was last offered a reservation or
  last became able to take work in that queue and channel (a worker coming back from an
  unavailable activity or finishing its last task goes to the back). ``Worker.idle_since``
  records the last of these; after a restart workers are ordered by it.
* A rejected task is offered to the other eligible workers first; the worker who rejected it
  may get it again on a later opportunity.
* A target's timeout counts from the moment its filter was entered (task creation for the
  first matching filter); a reservation in progress at a step's deadline is left alone and the
  step ends when the task is waiting again.
* A task that matches no filter and has no default filter is canceled at once, like a task
  that falls off the end of its workflow.
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from sortedcontainers import SortedList

from switchboard.routing import events as event_data
from switchboard.routing import timers, validate
from switchboard.routing.errors import Gone, InvalidParameter, NotFound
from switchboard.routing.model import (
    RESERVATION_OPEN,
    TASK_WAITING,
    Reservation,
    Task,
    TaskQueue,
    Worker,
    Workflow,
)
from switchboard.routing.workflow_config import Target, WorkflowConfig

if TYPE_CHECKING:
    from switchboard.routing.engine import WorkspaceEngine

DEFAULT_TASK_TIMEOUT = 86_400
MAX_TASK_TIMEOUT = 1_209_600
MAX_PRIORITY = 2_147_483_647
DEFAULT_RESERVATION_TIMEOUT = 120
MAX_ASSIGNMENTS = 1_000
PURGE_AFTER_MS = 300_000  # finished tasks are kept five minutes, as on TaskRouter
ASSIGNED_LIFETIME_MS = 86_400_000  # an assigned task not completed within 24 h is deleted
TTL_REASON = "Task TTL Exceeded"
WORKFLOW_TIMEOUT_REASON = "Task canceled on Workflow timeout"
MAX_ASSIGNMENTS_REASON = "Task TTL Exceeded or Max assignment count exceeded"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def taskrouter_variables(now: int) -> dict[str, Any]:
    """The ``taskrouter.*`` time-of-day variables, in UTC."""
    moment = _time.gmtime(now // 1000)
    return {
        "currentTime": moment.tm_hour * 100 + moment.tm_min,
        "currentHour": moment.tm_hour,
        "currentMin": moment.tm_min,
        "dayOfWeek": _DAYS[moment.tm_wday],
    }


class _TaskView(Mapping[str, Any]):
    """A task's attributes, plus ``taskrouter`` for filter expressions."""

    __slots__ = ("_attributes", "_now")

    def __init__(self, attributes: dict[str, Any], now: int) -> None:
        self._attributes = attributes
        self._now = now

    def __getitem__(self, key: str) -> Any:
        if key == "taskrouter" and key not in self._attributes:
            return taskrouter_variables(self._now)
        return self._attributes[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._attributes)

    def __len__(self) -> int:
        return len(self._attributes)


def _fifo_key(task: Task) -> tuple[Any, ...]:
    return (-task.priority, task.virtual_start_time, task.seq, task.sid)


def _lifo_key(task: Task) -> tuple[Any, ...]:
    return (-task.virtual_start_time, -task.seq, task.sid)


class Router:
    def __init__(self, engine: WorkspaceEngine) -> None:
        self.e = engine
        self.tasks: dict[str, Task] = {}
        self.reservations: dict[str, Reservation] = {}
        self.task_reservations: dict[str, list[Reservation]] = {}
        self.worker_reservations: dict[str, dict[str, Reservation]] = {}
        # Waiting tasks, by (queue, channel) or by the one worker they are for.
        self.pending: dict[tuple[str, str], SortedList] = {}
        self.known: dict[str, SortedList] = {}
        # task sid -> (worker sid or (queue, channel), key): where the task waits
        self._task_slot: dict[str, tuple[Any, tuple[Any, ...]]] = {}
        # Workers that could take a task now, by (queue, channel), longest idle first. A dict
        # keeps insertion order, and a worker always enters at the back, so entering, leaving
        # and moving to the back are all O(1).
        self.idle: dict[tuple[str, str], dict[str, None]] = {}
        self._idle_slots: dict[str, tuple[int, frozenset[tuple[str, str]]]] = {}
        self.timers = timers.Timers()
        self.task_seq = 0

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
        e = self.e
        attributes = "{}" if attributes is None else attributes
        parsed = validate.attributes(attributes)
        if priority is not None:
            validate.in_range(priority, "Priority", 0, MAX_PRIORITY)
        timeout = DEFAULT_TASK_TIMEOUT if timeout is None else timeout
        validate.in_range(timeout, "Timeout", 1, MAX_TASK_TIMEOUT)
        channel = e.task_channel(task_channel or "default", "TaskChannel")
        if virtual_start_time is not None:
            _check_virtual_start_time(virtual_start_time, now)
        workflow: Workflow | None = None
        queue: TaskQueue | None = None
        target_worker: Worker | None = None
        if routing_target:
            prefix = routing_target[:2]
            if prefix == "WK":
                target_worker = e.worker(routing_target, "RoutingTarget")
            elif prefix == "WQ":
                queue = e.task_queue(routing_target, "RoutingTarget")
            elif prefix == "WW":
                workflow = e.workflow(routing_target, "RoutingTarget")
            else:
                raise InvalidParameter(
                    f"RoutingTarget '{routing_target}' must be a Worker, TaskQueue or "
                    "Workflow SID")
        if ignore_capacity is not None and target_worker is None:
            raise InvalidParameter("IgnoreCapacity can only be used with a Worker RoutingTarget")
        if task_queue_sid:
            named_queue = e.task_queue(task_queue_sid, "TaskQueueSid")
            if routing_target is None:
                queue = named_queue
        if workflow_sid:
            workflow = workflow or e.workflow(workflow_sid, "WorkflowSid")
        elif routing_target is None and task_queue_sid is None:
            if len(e.workflows) != 1:
                raise InvalidParameter(
                    "WorkflowSid field is required: the workspace has "
                    f"{len(e.workflows)} workflows")
            workflow = next(iter(e.workflows.values()))

        self.task_seq += 1
        task = Task(
            sid=e.sids("WT"),
            account_sid=e.workspace.account_sid,
            workspace_sid=e.workspace.sid,
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
        self.timers.schedule(self._ttl_deadline(task), timers.TASK_TTL, task.sid)
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
        self.e.check_version(task.version, if_match, f"Task {sid}")
        parsed = validate.attributes(attributes) if attributes is not None else None
        if priority is not None:
            validate.in_range(priority, "Priority", 0, MAX_PRIORITY)
        channel = self.e.task_channel(task_channel, "TaskChannel") if task_channel else None
        if virtual_start_time is not None:
            _check_virtual_start_time(virtual_start_time, now)
        status = task.assignment_status
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
            self._wrap_up(task, now)
        elif assignment_status == "completed":
            self._complete(task, now, reason or "Task completed")
        return task

    def delete_task(self, sid: str, now: int, *, if_match: str | None = None) -> None:
        task = self.task(sid)
        self.e.check_version(task.version, if_match, f"Task {sid}")
        self._remove(task, now, "task.deleted", "Task deleted")

    def _remove(self, task: Task, now: int, event_type: str, description: str) -> None:
        """Delete a task, giving its workers their capacity back."""
        self._unlist(task)
        freed = []
        for reservation in self.task_reservations.pop(task.sid, []):
            if reservation.reservation_status in RESERVATION_OPEN:
                self._release(reservation, now)
                freed.append(reservation.worker_sid)
            self._forget_reservation(reservation)
        del self.tasks[task.sid]
        self.e.changes.delete(task)
        self._task_event(event_type, task, now, description)
        self._offer_workers(freed, now)

    def cancel_task(self, task: Task, now: int, reason: str) -> None:
        self._unlist(task)
        task.assignment_status = "canceled"
        task.reason = reason
        freed = [self._end_reservation(r, "canceled", now) for r in self.task_reservations[task.sid]
                 if r.reservation_status == "pending"]
        self._finish(task, now)
        self._task_event("task.canceled", task, now, f"Task canceled: {reason}")
        self._offer_workers(freed, now)

    def _wrap_up(self, task: Task, now: int) -> None:
        task.assignment_status = "wrapping"
        self._bump(task, now)
        for reservation in self.task_reservations[task.sid]:
            if reservation.reservation_status == "accepted":
                reservation.reservation_status = "wrapping"
                self._bump_reservation(reservation, now)
                self._reservation_event("reservation.wrapup", reservation, now,
                                        "Reservation wrapping up")
        self._task_event("task.wrapup", task, now, "Task wrapping up")

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

    def _match_filters(self, task: Task, start: int, now: int, *, after_skip: bool) -> None:
        """Enter the first filter from ``start`` that matches, else the default or cancel."""
        config = task.config
        assert config is not None
        view = _TaskView(task.parsed_attributes, now)
        for index in range(start, len(config.filters)):
            expression = config.filters[index].expression
            if expression.always_true or expression.evaluate(view):
                task.filter_index = index
                task.filter_entered = task.date_created if start == 0 else now
                self._enter_target(task, config, 0, now)
                return
        if config.default_filter is not None and (start == 0 or after_skip):
            task.filter_index = -1
            task.filter_entered = now
            self._enter_target(task, config, 0, now)
            return
        self._fall_off_workflow(task, now)

    def _targets(self, task: Task, config: WorkflowConfig) -> tuple[Target, ...]:
        """The targets of the task's filter; none when the filter is gone (a task rebuilt
        after its workflow changed without ReEvaluateTasks)."""
        if task.filter_index == -1:
            return (config.default_filter,) if config.default_filter is not None else ()
        assert task.filter_index is not None
        if task.filter_index >= len(config.filters):
            return ()
        return config.filters[task.filter_index].targets

    def _enter_target(self, task: Task, config: WorkflowConfig, index: int, now: int) -> None:
        targets = self._targets(task, config)
        target = targets[index]
        task.target = target
        task.target_index = index
        if target.priority is not None:
            task.priority = target.priority
        if task.filter_index != -1 and target.timeout is not None:
            elapsed = sum(t.timeout or 0 for t in targets[:index + 1])
            task.step_deadline = (task.filter_entered or task.date_created) + elapsed * 1000
            self.timers.schedule(task.step_deadline, timers.STEP_TIMEOUT, task.sid)
        else:
            task.step_deadline = None
        self._bump(task, now)
        data = self._filter_fields(task, config)
        self._task_event("workflow.target-matched", task, now, "Task matched a workflow target",
                         data)
        self._enter_queue(task, target.queue_sid, now)
        if task.step_deadline is not None and task.step_deadline <= now:
            self._advance(task, now, skipped=False)
            return
        if not self._offer_task(task, now) and target.skip_if is not None and (
                target.skip_if.evaluate({"workers": self._presence(target.queue_sid)})):
            self._unlist(task)
            self._advance(task, now, skipped=True)

    def _filter_fields(self, task: Task, config: WorkflowConfig) -> dict[str, Any]:
        if task.filter_index is None or task.filter_index < 0:
            return {"workflow_filter_name": "Default Filter", "workflow_filter_expression": None}
        item = config.filters[task.filter_index]
        target = task.target
        return {
            "workflow_filter_name": item.name,
            "workflow_filter_expression": item.expression.text,
            "workflow_filter_target_expression": target.expression.text
            if target and target.expression else None,
        }

    def _enter_queue(self, task: Task, queue_sid: str, now: int) -> None:
        previous = task.task_queue_sid
        if previous == queue_sid:
            return
        task.task_queue_sid = queue_sid
        task.task_queue_entered_date = now
        if previous is not None and previous in self.e.task_queues:
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
        targets = self._targets(task, config)
        if task.target_index + 1 < len(targets):
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
        self._unlist(task)
        config = task.config
        if reevaluate and config is not None and task.filter_index is not None:
            view = _TaskView(task.parsed_attributes, now)
            matched = next((i for i, item in enumerate(config.filters)
                            if item.expression.always_true or item.expression.evaluate(view)),
                           -1 if config.default_filter is not None else None)
            if matched != task.filter_index:
                self._task_event("workflow.entered", task, now, "Task re-evaluated")
                self._match_filters(task, 0, now, after_skip=False)
                return
        self._offer_task(task, now)

    def reevaluate_workflow(self, workflow: Workflow, now: int) -> None:
        """``ReEvaluateTasks``: the workflow's waiting tasks route by its new configuration."""
        for task in list(self.tasks.values()):
            if task.workflow_sid == workflow.sid and task.assignment_status == "pending":
                self._unlist(task)
                task.config = workflow.config
                self._task_event("workflow.entered", task, now, "Task re-evaluated")
                self._match_filters(task, 0, now, after_skip=False)

    def _presence(self, queue_sid: str) -> dict[str, int]:
        """``workers.available``, ``workers.unavailable`` and ``workers.<ActivitySid>``."""
        counts: dict[str, int] = {"available": 0, "unavailable": 0}
        e = self.e
        for worker_sid in e.queue_members.get(queue_sid, ()):
            activity = e.activities.get(e.workers[worker_sid].activity_sid)
            if activity is None:
                continue
            counts["available" if activity.available else "unavailable"] += 1
            counts[activity.sid] = counts.get(activity.sid, 0) + 1
        return counts

    # ================================================================== matching

    def _offer_task(self, task: Task, now: int, exclude: str | None = None) -> bool:
        """Reserve workers for a waiting task now, or list it to wait. True if reserved."""
        workers = self._candidates(task, now, exclude)
        if workers:
            self._reserve(task, workers, now)
            return True
        self._list(task)
        return False

    def _max_reserved(self, task: Task) -> int:
        if self._is_for_one_worker(task):
            return 1
        queue = self.e.task_queues.get(task.task_queue_sid or "")
        return queue.max_reserved_workers if queue else 1

    def _known_worker(self, task: Task) -> Worker | None:
        """The one worker a task is for: its RoutingTarget, or the target's known worker."""
        e = self.e
        if task.routing_target and task.routing_target.startswith("WK"):
            return e.workers.get(task.routing_target)
        target = task.target
        if target is None:
            return None
        if target.known_worker_sid is not None:
            value = _walk(task.parsed_attributes, target.known_worker_sid)
            return e.workers.get(value) if isinstance(value, str) else None
        if target.known_worker_friendly_name is not None:
            value = _walk(task.parsed_attributes, target.known_worker_friendly_name)
            return e.worker_by_name(value) if isinstance(value, str) else None
        return None

    def _is_for_one_worker(self, task: Task) -> bool:
        target = task.target
        return bool(task.routing_target and task.routing_target.startswith("WK")) or (
            target is not None and (target.known_worker_sid is not None
                                    or target.known_worker_friendly_name is not None))

    def _candidates(self, task: Task, now: int, exclude: str | None) -> list[Worker]:
        e = self.e
        if self._is_for_one_worker(task):
            worker = self._known_worker(task)
            if worker is None or worker.sid == exclude:
                return []
            if task.ignore_capacity:
                return [] if self._holds(worker, task) else [worker]
            if self._fits(task, worker, now):
                return [worker]
            return []
        if task.task_queue_sid is None:
            return []
        wanted = self._max_reserved(task)
        target = task.target
        entries = self.idle.get((task.task_queue_sid, task.task_channel_sid))
        if not entries:
            return []
        chosen: list[Worker] = []
        ordered = target is not None and bool(target.order_by)
        for worker_sid in entries:
            if worker_sid == exclude:
                continue
            worker = e.workers[worker_sid]
            if target is not None and target.expression is not None and not (
                    self._target_matches(task, target, worker, now)):
                continue
            if self._holds(worker, task):
                continue
            chosen.append(worker)
            if len(chosen) == wanted and not ordered:
                break
        if ordered and target is not None:
            chosen.sort(key=lambda w: _order_key(w, target))
            chosen = chosen[:wanted]
        return chosen

    def _target_matches(self, task: Task, target: Target, worker: Worker, now: int) -> bool:
        expression = target.expression
        if expression is None:
            return True
        root: dict[str, Any] = {"task": task.parsed_attributes,
                                "worker": self.e.worker_view(worker)}
        if "taskrouter" in expression.roots:
            root["taskrouter"] = taskrouter_variables(now)
        return expression.evaluate(root)

    def _fits(self, task: Task, worker: Worker, now: int) -> bool:
        """Could ``worker`` be reserved for ``task`` now (activity, capacity, expression)?"""
        activity = self.e.activities.get(worker.activity_sid)
        if activity is None or not activity.available:
            return False
        if not self._has_room(worker, task.task_channel_sid) or self._holds(worker, task):
            return False
        target = task.target
        if target is None:
            return True
        # A known worker outside the step's queue does not get the task (Twilio error 40152).
        return task.task_queue_sid in self.e.worker_queues.get(worker.sid, ()) and (
            self._target_matches(task, target, worker, now))

    def _free_channels(self, worker: Worker) -> list[str]:
        """The channels on which the worker has room for one more task."""
        channels = self.e.worker_channels.get(worker.sid, {})
        if not self.e.workspace.multi_task_enabled:
            return [] if any(wc.reserved for wc in channels.values()) else list(channels)
        return [sid for sid, wc in channels.items()
                if wc.available and wc.reserved < wc.configured_capacity]

    def _has_room(self, worker: Worker, channel_sid: str) -> bool:
        e = self.e
        channels = e.worker_channels[worker.sid]
        if not e.workspace.multi_task_enabled:  # single-tasking: one task at a time, any channel
            return not any(wc.reserved for wc in channels.values())
        wc = channels.get(channel_sid)
        return wc is not None and wc.available and wc.reserved < wc.configured_capacity

    def _holds(self, worker: Worker, task: Task) -> bool:
        # A task has few reservations; a busy worker may have many (finished ones linger).
        return any(r.worker_sid == worker.sid and r.reservation_status == "pending"
                   for r in self.task_reservations.get(task.sid, ()))

    def offer_worker(self, worker: Worker, now: int) -> None:
        """A worker may have become free: give it the best waiting tasks it can take."""
        while True:
            activity = self.e.activities.get(worker.activity_sid)
            if activity is None or not activity.available:
                return
            task = self._best_task_for(worker, now)
            if task is None:
                return
            workers = [worker]
            wanted = self._max_reserved(task)
            if wanted > 1:
                self._unlist(task)
                others = self._candidates(task, now, exclude=worker.sid)
                workers += others[:wanted - 1]
            self._reserve(task, workers, now)

    def _best_task_for(self, worker: Worker, now: int) -> Task | None:
        e = self.e
        channels = self._free_channels(worker)
        if not channels:
            return None
        fifo_first = e.workspace.prioritize_queue_order == "FIFO"
        best: tuple[tuple[Any, ...], Task] | None = None  # (rank, task)
        for queue_sid in e.worker_queues.get(worker.sid, ()):
            lifo = e.task_queues[queue_sid].task_order == "LIFO"
            for channel_sid in channels:
                entries = self.pending.get((queue_sid, channel_sid))
                if not entries:
                    continue
                for key in entries:
                    task = self.tasks[key[-1]]
                    if task.target is not None and task.target.expression is not None and not (
                            self._target_matches(task, task.target, worker, now)):
                        continue
                    if self._holds(worker, task):
                        continue
                    rank = (int(lifo == fifo_first), *key)  # the prioritized kind first
                    if best is None or rank < best[0]:
                        best = (rank, task)
                    break
        for key in self.known.get(worker.sid, ()):
            task = self.tasks[key[-1]]
            if task.ignore_capacity or (task.task_channel_sid in channels
                                        and self._fits(task, worker, now)):
                rank = (int(not fifo_first), *key)
                if best is None or rank < best[0]:
                    best = (rank, task)
                break
        return best[1] if best else None

    def _list(self, task: Task) -> None:
        """Put a waiting, unreserved task in the index it waits in."""
        if task.sid in self._task_slot:
            return
        if self._is_for_one_worker(task):
            worker = self._known_worker(task)
            if worker is None:
                return  # nobody can take it: it waits for its step timeout or TTL
            key = _fifo_key(task)
            _sorted(self.known, worker.sid).add(key)
            self._task_slot[task.sid] = (worker.sid, key)
            return
        if task.task_queue_sid is None:
            return
        queue = self.e.task_queues[task.task_queue_sid]
        key = _lifo_key(task) if queue.task_order == "LIFO" else _fifo_key(task)
        slot = (task.task_queue_sid, task.task_channel_sid)
        _sorted(self.pending, slot).add(key)
        self._task_slot[task.sid] = (slot, key)

    def reorder_queue(self, queue_sid: str) -> None:
        """The queue's task order changed: re-key its waiting tasks in the new order."""
        for slot in [slot for slot in self.pending if slot[0] == queue_sid]:
            for key in list(self.pending[slot]):
                task = self.tasks[key[-1]]
                self._unlist(task)
                self._list(task)

    def _unlist(self, task: Task) -> None:
        entry = self._task_slot.pop(task.sid, None)
        if entry is None:
            return
        slot, key = entry
        index: dict[Any, SortedList] = self.known if isinstance(slot, str) else self.pending
        entries = index[slot]
        entries.remove(key)
        if not entries:
            del index[slot]

    # ------------------------------------------------------------------ idle index

    def refresh_worker(self, worker: Worker, now: int | None = None) -> None:
        """Recompute where a worker appears in the idle index after any change to it.

        Given ``now``, a worker that could take no work before and can now is idle from now:
        it goes to the back, and ``idle_since`` says so (an engine rebuilt from the store
        orders idle workers by it).
        """
        e = self.e
        slots: set[tuple[str, str]] = set()
        activity = e.activities.get(worker.activity_sid)
        if activity is not None and activity.available:
            free = self._free_channels(worker)
            slots = {(queue_sid, channel_sid) for queue_sid in e.worker_queues.get(worker.sid, ())
                     for channel_sid in free}
        sid = worker.sid
        old_since, old_slots = self._idle_slots.get(sid, (worker.idle_since, frozenset()))
        if now is not None and slots and not old_slots and worker.idle_since != now:
            worker.idle_since = now
            e.changes.touch(worker)
        if old_since != worker.idle_since:  # just offered work: to the back everywhere
            removed, added = old_slots, slots
        else:
            removed, added = old_slots - slots, slots - old_slots
        idle = self.idle
        for slot in removed:
            entries = idle[slot]
            del entries[sid]
            if not entries:
                del idle[slot]
        for slot in added:
            waiting = idle.get(slot)
            if waiting is None:
                idle[slot] = {sid: None}
            else:
                waiting[sid] = None
        if slots:
            self._idle_slots[sid] = (worker.idle_since, frozenset(slots))
        else:
            self._idle_slots.pop(sid, None)

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
        _, slots = self._idle_slots.pop(worker.sid, (0, frozenset()))
        for slot in slots:
            entries = self.idle[slot]
            del entries[worker.sid]
            if not entries:
                del self.idle[slot]
        for key in list(self.known.pop(worker.sid, ())):
            self._task_slot.pop(key[-1], None)
        return orphans

    def route_again(self, tasks: Iterable[Task], now: int) -> None:
        """Tasks whose reservations ended without a worker to offer them to: route them."""
        for task in tasks:
            self._task_back(task, now)

    # ================================================================== reservations

    def _reserve(self, task: Task, workers: list[Worker], now: int) -> None:
        e = self.e
        self._unlist(task)
        task.assignment_count += 1
        if task.assignment_count > MAX_ASSIGNMENTS:
            self.cancel_task(task, now, MAX_ASSIGNMENTS_REASON)
            return
        task.assignment_status = "reserved"
        self._bump(task, now)
        workflow = e.workflows.get(task.workflow_sid or "")
        timeout = workflow.task_reservation_timeout if workflow else DEFAULT_RESERVATION_TIMEOUT
        queue = e.task_queues.get(task.task_queue_sid or "")
        for worker in workers:
            reservation = Reservation(
                sid=e.sids("WR"),
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
            )
            self._remember(reservation)
            self._hold(reservation, worker, +1, 0)
            worker.idle_since = now
            e.changes.touch(worker)
            if not e.workspace.multi_task_enabled and queue and queue.reservation_activity_sid:
                reservation.previous_activity_sid = worker.activity_sid
                e.set_activity(worker, queue.reservation_activity_sid, now)
            self.refresh_worker(worker)
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
        self.e.check_version(reservation.version, if_match, f"Reservation {sid}")
        if worker_activity_sid:
            self.e.activity(worker_activity_sid, "WorkerActivitySid")
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

        if status == "accepted":
            self._accept(reservation, task, now)
        elif status == "rejected":
            self._reject(reservation, task, now, worker_activity_sid)
        elif status == "wrapping":
            self._wrap_up(task, now)
        elif status == "completed":
            self._complete(task, now, "Task completed")
        elif worker_activity_sid:
            worker = self.e.workers[reservation.worker_sid]
            self.e.set_activity(worker, worker_activity_sid, now)
            self.offer_worker(worker, now)
        return reservation

    def reject_pending(self, worker: Worker, now: int) -> None:
        """``RejectPendingReservations``: reject every pending reservation of the worker."""
        for reservation in list(self.worker_reservations.get(worker.sid, {}).values()):
            if reservation.reservation_status == "pending":
                # The worker stays in the activity it asked for, not the one before reserving.
                self._reject(reservation, self.tasks[reservation.task_sid], now,
                             worker.activity_sid)

    def _accept(self, reservation: Reservation, task: Task, now: int) -> None:
        e = self.e
        worker = e.workers[reservation.worker_sid]
        reservation.reservation_status = "accepted"
        self._bump_reservation(reservation, now)
        self._hold(reservation, worker, 0, +1)
        task.assignment_status = "assigned"
        task.step_deadline = None
        task.purge_at = now + ASSIGNED_LIFETIME_MS
        self._bump(task, now)
        self.timers.schedule(task.purge_at, timers.TASK_PURGE, task.sid)
        queue = e.task_queues.get(reservation.task_queue_sid or "")
        if not e.workspace.multi_task_enabled and queue and queue.assignment_activity_sid:
            e.set_activity(worker, queue.assignment_activity_sid, now)
        self._reservation_event("reservation.accepted", reservation, now, "Reservation accepted")
        rescinded = [self._end_reservation(other, "rescinded", now)
                     for other in self.task_reservations[task.sid]
                     if other is not reservation and other.reservation_status == "pending"]
        self._offer_workers(rescinded, now)

    def _reject(self, reservation: Reservation, task: Task, now: int,
                worker_activity_sid: str | None) -> None:
        e = self.e
        worker = e.workers[reservation.worker_sid]
        self._end_reservation(reservation, "rejected", now)
        activity_sid = worker_activity_sid or reservation.previous_activity_sid
        if activity_sid:
            e.set_activity(worker, activity_sid, now)
        self.offer_worker(worker, now)
        self._task_back(task, now, exclude=worker.sid)

    def _timeout(self, reservation: Reservation, now: int) -> None:
        e = self.e
        worker = e.workers[reservation.worker_sid]
        task = self.tasks[reservation.task_sid]
        self._end_reservation(reservation, "timeout", now)
        timeout_activity = e.workspace.timeout_activity_sid
        if timeout_activity and timeout_activity in e.activities:
            e.set_activity(worker, timeout_activity, now)
        self.offer_worker(worker, now)
        self._task_back(task, now, exclude=worker.sid)

    def _task_back(self, task: Task, now: int, exclude: str | None = None) -> None:
        """After a reservation ended unaccepted: route the task again if nothing holds it."""
        if task.assignment_status != "reserved":
            return
        if any(r.reservation_status == "pending" for r in self.task_reservations[task.sid]):
            return
        task.assignment_status = "pending"
        self._bump(task, now)
        if now >= self._ttl_deadline(task):
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
        reservation.reservation_status = status
        reservation.timeout_at = None
        self._bump_reservation(reservation, now)
        self._reservation_event(f"reservation.{status}", reservation, now,
                                f"Reservation {status}")
        return reservation.worker_sid

    def _release(self, reservation: Reservation, now: int) -> None:
        worker = self.e.workers.get(reservation.worker_sid)
        if worker is None:
            return
        assigned = -1 if reservation.reservation_status in ("accepted", "wrapping") else 0
        self._hold(reservation, worker, -1, assigned)
        self.refresh_worker(worker, now)

    def _hold(self, reservation: Reservation, worker: Worker, reserved: int, assigned: int
              ) -> None:
        wc = self.e.worker_channels[worker.sid].get(reservation.task_channel_sid)
        if wc is not None:
            wc.reserved += reserved
            wc.assigned += assigned

    def _offer_workers(self, worker_sids: list[str], now: int) -> None:
        for worker_sid in dict.fromkeys(worker_sids):
            worker = self.e.workers.get(worker_sid)
            if worker is not None:
                self.offer_worker(worker, now)

    def _remember(self, reservation: Reservation) -> None:
        self.reservations[reservation.sid] = reservation
        self.task_reservations.setdefault(reservation.task_sid, []).append(reservation)
        self.worker_reservations.setdefault(reservation.worker_sid, {})[reservation.sid] = (
            reservation)
        self.e.changes.touch(reservation)

    def _forget_reservation(self, reservation: Reservation) -> None:
        self.reservations.pop(reservation.sid, None)
        mine = self.worker_reservations.get(reservation.worker_sid)
        if mine is not None:
            mine.pop(reservation.sid, None)
        self.e.changes.delete(reservation)

    # ================================================================== time

    def _ttl_deadline(self, task: Task) -> int:
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
            return task.assignment_status in TASK_WAITING and self._ttl_deadline(task) == deadline
        if kind == timers.STEP_TIMEOUT:
            return task.assignment_status in TASK_WAITING and task.step_deadline == deadline
        return task.purge_at == deadline

    def next_deadline(self) -> int | None:
        return self.timers.next_deadline(self._is_live)

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
                    self._unlist(task)
                    self._advance(task, now, skipped=False)
            elif self.tasks[sid].assignment_status in ("assigned", "wrapping"):
                self._remove(self.tasks[sid], now, "task.system-deleted",
                             "Task deleted by the system: assigned for 24 hours")
            else:
                self._purge(self.tasks[sid])
        return fired

    def _purge(self, task: Task) -> None:
        """Finished tasks leave the system quietly (no event), as on TaskRouter."""
        del self.tasks[task.sid]
        for reservation in self.task_reservations.pop(task.sid, []):
            self._forget_reservation(reservation)
        self.e.changes.delete(task)

    # ================================================================== loading

    def load(self, tasks: Iterable[Task], reservations: Iterable[Reservation], now: int) -> None:
        """Rebuild tasks, reservations, indexes and timers from stored rows."""
        import json

        e = self.e
        for task in tasks:
            task.parsed_attributes = json.loads(task.attributes)
            workflow = e.workflows.get(task.workflow_sid or "")
            task.config = workflow.config if workflow else None
            if task.config is not None and task.filter_index is not None:
                try:
                    task.target = self._targets(task, task.config)[task.target_index]
                except IndexError:
                    task.target = None
            self.tasks[task.sid] = task
            self.task_reservations[task.sid] = []
            self.task_seq = max(self.task_seq, task.seq)
        for reservation in reservations:
            self.reservations[reservation.sid] = reservation
            self.task_reservations.setdefault(reservation.task_sid, []).append(reservation)
            worker = e.workers.get(reservation.worker_sid)
            if worker is not None:  # a deleted worker's reservations stay with its tasks only
                self.worker_reservations.setdefault(worker.sid, {})[reservation.sid] = (
                    reservation)
            if worker is not None and reservation.reservation_status in RESERVATION_OPEN:
                assigned = 1 if reservation.reservation_status != "pending" else 0
                self._hold(reservation, worker, 1, assigned)
            if reservation.reservation_status == "pending" and reservation.timeout_at:
                self.timers.schedule(reservation.timeout_at, timers.RESERVATION_TIMEOUT,
                                     reservation.sid)
        for task in self.tasks.values():
            if task.assignment_status in TASK_WAITING:
                self.timers.schedule(self._ttl_deadline(task), timers.TASK_TTL, task.sid)
                # A reserved task past its step deadline has had its timer fire already: it
                # moves on when it is waiting again (_task_back).
                if task.step_deadline is not None and (
                        task.assignment_status == "pending" or task.step_deadline > now):
                    self.timers.schedule(task.step_deadline, timers.STEP_TIMEOUT, task.sid)
                if task.assignment_status == "pending":
                    self._list(task)
            if task.purge_at is not None:
                self.timers.schedule(task.purge_at, timers.TASK_PURGE, task.sid)
        for worker in sorted(e.workers.values(), key=lambda w: (w.idle_since, w.sid)):
            self.refresh_worker(worker)

    # ================================================================== events and versions

    def _touch(self, task: Task) -> None:
        self.e.changes.touch(task)

    def _bump(self, task: Task, now: int) -> None:
        task.version += 1
        task.date_updated = now
        self.e.changes.touch(task)

    def _bump_reservation(self, reservation: Reservation, now: int) -> None:
        reservation.version += 1
        reservation.date_updated = now
        self.e.changes.touch(reservation)

    def _task_event(self, event_type: str, task: Task, now: int, description: str,
                    extra: dict[str, Any] | None = None) -> None:
        e = self.e
        data = event_data.task_data(task, now, e.task_channels.get(task.task_channel_sid),
                                    e.task_queues.get(task.task_queue_sid or ""),
                                    e.workflows.get(task.workflow_sid or ""))
        if extra:
            data.update(extra)
        channel = e.task_channels.get(task.task_channel_sid)
        e.emit(event_type, "task", task.sid, now, description, data, task_sid=task.sid,
               task_queue_sid=task.task_queue_sid, workflow_sid=task.workflow_sid,
               task_channel=channel.unique_name if channel else None)

    def _reservation_event(self, event_type: str, reservation: Reservation, now: int,
                           description: str) -> None:
        e = self.e
        task = self.tasks[reservation.task_sid]
        worker = e.workers.get(reservation.worker_sid)
        data = event_data.task_data(task, now, e.task_channels.get(task.task_channel_sid),
                                    e.task_queues.get(reservation.task_queue_sid or ""),
                                    e.workflows.get(task.workflow_sid or ""))
        if worker is not None:
            data.update(event_data.worker_data(worker, e.activities.get(worker.activity_sid)))
        data.update(event_data.reservation_data(reservation))
        channel = e.task_channels.get(task.task_channel_sid)
        event = e.emit(event_type, "reservation", reservation.sid, now, description, data,
                       task_sid=task.sid, worker_sid=reservation.worker_sid,
                       reservation_sid=reservation.sid,
                       task_queue_sid=reservation.task_queue_sid,
                       workflow_sid=task.workflow_sid,
                       task_channel=channel.unique_name if channel else None)
        workflow = e.workflows.get(task.workflow_sid or "")
        if event_type == "reservation.created" and workflow is not None and (
                workflow.assignment_callback_url):
            event.assignment_url = workflow.assignment_callback_url
            event.assignment_fallback_url = workflow.fallback_assignment_callback_url


def _sorted(index: dict[Any, SortedList], slot: Any) -> SortedList:
    entries = index.get(slot)
    if entries is None:  # not setdefault: building an unused SortedList each time is costly
        entries = index[slot] = SortedList()
    return entries


def _walk(attributes: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = attributes
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _order_key(worker: Worker, target: Target) -> tuple[Any, ...]:
    """``order_by``: integer attributes, missing ones last whatever the direction."""
    key: list[Any] = []
    for clause in target.order_by:
        value = _walk(worker.parsed_attributes, clause.path)
        if isinstance(value, int) and not isinstance(value, bool):
            key.append((0, -value if clause.descending else value))
        else:
            key.append((1, 0))
    key.append((worker.idle_since, worker.sid))
    return tuple(key)


def _check_virtual_start_time(value: int, now: int) -> None:
    if value > now:
        raise InvalidParameter("VirtualStartTime cannot be in the future")
    if value < -2_208_988_800_000:  # 1900-01-01T00:00:00Z
        raise InvalidParameter("VirtualStartTime cannot be before the year 1900")
