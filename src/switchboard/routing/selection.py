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
take work; each other strategy, and any strategy after ``order_by``, keeps an ordered copy of
it per queue and channel where it is used (by SID for ``round_robin`` and ``random``, by share
of capacity in use for ``least_occupied``, by accepts for ``fewest_accepted``; with
``order_by``, by its values first), so that its decisions stay logarithmic.

Behaviour TaskRouter leaves undocumented, chosen here (see docs/differences.md): "longest idle"
means the longest time since the worker was last offered a reservation or last became able to
take work in that queue and channel (a worker coming back from an unavailable activity or
finishing its last task goes to the back). ``Worker.idle_since`` records the last of these;
after a restart workers are ordered by it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any, Protocol

from sortedcontainers import SortedList

from switchboard.routing.changes import ChangeRecorder
from switchboard.routing.history import AcceptCounts
from switchboard.routing.model import Reservation, Task, Worker, Workspace
from switchboard.routing.resources import Resources
from switchboard.routing.workflow_config import OrderBy, Target
from switchboard.routing.workflows import target_matches, walk

_HOLDING = frozenset({"pending", "accepted"})
# Idle workers in one (queue, channel) from which its index is an OrderedDict (LongestIdle)
_ORDERED_FROM = 512


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
    back, so entering, leaving and moving to the back are all O(1). A dict keeps the slots
    of removed keys until it next grows, though, and a walk from the front steps over each
    (thousands per decision at 100,000 workers); so a slot that reaches ``_ORDERED_FROM``
    workers becomes an OrderedDict, whose linked order does not (it is slower to build and
    change, which the many small slots would pay for).

    The other strategies (extensions) each keep, for every (queue, channel) they have been
    asked for, an ordered copy of that slot's idle workers: built at the first decision there,
    then kept as workers come and go and as their keys change, O(log n) each, so that a
    decision is O(log n) too (plus the workers passed over, as for the idle order: a target's
    expression, a reservation for the task already).
    """

    def __init__(self, eligibility: Eligibility, changes: ChangeRecorder) -> None:
        self.eligibility = eligibility
        self.changes = changes
        self.idle: dict[tuple[str, str], dict[str, None]] = {}
        self._idle_slots: dict[str, tuple[int, frozenset[tuple[str, str]]]] = {}
        # round_robin (an extension): queue sid -> the worker it last reserved
        self.last_reserved: dict[str, str] = {}
        # round_robin and random: the idle workers by SID (a circular order, a position to draw)
        self.by_sid: dict[tuple[str, str], SortedList] = {}
        # least_occupied: the idle workers by (share of capacity in use, idle since, sid), and
        # the share each worker in one of these indexes is keyed by (re-keyed when it changes)
        self.by_share: dict[tuple[str, str], SortedList] = {}
        self._shares: dict[str, float] = {}
        # fewest_accepted: the idle workers by (accepts, idle since, sid), re-keyed as counts
        # change (an accept, or one leaving the 24-hour window)
        self.by_accepts: dict[tuple[str, str], SortedList] = {}
        # order_by, with any strategy: per slot, order_by and strategy, the idle workers by
        # (order_by values, then the strategy's key as above), re-keyed at every refresh of a
        # worker in it (attributes, the values, change only with a worker update, which
        # refreshes it) and, for fewest_accepted, at every change of its count
        self.by_order: dict[tuple[str, str], dict[tuple[tuple[OrderBy, ...], str], _Ranking]] = {}

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
            if isinstance(entries, OrderedDict) and slot in added:
                entries.move_to_end(sid)  # to the back, cheaper than out and in again
                continue
            del entries[sid]
            if not entries:
                del idle[slot]
        for slot in added:
            waiting = idle.get(slot)
            if waiting is None:
                idle[slot] = {sid: None}
            else:
                waiting[sid] = None
                if len(waiting) == _ORDERED_FROM and type(waiting) is dict:
                    idle[slot] = OrderedDict(waiting)
        if self.by_sid and (removed or added):  # keyed by SID: only real comings and goings
            for slot in old_slots - slots:
                if (index := self.by_sid.get(slot)) is not None:
                    index.remove(sid)
            for slot in slots - old_slots:
                if (index := self.by_sid.get(slot)) is not None:
                    index.add(sid)
        if self.by_share:  # the share may change without any slot changing
            self._reshare(worker, old_since, old_slots, slots)
        if self.by_order:
            for slot in old_slots | slots:
                for (order_by, strategy), ranking in self.by_order.get(slot, {}).items():
                    if slot in slots:
                        ranking.put(sid, self._order_key(worker, order_by, strategy,
                                                         worker.idle_since))
                    else:
                        ranking.drop(sid)
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

    def _reshare(self, worker: Worker, old_since: int,
                 old_slots: frozenset[tuple[str, str]], slots: set[tuple[str, str]]) -> None:
        """Re-key the worker where least_occupied keeps it (its share, idle time or slots
        changed); a no-op when none did."""
        sid = worker.sid
        by_share = self.by_share
        old = self._shares.get(sid)
        new = self.share(worker) if any(slot in by_share for slot in slots) else None
        if old == new and old_since == worker.idle_since and old_slots == slots:
            return
        if old is not None:
            for slot in old_slots:
                if (index := by_share.get(slot)) is not None:
                    index.remove((old, old_since, sid))
            del self._shares[sid]
        if new is not None:
            for slot in slots:
                if (index := by_share.get(slot)) is not None:
                    index.add((new, worker.idle_since, sid))
            self._shares[sid] = new

    def forget(self, worker: Worker) -> None:
        since, slots = self._idle_slots.pop(worker.sid, (0, frozenset()))
        count = self.eligibility.accepts.count(worker.sid)
        share = self._shares.pop(worker.sid, None)
        for slot in slots:
            if (index := self.by_accepts.get(slot)) is not None:
                index.remove((count, since, worker.sid))
            if (index := self.by_sid.get(slot)) is not None:
                index.remove(worker.sid)
            if share is not None and (index := self.by_share.get(slot)) is not None:
                index.remove((share, since, worker.sid))
            for ranking in self.by_order.get(slot, {}).values():
                ranking.drop(worker.sid)
            entries = self.idle[slot]
            del entries[worker.sid]
            if not entries:
                del self.idle[slot]

    def select(self, task: Task, wanted: int, now: int, exclude: str | None) -> list[Worker]:
        assert task.task_queue_sid is not None
        slot = (task.task_queue_sid, task.task_channel_sid)
        entries = self.idle.get(slot)
        if not entries:
            return []
        eligibility = self.eligibility
        workers = eligibility.workers
        target = task.target
        chosen: list[Worker] = []
        strategy = target.worker_selection if target is not None else "longest_idle"
        if target is not None and not target.order_by and strategy != "longest_idle":
            if strategy == "round_robin":
                chosen = self._round_robin(task, target, wanted, now, exclude)
                if chosen:
                    self.last_reserved[task.task_queue_sid] = chosen[-1].sid
                return chosen
            if strategy == "random":
                return self._random(task, target, wanted, now, exclude)
            if strategy == "least_occupied":
                ranked = (sid for _, _, sid in self._share_index(slot))
            else:
                ranked = (sid for _, _, sid in self._accepts_index(slot, now))
            return self._first(ranked, task, target, wanted, now, exclude)
        if target is not None and target.order_by:
            return self._by_order(task, target, strategy, wanted, now, exclude)
        for worker_sid in entries:  # TaskRouter's: the longest idle first
            if worker_sid == exclude:
                continue
            worker = workers[worker_sid]
            if target is not None and target.expression is not None and not (
                    target_matches(task, target, worker, now, eligibility.worker_view)):
                continue
            if eligibility.holds(worker, task):
                continue
            chosen.append(worker)
            if len(chosen) == wanted:
                break
        return chosen

    def _by_order(self, task: Task, target: Target, strategy: str, wanted: int, now: int,
                  exclude: str | None) -> list[Worker]:
        """``order_by`` first, the strategy within each group of equal ``order_by`` values."""
        assert task.task_queue_sid is not None
        order_by = target.order_by
        ranking = self._order_index((task.task_queue_sid, task.task_channel_sid), order_by,
                                    strategy, now)
        order = ranking.order
        if strategy == "random":
            chosen: list[Worker] = []
            seed = f"{task.sid}:{len(self.eligibility.task_reservations.get(task.sid, ()))}:"
            attempt = 0
            for start, end in _groups(order, len(order_by)):
                attempt = self._draws(task, target, wanted, now, exclude, order, start, end,
                                      seed, attempt, chosen)
                if len(chosen) == wanted:
                    break
            return chosen
        if strategy == "round_robin":
            last = self.last_reserved.get(task.task_queue_sid)
            ranked: Iterable[str] = (
                key[-1] for start, end in _groups(order, len(order_by))
                for key in _circular(order, start, end, len(order_by), last))
            chosen = self._first(ranked, task, target, wanted, now, exclude)
            if chosen:
                self.last_reserved[task.task_queue_sid] = chosen[-1].sid
            return chosen
        return self._first((key[-1] for key in order), task, target, wanted, now, exclude)

    def _takes(self, task: Task, target: Target, worker: Worker, now: int) -> bool:
        """Beyond being idle there: the target's expression, no reservation for it yet."""
        eligibility = self.eligibility
        if target.expression is not None and not (
                target_matches(task, target, worker, now, eligibility.worker_view)):
            return False
        return not eligibility.holds(worker, task)

    def _first(self, ranked: Iterable[str], task: Task, target: Target, wanted: int, now: int,
               exclude: str | None) -> list[Worker]:
        """The first ``wanted`` workers of ``ranked`` that may take the task."""
        workers = self.eligibility.workers
        chosen: list[Worker] = []
        for worker_sid in ranked:
            if worker_sid == exclude:
                continue
            worker = workers[worker_sid]
            if self._takes(task, target, worker, now):
                chosen.append(worker)
                if len(chosen) == wanted:
                    break
        return chosen

    def _sid_index(self, slot: tuple[str, str]) -> SortedList:
        index = self.by_sid.get(slot)
        if index is None:
            index = self.by_sid[slot] = SortedList(self.idle.get(slot, ()))
        return index

    def _share_index(self, slot: tuple[str, str]) -> SortedList:
        index = self.by_share.get(slot)
        if index is None:
            shares = self._shares
            workers = self.eligibility.workers
            keys = []
            for sid in self.idle.get(slot, ()):
                share = shares.get(sid)
                if share is None:
                    share = shares[sid] = self.share(workers[sid])
                keys.append((share, self._idle_slots[sid][0], sid))
            index = self.by_share[slot] = SortedList(keys)
        return index

    def _order_index(self, slot: tuple[str, str], order_by: tuple[OrderBy, ...],
                     strategy: str, now: int) -> _Ranking:
        if strategy == "fewest_accepted":
            accepts = self.eligibility.accepts
            accepts.changed = self._accepts_changed  # from the first index on
            accepts.prune(now)  # counts as of now: expired accepts re-key their workers first
        rankings = self.by_order.setdefault(slot, {})
        ranking = rankings.get((order_by, strategy))
        if ranking is None:
            ranking = rankings[(order_by, strategy)] = _Ranking()
            workers = self.eligibility.workers
            for sid in self.idle.get(slot, ()):
                ranking.put(sid, self._order_key(workers[sid], order_by, strategy,
                                                 self._idle_slots[sid][0]))
        return ranking

    def _order_key(self, worker: Worker, order_by: tuple[OrderBy, ...], strategy: str,
                   since: int) -> tuple[Any, ...]:
        """The worker's key in an order_by index: the order_by values, then the strategy's."""
        values = order_by_values(worker, order_by)
        if strategy == "round_robin" or strategy == "random":
            return (*values, worker.sid)
        if strategy == "least_occupied":
            return (*values, self.share(worker), since, worker.sid)
        if strategy == "fewest_accepted":
            return (*values, self.eligibility.accepts.count(worker.sid), since, worker.sid)
        return (*values, since, worker.sid)

    def _accepts_index(self, slot: tuple[str, str], now: int) -> SortedList:
        accepts = self.eligibility.accepts
        accepts.prune(now)  # counts as of now: expired accepts re-key their workers first
        index = self.by_accepts.get(slot)
        if index is None:
            accepts.changed = self._accepts_changed  # from the first index on
            index = self.by_accepts[slot] = SortedList(
                (accepts.count(sid), self._idle_slots[sid][0], sid)
                for sid in self.idle.get(slot, ()))
        return index

    def _round_robin(self, task: Task, target: Target, wanted: int, now: int,
                     exclude: str | None) -> list[Worker]:
        """By SID, from the one after the queue's last reserved, round to the start."""
        assert task.task_queue_sid is not None
        index = self._sid_index((task.task_queue_sid, task.task_channel_sid))
        last = self.last_reserved.get(task.task_queue_sid)
        if last is None:
            return self._first(index, task, target, wanted, now, exclude)
        # irange bisects by value alone (no positional index to keep up)
        ranked = chain(index.irange(minimum=last, inclusive=(False, False)),
                       index.irange(maximum=last))
        return self._first(ranked, task, target, wanted, now, exclude)

    def _random(self, task: Task, target: Target, wanted: int, now: int,
                exclude: str | None) -> list[Worker]:
        assert task.task_queue_sid is not None
        index = self._sid_index((task.task_queue_sid, task.task_channel_sid))
        seed = f"{task.sid}:{len(self.eligibility.task_reservations.get(task.sid, ()))}:"
        chosen: list[Worker] = []
        self._draws(task, target, wanted, now, exclude, index, 0, len(index), seed, 0, chosen)
        return chosen

    def _draws(self, task: Task, target: Target, wanted: int, now: int, exclude: str | None,
               order: SortedList, start: int, end: int, seed: str, attempt: int,
               chosen: list[Worker]) -> int:
        """Uniform draws without replacement among the workers at positions start..end of
        ``order`` (SIDs, or keys ending with one) that may take the task, until ``chosen``
        has ``wanted``: a position from a hash of (task, its offers so far, draw number),
        drawn again when that worker may not take it or was drawn already. After many misses
        (most of them may not take it) the rest are drawn from a list of those who may, made
        by a scan: the same distribution, at O(n) for that decision. Returns the next draw
        number."""
        workers = self.eligibility.workers
        drawn: set[str] = set()
        size = end - start
        tries = 0
        while len(chosen) < wanted and len(drawn) < size:
            if tries == 2 * wanted + 16:  # many misses: draw from those who may take it
                rest = [workers[sid] for sid in map(_sid_of, order.islice(start, end))
                        if sid not in drawn and sid != exclude
                        and self._takes(task, target, workers[sid], now)]
                while len(chosen) < wanted and rest:
                    chosen.append(rest.pop(_draw(seed, attempt, len(rest))))
                    attempt += 1
                break
            worker_sid = _sid_of(order[start + _draw(seed, attempt, size)])
            attempt += 1
            tries += 1
            if worker_sid in drawn:
                continue
            drawn.add(worker_sid)
            if worker_sid == exclude:
                continue
            worker = workers[worker_sid]
            if self._takes(task, target, worker, now):
                chosen.append(worker)
        return attempt

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
            for (order_by, strategy), ranking in self.by_order.get(slot, {}).items():
                if strategy == "fewest_accepted":
                    worker = self.eligibility.workers[worker_sid]
                    ranking.put(worker_sid, self._order_key(worker, order_by, strategy, since))

    def share(self, worker: Worker) -> float:
        """The share of the worker's capacity in use, over all its channels. A float orders
        exactly as the fraction would: equal fractions give equal floats, and two different
        ones with denominators under 2**26 (a channel's capacity is at most 1,000) differ by
        more than a float's rounding."""
        channels = self.eligibility.worker_channels.get(worker.sid, {}).values()
        capacity = sum(wc.configured_capacity for wc in channels)
        reserved = sum(wc.reserved for wc in channels)
        return reserved / capacity if capacity else 1.0


