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
  queue, the channel and the time, so the same question gets the same answer.
* **One simulation per queue and state.** A run serves every place in the queue: it records
  the wait a task would have at each place of the router's order as it goes, so the runs of a
  queue answer for all its waiting tasks and for a new one, with the same draws (in each run
  the waits rise along the queue; tasks in a row are not told waits from different rolls of
  the dice). They are kept
  (``Estimates``) until the clock moves or the state changes, and a run resumes when a place
  deeper than it went is asked about: the 50 positions a console asks for at once cost a few
  estimates, not fifty, and give what 50 fresh ones would.
* **Bounded work.** Each run simulates at most ``SIMULATED`` tasks; beyond them, the queue's
  tasks still ahead are served at the rate the run showed. The cost is
  O(R x W log W + S log W) for W workers of the queues involved, R runs and S tasks
  simulated over all runs (``STEPS``, or ``MIN_RUNS x SIMULATED``, for one place; about three
  times that for every place of a long queue), whatever the number waiting.

Not modelled: target expressions and ``order_by`` (which of the queue's workers a task may
have), tasks for one known worker, tasks yet to arrive with a higher priority, rejections and
timeouts. With no handle time learnt yet and no free slot for the task, there is no basis
for an estimate: None.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from switchboard.routing.changes import ChangeRecorder
from switchboard.routing.lifecycle import TaskLifecycle
from switchboard.routing.model import RESERVATION_OPEN, Task

SIMULATED = 200  # tasks simulated at most per run; the rest of those ahead is extrapolated
RUNS = 51  # simulations per estimate (at most, with few tasks ahead)
MIN_RUNS = 5
STEPS = 1_000  # tasks simulated over all runs, beyond MIN_RUNS runs


@dataclass(frozen=True)
class QueueEstimate:
    """What a new task entering a queue on a channel would face."""

    waiting_tasks: int  # waiting unreserved in the queue on the channel
    available_workers: int  # workers of the queue with room on the channel now
    tasks_ahead: int  # of the queue, that the router would serve before the new task
    wait_ms: float | None  # None: no basis


class Estimates:
    """A workspace's estimates. The simulation of a queue and channel answers for every place
    in it (a waiting task's, a new one's) and is kept while the state it started from holds:
    until the clock moves or anything is changed (the change recorder's count, which every
    command that touches a worker, task, reservation, queue or the workspace moves) or a
    handle time is learnt. A kept simulation gives exactly what a fresh one would."""

    def __init__(self, lifecycle: TaskLifecycle, changes: ChangeRecorder) -> None:
        self.lc = lifecycle
        self.changes = changes
        self._state: tuple[int, int, int] | None = None
        self._simulations: dict[tuple[str, str], _Simulation] = {}

    def simulation(self, queue_sid: str, channel_sid: str, now: int) -> _Simulation:
        state = (self.changes.version, self.lc.handle_times.version, now)
        if state != self._state:
            self._state = state
            self._simulations.clear()
        simulation = self._simulations.get((queue_sid, channel_sid))
        if simulation is None:
            simulation = _Simulation(self.lc, queue_sid, channel_sid, now)
            self._simulations[queue_sid, channel_sid] = simulation
        return simulation

    def for_new_task(self, queue_sid: str, channel_sid: str, priority: int,
                     now: int) -> QueueEstimate:
        """A task created now in ``queue_sid`` on ``channel_sid`` with ``priority``."""
        lc = self.lc
        seq = lc.task_seq + 1
        # The key the new task would have: after every task already there of its priority.
        key: tuple[Any, ...] = ((-now, -seq, "") if lc.task_queues[queue_sid].task_order == "LIFO"
                                else (-priority, now, seq, ""))
        entries = lc.waiting.pending.get((queue_sid, channel_sid))
        ahead = int(entries.bisect_left(key)) if entries else 0
        simulation = self.simulation(queue_sid, channel_sid, now)
        return QueueEstimate(len(entries) if entries else 0, simulation.available_workers(),
                             ahead, simulation.wait(key, ahead))

    def for_task(self, task: Task, now: int) -> float | None:
        """A task waiting in its queue: ms until it would be reserved, or None."""
        waiting = self.lc.waiting
        key = waiting.queue_key(task.sid)
        position = waiting.position(task.sid)
        if key is None or position is None or task.task_queue_sid is None:
            return None  # not waiting, or waiting for one known worker: not modelled
        simulation = self.simulation(task.task_queue_sid, task.task_channel_sid, now)
        return simulation.wait(key, position - 1)


