"""Workflow routing: filters, target cascades, skip_if, known workers, order_by, re-evaluation,
RoutingTarget and the taskrouter time variables."""

from __future__ import annotations

from typing import Any

from routing_helpers import SECOND, T0, World, only, rebuild

from switchboard.routing.lifecycle import WORKFLOW_TIMEOUT_REASON
from switchboard.routing.model import TaskQueue


def team_queues(world: World, *teams: str) -> dict[str, TaskQueue]:
    return {team: world.queue(team, f"team == '{team}'") for team in teams}


def filters(*items: tuple[str, list[dict[str, Any]]], default: TaskQueue | None = None
            ) -> dict[str, Any]:
    routing: dict[str, Any] = {"filters": [
        {"filter_friendly_name": f"f{i}", "expression": expression, "targets": targets}
        for i, (expression, targets) in enumerate(items)]}
    if default is not None:
        routing["default_filter"] = {"queue": default.sid}
    return routing


# ---------------------------------------------------------------------- filters


def test_the_first_matching_filter_wins() -> None:
    world = World()
    q = team_queues(world, "a", "b", "c")
    workflow = world.workflow(filters(
        ("type == 'x'", [{"queue": q["a"].sid}]),
        ("type == 'x' OR vip == true", [{"queue": q["b"].sid}]),
        default=q["c"]))
    for team in "abc":
        world.worker(team, team=team)
    world.take()

    x = world.task({"type": "x", "vip": True}, workflow=workflow)
    events = world.events()
    matched = next(e for e in events if e.event_type == "workflow.target-matched")
    assert matched.data["workflow_filter_name"] == "f0"
    assert matched.data["workflow_filter_expression"] == "type == 'x'"
    assert (x.task_queue_sid, x.filter_index, world.holder(x)) == (q["a"].sid, 0, "a")

    vip = world.task({"type": "y", "vip": True}, workflow=workflow)
    assert (vip.task_queue_sid, vip.filter_index, world.holder(vip)) == (q["b"].sid, 1, "b")
    world.take()

    other = world.task({"type": "y"}, workflow=workflow)
    assert (other.task_queue_sid, other.filter_index, world.holder(other)) == (
        q["c"].sid, -1, "c")
    matched = next(e for e in world.events() if e.event_type == "workflow.target-matched")
    assert matched.data["workflow_filter_name"] == "Default Filter"


def test_no_matching_filter_and_no_default_cancels_at_once() -> None:
    # lifecycle.py: "A task that matches no filter and has no default filter is canceled at once."
    world = World()
    q = world.queue()
    workflow = world.workflow(filters(("type == 'x'", [{"queue": q.sid}])))
    world.take()
    task = world.task({"type": "y"}, workflow=workflow)
    assert (task.assignment_status, task.reason) == ("canceled", WORKFLOW_TIMEOUT_REASON)
    assert world.event_types() == [
        "task.created", "workflow.entered", "workflow.timeout", "task.canceled"]


# ---------------------------------------------------------------------- target cascades


def cascade(world: World) -> tuple[dict[str, TaskQueue], Any]:
    q = team_queues(world, "q1", "q2", "q3", "other")
    workflow = world.workflow(filters(
        ("route == 'other'", [{"queue": q["other"].sid}]),
        ("route == 'cascade'", [{"queue": q["q1"].sid, "timeout": 10, "skip_if":
                                 "workers.available == 0 AND workers.unavailable == 0"},
                                {"queue": q["q2"].sid, "timeout": 10},
                                {"queue": q["q3"].sid}])))
    world.take()
    return q, workflow


