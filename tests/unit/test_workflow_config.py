"""Workflow Configuration JSON: parsing, queue resolution and validation messages."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest

from switchboard.routing.expressions import ExpressionError, compile_expression
from switchboard.routing.workflow_config import (
    MAX_CONFIGURATION_BYTES,
    OrderBy,
    Target,
    WorkflowConfig,
    WorkflowConfigError,
    parse_workflow_configuration,
)


def _sid(n: int) -> str:
    return f"WQ{n:032x}"


Q1, Q2, Q3 = _sid(1), _sid(2), _sid(3)
UNKNOWN = _sid(999)
KNOWN_QUEUES = frozenset({Q1, Q2, Q3})


def queue_exists(sid: str) -> bool:
    return sid in KNOWN_QUEUES


def parse(config: Any) -> WorkflowConfig:
    text = config if isinstance(config, str) else json.dumps(config)
    return parse_workflow_configuration(text, queue_exists)


def error_of(config: Any) -> str:
    with pytest.raises(WorkflowConfigError) as info:
        parse(config)
    return str(info.value)


def one_target(target: dict[str, Any], expression: str = "1==1") -> dict[str, Any]:
    return {"task_routing": {"filters": [{"expression": expression, "targets": [target]}]}}


def expression_error(text: str) -> str:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text)
    return str(info.value)


# --- accepted configurations -------------------------------------------------------------


def test_documented_example() -> None:
    config = parse(
        {
            "task_routing": {
                "filters": [
                    {
                        "filter_friendly_name": "Gold support",
                        "expression": "type == 'ticket' AND customer_value == 'Gold'",
                        "targets": [
                            {
                                "queue": Q1,
                                "priority": 10,
                                "timeout": 300,
                                "expression": "task.lang IN worker.languages",
                                "order_by": "worker.level DESC, worker.tenure ASC",
                                "skip_if": "workers.available == 0",
                                "known_worker_sid": "task.agent_sid",
                            },
                            {"priority": 20},
                        ],
                    }
                ],
                "default_filter": {"queue": Q2},
            }
        }
    )

    assert len(config.filters) == 1
    gold = config.filters[0]
    assert gold.name == "Gold support"
    assert gold.expression.text == "type == 'ticket' AND customer_value == 'Gold'"
    first, second = gold.targets
    assert first.queue_sid == Q1
    assert first.priority == 10
    assert first.timeout == 300
    assert first.expression is not None
    assert first.expression.text == "task.lang IN worker.languages"
    assert first.order_by == (
        OrderBy(path=("level",), descending=True),
        OrderBy(path=("tenure",), descending=False),
    )
    assert first.skip_if is not None
    assert first.skip_if.text == "workers.available == 0"
    assert first.known_worker_sid == ("agent_sid",)
    assert first.known_worker_friendly_name is None

    assert second == Target(
        queue_sid=Q1,
        priority=20,
        timeout=None,
        expression=None,
        order_by=(),
        skip_if=None,
        known_worker_sid=None,
        known_worker_friendly_name=None,
    )
    assert config.default_filter is not None
    assert config.default_filter.queue_sid == Q2
    assert config.queue_sids == frozenset({Q1, Q2})


def test_default_filter_only_is_a_fifo_queue() -> None:
    config = parse({"task_routing": {"default_filter": {"queue": Q1}}})
    assert config.filters == ()
    assert config.default_filter == Target(
        queue_sid=Q1,
        priority=None,
        timeout=None,
        expression=None,
        order_by=(),
        skip_if=None,
        known_worker_sid=None,
        known_worker_friendly_name=None,
    )
    assert config.queue_sids == frozenset({Q1})


def test_empty_filters_with_default_filter_is_valid() -> None:
    config = parse({"task_routing": {"filters": [], "default_filter": {"queue": Q1}}})
    assert config.filters == ()


def test_filters_without_default_filter_are_valid() -> None:
    config = parse(one_target({"queue": Q1}))
    assert config.default_filter is None
    assert config.filters[0].name is None


def test_queue_is_inherited_from_the_previous_target() -> None:
    config = parse(
        {
            "task_routing": {
                "filters": [
                    {
                        "expression": "1==1",
                        "targets": [
                            {"queue": Q1, "timeout": 10},
                            {"timeout": 20},
                            {"queue": Q2, "timeout": 30},
                            {"priority": 5},
                        ],
                    },
                    # Inheritance never crosses filters.
                    {"expression": "1==1", "targets": [{"queue": Q3}]},
                ]
            }
        }
    )
    first, second = config.filters
    assert [t.queue_sid for t in first.targets] == [Q1, Q1, Q2, Q2]
    assert [t.timeout for t in first.targets] == [10, 20, 30, None]
    assert [t.priority for t in first.targets] == [None, None, None, 5]
    assert second.targets[0].queue_sid == Q3
    assert config.queue_sids == frozenset({Q1, Q2, Q3})


def test_priority_and_timeout_accept_strings_of_digits() -> None:
    target = (
        parse(one_target({"queue": Q1, "priority": "10", "timeout": "10"})).filters[0].targets[0]
    )
    assert target.priority == 10
    assert target.timeout == 10


def test_priority_and_timeout_bounds_are_inclusive() -> None:
    low = parse(one_target({"queue": Q1, "priority": 0, "timeout": 1})).filters[0].targets[0]
    assert (low.priority, low.timeout) == (0, 1)
    high = (
        parse(one_target({"queue": Q1, "priority": 2147483647, "timeout": 1209600}))
        .filters[0]
        .targets[0]
    )
    assert (high.priority, high.timeout) == (2147483647, 1209600)
    padded = parse(one_target({"queue": Q1, "priority": "0002147483647"})).filters[0].targets[0]
    assert padded.priority == 2147483647


@pytest.mark.parametrize("text", ["1==1", "1 == 1"])
def test_always_true_target_expression_is_dropped(text: str) -> None:
    target = parse(one_target({"queue": Q1, "expression": text})).filters[0].targets[0]
    assert target.expression is None


def test_always_true_filter_expression_is_kept() -> None:
    config = parse(one_target({"queue": Q1}, expression="1==1"))
    assert config.filters[0].expression.always_true


def test_always_true_skip_if_is_kept() -> None:
    # "1==1" in skip_if means "skip whenever nobody can take the task now".
    target = parse(one_target({"queue": Q1, "skip_if": "1==1"})).filters[0].targets[0]
    assert target.skip_if is not None
    assert target.skip_if.always_true


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("worker.level", (OrderBy(("level",), False),)),
        ("worker.level desc", (OrderBy(("level",), True),)),
        ("worker.level Asc", (OrderBy(("level",), False),)),
        (
            "  worker.level   DESC ,worker.tenure,worker.skills.rank ASC  ",
            (
                OrderBy(("level",), True),
                OrderBy(("tenure",), False),
                OrderBy(("skills", "rank"), False),
            ),
        ),
        (
            "worker.channel.voice.assigned_tasks ASC",
            (OrderBy(("channel", "voice", "assigned_tasks"), False),),
        ),
        ("worker.$x_1 DESC", (OrderBy(("$x_1",), True),)),
    ],
)
def test_order_by_parsing(text: str, expected: tuple[OrderBy, ...]) -> None:
    target = parse(one_target({"queue": Q1, "order_by": text})).filters[0].targets[0]
    assert target.order_by == expected


def test_known_worker_paths() -> None:
    config = parse(
        {
            "task_routing": {
                "filters": [
                    {
                        "expression": "1==1",
                        "targets": [
                            {"queue": Q1, "known_worker_sid": "task.agent_sid", "timeout": 5},
                            {"known_worker_friendly_name": "task.routing.agent.name"},
                        ],
                    }
                ]
            }
        }
    )
    by_sid, by_name = config.filters[0].targets
    assert by_sid.known_worker_sid == ("agent_sid",)
    assert by_sid.known_worker_friendly_name is None
    assert by_name.known_worker_sid is None
    assert by_name.known_worker_friendly_name == ("routing", "agent", "name")
    assert by_name.queue_sid == Q1


def test_default_filter_honours_target_keys_but_ignores_timeout_and_skip_if() -> None:
    config = parse(
        {
            "task_routing": {
                "default_filter": {
                    "queue": Q1,
                    "priority": "7",
                    "expression": "worker.level > 2",
                    "order_by": "worker.level DESC",
                    # Ignored without validation: a default filter has no timeout.
                    "timeout": "soon",
                    "skip_if": 42,
                }
            }
        }
    )
    default = config.default_filter
    assert default is not None
    assert default.priority == 7
    assert default.expression is not None
    assert default.expression.text == "worker.level > 2"
    assert default.order_by == (OrderBy(("level",), True),)
    assert default.timeout is None
    assert default.skip_if is None


def test_null_and_blank_optional_values_mean_absent() -> None:
    config = parse(
        {
            "task_routing": {
                "filters": [
                    {
                        "filter_friendly_name": None,
                        "expression": "1==1",
                        "targets": [
                            {
                                "queue": Q1,
                                "priority": None,
                                "timeout": None,
                                "expression": "",
                                "skip_if": "  ",
                                "order_by": None,
                                "known_worker_sid": "",
                                "known_worker_friendly_name": None,
                            },
                            {"queue": None},
                        ],
                    }
                ],
                "default_filter": None,
            }
        }
    )
    first, second = config.filters[0].targets
    assert first == second
    assert first.queue_sid == Q1
    assert config.default_filter is None


def test_unknown_keys_are_ignored() -> None:
    config = parse(
        {
            "extra": 1,
            "task_routing": {
                "extra": True,
                "filters": [
                    {"expression": "1==1", "targets": [{"queue": Q1, "colour": "red"}], "x": 0}
                ],
                "default_filter": {"queue": Q2, "whatever": []},
            },
        }
    )
    assert config.queue_sids == frozenset({Q1, Q2})


def test_result_is_immutable() -> None:
    config = parse(one_target({"queue": Q1}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.filters = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.filters[0].targets[0].queue_sid = Q2  # type: ignore[misc]


def test_equal_configurations_compare_equal() -> None:
    text = json.dumps(one_target({"queue": Q1, "order_by": "worker.a"}))
    assert parse(text) == parse(text)


def test_non_ascii_text_is_accepted() -> None:
    config = parse(
        {
            "task_routing": {
                "filters": [
                    {
                        "filter_friendly_name": "Café ☕",
                        "expression": "lang == 'français'",
                        "targets": [{"queue": Q1}],
                    }
                ]
            }
        }
    )
    assert config.filters[0].name == "Café ☕"


# --- document-level failures ---------------------------------------------------------------


def test_invalid_json_says_where() -> None:
    message = error_of('{\n  "task_routing": {\n    "default_filter": {"queue": "x"\n}')
    assert message.startswith("Configuration is not valid JSON:")
    assert "line 4 column" in message


@pytest.mark.parametrize("text", ["", "   ", "{'task_routing': {}}", '{"a": NaN}'])
def test_not_json(text: str) -> None:
    assert "not valid JSON" in error_of(text)


def test_deeply_nested_json_is_rejected_cleanly() -> None:
    assert "nested more than 64 levels" in error_of("[" * 200_000 + "]" * 200_000)


def test_size_limit_is_measured_in_utf8_bytes() -> None:
    base = {"task_routing": {"default_filter": {"queue": Q1}}, "pad": ""}
    overhead = len(json.dumps(base).encode())
    # Exactly at the limit: accepted.
    at_limit = dict(base, pad="x" * (MAX_CONFIGURATION_BYTES - overhead))
    assert len(json.dumps(at_limit).encode()) == MAX_CONFIGURATION_BYTES
    parse(at_limit)
    # Same character count but multi-byte characters push it over the limit.
    over = json.dumps(
        dict(base, pad="é" * (MAX_CONFIGURATION_BYTES - overhead)), ensure_ascii=False
    )
    assert len(over) == MAX_CONFIGURATION_BYTES
    message = error_of(over)
    assert "bytes" in message
    assert "1038576" in message


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ([], "Configuration must be a JSON object, got an array"),
        ("42", "Configuration must be a JSON object, got a number"),
        ({}, "Configuration: task_routing is required"),
        ({"task_routing": None}, "Configuration: task_routing must be an object, got null"),
        ({"task_routing": []}, "Configuration: task_routing must be an object, got an array"),
        (
            {"task_routing": {}},
            "Configuration: task_routing must contain a non-empty 'filters' array"
            " or a 'default_filter'",
        ),
        (
            {"task_routing": {"filters": []}},
            "Configuration: task_routing must contain a non-empty 'filters' array",
        ),
        (
            {"task_routing": {"filters": {"expression": "1==1"}}},
            "Configuration: task_routing.filters must be an array, got an object",
        ),
        (
            {"task_routing": {"filters": ["1==1"]}},
            "Configuration: task_routing.filters[0] must be an object, got a string",
        ),
        (
            {"task_routing": {"default_filter": [Q1]}},
            "Configuration: task_routing.default_filter must be an object, got an array",
        ),
        (
            {"task_routing": {"default_filter": {}}},
            "Configuration: task_routing.default_filter.queue is required",
        ),
        (
            {"task_routing": {"default_filter": {"queue": UNKNOWN}}},
            f"Configuration: task_routing.default_filter.queue '{UNKNOWN}'"
            " is not a TaskQueue of this workspace",
        ),
    ],
)
def test_structure_errors(config: Any, expected: str) -> None:
    assert expected in error_of(config)


# --- filter failures --------------------------------------------------------------------------


def _filters(*filters: Any) -> dict[str, Any]:
    return {"task_routing": {"filters": list(filters)}}


GOOD_FILTER = {"expression": "1==1", "targets": [{"queue": Q1}]}


@pytest.mark.parametrize(
    ("bad_filter", "expected"),
    [
        ({"targets": [{"queue": Q1}]}, "task_routing.filters[1].expression is required"),
        (
            {"expression": 1, "targets": [{"queue": Q1}]},
            "task_routing.filters[1].expression must be a string, got a number",
        ),
        ({"expression": "1==1"}, "task_routing.filters[1].targets is required"),
        (
            {"expression": "1==1", "targets": []},
            "task_routing.filters[1].targets must contain at least one target",
        ),
        (
            {"expression": "1==1", "targets": {"queue": Q1}},
            "task_routing.filters[1].targets must be an array, got an object",
        ),
        (
            {"expression": "1==1", "targets": [Q1]},
            "task_routing.filters[1].targets[0] must be an object, got a string",
        ),
        (
            {"filter_friendly_name": 5, "expression": "1==1", "targets": [{"queue": Q1}]},
            "task_routing.filters[1].filter_friendly_name must be a string, got a number",
        ),
    ],
)
def test_filter_errors(bad_filter: dict[str, Any], expected: str) -> None:
    message = error_of(_filters(GOOD_FILTER, bad_filter))
    assert message == f"Configuration: {expected}"


def test_invalid_filter_expression_includes_the_expression_error() -> None:
    bad = "type == "
    message = error_of(_filters(GOOD_FILTER, {"expression": bad, "targets": [{"queue": Q1}]}))
    assert message.startswith(
        "Configuration: task_routing.filters[1].expression is not a valid expression: "
    )
    assert expression_error(bad) in message


def test_error_carries_its_path_and_cause() -> None:
    bad = "(a == 1"
    with pytest.raises(WorkflowConfigError) as info:
        parse(_filters({"expression": bad, "targets": [{"queue": Q1}]}))
    assert info.value.path == "task_routing.filters[0].expression"
    assert isinstance(info.value.__cause__, ExpressionError)
    assert isinstance(info.value, ValueError)


# --- target failures --------------------------------------------------------------------------


def _target_error(target: dict[str, Any], index: int = 0) -> str:
    targets: list[dict[str, Any]] = [{"queue": Q1, "timeout": 1}] * index + [target]
    return error_of(_filters(GOOD_FILTER, {"expression": "1==1", "targets": targets}))


def test_first_target_requires_a_queue() -> None:
    assert _target_error({"priority": 1}) == (
        "Configuration: task_routing.filters[1].targets[0].queue is required"
    )


def test_unknown_queue_is_named() -> None:
    assert _target_error({"queue": UNKNOWN}, index=1) == (
        f"Configuration: task_routing.filters[1].targets[1].queue '{UNKNOWN}'"
        " is not a TaskQueue of this workspace"
    )


def test_long_values_are_shortened_in_messages() -> None:
    message = _target_error({"queue": "WQ" + "f" * 5000})
    assert "..." in message
    assert len(message) < 250


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"queue": 7}, "queue must be a string, got a number"),
        ({"queue": [Q1]}, "queue must be a string, got an array"),
        (
            {"queue": Q1, "priority": -1},
            "priority must be an integer between 0 and 2147483647, got -1",
        ),
        (
            {"queue": Q1, "priority": 2147483648},
            "priority must be an integer between 0 and 2147483647, got 2147483648",
        ),
        (
            {"queue": Q1, "priority": "2147483648"},
            "priority must be an integer between 0 and 2147483647, got '2147483648'",
        ),
        (
            {"queue": Q1, "priority": "9" * 5000},
            "priority must be an integer between 0 and 2147483647, got '999",
        ),
        (
            {"queue": Q1, "priority": True},
            "priority must be an integer between 0 and 2147483647, got a boolean",
        ),
        (
            {"queue": Q1, "priority": 1.5},
            "priority must be an integer between 0 and 2147483647, got 1.5",
        ),
        (
            {"queue": Q1, "priority": 10.0},
            "priority must be an integer between 0 and 2147483647, got 10.0",
        ),
        (
            {"queue": Q1, "priority": "-1"},
            "priority must be an integer between 0 and 2147483647, got '-1'",
        ),
        (
            {"queue": Q1, "priority": " 10"},
            "priority must be an integer between 0 and 2147483647, got ' 10'",
        ),
        (
            {"queue": Q1, "priority": "\u0661\u0660"},  # Arabic-Indic digits are not ASCII digits
            "priority must be an integer between 0 and 2147483647",
        ),
        (
            {"queue": Q1, "priority": {"value": 1}},
            "priority must be an integer between 0 and 2147483647, got an object",
        ),
        (
            {"queue": Q1, "timeout": 0},
            "timeout must be a positive integer of seconds, at most 1209600, got 0",
        ),
        (
            {"queue": Q1, "timeout": "0"},
            "timeout must be a positive integer of seconds, at most 1209600, got '0'",
        ),
        (
            {"queue": Q1, "timeout": -5},
            "timeout must be a positive integer of seconds, at most 1209600, got -5",
        ),
        (
            {"queue": Q1, "timeout": 1209601},
            "timeout must be a positive integer of seconds, at most 1209600, got 1209601",
        ),
        (
            {"queue": Q1, "timeout": False},
            "timeout must be a positive integer of seconds, at most 1209600, got a boolean",
        ),
        (
            {"queue": Q1, "timeout": "10s"},
            "timeout must be a positive integer of seconds, at most 1209600, got '10s'",
        ),
        ({"queue": Q1, "expression": 1}, "expression must be a string, got a number"),
        ({"queue": Q1, "skip_if": True}, "skip_if must be a string, got a boolean"),
        ({"queue": Q1, "order_by": ["worker.level"]}, "order_by must be a string, got an array"),
        (
            {"queue": Q1, "known_worker_sid": 5},
            "known_worker_sid must be a string, got a number",
        ),
    ],
)
def test_target_value_errors(target: dict[str, Any], expected: str) -> None:
    message = _target_error(target)
    assert message.startswith(f"Configuration: task_routing.filters[1].targets[0].{expected}")


@pytest.mark.parametrize("key", ["expression", "skip_if"])
def test_invalid_target_expressions_include_the_expression_error(key: str) -> None:
    bad = "(task.a == 1"
    message = _target_error({"queue": Q1, key: bad}, index=1)
    assert message.startswith(
        f"Configuration: task_routing.filters[1].targets[1].{key} is not a valid expression: "
    )
    assert expression_error(bad) in message


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (
            "level DESC",
            "clause 1 must name a worker attribute as 'worker.<attribute>', got 'level'",
        ),
        ("task.level", "clause 1 must name a worker attribute as 'worker.<attribute>'"),
        ("Worker.level", "clause 1 must name a worker attribute"),
        ("worker.", "clause 1 must name a worker attribute"),
        ("worker.a..b", "clause 1 must name a worker attribute"),
        ("worker.skill-level", "clause 1 must name a worker attribute"),
        ("worker.1st", "clause 1 must name a worker attribute"),
        ("worker.items[0]", "clause 1 must name a worker attribute"),
        ("worker.level DOWN", "clause 1 direction must be ASC or DESC, got 'DOWN'"),
        ("worker.level, worker.tenure SIDEWAYS", "clause 2 direction must be ASC or DESC"),
        ("worker.level DESC ASC", "clause 1 'worker.level DESC ASC' must be"),
        ("worker.level,", "clause 2 is empty"),
        (",worker.level", "clause 1 is empty"),
        ("worker.a,,worker.b", "clause 2 is empty"),
    ],
)
def test_order_by_errors(order_by: str, expected: str) -> None:
    message = _target_error({"queue": Q1, "order_by": order_by})
    assert message.startswith("Configuration: task_routing.filters[1].targets[0].order_by ")
    assert expected in message


@pytest.mark.parametrize("key", ["known_worker_sid", "known_worker_friendly_name"])
@pytest.mark.parametrize(
    "value", ["agent_sid", "worker.sid", "task.", "task.a-b", "task.a.", "task"]
)
def test_known_worker_must_reference_a_task_attribute(key: str, value: str) -> None:
    message = _target_error({"queue": Q1, key: value})
    assert message == (
        f"Configuration: task_routing.filters[1].targets[0].{key} must reference a task"
        f" attribute as 'task.<attribute>', got {value!r}"
    )


def test_known_worker_keys_are_mutually_exclusive() -> None:
    message = _target_error(
        {
            "queue": Q1,
            "known_worker_sid": "task.agent_sid",
            "known_worker_friendly_name": "task.agent_name",
        },
        index=2,
    )
    assert message == (
        "Configuration: task_routing.filters[1].targets[2] may set only one of"
        " known_worker_sid and known_worker_friendly_name"
    )


def test_default_filter_target_errors_name_the_default_filter() -> None:
    message = error_of({"task_routing": {"default_filter": {"queue": Q1, "priority": "high"}}})
    assert message.startswith("Configuration: task_routing.default_filter.priority must be")


def test_first_error_in_document_order_is_reported() -> None:
    message = error_of(
        _filters(
            {"expression": "1==1", "targets": [{"queue": UNKNOWN}]},
            {"expression": "1==1", "targets": [{}]},
        )
    )
    assert "task_routing.filters[0].targets[0].queue" in message


# --- scale ------------------------------------------------------------------------------------


def _large_config(filter_count: int) -> str:
    filters = [
        {
            "filter_friendly_name": f"filter {n}",
            "expression": f"customer_id == {n} AND type == 'ticket'",
            "targets": [
                {
                    "queue": _sid(n % 3 + 1),
                    "priority": n % 100,
                    "timeout": 30,
                    "expression": "task.lang IN worker.languages",
                    "order_by": "worker.level DESC",
                },
                {"timeout": "60", "skip_if": "workers.available == 0"},
                {"queue": _sid((n + 1) % 3 + 1)},
            ],
        }
        for n in range(filter_count)
    ]
    return json.dumps({"task_routing": {"filters": filters, "default_filter": {"queue": Q1}}})


def test_near_limit_configuration_parses_quickly_and_checks_each_queue_once() -> None:
    text = _large_config(2700)
    assert 0.8 * MAX_CONFIGURATION_BYTES < len(text.encode()) <= MAX_CONFIGURATION_BYTES
    calls: list[str] = []

    def counting_queue_exists(sid: str) -> bool:
        calls.append(sid)
        return sid in KNOWN_QUEUES

    started = time.perf_counter()
    config = parse_workflow_configuration(text, counting_queue_exists)
    elapsed = time.perf_counter() - started

    assert len(config.filters) == 2700
    assert config.filters[-1].targets[1].queue_sid == config.filters[-1].targets[0].queue_sid
    assert sorted(calls) == sorted(KNOWN_QUEUES)
    assert config.queue_sids == KNOWN_QUEUES
    # Generous: a linear parse takes a fraction of this even on a slow machine.
    assert elapsed < 5.0
