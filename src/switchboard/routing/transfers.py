"""Task transfers: a worker hands a task it is working on to another worker or to a queue.

TaskRouter transfers tasks of every channel, not only calls: the Worker SDK's
``task.transfer(to, {mode, priority, attributes})`` and ``transfer.cancel()``. This module
keeps each workspace's transfers and decides what each step means for the transfer itself; the
task lifecycle (``lifecycle.py``) carries out what it means for the task and its reservations.

A transfer is ``initiated``, then ``complete`` (a reservation it made was accepted),
``failed`` or ``canceled`` (by the worker who started it). Each step is an event of the task:
``task.transfer-initiated``, ``-completed``, ``-failed``, ``-canceled``, and
``task.transfer-attempt-failed`` when one attempt of a transfer to a queue failed and the task
goes on waiting there.

The rules, TaskRouter's where its documentation, the Worker SDK and its tests say so, ours
where they are silent (listed in docs/differences.md):

* Only the worker whose reservation for the task is accepted may transfer it, while the task
  is assigned and no other transfer of it is in progress. ``Priority`` and ``Attributes``
  given with the transfer replace the task's.
* To a worker: that worker must be able to take the task now (an available activity, room on
  the task's channel), or the transfer is refused, as TaskRouter refuses it (HTTP 400). The
  task is reserved for that worker alone, with its workflow's reservation timeout.
* To a queue: the task enters the queue and is offered to its workers like any task there
  (longest idle first, ``MaxReservedWorkers``); with nobody free it waits in the queue.
* While a transfer is offered the task is ``reserved`` (``pending`` while it waits in a
  queue); once accepted it is ``assigned`` to the new worker.
* ``WARM`` (the default): the transferring worker keeps its accepted reservation, so both work
  on the task once the transfer completes; if the transfer fails or is canceled, the task is
  ``assigned`` to the transferring worker again.
* ``COLD``: the transferring worker's reservation moves to ``wrapping`` at once; if the
  transfer fails or is canceled, the task is routed again as when it was created (its
  workflow, from the first filter) and may come back to that worker.
* A transfer to a worker fails when its reservation is rejected, times out or is canceled. A
  transfer to a queue fails when a reservation times out and none of the transfer's
  reservations is pending any more; a rejection there is one failed attempt: the task is
  offered to the queue's other workers first.
* A task canceled or deleted during a transfer ends the transfer as failed.
"""

from __future__ import annotations

from typing import Any, Protocol

from switchboard.routing import events as event_data
from switchboard.routing import validate
from switchboard.routing.changes import ChangeRecorder
from switchboard.routing.errors import InvalidParameter, NotFound
from switchboard.routing.model import Event, Reservation, Task, Transfer, Worker
from switchboard.routing.resources import Resources
from switchboard.routing.selection import Eligibility

WARM, COLD = "WARM", "COLD"
TO_WORKER, TO_QUEUE = "WORKER", "QUEUE"
INITIATED, COMPLETE, FAILED, CANCELED = "initiated", "complete", "failed", "canceled"
# The reasons a transfer failed (the SDK's ``transferFailedReason``), by what ended the last
# reservation it made; the wording follows TaskRouter's where it is known.
FAILED_REASONS = {
    "rejected": "Transfer failed because the reservation was rejected",
    "timeout": "Transfer failed because the reservation timed out",
    "canceled": "Transfer failed because the reservation was canceled",
}
ATTEMPT_FAILED_REASON = ("Transfer attempt failed on reservation {} because there are no more "
                         "pending reservations")
TASK_ENDED_REASON = "Transfer failed because the task was {}"

class TaskEvent(Protocol):
    """The lifecycle's task event: a task's event, its event_data extended by ``extra``."""

    def __call__(self, event_type: str, task: Task, now: int, description: str,
                 extra: dict[str, Any] | None = None, *, worker_sid: str | None = None,
                 reservation_sid: str | None = None) -> Event: ...


