"""Worker selection: which workers may take a task now, and which of them get it.

``Eligibility`` holds the rules every strategy shares: the worker's activity is available, it
has room on the task's channel (``configured_capacity`` less what its open reservations hold;
in a single-tasking workspace, one task at a time on any channel), it passes the target's
expression, and it does not already hold a pending or accepted reservation for the task.

A ``WorkerSelector`` keeps, per (queue, channel), the workers that could take a task there now,
and picks among them. TaskRouter's own strategy is ``LongestIdle``: the eligible workers in the
order they became idle, reordered by the target's ``order_by`` when it has one. Other
strategies implement the same three methods.

An extension beyond TaskRouter (docs/extensions.md): a target's ``worker_selection`` picks how
ties of ``order_by`` (or, without it, all eligible workers) are broken: ``longest_idle`` (the
default, TaskRouter's), ``round_robin``, ``least_occupied``, ``fewest_accepted`` or
``random``. ``LongestIdle`` applies them, so the idle index stays the one source of who could
take work (``fewest_accepted`` keeps an ordered copy of it per queue and channel where it is
used, so that its decisions stay logarithmic).

Behaviour TaskRouter leaves undocumented, chosen here (see docs/differences.md): "longest idle"
means the longest time since the worker was last offered a reservation or last became able to
take work in that queue and channel (a worker coming back from an unavailable activity or
finishing its last task goes to the back). ``Worker.idle_since`` records the last of these;
after a restart workers are ordered by it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Protocol

from sortedcontainers import SortedList

from switchboard.routing.changes import ChangeRecorder
from switchboard.routing.history import AcceptCounts
from switchboard.routing.model import Reservation, Task, Worker, Workspace
from switchboard.routing.resources import Resources
from switchboard.routing.workflow_config import Target
from switchboard.routing.workflows import target_matches, walk

_HOLDING = frozenset({"pending", "accepted"})


class Eligibility:
    """Could this worker take this task now? The checks every selection strategy shares."""

    def __init__(self, workspace: Workspace, resources: Resources,
                 worker_queues: dict[str, set[str]],
                 task_reservations: dict[str, list[Reservation]]) -> None:
        self.workspace = workspace
        self.workers = resources.workers
        self.activities = resources.activities
        self.worker_channels = resources.worker_channels
        self.worker_view = resources.worker_view
        self.worker_queues = worker_queues
        self.task_reservations = task_reservations
        # fewest_accepted (an extension): accepts per worker over 24 h, kept by the lifecycle
        self.accepts = AcceptCounts()

    def fits(self, task: Task, worker: Worker, now: int) -> bool:
        """Could ``worker`` be reserved for ``task`` now (activity, capacity, expression)?"""
        activity = self.activities.get(worker.activity_sid)
        if activity is None or not activity.available:
            return False
        if not self.has_room(worker, task.task_channel_sid) or self.holds(worker, task):
            return False
        target = task.target
        if target is None:
            return True
        # A known worker outside the step's queue does not get the task (Twilio error 40152).
        return task.task_queue_sid in self.worker_queues.get(worker.sid, ()) and (
            target_matches(task, target, worker, now, self.worker_view))

    def free_channels(self, worker: Worker) -> list[str]:
        """The channels on which the worker has room for one more task."""
        channels = self.worker_channels.get(worker.sid, {})
        if not self.workspace.multi_task_enabled:
            return [] if any(wc.reserved for wc in channels.values()) else list(channels)
        return [sid for sid, wc in channels.items()
                if wc.available and wc.reserved < wc.configured_capacity]

    def has_room(self, worker: Worker, channel_sid: str) -> bool:
        channels = self.worker_channels[worker.sid]
        if not self.workspace.multi_task_enabled:  # single-tasking: one task at a time
            return not any(wc.reserved for wc in channels.values())
        wc = channels.get(channel_sid)
        return wc is not None and wc.available and wc.reserved < wc.configured_capacity

    def holds(self, worker: Worker, task: Task) -> bool:
        # A task has few reservations; a busy worker may have many (finished ones linger).
        # Accepted counts for a worker transferring the task away (warm); one wrapping it up
        # after a cold transfer may be offered it again, as on TaskRouter.
        return any(r.worker_sid == worker.sid and r.reservation_status in _HOLDING
                   for r in self.task_reservations.get(task.sid, ()))


class WorkerSelector(Protocol):
    """A selection strategy: keeps who could take work where, and picks workers for a task."""

    def refresh(self, worker: Worker, now: int | None = None) -> None:
        """After any change to a worker (activity, capacity, queues, reservations,
        ``idle_since``): recompute where it could take work. Given ``now``, a worker that
        becomes able to take work records it in ``idle_since``."""

    def forget(self, worker: Worker) -> None:
        """The worker is being deleted."""

    def select(self, task: Task, wanted: int, now: int, exclude: str | None) -> list[Worker]:
        """Up to ``wanted`` eligible workers for a task waiting in its queue, best first
        (never ``exclude``)."""


SelectorFactory = Callable[[Eligibility, ChangeRecorder], WorkerSelector]


class LongestIdle:
    """TaskRouter's order: longest idle first, or the target's ``order_by`` then idle time.

    ``idle[(queue, channel)]`` holds the queue's members that could take a task of that channel
    now, longest idle first. A dict keeps insertion order, and a worker always enters at the
    back, so entering, leaving and moving to the back are all O(1).
    """

    def __init__(self, eligibility: Eligibility, changes: ChangeRecorder) -> None:
        self.eligibility = eligibility
        self.changes = changes
        self.idle: dict[tuple[str, str], dict[str, None]] = {}
        self._idle_slots: dict[str, tuple[int, frozenset[tuple[str, str]]]] = {}
        # round_robin (an extension): queue sid -> the worker it last reserved
        self.last_reserved: dict[str, str] = {}
        # fewest_accepted (an extension): for each (queue, channel) it has been asked for, the
        # idle workers by (accepts, idle since, sid): built at the first decision there, then
        # kept as workers come and go and as their counts change (an accept, or one leaving
        # the 24-hour window), O(log n) each, so that a decision is O(log n) too.
        self.by_accepts: dict[tuple[str, str], SortedList] = {}

    def refresh(self, worker: Worker, now: int | None = None) -> None:
        """Recompute where a worker appears in the idle index after any change to it.

        Given ``now``, a worker that could take no work before and can now is idle from now:
        it goes to the back, and ``idle_since`` says so (an engine rebuilt from the store
        orders idle workers by it).
        """
        eligibility = self.eligibility
        slots: set[tuple[str, str]] = set()
        activity = eligibility.activities.get(worker.activity_sid)
        if activity is not None and activity.available:
            free = eligibility.free_channels(worker)
            slots = {(queue_sid, channel_sid)
                     for queue_sid in eligibility.worker_queues.get(worker.sid, ())
                     for channel_sid in free}
        sid = worker.sid
        old_since, old_slots = self._idle_slots.get(sid, (worker.idle_since, frozenset()))
        if now is not None and slots and not old_slots and worker.idle_since != now:
            worker.idle_since = now
            self.changes.touch(worker)
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
        if self.by_accepts and (removed or added):
            count = self.eligibility.accepts.count(sid)
            for slot in removed:
                if (index := self.by_accepts.get(slot)) is not None:
                    index.remove((count, old_since, sid))
            for slot in added:
                if (index := self.by_accepts.get(slot)) is not None:
                    index.add((count, worker.idle_since, sid))
        if slots:
            self._idle_slots[sid] = (worker.idle_since, frozenset(slots))
        else:
            self._idle_slots.pop(sid, None)

    def forget(self, worker: Worker) -> None:
        since, slots = self._idle_slots.pop(worker.sid, (0, frozenset()))
        count = self.eligibility.accepts.count(worker.sid)
        for slot in slots:
            if (index := self.by_accepts.get(slot)) is not None:
                index.remove((count, since, worker.sid))
            entries = self.idle[slot]
            del entries[worker.sid]
            if not entries:
                del self.idle[slot]

    def select(self, task: Task, wanted: int, now: int, exclude: str | None) -> list[Worker]:
        assert task.task_queue_sid is not None
        entries = self.idle.get((task.task_queue_sid, task.task_channel_sid))
        if not entries:
            return []
        eligibility = self.eligibility
        workers = eligibility.workers
        target = task.target
        chosen: list[Worker] = []
        strategy = target.worker_selection if target is not None else "longest_idle"
        if strategy == "fewest_accepted" and target is not None and not target.order_by:
            return self._fewest_accepted(task, target, wanted, now, exclude)
        ordered = target is not None and (bool(target.order_by) or strategy != "longest_idle")
        for worker_sid in entries:
            if worker_sid == exclude:
                continue
            worker = workers[worker_sid]
            if target is not None and target.expression is not None and not (
                    target_matches(task, target, worker, now, eligibility.worker_view)):
                continue
            if eligibility.holds(worker, task):
                continue
            chosen.append(worker)
            if len(chosen) == wanted and not ordered:
                break
        if ordered and target is not None:
            if strategy == "longest_idle":
                chosen.sort(key=lambda w: order_key(w, target))
            else:
                tie = self._tie_breaker(task, strategy, now)
                chosen.sort(key=lambda w: (*order_by_key(w, target), *tie(w)))
            chosen = chosen[:wanted]
            if strategy == "round_robin" and chosen:
                self.last_reserved[task.task_queue_sid] = chosen[-1].sid
        return chosen

    def _fewest_accepted(self, task: Task, target: Target, wanted: int, now: int,
                         exclude: str | None) -> list[Worker]:
        """Walk the slot's ordered index from the fewest accepts: O(log n) plus the workers
        passed over (the target's expression, a reservation for the task already)."""
        assert task.task_queue_sid is not None
        slot = (task.task_queue_sid, task.task_channel_sid)
        eligibility = self.eligibility
        accepts = eligibility.accepts
        accepts.prune(now)  # counts as of now: expired accepts re-key their workers first
        index = self.by_accepts.get(slot)
        if index is None:
            accepts.changed = self._accepts_changed  # from the first index on
            index = self.by_accepts[slot] = SortedList(
                (accepts.count(sid), self._idle_slots[sid][0], sid)
                for sid in self.idle.get(slot, ()))
        workers = eligibility.workers
        chosen: list[Worker] = []
        for _, _, worker_sid in index:
            if worker_sid == exclude:
                continue
            worker = workers[worker_sid]
            if target.expression is not None and not (
                    target_matches(task, target, worker, now, eligibility.worker_view)):
                continue
            if eligibility.holds(worker, task):
                continue
            chosen.append(worker)
            if len(chosen) == wanted:
                break
        return chosen

    def _accepts_changed(self, worker_sid: str, old: int) -> None:
        """A worker's count of accepts changed: re-key it where fewest_accepted keeps it."""
        stored = self._idle_slots.get(worker_sid)
        if stored is None:
            return
        since, slots = stored
        new = self.eligibility.accepts.count(worker_sid)
        for slot in slots:
            if (index := self.by_accepts.get(slot)) is not None:
                index.remove((old, since, worker_sid))
                index.add((new, since, worker_sid))

    def _tie_breaker(self, task: Task, strategy: str, now: int
                     ) -> Callable[[Worker], tuple[Any, ...]]:
        """The extension strategies (docs/extensions.md), each breaking ``order_by``'s ties;
        their own ties go to the longest idle."""
        if strategy == "round_robin":
            # A fixed circular order (by worker SID), starting after the last one reserved.
            last = self.last_reserved.get(task.task_queue_sid or "")
            return lambda w: (last is not None and w.sid <= last, w.sid)
        if strategy == "least_occupied":
            return lambda w: (self.occupancy(w), w.idle_since, w.sid)
        if strategy == "fewest_accepted":
            accepts = self.eligibility.accepts
            accepts.prune(now)
            return lambda w: (accepts.count(w.sid), w.idle_since, w.sid)
        # random: a hash of the task, how many offers it has had and the worker: the same
        # decision on every run and after a rebuild, a fresh draw for each new offer.
        draw = f"{task.sid}:{len(self.eligibility.task_reservations.get(task.sid, ()))}:"
        return lambda w: (hashlib.blake2b((draw + w.sid).encode(), digest_size=8).digest(),
                          w.sid)

    def occupancy(self, worker: Worker) -> Fraction:
        """The share of the worker's capacity in use, over all its channels."""
        channels = self.eligibility.worker_channels.get(worker.sid, {}).values()
        capacity = sum(wc.configured_capacity for wc in channels)
        reserved = sum(wc.reserved for wc in channels)
        return Fraction(reserved, capacity) if capacity else Fraction(1)


def order_key(worker: Worker, target: Target) -> tuple[Any, ...]:
    """``order_by``: integer attributes, missing ones last whatever the direction; then the
    longest idle first."""
    return (*order_by_key(worker, target), (worker.idle_since, worker.sid))


def order_by_key(worker: Worker, target: Target) -> tuple[Any, ...]:
    """``order_by`` alone: integer attributes, missing ones last whatever the direction."""
    key: list[Any] = []
    for clause in target.order_by:
        value = walk(worker.parsed_attributes, clause.path)
        if isinstance(value, int) and not isinstance(value, bool):
            key.append((0, -value if clause.descending else value))
        else:
            key.append((1, 0))
    return tuple(key)
