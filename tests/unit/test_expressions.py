"""TaskRouter expression language: grammar, semantics, errors and compile-time shortcuts."""

from __future__ import annotations

import math
import pickle
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.routing import expressions
from switchboard.routing.expressions import Expression, ExpressionError, compile_expression


def ev(text: str, root: Mapping[str, Any]) -> bool:
    return compile_expression(text).evaluate(root)


def error(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text)
    return info.value


class View(Mapping[str, Any]):
    """A read-only mapping that is not a dict, like the worker views callers pass in."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class Exploding(Mapping[str, Any]):
    """A mapping whose every read fails with something other than KeyError."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("boom")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("boom")

    def __len__(self) -> int:
        return 1


# --- operators ------------------------------------------------------------------------------

DATA: dict[str, Any] = {
    "n": 5,
    "f": 2.5,
    "s": "support",
    "t": True,
    "z": None,
    "skills": ["sales", "support", 3],
    "empty": [],
    "nested": {"k": "v"},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # == and =
        ("n == 5", True),
        ("n == 5.0", True),
        ("n = 5", True),
        ("n == 6", False),
        ("s == 'support'", True),
        ('s == "support"', True),
        ("s == 'Support'", False),
        ("s == 5", False),
        ("t == true", True),
        ("t == 1", False),
        ("n == true", False),
        ("z == null", True),
        ("missing == null", True),
        ("n == null", False),
        ("skills == ['sales', 'support', 3]", True),
        ("skills == ['sales', 'support']", False),
        ("empty == []", True),
        ("nested == null", False),
        # !=
        ("n != 5", False),
        ("n != 6", True),
        ("s != 'x'", True),
        ("missing != null", False),
        ("n != null", True),
        ("t != 1", True),
        ("skills != ['sales']", True),
        # ordering
        ("n > 4", True),
        ("n > 5", False),
        ("n >= 5", True),
        ("n < 5.5", True),
        ("n <= 4", False),
        ("f < 3", True),
        ("n > f", True),
        ("s > 'sales'", True),
        ("s < 'support'", False),
        ("s <= 'support'", True),
        ("s >= 'zzz'", False),
        ("s > 1", False),
        ("n > '1'", False),
        ("t > 0", False),
        ("z < 1", False),
        ("missing > 0", False),
        ("missing < 0", False),
        ("skills > 1", False),
        ("n > null", False),
        ("n > true", False),
        ("n < [9]", False),
        # CONTAINS
        ("s CONTAINS 'port'", True),
        ("s CONTAINS 'Port'", False),
        ("s CONTAINS ''", True),
        ("s CONTAINS 5", False),
        ("n CONTAINS '5'", False),
        ("skills CONTAINS 'sales'", False),
        ("missing CONTAINS 'x'", False),
        # HAS and >-
        ("skills HAS 'support'", True),
        ("skills HAS 'billing'", False),
        ("skills HAS 3", True),
        ("skills HAS 3.0", True),
        ("skills HAS true", False),
        ("skills HAS ['billing', 'sales']", True),
        ("skills HAS ['billing']", False),
        ("skills HAS []", False),
        ("skills >- 'sales'", True),
        ("skills>-'sales'", True),
        ("s HAS 's'", False),
        ("missing HAS 'x'", False),
        ("empty HAS null", False),
        # IN and <-
        ("s IN ['sales', 'support']", True),
        ("s IN ['sales']", False),
        ("s IN []", False),
        ("n IN [1, 5]", True),
        ("n IN [1.0, 5.0]", True),
        ("t IN [1]", False),
        ("t IN [true]", True),
        ("z IN [null]", True),
        ("missing IN [null, 1]", True),
        ("s IN 'support'", False),
        ("s IN skills", True),
        ("skills IN ['billing', 'support']", True),
        ("skills IN ['billing']", False),
        ("s <- ['support']", True),
        ("s<-['support']", True),
        ("'support' IN skills", True),
        ("'billing' IN skills", False),
        # NOT IN
        ("s NOT IN ['sales']", True),
        ("s NOT IN ['support']", False),
        ("s NOT IN []", True),
        ("s NOT IN 'support'", False),
        ("missing NOT IN ['a']", True),
        ("skills NOT IN ['billing']", True),
        ("skills NOT IN ['sales']", False),
        ("'billing' NOT IN skills", True),
        ("'sales' NOT IN skills", False),
        ("'sales' NOT IN s", False),
    ],
)
def test_operators(text: str, expected: bool) -> None:
    assert ev(text, DATA) is expected
    assert ev(text, View(DATA)) is expected  # any Mapping, not only dict


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 == 1", True),
        ("1 == 2", False),
        ("'a' == 'a'", True),
        ("'a' != 'a'", False),
        ("'en' IN ['en', 'es']", True),
        ("['a', 'b'] HAS 'b'", True),
        ("true == 1", False),
        ("null == null", True),
        ("2 > 1", True),
        ("'abc' CONTAINS 'b'", True),
        ("5 NOT IN [1, 2]", True),
    ],
)
def test_literal_operands_fold_to_constants(text: str, expected: bool) -> None:
    compiled = compile_expression(text)
    assert compiled.evaluate({}) is expected
    assert compiled.always_true is expected
    assert compiled.roots == frozenset()


