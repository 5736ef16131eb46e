"""Wait-time estimates (an extension, docs/extensions.md): when would a task waiting in a
queue, or a new one entering it, be reserved?

The model simulates the router forward from now, from the live indexes:

* **Slots.** Every worker of the queue, and of the queues that share workers with it, has
  ``configured_capacity`` slots on the task's channel (one slot in a single-tasking workspace).
  A slot held by an open reservation frees after the time it has left; other slots are free
  now. An idle worker counts if its activity is available; a busy one whatever its activity
  (it is working on the queue).
* **Handle time** is a reservation's life from its creation to its completion (offer,
  conversation and wrap-up, everything that holds the worker's capacity), learnt per queue
  from the latest completed reservations (``history.HandleTimes``).
* **Order.** The waiting tasks of those queues on that channel are taken in the order the
  router serves them (each queue's order; between queues, the one a worker in several applies,
  ``PrioritizeQueueOrder`` then the queue keys), and each is given the earliest free slot of a
  worker of its queue, which is then busy for a handle time of that queue. The wait is when
  the task in question would get its slot.
* **Chance.** Durations are drawn from the queue's own samples: a reservation held for
  ``elapsed`` so far gets a sample longer than ``elapsed``, less ``elapsed`` (the empirical
  conditional residual; past every sample it frees now), a task started in the simulation any
  sample. The simulation runs up to ``RUNS`` times (as many with few tasks ahead, where
  the wait varies most and a run costs least) and the estimate is the median wait. Using the
  expected duration of each slot instead would be biased: the first of many busy workers to
  finish does so much sooner than any one of them is expected to. The draws are seeded by the
  queue, the time and the place asked about, so the same question gets the same answer.
* **Bounded work.** Each run simulates at most ``SIMULATED`` tasks; beyond them, the queue's
  tasks still ahead are served at the rate the run showed. The cost is
  O(R x W log W + S log W) for W workers of the queues involved, R runs and S tasks
  simulated over all runs (``STEPS``, or ``MIN_RUNS x SIMULATED``), whatever the number
  waiting.

Not modelled: target expressions and ``order_by`` (which of the queue's workers a task may
have), tasks for one known worker, tasks yet to arrive with a higher priority, rejections and
timeouts. With no handle time learnt yet and no free slot for the task, there is no basis
for an estimate: None.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from switchboard.routing.lifecycle import TaskLifecycle
from switchboard.routing.model import RESERVATION_OPEN, Task

SIMULATED = 200  # tasks simulated at most per run; the rest of those ahead is extrapolated
RUNS = 51  # simulations per estimate (at most, with few tasks ahead); the estimate is their median
MIN_RUNS = 5
STEPS = 1_000  # tasks simulated over all runs, beyond MIN_RUNS runs


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
    key = lifecycle.waiting.queue_key(task.sid)
    position = lifecycle.waiting.position(task.sid)
    if key is None or position is None or task.task_queue_sid is None:
        return None  # not waiting, or waiting for one known worker: not modelled
    model = _Model(lifecycle, task.task_queue_sid, task.task_channel_sid, now)
    return model.wait(key, position - 1)


# A worker as every run starts it: its number, its open reservations (samples, first longer
# than held, how many are, ms held), its free slots, its capacity, its queues' numbers.
_Worker = tuple[int, list[tuple[list[int], int, int, int]], int, int, list[int]]


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
        # Sorted: the draws go to workers in the same order in every process (sets of
        # strings iterate in an order that changes with the hash seed).
        self.queues = sorted(queues)
        # worker sid -> (open reservations, free slots, capacity) on the channel; its queues
        self.held: dict[str, tuple[list[tuple[str | None, int]], int, int]] = {}
        self.worker_queues: dict[str, list[str]] = {}
        for q in self.queues:
            for worker_sid in sorted(members.get(q, ())):
                if worker_sid not in self.held:
                    found = self._held_of(worker_sid)
                    if found is None:
                        continue
                    self.held[worker_sid] = found
                    self.worker_queues[worker_sid] = []
                self.worker_queues[worker_sid].append(q)
        self.own = [w for w in own if w in self.held]

    def _held_of(self, worker_sid: str) -> tuple[list[tuple[str | None, int]], int, int] | None:
        """The worker's open reservations on the channel (queue, ms held so far), its free
        slots and its capacity there; None if it has no slot there."""
        lc = self.lc
        multi = lc.workspace.multi_task_enabled
        wc = lc.worker_channels.get(worker_sid, {}).get(self.channel_sid)
        if wc is None or (multi and (not wc.available or wc.configured_capacity <= 0)):
            return None
        now = self.now
        held = [(r.task_queue_sid, now - r.date_created)
                for r in lc.worker_reservations.get(worker_sid, {}).values()
                if r.reservation_status in RESERVATION_OPEN
                and (not multi or r.task_channel_sid == self.channel_sid)]
        activity = lc.activities.get(lc.workers[worker_sid].activity_sid)
        if not held and (activity is None or not activity.available):
            return None
        capacity = wc.configured_capacity if multi else 1
        return held, max(0, capacity - len(held)), capacity

    def available_workers(self) -> int:
        return sum(1 for w in self.own if self.held[w][1] and self._available(w))

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
        """ms until the task with ``key`` in the queue (``ahead`` of it there) has a slot:
        the median of ``RUNS`` simulations."""
        if not self.own:
            return None
        lifo = self.lc.task_queues[self.queue_sid].task_order == "LIFO"
        fifo_first = self.lc.workspace.prioritize_queue_order == "FIFO"
        target = (int(lifo == fifo_first), *key)
        ahead_of = list(itertools.islice(
            itertools.takewhile(lambda entry: entry[0] < target, self._ordered()), SIMULATED))
        rng = random.Random(f"{self.queue_sid}:{self.now}:{ahead}")
        # What every run draws from, prepared once, by number (workers numbered in the order
        # of their sids, which breaks ties between slots free at the same time): per worker,
        # for each open reservation, the samples longer than it has lasted (sorted samples
        # from ``first``) and how long it has lasted; per queue, its samples and its workers.
        number = {q: i for i, q in enumerate(self.queues)}
        index = {w: i for i, w in enumerate(sorted(self.held))}
        workers: list[_Worker] = []
        for worker_sid, (held, free, capacity) in self.held.items():
            tails = []
            for q, elapsed in held:
                samples = self._samples(q)
                first = bisect_right(samples, elapsed)
                tails.append((samples, first, len(samples) - first, elapsed))
            workers.append((index[worker_sid], tails, free, capacity,
                            [number[q] for q in self.worker_queues[worker_sid]]))
        durations = [self._samples(q) for q in self.queues]
        order = [number[q] for _, q in ahead_of]
        # Many tasks ahead vary less (their durations average out): fewer runs of more steps.
        runs = max(MIN_RUNS, min(RUNS, STEPS // max(1, len(ahead_of)))) | 1
        waits = sorted(self._run(workers, durations, order, number[self.queue_sid], ahead, rng)
                       for _ in range(runs))
        wait = point(waits)
        return None if math.isinf(wait) else wait

    def _run(self, workers: list[_Worker], durations: list[list[int]], order: list[int],
             mine: int, ahead: int, rng: random.Random) -> float:
        """One simulation: ms until the task (of queue number ``mine``, ``ahead`` of it
        there, the queues of the tasks before it in ``order``) has a slot."""
        now = self.now
        start_at = float(now)
        draw = rng.random
        inf = math.inf
        heappush, heapreplace = heapq.heappush, heapq.heapreplace
        slots: list[list[float]] = [[]] * len(workers)
        heaps: list[list[tuple[float, int, int]]] = [[] for _ in durations]
        queues_of: list[list[int]] = [[]] * len(workers)
        for w, tails, free, capacity, queues in workers:
            frees = [start_at] * free
            for samples, first, longer, elapsed in tails:
                if not samples:
                    frees.append(inf)  # nothing learnt: no basis
                elif not longer:
                    frees.append(start_at)  # outlasted every sample: due now
                else:
                    frees.append(now + samples[first + int(draw() * longer)] - elapsed)
            if tails:
                frees.sort()
                del frees[:-capacity]
            slots[w] = frees
            queues_of[w] = queues
            entry = (frees[0], 0, w)
            for q in queues:
                heaps[q].append(entry)
        for heap in heaps:
            heapq.heapify(heap)
        version = [0] * len(workers)

        def earliest(q: int) -> tuple[float, int] | None:
            heap = heaps[q]
            while heap:
                free_at, v, w = heap[0]
                if v == version[w]:
                    return free_at, w
                heapq.heappop(heap)
            return None

        served = 0  # of this queue, before the task
        last = start_at
        for q in order:
            slot = earliest(q)
            if slot is None:
                continue  # nobody here serves that queue
            free_at, w = slot
            start = free_at if free_at > start_at else start_at
            samples = durations[q]
            frees = slots[w]
            heapreplace(frees, start + samples[int(draw() * len(samples))] if samples else inf)
            v = version[w] = version[w] + 1
            entry = (frees[0], v, w)
            for wq in queues_of[w]:
                heappush(heaps[wq], entry)
            if q == mine:
                served += 1
                last = start
        slot = earliest(mine)
        if slot is None:
            return inf
        left = ahead - served
        if left <= 0:
            return max(slot[0], now) - now
        # The run stopped early: the rest at the rate it served this queue.
        if served and last > now:
            return (last - now) * (1 + left / served)
        mean = self.lc.handle_times.mean(self.queue_sid)
        if mean is None:
            return inf
        return max(slot[0], now) - now + left * mean / len(self.own)

    def _samples(self, queue_sid: str | None) -> list[int]:
        """The queue's handle times, else those of the queue estimated for."""
        times = self.lc.handle_times
        return (times.sorted(queue_sid) if queue_sid else []) or times.sorted(self.queue_sid)


def point(waits: list[float]) -> float:
    """The estimate from the simulated waits (sorted): their median. (The minimiser of the
    mean relative error, a median weighted by 1 / wait, is lower; it measured worse on the
    benchmark's waits of 30 s or more, and says little when some runs find a slot now.)"""
    return waits[len(waits) // 2]


def _ranked(entries: Iterable[tuple[Any, ...]], kind: int, queue_sid: str
            ) -> Iterator[tuple[tuple[Any, ...], str]]:
    """A queue's keys as ranks comparable across queues (``best_task_for``'s)."""
    for key in entries:
        yield (kind, *key), queue_sid
