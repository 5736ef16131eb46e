"""TaskRouter's expression language: parsed once with a grammar, compiled once to closures.

``compile_expression(text)`` parses ``text`` with a LALR grammar (lark) and turns the tree into
a tree of small Python closures; ``Expression.evaluate(root)`` then only walks mappings and
compares values. Nothing is re-parsed per evaluation. The module knows nothing about tasks or
workers: callers hand in the mapping to evaluate against (worker view, task attributes,
``{"task": ..., "worker": ..., "taskrouter": ...}``, ``{"workers": {...}}``).

Syntax:

* Keywords (AND, OR, IN, NOT IN, HAS, CONTAINS, true, false, null) are case-insensitive and are
  reserved only as whole words: ``index``, ``order`` or ``android`` are ordinary names.
* AND binds tighter than OR; parentheses group; unary NOT does not exist (use != or NOT IN).
* ``=`` means ``==``; ``>-`` means HAS; ``<-`` means IN. Tokens match longest first, so
  ``a<-5`` is ``a IN 5``: write ``a < -5`` for a negative bound.
* Every leaf is a comparison, except a bare ``true``/``false``, which is a constant.
* Names are ``[A-Za-z_$][A-Za-z0-9_$]*``; ``a.b[2].c`` walks objects and arrays; a hyphen or
  any arithmetic is a syntax error.
* Number literals are decimal: leading zeros are ignored (``0800`` is 800); ``-5``, ``1.5``,
  ``1e3`` are allowed. Array indexes are non-negative integers.
* Strings take single or double quotes; ``\\\\`` and a backslash before a quote are escapes,
  any other backslash is kept as written.

Semantics (one line each):

* A missing key, a key under a non-object, an index under a non-array or out of range: null.
* Numbers: int and float compare numerically; bool is not a number (``true == 1`` is false).
* Numeric strings are not coerced to numbers (``'5' == 5`` is false).
* Strings compare by code point, case-sensitively (switch: ``STRING_CASE_SENSITIVE``).
* ``==`` is deep equality on arrays and objects with these rules; ``x == null`` is true when
  ``x`` is missing or null.
* ``!=`` is exactly ``not ==``.
* ``<``, ``<=``, ``>``, ``>=``: number with number or string with string; anything else false.
* ``CONTAINS``: substring test when both sides are strings; anything else false.
* ``HAS``: left array contains the right value (by ``==``); a right array matches when any of
  its elements is in the left array; a left side that is not an array gives false.
* ``IN``: the mirror of HAS (``a IN b`` is ``b HAS a``); a right side that is not an array
  gives false.
* ``NOT IN``: ``not IN`` when the right side is an array; otherwise false.
* ``evaluate`` never raises: an error while reading odd data counts as false.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

__all__ = [
    "STRING_CASE_SENSITIVE",
    "Expression",
    "ExpressionError",
    "IndexKey",
    "compile_expression",
    "index_keys",
]

#: String comparisons (==, !=, ordering, CONTAINS, HAS/IN membership) respect case. Twilio does
#: not document this; flip to False to compare with ``str.casefold`` instead.
STRING_CASE_SENSITIVE: bool = True

_CACHE_SIZE: Final = 4096
# Deeper AND/OR alternation or list nesting than this is refused at compile time, so that
# neither compiling nor evaluating can come near Python's recursion limit.
_MAX_NESTING: Final = 100
_MAX_SHOWN: Final = 200  # longest expression text quoted in an error message

Root = Mapping[str, Any]
_Predicate = Callable[[Root], bool]
_Getter = Callable[[Root], Any]
# A compiled boolean node: a predicate, or a bool when the node is constant.
_Compiled = _Predicate | bool
_Segment = str | int
# What an index of roots by value holds (see ``index_keys`` and ``Expression.guard``): a path of
# names from the root, how the value there relates to the scalar ("=": it is the scalar, "in":
# it is an array holding it), and the scalar, tagged by kind and folded as comparisons fold it.
IndexKey = tuple[tuple[str, ...], str, tuple[str, Any]]


# --- errors ---------------------------------------------------------------------------------


class ExpressionError(ValueError):
    """Syntax or structure error in an expression.

    ``str(e)`` says what and where, e.g. ``Invalid expression 'skills HAS': unexpected end of
    expression at column 11``. ``column`` is 1-based and counts characters from the start of
    the text (a newline counts as one), or is None when no single place is at fault.
    """

    expression: str
    column: int | None
    reason: str
    hint: str | None

    def __init__(
        self, expression: str, reason: str, column: int | None = None, hint: str | None = None
    ) -> None:
        shown = expression if len(expression) <= _MAX_SHOWN else expression[:_MAX_SHOWN] + "..."
        where = f" at column {column}" if column is not None else ""
        extra = f"; {hint}" if hint else ""
        super().__init__(f"Invalid expression {shown!r}: {reason}{where}{extra}")
        self.expression = expression
        self.column = column
        self.reason = reason
        self.hint = hint

    def __reduce__(self) -> tuple[Any, ...]:
        # The default reduce would call __init__ with the formatted message only.
        return (type(self), (self.expression, self.reason, self.column, self.hint))


# --- grammar --------------------------------------------------------------------------------

# Keywords are lexed as NAME and re-typed by _keyword() below: that makes them case-insensitive
# and reserved only as whole words, while ``android`` or ``index`` stay names. Terminals whose
# name starts with "_" are dropped from the tree.
_GRAMMAR: Final = r"""
start: or_expr

