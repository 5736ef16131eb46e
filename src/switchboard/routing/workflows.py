"""Workflow evaluation: where a task goes by its workflow, decided without changing anything.

A workflow's configuration is parsed and compiled once (``workflow_config.py``); this module
answers the questions routing asks of it, each a pure function of the task and the data given:

* which filter a task matches (``matching_filter``), and the targets of that filter;
* when the task's current target times out (``step_deadline``): a target's timeout counts from
  the moment its filter was entered (task creation for the first matching filter), and the
  timeouts of a filter's targets add up;
* what a target's ``skip_if`` sees (``presence``: ``workers.available`` …);
* whether a worker passes a target's ``expression`` (``target_matches``);
* known-worker routing: the one worker a task is for (``known_worker``), by ``RoutingTarget``
  or by the target's ``known_worker_sid``/``known_worker_friendly_name``.

The task lifecycle (``lifecycle.py``) acts on the answers: it moves the task, records its
events and offers it to workers.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from switchboard.routing.model import Activity, Task, Worker
from switchboard.routing.views import WorkerView
from switchboard.routing.workflow_config import Target, WorkflowConfig

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


class TaskView(Mapping[str, Any]):
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


# ---------------------------------------------------------------------- filters and targets


def matching_filter(config: WorkflowConfig, attributes: dict[str, Any], now: int,
                    start: int = 0, *, after_skip: bool = False) -> int | None:
    """The first filter from ``start`` that the task's attributes match; else -1 for the
    default filter, entered when starting over or after the last target of a filter was
    skipped; else None: the task falls off the end of its workflow."""
    view = TaskView(attributes, now)
    for index in range(start, len(config.filters)):
        expression = config.filters[index].expression
        if expression.always_true or expression.evaluate(view):
            return index
    if config.default_filter is not None and (start == 0 or after_skip):
        return -1
    return None


def targets(task: Task, config: WorkflowConfig) -> tuple[Target, ...]:
    """The targets of the task's filter; none when the filter is gone (a task rebuilt after its
    workflow changed without ReEvaluateTasks)."""
    if task.filter_index == -1:
        return (config.default_filter,) if config.default_filter is not None else ()
    assert task.filter_index is not None
    if task.filter_index >= len(config.filters):
        return ()
    return config.filters[task.filter_index].targets


def step_deadline(task: Task, steps: tuple[Target, ...], index: int) -> int | None:
    """When the task's step at ``steps[index]`` times out: the timeouts of the filter's targets
    up to this one, counted from when the filter was entered. The default filter and a target
    without a timeout never time out."""
    if task.filter_index != -1 and steps[index].timeout is not None:
        elapsed = sum(t.timeout or 0 for t in steps[:index + 1])
        return (task.filter_entered or task.date_created) + elapsed * 1000
    return None


def filter_fields(task: Task, config: WorkflowConfig) -> dict[str, Any]:
    """The ``workflow_filter_*`` fields of a target-matched event."""
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


def presence(members: Iterable[str], workers: Mapping[str, Worker],
             activities: Mapping[str, Activity]) -> dict[str, int]:
    """What ``skip_if`` sees of a queue's members: ``workers.available``,
    ``workers.unavailable`` and ``workers.<ActivitySid>``."""
    counts: dict[str, int] = {"available": 0, "unavailable": 0}
    for worker_sid in members:
        activity = activities.get(workers[worker_sid].activity_sid)
        if activity is None:
            continue
        counts["available" if activity.available else "unavailable"] += 1
        counts[activity.sid] = counts.get(activity.sid, 0) + 1
    return counts


def target_matches(task: Task, target: Target, worker: Worker, now: int,
                   worker_view: Callable[[Worker], WorkerView]) -> bool:
    """Does ``worker`` pass the target's ``expression`` for this task?"""
    expression = target.expression
    if expression is None:
        return True
    root: dict[str, Any] = {"task": task.parsed_attributes, "worker": worker_view(worker)}
    if "taskrouter" in expression.roots:
        root["taskrouter"] = taskrouter_variables(now)
    return expression.evaluate(root)


# ---------------------------------------------------------------------- known-worker routing


def is_for_one_worker(task: Task) -> bool:
    """Routed to one worker: by a Worker ``RoutingTarget`` or a target's known worker, or
    transferred to a worker (a transfer says where the task goes while it lasts)."""
    if task.transfer is not None:
        return task.transfer.transfer_type == "WORKER"
    target = task.target
    return bool(task.routing_target and task.routing_target.startswith("WK")) or (
        target is not None and (target.known_worker_sid is not None
                                or target.known_worker_friendly_name is not None))


def known_worker(task: Task, workers: Mapping[str, Worker],
                 worker_by_name: Callable[[str], Worker | None]) -> Worker | None:
    """The one worker a task is for: its transfer's, its RoutingTarget, or the target's known
    worker."""
    if task.transfer is not None:
        return workers.get(task.transfer.transfer_to) if (
            task.transfer.transfer_type == "WORKER") else None
    if task.routing_target and task.routing_target.startswith("WK"):
        return workers.get(task.routing_target)
    target = task.target
    if target is None:
        return None
    if target.known_worker_sid is not None:
        value = walk(task.parsed_attributes, target.known_worker_sid)
        return workers.get(value) if isinstance(value, str) else None
    if target.known_worker_friendly_name is not None:
        value = walk(task.parsed_attributes, target.known_worker_friendly_name)
        return worker_by_name(value) if isinstance(value, str) else None
    return None


def ignores_capacity(task: Task) -> bool:
    """``IgnoreCapacity`` is for the worker of the task's own ``RoutingTarget``: a worker the
    task is transferred to takes it only with room for it."""
    return bool(task.ignore_capacity) and task.transfer is None


def walk(attributes: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in nested attributes, or None."""
    value: Any = attributes
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
