"""Wait-time estimates (an extension, docs/extensions.md): when would a task waiting in a
queue, or a new one entering it, be reserved?

The model simulates the router forward from now, from the live indexes:

* **Slots.** Every worker of the queue, and of the queues that share workers with it, has
  ``configured_capacity`` slots on the task's channel (one slot in a single-tasking workspace).
  A slot held by an open reservation frees at the reservation's start plus its expected
  remaining time: the mean, over the latest handle times of the reservation's queue, of
  ``d - elapsed`` for the samples ``d`` longer than what it has lasted so far (a reservation
  outlasting every sample frees now). Other slots are free now. An idle worker counts if its
  activity is available; a busy one whatever its activity (it is working on the queue).
* **Handle time** is a reservation's life from its creation to its completion (offer,
  conversation and wrap-up, everything that holds the worker's capacity), learnt per queue
  from the latest completed reservations (``history.HandleTimes``).
* **Order.** The waiting tasks of those queues on that channel are taken in the order the
  router serves them (each queue's order; between queues, the one a worker in several applies,
  ``PrioritizeQueueOrder`` then the queue keys), and each is given the earliest free slot of a
  worker of its queue, which is then busy for that queue's mean handle time. The estimate is
  when the task in question would get its slot.
* **Bounded work.** At most ``SIMULATED`` tasks are simulated; beyond them, the queue's tasks
  still ahead are served at the rate the simulation showed. The cost is O(W + N log W) for W
  workers of the queues involved and N simulated tasks, whatever the number waiting.

Not modelled: target expressions and ``order_by`` (which of the queue's workers a task may
have), tasks for one known worker, tasks yet to arrive with a higher priority, rejections and
timeouts. With no handle time learnt yet and no free slot for the task, there is no basis
for an estimate: None.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from switchboard.routing.lifecycle import TaskLifecycle
from switchboard.routing.model import RESERVATION_OPEN, Task

SIMULATED = 500  # tasks simulated at most; the rest of those ahead is extrapolated


@dataclass(frozen=True)
class QueueEstimate:
    """What a new task entering a queue on a channel would face."""

    waiting_tasks: int  # waiting unreserved in the queue on the channel
    available_workers: int  # workers of the queue with room on the channel now
    tasks_ahead: int  # of the queue, that the router would serve before the new task
    wait_ms: float | None  # None: no basis


def for_new_task(lifecycle: TaskLifecycle, queue_sid: str, channel_sid: str, priority: int,
                 now: int) -> QueueEstimate:
    """A task created now in ``queue_sid`` on ``channel_sid`` with ``priority``."""
    queue = lifecycle.task_queues[queue_sid]
    seq = lifecycle.task_seq + 1
    # The key the new task would have: after every task already there of its priority.
    key: tuple[Any, ...] = ((-now, -seq, "") if queue.task_order == "LIFO"
                            else (-priority, now, seq, ""))
    entries = lifecycle.waiting.pending.get((queue_sid, channel_sid))
    ahead = int(entries.bisect_left(key)) if entries else 0
    model = _Model(lifecycle, queue_sid, channel_sid, now)
    return QueueEstimate(len(entries) if entries else 0, model.available_workers(), ahead,
                         model.wait(key, ahead))


def for_task(lifecycle: TaskLifecycle, task: Task, now: int) -> float | None:
    """A task waiting in its queue: ms until it would be reserved, or None."""
    position = lifecycle.waiting.position(task.sid)
    if position is None or task.task_queue_sid is None:
        return None
    entries = lifecycle.waiting.pending.get((task.task_queue_sid, task.task_channel_sid))
    if entries is None:
        return None  # waiting for one known worker: not modelled
    key = entries[position - 1]
    model = _Model(lifecycle, task.task_queue_sid, task.task_channel_sid, now)
    return model.wait(key, position - 1)


class _Model:
    """The workers and slots of one estimate (see the module's docstring)."""

    def __init__(self, lifecycle: TaskLifecycle, queue_sid: str, channel_sid: str,
                 now: int) -> None:
        self.lc = lifecycle
        self.queue_sid = queue_sid
        self.channel_sid = channel_sid
        self.now = now
        members = lifecycle.membership.members
        own = members.get(queue_sid, set())
        queues = {queue_sid}
        for worker_sid in own:
            queues.update(lifecycle.membership.worker_queues.get(worker_sid, ()))
        self.queues = queues
        # worker sid -> the free times of its slots on the channel (ms), and its queues here
        self.slots: dict[str, list[float]] = {}
        self.worker_queues: dict[str, list[str]] = {}
        for q in queues:
            for worker_sid in members.get(q, ()):
                if worker_sid not in self.slots:
                    found = self._slots_of(worker_sid)
                    if found is None:
                        continue
                    self.slots[worker_sid] = found
                    self.worker_queues[worker_sid] = []
                self.worker_queues[worker_sid].append(q)
        self.own = [w for w in own if w in self.slots]

    def _slots_of(self, worker_sid: str) -> list[float] | None:
        """When each of the worker's slots on the channel frees, or None if it has none."""
        lc = self.lc
        channels = lc.worker_channels.get(worker_sid, {})
        multi = lc.workspace.multi_task_enabled
        wc = channels.get(self.channel_sid)
        if wc is None or (multi and (not wc.available or wc.configured_capacity <= 0)):
            return None
        held = [r for r in lc.worker_reservations.get(worker_sid, {}).values()
                if r.reservation_status in RESERVATION_OPEN
                and (not multi or r.task_channel_sid == self.channel_sid)]
        activity = lc.activities.get(lc.workers[worker_sid].activity_sid)
        if not held and (activity is None or not activity.available):
            return None
        capacity = wc.configured_capacity if multi else 1
        now = self.now
        frees = [now + self._left(r.task_queue_sid, now - r.date_created) for r in held]
        frees += [now] * max(0, capacity - len(frees))
        frees.sort()
        return frees[-max(capacity, 1):]  # over capacity (IgnoreCapacity): the last to free

    def _left(self, queue_sid: str | None, elapsed: int) -> float:
        times = self.lc.handle_times
        left = times.residual(queue_sid, elapsed) if queue_sid else None
        if left is None:
            mean = self._mean(queue_sid)
            left = max(0.0, mean - elapsed) if mean is not None else math.inf
        return left

    def _mean(self, queue_sid: str | None) -> float | None:
        """The queue's mean handle time, else this queue's, else the workspace's latest."""
        times = self.lc.handle_times
        for q in (queue_sid, self.queue_sid):
            if q is not None and (mean := times.mean(q)) is not None:
                return mean
        return None

    def available_workers(self) -> int:
        now = self.now
        return sum(1 for w in self.own if self.slots[w][0] <= now
                   and self._available(w))

    def _available(self, worker_sid: str) -> bool:
        lc = self.lc
        activity = lc.activities.get(lc.workers[worker_sid].activity_sid)
        return activity is not None and activity.available

    def _ordered(self) -> Iterator[tuple[tuple[Any, ...], str]]:
        """The waiting tasks of the queues involved on the channel, in the router's order."""
        fifo_first = self.lc.workspace.prioritize_queue_order == "FIFO"
        pending = self.lc.waiting.pending
        streams = []
        for q in self.queues:
            entries = pending.get((q, self.channel_sid))
            if not entries:
                continue
            kind = int((self.lc.task_queues[q].task_order == "LIFO") == fifo_first)
            streams.append(_ranked(entries, kind, q))
        return heapq.merge(*streams)

    def wait(self, key: tuple[Any, ...], ahead: int) -> float | None:
        """ms until the task with ``key`` in the queue (``ahead`` of it there) has a slot."""
        if not self.own:
            return None
        now = self.now
        lifo = self.lc.task_queues[self.queue_sid].task_order == "LIFO"
        fifo_first = self.lc.workspace.prioritize_queue_order == "FIFO"
        target = (int(lifo == fifo_first), *key)
        version: dict[str, int] = dict.fromkeys(self.slots, 0)
        heaps: dict[str, list[tuple[float, int, str]]] = {q: [] for q in self.queues}
        for worker_sid, queues in self.worker_queues.items():
            for q in queues:
                heaps[q].append((self.slots[worker_sid][0], 0, worker_sid))
        for heap in heaps.values():
            heapq.heapify(heap)

        def earliest(q: str) -> tuple[float, str] | None:
            heap = heaps[q]
            while heap:
                free, v, worker_sid = heap[0]
                if v == version[worker_sid]:
                    return free, worker_sid
                heapq.heappop(heap)
            return None

        served = 0  # of this queue, before the task
        last = float(now)
        for rank, q in itertools.islice(self._ordered(), SIMULATED):
            if rank >= target:
                break
            slot = earliest(q)
            if slot is None:
                continue  # nobody here serves that queue
            free, worker_sid = slot
            start = max(free, now)
            mean = self._mean(q)
            slots = self.slots[worker_sid]
            heapq.heapreplace(slots, start + (mean if mean is not None else math.inf))
            version[worker_sid] += 1
            for wq in self.worker_queues[worker_sid]:
                heapq.heappush(heaps[wq], (slots[0], version[worker_sid], worker_sid))
            if q == self.queue_sid:
                served += 1
                last = start
        slot = earliest(self.queue_sid)
        if slot is None:
            return None
        left = ahead - served
        if left <= 0:
            wait = max(slot[0], now) - now
        else:  # the simulation stopped early: the rest at the rate it served this queue
            mean = self._mean(self.queue_sid)
            if served and last > now:
                wait = (last - now) * (1 + left / served)
            elif mean is not None:
                wait = max(slot[0], now) - now + left * mean / max(1, len(self.own))
            else:
                return None
        return None if math.isinf(wait) else wait


def _ranked(entries: Iterable[tuple[Any, ...]], kind: int, queue_sid: str
            ) -> Iterator[tuple[tuple[Any, ...], str]]:
    """A queue's keys as ranks comparable across queues (``best_task_for``'s)."""
    for key in entries:
        yield (kind, *key), queue_sid