?or_expr: and_expr (_OR and_expr)*
?and_expr: _atom (_AND _atom)*
_atom: comparison
     | _LPAR or_expr _RPAR
     | TRUE
     | FALSE

comparison: _operand _operator _operand
_operator: EQ | ASSIGN | NE | LE | GE | LT | GT | HAS_ARROW | IN_ARROW
         | CONTAINS | HAS | IN | not_in
not_in: _NOT IN

_operand: path | _literal
path: NAME (_DOT NAME | _LSQB NUMBER _RSQB)*
_literal: STRING | NUMBER | TRUE | FALSE | NULL | list
list: _LSQB (_literal (_COMMA _literal)*)? _RSQB

EQ: "=="
ASSIGN: "="
NE: "!="
LE: "<="
GE: ">="
LT: "<"
GT: ">"
HAS_ARROW: ">-"
IN_ARROW: "<-"
_LPAR: "("
_RPAR: ")"
_LSQB: "["
_RSQB: "]"
_COMMA: ","
_DOT: "."
NAME: /[A-Za-z_$][A-Za-z0-9_$]*/
NUMBER: /-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/
STRING: /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/s

%declare _AND _OR _NOT IN HAS CONTAINS TRUE FALSE NULL
%ignore /\s+/
"""

_KEYWORDS: Final[Mapping[str, str]] = {
    "and": "_AND",
    "or": "_OR",
    "not": "_NOT",
    "in": "IN",
    "has": "HAS",
    "contains": "CONTAINS",
    "true": "TRUE",
    "false": "FALSE",
    "null": "NULL",
}


def _keyword(token: Token) -> Token:
    kind = _KEYWORDS.get(token.lower())
    if kind is not None:
        token.type = kind
    return token


@functools.cache
def _parser() -> Lark:
    """Built once, at the first expression compiled (building it is a tenth of a second of a
    server's start); parsing with it keeps no state between calls."""
    return Lark(
        _GRAMMAR,
        parser="lalr",
        lexer="basic",
        lexer_callbacks={"NAME": _keyword},
        maybe_placeholders=False,
    )

_OPERATORS: Final[Mapping[str, str]] = {
    "EQ": "==",
    "ASSIGN": "==",
    "NE": "!=",
    "LT": "<",
    "LE": "<=",
    "GT": ">",
    "GE": ">=",
    "CONTAINS": "CONTAINS",
    "HAS": "HAS",
    "HAS_ARROW": "HAS",
    "IN": "IN",
    "IN_ARROW": "IN",
}

# How to name what the parser expected, in the order the phrases are listed.
_EXPECTED: Final = (
    (
        frozenset(
            {"EQ", "ASSIGN", "NE", "LE", "GE", "LT", "GT", "HAS_ARROW", "IN_ARROW"}
            | {"CONTAINS", "HAS", "IN", "_NOT"}
        ),
        "a comparison operator",
    ),
    (frozenset({"NAME"}), "an attribute name"),
    (frozenset({"STRING", "NUMBER", "TRUE", "FALSE", "NULL"}), "a value"),
    (frozenset({"_LPAR"}), "'('"),
    (frozenset({"_AND"}), "AND"),
    (frozenset({"_OR"}), "OR"),
    (frozenset({"_RPAR"}), "')'"),
    (frozenset({"_COMMA"}), "','"),
    (frozenset({"_RSQB"}), "']'"),
    (frozenset({"$END"}), "the end of the expression"),
)
_UNARY_NOT_HINT: Final = "there is no unary NOT: use != or NOT IN"
_HYPHEN_HINT: Final = "names cannot contain '-' and arithmetic is not supported"
_ESCAPE: Final = re.compile(r"""\\([\\'"])""")
_INDEX: Final = re.compile(r"[0-9]+")


def _describe_expected(expected: set[str]) -> str | None:
    if expected == {"IN"}:
        return "expected IN after NOT"
    if expected & _EXPECTED[0][0]:
        expected = expected - {"_DOT", "_LSQB"}  # after a name: do not suggest ".x" or "[0]"
    phrases = [phrase for names, phrase in _EXPECTED if expected & names]
    if not phrases:
        return None
    listed = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]
    return f"expected {listed}"