def test_targets_cascade_on_cumulative_timeouts() -> None:
    world = World()
    q, workflow = cascade(world)
    world.worker("one", "Offline", team="q1")  # keeps skip_if false: q1 has a worker
    world.take()
    task = world.task({"route": "cascade"}, workflow=workflow)
    assert task.task_queue_sid == q["q1"].sid
    assert task.step_deadline == task.date_created + 10 * SECOND
    world.take()

    assert world.advance(9.999) == []
    assert world.advance(0.001) == [
        "task-queue.timeout", "workflow.target-matched", "task-queue.moved",
        "task-queue.entered"]
    assert (task.task_queue_sid, task.target_index) == (q["q2"].sid, 1)
    assert task.step_deadline == task.date_created + 20 * SECOND

    assert world.advance(9.999) == []
    world.advance(0.001)
    assert (task.task_queue_sid, task.target_index) == (q["q3"].sid, 2)
    assert task.step_deadline is None
    assert world.engine.next_deadline() == task.date_created + task.timeout * SECOND


def test_a_step_deadline_counts_from_task_creation_not_from_entering_the_step() -> None:
    world = World()
    q, workflow = cascade(world)
    task = world.task({"route": "other"}, workflow=workflow)
    assert task.task_queue_sid == q["other"].sid
    world.advance(8)
    # Re-evaluated at age 8: q1 is skipped (nobody in it), so q2 is entered at age 8...
    world.update_task(task, attributes={"route": "cascade"})
    assert (task.task_queue_sid, task.target_index) == (q["q2"].sid, 1)
    # ...and its deadline is the sum of both timeouts from creation: age 20, 12 s from now.
    assert task.step_deadline == task.date_created + 20 * SECOND
    world.advance(11.999)
    assert task.task_queue_sid == q["q2"].sid
    world.advance(0.001)
    assert (world.age(task), task.task_queue_sid) == (20, q["q3"].sid)


def test_a_reservation_in_progress_at_a_step_deadline_ends_the_step_when_it_ends() -> None:
    # lifecycle.py: "a reservation in progress at a step's deadline is left alone and the step
    # ends when the task is waiting again".
    world = World()
    q, workflow = cascade(world)
    world.worker("one", team="q1")
    world.worker("three", team="q3")
    task = world.task({"route": "cascade"}, workflow=workflow)
    reservation = world.pending(task)
    world.take()
    assert world.advance(15) == []
    assert (task.assignment_status, task.task_queue_sid) == ("reserved", q["q1"].sid)
    world.reject(reservation)
    assert only(world.events(), "task-queue.timeout", "task-queue.moved") == [
        "task-queue.timeout", "task-queue.moved"]
    assert (task.task_queue_sid, task.step_deadline) == (
        q["q2"].sid, task.date_created + 20 * SECOND)
    world.advance(5)
    assert task.task_queue_sid == q["q3"].sid
    assert world.holder(task) == "three"


def test_accepting_ends_the_cascade() -> None:
    world = World()
    _, workflow = cascade(world)
    world.worker("one", team="q1")
    task = world.task({"route": "cascade"}, workflow=workflow)
    world.accept(world.pending(task))
    assert task.step_deadline is None
    world.take()
    assert world.advance(60) == []
    assert task.target_index == 0


def test_target_priority_overrides_the_task_priority_and_later_targets_keep_it() -> None:
    world = World()
    q = team_queues(world, "q1", "q2")
    workflow = world.workflow(filters(("1==1", [
        {"queue": q["q1"].sid, "priority": 10, "timeout": 10},
        {"queue": q["q2"].sid, "timeout": 10},
        {"priority": "3"}])))
    task = world.task(workflow=workflow, priority=1)
    assert task.priority == 10
    world.advance(10)
    assert (task.task_queue_sid, task.priority) == (q["q2"].sid, 10)
    # The last target inherits its queue: no move, no new queue entry.
    assert world.advance(10) == ["task-queue.timeout", "workflow.target-matched"]
    assert (task.task_queue_sid, task.priority) == (q["q2"].sid, 3)


def test_target_expression_compares_task_and_worker_attributes() -> None:
    world = World()
    q = world.queue()
    workflow = world.workflow(filters(("1==1", [
        {"queue": q.sid, "expression": "task.language IN worker.languages AND "
                                        "worker.level >= task.level"}])))
    world.workers("alice", languages=["en"], level=5)
    world.workers("bob", languages=["fr", "en"], level=1)
    world.workers("carol", languages=["fr"], level=3)
    french = world.task({"language": "fr", "level": 2}, workflow=workflow)
    assert world.holder(french) == "carol"
    german = world.task({"language": "de", "level": 0}, workflow=workflow)
    assert world.holder(german) is None
    english = world.task({"language": "en", "level": 1}, workflow=workflow)
    assert world.holder(english) == "alice"