class _Ranking:
    """Workers in the order of a key that may change: the key each is held by, to re-key it."""

    def __init__(self) -> None:
        self.order = SortedList()
        self.keys: dict[str, tuple[Any, ...]] = {}

    def put(self, sid: str, key: tuple[Any, ...]) -> None:
        old = self.keys.get(sid)
        if old == key:
            return
        if old is not None:
            self.order.remove(old)
        self.order.add(key)
        self.keys[sid] = key

    def drop(self, sid: str) -> None:
        old = self.keys.pop(sid, None)
        if old is not None:
            self.order.remove(old)


def _sid_of(item: Any) -> str:
    """The worker SID of an index entry: the SID itself, or the last part of a key."""
    return item if isinstance(item, str) else str(item[-1])


def _groups(order: SortedList, width: int) -> Iterator[tuple[int, int]]:
    """The ranges of ``order`` whose keys share their first ``width`` parts (order_by's
    values), in order: O(log n) each."""
    start, size = 0, len(order)
    while start < size:
        end = order.bisect_left((*order[start][:width], _AFTER_ANY_SID))
        yield start, end
        start = end


def _circular(order: SortedList, start: int, end: int, width: int, last: str | None
              ) -> Iterator[tuple[Any, ...]]:
    """The keys start..end (one order_by group, by SID) from the one after ``last``, round."""
    middle = start if last is None else order.bisect_right((*order[start][:width], last))
    return chain(order.islice(middle, end), order.islice(start, middle))


_AFTER_ANY_SID = "\U0010ffff"  # sorts after every SID (ASCII)


def _draw(seed: str, attempt: int, size: int) -> int:
    """A position below ``size``, the same for the same seed and attempt."""
    digest = hashlib.blake2b(f"{seed}{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % size


def order_by_key(worker: Worker, target: Target) -> tuple[Any, ...]:
    """``order_by`` alone: integer attributes, missing ones last whatever the direction."""
    return order_by_values(worker, target.order_by)


def order_by_values(worker: Worker, order_by: tuple[OrderBy, ...]) -> tuple[Any, ...]:
    """The worker's sort key for these ``order_by`` clauses."""
    key: list[Any] = []
    for clause in order_by:
        value = walk(worker.parsed_attributes, clause.path)
        if isinstance(value, int) and not isinstance(value, bool):
            key.append((0, -value if clause.descending else value))
        else:
            key.append((1, 0))
    return tuple(key)