def _acceptable(exc: UnexpectedToken) -> set[str]:
    # LALR tables merge states, so `expected` can list tokens that would fail a step later;
    # `accepts` replays the parser to keep only the ones that really fit (errors only: slow).
    try:
        accepts = exc.accepts
    except LarkError:
        accepts = None
    return set(accepts) if accepts else set(exc.expected)


def _syntax_error(text: str, exc: LarkError) -> ExpressionError:
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = text[pos] if pos < len(text) else ""
        if char in ("'", '"'):
            return ExpressionError(text, "unterminated string starting", pos + 1)
        hint: str | None = None
        if char == "!":
            hint = _UNARY_NOT_HINT
        elif char == "-":
            hint = _HYPHEN_HINT
        elif char in "+*/%":
            hint = "arithmetic is not supported"
        return ExpressionError(text, f"unexpected character {char!r}", pos + 1, hint)
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            return ExpressionError(
                text,
                "unexpected end of expression",
                len(text.rstrip()) + 1,
                _describe_expected(_acceptable(exc)),
            )
        start = token.start_pos
        if token.type == "_NOT":
            hint = _UNARY_NOT_HINT
        elif token.type == "NUMBER" and token.startswith("-"):
            hint = _HYPHEN_HINT
        else:
            hint = _describe_expected(_acceptable(exc))
        column = start + 1 if start is not None else None
        return ExpressionError(text, f"unexpected {str(token)!r}", column, hint)
    if isinstance(exc, UnexpectedInput):
        offset = exc.pos_in_stream
        return ExpressionError(text, "syntax error", offset + 1 if offset is not None else None)
    return ExpressionError(text, f"syntax error ({exc})")


# --- value semantics ------------------------------------------------------------------------

# Kinds of JSON-like values. Subclasses (IntEnum, StrEnum, a Mapping view, a tuple) count as
# the kind they derive from.
_NULL: Final = 0
_BOOL: Final = 1
_NUM: Final = 2
_STR: Final = 3
_LIST: Final = 4
_OBJ: Final = 5
_OTHER: Final = 6

_KIND_BY_TYPE: Final[Mapping[type, int]] = {
    type(None): _NULL,
    bool: _BOOL,
    int: _NUM,
    float: _NUM,
    str: _STR,
    list: _LIST,
    tuple: _LIST,
    dict: _OBJ,
}