class TaskTransfers:
    """One workspace's transfers, by SID and by task."""

    def __init__(self, resources: Resources, eligibility: Eligibility,
                 changes: ChangeRecorder, task_event: TaskEvent) -> None:
        self.resources = resources
        self.workspace = resources.workspace
        self.sids = resources.sids
        self.eligibility = eligibility
        self.changes = changes
        self.task_event = task_event
        self.transfers: dict[str, Transfer] = {}
        self.of_task: dict[str, list[Transfer]] = {}

    # ================================================================== reading

    def transfer(self, sid: str) -> Transfer:
        transfer = self.transfers.get(sid)
        if transfer is None:
            raise NotFound(f"The requested resource Transfer {sid} was not found")
        return transfer

    def had_any(self, task_sid: str) -> bool:
        """Was the task ever transferred? (Its TTL, a limit on waiting before it is first
        assigned, no longer applies.)"""
        return task_sid in self.of_task

    def add(self, transfer: Transfer) -> None:
        self.transfers[transfer.sid] = transfer
        self.of_task.setdefault(transfer.task_sid, []).append(transfer)

    def forget_task(self, task_sid: str) -> list[Transfer]:
        """The task leaves the workspace: so do its transfers."""
        gone = self.of_task.pop(task_sid, [])
        for transfer in gone:
            del self.transfers[transfer.sid]
            self.changes.delete(transfer)
        return gone

    # ================================================================== starting

    def check(self, task: Task, reservation: Reservation, *, to: str, mode: str | None,
              priority: int | None, attributes: str | None
              ) -> tuple[str, str, dict[str, Any] | None]:
        """Refuse a transfer that may not start; returns its type, mode and parsed attributes.

        Changes nothing: the caller starts the transfer only once every check has passed."""
        mode = WARM if mode is None else str(mode).upper()
        if mode not in (WARM, COLD):
            raise InvalidParameter(f"Mode must be WARM or COLD, got '{mode}'")
        if priority is not None:
            validate.in_range(priority, "Priority", 0, validate.MAX_PRIORITY)
        parsed = validate.attributes(attributes) if attributes is not None else None
        if reservation.reservation_status != "accepted":
            raise InvalidParameter(
                f"Reservation {reservation.sid} is {reservation.reservation_status}: only the "
                "worker whose reservation is accepted can transfer the task")
        if task.transfer is not None:
            raise InvalidParameter(f"Task {task.sid} is already being transferred "
                                   f"({task.transfer.sid}); cancel that transfer first")
        if task.assignment_status != "assigned":
            raise InvalidParameter(f"Task {task.sid} is {task.assignment_status}: only an "
                                   "assigned task can be transferred")
        prefix = to[:2]
        if prefix == "WQ":
            self.resources.task_queue(to, "To")
            return TO_QUEUE, mode, parsed
        if prefix != "WK":
            raise InvalidParameter(f"To '{to}' must be a Worker or TaskQueue SID")
        worker = self.resources.worker(to, "To")
        if worker.sid == reservation.worker_sid:
            raise InvalidParameter(f"Task {task.sid} cannot be transferred to {worker.sid}, "
                                   "the worker transferring it")
        if not self._can_take(worker, task):
            raise InvalidParameter(
                f"Worker {worker.sid} cannot take task {task.sid} now (unavailable activity or "
                "no room on its channel): the transfer was not initiated")
        return TO_WORKER, mode, parsed

    def _can_take(self, worker: Worker, task: Task) -> bool:
        eligibility = self.eligibility
        activity = eligibility.activities.get(worker.activity_sid)
        return (activity is not None and activity.available
                and eligibility.has_room(worker, task.task_channel_sid)
                and not eligibility.holds(worker, task))

    def initiate(self, task: Task, reservation: Reservation, *, transfer_type: str, to: str,
                 mode: str, now: int) -> Transfer:
        """A checked transfer starts (``task.transfer-initiated``)."""
        transfer = Transfer(
            sid=self.sids("TT"),
            account_sid=task.account_sid,
            workspace_sid=task.workspace_sid,
            task_sid=task.sid,
            initiating_reservation_sid=reservation.sid,
            initiating_worker_sid=reservation.worker_sid,
            initiating_queue_sid=reservation.task_queue_sid or task.task_queue_sid,
            initiating_workflow_sid=task.workflow_sid,
            transfer_type=transfer_type,
            transfer_to=to,
            transfer_mode=mode,
            transfer_status=INITIATED,
            transfer_failed_reason=None,
            date_created=now,
            date_updated=now,
        )
        self.add(transfer)
        self.changes.touch(transfer)
        self._event("task.transfer-initiated", transfer, task, now, "Task transfer initiated")
        return transfer

    # ================================================================== ending

    def check_cancel(self, transfer: Transfer, task_sid: str | None) -> None:
        if task_sid and task_sid != transfer.task_sid:
            raise NotFound(f"The requested resource Transfer {transfer.sid} of task {task_sid} "
                           "was not found")
        if transfer.transfer_status != INITIATED:
            # TaskRouter's words (the SDK's tests compare them).
            raise InvalidParameter(f"Transfer {transfer.sid} is already "
                                   f"{transfer.transfer_status} . Cannot cancel transfer.")

    def unanswered(self, transfer: Transfer, task: Task, cause: str, now: int) -> bool:
        """The last pending reservation the transfer made ended unaccepted (``cause``:
        rejected, timeout or canceled). True if the transfer failed; False if it was one failed
        attempt and the task goes on waiting in the queue it was transferred to."""
        if transfer.transfer_type == TO_QUEUE and cause != "timeout":
            transfer.transfer_failed_reason = ATTEMPT_FAILED_REASON.format(
                "reject" if cause == "rejected" else "cancel")
            self._touch(transfer, now)
            self._event("task.transfer-attempt-failed", transfer, task, now,
                        "Task transfer attempt failed")
            return False
        self.end(transfer, task, FAILED, now, FAILED_REASONS[cause])
        return True

    def end(self, transfer: Transfer, task: Task, status: str, now: int,
            reason: str | None = None) -> None:
        """initiated -> complete, failed or canceled, with its event."""
        transfer.transfer_status = status
        transfer.transfer_failed_reason = reason
        self._touch(transfer, now)
        kind = {COMPLETE: "completed"}.get(status, status)
        self._event(f"task.transfer-{kind}", transfer, task, now, f"Task transfer {kind}")

    # ================================================================== events

    def _touch(self, transfer: Transfer, now: int) -> None:
        transfer.date_updated = now
        self.changes.touch(transfer)

    def _event(self, event_type: str, transfer: Transfer, task: Task, now: int,
               description: str) -> None:
        # Told to the worker who started the transfer: its SDK's outgoing transfer follows it.
        self.task_event(event_type, task, now, description, event_data.transfer_data(transfer),
                        worker_sid=transfer.initiating_worker_sid,
                        reservation_sid=transfer.initiating_reservation_sid)