def runs_at(depth: int) -> int:
    """Runs for a place with ``depth`` tasks simulated before it: many tasks ahead vary less
    (their durations average out), so fewer runs of more steps. Odd: a median is a run's."""
    return max(MIN_RUNS, min(RUNS, STEPS // max(1, depth))) | 1


@cache
def _depths(simulated: int, runs: int, min_runs: int, steps: int) -> tuple[int, ...]:
    """The deepest place each run can be asked about (run ``j`` serves the places whose
    ``runs_at`` exceeds ``j``): how many draws it may need."""
    del runs, min_runs, steps  # the key: runs_at reads them
    return tuple(max((d for d in range(simulated + 1) if runs_at(d) > j), default=0)
                 for j in range(runs_at(0)))


# A worker as every run starts it: its number, its open reservations (samples, first longer
# than held, how many are, ms held), its free slots, its capacity, its queues' numbers.
_Worker = tuple[int, list[tuple[list[int], int, int, int]], int, int, list[int]]
# A run under way: resumed, it goes on to the place asked.
_Run = Generator[None, None, None]


class _Simulation:
    """The workers and slots of one queue and channel at one time, and the runs simulated
    from them so far (see the module's docstring).

    Run ``j`` records the wait a task of the queue would have at each place of the router's
    order (before the task there is served), as deep as it has been asked; it resumes when a
    deeper place is asked about. Its draws are its own, taken from the simulation's seeded
    generator when the run starts (runs start in order, as every estimate uses the first
    ones), so what a run says of a place is the same however many places were asked before.
    """

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
        # The router's order over the queues involved, read as far as asked (SIMULATED at
        # most): ranks comparable across queues, and each one's queue number.
        self._stream = self._ordered()
        self.ranks: list[tuple[Any, ...]] = []
        self.order: list[int] = []
        self.entries = sum(len(lifecycle.waiting.pending.get((q, channel_sid), ()))
                           for q in self.queues)
        # Per run: the run, its slot for this queue at each place so far, and its tail.
        self._runs: list[tuple[_Run, list[tuple[float, int] | None], list[float]]] = []
        self.asked = 0  # the place the runs are resumed to reach
        self._prepared: tuple[list[_Worker], list[list[int]], int, int] | None = None
        self._rng: random.Random | None = None

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

    def _ordered(self) -> Iterator[tuple[tuple[Any, ...], int]]:
        """The waiting tasks of the queues involved on the channel, in the router's order."""
        fifo_first = self.lc.workspace.prioritize_queue_order == "FIFO"
        pending = self.lc.waiting.pending
        streams = []
        for number, q in enumerate(self.queues):
            entries = pending.get((q, self.channel_sid))
            if not entries:
                continue
            kind = int((self.lc.task_queues[q].task_order == "LIFO") == fifo_first)
            streams.append(_ranked(entries, kind, number))
        return heapq.merge(*streams)

    def _place(self, target: tuple[Any, ...]) -> int:
        """How many tasks of the router's order come before ``target`` (SIMULATED at most)."""
        ranks = self.ranks
        while len(ranks) < SIMULATED and (not ranks or ranks[-1] < target):
            entry = next(self._stream, None)
            if entry is None:
                break
            ranks.append(entry[0])
            self.order.append(entry[1])
        return bisect_left(ranks, target)

    def wait(self, key: tuple[Any, ...], ahead: int) -> float | None:
        """ms until a task with ``key`` in the queue (``ahead`` of it there) has a slot: the
        point estimate of ``runs_at`` runs (``point``)."""
        if not self.own:
            return None
        lifo = self.lc.task_queues[self.queue_sid].task_order == "LIFO"
        fifo_first = self.lc.workspace.prioritize_queue_order == "FIFO"
        depth = self._place((int(lifo == fifo_first), *key))
        runs = self._runs
        count = runs_at(depth)
        while len(runs) < count:
            runs.append(self._start(len(runs)))
        now = self.now
        self.asked = depth
        waits = []
        for run, places, tail in runs[:count]:
            if len(places) <= depth:
                next(run, None)  # on to ``asked`` (None: it went as deep as it ever will)
            slot = places[depth]
            at = math.inf if slot is None else slot[0] - now if slot[0] > now else 0.0
            if depth == SIMULATED and ahead > tail[0] and not math.isinf(at):
                at = self._extrapolated(at, ahead - int(tail[0]), *tail)
            waits.append(at)
        waits.sort()
        wait = point(waits)
        return None if math.isinf(wait) else wait

    def _extrapolated(self, at: float, left: int, served: float, last: float) -> float:
        """A run stopped at SIMULATED tasks with ``left`` of this queue still ahead: the rest
        at the rate it served this queue (``served`` of them, the last after ``last`` ms)."""
        if served and last > 0:
            return last * (1 + left / served)
        mean = self.lc.handle_times.mean(self.queue_sid)
        if mean is None:
            return math.inf
        return at + left * mean / len(self.own)

    def _prepare(self) -> tuple[list[_Worker], list[list[int]], int, int]:
        """What every run starts from, by number (workers numbered in the order of their
        sids, which breaks ties between slots free at the same time): per worker, for each
        open reservation, the samples longer than it has lasted (sorted samples from
        ``first``) and how long it has lasted; per queue, its samples; this queue's number;
        the draws a run makes before its first task."""
        number = {q: i for i, q in enumerate(self.queues)}
        index = {w: i for i, w in enumerate(sorted(self.held))}
        workers: list[_Worker] = []
        first_draws = 0
        for worker_sid, (held, free, capacity) in self.held.items():
            tails = []
            for q, elapsed in held:
                samples = self._samples(q)
                first = bisect_right(samples, elapsed)
                tails.append((samples, first, len(samples) - first, elapsed))
                first_draws += len(samples) > first
            workers.append((index[worker_sid], tails, free, capacity,
                            [number[q] for q in self.worker_queues[worker_sid]]))
        durations = [self._samples(q) for q in self.queues]
        return workers, durations, number[self.queue_sid], first_draws

    def _start(self, j: int) -> tuple[_Run, list[tuple[float, int] | None], list[float]]:
        """Run ``j``, with every draw it may make taken now (see the class's docstring)."""
        if self._prepared is None:
            self._prepared = self._prepare()
            # Seeded by the question's queue, channel and time: the same answer every time.
            self._rng = random.Random(f"{self.queue_sid}:{self.channel_sid}:{self.now}")
        assert self._rng is not None
        workers, durations, mine, first_draws = self._prepared
        steps = min(_depths(SIMULATED, RUNS, MIN_RUNS, STEPS)[j], self.entries)
        draw = self._rng.random
        draws = [draw() for _ in range(first_draws + steps)]
        places: list[tuple[float, int] | None] = []
        tail: list[float] = []  # at SIMULATED tasks: this queue's served, the last one's wait
        return self._run(workers, durations, mine, draws, steps, places, tail), places, tail

    def _run(self, workers: list[_Worker], durations: list[list[int]], mine: int,
             draws: list[float], steps: int, places: list[tuple[float, int] | None],
             tail: list[float]) -> _Run:
        """One simulation, a task at a time: appends to ``places`` the slot (free at, worker)
        a task of the queue (number ``mine``) placed next would have, then serves the next
        task of the router's order (``self.order``) and so on, until ``places`` reaches the
        place asked (``self.asked``); then pauses. It ends after ``steps`` tasks, freeing what
        it holds."""
        now = self.now
        start_at = float(now)
        draw = iter(draws).__next__
        inf = math.inf
        heappush, heapreplace = heapq.heappush, heapq.heapreplace
        slots: list[list[float]] = [[]] * len(workers)
        heaps: list[list[tuple[float, int, int]]] = [[] for _ in durations]
        queues_of: list[list[int]] = [[]] * len(workers)
        serves_mine = [False] * len(workers)
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
            serves_mine[w] = mine in queues
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

        order = self.order
        served = 0  # of this queue
        last = 0.0  # the wait of the last of them
        step = 0
        depth = self.asked
        mine_slot = earliest(mine)  # changes only when a worker of this queue takes a task
        record = places.append
        while True:
            record(mine_slot)
            if step >= depth:  # never beyond steps
                if step == steps:
                    if step == SIMULATED:
                        tail.extend((served, last))
                    return
                yield
                depth = self.asked
            q = order[step]
            step += 1
            slot = mine_slot if q == mine else earliest(q)
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
            if serves_mine[w]:
                mine_slot = earliest(mine)
            if q == mine:
                served += 1
                last = start - start_at

    def _samples(self, queue_sid: str | None) -> list[int]:
        """The queue's handle times, else those of the queue estimated for."""
        times = self.lc.handle_times
        return (times.sorted(queue_sid) if queue_sid else []) or times.sorted(self.queue_sid)


def point(waits: list[float]) -> float:
    """The estimate from the simulated waits (sorted): their median. (The minimiser of the
    mean relative error, a median weighted by 1 / wait, is lower; it measured worse on the
    benchmark's waits of 30 s or more, and says little when some runs find a slot now.)"""
    return waits[len(waits) // 2]


def _ranked(entries: Iterable[tuple[Any, ...]], kind: int, number: int
            ) -> Iterator[tuple[tuple[Any, ...], int]]:
    """A queue's keys as ranks comparable across queues (``best_task_for``'s)."""
    for key in entries:
        yield (kind, *key), number
