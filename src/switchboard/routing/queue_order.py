"""The order of waiting tasks, per queue and channel, and the best task for a free worker.

Queue order: FIFO queues by priority (high first), then virtual start time, then creation;
LIFO queues by virtual start time, newest first, ignoring priority. A worker in both kinds of
queue drains the kind named by the workspace's ``PrioritizeQueueOrder`` first. A task for one
known worker waits in that worker's own list, in FIFO order.

``pending[(queue, channel)]`` answers "a worker became free: which task does it take?" from an
index, for each of the worker's queues, rather than by scanning waiting tasks.
"""

from __future__ import annotations

from typing import Any

from sortedcontainers import SortedList

from switchboard.routing.model import Task, Worker
from switchboard.routing.resources import Resources
from switchboard.routing.selection import Eligibility
from switchboard.routing.workflows import (
    ignores_capacity,
    is_for_one_worker,
    known_worker,
    target_matches,
)


def fifo_key(task: Task) -> tuple[Any, ...]:
    return (-task.priority, task.virtual_start_time, task.seq, task.sid)


def lifo_key(task: Task) -> tuple[Any, ...]:
    return (-task.virtual_start_time, -task.seq, task.sid)


def _sorted(index: dict[Any, SortedList], slot: Any) -> SortedList:
    entries = index.get(slot)
    if entries is None:  # not setdefault: building an unused SortedList each time is costly
        entries = index[slot] = SortedList()
    return entries


class WaitingTasks:
    """Tasks waiting unreserved, by (queue, channel) or by the one worker they are for."""

    def __init__(self, tasks: dict[str, Task], resources: Resources,
                 eligibility: Eligibility) -> None:
        self.tasks = tasks
        self.workspace = resources.workspace
        self.workers = resources.workers
        self.worker_by_name = resources.worker_by_name
        self.task_queues = resources.task_queues
        self.eligibility = eligibility
        self.pending: dict[tuple[str, str], SortedList] = {}
        self.known: dict[str, SortedList] = {}
        # task sid -> (worker sid or (queue, channel), key): where the task waits
        self._task_slot: dict[str, tuple[Any, tuple[Any, ...]]] = {}

    def add(self, task: Task) -> None:
        """Put a waiting, unreserved task in the index it waits in."""
        if task.sid in self._task_slot:
            return
        if is_for_one_worker(task):
            worker = known_worker(task, self.workers, self.worker_by_name)
            if worker is None:
                return  # nobody can take it: it waits for its step timeout or TTL
            key = fifo_key(task)
            _sorted(self.known, worker.sid).add(key)
            self._task_slot[task.sid] = (worker.sid, key)
            return
        if task.task_queue_sid is None:
            return
        queue = self.task_queues[task.task_queue_sid]
        key = lifo_key(task) if queue.task_order == "LIFO" else fifo_key(task)
        slot = (task.task_queue_sid, task.task_channel_sid)
        _sorted(self.pending, slot).add(key)
        self._task_slot[task.sid] = (slot, key)

    def discard(self, task: Task) -> None:
        """Take a task out of its index (it is reserved, moves on or ends)."""
        entry = self._task_slot.pop(task.sid, None)
        if entry is None:
            return
        slot, key = entry
        index: dict[Any, SortedList] = self.known if isinstance(slot, str) else self.pending
        entries = index[slot]
        entries.remove(key)
        if not entries:
            del index[slot]

    def position(self, task_sid: str) -> int | None:
        """A waiting task's place, from 1, in the order its queue and channel (or the one
        worker it waits for) are served; None when it is not waiting. An extension
        (docs/extensions.md): O(log n), the rank of its key in the sorted index."""
        entry = self._task_slot.get(task_sid)
        if entry is None:
            return None
        slot, key = entry
        index: dict[Any, SortedList] = self.known if isinstance(slot, str) else self.pending
        return int(index[slot].index(key)) + 1

    def queue_key(self, task_sid: str) -> tuple[Any, ...] | None:
        """A task's key in its queue's order; None unless it waits in a queue (not waiting,
        or waiting for one known worker)."""
        entry = self._task_slot.get(task_sid)
        return None if entry is None or isinstance(entry[0], str) else entry[1]

    def reorder_queue(self, queue_sid: str) -> None:
        """The queue's task order changed: re-key its waiting tasks in the new order."""
        for slot in [slot for slot in self.pending if slot[0] == queue_sid]:
            for key in list(self.pending[slot]):
                task = self.tasks[key[-1]]
                self.discard(task)
                self.add(task)

    def forget_worker(self, worker_sid: str) -> None:
        """A worker is deleted: the tasks waiting for it alone wait for nobody now."""
        for key in list(self.known.pop(worker_sid, ())):
            self._task_slot.pop(key[-1], None)

    def best_task_for(self, worker: Worker, now: int) -> Task | None:
        """The first task in queue order, over the worker's queues and free channels and the
        tasks waiting for it alone, that the worker can take now."""
        eligibility = self.eligibility
        channels = eligibility.free_channels(worker)
        if not channels:
            return None
        fifo_first = self.workspace.prioritize_queue_order == "FIFO"
        worker_view = eligibility.worker_view
        best: tuple[tuple[Any, ...], Task] | None = None  # (rank, task)
        for queue_sid in eligibility.worker_queues.get(worker.sid, ()):
            lifo = self.task_queues[queue_sid].task_order == "LIFO"
            for channel_sid in channels:
                entries = self.pending.get((queue_sid, channel_sid))
                if not entries:
                    continue
                for key in entries:
                    task = self.tasks[key[-1]]
                    if task.target is not None and task.target.expression is not None and not (
                            target_matches(task, task.target, worker, now, worker_view)):
                        continue
                    if eligibility.holds(worker, task):
                        continue
                    rank = (int(lifo == fifo_first), *key)  # the prioritized kind first
                    if best is None or rank < best[0]:
                        best = (rank, task)
                    break
        for key in self.known.get(worker.sid, ()):
            task = self.tasks[key[-1]]
            if ignores_capacity(task) or (task.task_channel_sid in channels
                                        and eligibility.fits(task, worker, now)):
                rank = (int(not fifo_first), *key)
                if best is None or rank < best[0]:
                    best = (rank, task)
                break
        return best[1] if best else None
