"""Cumulative statistics: what happened in a window, folded from the event log.

Each counted event is an occurrence of one figure in a few scopes (``occurrences``): the
workspace, the task's queue and workflow, the reservation's worker, possibly with a wait (ms).
The store sums them per minute (``rollups.py``) and ``stored.py`` reads any window from those
sums and the events at its edges; the figure functions below turn what was read into the
figures of each statistics resource.

What is counted (choices where TaskRouter leaves it open are in docs/differences.md):

* tasks created / entered: ``task.created`` (workspace; a workflow counts the tasks created
  into it), ``task-queue.entered`` (a queue);
* canceled, completed, deleted: the task's event, in the queue the task was in at the end;
* moved: ``task-queue.moved``, counted for the queue the task left;
* timed out in workflow: ``workflow.timeout``;
* reservations by outcome: the reservation's events, in the reservation's queue;
* wait until accepted: from the task's creation to ``reservation.accepted``; in queue until
  accepted: from entering the reservation's queue; until canceled: creation to
  ``task.canceled``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from typing import Any

from switchboard.routing.model import Worker
from switchboard.stats.activity import ActivityLog
from switchboard.stats.records import EventRecord
from switchboard.stats.series import EMPTY, Summary
from switchboard.stats.window import Window

WORKSPACE = "workspace"
QUEUE = "queue"
WORKFLOW = "workflow"
WORKER = "worker"

CREATED = "tasks_created"
ENTERED = "tasks_entered"
CANCELED = "tasks_canceled"
COMPLETED = "tasks_completed"
DELETED = "tasks_deleted"
MOVED = "tasks_moved"
TIMED_OUT = "tasks_timed_out_in_workflow"
ACCEPTED = "reservations_accepted"
IN_QUEUE = "accepted_in_queue"  # the same acceptances, valued by the wait in the queue
RESERVATION_KINDS = {
    "reservation.created": "reservations_created",
    "reservation.accepted": ACCEPTED,
    "reservation.rejected": "reservations_rejected",
    "reservation.timeout": "reservations_timed_out",
    "reservation.canceled": "reservations_canceled",
    "reservation.rescinded": "reservations_rescinded",
}
RESERVATION_FIGURES = tuple(RESERVATION_KINDS.values())
# Figures whose occurrences carry a wait duration (ms), and those SplitByWaitTime splits.
VALUED = frozenset({CANCELED, ACCEPTED, IN_QUEUE})
SPLIT_FIGURES = frozenset({CANCELED, ACCEPTED})
TASK_KINDS = {"task.completed": COMPLETED, "task.deleted": DELETED,
              "task.system-deleted": DELETED}

# (scope, scope SID ('' for the workspace), figure, wait in ms (0 if none))
Occurrence = tuple[str, str, str, int]
Figures = Mapping[str, Summary]  # figure -> its occurrences in a window (count, waits)


def occurrences(record: EventRecord) -> Iterator[Occurrence]:
    """What one counted event adds to which scopes. Workers' own figures only count: their
    waits are the queues' and the workspace's."""
    kind = record.event_type
    queue, workflow = record.task_queue_sid, record.workflow_sid
    figure = RESERVATION_KINDS.get(kind)
    if figure is not None:
        wait = _since(record.event_date, record.task_date_created) if figure == ACCEPTED else 0
        yield from _task(figure, wait, True, queue, workflow)
        if figure == ACCEPTED and queue and record.task_queue_entered_date is not None:
            yield QUEUE, queue, IN_QUEUE, _since(record.event_date,
                                                 record.task_queue_entered_date)
        if record.worker_sid:
            yield WORKER, record.worker_sid, figure, 0
    elif kind == "task.created":
        yield from _task(CREATED, 0, True, None, workflow)
    elif kind == "task-queue.entered":
        yield from _task(ENTERED, 0, False, queue, None)
    elif kind == "task.canceled":
        yield from _task(CANCELED, _since(record.event_date, record.task_date_created), True,
                         queue, workflow)
    elif kind in TASK_KINDS:
        yield from _task(TASK_KINDS[kind], 0, True, queue, workflow)
    elif kind == "task-queue.moved":
        yield from _task(MOVED, 0, True, record.previous_task_queue_sid, workflow)
    elif kind == "workflow.timeout":
        yield from _task(TIMED_OUT, 0, True, None, workflow)


def _task(figure: str, wait: int, workspace: bool, queue: str | None, workflow: str | None
          ) -> Iterator[Occurrence]:
    if workspace:
        yield WORKSPACE, "", figure, wait
    if queue:
        yield QUEUE, queue, figure, wait
    if workflow:
        yield WORKFLOW, workflow, figure, wait


def feed_activity(log: ActivityLog, record: EventRecord) -> None:
    """Workers' activity changes go to the activity log (kept in memory, ``activity.py``)."""
    kind, worker = record.event_type, record.worker_sid
    if not worker:
        return
    if kind == "worker.created":
        log.add(record.event_date, worker, None, record.activity_sid)
    elif kind == "worker.activity.update":
        log.add(record.event_date, worker, record.previous_activity_sid, record.activity_sid)
    elif kind == "worker.deleted":
        log.add(record.event_date, worker, record.activity_sid, None)


