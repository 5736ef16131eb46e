"""Parse and validate a Workflow's ``Configuration`` JSON into compiled, immutable objects.

The routing engine uses the result directly: every expression is compiled once here, every
queue reference is resolved (inherited queues filled in) and checked against the workspace.
Everything is pure; the only outside knowledge comes in through ``queue_exists``.

Accepted shape (see the TaskRouter semantics notes, section 1)::

    {"task_routing": {
        "filters": [{"filter_friendly_name": "...", "expression": "...",
                     "targets": [{"queue": "WQ...", "priority": 10, "timeout": 300,
                                  "expression": "...", "order_by": "worker.level DESC",
                                  "skip_if": "...", "known_worker_sid": "task.agent_sid"},
                                 {"priority": 20}]}],
        "default_filter": {"queue": "WQ..."}}}

Choices where Twilio's behaviour is not documented (easy to change here):

* Unknown keys anywhere (top level, ``task_routing``, filters, targets) are ignored, as Twilio
  ignores them; misspelt keys therefore pass silently.
* An optional key whose value is JSON ``null`` is treated as absent. For the optional
  string keys of a target (``expression``, ``skip_if``, ``order_by``, ``known_worker_*``) a
  blank string is treated as absent too, as form builders tend to send empty fields.
* ``priority`` and ``timeout`` accept JSON integers or strings of ASCII digits (the docs show
  ``"priority": "10"``). Booleans, floats and signed strings are rejected.
* ``timeout`` is 1..1,209,600 seconds: a step deadline is measured in task age, and a task can
  live at most 1,209,600 s (two weeks), so a longer step timeout could never fire.
* ``default_filter`` is "a target object without a timeout": ``timeout`` and ``skip_if`` are
  ignored there without being validated; ``queue`` is required; ``priority``, ``expression``,
  ``order_by`` and ``known_worker_*`` are honoured like in any target.
* Expressions are validated syntactically only (as Twilio does): a target expression that
  references something other than ``task.``/``worker.`` is accepted and resolves to null.
* The size limit (1,038,576 bytes, Twilio's published figure) is measured in UTF-8 bytes.
* A target after a terminal one (no ``timeout``) is accepted: its ``skip_if`` can still move
  the task on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from switchboard.routing.errors import InvalidParameter
from switchboard.routing.expressions import Expression, ExpressionError, compile_expression
from switchboard.routing.validate import check_json_depth

__all__ = [
    "MAX_CONFIGURATION_BYTES",
    "MAX_PRIORITY",
    "MAX_TARGET_TIMEOUT",
    "Filter",
    "OrderBy",
    "Target",
    "WorkflowConfig",
    "WorkflowConfigError",
    "parse_workflow_configuration",
]

MAX_CONFIGURATION_BYTES = 1_038_576
MAX_PRIORITY = 2_147_483_647
MAX_TARGET_TIMEOUT = 1_209_600

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_DIGITS = re.compile(r"[0-9]+")
# Longest value shown back in an error message; configurations can be a megabyte.
_SHOW_LIMIT = 80


class WorkflowConfigError(ValueError):
    """The configuration is invalid; ``str(e)`` names the problem and where it is.

    ``path`` is the JSON path of the offending value (e.g. ``task_routing.filters[1].targets[0]
    .queue``), or ``None`` when the problem concerns the document as a whole.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


# An extension (docs/extensions.md): a target's ``worker_selection``; the first is TaskRouter's.
WORKER_SELECTIONS = ("longest_idle", "round_robin", "least_occupied", "fewest_accepted",
                     "random")


@dataclass(frozen=True)
class OrderBy:
    """One clause of ``order_by``: a worker attribute path and its direction."""

    path: tuple[str, ...]
    descending: bool


@dataclass(frozen=True)
class Target:
    """One routing step, with its queue resolved."""

    queue_sid: str
    priority: int | None
    timeout: int | None
    expression: Expression | None
    order_by: tuple[OrderBy, ...]
    skip_if: Expression | None
    known_worker_sid: tuple[str, ...] | None
    known_worker_friendly_name: tuple[str, ...] | None
    # An extension (docs/extensions.md): how the target picks among eligible workers.
    worker_selection: str = "longest_idle"