def _kind(value: object) -> int:
    kind = _KIND_BY_TYPE.get(value.__class__)  # exact types first: one dict lookup
    if kind is not None:
        return kind
    if isinstance(value, str):
        return _STR
    if isinstance(value, (int, float)):  # bool cannot be subclassed, so this is a number
        return _NUM
    if isinstance(value, (list, tuple)):
        return _LIST
    if isinstance(value, Mapping):
        return _OBJ
    return _OTHER


def _fold(text: str) -> str:
    return text if STRING_CASE_SENSITIVE else text.casefold()


def _eq(a: Any, b: Any) -> bool:
    kind = _kind(a)
    if kind != _kind(b):
        return False
    if kind == _STR:
        return _fold(a) == _fold(b)
    if kind == _LIST:
        return len(a) == len(b) and all(map(_eq, a, b))
    if kind == _OBJ:
        return _mapping_eq(a, b)
    if kind == _NULL:
        return True
    return bool(a == b)  # numbers (int == float), bools, and anything else of one kind


def _mapping_eq(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> bool:
    if len(a) != len(b):
        return False
    missing = object()
    return all(_eq(value, b.get(key, missing)) for key, value in a.items())


def _member(value: Any, items: Sequence[Any]) -> bool:
    if value is None or (value.__class__ is str and STRING_CASE_SENSITIVE):
        # Speed: for null and plain strings, Python's == agrees with _eq on JSON values.
        return value in items
    return any(_eq(item, value) for item in items)


def _has(a: Any, b: Any) -> bool:
    if _kind(a) != _LIST:
        return False
    if _kind(b) == _LIST:
        return any(_member(item, a) for item in b)
    return _member(b, a)


def _in(a: Any, b: Any) -> bool:
    return _has(b, a)


def _not_in(a: Any, b: Any) -> bool:
    return _kind(b) == _LIST and not _has(b, a)


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def ordered(a: Any, b: Any) -> bool:
        kind = _kind(a)
        if kind != _kind(b):
            return False
        if kind == _NUM:
            return compare(a, b)
        if kind == _STR:
            return compare(_fold(a), _fold(b))
        return False

    return ordered


def _contains(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and _fold(b) in _fold(a)


_GENERIC: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "==": _eq,
    "!=": lambda a, b: not _eq(a, b),
    "<": _ordered(operator.lt),
    "<=": _ordered(operator.le),
    ">": _ordered(operator.gt),
    ">=": _ordered(operator.ge),
    "CONTAINS": _contains,
    "HAS": _has,
    "IN": _in,
    "NOT IN": _not_in,
}

# `literal OP path` rewritten as `path OP' literal` so the specialised closures below apply.
# Exact by construction: IN is defined as mirrored HAS, and == / != are symmetric.
_MIRRORED: Final[Mapping[str, str]] = {
    "==": "==",
    "!=": "!=",
    "<": ">",
    ">": "<",
    "<=": ">=",
    ">=": "<=",
    "IN": "HAS",
    "HAS": "IN",
}


# --- compiling: operands --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Path:
    name: str  # the root name: `task` in task.langs[0]
    steps: tuple[_Segment, ...]  # then keys (str) and array indexes (int)


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any


_Operand = _Path | _Literal


def _child(value: Any, segment: _Segment) -> Any:
    if isinstance(segment, str):
        if value.__class__ is dict or isinstance(value, Mapping):
            return value.get(segment)
        return None
    if value.__class__ is list or isinstance(value, (list, tuple)):
        return value[segment] if segment < len(value) else None
    return None


def _getter(path: _Path) -> _Getter:
    first, steps = path.name, path.steps
    if not steps:
        # Speed: a C-level bound call, no Python frame.
        return operator.methodcaller("get", first)
    if len(steps) == 1 and isinstance(steps[0], str):
        key = steps[0]

        def get_two(root: Root) -> Any:
            value = root.get(first)
            if value.__class__ is dict:  # speed: plain dicts skip the Mapping ABC check
                return value.get(key)
            return _child(value, key)

        return get_two

    def get_path(root: Root) -> Any:
        value = root.get(first)
        for step in steps:
            if value is None:
                return None
            value = _child(value, step)
        return value

    return get_path


def _constant(value: Any) -> _Getter:
    return lambda root: value


# --- compiling: comparisons -----------------------------------------------------------------


def _compare(op: str, left: _Operand, right: _Operand) -> _Compiled:
    if isinstance(left, _Literal) and isinstance(right, _Literal):
        return _GENERIC[op](left.value, right.value)  # constant folded at compile time
    if isinstance(left, _Literal) and op in _MIRRORED:
        op, left, right = _MIRRORED[op], right, left
    if isinstance(left, _Path) and isinstance(right, _Literal):
        special = _specialised(op, _getter(left), right.value)
        if special is not None:
            return special
    get_a = _getter(left) if isinstance(left, _Path) else _constant(left.value)
    get_b = _getter(right) if isinstance(right, _Path) else _constant(right.value)
    generic = _GENERIC[op]
    return lambda root: generic(get_a(root), get_b(root))


def _specialised(op: str, get: _Getter, const: Any) -> _Compiled | None:
    """A closure for ``path OP literal`` that skips the generic dispatch, or None.

    Each returns exactly what the generic operator would; they exist only for speed.
    """
    kind = _kind(const)
    if op in ("==", "!="):
        equal = _equal_to(get, const, kind)
        if equal is None:
            return None
        if op == "==":
            return equal
        return lambda root: not equal(root)
    if op in ("<", "<=", ">", ">="):
        if kind == _NUM:
            return _number_order(op, get, const)
        if kind == _STR:
            return _string_order(op, get, const)
        return False  # nothing orders against a bool, null or array
    if op == "CONTAINS":
        if kind != _STR:
            return False
        needle = _fold(const)
        if STRING_CASE_SENSITIVE:
            return lambda root: isinstance(value := get(root), str) and needle in value
        return lambda root: isinstance(value := get(root), str) and needle in value.casefold()
    if op == "HAS":
        if kind == _NULL or (kind == _STR and STRING_CASE_SENSITIVE):

            def has(root: Root) -> bool:
                value = get(root)
                if value.__class__ is list:
                    return const in value  # speed: list.__contains__ in C; == is exact here
                return _has(value, const)

            return has
        return None
    if op in ("IN", "NOT IN"):
        if kind != _LIST:
            return False  # the right side must be an array
        member = _member_of(get, const)
        if op == "IN":
            return member
        return lambda root: not member(root)
    return None


def _equal_to(get: _Getter, const: Any, kind: int) -> _Predicate | None:
    if kind == _NULL:
        return lambda root: get(root) is None
    if kind == _BOOL:
        return lambda root: get(root) is const
    if kind == _NUM:
        # True == 1 in Python, but bool is not a number here.
        return lambda root: (value := get(root)) == const and value.__class__ is not bool
    if kind == _STR:
        if STRING_CASE_SENSITIVE:
            return lambda root: get(root) == const  # str == JSON value is exact
        folded = const.casefold()
        return lambda root: isinstance(value := get(root), str) and value.casefold() == folded
    return None


def _number_order(op: str, get: _Getter, const: float) -> _Predicate:
    # Speed: one closure per operator keeps the comparison inline rather than an operator.*
    # call, and exact int / float are recognised before the general (slower) kind test.
    if op == "<":

        def less(root: Root) -> bool:
            value = get(root)
            cls = value.__class__
            return (cls is int or cls is float or _kind(value) == _NUM) and value < const

        return less
    if op == "<=":

        def less_or_equal(root: Root) -> bool:
            value = get(root)
            cls = value.__class__
            return (cls is int or cls is float or _kind(value) == _NUM) and value <= const

        return less_or_equal
    if op == ">":

        def greater(root: Root) -> bool:
            value = get(root)
            cls = value.__class__
            return (cls is int or cls is float or _kind(value) == _NUM) and value > const

        return greater

    def greater_or_equal(root: Root) -> bool:
        value = get(root)
        cls = value.__class__
        return (cls is int or cls is float or _kind(value) == _NUM) and value >= const

    return greater_or_equal


def _string_order(op: str, get: _Getter, const: str) -> _Predicate:
    compare = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]
    folded = _fold(const)
    return lambda root: isinstance(value := get(root), str) and compare(_fold(value), folded)