def test_literal_on_the_left() -> None:
    root = {"level": 4, "langs": ["en", "fr"]}
    assert ev("3 < level", root)
    assert not ev("4 < level", root)
    assert ev("4 >= level", root)
    assert ev("'en' IN langs", root)
    assert ev("'en' <- langs", root)
    assert ev("['de', 'fr'] IN langs", root)
    assert ev("['en'] HAS langs", root)  # any element of the right array is in the left
    assert not ev("['de'] HAS langs", root)
    assert ev("'hello' CONTAINS greeting", {"greeting": "ell"})


def test_path_against_path() -> None:
    root = {
        "task": {"requested_agent": "WK1", "lang": "en", "level": 3},
        "worker": {"agent_id": "WK1", "langs": ["en", "fr"], "level": 5},
    }
    assert ev("task.requested_agent == worker.agent_id", root)
    assert not ev("task.requested_agent != worker.agent_id", root)
    assert ev("task.lang IN worker.langs", root)
    assert ev("worker.langs HAS task.lang", root)
    assert ev("task.level < worker.level", root)
    assert not ev("task.missing == worker.agent_id", root)
    assert ev("task.missing == worker.missing", root)  # null == null


# --- syntax ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "skills has 'support' and level > 3",
        "skills Has 'support' And level > 3",
        "skills HAS 'support' AND level > 3",
        "level > 3 AND skills HAS 'support' or false",
        "level > 3 AND (skills HAS 'support' OR FALSE)",
        "level > 3 aNd skills hAs 'support'",
        "'support' in skills AND level > 3",
        "'billing' not in skills AND level > 3",
        "'billing' Not In skills AND level > 3",
        "name contains 'li' AND level > 3",
        "name CONTAINS 'li' AND level > 3 AND flag == TRUE AND gone == Null",
    ],
)
def test_keywords_are_case_insensitive(text: str) -> None:
    root = {"skills": ["support"], "level": 4, "name": "alice", "flag": True}
    assert ev(text, root)


@pytest.mark.parametrize(
    "name",
    ["android", "index", "order", "inbox", "notes", "nullable", "trueValue", "hasSkill",
     "contains_x", "ORacle", "$x", "_x", "x$1", "IN1", "notIn"],
)  # fmt: skip
def test_names_that_start_with_keywords_are_names(name: str) -> None:
    assert ev(f"{name} == 1", {name: 1})
    assert ev(f"obj.{name} == 1", {"obj": {name: 1}})


def test_and_binds_tighter_than_or() -> None:
    root = {"a": 1, "b": 0, "c": 0}
    assert ev("a == 1 OR b == 1 AND c == 1", root)
    assert ev("b == 1 AND c == 1 OR a == 1", root)
    assert not ev("(a == 1 OR b == 1) AND c == 1", root)
    assert not ev("c == 1 AND (b == 1 OR a == 1)", root)
    assert ev("((a == 1))", root)
    assert ev("(((a == 1) AND ((b == 0))) OR (c == 5)) AND (a != 2 OR b != 0)", root)