@dataclass(frozen=True)
class Filter:
    name: str | None
    expression: Expression
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class WorkflowConfig:
    filters: tuple[Filter, ...]
    default_filter: Target | None
    _queue_sids: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once: the engine asks for it on every queue deletion/workflow check.
        sids = {target.queue_sid for f in self.filters for target in f.targets}
        if self.default_filter is not None:
            sids.add(self.default_filter.queue_sid)
        object.__setattr__(self, "_queue_sids", frozenset(sids))

    @property
    def queue_sids(self) -> frozenset[str]:
        """Every TaskQueue SID referenced anywhere in the configuration."""
        return self._queue_sids


def parse_workflow_configuration(text: str, queue_exists: Callable[[str], bool]) -> WorkflowConfig:
    """Parse and validate ``text``; raise :class:`WorkflowConfigError` on the first problem."""
    return _Parser(queue_exists).parse(text)


def _show(value: object) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= _SHOW_LIMIT else value[: _SHOW_LIMIT - 3] + "..."
        return repr(shown)
    try:
        rendered = json.dumps(value)
    except (TypeError, ValueError):
        rendered = repr(value)
    return rendered if len(rendered) <= _SHOW_LIMIT else rendered[: _SHOW_LIMIT - 3] + "..."


def _error(path: str, problem: str) -> WorkflowConfigError:
    return WorkflowConfigError(f"Configuration: {path} {problem}", path=path)


def _fail(path: str, problem: str) -> NoReturn:
    raise _error(path, problem)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _reject_constant(name: str) -> NoReturn:
    # json.loads accepts NaN/Infinity by default; they are not JSON.
    raise ValueError(f"{name} is not valid JSON")


def _load_json(text: str) -> object:
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise WorkflowConfigError(
            f"Configuration is not valid UTF-8 text: {exc.reason} at character {exc.start}"
        ) from exc
    if size > MAX_CONFIGURATION_BYTES:
        raise WorkflowConfigError(
            f"Configuration is {size} bytes; the maximum is {MAX_CONFIGURATION_BYTES} bytes"
        )
    try:
        check_json_depth(text, "Configuration")
    except InvalidParameter as exc:
        raise WorkflowConfigError(exc.message) from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise WorkflowConfigError(
            f"Configuration is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            f" (char {exc.pos})"
        ) from exc
    except RecursionError as exc:
        raise WorkflowConfigError("Configuration is not valid JSON: nested too deeply") from exc
    except ValueError as exc:  # NaN/Infinity, integers beyond Python's digit limit
        raise WorkflowConfigError(f"Configuration is not valid JSON: {exc}") from exc


def _optional(obj: Mapping[str, Any], key: str) -> Any:
    """The value of an optional key, with JSON null meaning absent."""
    return obj.get(key)


def _attribute_path(value: str, prefix: str) -> tuple[str, ...] | None:
    """``"<prefix>.a.b"`` -> ``("a", "b")``; None when the text is not such a path."""
    head = prefix + "."
    if not value.startswith(head):
        return None
    segments = value[len(head) :].split(".")
    if not all(_IDENTIFIER.fullmatch(segment) for segment in segments):
        return None
    return tuple(segments)


