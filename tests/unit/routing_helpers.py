"""A small world for routing-core tests: an engine, a hand-moved clock, builders and checks.

Everything is in memory and deterministic: SIDs come from a counter, time only moves when a
test moves it, and moving it fires the engine's timers at their own deadlines, in order, the way
the runtime's manual clock does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import pytest

from switchboard.routing.changes import Changes, to_row
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.errors import RoutingError
from switchboard.routing.model import (
    RESERVATION_OPEN,
    Activity,
    Event,
    Reservation,
    Task,
    TaskChannel,
    TaskQueue,
    Transfer,
    Worker,
    WorkerChannel,
    Workflow,
    Workspace,
)
from switchboard.routing.selection import LongestIdle
from switchboard.routing.sids import counter_sids

ACCOUNT_SID = "AC" + "a" * 32
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a Thursday
SECOND = 1000

E = TypeVar("E", bound=RoutingError)


class Clock:
    """Epoch milliseconds that move only when told to."""

    def __init__(self, start: int = T0) -> None:
        self.now = start

    def advance(self, seconds: float) -> int:
        assert seconds >= 0, "time cannot move backwards"
        self.now += round(seconds * SECOND)
        return self.now


class World:
    """One workspace engine plus the clock it runs on, with shortcuts for tests.

    Workers are named; ``name_of`` maps a worker SID back to its name so that assertions can say
    who got what. ``take()`` returns (and clears) what the engine changed since the last call.
    """

    def __init__(self, *, multi_task_enabled: bool = True, prioritize_queue_order: str = "FIFO",
                 start: int = T0) -> None:
        self.clock = Clock(start)
        self.engine = WorkspaceEngine.create(
            account_sid=ACCOUNT_SID, friendly_name="t", now=start, sids=counter_sids(),
            multi_task_enabled=multi_task_enabled, prioritize_queue_order=prioritize_queue_order)
        self.activity = {a.friendly_name: a.sid for a in self.engine.activities.values()}
        self.engine.take_changes()

    # ------------------------------------------------------------------ time and changes

    @property
    def now(self) -> int:
        return self.clock.now

    def take(self) -> Changes:
        return self.engine.take_changes()

    def events(self) -> list[Event]:
        return self.take().events

    def event_types(self) -> list[str]:
        return [event.event_type for event in self.take().events]

    def advance(self, seconds: float) -> list[str]:
        """Move time on, firing every timer at its own deadline; returns the event types."""
        target = self.clock.now + round(seconds * SECOND)
        engine = self.engine
        while (deadline := engine.next_deadline()) is not None and deadline <= target:
            self.clock.now = max(deadline, self.clock.now)
            engine.fire_due(self.clock.now)
        self.clock.now = target
        return self.event_types()

    def age(self, task: Task) -> float:
        """The task's age in seconds."""
        return (self.now - task.date_created) / SECOND

    # ------------------------------------------------------------------ builders

    def new_activity(self, name: str, available: bool) -> str:
        sid = self.engine.create_activity(name, available, self.now).sid
        self.activity[name] = sid
        return sid

    def worker(self, name: str, activity: str = "Available", *,
               capacity: dict[str, int] | None = None, **attributes: Any) -> Worker:
        worker = self.engine.create_worker(name, self.now, activity_sid=self.activity[activity],
                                           attributes=json.dumps(attributes))
        for channel, value in (capacity or {}).items():
            self.engine.update_worker_channel(worker.sid, channel, self.now, capacity=value,
                                              available=None)
        return worker

    def workers(self, *names: str, **attributes: Any) -> list[Worker]:
        """Available workers created one second apart (the first has been idle longest)."""
        made = []
        for name in names:
            made.append(self.worker(name, **attributes))
            self.clock.advance(1)
        return made

    def queue(self, name: str = "q", target: str = "1==1", **options: Any) -> TaskQueue:
        return self.engine.create_task_queue(name, self.now, target_workers=target, **options)

    def workflow(self, routing: dict[str, Any] | TaskQueue, name: str = "wf", *,
                 task_reservation_timeout: int | None = None) -> Workflow:
        """A workflow from a ``task_routing`` dict, or a plain default filter to one queue."""
        if isinstance(routing, TaskQueue):
            routing = {"default_filter": {"queue": routing.sid}}
        return self.engine.create_workflow(
            name, json.dumps({"task_routing": routing}), self.now,
            task_reservation_timeout=task_reservation_timeout)

    def task(self, attributes: dict[str, Any] | None = None, *,
             workflow: Workflow | None = None, **options: Any) -> Task:
        if workflow is not None:
            options["workflow_sid"] = workflow.sid
        return self.engine.create_task(self.now, attributes=json.dumps(attributes or {}),
                                       **options)

    # ------------------------------------------------------------------ commands

    def set_activity(self, worker: Worker, activity: str, **options: Any) -> Worker:
        return self.engine.update_worker(worker.sid, self.now, activity_sid=self.activity[activity],
                                         **options)

    def set_attributes(self, worker: Worker, **attributes: Any) -> Worker:
        return self.engine.update_worker(worker.sid, self.now, attributes=json.dumps(attributes))

    def set_channel(self, worker: Worker, channel: str, *, capacity: int | None = None,
                    available: bool | None = None) -> WorkerChannel:
        return self.engine.update_worker_channel(worker.sid, channel, self.now,
                                                 capacity=capacity, available=available)

    def accept(self, reservation: Reservation, **options: Any) -> Reservation:
        return self.engine.update_reservation(reservation.sid, self.now, status="accepted",
                                              **options)

    def reject(self, reservation: Reservation, activity: str | None = None,
               **options: Any) -> Reservation:
        return self.engine.update_reservation(
            reservation.sid, self.now, status="rejected",
            worker_activity_sid=self.activity[activity] if activity else None, **options)

    def update_task(self, task: Task, **options: Any) -> Task:
        if isinstance(options.get("attributes"), dict):
            options["attributes"] = json.dumps(options["attributes"])
        return self.engine.update_task(task.sid, self.now, **options)

    def wrap(self, task: Task) -> Task:
        return self.update_task(task, assignment_status="wrapping")

    def complete(self, task: Task) -> Task:
        return self.update_task(task, assignment_status="completed", reason="done")

    def cancel(self, task: Task) -> Task:
        return self.update_task(task, assignment_status="canceled", reason="no longer needed")

    # ------------------------------------------------------------------ looking

    def named(self, name: str) -> Worker:
        worker = self.engine.worker_by_name(name)
        assert worker is not None, f"no worker named {name}"
        return worker

    def name_of(self, worker_sid: str) -> str:
        worker = self.engine.workers.get(worker_sid)
        return worker.friendly_name if worker else worker_sid

    def reservations(self, task: Task, *statuses: str) -> list[Reservation]:
        found = self.engine.task_reservations.get(task.sid, [])
        return [r for r in found if not statuses or r.reservation_status in statuses]

    def pending(self, task: Task) -> Reservation:
        """The task's one pending reservation."""
        pending = self.reservations(task, "pending")
        assert len(pending) == 1, f"expected one pending reservation, got {pending}"
        return pending[0]

    def reserved_to(self, task: Task) -> list[str]:
        """Names of the workers holding pending reservations for the task, oldest first."""
        return [self.name_of(r.worker_sid) for r in self.reservations(task, "pending")]

    def holder(self, task: Task) -> str | None:
        """The one worker with a pending reservation for the task (None if nobody)."""
        names = self.reserved_to(task)
        assert len(names) <= 1, f"several workers hold {task.sid}: {names}"
        return names[0] if names else None

    def tasks_of(self, worker: Worker, *statuses: str) -> list[str]:
        return [r.task_sid for r in self.engine.reservations_of_worker(worker.sid)
                if not statuses or r.reservation_status in statuses]

    def channel(self, worker: Worker, channel: str = "default") -> WorkerChannel:
        return self.engine.worker_channel(worker.sid, channel)

    def activity_of(self, worker: Worker) -> str:
        return self.engine.activities[worker.activity_sid].friendly_name

    def refused(self, error: type[E], command: Callable[[], object]) -> E:
        """Run a command that must fail with ``error`` and change nothing at all."""
        self.take()
        before = state(self.engine)
        with pytest.raises(error) as info:
            command()
        changes = self.take()
        assert not changes, f"a refused command recorded changes: {changes}"
        assert state(self.engine) == before
        return info.value


