"""routing/evaluation.py and routing/agenda.py: an expression tried on a workspace, and the
timers that will fire."""

from __future__ import annotations

import json

from routing_helpers import World

from switchboard.routing import agenda, evaluation
from switchboard.routing.expressions import compile_expression


def run(world: World, text: str, subject: str = "Workers", **kwargs: object
        ) -> evaluation.Evaluation:
    return evaluation.evaluate(world.engine, compile_expression(text), subject, world.now,
                               **kwargs)  # type: ignore[arg-type]


def test_target_workers_are_evaluated_on_worker_views() -> None:
    world = World()
    world.worker("alice", skills=["en"])
    world.worker("bob", skills=["de"], level=2)
    result = run(world, "skills HAS 'en' OR activity_name == 'Offline'")
    assert (result.form, [w.friendly_name for w in result.matches]) == (
        "target_workers", ["alice"])
    assert run(world, "friendly_name == 'bob' AND level > 1").count == 1


def test_a_queue_with_the_same_expression_gives_its_members_unevaluated() -> None:
    world = World()
    world.worker("alice", skills=["en"])
    queue = world.engine.create_task_queue("en", world.now, target_workers="skills HAS 'en'")
    # The index is the answer: a member the expression would not match now still shows, which
    # proves the expression was not evaluated again.
    world.engine.queue_members[queue.sid].add(world.worker("bob", skills=["de"]).sid)
    result = run(world, "skills HAS 'en'")
    assert (result.queue_sid, result.count) == (queue.sid, 2)


def test_target_expressions_see_task_and_worker() -> None:
    world = World()
    world.worker("alice", languages=["en"], level=5)
    world.worker("bob", languages=["de"], level=1)
    text = "task.language IN worker.languages OR worker.level > task.min"
    result = run(world, text, task_attributes={"language": "de", "min": 3})
    assert (result.form, [w.friendly_name for w in result.matches]) == (
        "target_expression", ["alice", "bob"])
    assert run(world, text).count == 0


def test_tasks_are_evaluated_as_filters_with_taskrouter_time() -> None:
    world = World()
    world.worker("alice", activity="Offline")
    queue = world.engine.create_task_queue("q", world.now, target_workers="1==1")
    sales = world.engine.create_task(world.now, attributes=json.dumps({"type": "sales"}),
                                     task_queue_sid=queue.sid)
    world.engine.create_task(world.now, attributes="{}", task_queue_sid=queue.sid)
    assert run(world, "type == 'sales'", "Tasks").matches == [sales]
    # 2026-01-01T00:00Z is a Thursday
    assert run(world, "taskrouter.dayOfWeek == 'Thu'", "Tasks").count == 2


def test_matches_are_capped_but_counted() -> None:
    world = World()
    for i in range(5):
        world.worker(f"w{i}")
    result = evaluation.evaluate(world.engine, compile_expression("1==1"), "Workers",
                                 world.now, limit=2)
    assert (len(result.matches), result.count) == (2, 5)


def test_problems_name_the_place_on_its_line() -> None:
    expression, problem = evaluation.compile_problem("a == 1 AND\nb ==")
    assert expression is None and problem is not None
    assert (problem.position, problem.line, problem.column) == (15, 2, 5)
    assert "unexpected end of expression" in problem.message
    assert evaluation.compile_problem("a == 1")[1] is None


def test_agenda_lists_live_timers_in_firing_order() -> None:
    world = World()
    alice = world.worker("alice")
    queue = world.engine.create_task_queue("q", world.now, target_workers="1==1")
    task = world.engine.create_task(world.now, attributes="{}", task_queue_sid=queue.sid,
                                    timeout=100)
    timers = agenda.pending_timers(world.engine)
    assert [(t.kind, t.due_ms - world.now, t.worker_sid) for t in timers] == [
        ("task_ttl", 100_000, None), ("reservation_timeout", 120_000, alice.sid)]
    world.advance(100)  # the TTL cancels the task: its reservation timer is dead, a purge due
    assert [(t.kind, t.task_sid) for t in agenda.pending_timers(world.engine)] == [
        ("task_purge", task.sid)]