def test_default_filter_after_a_skipped_filter_but_not_after_a_timeout() -> None:
    world = World()
    q = team_queues(world, "q1", "fallback")
    workflow = world.workflow(filters(
        ("kind == 'skip'", [{"queue": q["q1"].sid, "skip_if": "workers.available == 0"}]),
        ("kind == 'wait'", [{"queue": q["q1"].sid, "timeout": 30}]),
        default=q["fallback"]))
    world.worker("fallback", "Offline", team="fallback")
    world.take()

    skipped = world.task({"kind": "skip"}, workflow=workflow)
    assert skipped.task_queue_sid == q["fallback"].sid
    assert skipped.filter_index == -1
    assert only(world.events(), "task-queue.entered", "workflow.skipped",
                "workflow.target-matched") == [
        "workflow.target-matched", "task-queue.entered", "workflow.skipped",
        "workflow.target-matched", "task-queue.entered"]

    waiting = world.task({"kind": "wait"}, workflow=workflow)
    world.take()
    assert world.advance(30) == [
        "task-queue.timeout", "workflow.timeout", "task.canceled"]
    assert (waiting.assignment_status, waiting.reason) == ("canceled", WORKFLOW_TIMEOUT_REASON)
    assert skipped.assignment_status == "pending"


def test_a_timeout_moves_on_to_the_next_matching_filter() -> None:
    world = World()
    q = team_queues(world, "q1", "q2", "q3")
    workflow = world.workflow(filters(
        ("level >= 1", [{"queue": q["q1"].sid, "timeout": 10}]),
        ("level >= 5", [{"queue": q["q2"].sid}]),
        ("level >= 2", [{"queue": q["q3"].sid, "timeout": 10}])))
    task = world.task({"level": 3}, workflow=workflow)
    assert task.task_queue_sid == q["q1"].sid
    world.advance(10)
    assert (task.task_queue_sid, task.filter_index) == (q["q3"].sid, 2)
    # A later filter's timeouts count from when that filter was entered.
    assert task.step_deadline == world.now + 10 * SECOND
    world.take()
    assert world.advance(10) == ["task-queue.timeout", "workflow.timeout", "task.canceled"]


def test_skip_if_only_when_no_reservation_can_be_made_now() -> None:
    world = World()
    q = team_queues(world, "q1", "q2")
    workflow = world.workflow(filters(("1==1", [
        {"queue": q["q1"].sid, "skip_if": "workers.available == 0"},
        {"queue": q["q2"].sid}])))
    busy = world.worker("busy", team="q1", capacity={"default": 0})
    world.worker("two", team="q2")
    # An available worker who cannot take it counts as available: the step is not skipped.
    first = world.task(workflow=workflow)
    assert (first.task_queue_sid, world.holder(first)) == (q["q1"].sid, None)
    world.set_activity(busy, "Offline")
    second = world.task(workflow=workflow)
    assert (second.task_queue_sid, world.holder(second)) == (q["q2"].sid, "two")

    always = world.workflow(filters(("1==1", [
        {"queue": q["q1"].sid, "skip_if": "1==1"}, {"queue": q["q2"].sid}])), "always")
    world.set_channel(busy, "default", capacity=1)
    world.set_activity(busy, "Available")
    assert world.holder(first) == "busy"
    world.set_channel(busy, "default", capacity=2)
    third = world.task(workflow=always)
    assert (third.task_queue_sid, world.holder(third)) == (q["q1"].sid, "busy")
    fourth = world.task(workflow=always)
    assert fourth.task_queue_sid == q["q2"].sid


