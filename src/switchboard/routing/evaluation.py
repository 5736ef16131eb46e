"""An expression tried on a workspace: which workers or tasks it matches now (an extension,
docs/extensions.md; the console's expression playground).

The expression is compiled once, with the same compiler and predicates routing uses, then
evaluated the way routing evaluates it:

* ``Workers``, written as a queue's ``TargetWorkers`` (bare names: ``skills HAS 'en'``): on each
  worker's view, as queue membership does. When a queue has exactly this ``TargetWorkers``, its
  live membership index is the answer and nothing is evaluated.
* ``Workers``, written as a workflow target's ``expression`` (it names ``worker.`` or ``task.``):
  on ``{"task": <TaskAttributes>, "worker": <view>, "taskrouter": ...}``, as a target does.
* ``Tasks``, written as a workflow filter's ``expression``: on each task's attributes with
  ``taskrouter.*``, as filters are matched.

An expression that does not compile gives the problem and where it is (offset, line, column).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.expressions import Expression, ExpressionError, compile_expression
from switchboard.routing.model import Task, Worker
from switchboard.routing.workflows import TaskView, taskrouter_variables

T = TypeVar("T")
SUBJECTS = ("Workers", "Tasks")
MAX_MATCHES = 1000
# Roots that make a Workers expression a target expression rather than a TargetWorkers one.
TARGET_ROOTS = frozenset({"worker", "task"})


@dataclass(frozen=True)
class Problem:
    """Why an expression does not compile, and where: ``position`` is a 0-based character
    offset, ``line`` and ``column`` 1-based (None when no single place is at fault)."""

    message: str
    position: int | None
    line: int | None
    column: int | None


@dataclass(frozen=True)
class Evaluation:
    subject: str
    form: str  # target_workers, target_expression or filter_expression
    matches: list[Task] | list[Worker]
    count: int
    queue_sid: str | None = None  # the queue whose membership index answered


def compile_problem(text: str) -> tuple[Expression | None, Problem | None]:
    """The compiled expression, or the problem that stops it compiling."""
    try:
        return compile_expression(text), None
    except ExpressionError as exc:
        return None, locate(text, str(exc), exc.column)
    except RecursionError:
        return None, Problem(f"Invalid expression: nested too deeply ({len(text)} characters)",
                             None, None, None)


def locate(text: str, message: str, column: int | None) -> Problem:
    """The offset a 1-based character column gives, as a line and a column in that line."""
    if column is None:
        return Problem(message, None, None, None)
    position = min(max(column - 1, 0), len(text))
    line = text.count("\n", 0, position) + 1
    line_start = text.rfind("\n", 0, position) + 1
    return Problem(message, position, line, position - line_start + 1)


def evaluate(engine: WorkspaceEngine, expression: Expression, subject: str, now: int, *,
             task_attributes: dict[str, Any] | None = None,
             limit: int = MAX_MATCHES) -> Evaluation:
    """What ``expression`` matches among the workspace's workers or tasks now: the first
    ``limit`` in creation order, and how many in all."""
    if subject == "Tasks":
        tasks = (t for t in engine.tasks.values() if expression.always_true
                 or expression.evaluate(TaskView(t.parsed_attributes, now)))
        found, count = _take(tasks, limit)
        return Evaluation(subject, "filter_expression", found, count)
    if expression.roots & TARGET_ROOTS:
        root: dict[str, Any] = {"task": task_attributes or {}}
        if "taskrouter" in expression.roots:
            root["taskrouter"] = taskrouter_variables(now)
        worker_view = engine.worker_view

        def passes(worker: Worker) -> bool:
            root["worker"] = worker_view(worker)
            return expression.evaluate(root)

        workers = (w for w in engine.workers.values() if expression.always_true or passes(w))
        found_workers, count = _take(workers, limit)
        return Evaluation(subject, "target_expression", found_workers, count)
    queue = _queue_with(engine, expression.text)
    if queue is not None:
        members = engine.queue_members.get(queue, set())
        indexed = (w for sid, w in engine.workers.items() if sid in members)
        found_workers, _ = _take(indexed, limit)
        return Evaluation(subject, "target_workers", found_workers, len(members), queue)
    found_workers, count = _take(engine.workers_matching(expression), limit)
    return Evaluation(subject, "target_workers", found_workers, count)


def _queue_with(engine: WorkspaceEngine, text: str) -> str | None:
    """A queue whose ``TargetWorkers`` is exactly ``text`` (its members are the answer)."""
    for queue in engine.task_queues.values():
        if queue.target_workers == text and queue.target is not None:
            return queue.sid
    return None


def _take(items: Iterable[T], limit: int) -> tuple[list[T], int]:
    """The first ``limit`` items, and how many there are."""
    found: list[T] = []
    count = 0
    iterator: Iterator[T] = iter(items)
    for item in iterator:
        count += 1
        if count <= limit:
            found.append(item)
    return found, count