def test_long_chains() -> None:
    root = {f"k{i}": i for i in range(20)}
    every = " AND ".join(f"k{i} == {i}" for i in range(20))
    anyone = " OR ".join(f"k{i} == -1" for i in range(19)) + " OR k19 == 19"
    assert ev(every, root)
    assert not ev(every, {**root, "k7": 0})
    assert ev(anyone, root)
    assert not ev(anyone, {**root, "k19": 0})


def test_bare_booleans_are_constants() -> None:
    assert compile_expression("true").always_true
    assert compile_expression("TRUE").evaluate({})
    assert not compile_expression("false").evaluate({})
    assert not compile_expression("false").always_true
    assert ev("false OR x == 1", {"x": 1})
    assert not ev("true AND x == 1", {"x": 2})
    assert compile_expression("x == 1 OR true").always_true
    assert not compile_expression("x == 1 AND false").evaluate({"x": 1})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("x == 0800", 800),
        ("x == 007", 7),
        ("x == -5", -5),
        ("x == -0.5", -0.5),
        ("x == .5", 0.5),
        ("x == 1.50", 1.5),
        ("x == 1e3", 1000),
        ("x == 2E-1", 0.2),
        ("x == 'it\\'s'", "it's"),
        ('x == "say \\"hi\\""', 'say "hi"'),
        ("x == 'back\\\\slash'", "back\\slash"),
        ("x == 'tab\\t'", "tab\\t"),  # other backslashes are kept as written
        ('x == "single \' inside"', "single ' inside"),
        ("x == 'double \" inside'", 'double " inside'),
        ("x == ''", ""),
        ("x == [1, 'a', true, null, [2.5], []]", [1, "a", True, None, [2.5], []]),
        ("x == [ ]", []),
        ("x==1", 1),
        ("\n\tx\n==\n1 ", 1),
    ],
)
def test_literals(text: str, value: Any) -> None:
    assert ev(text, {"x": value})


def test_leading_zeros_are_decimal() -> None:
    expression = compile_expression("taskrouter.currentTime > 0800")
    assert expression.evaluate({"taskrouter": {"currentTime": 900}})
    assert expression.evaluate({"taskrouter": {"currentTime": 801}})
    assert not expression.evaluate({"taskrouter": {"currentTime": 800}})
    assert not expression.evaluate({"taskrouter": {"currentTime": 759}})


def test_greater_than_minus_is_has() -> None:
    # Longest match, as a generated lexer would do: `>-` is the HAS alias, not `> -5`.
    assert ev("a>-5", {"a": [5]})
    assert not ev("a>-5", {"a": 6})
    assert ev("a > -5", {"a": 6})
    assert ev("a<-[5]", {"a": 5})
    assert ev("a < -5", {"a": -6})


# --- paths ----------------------------------------------------------------------------------

NESTED: dict[str, Any] = {
    "a": {"b": [{"c": 1}, {"c": 2}, {"c": "three", "d": [[10, 11], [12]]}]},
    "worker": {"channel": View({"voice": {"assigned_tasks": 0}})},
    "list": [1, 2, 3],
    "text": "hello",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.b[0].c == 1", True),
        ("a.b[1].c == 2", True),
        ("a.b[2].c == 'three'", True),
        ("a.b[2].d[0][1] == 11", True),
        ("a.b[2].d[1][0] == 12", True),
        ("a.b[2].d[1] == [12]", True),
        ("list[0] == 1", True),
        ("list[2] == 3", True),
        ("worker.channel.voice.assigned_tasks == 0", True),
        # missing things are null
        ("a.b[3].c == null", True),
        ("a.b[99] == null", True),
        ("a.x.y.z == null", True),
        ("nope == null", True),
        ("nope.deeper[0] == null", True),
        ("list.length == null", True),  # key under an array
        ("text[0] == null", True),  # index under a string
        ("a[0] == null", True),  # index under an object
        ("text.x == null", True),
        ("worker.channel.video.assigned_tasks == null", True),
        ("a.b[3].c == 1", False),
        ("a.b[0].c != null", True),
    ],
)
def test_paths(text: str, expected: bool) -> None:
    assert ev(text, NESTED) is expected