def _member_of(get: _Getter, items: list[Any]) -> _Predicate:
    """``path IN [literals]``: a set lookup when the list is all strings or all numbers."""
    if items and STRING_CASE_SENSITIVE and all(item.__class__ is str for item in items):
        strings = frozenset(items)

        def in_strings(root: Root) -> bool:
            value = get(root)
            if value.__class__ is str:
                return value in strings  # speed: hash lookup instead of a scan
            return _has(items, value)

        return in_strings
    if items and all(item.__class__ in (int, float) for item in items):
        numbers = frozenset(items)

        def in_numbers(root: Root) -> bool:
            value = get(root)
            cls = value.__class__
            if cls is int or cls is float:  # exact types: True would hash like 1
                return value in numbers
            return _has(items, value)

        return in_numbers
    return lambda root: _has(items, get(root))


# --- compiling: boolean structure -----------------------------------------------------------


def _all_of(parts: list[_Compiled]) -> _Compiled:
    predicates: list[_Predicate] = []
    for part in parts:
        if isinstance(part, bool):
            if not part:
                return False
            continue  # a true conjunct changes nothing
        predicates.append(part)
    if not predicates:
        return True
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        first, second = predicates
        return lambda root: first(root) and second(root)  # speed: the common case, no loop
    chain = tuple(predicates)

    def all_of(root: Root) -> bool:
        for predicate in chain:  # noqa: SIM110 - speed: a plain loop beats all(<generator>)
            if not predicate(root):
                return False
        return True

    return all_of


