"""Real-time statistics: the figures of this moment, from the workspace's live state.

Tasks are tallied as they change: ``LiveTasks`` keeps, for the workspace, each queue and each
workflow, and for each TaskChannel, the active tasks by status and by priority and the waiting
ones in age order, so a request costs O(log n) however many tasks there are, and finished tasks
(kept five minutes before they are purged) cost nothing. ``LiveWorkers`` keeps the workspace's
workers by activity the same way; a queue's members are counted from the engine per request
(one pass in C).

Definitions where TaskRouter leaves them open (docs/differences.md):

* a task counts while it is active: pending, reserved, assigned or wrapping; an assigned task
  counts in the queue it was reserved from;
* "waiting" means pending or reserved (not yet accepted); the longest waiting task is the
  oldest by creation, and the longest waiting in a queue is the one that entered it first;
  ages are whole seconds, rounded down;
* a worker is eligible for a queue while its TargetWorkers select it, and available while its
  activity is available; with ``TaskChannel``, only workers with capacity on that channel
  count (and, to be available, the channel must be available to them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from heapq import heapify, heappop, heappush
from operator import attrgetter
from typing import Any, NamedTuple

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import TASK_ACTIVE, TASK_WAITING, Worker

WORKSPACE = "workspace"
QUEUE = "queue"
WORKFLOW = "workflow"
STATUSES = ("pending", "reserved", "assigned", "wrapping")

_activity_of = attrgetter("activity_sid")


Key = tuple[int, int, str]  # (a time, the task's seq, its SID)


class Oldest:
    """A set of keys whose smallest is asked for: a heap (pushes in C, O(log n)) whose removed
    keys are dropped lazily when they reach the top, rebuilt once mostly stale."""

    __slots__ = ("_heap", "_live")

    def __init__(self) -> None:
        self._heap: list[Key] = []
        self._live: set[Key] = set()

    def add(self, key: Key) -> None:
        self._live.add(key)
        heappush(self._heap, key)

    def discard(self, key: Key) -> None:
        self._live.discard(key)
        if len(self._heap) > 2 * len(self._live) + 64:
            self._heap = list(self._live)
            heapify(self._heap)

    def first(self) -> Key | None:
        heap, live = self._heap, self._live
        while heap and heap[0] not in live:
            heappop(heap)
        return heap[0] if heap else None


class Tally:
    """The active tasks of one scope on one TaskChannel."""

    __slots__ = ("priorities", "statuses", "waiting", "waiting_in_queue")

    def __init__(self) -> None:
        self.statuses: dict[str, int] = {}
        self.priorities: dict[int, int] = {}
        self.waiting = Oldest()  # (date_created, seq, sid) of pending and reserved tasks
        self.waiting_in_queue = Oldest()  # (task_queue_entered_date, seq, sid)


class _Entry(NamedTuple):
    """What a task contributes to the tallies, as last counted."""

    status: str
    priority: int
    queue: str | None
    workflow: str | None
    channel: str
    created: int
    entered: int | None
    seq: int


def _bump(counts: dict[Any, int], key: Any, sign: int) -> None:
    value = counts.get(key, 0) + sign
    if value:
        counts[key] = value
    else:
        counts.pop(key, None)


class LiveTasks:
    """The active tasks of one workspace engine, re-counted whenever an event names them.

    Every change to a task comes with an event naming it in the same command (cancel,
    complete, reserve, accept, move …), and finished tasks leave the tallies at once, so
    re-reading from the engine each task a committed event named keeps the tallies exact.
    Named tasks are only noted as they go by and re-read when figures are asked for: a task
    that changed many times since is re-read once, and routing pays almost nothing.
    """

    MAX_NOTED = 50_000  # beyond this many noted tasks, re-read them at once

    def __init__(self, engine: WorkspaceEngine) -> None:
        self.engine = engine
        self._entries: dict[str, _Entry] = {}
        self._tallies: dict[tuple[str, str], dict[str, Tally]] = {}
        self._noted: set[str] = set(engine.tasks)
        self.catch_up()

    def note(self, task_sids: Iterable[str]) -> None:
        """These tasks may have changed (a committed event named them)."""
        self._noted.update(task_sids)
        if len(self._noted) > self.MAX_NOTED:
            self.catch_up()

    def catch_up(self) -> None:
        noted, self._noted = self._noted, set()
        for sid in noted:
            self.refresh(sid)

    def refresh(self, task_sid: str) -> None:
        task = self.engine.tasks.get(task_sid)
        entry = None if task is None or task.assignment_status not in TASK_ACTIVE else _Entry(
            task.assignment_status, task.priority, task.task_queue_sid, task.workflow_sid,
            task.task_channel_sid, task.date_created, task.task_queue_entered_date, task.seq)
        old = self._entries.get(task_sid)
        if old == entry:
            return
        if old is not None:
            del self._entries[task_sid]
            self._apply(task_sid, old, -1)
        if entry is not None:
            self._entries[task_sid] = entry
            self._apply(task_sid, entry, +1)

    def _apply(self, sid: str, entry: _Entry, sign: int) -> None:
        scopes = [(WORKSPACE, "")]
        if entry.queue:
            scopes.append((QUEUE, entry.queue))
        if entry.workflow:
            scopes.append((WORKFLOW, entry.workflow))
        waiting = entry.status in TASK_WAITING
        for scope in scopes:
            by_channel = self._tallies.get(scope)
            if by_channel is None:
                by_channel = self._tallies[scope] = {}
            tally = by_channel.get(entry.channel)
            if tally is None:
                tally = by_channel[entry.channel] = Tally()
            _bump(tally.statuses, entry.status, sign)
            _bump(tally.priorities, entry.priority, sign)
            if not waiting:
                continue
            key = (entry.created, entry.seq, sid)
            if sign > 0:
                tally.waiting.add(key)
            else:
                tally.waiting.discard(key)
            if scope[0] == QUEUE and entry.entered is not None:
                key = (entry.entered, entry.seq, sid)
                if sign > 0:
                    tally.waiting_in_queue.add(key)
                else:
                    tally.waiting_in_queue.discard(key)

    def tallies(self, scope: str, sid: str, channel_sid: str | None) -> list[Tally]:
        if self._noted:
            self.catch_up()
        by_channel = self._tallies.get((scope, sid), {})
        if channel_sid is None:
            return list(by_channel.values())
        tally = by_channel.get(channel_sid)
        return [tally] if tally is not None else []


def task_figures(live: LiveTasks, scope: str, sid: str, now: int, channel_sid: str | None
                 ) -> dict[str, Any]:
    """Tasks of the workspace, a queue or a workflow, by status and priority, and the
    longest waiting (and, for a queue, the longest waiting in it)."""
    statuses = dict.fromkeys(STATUSES, 0)
    priorities: Counter[int] = Counter()
    oldest: Key | None = None
    first_in: Key | None = None
    for tally in live.tallies(scope, sid, channel_sid):
        for status, n in tally.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
        priorities.update(tally.priorities)
        mine = tally.waiting.first()
        if mine is not None and (oldest is None or mine < oldest):
            oldest = mine
        mine = tally.waiting_in_queue.first()
        if mine is not None and (first_in is None or mine < first_in):
            first_in = mine
    figures: dict[str, Any] = {
        "total_tasks": sum(statuses.values()),
        "tasks_by_status": statuses,
        "tasks_by_priority": {str(p): n for p, n in sorted(priorities.items()) if n},
        "longest_task_waiting_age": _age(now, oldest),
        "longest_task_waiting_sid": oldest[2] if oldest else None,
    }
    if scope == QUEUE:
        figures["longest_relative_task_age_in_queue"] = _age(now, first_in)
        figures["longest_relative_task_sid_in_queue"] = first_in[2] if first_in else None
    return figures


def _age(now: int, entry: Key | None) -> int:
    return 0 if entry is None else max(0, now - entry[0]) // 1000


def _with_capacity(engine: WorkspaceEngine, workers: Iterable[Worker], channel_sid: str
                   ) -> list[Worker]:
    kept = []
    for worker in workers:
        wc = engine.worker_channels.get(worker.sid, {}).get(channel_sid)
        if wc is not None and wc.configured_capacity > 0:
            kept.append(worker)
    return kept


ChannelKey = tuple[str, bool]  # (activity SID, worker channel available)


class LiveWorkers:
    """How many of the workspace's workers are in each activity, re-counted for each worker a
    committed event names (every activity change emits ``worker.activity.update``, every
    change of a worker channel's capacity or availability ``worker.capacity.update`` or
    ``worker.channel.availability.update``), so the whole workspace's counts cost nothing to
    read. Per TaskChannel, once asked for it: the workers with capacity on it, by (activity,
    channel available), kept the same way (a new channel's are counted when first asked for;
    those of deleted channels are dropped)."""

    def __init__(self, engine: WorkspaceEngine) -> None:
        self.engine = engine
        self._activity: dict[str, str] = {}  # worker -> its activity, as counted
        self._counts: Counter[str] = Counter()
        self._noted: set[str] = set(engine.workers)
        # channel -> (worker -> its (activity, available) as counted, how many of each)
        self._channels: dict[str, tuple[dict[str, ChannelKey], Counter[ChannelKey]]] = {}
        self._channel_sids: frozenset[str] = frozenset()
        self._keys: dict[ChannelKey, ChannelKey] = {}  # shared, not a tuple per worker

    def note(self, worker_sids: Iterable[str]) -> None:
        self._noted.update(worker_sids)
        if len(self._noted) > LiveTasks.MAX_NOTED:
            self.counts()

    def counts(self) -> Counter[str]:
        """Workers by activity SID."""
        noted, self._noted = self._noted, set()
        workers, counted, counts = self.engine.workers, self._activity, self._counts
        for sid in noted:
            old = counted.pop(sid, None)
            if old is not None:
                counts[old] -= 1
            worker = workers.get(sid)
            if worker is not None:
                counted[sid] = worker.activity_sid
                counts[worker.activity_sid] += 1
        for channel_sid, (held, tally) in self._channels.items():
            for sid in noted:
                key = held.pop(sid, None)
                if key is not None:
                    tally[key] -= 1
                key = self._key(sid, channel_sid)
                if key is not None:
                    held[sid] = key
                    tally[key] += 1
        return counts

    def channel_counts(self, channel_sid: str) -> Counter[ChannelKey]:
        """The workers with capacity on a TaskChannel, by (activity SID, channel available)."""
        self.counts()
        if self._channel_sids != self.engine.task_channels.keys():
            self._channels.clear()
            self._channel_sids = frozenset(self.engine.task_channels)
        found = self._channels.get(channel_sid)
        if found is None:
            held: dict[str, ChannelKey] = {}
            for sid in self.engine.workers:
                key = self._key(sid, channel_sid)
                if key is not None:
                    held[sid] = key
            found = self._channels[channel_sid] = (held, Counter(held.values()))
        return found[1]

    def _key(self, worker_sid: str, channel_sid: str) -> ChannelKey | None:
        worker = self.engine.workers.get(worker_sid)
        wc = self.engine.worker_channels.get(worker_sid, {}).get(channel_sid)
        if worker is None or wc is None or wc.configured_capacity <= 0:
            return None
        key = (worker.activity_sid, wc.available)
        return self._keys.setdefault(key, key)


def worker_figures(engine: WorkspaceEngine, worker_sids: Iterable[str] | None,
                   channel_sid: str | None, everyone: LiveWorkers | None = None
                   ) -> dict[str, Any]:
    """How many workers (all, or these) there are, how many in each activity and how many in
    an available one. ``everyone`` answers for all workers without counting them."""
    available = {sid for sid, activity in engine.activities.items() if activity.available}
    if worker_sids is None and everyone is not None:
        if channel_sid is None:
            counts = everyone.counts()
            total_available = sum(n for sid, n in counts.items() if sid in available)
        else:
            counts = Counter()
            total_available = 0
            for (activity_sid, up), n in everyone.channel_counts(channel_sid).items():
                counts[activity_sid] += n
                if up and activity_sid in available:
                    total_available += n
    else:
        workers: Collection[Worker] = (
            engine.workers.values() if worker_sids is None
            else list(map(engine.workers.__getitem__, worker_sids)))
        if channel_sid is not None:
            workers = _with_capacity(engine, workers, channel_sid)
        counts = Counter(map(_activity_of, workers))
        if channel_sid is None:
            total_available = sum(n for sid, n in counts.items() if sid in available)
        else:
            total_available = sum(
                1 for w in workers if w.activity_sid in available
                and engine.worker_channels[w.sid][channel_sid].available)
    return {
        "total_workers": sum(counts.values()),
        "total_available_workers": total_available,
        "activity_statistics": [
            {"friendly_name": a.friendly_name, "sid": a.sid, "workers": counts.get(a.sid, 0)}
            for a in engine.activities.values()
        ],
    }