def test_case_of_keys_matters() -> None:
    assert ev("Level == 1", {"Level": 1})
    assert ev("level == null", {"Level": 1})


def test_tuples_count_as_arrays() -> None:
    root = {"skills": ("a", "b"), "rows": ({"x": 1},)}
    assert ev("skills HAS 'a'", root)
    assert ev("'b' IN skills", root)
    assert ev("skills == ['a', 'b']", root)
    assert ev("rows[0].x == 1", root)


def test_subclasses_of_json_types() -> None:
    class Text(str):
        pass

    class Count(int):
        pass

    root = {"name": Text("alice"), "n": Count(3), "tags": [Text("x")]}
    assert ev("name == 'alice'", root)
    assert ev("name IN ['alice']", root)
    assert ev("name > 'a'", root)
    assert ev("n > 2", root)
    assert ev("n IN [3]", root)
    assert ev("tags HAS 'x'", root)


# --- documented examples (semantics doc, section 2.7) ---------------------------------------

EXAMPLES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "(skills HAS 'support') AND (languages HAS 'english')",
        {"skills": ["support", "sales"], "languages": ["english"]},
        {"skills": ["support"], "languages": ["spanish"]},
    ),
    (
        "customer_value == 'Gold' AND type == 'ticket'",
        {"customer_value": "Gold", "type": "ticket"},
        {"customer_value": "Silver", "type": "ticket"},
    ),
    (
        "type == 'ticket' AND customer_value IN ['Silver', 'Bronze']",
        {"type": "ticket", "customer_value": "Bronze"},
        {"type": "ticket", "customer_value": "Gold"},
    ),
    (
        "task.requested_agent == worker.agent_id",
        {"task": {"requested_agent": "alice"}, "worker": {"agent_id": "alice"}},
        {"task": {"requested_agent": "alice"}, "worker": {"agent_id": "bob"}},
    ),
    (
        "task.required_language IN worker.spoken_languages",
        {"task": {"required_language": "fr"}, "worker": {"spoken_languages": ["en", "fr"]}},
        {"task": {"required_language": "de"}, "worker": {"spoken_languages": ["en", "fr"]}},
    ),
    (
        "worker.channel.voice.assigned_tasks == 0",
        {"worker": {"channel": {"voice": {"assigned_tasks": 0}}}},
        {"worker": {"channel": {"voice": {"assigned_tasks": 1}}}},
    ),
    (
        "worker.activity_name in ['Generally Available', 'High Value Tasks']",
        {"worker": {"activity_name": "High Value Tasks"}},
        {"worker": {"activity_name": "Offline"}},
    ),
    (
        "workers.available == 0",
        {"workers": {"available": 0, "unavailable": 4}},
        {"workers": {"available": 3, "unavailable": 1}},
    ),
    (
        "taskrouter.dayOfWeek IN ['Wed','Fri'] AND taskrouter.currentTime > 900 "
        "AND taskrouter.currentTime < 1830",
        {"taskrouter": {"dayOfWeek": "Fri", "currentTime": 1200}},
        {"taskrouter": {"dayOfWeek": "Fri", "currentTime": 1900}},
    ),
    (
        "taskrouter.dayOfWeek = 'Sat'",
        {"taskrouter": {"dayOfWeek": "Sat"}},
        {"taskrouter": {"dayOfWeek": "Sun"}},
    ),
    (
        "preferred_agents != null",
        {"preferred_agents": ["alice"]},
        {"preferred_agents": None},
    ),
    (
        "sid IN ['WK0001']",
        {"sid": "WK0001"},
        {"sid": "WK0002"},
    ),
    (
        "workers.WA0123 > 0",
        {"workers": {"WA0123": 2}},
        {"workers": {"WA0123": 0}},
    ),
]


@pytest.mark.parametrize(("text", "true_root", "false_root"), EXAMPLES)
def test_documented_examples(
    text: str, true_root: dict[str, Any], false_root: dict[str, Any]
) -> None:
    expression = compile_expression(text)
    assert expression.evaluate(true_root) is True
    assert expression.evaluate(false_root) is False
    if expression.roots != {"task", "worker"}:  # there, null == null holds
        assert expression.evaluate({}) is False  # missing attributes are null