def _any_of(parts: list[_Compiled]) -> _Compiled:
    predicates: list[_Predicate] = []
    for part in parts:
        if isinstance(part, bool):
            if part:
                return True
            continue  # a false disjunct changes nothing
        predicates.append(part)
    if not predicates:
        return False
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        first, second = predicates
        return lambda root: first(root) or second(root)  # speed: the common case, no loop
    chain = tuple(predicates)

    def any_of(root: Root) -> bool:
        for predicate in chain:  # noqa: SIM110 - speed: a plain loop beats any(<generator>)
            if predicate(root):
                return True
        return False

    return any_of


class _Compiler:
    """Turns one parse tree into closures, collecting the root names it references."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.roots: set[str] = set()

    def error(self, reason: str, node: Tree[Token] | Token) -> ExpressionError:
        token = node if isinstance(node, Token) else _first_token(node)
        column = token.start_pos + 1 if token is not None and token.start_pos is not None else None
        return ExpressionError(self.text, reason, column)

    def boolean(self, node: Tree[Token] | Token, depth: int) -> _Compiled:
        if isinstance(node, Token):  # a bare true / false leaf
            return node.type == "TRUE"
        if node.data == "comparison":
            return self.comparison(node)
        if depth > _MAX_NESTING:
            raise self.error("expression is nested too deeply", node)
        kind = node.data
        parts: list[_Compiled] = []
        pending: list[Tree[Token] | Token] = list(reversed(node.children))
        while pending:  # flatten (a AND b) AND c into one AND of three
            child = pending.pop()
            if isinstance(child, Tree) and child.data == kind:
                pending.extend(reversed(child.children))
            else:
                parts.append(self.boolean(child, depth + 1))
        return _all_of(parts) if kind == "and_expr" else _any_of(parts)

    def guard(self, node: Tree[Token] | Token) -> _Guard:
        """The node's index keys (see ``_comparison_guard``), walking the tree as ``boolean``."""
        if isinstance(node, Token):
            return None if node.type == "TRUE" else _NO_ROOT
        if node.data == "comparison":
            left, middle, right = node.children
            op = "NOT IN" if isinstance(middle, Tree) else _OPERATORS[middle.type]
            return _comparison_guard(op, self.operand(left), self.operand(right))
        kind = node.data
        guards: list[_Guard] = []
        pending: list[Tree[Token] | Token] = list(reversed(node.children))
        while pending:
            child = pending.pop()
            if isinstance(child, Tree) and child.data == kind:
                pending.extend(reversed(child.children))
            else:
                guards.append(self.guard(child))
        if kind == "and_expr":  # any part's keys will do: the fewest
            known = [g for g in guards if g is not None]
            return min(known, key=len) if known else None
        if any(g is None for g in guards):
            return None
        return frozenset().union(*guards)  # type: ignore[arg-type]

    def comparison(self, node: Tree[Token]) -> _Compiled:
        left, middle, right = node.children
        op = "NOT IN" if isinstance(middle, Tree) else _OPERATORS[middle.type]
        return _compare(op, self.operand(left), self.operand(right))

    def operand(self, node: Tree[Token] | Token) -> _Operand:
        if isinstance(node, Tree) and node.data == "path":
            return self.path(node)
        return _Literal(self.literal(node, 0))

    def path(self, node: Tree[Token]) -> _Path:
        name = str(node.children[0])
        steps: list[_Segment] = []
        for token in node.children[1:]:
            assert isinstance(token, Token)
            if token.type == "NAME":
                steps.append(str(token))
            elif _INDEX.fullmatch(token):
                steps.append(self.integer(token))
            else:
                raise self.error(f"array index {str(token)!r} is not a non-negative integer", token)
        self.roots.add(name)
        return _Path(name, tuple(steps))

    def integer(self, token: Token) -> int:
        try:
            return int(token, 10)  # decimal even with leading zeros: 0800 is 800
        except ValueError:  # more digits than int() accepts from text
            raise self.error(f"number {str(token)[:20]}... has too many digits", token) from None

    def literal(self, node: Tree[Token] | Token, depth: int) -> Any:
        if isinstance(node, Tree):  # list
            if depth > _MAX_NESTING:
                raise self.error("list is nested too deeply", node)
            return [self.literal(child, depth + 1) for child in node.children]
        kind = node.type
        if kind == "STRING":
            return _ESCAPE.sub(r"\1", node[1:-1])
        if kind == "NUMBER":
            if any(mark in node for mark in ".eE"):
                return float(node)
            return self.integer(node)
        if kind == "NULL":
            return None
        return kind == "TRUE"