def queue_and_workflow(world: World, **options: Any) -> tuple[TaskQueue, Workflow]:
    queue = world.queue(**options)
    return queue, world.workflow(queue)


def sids_to_names(tasks: dict[str, Task], sids: list[str]) -> list[str]:
    by_sid = {task.sid: name for name, task in tasks.items()}
    return [by_sid[sid] for sid in sids]


def types_of(events: Iterable[Event]) -> list[str]:
    return [event.event_type for event in events]


def only(events: Iterable[Event], *types: str) -> list[str]:
    """The event types among ``types``, in order (to check an order amid other events)."""
    return [e.event_type for e in events if e.event_type in types]


# ---------------------------------------------------------------------- snapshots


def _rows(entities: Iterable[Any]) -> list[dict[str, Any]]:
    return sorted((to_row(e) for e in entities), key=lambda row: row["sid"])


def routing_state(engine: WorkspaceEngine) -> dict[str, Any]:
    """Everything routing depends on: rows, derived counters, indexes and the next deadline."""
    waiting = engine.lifecycle.waiting
    return {
        "tasks": _rows(engine.tasks.values()),
        "task_targets": {sid: (t.target, t.config) for sid, t in engine.tasks.items()},
        "reservations": _rows(engine.reservations.values()),
        "transfers": _rows(engine.transfers.values()),
        "task_transfers": {sid: t.transfer.sid if t.transfer else None
                           for sid, t in engine.tasks.items()},
        "task_reservations": {sid: sorted(r.sid for r in found)
                              for sid, found in engine.task_reservations.items()},
        "counters": sorted((wc.worker_sid, wc.task_channel_sid, wc.reserved, wc.assigned)
                           for channels in engine.worker_channels.values()
                           for wc in channels.values()),
        "members": {sid: sorted(members) for sid, members in engine.queue_members.items()},
        "pending": {slot: list(keys) for slot, keys in waiting.pending.items()},
        "known": {slot: list(keys) for slot, keys in waiting.known.items()},
        # Members only: the order within a slot is not rebuilt exactly (see
        # test_routing_invariants).
        "idle": {slot: sorted(entries) for slot, entries in idle_index(engine).items()},
        "next_deadline": engine.next_deadline(),
    }


