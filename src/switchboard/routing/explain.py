"""Why a task went where it did (an extension, docs/extensions.md; the console's "why" view).

Two pure answers, no I/O:

* ``path``: the task's way through its workflow, step by step, read from its own events in
  log order (``workflow.entered``, ``workflow.target-matched``, ``task-queue.timeout``,
  ``workflow.skipped``, ``workflow.timeout``, ``reservation.*``, ``task.*``) and the workflow
  configuration it routes by. What the events leave implicit is what the engine's rules make
  certain: the filters before the one matched were false (the first match wins); a target left
  without a timeout event was skipped by its ``skip_if`` (a target is left only by its timeout
  or its ``skip_if``).
* ``decision``: how its latest reservation was decided (or, while it waits, why nobody has
  it). The moment, the way (offered to the idle workers, or taken by a worker that became
  free) and the chosen worker's idle time are what the engine noted when it reserved
  (``Task.decision``); the other workers are shown as they are now (``as_of: "now"``), ranked
  as the strategy ranks them, with counts of those excluded and why.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import Reservation, Task, Worker
from switchboard.routing.selection import order_by_key
from switchboard.routing.workflow_config import Filter, Target, WorkflowConfig
from switchboard.routing.workflows import (
    TaskView,
    is_for_one_worker,
    known_worker,
    target_matches,
    walk,
)

TOP = 10  # eligible workers listed in a decision
# A target expression naming the worker itself (``worker.sid == task.agent``): known-worker
# routing written as an expression, which leaves at most one worker.
_NAMES_A_WORKER = re.compile(r"\bworker\.(sid|friendly_name)\b")
DEFAULT_FILTER = "Default Filter"


@dataclass(frozen=True)
class TaskEvent:
    """What ``path`` reads of one of the task's events."""

    event_type: str
    date: int
    data: Mapping[str, Any]
    worker_sid: str | None = None
    reservation_sid: str | None = None


@dataclass
class Step:
    time: int
    kind: str
    reason: str
    filter_name: str | None = None
    target_index: int | None = None
    task_queue_sid: str | None = None
    expression: str | None = None
    worker_sid: str | None = None
    reservation_sid: str | None = None


# ---------------------------------------------------------------------- the path


@dataclass
class _Walk:
    """Where the task is in its workflow while its events are read."""

    config: WorkflowConfig | None
    steps: list[Step] = field(default_factory=list)
    start: int = 0  # the first filter the next match is looked for from
    filter_index: int | None = None  # -1: the default filter
    filter_name: str | None = None
    target_index: int = 0
    target: Target | None = None
    target_open: bool = False  # entered, and not yet left by a timeout or a skip

    def add(self, time: int, kind: str, reason: str, **fields: Any) -> None:
        self.steps.append(Step(time, kind, reason, **fields))

    def targets(self) -> tuple[Target, ...]:
        config = self.config
        if config is None or self.filter_index is None:
            return ()
        if self.filter_index == -1:
            return (config.default_filter,) if config.default_filter is not None else ()
        if self.filter_index < len(config.filters):
            return config.filters[self.filter_index].targets
        return ()

    def here(self) -> dict[str, Any]:
        return {"filter_name": self.filter_name, "target_index": self.target_index,
                "task_queue_sid": self.target.queue_sid if self.target else None,
                "expression": _text(self.target.expression) if self.target else None}

    def skipped(self, time: int) -> None:
        """The open target was left without a timeout: its skip_if held."""
        if not self.target_open:
            return
        self.target_open = False
        skip_if = self.target.skip_if if self.target else None
        why = (f"its skip_if ({skip_if.text}) was true when no worker could take the task "
               "at once" if skip_if is not None else "no worker could take the task at once "
               "and the target says to skip")
        self.add(time, "target_skipped", f"Target {self.target_index} was skipped: {why}",
                 **self.here())

    def filters_false(self, time: int, upto: int | None, attributes: dict[str, Any]) -> None:
        """Filters from ``start`` up to ``upto`` (excluded; None: all) did not match."""
        config = self.config
        if config is None:
            return
        end = len(config.filters) if upto is None else upto
        view = TaskView(attributes, time)
        for item in config.filters[self.start:end]:
            held = item.expression.always_true or item.expression.evaluate(view)
            why = ("its expression was false for the task's attributes" if not held else
                   "it did not match then (the task's attributes or the workflow changed "
                   "since)")
            self.add(time, "filter_skipped", f"Filter '{item.name}' was passed over: {why}",
                     filter_name=item.name, expression=item.expression.text)