def _bounded_int(value: object, path: str, low: int, high: int, what: str) -> int:
    if isinstance(value, bool):  # bool is an int subclass in Python, not in JSON
        _fail(path, f"must be {what}, got {_type_name(value)}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        digits = value.lstrip("0") or "0"
        # Avoid converting absurdly long digit strings; anything this long is out of range.
        if len(digits) > len(str(high)):
            _fail(path, f"must be {what}, got {_show(value)}")
        number = int(digits)
    else:
        shown = _show(value) if isinstance(value, str | int | float) else _type_name(value)
        _fail(path, f"must be {what}, got {shown}")
    if not low <= number <= high:
        _fail(path, f"must be {what}, got {_show(value)}")
    return number


class _Parser:
    """One parse: holds the per-parse caches so repeated expressions and queues cost once."""

    def __init__(self, queue_exists: Callable[[str], bool]) -> None:
        self._queue_exists = queue_exists
        self._queue_checked: dict[str, bool] = {}
        self._expressions: dict[str, Expression] = {}

    def parse(self, text: str) -> WorkflowConfig:
        document = _load_json(text)
        if not isinstance(document, dict):
            raise WorkflowConfigError(
                f"Configuration must be a JSON object, got {_type_name(document)}"
            )
        if "task_routing" not in document:
            raise WorkflowConfigError(
                "Configuration: task_routing is required", path="task_routing"
            )
        routing = document["task_routing"]
        if not isinstance(routing, dict):
            _fail("task_routing", f"must be an object, got {_type_name(routing)}")

        raw_filters = _optional(routing, "filters")
        if raw_filters is None:
            raw_filters = []
        elif not isinstance(raw_filters, list):
            _fail("task_routing.filters", f"must be an array, got {_type_name(raw_filters)}")
        filters = tuple(
            self._filter(raw, f"task_routing.filters[{index}]")
            for index, raw in enumerate(raw_filters)
        )

        raw_default = _optional(routing, "default_filter")
        default_filter: Target | None = None
        if raw_default is not None:
            if not isinstance(raw_default, dict):
                _fail(
                    "task_routing.default_filter",
                    f"must be an object, got {_type_name(raw_default)}",
                )
            default_filter = self._target(
                raw_default, "task_routing.default_filter", inherited_queue=None, is_default=True
            )

        if not filters and default_filter is None:
            _fail("task_routing", "must contain a non-empty 'filters' array or a 'default_filter'")
        return WorkflowConfig(filters=filters, default_filter=default_filter)

    def _filter(self, raw: object, path: str) -> Filter:
        if not isinstance(raw, dict):
            _fail(path, f"must be an object, got {_type_name(raw)}")

        name = _optional(raw, "filter_friendly_name")
        if name is not None and not isinstance(name, str):
            _fail(f"{path}.filter_friendly_name", f"must be a string, got {_type_name(name)}")

        expression_text = raw.get("expression")
        if expression_text is None:
            _fail(f"{path}.expression", "is required")
        if not isinstance(expression_text, str):
            _fail(f"{path}.expression", f"must be a string, got {_type_name(expression_text)}")
        expression = self._compile(expression_text, f"{path}.expression")

        raw_targets = raw.get("targets")
        if raw_targets is None:
            _fail(f"{path}.targets", "is required")
        if not isinstance(raw_targets, list):
            _fail(f"{path}.targets", f"must be an array, got {_type_name(raw_targets)}")
        if not raw_targets:
            _fail(f"{path}.targets", "must contain at least one target")

        targets: list[Target] = []
        inherited: str | None = None
        for index, raw_target in enumerate(raw_targets):
            target_path = f"{path}.targets[{index}]"
            if not isinstance(raw_target, dict):
                _fail(target_path, f"must be an object, got {_type_name(raw_target)}")
            target = self._target(
                raw_target, target_path, inherited_queue=inherited, is_default=False
            )
            inherited = target.queue_sid
            targets.append(target)
        return Filter(name=name, expression=expression, targets=tuple(targets))

    def _target(
        self,
        raw: Mapping[str, Any],
        path: str,
        *,
        inherited_queue: str | None,
        is_default: bool,
    ) -> Target:
        queue = _optional(raw, "queue")
        if queue is None:
            if inherited_queue is None:
                _fail(f"{path}.queue", "is required")
            queue_sid = inherited_queue
        else:
            if not isinstance(queue, str):
                _fail(f"{path}.queue", f"must be a string, got {_type_name(queue)}")
            if not self._queue_ok(queue):
                _fail(f"{path}.queue", f"{_show(queue)} is not a TaskQueue of this workspace")
            queue_sid = queue

        priority: int | None = None
        raw_priority = _optional(raw, "priority")
        if raw_priority is not None:
            priority = _bounded_int(
                raw_priority,
                f"{path}.priority",
                0,
                MAX_PRIORITY,
                f"an integer between 0 and {MAX_PRIORITY}",
            )

        timeout: int | None = None
        skip_if: Expression | None = None
        if not is_default:
            raw_timeout = _optional(raw, "timeout")
            if raw_timeout is not None:
                timeout = _bounded_int(
                    raw_timeout,
                    f"{path}.timeout",
                    1,
                    MAX_TARGET_TIMEOUT,
                    f"a positive integer of seconds, at most {MAX_TARGET_TIMEOUT}",
                )
            skip_text = self._optional_text(raw, "skip_if", path)
            if skip_text is not None:
                skip_if = self._compile(skip_text, f"{path}.skip_if")

        expression: Expression | None = None
        expression_text = self._optional_text(raw, "expression", path)
        if expression_text is not None:
            compiled = self._compile(expression_text, f"{path}.expression")
            # The engine skips per-worker evaluation entirely when there is no expression.
            expression = None if compiled.always_true else compiled

        order_by: tuple[OrderBy, ...] = ()
        order_text = self._optional_text(raw, "order_by", path)
        if order_text is not None:
            order_by = _parse_order_by(order_text, f"{path}.order_by")

        worker_selection = "longest_idle"
        raw_selection = _optional(raw, "worker_selection")
        if raw_selection is not None:
            if raw_selection not in WORKER_SELECTIONS:
                _fail(f"{path}.worker_selection",
                      f"{_show(raw_selection)} is not a worker selection strategy: use one of "
                      f"{', '.join(WORKER_SELECTIONS)}")
            worker_selection = raw_selection

        known_sid = self._known_worker(raw, "known_worker_sid", path)
        known_name = self._known_worker(raw, "known_worker_friendly_name", path)
        if known_sid is not None and known_name is not None:
            _fail(
                path,
                "may set only one of known_worker_sid and known_worker_friendly_name",
            )

        return Target(
            queue_sid=queue_sid,
            priority=priority,
            timeout=timeout,
            expression=expression,
            order_by=order_by,
            skip_if=skip_if,
            known_worker_sid=known_sid,
            known_worker_friendly_name=known_name,
            worker_selection=worker_selection,
        )

    @staticmethod
    def _optional_text(raw: Mapping[str, Any], key: str, path: str) -> str | None:
        value = _optional(raw, key)
        if value is None:
            return None
        if not isinstance(value, str):
            _fail(f"{path}.{key}", f"must be a string, got {_type_name(value)}")
        return value if value.strip() else None

    def _known_worker(self, raw: Mapping[str, Any], key: str, path: str) -> tuple[str, ...] | None:
        text = self._optional_text(raw, key, path)
        if text is None:
            return None
        attribute = _attribute_path(text.strip(), "task")
        if attribute is None:
            _fail(
                f"{path}.{key}",
                f"must reference a task attribute as 'task.<attribute>', got {_show(text)}",
            )
        return attribute

    def _queue_ok(self, sid: str) -> bool:
        known = self._queue_checked.get(sid)
        if known is None:
            known = bool(self._queue_exists(sid))
            self._queue_checked[sid] = known
        return known

    def _compile(self, text: str, path: str) -> Expression:
        compiled = self._expressions.get(text)
        if compiled is not None:
            return compiled
        try:
            compiled = compile_expression(text)
        except ExpressionError as exc:
            raise _error(path, f"is not a valid expression: {exc}") from exc
        except RecursionError as exc:
            raise _error(path, "is not a valid expression: nested too deeply") from exc
        self._expressions[text] = compiled
        return compiled


def _parse_order_by(text: str, path: str) -> tuple[OrderBy, ...]:
    """``"worker.level DESC, worker.tenure"`` -> clauses; direction defaults to ASC."""
    clauses: list[OrderBy] = []
    for index, clause in enumerate(text.split(",")):
        tokens = clause.split()
        if not tokens:
            _fail(path, f"clause {index + 1} is empty")
        if len(tokens) > 2:
            _fail(
                path,
                f"clause {index + 1} {_show(clause.strip())} must be"
                " 'worker.<attribute> [ASC|DESC]'",
            )
        attribute = _attribute_path(tokens[0], "worker")
        if attribute is None:
            _fail(
                path,
                f"clause {index + 1} must name a worker attribute as 'worker.<attribute>',"
                f" got {_show(tokens[0])}",
            )
        descending = False
        if len(tokens) == 2:
            direction = tokens[1].upper()
            if direction not in ("ASC", "DESC"):
                _fail(
                    path,
                    f"clause {index + 1} direction must be ASC or DESC, got {_show(tokens[1])}",
                )
            descending = direction == "DESC"
        clauses.append(OrderBy(path=attribute, descending=descending))
    return tuple(clauses)
