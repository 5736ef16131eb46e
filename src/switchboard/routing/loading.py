"""Rebuilding a workspace's live state from its stored rows, after a restart or a failover.

Only stored fields come back from the store; everything derived is recomputed here: parsed
attributes, compiled expressions and workflow configurations, queue membership, what each
reservation holds of its worker's capacity, where waiting tasks wait, the idle order of
workers (by ``idle_since``) and every timer. A timer already overdue fires at the next
``fire_due``, in deadline order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from switchboard.routing import timers
from switchboard.routing.expressions import compile_expression
from switchboard.routing.lifecycle import TaskLifecycle
from switchboard.routing.membership import QueueMembership
from switchboard.routing.model import (
    RESERVATION_OPEN,
    TASK_WAITING,
    Activity,
    Reservation,
    Task,
    TaskChannel,
    TaskQueue,
    Transfer,
    Worker,
    WorkerChannel,
    Workflow,
)
from switchboard.routing.resources import Resources
from switchboard.routing.transfers import INITIATED
from switchboard.routing.workflow_config import parse_workflow_configuration
from switchboard.routing.workflows import targets


def load_resources(
    resources: Resources,
    membership: QueueMembership,
    *,
    activities: Iterable[Activity],
    task_channels: Iterable[TaskChannel],
    workers: Iterable[Worker],
    worker_channels: Iterable[WorkerChannel],
    task_queues: Iterable[TaskQueue],
    workflows: Iterable[Workflow],
) -> None:
    """The configuration and queue membership (rows given in creation order)."""
    for activity in activities:
        resources.activities[activity.sid] = activity
    for channel in task_channels:
        resources.task_channels[channel.sid] = channel
        resources.channel_names[channel.unique_name] = channel.sid
    for worker in workers:
        worker.parsed_attributes = json.loads(worker.attributes)
        resources.workers[worker.sid] = worker
        resources.worker_channels[worker.sid] = {}
        membership.add_worker(worker.sid)
        resources.worker_names[worker.friendly_name.casefold()] = worker.sid
    for wc in worker_channels:
        resources.worker_channels[wc.worker_sid][wc.task_channel_sid] = wc
    # Each worker's view and keys built once for every queue; each queue evaluated only on
    # the workers its expression's guard names (see ``membership``).
    index = membership.worker_index()
    for queue in task_queues:
        queue.target = compile_expression(queue.target_workers)
        resources.task_queues[queue.sid] = queue
        membership.index_queue(queue, index)
    for workflow in workflows:
        workflow.config = parse_workflow_configuration(
            workflow.configuration, resources.task_queues.__contains__
        )
        resources.workflows[workflow.sid] = workflow


def load_tasks(lifecycle: TaskLifecycle, tasks: Iterable[Task],
               reservations: Iterable[Reservation], now: int,
               transfers: Iterable[Transfer] = ()) -> None:
    """Tasks, reservations, transfers, their indexes and timers (after ``load_resources``)."""
    for task in tasks:
        task.parsed_attributes = json.loads(task.attributes)
        workflow = lifecycle.workflows.get(task.workflow_sid or "")
        task.config = workflow.config if workflow else None
        if task.config is not None and task.filter_index is not None:
            try:
                task.target = targets(task, task.config)[task.target_index]
            except IndexError:
                task.target = None
        lifecycle.tasks[task.sid] = task
        lifecycle.task_reservations[task.sid] = []
        lifecycle.task_seq = max(lifecycle.task_seq, task.seq)
    for transfer in transfers:
        lifecycle.transfers.add(transfer)
        if transfer.transfer_status == INITIATED:
            lifecycle.tasks[transfer.task_sid].transfer = transfer
    schedule = lifecycle.timers.schedule
    for reservation in reservations:
        lifecycle.reservations[reservation.sid] = reservation
        lifecycle.task_reservations.setdefault(reservation.task_sid, []).append(reservation)
        worker = lifecycle.workers.get(reservation.worker_sid)
        if worker is not None:  # a deleted worker's reservations stay with its tasks only
            lifecycle.worker_reservations.setdefault(worker.sid, {})[reservation.sid] = (
                reservation)
        if worker is not None and reservation.reservation_status in RESERVATION_OPEN:
            assigned = 1 if reservation.reservation_status != "pending" else 0
            lifecycle.hold(reservation, worker, 1, assigned)
        if reservation.reservation_status == "pending" and reservation.timeout_at:
            schedule(reservation.timeout_at, timers.RESERVATION_TIMEOUT, reservation.sid)
    for task in lifecycle.tasks.values():
        if task.assignment_status in TASK_WAITING:
            if not lifecycle.transfers.had_any(task.sid):
                schedule(lifecycle.ttl_deadline(task), timers.TASK_TTL, task.sid)
            # A reserved task past its step deadline has had its timer fire already: it
            # moves on when it is waiting again (TaskLifecycle._task_back).
            if task.step_deadline is not None and (
                    task.assignment_status == "pending" or task.step_deadline > now):
                schedule(task.step_deadline, timers.STEP_TIMEOUT, task.sid)
            if task.assignment_status == "pending":
                lifecycle.waiting.add(task)
        if task.purge_at is not None:
            schedule(task.purge_at, timers.TASK_PURGE, task.sid)
    for worker in sorted(lifecycle.workers.values(), key=lambda w: (w.idle_since, w.sid)):
        lifecycle.selector.refresh(worker)