def path(events: Iterable[TaskEvent], config: WorkflowConfig | None,
         names: Mapping[str, str] | None = None) -> list[Step]:
    """The task's steps, in order, from its events (oldest first) and the workflow
    configuration it routes by. ``names``: friendly names by SID, for the sentences."""
    names = {} if names is None else names
    walk_ = _Walk(config)
    for event in events:
        kind, time, data = event.event_type, event.date, event.data
        if kind == "task.created":
            walk_.add(time, "created", _created(data, names))
        elif kind == "workflow.entered":
            again = walk_.filter_index is not None or any(
                s.kind == "workflow_entered" for s in walk_.steps)
            walk_.start, walk_.filter_index, walk_.target = 0, None, None
            walk_.target_open = False
            workflow = data.get("workflow_name") or data.get("workflow_sid")
            walk_.add(time, "workflow_entered", (
                f"Routed by workflow {workflow} again from its first filter (its attributes "
                "changed, the workflow was updated with ReEvaluateTasks, or a transfer ended)"
                if again else f"Entered workflow {workflow}") + "; its filters are tried in "
                "order and the first that matches wins")
        elif kind == "workflow.target-matched":
            _target_matched(walk_, event, names)
        elif kind == "task-queue.timeout":
            walk_.target_open = False
            timeout = walk_.target.timeout if walk_.target else None
            within = f" within its {timeout} s timeout" if timeout is not None else ""
            walk_.add(time, "target_timeout", f"Target {walk_.target_index} timed out: no "
                      f"worker accepted the task{within} (timeouts add up from entering the "
                      "filter)", **walk_.here())
        elif kind == "workflow.skipped":
            walk_.skipped(time)
        elif kind == "workflow.timeout":
            walk_.skipped(time)
            if walk_.filter_index is None or walk_.filter_index >= 0:
                walk_.filters_false(time, None, _attributes(data))
            walk_.add(time, "workflow_timeout", "No further filter matched and there is no "
                      "default filter to fall back on: the task reached the end of its "
                      "workflow and is canceled")
        elif kind == "task-queue.entered" and walk_.config is None:
            queue = data.get("task_queue_sid")
            walk_.add(time, "queue_entered", f"Entered queue {_name(queue, names)} directly "
                      "(TaskQueueSid or RoutingTarget), without a workflow",
                      task_queue_sid=queue)
        elif kind.startswith("reservation."):
            _reservation_step(walk_, event, names)
        elif kind in _TASK_ENDS:
            kind_, sentence = _TASK_ENDS[kind]
            reason = data.get("task_canceled_reason") or data.get("task_completed_reason")
            walk_.add(time, kind_, sentence + (f": {reason}" if reason else ""))
        elif kind.startswith("task.transfer-"):
            walk_.add(time, "transfer_" + kind.removeprefix("task.transfer-"),
                      f"Transfer {kind.removeprefix('task.transfer-')} "
                      f"(to {_name(data.get('transfer_to'), names)})")
    return walk_.steps


_TASK_ENDS = {
    "task.canceled": ("canceled", "The task was canceled"),
    "task.completed": ("completed", "The task was completed"),
    "task.wrapup": ("wrapping", "The task moved to wrapping"),
    "task.deleted": ("deleted", "The task was deleted"),
    "task.system-deleted": ("deleted", "The task was deleted by the system after 24 hours "
                            "assigned"),
}
_RESERVATION_SENTENCES = {
    "created": "Reserved for worker {w}",
    "accepted": "Worker {w} accepted the reservation: the task is assigned",
    "rejected": "Worker {w} rejected the reservation: the task is offered to the other "
                "eligible workers first",
    "timeout": "Worker {w} did not answer within the reservation timeout: the task is "
               "offered again and the worker moves to the workspace's timeout activity",
    "rescinded": "Worker {w}'s reservation was rescinded: another worker accepted first",
    "canceled": "Worker {w}'s reservation was canceled (the task ended or the worker left)",
    "wrapup": "Worker {w} is wrapping up",
    "completed": "Worker {w}'s reservation completed",
}