def _since(date: int, earlier: int | None) -> int:
    return 0 if earlier is None else max(0, date - earlier)


# ---------------------------------------------------------------------- figures


def seconds(ms: float) -> int:
    """Milliseconds as whole seconds, to the nearest (halves up)."""
    return int((ms + 500) // 1000)


def durations(summary: Summary) -> dict[str, int]:
    """``{avg, min, max, total}`` in seconds."""
    if not summary.count:
        return {"avg": 0, "min": 0, "max": 0, "total": 0}
    return {"avg": seconds(summary.total / summary.count), "min": seconds(summary.minimum),
            "max": seconds(summary.maximum), "total": seconds(summary.total)}


Histogram = Sequence[tuple[int, int]]  # (wait in whole seconds rounded up, how many), sorted


def split_by_wait_time(canceled: Histogram, accepted: Histogram, thresholds: Iterable[int]
                       ) -> dict[str, Any]:
    """Tasks canceled and reservations accepted at or below / above each threshold (s)."""
    split: dict[str, Any] = {}
    canceled_below, canceled_all = _cumulated(canceled)
    accepted_below, accepted_all = _cumulated(accepted)
    for threshold in thresholds:
        below_canceled = canceled_below(threshold)
        below_accepted = accepted_below(threshold)
        split[str(threshold)] = {
            "above": {"tasks_canceled": canceled_all - below_canceled,
                      "reservations_accepted": accepted_all - below_accepted},
            "below": {"tasks_canceled": below_canceled,
                      "reservations_accepted": below_accepted},
        }
    return split


def _cumulated(histogram: Histogram) -> tuple[Any, int]:
    """A function: how many waits are at or below a threshold; and how many in all."""
    seconds_ = [second for second, _ in histogram]
    running: list[int] = []
    total = 0
    for _, n in histogram:
        total += n
        running.append(total)

    def below(threshold: int) -> int:
        i = bisect_right(seconds_, threshold)
        return running[i - 1] if i else 0

    return below, total


def task_flow(figures: Figures, scope: str, split: tuple[Histogram, Histogram] | None,
              thresholds: tuple[int, ...] | None) -> dict[str, Any]:
    """The cumulative figures of the workspace, a workflow or a queue, from its figures over
    the window and, if ``thresholds``, the histograms of its canceled and accepted waits."""

    def count(kind: str) -> int:
        return figures.get(kind, EMPTY).count

    result: dict[str, Any] = {}
    if scope == WORKSPACE:
        result[CREATED] = count(CREATED)
    elif scope == WORKFLOW:
        result[ENTERED] = count(CREATED)
    else:
        result[ENTERED] = count(ENTERED)
    for kind in (CANCELED, COMPLETED, DELETED, MOVED):
        result[kind] = count(kind)
    if scope != QUEUE:
        result[TIMED_OUT] = count(TIMED_OUT)
    for kind in RESERVATION_FIGURES:
        result[kind] = count(kind)
    accepted = figures.get(ACCEPTED, EMPTY)
    result["avg_task_acceptance_time"] = durations(accepted)["avg"]
    result["wait_duration_until_accepted"] = durations(accepted)
    result["wait_duration_until_canceled"] = durations(figures.get(CANCELED, EMPTY))
    if scope == QUEUE:
        result["wait_duration_in_queue_until_accepted"] = durations(
            figures.get(IN_QUEUE, EMPTY))
    result["split_by_wait_time"] = None if thresholds is None else split_by_wait_time(
        *(split or ((), ())), thresholds)
    return result


def workers_flow(reservations: Mapping[str, int], activity: ActivityLog, window: Window,
                 workers: Mapping[str, Worker], only: Set[str] | None,
                 activities: Iterable[tuple[str, str]],
                 counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Reservations by outcome (of all workers or of ``only``, read beforehand) and time in
    each activity.

    ``activities`` are the workspace's (SID, friendly name), listed in that order; ``counts``,
    if known, the current workers by activity.
    """
    figures: dict[str, Any] = {kind: reservations.get(kind, 0) for kind in RESERVATION_FIGURES}
    spent = activity.durations(window.start, window.end, workers, only, counts)
    figures["activity_durations"] = [
        {"sid": sid, "friendly_name": name, **durations(spent.get(sid, EMPTY))}
        for sid, name in activities
    ]
    return figures
