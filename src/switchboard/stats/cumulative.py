"""Cumulative statistics: what happened in a window, folded from the event log.

``History`` keeps one workspace's log as series (``series.py``): for each scope (the workspace,
a queue, a workflow, a worker), each thing counted and each TaskChannel, the times it happened
and, for wait durations, how long. It is fed record by record in log order and answers any
window exactly, to the millisecond, in O(log n) per figure; the figure functions below turn it
into the figures of each statistics resource.

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

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Set
from typing import Any

from switchboard.routing.model import Worker
from switchboard.stats.activity import ActivityLog
from switchboard.stats.records import EventRecord
from switchboard.stats.series import (
    EMPTY,
    TRIM_EVERY,
    Series,
    Summary,
    ValuedSeries,
    worth_forgetting,
)
from switchboard.stats.window import KEEP_MS, Window

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
# Series whose occurrences carry a wait duration (ms).
VALUED = frozenset({CANCELED, ACCEPTED, IN_QUEUE})
TASK_KINDS = {"task.completed": COMPLETED, "task.deleted": DELETED,
              "task.system-deleted": DELETED}

Key = tuple[str, str, str, str | None]  # (scope, scope SID, kind, TaskChannel unique name)


class History:
    """One workspace's counted events, fed in log order."""

    def __init__(self) -> None:
        self.seq = 0  # the last event fed
        self._series: dict[Key, Series] = {}  # fed: one look-up per occurrence
        self._channels: dict[tuple[str, str, str], list[Series]] = {}  # read: every channel
        # Per scope: the earliest and latest occurrence of anything (windows outside them,
        # such as the last minutes of a queue nothing happened in lately, are all zeros).
        self._span: dict[tuple[str, str], tuple[int, int]] = {}
        self.activity = ActivityLog()
        # Reservations of every worker, for figures over a set of workers.
        self._reservation_times = array("q")
        self._reservation_rows: list[tuple[str, str, str | None]] = []  # worker, kind, channel

    # ------------------------------------------------------------------ feeding

    def add(self, record: EventRecord) -> None:
        if record.seq <= self.seq:
            return  # already counted (a record seen both in the store and live)
        self.seq = record.seq
        kind = record.event_type
        date = record.event_date
        channel = record.task_channel
        queue, workflow = record.task_queue_sid, record.workflow_sid
        figure = RESERVATION_KINDS.get(kind)
        if figure is not None:
            if figure == ACCEPTED:
                self._put_task(ACCEPTED, channel, date, _since(date, record.task_date_created),
                               True, queue, workflow)
                if queue and record.task_queue_entered_date is not None:
                    self._put((QUEUE, queue, IN_QUEUE, channel), date,
                              _since(date, record.task_queue_entered_date))
            else:
                self._put_task(figure, channel, date, 0, True, queue, workflow)
            worker = record.worker_sid
            if worker:
                self._put((WORKER, worker, figure, channel), date, 0)
                self._add_reservation(date, worker, figure, channel)
        elif kind == "task.created":
            self._put_task(CREATED, channel, date, 0, True, None, workflow)
        elif kind == "task-queue.entered":
            self._put_task(ENTERED, channel, date, 0, False, queue, None)
        elif kind == "task.canceled":
            self._put_task(CANCELED, channel, date, _since(date, record.task_date_created),
                           True, queue, workflow)
        elif kind in TASK_KINDS:
            self._put_task(TASK_KINDS[kind], channel, date, 0, True, queue, workflow)
        elif kind == "task-queue.moved":
            self._put_task(MOVED, channel, date, 0, True, record.previous_task_queue_sid,
                           workflow)
        elif kind == "workflow.timeout":
            self._put_task(TIMED_OUT, channel, date, 0, True, None, workflow)
        elif kind == "worker.created" and record.worker_sid:
            self.activity.add(date, record.worker_sid, None, record.activity_sid)
        elif kind == "worker.activity.update" and record.worker_sid:
            self.activity.add(date, record.worker_sid, record.previous_activity_sid,
                              record.activity_sid)
        elif kind == "worker.deleted" and record.worker_sid:
            self.activity.add(date, record.worker_sid, record.activity_sid, None)

    def _put_task(self, kind: str, channel: str | None, date: int, value: int,
                  workspace: bool, queue: str | None, workflow: str | None) -> None:
        if workspace:
            self._put((WORKSPACE, "", kind, channel), date, value)
        if queue:
            self._put((QUEUE, queue, kind, channel), date, value)
        if workflow:
            self._put((WORKFLOW, workflow, kind, channel), date, value)

    def _put(self, key: Key, date: int, value: int) -> None:
        where = (key[0], key[1])
        span = self._span.get(where)
        if span is None:
            self._span[where] = (date, date)
        elif not span[0] <= date <= span[1]:
            self._span[where] = (min(span[0], date), max(span[1], date))
        series = self._series.get(key)
        if series is None:
            scope, sid, kind, _ = key
            # Workers' own series only count: their waits are the queues' and workspace's.
            series = self._series[key] = (
                ValuedSeries() if kind in VALUED and scope != WORKER else Series())
            self._channels.setdefault((scope, sid, kind), []).append(series)
        series.add(date, value)
        times = series.times
        if not len(times) % TRIM_EVERY and worth_forgetting(times, date - KEEP_MS):
            series.forget_before(date - KEEP_MS)

    def _add_reservation(self, date: int, worker: str, kind: str, channel: str | None) -> None:
        row = (worker, kind, channel)
        times = self._reservation_times
        if times and date < times[-1]:
            at = bisect_right(times, date)
            times.insert(at, date)
            self._reservation_rows.insert(at, row)
            return
        times.append(date)
        self._reservation_rows.append(row)
        if not len(times) % TRIM_EVERY and worth_forgetting(times, date - KEEP_MS):
            cut = bisect_left(times, date - KEEP_MS)
            del times[:cut]
            del self._reservation_rows[:cut]

    # ------------------------------------------------------------------ reading

    def quiet(self, scope: str, sid: str, window: Window) -> bool:
        """True if nothing was counted for this scope during the window."""
        span = self._span.get((scope, sid))
        return span is None or span[1] < window.start or span[0] > window.end

    def _selected(self, scope: str, sid: str, kind: str, channel: str | None
                  ) -> Iterable[Series]:
        if channel is None:
            return self._channels.get((scope, sid, kind), ())
        series = self._series.get((scope, sid, kind, channel))
        return (series,) if series is not None else ()

    def count(self, scope: str, sid: str, kind: str, window: Window,
              channel: str | None = None) -> int:
        return sum(s.count(window.start, window.end)
                   for s in self._selected(scope, sid, kind, channel))

    def summary(self, scope: str, sid: str, kind: str, window: Window,
                channel: str | None = None) -> Summary:
        result = EMPTY
        for series in self._selected(scope, sid, kind, channel):
            if isinstance(series, ValuedSeries):
                result = result.merge(series.summary(window.start, window.end))
        return result

    def waits(self, scope: str, sid: str, kind: str, window: Window,
              channel: str | None = None) -> list[int]:
        """Every wait (ms) of the window, sorted."""
        found: list[int] = []
        for series in self._selected(scope, sid, kind, channel):
            if isinstance(series, ValuedSeries):
                found.extend(series.values_between(window.start, window.end))
        found.sort()
        return found

    def reservations_of(self, workers: Set[str], window: Window, channel: str | None
                        ) -> dict[str, int]:
        """Reservations of some workers by outcome: per worker, or over the window's
        reservations, whichever is fewer to look at."""
        counts = dict.fromkeys(RESERVATION_FIGURES, 0)
        times = self._reservation_times
        i = bisect_right(times, window.start - 1)
        j = bisect_right(times, window.end)
        if (j - i) <= len(workers) * len(RESERVATION_FIGURES):
            for worker, kind, used in self._reservation_rows[i:j]:
                if worker in workers and (channel is None or used == channel):
                    counts[kind] += 1
            return counts
        for worker in workers:
            for kind in RESERVATION_FIGURES:
                counts[kind] += self.count(WORKER, worker, kind, window, channel)
        return counts