def test_skip_if_counts_workers_by_activity() -> None:
    world = World()
    q = team_queues(world, "q1", "q2")
    break_sid = world.new_activity("Break", False)
    workflow = world.workflow(filters(("1==1", [
        {"queue": q["q1"].sid, "skip_if": f"workers.{break_sid} >= 2"},
        {"queue": q["q2"].sid}])))
    world.worker("a", "Break", team="q1")
    assert world.task(workflow=workflow).task_queue_sid == q["q1"].sid
    world.worker("b", "Break", team="q1")
    assert world.task(workflow=workflow).task_queue_sid == q["q2"].sid


# ---------------------------------------------------------------------- known workers


def test_known_worker_sid_reserves_that_worker_only() -> None:
    world = World()
    q = world.queue()
    workflow = world.workflow(filters(("1==1", [
        {"queue": q.sid, "known_worker_sid": "task.agent", "timeout": 30},
        {"queue": q.sid}])))
    alice, bob = world.workers("alice", "bob")
    for_bob = world.task({"agent": bob.sid}, workflow=workflow)
    assert world.reserved_to(for_bob) == ["bob"]
    world.reject(world.pending(for_bob))
    assert world.holder(for_bob) is None  # alice is idle but the task is for bob
    world.advance(30)  # the next target is for anyone
    assert world.holder(for_bob) == "alice"

    world.set_activity(bob, "Offline")
    later = world.task({"agent": bob.sid}, workflow=workflow)
    assert world.holder(later) is None
    world.set_activity(bob, "Available")
    assert world.holder(later) == "bob"
    nobody = world.task({"agent": None}, workflow=workflow)
    assert (nobody.assignment_status, world.holder(nobody)) == ("pending", None)
    del alice


def test_known_worker_friendly_name() -> None:
    world = World()
    q = world.queue()
    workflow = world.workflow(filters(("1==1", [
        {"queue": q.sid, "known_worker_friendly_name": "task.agent.name"}])))
    world.workers("alice", "bob")
    task = world.task({"agent": {"name": "Bob"}}, workflow=workflow)
    assert world.holder(task) == "bob"


def test_a_known_worker_outside_the_step_queue_does_not_get_the_task() -> None:
    world = World()
    q = team_queues(world, "sales")
    workflow = world.workflow(filters(("1==1", [
        {"queue": q["sales"].sid, "known_worker_sid": "task.agent"}])))
    bob = world.worker("bob", team="support")
    task = world.task({"agent": bob.sid}, workflow=workflow)
    assert (task.assignment_status, world.holder(task)) == ("pending", None)
    world.set_attributes(bob, team="sales")
    assert world.holder(task) == "bob"


# ---------------------------------------------------------------------- order_by


def test_order_by_integer_attributes_with_missing_ones_last() -> None:
    world = World()
    q = world.queue(max_reserved_workers=5)
    desc = world.workflow(filters(("order == 'desc'", [
        {"queue": q.sid, "order_by": "worker.level DESC"}]),
        ("order == 'asc'", [{"queue": q.sid, "order_by": "worker.level ASC, worker.age DESC"}])))
    world.workers("no-level")
    world.workers("one", level=1, age=30)
    world.workers("three", level=3)
    world.workers("text", level="high")
    world.workers("one-older", level=1, age=50)
    task = world.task({"order": "desc"}, workflow=desc)
    # Ties and missing values fall back to the idle order (creation order here).
    assert world.reserved_to(task) == ["three", "one", "one-older", "no-level", "text"]
    world.cancel(task)
    task = world.task({"order": "asc"}, workflow=desc)
    assert world.reserved_to(task) == ["one-older", "one", "three", "no-level", "text"]


# ---------------------------------------------------------------------- re-evaluation


