"""Which workers get a task (selection.py, with the lifecycle's reservations): idle order,
multi-reservation, channel capacity and single-tasking."""

from __future__ import annotations

from collections import OrderedDict

from pytest import MonkeyPatch
from routing_helpers import SECOND, T0, World, idle_index, queue_and_workflow, rebuild

from switchboard.routing import selection
from switchboard.routing.changes import ChangeRecorder
from switchboard.routing.model import Task, Worker
from switchboard.routing.selection import Eligibility, WorkerSelector

# ---------------------------------------------------------------------- worker order


def test_longest_idle_worker_first() -> None:
    world = World()
    queue_and_workflow(world)
    a, b, c = world.workers("a", "b", "c")
    first = world.task()
    assert world.holder(first) == "a"
    world.clock.advance(1)
    second = world.task()
    assert world.holder(second) == "b"
    world.accept(world.pending(first))
    world.complete(first)
    # a is free again, but c has waited longest since it was last offered a task.
    world.clock.advance(1)
    third = world.task()
    assert world.holder(third) == "c"
    world.clock.advance(1)
    assert world.holder(world.task()) == "a"
    assert (a.idle_since, b.idle_since, c.idle_since) == (
        T0 + 6 * SECOND, T0 + 4 * SECOND, T0 + 5 * SECOND)


def test_a_rejected_offer_still_counts_as_the_worker_s_last_offer() -> None:
    world = World()
    queue_and_workflow(world)
    world.workers("a", "b", "c")
    task = world.task()
    world.reject(world.pending(task))
    assert world.holder(task) == "b"
    world.clock.advance(1)
    assert world.holder(world.task()) == "c"
    world.clock.advance(1)
    assert world.holder(world.task()) == "a"


# ---------------------------------------------------------------------- multi-reservation


def test_max_reserved_workers_reserves_several_and_the_first_accept_wins() -> None:
    world = World()
    queue_and_workflow(world, max_reserved_workers=2)
    world.workers("a", "b", "c")
    task = world.task()
    assert world.reserved_to(task) == ["a", "b"]
    assert task.assignment_count == 1  # the burst counts once
    waiting = world.task()
    assert world.reserved_to(waiting) == ["c"]
    first, second = world.reservations(task, "pending")
    world.take()
    world.accept(second)
    assert (task.assignment_status, first.reservation_status) == ("assigned", "rescinded")
    assert world.event_types() == ["reservation.accepted", "reservation.rescinded"]
    # a is free again: it does not join the burst of a task already reserved, it takes the
    # next task.
    assert world.reserved_to(waiting) == ["c"]
    assert world.reserved_to(world.task()) == ["a"]


def test_a_multi_reserved_task_returns_to_pending_only_when_all_ended() -> None:
    world = World()
    queue_and_workflow(world, max_reserved_workers=2)
    world.workers("a", "b")
    task = world.task()
    first, second = world.reservations(task, "pending")
    world.reject(first, "Offline")
    assert task.assignment_status == "reserved"
    assert world.reserved_to(task) == ["b"]
    world.reject(second, "Offline")
    assert task.assignment_status == "pending"


def test_multi_reservations_time_out_together() -> None:
    world = World()
    queue = world.queue(max_reserved_workers=3)
    world.workflow(queue, task_reservation_timeout=10)
    world.workers("a", "b")
    task = world.task()
    world.take()
    events = world.advance(10)
    assert events.count("reservation.timeout") == 2
    assert task.assignment_status == "pending"
    assert {world.activity_of(w) for w in world.engine.workers.values()} == {"Offline"}


# ---------------------------------------------------------------------- channels


def test_channel_capacity() -> None:
    world = World()
    queue_and_workflow(world)
    two = world.worker("two", capacity={"default": 2})
    tasks = [world.task() for _ in range(3)]
    assert [world.holder(t) for t in tasks] == ["two", "two", None]
    assert world.channel(two).reserved == 2
    world.accept(world.pending(tasks[0]))
    world.wrap(tasks[0])
    assert world.holder(tasks[2]) is None  # wrapping still holds capacity
    world.complete(tasks[0])
    assert world.holder(tasks[2]) == "two"