# --- roots, always_true, caching ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "roots"),
    [
        ("task.lang IN worker.langs", {"task", "worker"}),
        ("skills HAS 'x' AND level > 3", {"skills", "level"}),
        ("workers.available == 0", {"workers"}),
        ("a.b[1].c == 1 OR a.d == 2", {"a"}),
        ("'en' IN worker.languages", {"worker"}),
        ("1==1", set()),
        ("true", set()),
        ("x == 1 OR true", {"x"}),  # every path written, even where folding drops it
    ],
)
def test_roots(text: str, roots: set[str]) -> None:
    assert compile_expression(text).roots == frozenset(roots)


@pytest.mark.parametrize(
    ("text", "always"),
    [
        ("1==1", True),
        ("1 == 1", True),
        ("1=1", True),
        ("true", True),
        ("True", True),
        ("(1==1)", True),
        ("1==1 AND 2==2", True),
        ("1==1 OR x == 2", True),
        ("x == 1 OR 1 == 1", True),
        ("1==2", False),
        ("false", False),
        ("x == 1", False),
        ("1==1 AND x == 1", False),
        ("x > true", False),  # constant false, not true
    ],
)
def test_always_true(text: str, always: bool) -> None:
    expression = compile_expression(text)
    assert expression.always_true is always
    if always:
        assert expression.evaluate({}) is True


def test_constant_false_folds() -> None:
    for text in ("x > true", "x < null", "x CONTAINS 5", "x IN 'abc'", "x NOT IN 3", "1 == 2"):
        expression = compile_expression(text)
        assert expression.evaluate({"x": "abc"}) is False


def test_compile_is_cached_and_expressions_compare_by_text() -> None:
    first = compile_expression("cached_probe == 1")
    assert compile_expression("cached_probe == 1") is first
    assert first == Expression("cached_probe == 1", frozenset({"cached_probe"}), lambda r: True)
    assert first.text == "cached_probe == 1"
    assert "cached_probe == 1" in repr(first)
    assert hash(first) == hash(compile_expression("cached_probe == 1"))


# --- evaluation never raises ----------------------------------------------------------------


@pytest.mark.parametrize(
    "root",
    [
        {},
        {"a": None},
        {"a": {"b": object()}},
        {"a": [1, "x", None, {"b": []}]},
        {"a": {"b": [{"c": float("nan")}]}},
        {"a": "string"},
        {"a": 10**400},
        {"a": float("inf")},
        View({"a": {"b": 1}}),
        Exploding(),
    ],
)
@pytest.mark.parametrize(
    "text",
    [
        "a == 1",
        "a.b[0].c > 1",
        "a.b HAS 1",
        "a IN [1, 'x']",
        "a.b[0].c CONTAINS 'x'",
        "a == a",
        "a.b < a",
        "a NOT IN a",
        "a == [1, 'x', null, []]",
    ],
)
def test_evaluate_never_raises_on_odd_roots(text: str, root: Mapping[str, Any]) -> None:
    assert compile_expression(text).evaluate(root) in (True, False)


def test_evaluate_survives_non_mapping_roots() -> None:
    expression = compile_expression("a == null")
    odd: list[Any] = [None, [], "text", 3]
    for root in odd:
        assert expression.evaluate(root) is False


