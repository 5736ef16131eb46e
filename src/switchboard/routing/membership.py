"""Queue membership: which workers a task queue's ``TargetWorkers`` expression matches.

Kept current incrementally, never recomputed by scanning on a routing decision: one worker is
re-evaluated against every queue when it changes (attributes, name, channels), only against
the queues whose expression names ``activity_sid``/``activity_name`` when its activity changes,
and one queue against every worker when its expression changes. An empty ``TargetWorkers``
matches nobody: the queue's tasks wait until they are moved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from switchboard.routing.expressions import Expression
from switchboard.routing.model import TaskQueue, Worker
from switchboard.routing.views import ACTIVITY_FIELDS, WorkerView

# A worker as queue membership is evaluated against it: its SID and view.
Candidate = tuple[str, WorkerView]


class QueueMembership:
    """``members[queue]`` and ``worker_queues[worker]``, the same relation both ways."""

    def __init__(self, workers: dict[str, Worker], task_queues: dict[str, TaskQueue],
                 worker_view: Callable[[Worker], WorkerView]) -> None:
        self.workers = workers
        self.task_queues = task_queues
        self.worker_view = worker_view
        self.members: dict[str, set[str]] = {}
        self.worker_queues: dict[str, set[str]] = {}
        self._activity_queues: dict[str, TaskQueue] = {}  # queues whose members follow activity

    def index_queue(self, queue: TaskQueue, workers: list[Candidate] | None = None) -> set[str]:
        """(Re)compute one queue's members: one evaluation per worker. Returns who changed.

        ``workers``: ``self.candidates()``, when many queues are indexed in a row (at load)."""
        target = queue.target
        if target is not None and target.roots & ACTIVITY_FIELDS:
            self._activity_queues[queue.sid] = queue
        else:
            self._activity_queues.pop(queue.sid, None)
        old = self.members.get(queue.sid, set())
        if target is None or not queue.target_workers.strip():
            new = set()  # an empty TargetWorkers matches nobody
        elif target.always_true:
            new = set(self.workers)
        else:
            evaluate = target.evaluate
            if workers is None:
                workers = self.candidates()
            new = {sid for sid, view in workers if evaluate(view)}
        for worker_sid in old - new:
            self.worker_queues[worker_sid].discard(queue.sid)
        for worker_sid in new - old:
            self.worker_queues[worker_sid].add(queue.sid)
        self.members[queue.sid] = new
        return old ^ new

    def remove_queue(self, queue_sid: str) -> set[str]:
        """A queue is deleted: returns its members, who are in it no more."""
        members = self.members.pop(queue_sid)
        for worker_sid in members:
            self.worker_queues[worker_sid].discard(queue_sid)
        self._activity_queues.pop(queue_sid, None)
        return members

    def candidates(self) -> list[Candidate]:
        return [(sid, self.worker_view(w)) for sid, w in self.workers.items()]

    def add_worker(self, worker_sid: str) -> None:
        """A new worker, in no queue until evaluated (``reindex_worker``, ``index_queue``)."""
        self.worker_queues[worker_sid] = set()

    def reindex_worker(self, worker: Worker, activity_only: bool = False) -> None:
        """(Re)compute one worker's queues; after an activity change, only the queues whose
        TargetWorkers name the activity can change."""
        queues = self._activity_queues if activity_only else self.task_queues
        for queue in queues.values():
            members = self.members[queue.sid]
            if self.is_member(queue, worker):
                members.add(worker.sid)
                self.worker_queues[worker.sid].add(queue.sid)
            else:
                members.discard(worker.sid)
                self.worker_queues[worker.sid].discard(queue.sid)

    def remove_worker(self, worker_sid: str) -> None:
        for queue_sid in self.worker_queues.pop(worker_sid):
            self.members[queue_sid].discard(worker_sid)

    def is_member(self, queue: TaskQueue, worker: Worker) -> bool:
        target = queue.target
        if target is None or not queue.target_workers.strip():
            return False  # an empty TargetWorkers matches nobody: tasks wait until moved
        return target.always_true or target.evaluate(self.worker_view(worker))

    def workers_matching(self, expression: Expression) -> Iterator[Worker]:
        for worker in self.workers.values():
            if expression.always_true or expression.evaluate(self.worker_view(worker)):
                yield worker

    def queues_for_attributes(self, attributes: dict[str, Any]) -> Iterator[TaskQueue]:
        """Queues a worker with these attributes would belong to (EvaluateWorkerAttributes)."""
        for queue in self.task_queues.values():
            target = queue.target
            if target is not None and queue.target_workers.strip() and (
                target.always_true or target.evaluate(attributes)
            ):
                yield queue