def _first_token(tree: Tree[Token]) -> Token | None:
    for token in tree.scan_values(lambda value: isinstance(value, Token)):
        return token
    return None


# --- index keys: which roots an expression could hold for --------------------------------------
#
# ``Expression.guard`` is a set of index keys such that the expression can only hold for a root
# having at least one of them (``index_keys``), or None when no such set is known (``!=``,
# ordering, ``CONTAINS``, ``NOT IN``, ``== null``, paths with array indexes or on both sides).
# Exact by construction: the guard only ever rules out roots the predicate is false for, so a
# caller may evaluate the expression on the roots an index gives for the guard's keys instead of
# on every root, and get the same answer. The language has no unary NOT, so every node is
# monotone in its comparisons: AND may keep the guard of any one part, OR needs all of them.


def _index_scalar(value: Any) -> tuple[str, Any] | None:
    kind = _kind(value)
    if kind == _STR:
        return ("s", _fold(value))
    if kind == _NUM:
        return ("n", value)  # 1 and 1.0 are equal and hash alike, as == compares them
    if kind == _BOOL:
        return ("b", value)
    return None  # null, arrays and objects are not indexed


def _add_keys(path: tuple[str, ...], value: Any, keys: set[IndexKey]) -> None:
    scalar = _index_scalar(value)
    if scalar is not None:
        keys.add((path, "=", scalar))
        return
    kind = _kind(value)
    if kind == _LIST:
        for item in value:
            scalar = _index_scalar(item)
            if scalar is not None:
                keys.add((path, "in", scalar))
    elif kind == _OBJ:
        for key, child in value.items():
            if isinstance(key, str):
                _add_keys((*path, key), child, keys)