def test_changing_task_attributes_re_evaluates_the_workflow() -> None:
    world = World()
    q = team_queues(world, "sales", "support")
    workflow = world.workflow(filters(
        ("type == 'sales'", [{"queue": q["sales"].sid}]),
        ("type == 'support'", [{"queue": q["support"].sid}])))
    world.worker("sam", team="support")
    task = world.task({"type": "sales"}, workflow=workflow)
    assert (task.task_queue_sid, world.holder(task)) == (q["sales"].sid, None)
    world.take()
    world.update_task(task, attributes={"type": "support"})
    assert world.event_types() == [
        "task.updated", "workflow.entered", "workflow.target-matched", "task-queue.moved",
        "task-queue.entered", "reservation.created"]
    assert (task.task_queue_sid, world.holder(task)) == (q["support"].sid, "sam")
    # A reserved task is not re-routed by an attribute change.
    world.update_task(task, attributes={"type": "sales"})
    assert (task.task_queue_sid, task.assignment_status) == (q["support"].sid, "reserved")


def test_attribute_change_within_the_same_filter_keeps_the_step() -> None:
    world = World()
    q = world.queue()
    workflow = world.workflow(filters(("1==1", [
        {"queue": q.sid, "timeout": 30, "expression": "task.level <= worker.level"},
        {"queue": q.sid}])))
    world.worker("low", level=1)
    task = world.task({"level": 2}, workflow=workflow)
    world.advance(10)
    assert world.holder(task) is None
    world.take()
    world.update_task(task, attributes={"level": 1})
    assert world.event_types() == ["task.updated", "reservation.created"]
    assert task.step_deadline == task.date_created + 30 * SECOND


def test_re_evaluate_tasks_on_workflow_update() -> None:
    world = World()
    q = team_queues(world, "old", "new")
    workflow = world.workflow(q["old"])
    world.worker("nina", team="new")
    kept = world.task(workflow=workflow)
    world.engine.update_workflow(
        workflow.sid, world.now, configuration=_json({"default_filter": {"queue": q["new"].sid}}))
    assert (kept.task_queue_sid, world.holder(kept)) == (q["old"].sid, None)
    moved = world.task(workflow=workflow)
    assert (moved.task_queue_sid, world.holder(moved)) == (q["new"].sid, "nina")

    world.engine.update_workflow(
        workflow.sid, world.now, configuration=_json({"default_filter": {"queue": q["new"].sid}}),
        re_evaluate_tasks=True)
    assert kept.task_queue_sid == q["new"].sid
    assert kept.assignment_status == "pending"  # nina is busy with the other one
    world.accept(world.pending(moved))
    world.complete(moved)
    assert world.holder(kept) == "nina"


def _json(routing: dict[str, Any]) -> str:
    import json

    return json.dumps({"task_routing": routing})


# ---------------------------------------------------------------------- RoutingTarget


def test_routing_target_worker_ignoring_capacity() -> None:
    world = World()
    q = world.queue()
    world.workflow(q)
    alice = world.worker("alice", "Offline")
    task = world.task(routing_target=alice.sid)
    assert task.ignore_capacity is True
    assert (task.assignment_status, world.holder(task)) == ("reserved", "alice")
    assert task.task_queue_sid is None
    second = world.task(routing_target=alice.sid)
    assert world.holder(second) == "alice"
    assert world.channel(alice).reserved == 2  # beyond its capacity of 1


def test_routing_target_worker_respecting_capacity() -> None:
    world = World()
    world.workflow(world.queue())
    alice = world.worker("alice", "Offline")
    first = world.task(routing_target=alice.sid, ignore_capacity=False)
    second = world.task(routing_target=alice.sid, ignore_capacity=False)
    assert (first.assignment_status, world.holder(first)) == ("pending", None)
    world.set_activity(alice, "Available")
    assert (world.holder(first), world.holder(second)) == ("alice", None)
    world.accept(world.pending(first))
    world.complete(first)
    assert world.holder(second) == "alice"


def test_routing_target_queue_and_workflow() -> None:
    world = World()
    q = team_queues(world, "a", "b")
    first = world.workflow(q["a"], "first")
    world.workflow(q["b"], "second")
    world.worker("ann", team="a")
    world.take()
    direct = world.task(routing_target=q["b"].sid)
    assert (direct.task_queue_sid, direct.workflow_sid) == (q["b"].sid, None)
    assert world.event_types() == ["task.created", "task-queue.entered"]
    via = world.task(routing_target=first.sid)
    assert (via.workflow_sid, via.task_queue_sid, world.holder(via)) == (
        first.sid, q["a"].sid, "ann")