def test_capacity_zero_and_unavailable_channels_take_nothing() -> None:
    world = World()
    queue_and_workflow(world)
    zero = world.worker("zero", capacity={"default": 0})
    off = world.worker("off")
    world.set_channel(off, "default", available=False)
    task = world.task()
    assert world.holder(task) is None
    world.set_channel(off, "default", available=True)
    assert world.holder(task) == "off"
    world.clock.advance(1)
    other = world.task()
    assert world.holder(other) is None
    world.set_channel(zero, "default", capacity=1)
    assert world.holder(other) == "zero"


def test_tasks_on_different_channels_are_independent() -> None:
    world = World()
    queue_and_workflow(world)
    agent = world.worker("agent", capacity={"chat": 2})
    voice = world.task(task_channel="voice")
    chats = [world.task(task_channel="chat") for _ in range(3)]
    assert world.holder(voice) == "agent"
    assert [world.holder(t) for t in chats] == ["agent", "agent", None]
    world.accept(world.pending(voice))
    world.complete(voice)
    assert world.holder(chats[2]) is None  # voice capacity does not serve chat
    assert (world.channel(agent, "voice").reserved, world.channel(agent, "chat").reserved) == (
        0, 2)


def test_changing_a_waiting_task_s_channel() -> None:
    world = World()
    queue_and_workflow(world)
    agent = world.worker("agent")
    world.set_channel(agent, "default", available=False)
    task = world.task()
    assert world.holder(task) is None
    world.update_task(task, task_channel="sms")
    assert world.holder(task) == "agent"
    assert world.pending(task).task_channel_sid == world.engine.task_channel("sms").sid


# ---------------------------------------------------------------------- single-tasking


def single_tasking() -> World:
    world = World(multi_task_enabled=False)
    reserved = world.new_activity("Reserved", False)
    busy = world.new_activity("Busy", False)
    queue_and_workflow(world, reservation_activity_sid=reserved, assignment_activity_sid=busy)
    world.workers("alice", "bob")
    world.take()
    return world


def test_single_tasking_moves_the_worker_through_the_queue_activities() -> None:
    world = single_tasking()
    alice = world.named("alice")
    task = world.task(task_channel="voice")
    assert world.event_types()[-2:] == ["worker.activity.update", "reservation.created"]
    assert world.activity_of(alice) == "Reserved"
    reservation = world.pending(task)
    assert reservation.previous_activity_sid == world.activity["Available"]
    world.accept(reservation)
    assert world.event_types() == ["worker.activity.update", "reservation.accepted"]
    assert world.activity_of(alice) == "Busy"
    world.complete(task)
    assert world.activity_of(alice) == "Busy"  # the application moves it back


def test_single_tasking_reject_restores_the_previous_activity() -> None:
    world = single_tasking()
    alice = world.named("alice")
    task = world.task()
    world.reject(world.pending(task))
    assert world.activity_of(alice) == "Available"
    assert world.holder(task) == "bob"
    other = world.task()
    assert world.holder(other) == "alice"
    world.reject(world.pending(other), "Offline")
    assert world.activity_of(alice) == "Offline"


def test_single_tasking_reject_pending_keeps_the_requested_activity() -> None:
    world = single_tasking()
    alice = world.named("alice")
    task = world.task()
    world.set_activity(alice, "Offline", reject_pending_reservations=True)
    assert world.activity_of(alice) == "Offline"
    assert world.holder(task) == "bob"
    assert world.tasks_of(alice, "pending") == []


def test_single_tasking_one_task_at_a_time_whatever_the_channel() -> None:
    world = World(multi_task_enabled=False)
    queue_and_workflow(world)  # no queue activities: the worker stays Available
    alice = world.worker("alice", capacity={"chat": 3})
    voice = world.task(task_channel="voice")
    chat = world.task(task_channel="chat")
    assert (world.holder(voice), world.holder(chat)) == ("alice", None)
    assert world.activity_of(alice) == "Available"
    world.accept(world.pending(voice))
    world.complete(voice)
    assert world.holder(chat) == "alice"


def test_multitasking_ignores_the_queue_activities() -> None:
    world = World()
    busy = world.new_activity("Busy", False)
    queue_and_workflow(world, reservation_activity_sid=busy, assignment_activity_sid=busy)
    alice = world.worker("alice")
    task = world.task()
    world.accept(world.pending(task))
    assert world.activity_of(alice) == "Available"