_NOTHING = History()


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


def split_by_wait_time(canceled: list[int], accepted: list[int], thresholds: Iterable[int]
                       ) -> dict[str, Any]:
    """Tasks canceled and reservations accepted at or below / above each threshold (s)."""
    split: dict[str, Any] = {}
    for threshold in thresholds:
        limit = threshold * 1000
        below_canceled = bisect_right(canceled, limit)
        below_accepted = bisect_right(accepted, limit)
        split[str(threshold)] = {
            "above": {"tasks_canceled": len(canceled) - below_canceled,
                      "reservations_accepted": len(accepted) - below_accepted},
            "below": {"tasks_canceled": below_canceled,
                      "reservations_accepted": below_accepted},
        }
    return split


def task_flow(history: History, scope: str, sid: str, window: Window, channel: str | None,
              thresholds: tuple[int, ...] | None) -> dict[str, Any]:
    """The cumulative figures of the workspace, a workflow or a queue."""
    if history.quiet(scope, sid, window):
        history = _NOTHING  # the same figures, all zero, without looking anything up

    def count(kind: str) -> int:
        return history.count(scope, sid, kind, window, channel)

    figures: dict[str, Any] = {}
    if scope == WORKSPACE:
        figures[CREATED] = count(CREATED)
    elif scope == WORKFLOW:
        figures[ENTERED] = count(CREATED)
    else:
        figures[ENTERED] = count(ENTERED)
    for kind in (CANCELED, COMPLETED, DELETED, MOVED):
        figures[kind] = count(kind)
    if scope != QUEUE:
        figures[TIMED_OUT] = count(TIMED_OUT)
    for kind in RESERVATION_FIGURES:
        figures[kind] = count(kind)
    accepted = history.summary(scope, sid, ACCEPTED, window, channel)
    figures["avg_task_acceptance_time"] = durations(accepted)["avg"]
    figures["wait_duration_until_accepted"] = durations(accepted)
    figures["wait_duration_until_canceled"] = durations(
        history.summary(scope, sid, CANCELED, window, channel))
    if scope == QUEUE:
        figures["wait_duration_in_queue_until_accepted"] = durations(
            history.summary(scope, sid, IN_QUEUE, window, channel))
    figures["split_by_wait_time"] = None if thresholds is None else split_by_wait_time(
        history.waits(scope, sid, CANCELED, window, channel),
        history.waits(scope, sid, ACCEPTED, window, channel), thresholds)
    return figures


def workers_flow(history: History, window: Window, channel: str | None,
                 workers: Mapping[str, Worker], only: Set[str] | None,
                 activities: Iterable[tuple[str, str]],
                 counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Reservations by outcome and time in each activity, of all workers or of ``only``.

    ``activities`` are the workspace's (SID, friendly name), listed in that order; ``counts``,
    if known, the current workers by activity.
    """
    if only is None:
        figures: dict[str, Any] = {kind: history.count(WORKSPACE, "", kind, window, channel)
                                   for kind in RESERVATION_FIGURES}
    else:
        figures = dict(history.reservations_of(only, window, channel))
    spent = history.activity.durations(window.start, window.end, workers, only, counts)
    figures["activity_durations"] = [
        {"sid": sid, "friendly_name": name, **durations(spent.get(sid, EMPTY))}
        for sid, name in activities
    ]
    return figures