def _target_matched(walk_: _Walk, event: TaskEvent, names: Mapping[str, str]) -> None:
    data, time = event.data, event.date
    name = data.get("workflow_filter_name")
    filter_text = data.get("workflow_filter_expression")
    is_default = filter_text is None and name == DEFAULT_FILTER
    config = walk_.config
    same_filter = (walk_.filter_index is not None and walk_.target is not None
                   and walk_.target_index + 1 < len(walk_.targets()))
    walk_.skipped(time)
    if same_filter and not is_default:
        walk_.target_index += 1
    else:
        index = -1 if is_default else _find_filter(config, name, filter_text, walk_.start)
        if index is not None and index >= 0:
            walk_.filters_false(time, index, _attributes(data))
        elif index == -1:
            walk_.filters_false(time, None, _attributes(data))
        walk_.filter_index, walk_.filter_name, walk_.target_index = index, name, 0
        walk_.start = (index + 1) if index is not None and index >= 0 else walk_.start
        if is_default:
            walk_.add(time, "default_filter", "No filter matched: the default filter applies",
                      filter_name=name)
        else:
            walk_.add(time, "filter_matched", f"Filter '{name}' matched the task's attributes",
                      filter_name=name, expression=filter_text)
    steps = walk_.targets()
    walk_.target = steps[walk_.target_index] if walk_.target_index < len(steps) else None
    walk_.target_open = True
    target = walk_.target
    queue = target.queue_sid if target else None
    parts = [f"Target {walk_.target_index}: queue {_name(queue, names)}"]
    if target is not None:
        if target.expression is not None:
            parts.append(f"workers for whom {target.expression.text}")
        if target.order_by:
            parts.append("ordered by " + _order_by_text(target))
        if target.worker_selection != "longest_idle":
            parts.append(f"worker_selection {target.worker_selection}")
        if target.timeout is not None:
            parts.append(f"timeout {target.timeout} s")
        if target.known_worker_sid or target.known_worker_friendly_name:
            parts.append("a known worker")
    elif config is not None:
        parts.append("(the workflow's configuration has changed since)")
    walk_.add(time, "target_entered", ", ".join(parts), **walk_.here())


def _find_filter(config: WorkflowConfig | None, name: Any, text: Any, start: int) -> int | None:
    if config is None:
        return None
    filters: Sequence[Filter] = config.filters
    for index in range(start, len(filters)):
        if filters[index].name == name and filters[index].expression.text == text:
            return index
    return None


def _reservation_step(walk_: _Walk, event: TaskEvent, names: Mapping[str, str]) -> None:
    status = event.event_type.removeprefix("reservation.")
    sentence = _RESERVATION_SENTENCES.get(status)
    if sentence is None:
        return
    walk_.add(event.date, "reserved" if status == "created" else f"reservation_{status}",
              sentence.format(w=_name(event.worker_sid, names)),
              worker_sid=event.worker_sid, reservation_sid=event.reservation_sid,
              task_queue_sid=event.data.get("task_queue_sid"),
              filter_name=walk_.filter_name if walk_.target_open else None,
              target_index=walk_.target_index if walk_.target_open else None)


def _created(data: Mapping[str, Any], names: Mapping[str, str]) -> str:
    target = data.get("task_routing_target")
    priority = data.get("task_priority")
    channel = data.get("task_channel_unique_name")
    said = f"Task created (priority {priority}, channel {channel})"
    if isinstance(target, str) and target.startswith("WK"):
        return said + f", for worker {_name(target, names)} (RoutingTarget)"
    return said


def _attributes(data: Mapping[str, Any]) -> dict[str, Any]:
    text = data.get("task_attributes")
    try:
        parsed = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _text(expression: Any) -> str | None:
    return None if expression is None else str(expression.text)


def _name(sid: Any, names: Mapping[str, str]) -> str:
    if not isinstance(sid, str):
        return "(none)"
    name = names.get(sid)
    return f"{name} ({sid})" if name else sid