def test_multi_task_enabled_cannot_be_turned_off() -> None:
    from switchboard.routing.errors import InvalidParameter

    world = World()
    world.refused(InvalidParameter, lambda: world.engine.update_workspace(
        world.now, multi_task_enabled=False))


# ---------------------------------------------------------------------- idle order


def test_a_worker_made_available_through_its_reservation_takes_waiting_work() -> None:
    world = World()
    queue_and_workflow(world)
    agent = world.worker("agent")
    voice = world.task(task_channel="voice")
    reservation = world.pending(voice)
    world.accept(reservation)
    world.set_activity(agent, "Offline")
    chat = world.task(task_channel="chat")
    assert world.holder(chat) is None
    world.engine.update_reservation(reservation.sid, world.now, status=None,
                                    worker_activity_sid=world.activity["Available"])
    assert world.activity_of(agent) == "Available"
    assert world.holder(chat) == "agent"


def test_a_worker_coming_back_goes_to_the_back_of_the_idle_order() -> None:
    # selection.py: a worker coming back from an unavailable activity or finishing its last task
    # goes to the back.
    world = World()
    queue_and_workflow(world)
    a, _, _ = world.workers("a", "b", "c")
    world.set_activity(a, "Offline")
    world.set_activity(a, "Available")
    assert [world.holder(world.task()) for _ in range(3)] == ["b", "c", "a"]


def test_a_slot_of_many_idle_workers_keeps_the_same_order(monkeypatch: MonkeyPatch) -> None:
    # selection.py: from _ORDERED_FROM idle workers a slot's index is an OrderedDict (a dict
    # walked from the front steps over removed workers' slots); the order stays the same.
    monkeypatch.setattr(selection, "_ORDERED_FROM", 3)
    world = World()
    queue_and_workflow(world)
    a, _, _, _ = world.workers("a", "b", "c", "d")
    assert all(isinstance(entries, OrderedDict) for entries in idle_index(world.engine).values())
    world.set_activity(a, "Offline")
    world.set_activity(a, "Available")
    first = world.task()
    assert world.holder(first) == "b"
    world.accept(world.pending(first))
    world.complete(first)  # b goes to the back
    world.clock.advance(1)
    assert [world.holder(world.task()) for _ in range(4)] == ["c", "d", "a", "b"]


def test_the_idle_order_survives_a_restart() -> None:
    world = World()
    queue_and_workflow(world)
    a, _, _ = world.workers("a", "b", "c")
    world.set_activity(a, "Offline")
    world.set_activity(a, "Available")
    world.engine = rebuild(world.engine, world.now)
    assert [world.holder(world.task()) for _ in range(3)] == ["b", "c", "a"]


# ---------------------------------------------------------------------- other strategies


class ByName:
    """A selection strategy written against ``WorkerSelector`` alone: by name, not idle time."""

    def __init__(self, eligibility: Eligibility, changes: ChangeRecorder) -> None:
        self.eligibility = eligibility
        self.ready: set[str] = set()

    def refresh(self, worker: Worker, now: int | None = None) -> None:
        activity = self.eligibility.activities.get(worker.activity_sid)
        if activity is not None and activity.available and (
                self.eligibility.free_channels(worker)):
            self.ready.add(worker.sid)
        else:
            self.ready.discard(worker.sid)

    def forget(self, worker: Worker) -> None:
        self.ready.discard(worker.sid)

    def select(self, task: Task, wanted: int, now: int, exclude: str | None) -> list[Worker]:
        workers = self.eligibility.workers
        fit = [workers[sid] for sid in self.ready
               if sid != exclude and self.eligibility.fits(task, workers[sid], now)]
        return sorted(fit, key=lambda w: w.friendly_name)[:wanted]


def test_another_selection_strategy_plugs_in() -> None:
    world = World()
    lifecycle = world.engine.lifecycle
    strategy: WorkerSelector = ByName(lifecycle.eligibility, world.engine.changes)
    lifecycle.selector = strategy
    queue_and_workflow(world, target="skills HAS 'support'")
    world.workers("carol", "alice", "bob", skills=["support"])  # carol idle longest
    world.worker("aaron", skills=["sales"])  # first by name, but not in the queue
    first, second = world.task(), world.task()
    assert (world.holder(first), world.holder(second)) == ("alice", "bob")
    world.accept(world.pending(first))
    world.complete(first)  # alice is free again: the next task is hers, by name
    assert world.holder(world.task()) == "alice"