def test_deep_data_does_not_raise() -> None:
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    assert compile_expression("a == b").evaluate({"a": deep, "b": deep}) in (True, False)


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("skills HAS", 11, "unexpected end of expression"),
        ("(a == 1", 8, "expected ')'"),
        ("((a == 1) OR (b == 2)", 22, "unexpected end of expression"),
        ("a == 1)", 7, "unexpected ')'"),
        ("a == 1 AND", 11, "unexpected end of expression"),
        ("a == 1 OR OR b == 2", 11, "unexpected 'OR'"),
        ("== 1", 1, "unexpected '=='"),
        ("a LIKE 'x'", 3, "expected a comparison operator"),
        ("a <> 1", 4, "unexpected '>'"),
        ("a === 1", 5, "unexpected '='"),
        ("a NOT HAS 'x'", 7, "expected IN after NOT"),
        ("skill-level == 3", 6, "unexpected character '-'"),
        ("level-1 == 3", 6, "names cannot contain '-'"),
        ("a + 1 == 2", 3, "arithmetic is not supported"),
        ("a == 1 * 2", 8, "arithmetic is not supported"),
        ("NOT a == 1", 1, "use != or NOT IN"),
        ("a == 1 AND NOT b == 2", 12, "use != or NOT IN"),
        ("!(a == 1)", 1, "use != or NOT IN"),
        ("", 1, "empty"),
        ("   ", 1, "empty"),
        ("name == 'abc", 9, "unterminated string"),
        ('name == "abc', 9, "unterminated string"),
        ("name == 'abc\\'", 9, "unterminated string"),
        ("a", 2, "expected a comparison operator"),
        ("'a'", 4, "unexpected end of expression"),
        ("a AND b", 3, "unexpected 'AND'"),
        ("a == 1 b == 2", 8, "expected AND, OR or the end of the expression"),
        ("1 == 1 == 1", 8, "unexpected '=='"),
        ("a == b == c", 8, "unexpected '=='"),
        ("a[1.5] == 1", 3, "array index '1.5'"),
        ("a[-1] == 1", 3, "array index '-1'"),
        ("a[] == 1", 3, "unexpected ']'"),
        ("a[x] == 1", 3, "unexpected 'x'"),
        ("a. == 1", 4, "expected an attribute name"),
        ("a.in == 1", 3, "unexpected 'in'"),
        ("and == 1", 1, "unexpected 'and'"),
        ("a == [1, 2", 11, "unexpected end of expression"),
        ("a == [1,]", 9, "expected a value"),
        ("a IN [b]", 7, "unexpected 'b'"),
        ("1a == 1", 2, "unexpected 'a'"),
        ("a == 'x' 'y'", 10, "unexpected"),
        ("a == 1 @", 8, "unexpected character '@'"),
        ("a\n== 1 AND", 11, "unexpected end of expression"),
        ("(a == 1 OR b == 2) AND ()", 25, "unexpected ')'"),
        ("a == ()", 6, "unexpected '('"),
        ("a == null b", 11, "unexpected 'b'"),
    ],
)
def test_syntax_errors_say_where(text: str, column: int, fragment: str) -> None:
    exc = error(text)
    assert exc.column == column
    assert f"at column {column}" in str(exc)
    assert fragment in str(exc)
    assert str(exc).startswith(f"Invalid expression {text!r}: ")
    assert exc.expression == text
    assert isinstance(exc, ValueError)


def test_error_message_format() -> None:
    assert str(error("skills HAS")).startswith(
        "Invalid expression 'skills HAS': unexpected end of expression at column 11"
    )


def test_long_expressions_are_shortened_in_messages() -> None:
    text = " AND ".join(["attribute == 1"] * 50) + " AND"
    exc = error(text)
    assert exc.expression == text
    assert len(str(exc)) < 400
    assert f"at column {len(text) + 1}" in str(exc)


def test_non_string_input() -> None:
    with pytest.raises(ExpressionError, match="expected a string"):
        compile_expression(None)  # type: ignore[arg-type]
    with pytest.raises(ExpressionError, match="expected a string"):
        compile_expression(["a == 1"])  # type: ignore[arg-type]


def test_deep_nesting_is_an_expression_error() -> None:
    text = "a == 1"
    for i in range(300):
        text = f"a == {i} {'AND' if i % 2 else 'OR'} ({text})"
    exc = error(text)
    assert "nested too deeply" in str(exc)
    deep_list = "a == " + "[" * 300 + "]" * 300
    assert "nested too deeply" in str(error(deep_list))


def test_redundant_parentheses_are_not_nesting() -> None:
    assert ev("(" * 2000 + "a == 1" + ")" * 2000, {"a": 1})
    same_operator = "a == 0"
    for i in range(1, 500):
        same_operator = f"a == {i} OR ({same_operator})"
    assert ev(same_operator, {"a": 0})


def test_numbers_with_too_many_digits() -> None:
    assert error("x == " + "9" * 5000).column == 6
    assert error("a[" + "9" * 5000 + "] == 1").column == 3
    assert ev("x == 1" + "0" * 400, {"x": 10**400})


