"""The timers that will fire, soonest first, each said in words (an extension,
docs/extensions.md: the console shows them beside the manual clock).

Read from the engine's own deadline heap (``timers.py``), keeping only the entries the engine
would act on when they come due, so the list is exactly what moving the clock will do.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.routing import timers
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.lifecycle import PURGE_AFTER_MS
from switchboard.routing.model import TASK_ACTIVE, Task

KINDS = {
    timers.RESERVATION_TIMEOUT: "reservation_timeout",
    timers.STEP_TIMEOUT: "target_timeout",
    timers.TASK_TTL: "task_ttl",
    timers.TASK_PURGE: "task_purge",
}


@dataclass(frozen=True)
class PendingTimer:
    kind: str
    due_ms: int
    task_sid: str | None
    reservation_sid: str | None
    worker_sid: str | None
    task_queue_sid: str | None
    description: str


def pending_timers(engine: WorkspaceEngine) -> list[PendingTimer]:
    """Every live timer of the workspace, in the order they fire."""
    found = []
    for deadline, kind, _, sid in engine.lifecycle.pending_timers():
        if kind == timers.RESERVATION_TIMEOUT:
            reservation = engine.reservations[sid]
            worker = engine.workers.get(reservation.worker_sid)
            who = f"worker {worker.friendly_name}" if worker else "its worker"
            found.append(PendingTimer(
                KINDS[kind], deadline, reservation.task_sid, sid, reservation.worker_sid,
                reservation.task_queue_sid,
                f"Reservation {sid} of task {reservation.task_sid} for {who} times out unless "
                "accepted or rejected first; the worker moves to the workspace's timeout "
                "activity"))
            continue
        task = engine.tasks[sid]
        found.append(PendingTimer(KINDS[kind], deadline, sid, None, None, task.task_queue_sid,
                                  _describe_task_timer(engine, kind, task)))
    return found


def _describe_task_timer(engine: WorkspaceEngine, kind: int, task: Task) -> str:
    if kind == timers.TASK_TTL:
        return (f"Task {task.sid} is canceled ({task.timeout} s Timeout, its TTL) unless it is "
                "assigned first")
    if kind == timers.STEP_TIMEOUT:
        queue = engine.task_queues.get(task.task_queue_sid or "")
        where = f"queue {queue.friendly_name}" if queue else "its queue"
        return (f"Task {task.sid} times out of target {task.target_index} of its workflow "
                f"filter ({where}) and moves to the next target or filter")
    if task.assignment_status in TASK_ACTIVE:
        return f"Task {task.sid} is deleted by the system: assigned for 24 hours"
    return (f"Task {task.sid} ({task.assignment_status}) is removed, "
            f"{PURGE_AFTER_MS // 60_000} minutes after it ended")