# ---------------------------------------------------------------------- time of day


def test_time_of_day_variables() -> None:
    world = World(start=T0 + 10 * 3600 * SECOND + 30 * 60 * SECOND)  # Thu 10:30 UTC
    q = team_queues(world, "day", "night", "weekend")
    workflow = world.workflow(filters(
        ("taskrouter.dayOfWeek IN ['Sat', 'Sun']", [{"queue": q["weekend"].sid}]),
        ("taskrouter.currentTime >= 900 AND taskrouter.currentTime < 1700",
         [{"queue": q["day"].sid}]),
        default=q["night"]))
    assert world.task(workflow=workflow).task_queue_sid == q["day"].sid
    world.clock.advance(7 * 3600)  # 17:30
    assert world.task(workflow=workflow).task_queue_sid == q["night"].sid
    world.clock.advance(2 * 24 * 3600)  # Saturday
    assert world.task(workflow=workflow).task_queue_sid == q["weekend"].sid


def test_time_of_day_in_a_target_expression() -> None:
    world = World(start=T0 + 8 * 3600 * SECOND)  # 08:00 UTC
    q = world.queue()
    workflow = world.workflow(filters(("1==1", [
        {"queue": q.sid, "expression": "worker.shift_start <= taskrouter.currentHour"}])))
    world.workers("early", shift_start=7)
    world.workers("late", shift_start=9)
    first = world.task(workflow=workflow)
    second = world.task(workflow=workflow)
    assert (world.holder(first), world.holder(second)) == ("early", None)
    world.clock.advance(3600)
    world.set_attributes(world.named("late"), shift_start=9)
    assert world.holder(second) == "late"


# ---------------------------------------------------------------------- restarts


def test_after_a_restart_tasks_continue_at_the_same_step() -> None:
    world = World()
    q = team_queues(world, "q1", "q2")
    workflow = world.workflow(filters(("1==1", [
        {"queue": q["q1"].sid, "timeout": 10}, {"queue": q["q2"].sid}])))
    world.worker("two", team="q2")
    task = world.task(workflow=workflow)
    world.advance(4)
    world.engine = rebuild(world.engine, world.now)
    task = world.engine.tasks[task.sid]
    assert world.engine.next_deadline() == task.date_created + 10 * SECOND
    world.advance(6)
    assert (task.task_queue_sid, world.holder(task)) == (q["q2"].sid, "two")


def test_a_restart_after_a_workflow_lost_the_task_s_step() -> None:
    # Without ReEvaluateTasks a task keeps its step; after a restart it continues at the same
    # step of the new configuration. When that step no longer exists the task waits where it is
    # until its old step deadline, then falls off the workflow.
    world = World()
    q = team_queues(world, "q1", "q2", "fallback")
    workflow = world.workflow(filters(
        ("kind == 'a'", [{"queue": q["q1"].sid}]),
        ("kind == 'b'", [{"queue": q["q2"].sid, "timeout": 30}]),
        default=q["fallback"]))
    in_default = world.task({"kind": "c"}, workflow=workflow)
    in_second = world.task({"kind": "b"}, workflow=workflow)
    world.engine.update_workflow(workflow.sid, world.now, configuration=_json(
        {"filters": [{"expression": "kind == 'a'", "targets": [{"queue": q["q1"].sid}]}]}))
    world.engine = rebuild(world.engine, world.now)
    in_default = world.engine.tasks[in_default.sid]
    in_second = world.engine.tasks[in_second.sid]
    assert (in_default.target, in_second.target) == (None, None)
    world.worker("f", team="fallback")
    assert world.holder(in_default) == "f"
    world.take()
    assert world.advance(30) == ["task-queue.timeout", "workflow.timeout", "task.canceled"]
    assert in_second.reason == WORKFLOW_TIMEOUT_REASON