def test_errors_pickle() -> None:
    exc = error("(a == 1")
    copy = pickle.loads(pickle.dumps(exc))
    assert str(copy) == str(exc)
    assert (copy.expression, copy.column) == (exc.expression, exc.column)


# --- string case switch ---------------------------------------------------------------------


@pytest.fixture
def case_insensitive(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    expressions._compile.cache_clear()
    monkeypatch.setattr(expressions, "STRING_CASE_SENSITIVE", False)
    yield
    expressions._compile.cache_clear()


@pytest.mark.usefixtures("case_insensitive")
def test_case_insensitive_strings_switch() -> None:
    root = {"name": "Alice", "skills": ["Support"], "day": "THU", "other": "alice"}
    assert ev("name == 'alice'", root)
    assert not ev("name != 'ALICE'", root)
    assert ev("name == other", root)
    assert ev("name CONTAINS 'LI'", root)
    assert ev("skills HAS 'support'", root)
    assert ev("'SUPPORT' IN skills", root)
    assert ev("day IN ['Mon', 'Thu']", root)
    assert ev("day NOT IN ['Mon']", root)
    assert ev("name < 'BOB'", root)
    assert ev("name >= other", root)


# --- properties -----------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["a", "b", "support", "en", "", "0", "1"])
    | st.sampled_from([0, 1, -1, 1.0, 0.0, True, False])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "x", "0"]), children, max_size=4)
    ),
    max_leaves=12,
)
roots = st.dictionaries(st.sampled_from(["a", "b", "c", "x", "skills", "level"]), json_values)

FIXED = [
    "skills HAS 'support' AND level > 3",
    "a == b",
    "a != b",
    "a.b[0].c == 1 OR x.a CONTAINS 'a'",
    "a IN b AND b NOT IN a",
    "a.x[1] HAS ['a', 1, null] OR b < a",
    "a >= 'b' AND b <= 1.5 OR c <- ['a', 0, true]",
    "x == [1, 'a', [null]] OR x.a.b.c.d != null",
    "a.a IN [0, 1] OR a.a NOT IN ['a', 'b'] OR a.a HAS 0",
]


@settings(max_examples=300, deadline=None)
@given(root=roots)
def test_evaluate_never_raises(root: dict[str, Any]) -> None:
    for text in FIXED:
        assert compile_expression(text).evaluate(root) in (True, False)


@settings(max_examples=300, deadline=None)
@given(a=json_values, b=json_values)
def test_not_equal_is_the_negation_of_equal(a: Any, b: Any) -> None:
    root = {"a": a, "b": b}
    assert ev("a != b", root) is (not ev("a == b", root))
    literal = _literal(b)
    if literal is not None:
        assert ev(f"a != {literal}", root) is (not ev(f"a == {literal}", root))


def _literal(value: Any) -> str | None:
    """``value`` written as an expression literal, or None when it has no literal form."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        items = [_literal(item) for item in value]
        if any(item is None for item in items):
            return None
        return "[" + ", ".join(item for item in items if item is not None) + "]"
    return None


OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "CONTAINS", "HAS", "IN", "NOT IN"]


@settings(max_examples=300, deadline=None)
@given(a=json_values, b=json_values)
def test_specialised_closures_agree_with_the_generic_path(a: Any, b: Any) -> None:
    literal = _literal(b)
    if literal is None:
        return
    root = {"a": a, "b": b}
    for op in OPERATORS:
        generic = ev(f"a {op} b", root)  # path against path: the generic operators
        assert ev(f"a {op} {literal}", root) is generic, op
        assert ev(f"x.y {op} {literal}", {"x": {"y": a}}) is generic, op
        reverse = ev(f"b {op} a", root)
        assert ev(f"{literal} {op} a", root) is reverse, op


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_literals_round_trip(value: Any) -> None:
    literal = _literal(value)
    if literal is None or _has_nan(value):
        return
    assert ev(f"a == {literal}", {"a": value})
    assert ev(f"{literal} == a", {"a": value})


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, list):
        return any(_has_nan(item) for item in value)
    return False
