"""Stateful property test of the routing core: random commands and time, invariants after each.

The machine drives one workspace (three queues, one workflow with a target cascade, a skip_if
and a target expression) with random workers, tasks, answers and clock moves, and checks after
every step that capacity, task/reservation states, eligibility and "no one idles while a task
waits" hold, and that an engine rebuilt from the stored rows is the same engine.

Queue membership and target expressions are re-computed here in plain Python (``MEMBERSHIP``,
``target_allows``), independently of the engine's expression compiler and indexes. A second
machine runs the same rules in a single-tasking workspace. Tasks routed to one worker
(``RoutingTarget`` with ``IgnoreCapacity``, known workers) are left out: they may exceed
capacity by design.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from routing_helpers import SECOND, World, open_reservations, rebuild, routing_state

from switchboard.routing.errors import Gone, InvalidParameter, RoutingError
from switchboard.routing.model import RESERVATION_OPEN, Event, Task, Worker

MAX_WORKERS = 6
MAX_TASKS = 15
CHANNELS = ("default", "chat")
ACTIVITIES = ("Available", "Offline", "Unavailable")
activities = st.sampled_from(("Available", "Available", "Offline", "Unavailable"))

# Queue name -> (TargetWorkers, the same test in Python on worker attributes).
MEMBERSHIP: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    "everyone": ("1==1", lambda a: True),
    "skill-a": ("skill == 'a'", lambda a: a.get("skill") == "a"),
    "senior": ("level >= 2", lambda a: isinstance(a.get("level"), int) and a["level"] >= 2),
}

skills = st.sampled_from(["a", "b"])
levels = st.integers(0, 3)


def target_allows(task: Task, worker_attributes: dict[str, Any]) -> bool:
    """The target expression of the step the task is in (only filter 0, target 1 has one)."""
    if task.filter_index == 0 and task.target_index == 1:
        return bool(task.parsed_attributes["level"] <= worker_attributes["level"])
    return True


class RoutingMachine(RuleBasedStateMachine):
    MULTI_TASK = True

    def __init__(self) -> None:
        super().__init__()
        self.world = World(multi_task_enabled=self.MULTI_TASK)
        world = self.world
        everyone: dict[str, Any] = {"max_reserved_workers": 2}
        if not self.MULTI_TASK:
            everyone.update(reservation_activity_sid=world.new_activity("Reserved", False),
                            assignment_activity_sid=world.new_activity("Busy", False))
        queues = {name: world.queue(name, target, **(everyone if name == "everyone" else {}))
                  for name, (target, _) in MEMBERSHIP.items()}
        self.queue_names = {queue.sid: name for name, queue in queues.items()}
        world.engine.update_task_queue(queues["senior"].sid, world.now, task_order="LIFO")
        self.workflow = world.workflow({
            "filters": [
                {"expression": "type == 'x'", "targets": [
                    {"queue": queues["skill-a"].sid, "timeout": 30},
                    {"queue": queues["senior"].sid, "timeout": 30,
                     "expression": "task.level <= worker.level"}]},
                {"expression": "type == 'y'", "targets": [
                    {"queue": queues["senior"].sid, "priority": 5,
                     "skip_if": "workers.available == 0"}]},
            ],
            "default_filter": {"queue": queues["everyone"].sid},
        }, task_reservation_timeout=20)
        world.take()
        self.names = 0
        self.tasks_created = 0
        self.last: list[Event] = []
        # (task, worker) pairs where the worker rejected the task: lifecycle.py documents that a
        # rejecting worker gets the task again only "on a later opportunity".
        self.rejected: set[tuple[str, str]] = set()
        # Open reservations a worker may hold on a channel: its capacity, or more when its
        # capacity was lowered below what it already held.
        self.allowance: dict[tuple[str, str], int] = {}

    # ------------------------------------------------------------------ helpers

    @property
    def engine(self) -> Any:
        return self.world.engine

    def run(self, command: Callable[[], object]) -> None:
        command()
        self.last = self.world.take().events

    def refused(self, error: type[RoutingError], command: Callable[[], object]) -> None:
        self.world.refused(error, command)
        self.last = []

    def workers(self) -> list[str]:
        return sorted(self.engine.workers)

    def tasks(self, *statuses: str) -> list[str]:
        return sorted(sid for sid, task in self.engine.tasks.items()
                      if task.assignment_status in statuses)

    def reservations(self, *statuses: str) -> list[str]:
        return sorted(sid for sid, r in self.engine.reservations.items()
                      if r.reservation_status in statuses)

    def offered(self, worker_sid: str) -> None:
        """Any change to a worker is the "later opportunity" to get what it rejected."""
        self.rejected = {pair for pair in self.rejected if pair[1] != worker_sid}

    def pick(self, data: st.DataObject, items: list[str]) -> str:
        return data.draw(st.sampled_from(items))

    # ------------------------------------------------------------------ workers

    @initialize(n=st.integers(1, 4), data=st.data())
    def some_workers(self, n: int, data: st.DataObject) -> None:
        for _ in range(n):
            self.create_worker(data.draw(skills), data.draw(levels), data.draw(activities))

    @precondition(lambda self: len(self.engine.workers) < MAX_WORKERS)
    @rule(skill=skills, level=levels, activity=activities)
    def create_worker(self, skill: str, level: int, activity: str) -> None:
        self.names += 1
        name = f"w{self.names}"
        self.run(lambda: self.world.worker(name, activity, skill=skill, level=level))

    @precondition(lambda self: self.engine.workers)
    @rule(data=st.data())
    def delete_worker(self, data: st.DataObject) -> None:
        sid = self.pick(data, self.workers())
        busy = any(r.reservation_status in ("accepted", "wrapping")
                   for r in self.engine.worker_reservations.get(sid, {}).values())
        command = lambda: self.engine.delete_worker(sid, self.world.now)  # noqa: E731
        if busy:
            self.refused(InvalidParameter, command)
        else:
            self.run(command)

    @precondition(lambda self: self.engine.workers)
    @rule(data=st.data(), activity=activities)
    def set_activity(self, data: st.DataObject, activity: str) -> None:
        worker = self.engine.workers[self.pick(data, self.workers())]
        self.run(lambda: self.world.set_activity(worker, activity))
        self.offered(worker.sid)

    @precondition(lambda self: self.engine.workers)
    @rule(data=st.data(), activity=st.sampled_from(["Offline", "Unavailable"]))
    def reject_pending(self, data: st.DataObject, activity: str) -> None:
        worker = self.engine.workers[self.pick(data, self.workers())]
        self.run(lambda: self.world.set_activity(worker, activity,
                                                 reject_pending_reservations=True))
        for event in self.last:
            if event.event_type == "reservation.rejected":
                self.rejected.add((event.task_sid or "", event.worker_sid or ""))

    @precondition(lambda self: self.engine.workers)
    @rule(data=st.data(), skill=skills, level=levels)
    def set_attributes(self, data: st.DataObject, skill: str, level: int) -> None:
        worker = self.engine.workers[self.pick(data, self.workers())]
        self.run(lambda: self.world.set_attributes(worker, skill=skill, level=level))
        self.offered(worker.sid)

    @precondition(lambda self: self.engine.workers)
    @rule(data=st.data(), channel=st.sampled_from(CHANNELS),
          capacity=st.none() | st.integers(0, 3), available=st.none() | st.booleans())
    def set_channel(self, data: st.DataObject, channel: str, capacity: int | None,
                    available: bool | None) -> None:
        worker = self.engine.workers[self.pick(data, self.workers())]
        self.run(lambda: self.world.set_channel(worker, channel, capacity=capacity,
                                                available=available))
        self.offered(worker.sid)

    # ------------------------------------------------------------------ tasks

    @precondition(lambda self: self.tasks_created < MAX_TASKS)
    @rule(kind=st.sampled_from(["x", "y", "z"]), level=levels,
          priority=st.none() | st.integers(0, 9), channel=st.sampled_from(CHANNELS),
          timeout=st.integers(30, 600))
    def create_task(self, kind: str, level: int, priority: int | None, channel: str,
                    timeout: int) -> None:
        self.tasks_created += 1
        self.run(lambda: self.world.task({"type": kind, "level": level}, priority=priority,
                                         task_channel=channel, timeout=timeout))

    @precondition(lambda self: self.tasks("pending"))
    @rule(data=st.data(), kind=st.sampled_from(["x", "y", "z"]), level=levels,
          priority=st.none() | st.integers(0, 9),
          channel=st.none() | st.sampled_from(CHANNELS))
    def update_task(self, data: st.DataObject, kind: str, level: int, priority: int | None,
                    channel: str | None) -> None:
        task = self.engine.tasks[self.pick(data, self.tasks("pending"))]
        self.run(lambda: self.world.update_task(
            task, attributes={"type": kind, "level": level}, priority=priority,
            task_channel=channel))

    @precondition(lambda self: self.tasks("pending", "reserved"))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        task = self.engine.tasks[self.pick(data, self.tasks("pending", "reserved"))]
        self.run(lambda: self.world.cancel(task))

    @precondition(lambda self: self.reservations("pending"))
    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        reservation = self.engine.reservations[
            self.pick(data, self.reservations("pending"))]
        self.run(lambda: self.world.accept(reservation))

    @precondition(lambda self: self.reservations("pending"))
    @rule(data=st.data(), activity=st.none() | st.sampled_from(ACTIVITIES))
    def reject(self, data: st.DataObject, activity: str | None) -> None:
        reservation = self.engine.reservations[
            self.pick(data, self.reservations("pending"))]
        self.rejected.add((reservation.task_sid, reservation.worker_sid))
        self.run(lambda: self.world.reject(reservation, activity))

    @precondition(lambda self: self.tasks("assigned"))
    @rule(data=st.data(), via_reservation=st.booleans())
    def wrap(self, data: st.DataObject, via_reservation: bool) -> None:
        task = self.engine.tasks[self.pick(data, self.tasks("assigned"))]
        if via_reservation:
            (accepted,) = self.world.reservations(task, "accepted")
            self.run(lambda: self.engine.update_reservation(
                accepted.sid, self.world.now, status="wrapping"))
        else:
            self.run(lambda: self.world.wrap(task))

    @precondition(lambda self: self.tasks("assigned", "wrapping"))
    @rule(data=st.data(), via_reservation=st.booleans())
    def complete(self, data: st.DataObject, via_reservation: bool) -> None:
        task = self.engine.tasks[self.pick(data, self.tasks("assigned", "wrapping"))]
        if via_reservation:
            (held,) = self.world.reservations(task, "accepted", "wrapping")
            self.run(lambda: self.engine.update_reservation(
                held.sid, self.world.now, status="completed"))
        else:
            self.run(lambda: self.world.complete(task))

    @precondition(lambda self: self.reservations("rescinded", "canceled", "timeout", "rejected",
                                                  "accepted", "completed"))
    @rule(data=st.data())
    def accept_a_closed_reservation(self, data: st.DataObject) -> None:
        sid = self.pick(data, self.reservations("rescinded", "canceled", "timeout", "rejected",
                                                "accepted", "completed"))
        status = self.engine.reservations[sid].reservation_status
        error = Gone if status in ("rescinded", "canceled", "timeout") else InvalidParameter
        self.refused(error, lambda: self.engine.update_reservation(
            sid, self.world.now, status="accepted"))

    # ------------------------------------------------------------------ time and restarts

    @rule(seconds=st.integers(0, 25) | st.sampled_from([20, 30, 60, 300]))
    def advance(self, seconds: int) -> None:
        """Move time like the runtime's manual clock: each deadline fires at its own time."""
        target = self.world.now + seconds * SECOND
        engine = self.engine
        while (deadline := engine.next_deadline()) is not None and deadline <= target:
            self.world.clock.now = max(deadline, self.world.now)
            engine.fire_due(self.world.now)
            # Check after every firing: for the runtime each is a command of its own.
            self.last = self.world.take().events
            self.check_all()
        self.world.clock.now = target
        self.last = []

    @rule()
    def restart(self) -> None:
        """Replace the engine by one rebuilt from its stored rows, as after a restart."""
        self.world.engine = rebuild(self.engine, self.world.now)
        self.last = []

    # ------------------------------------------------------------------ invariants

    @invariant()
    def check_all(self) -> None:
        self.check_reservation_states()
        self.check_capacity()
        self.check_new_reservations()
        self.check_nobody_idles_while_a_task_waits()
        self.check_rebuild()

    def check_reservation_states(self) -> None:
        engine = self.engine
        for sid, task in engine.tasks.items():
            statuses = [r.reservation_status for r in engine.task_reservations[sid]]
            pending = statuses.count("pending")
            held = statuses.count("accepted") + statuses.count("wrapping")
            assert held <= 1, f"{sid} has {held} accepted/wrapping reservations"
            expected = {
                "pending": (pending == 0 and held == 0),
                "reserved": (pending >= 1 and held == 0),
                "assigned": (pending == 0 and statuses.count("accepted") == 1),
                "wrapping": (pending == 0 and statuses.count("wrapping") == 1),
                "completed": (pending == 0 and held == 0),
                "canceled": (pending == 0 and held == 0),
            }[task.assignment_status]
            assert expected, f"{sid} is {task.assignment_status} with reservations {statuses}"
            workers = [r.worker_sid for r in engine.task_reservations[sid]
                       if r.reservation_status in RESERVATION_OPEN]
            assert len(workers) == len(set(workers)), f"{sid}: a worker holds it twice"
        for worker_sid, mine in engine.worker_reservations.items():
            assert worker_sid in self.engine.workers, f"reservations of deleted {worker_sid}"
            assert all(r.worker_sid == worker_sid for r in mine.values())

    def check_capacity(self) -> None:
        engine = self.engine
        if not self.MULTI_TASK:
            for worker_sid in engine.workers:
                tasks = sum(1 for r in engine.worker_reservations.get(worker_sid, {})
                            .values() if r.reservation_status in RESERVATION_OPEN)
                assert tasks <= 1, f"single-tasking {worker_sid} holds {tasks} tasks"
        new = {(e.worker_sid, e.data["task_channel_sid"]) for e in self.last
               if e.event_type == "reservation.created"}
        for worker_sid, channels in engine.worker_channels.items():
            for channel_sid, wc in channels.items():
                held = open_reservations(engine, worker_sid, channel_sid)
                accepted = sum(1 for r in engine.worker_reservations.get(
                    worker_sid, {}).values() if r.task_channel_sid == channel_sid
                    and r.reservation_status in ("accepted", "wrapping"))
                assert (wc.reserved, wc.assigned) == (held, accepted)
                key = (worker_sid, channel_sid)
                if key in new and self.MULTI_TASK:
                    assert wc.available and held <= wc.configured_capacity, (
                        f"{worker_sid} got a reservation on {channel_sid} beyond its capacity")
                allowance = max(wc.configured_capacity, self.allowance.get(key, 0))
                assert held <= allowance or not self.MULTI_TASK, (
                    f"{worker_sid} holds {held} on {channel_sid}")
                self.allowance[key] = max(wc.configured_capacity, held)

    def check_new_reservations(self) -> None:
        engine = self.engine
        for event in self.last:
            if event.event_type != "reservation.created":
                continue
            data = event.data
            reservation = engine.reservations[event.reservation_sid]
            # Single-tasking: the event shows the queue's ReservationActivity already.
            activity = engine.activities[
                reservation.previous_activity_sid or data["worker_activity_sid"]]
            assert activity.available, f"reserved {event.worker_sid} while {activity}"
            attributes = json.loads(data["worker_attributes"])
            queue = self.queue_names[data["task_queue_sid"]]
            assert MEMBERSHIP[queue][1](attributes), f"{event.worker_sid} is not in {queue}"
            task = engine.tasks[event.task_sid]
            if task.assignment_status in ("pending", "reserved"):
                assert target_allows(task, attributes)

    def check_nobody_idles_while_a_task_waits(self) -> None:
        engine = self.engine
        for task in engine.tasks.values():
            if task.assignment_status != "pending" or task.task_queue_sid is None:
                continue
            queue = self.queue_names[task.task_queue_sid]
            for worker in engine.workers.values():
                assert not self.eligible(task, worker, queue), (
                    f"{task.sid} waits in {queue} while {worker.friendly_name} could take it")

    def eligible(self, task: Task, worker: Worker, queue: str) -> bool:
        engine = self.engine
        if (task.sid, worker.sid) in self.rejected:
            return False
        if not MEMBERSHIP[queue][1](worker.parsed_attributes):
            return False
        if not engine.activities[worker.activity_sid].available:
            return False
        if not self.MULTI_TASK:
            return not any(r.reservation_status in RESERVATION_OPEN for r in
                           engine.worker_reservations.get(worker.sid, {}).values()) and (
                target_allows(task, worker.parsed_attributes))
        wc = engine.worker_channels[worker.sid][task.task_channel_sid]
        if not wc.available or open_reservations(
                engine, worker.sid, task.task_channel_sid) >= wc.configured_capacity:
            return False
        return target_allows(task, worker.parsed_attributes)

    def check_rebuild(self) -> None:
        rebuilt = rebuild(self.engine, self.world.now)
        state = routing_state(self.engine)
        assert routing_state(rebuilt) == state
        deadline = state["next_deadline"]
        assert deadline is None or deadline > self.world.now, "a timer is overdue"


RoutingMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_routing_invariants = RoutingMachine.TestCase


class SingleTaskingMachine(RoutingMachine):
    """The same, in a single-tasking workspace whose catch-all queue moves workers to
    Reserved and Busy activities."""

    MULTI_TASK = False


SingleTaskingMachine.TestCase.settings = RoutingMachine.TestCase.settings
test_single_tasking_invariants = SingleTaskingMachine.TestCase


def test_the_checks_catch_a_worker_over_capacity() -> None:
    machine = RoutingMachine()
    machine.create_worker("a", 1, "Available")
    machine.create_task("z", 0, None, "default", 60)
    worker = next(iter(machine.engine.workers.values()))
    wc = machine.engine.worker_channels[worker.sid][machine.engine.task_channel("default").sid]
    wc.configured_capacity = 0  # behind the engine's back, as if it had over-reserved
    with pytest.raises(AssertionError, match="beyond its capacity"):
        machine.check_capacity()


def test_the_checks_catch_an_idle_worker_beside_a_waiting_task() -> None:
    machine = RoutingMachine()
    machine.create_worker("b", 1, "Offline")
    machine.create_task("z", 0, None, "default", 60)
    machine.check_all()
    worker = next(iter(machine.engine.workers.values()))
    worker.activity_sid = machine.world.activity["Available"]  # without offering it work
    with pytest.raises(AssertionError, match="could take it"):
        machine.check_nobody_idles_while_a_task_waits()


def test_the_checks_catch_a_rebuild_that_differs() -> None:
    machine = RoutingMachine()
    machine.create_worker("b", 1, "Available")
    machine.create_task("z", 0, None, "default", 60)
    machine.check_rebuild()
    worker = next(iter(machine.engine.workers.values()))
    wc = machine.engine.worker_channels[worker.sid][machine.engine.task_channel("default").sid]
    wc.assigned += 1  # a derived counter that no stored row explains
    with pytest.raises(AssertionError):
        machine.check_rebuild()
