"""Queue membership: which workers a task queue's ``TargetWorkers`` expression matches.

Kept current incrementally, never recomputed by scanning on a routing decision: one worker is
re-evaluated against every queue when it changes (attributes, name, channels), only against
the queues whose expression names ``activity_sid``/``activity_name`` when its activity changes,
and one queue against every worker when its expression changes. An empty ``TargetWorkers``
matches nobody: the queue's tasks wait until they are moved.

Neither evaluates every pair of worker and queue. Each expression carries a guard (index keys one
of which a worker must have for it to hold, ``Expression.guard``): a worker is evaluated only
against the queues whose guard names one of its keys (and the few queues without a guard), and
when a workspace is loaded each queue is evaluated only on the workers an inverted index of
their keys gives for its guard (``WorkerIndex``). The guard only rules out workers the
expression is false for, so membership is exactly what evaluating every pair gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from switchboard.routing.expressions import Expression, IndexKey, index_keys
from switchboard.routing.model import TaskQueue, Worker
from switchboard.routing.views import ACTIVITY_FIELDS, WORKER_FIELDS, WorkerView

# A worker as queue membership is evaluated against it: its SID and view.
Candidate = tuple[str, WorkerView]
# Worker fields indexed by value; ``channel`` (capacities that change with every task) is not,
# so a guard naming it is not used.
INDEXED_FIELDS = ("sid", "friendly_name", "activity_sid", "activity_name")


def worker_keys(worker: Worker, view: WorkerView) -> set[IndexKey]:
    """The index keys of a worker as expressions see it (fields before attributes)."""
    keys: set[IndexKey] = set()
    attributes = worker.parsed_attributes
    if isinstance(attributes, dict):
        for name, value in attributes.items():
            if name not in WORKER_FIELDS:
                index_keys(name, value, keys)
    for name in INDEXED_FIELDS:
        index_keys(name, view[name], keys)
    return keys


def usable_guard(queue: TaskQueue) -> frozenset[IndexKey] | None:
    """The queue's guard when membership can rely on it: None means evaluate every worker."""
    target = queue.target
    guard = None if target is None else target.guard
    if guard is None or any(path[0] == "channel" for path, _, _ in guard):
        return None
    return guard


class WorkerIndex:
    """Every worker's view, and an inverted index of their keys: built once to index many
    queues in a row (loading a workspace)."""

    def __init__(self, candidates: list[Candidate], workers: dict[str, Worker]) -> None:
        self.candidates = candidates
        self._workers = workers
        self._postings: dict[IndexKey, list[Candidate]] | None = None

    def matching(self, guard: frozenset[IndexKey]) -> list[Candidate]:
        """The workers having one of the keys (a worker once, however many it has)."""
        postings = self._postings
        if postings is None:
            postings = self._postings = {}
            workers = self._workers
            for candidate in self.candidates:
                sid, view = candidate
                for key in worker_keys(workers[sid], view):
                    postings.setdefault(key, []).append(candidate)
        found: list[Candidate] = []
        for key in guard:
            found += postings.get(key, ())
        if len(guard) > 1:
            found = list({sid: c for sid, c in ((c[0], c) for c in found)}.values())
        return found


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
        # The queues a worker is evaluated against: those whose guard names one of its keys,
        # and those without a usable guard. A queue matching nobody is in neither.
        self._queues_by_key: dict[IndexKey, dict[str, TaskQueue]] = {}
        self._unguarded: dict[str, TaskQueue] = {}
        self._guards: dict[str, frozenset[IndexKey]] = {}

    def _forget_queue(self, queue_sid: str) -> None:
        self._unguarded.pop(queue_sid, None)
        for key in self._guards.pop(queue_sid, ()):
            queues = self._queues_by_key[key]
            del queues[queue_sid]
            if not queues:
                del self._queues_by_key[key]

    def _register_queue(self, queue: TaskQueue) -> None:
        self._forget_queue(queue.sid)
        if queue.target is None or not queue.target_workers.strip():
            return  # matches nobody
        guard = usable_guard(queue)
        if guard is None:
            self._unguarded[queue.sid] = queue
            return
        self._guards[queue.sid] = guard
        for key in guard:
            self._queues_by_key.setdefault(key, {})[queue.sid] = queue

    def index_queue(self, queue: TaskQueue, workers: WorkerIndex | None = None) -> set[str]:
        """(Re)compute one queue's members. Returns who changed.

        ``workers``: a ``WorkerIndex`` when many queues are indexed in a row (at load); then
        only the workers having a key of the queue's guard are evaluated."""
        target = queue.target
        if target is not None and target.roots & ACTIVITY_FIELDS:
            self._activity_queues[queue.sid] = queue
        else:
            self._activity_queues.pop(queue.sid, None)
        self._register_queue(queue)
        old = self.members.get(queue.sid, set())
        if target is None or not queue.target_workers.strip():
            new = set()  # an empty TargetWorkers matches nobody
        elif target.always_true:
            new = set(self.workers)
        else:
            evaluate = target.evaluate
            guard = usable_guard(queue)
            if workers is None:
                candidates = self.candidates()
            elif guard is None:
                candidates = workers.candidates
            else:
                candidates = workers.matching(guard)
            new = {sid for sid, view in candidates if evaluate(view)}
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
        self._forget_queue(queue_sid)
        return members

    def candidates(self) -> list[Candidate]:
        return [(sid, self.worker_view(w)) for sid, w in self.workers.items()]

    def worker_index(self) -> WorkerIndex:
        return WorkerIndex(self.candidates(), self.workers)

    def add_worker(self, worker_sid: str) -> None:
        """A new worker, in no queue until evaluated (``reindex_worker``, ``index_queue``)."""
        self.worker_queues[worker_sid] = set()

    def reindex_worker(self, worker: Worker, activity_only: bool = False) -> None:
        """(Re)compute one worker's queues; after an activity change, only the queues whose
        TargetWorkers name the activity can change."""
        if not activity_only:
            self._reindex_worker(worker)
            return
        for queue in self._activity_queues.values():
            members = self.members[queue.sid]
            if self.is_member(queue, worker):
                members.add(worker.sid)
                self.worker_queues[worker.sid].add(queue.sid)
            else:
                members.discard(worker.sid)
                self.worker_queues[worker.sid].discard(queue.sid)

    def _reindex_worker(self, worker: Worker) -> None:
        """Against the queues its keys and the unguarded queues give: it is in no other."""
        view = self.worker_view(worker)
        candidates = dict(self._unguarded)
        queues_by_key = self._queues_by_key
        for key in worker_keys(worker, view):
            queues = queues_by_key.get(key)
            if queues:
                candidates.update(queues)
        new = set()
        for queue_sid, queue in candidates.items():
            target = queue.target
            if target is not None and (target.always_true or target.evaluate(view)):
                new.add(queue_sid)
        sid = worker.sid
        mine = self.worker_queues[sid]
        members = self.members
        for queue_sid in mine - new:
            members[queue_sid].discard(sid)
            mine.discard(queue_sid)
        for queue_sid in new - mine:
            members[queue_sid].add(sid)
            mine.add(queue_sid)

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
