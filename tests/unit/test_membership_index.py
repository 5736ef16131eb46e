"""Queue membership through expression guards and worker keys (membership.py, expressions.py):
exactly what evaluating every worker against every queue gives, kept incrementally and when a
workspace is loaded."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from routing_helpers import World, rebuild

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.expressions import compile_expression, index_keys

NAMES = ["a", "skills", "level", "n", "sid", "friendly_name", "activity_name", "channel"]
SCALARS: list[Any] = ["x", "y", "X", "w1", "Available", 1, 1.0, 2, 0, True, False, None]


def literal(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return json.dumps(value).replace('"', "'")


def vocabulary(names: list[str], plain: list[Any]) -> tuple[Any, Any]:
    """Expressions and worker attributes over these names and scalars."""
    scalars = st.sampled_from(plain)
    literals = st.one_of(scalars, st.lists(scalars, max_size=3))
    paths = st.one_of(st.sampled_from(names), st.sampled_from(
        ["n.x", "n.y", "skills[0]", "channel.default.configured_capacity"]))
    operators = st.sampled_from(["==", "!=", "HAS", "IN", "NOT IN", "<", ">=", "CONTAINS"])

    @st.composite
    def comparisons(draw: st.DrawFn) -> str:
        path, op, value = draw(paths), draw(operators), literal(draw(literals))
        if draw(st.booleans()):
            return f"{value} {op} {path}"  # mirrored
        if draw(st.integers(0, 9)) == 0:
            return f"{path} {op} {draw(paths)}"
        return f"{path} {op} {value}"

    expressions = st.recursive(
        st.one_of(comparisons(), st.sampled_from(["true", "false", "1 == 1"])),
        lambda inner: st.builds(lambda parts, glue: "(" + f" {glue} ".join(parts) + ")",
                                st.lists(inner, min_size=2, max_size=3),
                                st.sampled_from(["AND", "OR"])),
        max_leaves=6,
    )
    values = st.recursive(
        st.one_of(scalars, st.floats(allow_nan=False, allow_infinity=False, width=16)),
        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                st.dictionaries(st.sampled_from(["x", "y"]), inner, max_size=2)),
        max_leaves=5,
    )
    return expressions, st.dictionaries(st.sampled_from(names), values, max_size=4)


expressions, attributes = vocabulary(NAMES, SCALARS)
# Fewer names and values, so that workers often match the queues' expressions.
few_expressions, few_attributes = vocabulary(
    ["skills", "n", "friendly_name", "activity_name"], ["x", "w1", "Available", 1, True])


@st.composite
def near_matches(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A comparison and a root holding, at its path, a value built from its literal (so that
    the comparison often holds), joined by AND or OR to another expression."""
    path = draw(st.sampled_from(["a", "skills", "n.x"]))
    plain = st.sampled_from(["x", "X", 1, 1.0, True, False])
    value = draw(st.one_of(plain, st.lists(plain, min_size=1, max_size=3)))
    items = value if isinstance(value, list) else [value]
    near = draw(st.one_of(st.just(value), st.sampled_from(items), st.lists(
        st.one_of(st.sampled_from(items), plain), max_size=3)))
    op = draw(st.sampled_from(["==", "HAS", "IN"]))
    text = (f"{literal(value)} {op} {path}" if draw(st.booleans())
            else f"{path} {op} {literal(value)}")
    other, glue = draw(few_expressions), draw(st.sampled_from(["AND", "OR", None]))
    if glue is not None:
        text = f"{text} {glue} {other}" if draw(st.booleans()) else f"{other} {glue} {text}"
    root = draw(few_attributes)
    name, *rest = path.split(".")
    root[name] = {rest[0]: near} if rest else near
    return text, root


@given(st.one_of(st.tuples(expressions, attributes), st.tuples(few_expressions, few_attributes),
                 near_matches()))
@settings(max_examples=1000, deadline=None)
def test_a_guard_never_rules_out_a_match(case: tuple[str, dict[str, Any]]) -> None:
    text, root = case
    expression = compile_expression(text)
    if not expression.evaluate(root):
        return
    assert expression.guard is None or expression.guard & keys_of(root), (text, root)