def _clock(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def _order_by_text(target: Target) -> str:
    return ", ".join("worker." + ".".join(c.path) + (" DESC" if c.descending else " ASC")
                     for c in target.order_by)


# ---------------------------------------------------------------------- the decision


@dataclass
class Candidate:
    worker: Worker
    rank: int
    idle_since: int
    order_by: list[int | None]


@dataclass
class Decision:
    as_of: str  # "reservation": noted when reserving; "now": worked out from the state now
    strategy: str
    how: str | None  # task_offered, worker_became_available, known_worker; None: waiting
    reason: str
    time: int | None = None
    task_queue_sid: str | None = None
    reservation_sid: str | None = None
    worker: Worker | None = None
    worker_idle_since: int | None = None
    order_by: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    eligible: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    members: int = 0


def decision(engine: WorkspaceEngine, task: Task, now: int) -> Decision | None:
    """How the task's latest reservation was decided, or while it waits why nobody has it;
    None when it was never reserved and waits no more."""
    reservations = engine.task_reservations.get(task.sid) or []
    latest = reservations[-1] if reservations else None
    noted = task.decision
    if noted is not None:  # the first worker of the latest reservations made together
        latest = next((r for r in reversed(reservations) if r.date_created == noted[0]
                       and r.worker_sid == noted[2]), latest)
    if task.assignment_status == "pending":
        latest = None  # waiting again: why nobody has it now, not an offer that ended
    target = task.target
    strategy = _strategy(task, target)
    if latest is None and task.assignment_status != "pending":
        return None
    result = Decision(as_of="now", strategy=strategy, how=None, reason="",
                      task_queue_sid=task.task_queue_sid,
                      order_by=_order_by_text(target) if target and target.order_by else None)
    if is_for_one_worker(task):
        _known(engine, task, now, latest, result)
    else:
        _survey(engine, task, now, latest, result)
    if latest is None:
        return result
    worker = engine.workers.get(latest.worker_sid)
    result.reservation_sid, result.worker, result.time = latest.sid, worker, latest.date_created
    if noted is not None and (noted[0], noted[2]) == (latest.date_created, latest.worker_sid):
        result.as_of = "reservation"
        result.how = "task_offered" if noted[1] == "task" else "worker_became_available"
        result.worker_idle_since = noted[3]
    if is_for_one_worker(task):
        result.how = "known_worker"
    result.reason = _why(result, target, latest, engine)
    return result


def _strategy(task: Task, target: Target | None) -> str:
    if is_for_one_worker(task):
        return "known_worker"
    if target is None:
        return "longest_idle"
    if target.expression is not None and _NAMES_A_WORKER.search(target.expression.text):
        return "known_worker"
    if target.worker_selection != "longest_idle":
        return target.worker_selection
    return "order_by" if target.order_by else "longest_idle"


def _known(engine: WorkspaceEngine, task: Task, now: int, latest: Reservation | None,
           result: Decision) -> None:
    worker = known_worker(task, engine.workers, engine.worker_by_name)
    if task.routing_target and task.routing_target.startswith("WK"):
        source = "its RoutingTarget"
    elif task.transfer is not None:
        source = "its transfer"
    else:
        target = task.target
        path_ = (target.known_worker_sid or target.known_worker_friendly_name or ()) if (
            target) else ()
        source = "task." + ".".join(path_) + f" = {walk(task.parsed_attributes, path_)!r}"
    if latest is None:
        if worker is None:
            result.reason = f"The task is for one worker ({source}), who does not exist"
        else:
            problem = _exclusion(engine, task, worker, now, skip_expression=True)
            result.reason = (f"The task is for one worker ({source}): {worker.friendly_name}, "
                             f"who cannot take it now ({_EXCLUSIONS[problem or 'busy']})")
        return
    result.reason = f"The task names its worker ({source})"


_EXCLUSIONS = {
    "not_available": "activity not available",
    "no_capacity": "no room on the task's channel",
    "target_expression_false": "the target expression is false",
    "holds_task": "already holds a reservation for this task",
    "busy": "not free now",
}


def _exclusion(engine: WorkspaceEngine, task: Task, worker: Worker, now: int, *,
               skip_expression: bool = False) -> str | None:
    """Why ``worker`` could not be reserved for ``task`` now (None: it could)."""
    lifecycle = engine.lifecycle
    eligibility = lifecycle.eligibility
    activity = engine.activities.get(worker.activity_sid)
    if activity is None or not activity.available:
        return "not_available"
    target = task.target
    if not skip_expression and target is not None and target.expression is not None and not (
            target_matches(task, target, worker, now, engine.worker_view)):
        return "target_expression_false"
    if eligibility.holds(worker, task):
        return "holds_task"
    if not eligibility.has_room(worker, task.task_channel_sid):
        return "no_capacity"
    return None


def _survey(engine: WorkspaceEngine, task: Task, now: int, latest: Reservation | None,
            result: Decision) -> None:
    """The queue's members now: the eligible ranked as the strategy ranks them, the others
    counted by why they are not."""
    queue_sid = latest.task_queue_sid if latest is not None else task.task_queue_sid
    result.task_queue_sid = queue_sid
    members = engine.queue_members.get(queue_sid or "", set())
    result.members = len(members)
    chosen = latest.worker_sid if latest is not None else None
    eligible: list[Worker] = []
    excluded: dict[str, int] = {}
    for sid in members:
        worker = engine.workers[sid]
        if sid == chosen:
            continue
        why = _exclusion(engine, task, worker, now)
        if why is None:
            eligible.append(worker)
        else:
            excluded[why] = excluded.get(why, 0) + 1
    idle = getattr(engine.lifecycle.selector, "idle", {}).get(
        (queue_sid, task.task_channel_sid), {})
    place = {sid: i for i, sid in enumerate(idle)}
    target = task.target

    def key(worker: Worker) -> tuple[Any, ...]:
        by = order_by_key(worker, target) if target is not None and target.order_by else ()
        return (*by, place.get(worker.sid, len(place)), worker.idle_since, worker.sid)

    eligible.sort(key=key)
    result.eligible = len(eligible)
    result.excluded = dict(sorted(excluded.items()))
    result.candidates = [Candidate(w, i + 1, w.idle_since, _order_values(w, target))
                         for i, w in enumerate(eligible[:TOP])]
    if latest is None:
        result.reason = _waiting(result)


def _order_values(worker: Worker, target: Target | None) -> list[int | None]:
    """The worker's ``order_by`` values; None where not an integer (ranked last)."""
    if target is None:
        return []
    values = [walk(worker.parsed_attributes, clause.path) for clause in target.order_by]
    return [v if isinstance(v, int) and not isinstance(v, bool) else None for v in values]


def _waiting(result: Decision) -> str:
    if result.eligible:
        return (f"{result.eligible} eligible worker(s) are available now: the task is offered "
                "at the next routing opportunity")
    if not result.members:
        return "The task's queue has no members: nobody matches its TargetWorkers"
    counted = ", ".join(f"{n} {_EXCLUSIONS[why]}" for why, n in result.excluded.items())
    return (f"No eligible worker is available: of the queue's {result.members} member(s), "
            f"{counted}")


def _why(result: Decision, target: Target | None, latest: Reservation,
         engine: WorkspaceEngine) -> str:
    worker = result.worker
    who = worker.friendly_name if worker else latest.worker_sid
    if result.how == "known_worker":
        return f"{result.reason}: {who}"
    if result.how == "worker_became_available":
        return (f"{who} became able to take work (its activity, capacity or a finished task) "
                "while the task waited, and the task came first in its queues' order for "
                f"{who}; no eligible worker was free before")
    if result.strategy == "known_worker" and target is not None and target.expression:
        return (f"The target expression {target.expression.text} names the worker: {who}, "
                "the only one it holds for")
    since = result.worker_idle_since
    idle = f" (idle since {_clock(since)})" if since is not None else ""
    strategy = result.strategy
    if strategy == "order_by" and target is not None and worker is not None:
        values = ", ".join(f"{c}={v!r}" for c, v in zip(
            (result.order_by or "").split(", "), _order_values(worker, target), strict=False))
        return (f"{who} came first by order_by ({values} now), ties going to the longest "
                f"idle{idle}")
    if strategy == "round_robin":
        return (f"{who} came next in the circular order by worker SID after the last worker "
                "reserved from this queue")
    if strategy == "least_occupied":
        return f"{who} had the smallest share of its capacity in use{idle}"
    if strategy == "fewest_accepted":
        return f"{who} had accepted the fewest reservations in the last 24 hours{idle}"
    if strategy == "random":
        return (f"{who} was drawn at random (seeded by the task and its offers: the same on "
                "every run)")
    how = "when the task was offered" if result.how == "task_offered" else "then"
    return f"Of the eligible workers free {how}, {who} had been idle longest{idle}"