def idle_index(engine: WorkspaceEngine) -> dict[tuple[str, str], dict[str, None]]:
    """The default selection strategy's idle workers by (queue, channel)."""
    selector = engine.lifecycle.selector
    assert isinstance(selector, LongestIdle)
    return selector.idle


def state(engine: WorkspaceEngine) -> dict[str, Any]:
    """A full snapshot of the engine, to prove a refused command changed nothing."""
    return {
        **routing_state(engine),
        "workspace": to_row(engine.workspace),
        "activities": _rows(engine.activities.values()),
        "task_channels": _rows(engine.task_channels.values()),
        "workers": _rows(engine.workers.values()),
        "worker_channels": _rows(wc for channels in engine.worker_channels.values()
                                 for wc in channels.values()),
        "task_queues": _rows(engine.task_queues.values()),
        "workflows": _rows(engine.workflows.values()),
        "event_seq": engine.event_seq,
        "task_seq": engine.task_seq,
        "task_versions": {sid: t.version for sid, t in engine.tasks.items()},
    }


def rebuild(engine: WorkspaceEngine, now: int) -> WorkspaceEngine:
    """The engine as the runtime would load it from its stored rows (copies, creation order)."""

    def copies(cls: type, entities: Iterable[Any]) -> list[Any]:
        rows = sorted((to_row(e) for e in entities), key=lambda r: (r["date_created"], r["sid"]))
        return [cls(**row) for row in rows]

    return WorkspaceEngine.load(
        Workspace(**to_row(engine.workspace)),
        activities=copies(Activity, engine.activities.values()),
        task_channels=copies(TaskChannel, engine.task_channels.values()),
        workers=copies(Worker, engine.workers.values()),
        worker_channels=copies(WorkerChannel, (wc for channels in engine.worker_channels.values()
                                               for wc in channels.values())),
        task_queues=copies(TaskQueue, engine.task_queues.values()),
        workflows=copies(Workflow, engine.workflows.values()),
        tasks=copies(Task, engine.tasks.values()),
        reservations=copies(Reservation, engine.reservations.values()),
        transfers=copies(Transfer, engine.transfers.values()),
        event_seq=engine.event_seq,
        now=now,
        sids=engine.sids,
    )


def open_reservations(engine: WorkspaceEngine, worker_sid: str, channel_sid: str) -> int:
    return sum(1 for r in engine.worker_reservations.get(worker_sid, {}).values()
               if r.task_channel_sid == channel_sid and r.reservation_status in RESERVATION_OPEN)