def keys_of(root: dict[str, Any]) -> set[Any]:
    keys: set[Any] = set()
    for name, value in root.items():
        index_keys(name, value, keys)
    return keys


def test_guards_of_the_usual_target_workers() -> None:
    assert compile_expression("skills HAS 'billing'").guard == {
        (("skills",), "in", ("s", "billing"))}
    assert compile_expression("'billing' IN skills AND level > 2").guard == {
        (("skills",), "in", ("s", "billing"))}
    assert compile_expression("team == 'a' OR team == 'b'").guard == {
        (("team",), "=", ("s", "a")), (("team",), "=", ("s", "b"))}
    assert compile_expression("level > 2").guard is None
    assert compile_expression("team != 'a' OR team == 'b'").guard is None
    assert compile_expression("1 == 2").guard == frozenset()


def brute_force(engine: WorkspaceEngine) -> dict[str, set[str]]:
    """Every worker evaluated against every queue."""
    members: dict[str, set[str]] = {}
    for queue in engine.task_queues.values():
        text = queue.target_workers
        target = compile_expression(text) if text.strip() else None
        members[queue.sid] = {
            w.sid for w in engine.workers.values()
            if target is not None and target.evaluate(engine.worker_view(w))}
    return members


def check(engine: WorkspaceEngine) -> None:
    expected = brute_force(engine)
    assert engine.queue_members == expected
    by_worker: dict[str, set[str]] = {sid: set() for sid in engine.workers}
    for queue_sid, members in expected.items():
        for worker_sid in members:
            by_worker[worker_sid].add(queue_sid)
    assert engine.worker_queues == by_worker


typical_expressions = st.one_of(few_expressions, st.sampled_from([
    "skills HAS 'x'", "'x' IN skills", "n.x == 1", "skills IN ['x', 1]", "skills HAS ['x', 1]",
    "friendly_name IN ['w1', 'w3']", "activity_name == 'Available'", "n == true OR skills HAS 1",
    "skills HAS 'x' AND n.x != 1", "channel.default.configured_capacity >= 1 AND n == 1"]))
typical_attributes = st.one_of(few_attributes, st.sampled_from([
    {"skills": ["x", 1]}, {"skills": ["x"]}, {"skills": "x"}, {"skills": [1.0]},
    {"n": {"x": 1}}, {"n": True}, {"n": 1, "skills": ["y"]}]))
steps = st.lists(st.one_of(
    st.tuples(st.just("worker"), typical_attributes),
    st.tuples(st.just("queue"), typical_expressions),
    st.tuples(st.just("attributes"), st.integers(0, 20), typical_attributes),
    st.tuples(st.just("retarget"), st.integers(0, 20), typical_expressions),
    st.tuples(st.just("activity"), st.integers(0, 20), st.sampled_from(["Available", "Offline"])),
    st.tuples(st.just("delete queue"), st.integers(0, 20)),
    st.tuples(st.just("delete worker"), st.integers(0, 20)),
), min_size=1, max_size=25)


@given(steps)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_membership_is_what_every_pair_gives_incrementally_and_after_loading(
        plan: list[tuple[Any, ...]]) -> None:
    world = World()
    engine = world.engine
    for number, step in enumerate(plan):
        kind = step[0]
        workers, queues = list(engine.workers.values()), list(engine.task_queues.values())
        if kind == "worker":
            world.worker(f"w{number}", **step[1])
        elif kind == "queue":
            world.queue(f"q{number}", target=step[1])
        elif kind == "attributes" and workers:
            world.set_attributes(workers[step[1] % len(workers)], **step[2])
        elif kind == "retarget" and queues:
            engine.update_task_queue(queues[step[1] % len(queues)].sid, world.now,
                                     target_workers=step[2])
        elif kind == "activity" and workers:
            world.set_activity(workers[step[1] % len(workers)], step[2])
        elif kind == "delete queue" and queues:
            engine.delete_task_queue(queues[step[1] % len(queues)].sid, world.now)
        elif kind == "delete worker" and workers:
            engine.delete_worker(workers[step[1] % len(workers)].sid, world.now)
        world.take()
        check(engine)
    check(rebuild(engine, world.now))
