"""routing/explain.py: a task's path through its workflow, read from its events, and how its
reservation was decided."""

from __future__ import annotations

from typing import Any

from routing_helpers import World

from switchboard.routing import explain
from switchboard.routing.model import Event, Task


class Log:
    """Keeps every event of the world (``World.advance`` hands them out and drops them)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.events: list[Event] = []

    def pull(self) -> None:
        self.events += self.world.take().events

    def advance(self, seconds: float) -> None:
        self.pull()
        engine, clock = self.world.engine, self.world.clock
        end = clock.now + round(seconds * 1000)
        while (deadline := engine.next_deadline()) is not None and deadline <= end:
            clock.now = max(deadline, clock.now)
            engine.fire_due(clock.now)
            self.pull()
        clock.now = end

    def path(self, task: Task) -> list[explain.Step]:
        self.pull()
        events = [explain.TaskEvent(e.event_type, e.event_date, e.data, e.worker_sid,
                                    e.reservation_sid)
                  for e in self.events if e.task_sid == task.sid]
        assert task.config is not None or task.workflow_sid is None
        return explain.path(events, task.config)


def kinds(steps: list[explain.Step]) -> list[tuple[Any, ...]]:
    return [(s.kind, s.filter_name, s.target_index) for s in steps]


def cascade(world: World, first: dict[str, Any]) -> tuple[str, str]:
    """Filter 'Nothing' (never matches), then 'Sales' with targets ``first`` -> q1 and q2."""
    q1 = world.queue("one", "team == 'one'")
    q2 = world.queue("two", "team == 'two'")
    world.workflow({"filters": [
        {"filter_friendly_name": "Nothing", "expression": "type == 'x'",
         "targets": [{"queue": q1.sid}]},
        {"filter_friendly_name": "Sales", "expression": "type == 'sales'",
         "targets": [{"queue": q1.sid, **first}, {"queue": q2.sid}]},
    ]})
    return q1.sid, q2.sid


def test_a_target_that_times_out_then_the_next_one_reserves() -> None:
    world = World()
    log = Log(world)
    q1, q2 = cascade(world, {"timeout": 30})
    world.worker("alice", activity="Offline", team="one")
    bob = world.worker("bob", team="two")
    task = world.task({"type": "sales"})
    log.advance(30)
    steps = log.path(task)
    assert kinds(steps) == [
        ("created", None, None), ("workflow_entered", None, None),
        ("filter_skipped", "Nothing", None), ("filter_matched", "Sales", None),
        ("target_entered", "Sales", 0), ("target_timeout", "Sales", 0),
        ("target_entered", "Sales", 1), ("reserved", "Sales", 1)]
    assert [s.task_queue_sid for s in steps if s.kind.startswith("target")] == [q1, q1, q2]
    assert steps[2].expression == "type == 'x'" and "false" in steps[2].reason
    assert "30 s" in steps[5].reason and steps[5].time == steps[4].time + 30_000
    assert steps[-1].worker_sid == bob.sid
    decision = explain.decision(world.engine, task, world.now)
    assert decision is not None
    assert (decision.as_of, decision.strategy, decision.how, decision.worker) == (
        "reservation", "longest_idle", "task_offered", bob)
    assert decision.task_queue_sid == q2 and "idle longest" in decision.reason


def test_a_target_skipped_by_skip_if() -> None:
    world = World()
    log = Log(world)
    cascade(world, {"skip_if": "workers.available == 0"})
    world.worker("bob", activity="Offline", team="two")
    task = world.task({"type": "sales"})
    steps = log.path(task)
    assert kinds(steps)[-3:] == [("target_entered", "Sales", 0), ("target_skipped", "Sales", 0),
                                 ("target_entered", "Sales", 1)]
    assert "workers.available == 0" in steps[-2].reason
    decision = explain.decision(world.engine, task, world.now)
    assert decision is not None and decision.as_of == "now" and decision.worker is None
    assert decision.excluded == {"not_available": 1}
    assert "No eligible worker" in decision.reason


def test_the_last_target_skipped_and_the_workflow_ends() -> None:
    world = World()
    log = Log(world)
    q = world.queue("q", "team == 'one'")
    world.workflow({"filters": [{"filter_friendly_name": "Only", "expression": "1==1",
                                 "targets": [{"queue": q.sid, "skip_if": "1==1"}]}]})
    task = world.task({})
    assert kinds(log.path(task))[-4:] == [
        ("target_entered", "Only", 0), ("target_skipped", "Only", 0),
        ("workflow_timeout", None, None), ("canceled", None, None)]
    assert explain.decision(world.engine, task, world.now) is None


def test_no_filter_matches_so_the_default_filter() -> None:
    world = World()
    log = Log(world)
    q = world.queue("q")
    world.workflow({"filters": [{"filter_friendly_name": "VIP", "expression": "vip == true",
                                 "targets": [{"queue": q.sid}]}],
                    "default_filter": {"queue": q.sid}})
    task = world.task({"vip": False})
    assert kinds(log.path(task))[2:] == [("filter_skipped", "VIP", None),
                                         ("default_filter", "Default Filter", None),
                                         ("target_entered", "Default Filter", 0)]


def test_order_by_ranks_the_workers_and_says_why() -> None:
    world = World()
    q = world.queue("q")
    world.workflow({"filters": [{"filter_friendly_name": "All", "expression": "1==1",
                                 "targets": [{"queue": q.sid,
                                              "order_by": "worker.level DESC"}]}]})
    world.worker("low", level=1)
    high = world.worker("high", level=5)
    world.worker("mid", level=3)
    world.worker("away", activity="Offline", level=9)
    task = world.task({})
    decision = explain.decision(world.engine, task, world.now)
    assert decision is not None and decision.strategy == "order_by"
    assert decision.worker == high and decision.order_by == "worker.level DESC"
    assert [(c.worker.friendly_name, c.rank, c.order_by) for c in decision.candidates] == [
        ("mid", 1, [3]), ("low", 2, [1])]
    assert decision.excluded == {"not_available": 1} and decision.members == 4
    assert "order_by" in decision.reason and "5" in decision.reason


def test_a_known_worker_by_target_expression() -> None:
    world = World()
    q = world.queue("q")
    world.workflow({"filters": [{"filter_friendly_name": "Mine", "expression": "1==1",
                                 "targets": [{"queue": q.sid, "expression":
                                              "worker.sid == task.targetWorker"}]}]})
    world.worker("alice")
    bob = world.worker("bob")
    task = world.task({"targetWorker": bob.sid})
    decision = explain.decision(world.engine, task, world.now)
    assert decision is not None and decision.worker == bob
    assert decision.strategy == "known_worker"
    assert decision.excluded == {"target_expression_false": 1}
    assert "worker.sid == task.targetWorker" in decision.reason


def test_a_known_worker_by_known_worker_sid_who_is_busy() -> None:
    world = World()
    q = world.queue("q")
    world.workflow({"filters": [{"filter_friendly_name": "Mine", "expression": "1==1",
                                 "targets": [{"queue": q.sid,
                                              "known_worker_sid": "task.agent"}]}]})
    bob = world.worker("bob", activity="Offline")
    task = world.task({"agent": bob.sid})
    decision = explain.decision(world.engine, task, world.now)
    assert decision is not None and decision.how is None and decision.strategy == "known_worker"
    assert "bob" in decision.reason and "activity not available" in decision.reason
    world.set_activity(bob, "Available")
    decision = explain.decision(world.engine, task, world.now)
    assert decision is not None and (decision.worker, decision.how) == (bob, "known_worker")
    assert "task.agent" in decision.reason


def test_round_robin_and_a_worker_that_became_free() -> None:
    world = World()
    q = world.queue("q")
    world.workflow({"filters": [{"filter_friendly_name": "All", "expression": "1==1",
                                 "targets": [{"queue": q.sid,
                                              "worker_selection": "round_robin"}]}]})
    world.workers("a", "b")
    first = world.task({})
    decision = explain.decision(world.engine, first, world.now)
    assert decision is not None and decision.strategy == "round_robin"
    assert decision.how == "task_offered" and "circular order" in decision.reason
    # Nobody is free for the next task until a worker comes back: it takes the task.
    world.set_activity(world.named("b"), "Offline")
    waiting = world.task({})
    assert waiting.assignment_status == "pending"
    world.set_activity(world.named("b"), "Available")
    decision = explain.decision(world.engine, waiting, world.now)
    assert decision is not None and decision.worker == world.named("b")
    assert decision.how == "worker_became_available" and decision.as_of == "reservation"


def test_a_rebuilt_engine_explains_from_the_state_now() -> None:
    world = World()
    q = world.queue("q")
    world.workflow(q)
    world.workers("a")
    task = world.task({})
    task.decision = None  # what a rebuild from the store leaves
    decision = explain.decision(world.engine, task, world.now)
    assert decision is not None and decision.as_of == "now" and decision.how is None


def test_a_rejection_then_the_next_worker_and_a_re_evaluation() -> None:
    world = World()
    log = Log(world)
    q = world.queue("q")
    world.workflow({"filters": [
        {"filter_friendly_name": "VIP", "expression": "vip == true", "targets": [{"queue": q.sid}]},
        {"filter_friendly_name": "Rest", "expression": "1==1", "targets": [{"queue": q.sid}]},
    ]})
    a, b = world.workers("a", "b")
    a_offline = world.task({"vip": False})
    world.reject(world.pending(a_offline), activity="Offline")
    assert [(s.kind, s.worker_sid) for s in log.path(a_offline)][-3:] == [
        ("reserved", a.sid), ("reservation_rejected", a.sid), ("reserved", b.sid)]
    decision = explain.decision(world.engine, a_offline, world.now)
    assert decision is not None and decision.worker == b and decision.how == "task_offered"
    assert decision.excluded == {"not_available": 1}
    world.set_activity(b, "Offline")  # b goes away: its reservation is rejected below
    world.reject(world.pending(a_offline), activity="Offline")
    waiting = explain.decision(world.engine, a_offline, world.now)
    assert waiting is not None and (waiting.worker, waiting.as_of) == (None, "now")
    assert waiting.excluded == {"not_available": 2}
    world.update_task(a_offline, attributes={"vip": True})
    steps = log.path(a_offline)
    assert kinds(steps)[-4:] == [("reservation_rejected", "Rest", 0),
                                 ("workflow_entered", None, None),
                                 ("filter_matched", "VIP", None), ("target_entered", "VIP", 0)]
    assert "again" in steps[-3].reason