def index_keys(name: str, value: Any, keys: set[IndexKey] | None = None) -> set[IndexKey]:
    """The index keys of a root whose ``name`` is ``value`` (added to ``keys``, returned)."""
    keys = set() if keys is None else keys
    _add_keys((name,), value, keys)
    return keys


_Guard = frozenset[IndexKey] | None
_NO_ROOT: Final[frozenset[IndexKey]] = frozenset()


def _scalars(items: Any) -> list[tuple[str, Any]] | None:
    scalars = [_index_scalar(item) for item in items]
    return None if any(s is None for s in scalars) else scalars  # type: ignore[return-value]


def _comparison_guard(op: str, left: _Operand, right: _Operand) -> _Guard:
    if isinstance(left, _Literal) and isinstance(right, _Literal):
        return None if _GENERIC[op](left.value, right.value) else _NO_ROOT
    if isinstance(left, _Literal) and op in _MIRRORED:
        op, left, right = _MIRRORED[op], right, left
    if not (isinstance(left, _Path) and isinstance(right, _Literal)):
        return None
    if not all(isinstance(step, str) for step in left.steps):
        return None
    path = (left.name, *left.steps)
    const = right.value
    if op == "==":
        scalar = _index_scalar(const)
        return None if scalar is None else frozenset({(path, "=", scalar)})  # type: ignore
    if op == "HAS":  # the value is an array holding the scalar, or one of the array's items
        scalars = _scalars(const) if _kind(const) == _LIST else _scalars([const])
        if scalars is None:
            return None
        return frozenset((path, "in", s) for s in scalars)  # type: ignore[misc]
    if op == "IN":  # the value is one of the items, or an array holding one of them
        if _kind(const) != _LIST:
            return _NO_ROOT  # false for every root
        scalars = _scalars(const)
        if scalars is None:
            return None
        return frozenset(
            (path, relation, s) for s in scalars for relation in ("=", "in"))  # type: ignore
    return None


# --- public API -----------------------------------------------------------------------------


def _always_false(root: Root) -> bool:
    return False


def _always_true(root: Root) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled expression. Build with ``compile_expression``."""

    text: str
    roots: frozenset[str]  # first path segments referenced, e.g. {"task", "worker"}
    _predicate: _Predicate = field(repr=False, compare=False)
    _constant: bool | None = field(default=None, repr=False, compare=False)
    # Index keys one of which a root must have for the expression to hold (see ``index_keys``),
    # or None when any root might match.
    guard: frozenset[IndexKey] | None = field(default=None, repr=False, compare=False)

    def evaluate(self, root: Mapping[str, Any]) -> bool:
        """Whether the expression holds for ``root``; never raises."""
        try:
            return self._predicate(root)
        except Exception:
            # The closures are written not to raise on JSON-like data; this keeps the promise
            # for anything else (a mapping view that fails, a value type that cannot compare).
            return False

    @property
    def always_true(self) -> bool:
        """True for constant-true expressions such as ``1==1``: callers may skip evaluating."""
        return self._constant is True


def compile_expression(text: str) -> Expression:
    """Parse and compile ``text``; raises ExpressionError. Results are cached by text."""
    if not isinstance(text, str):
        raise ExpressionError(repr(text), f"expected a string, got {type(text).__name__}")
    return _compile(text)


@functools.lru_cache(maxsize=_CACHE_SIZE)  # many queues and workflows share expressions
def _compile(text: str) -> Expression:
    if not text.strip():
        raise ExpressionError(text, "expression is empty", 1)
    try:
        tree = _parser().parse(text)
    except LarkError as exc:
        raise _syntax_error(text, exc) from None
    compiler = _Compiler(text)
    compiled = compiler.boolean(tree.children[0], 0)
    roots = frozenset(compiler.roots)
    if isinstance(compiled, bool):
        return Expression(text, roots, _always_true if compiled else _always_false, compiled,
                          None if compiled else _NO_ROOT)
    return Expression(text, roots, compiled, None, compiler.guard(tree.children[0]))
