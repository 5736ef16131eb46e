"""Declared request parameters: parsed from Twilio-style input, and described in our OpenAPI.

Each endpoint lists its parameters once; the same list validates requests (with Twilio's
error messages naming the parameter) and documents them, so the two never drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote, unquote_to_bytes

from switchboard.routing.errors import InvalidParameter

Kind = Literal["string", "integer", "boolean", "flag", "datetime", "list", "enum"]

TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no"})
_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# Plain decimal integers only: int() alone would also take "1_000" and non-ASCII digits.
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Integer parameters that declare no bounds of their own are 32-bit signed integers, as in
# Twilio's API: beyond that no count, page or duration means anything, and the figures derived
# from them (offsets, dates) would overflow the store's 64-bit integers.
MIN_INTEGER = -(2**31)
MAX_INTEGER = 2**31 - 1
# Characters that no backend can store as text (PostgreSQL refuses NUL; lone surrogates are not
# Unicode at all): refused on every backend alike, before anything is applied.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Param:
    """One parameter, by its Twilio name (``FriendlyName``); handlers see it as snake_case."""

    name: str
    kind: Kind = "string"
    required: bool = False
    choices: tuple[str, ...] = ()
    description: str = ""
    minimum: int | None = None
    maximum: int | None = None

    attr: str = field(init=False, repr=False, compare=False)

    @property
    def low(self) -> int:
        return MIN_INTEGER if self.minimum is None else self.minimum

    @property
    def high(self) -> int:
        return MAX_INTEGER if self.maximum is None else self.maximum

    def __post_init__(self) -> None:
        # The snake_case name handlers see; computed once, read on every request.
        object.__setattr__(self, "attr", _SNAKE.sub("_", self.name).lower().replace("-", "_"))

    def schema(self) -> dict[str, Any]:
        """This parameter's JSON schema for the OpenAPI document."""
        if self.kind == "integer":
            return {"type": "integer", "minimum": self.low, "maximum": self.high}
        if self.kind == "boolean":
            return {"type": "boolean"}
        if self.kind == "datetime":
            return {"type": "string", "format": "date-time"}
        if self.kind == "list":
            return {"type": "array", "items": {"type": "string"}}
        if self.kind == "enum":
            return {"type": "string", "enum": list(self.choices)}
        return {"type": "string"}


PAGING = (
    Param("PageSize", "integer", minimum=1, maximum=1000,
          description="How many resources to return in each page (default 50)."),
    Param("Page", "integer", minimum=0, description="The page index, for information."),
    Param("PageToken", description="The page token provided by the previous page."),
)


def form_items(body: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of an ``application/x-www-form-urlencoded`` body, in order:
    what ``urllib.parse.parse_qsl(body, keep_blank_values=True)`` gives, in half its time
    (with the multidict it went into, 23,000 instructions of a task's creation: ninth pass
    of ``benchmarks/http_tasks.py``)."""
    items = []
    for pair in body.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        items.append((_unquote_plus(name), _unquote_plus(value)))
    return items


def _unquote_plus(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    # ASCII text is one run for ``unquote``: its bytes decoded at once, without its regex.
    return unquote_to_bytes(text).decode("utf-8", "replace") if text.isascii() else unquote(
        text)


def parse(params: tuple[Param, ...], items: Iterable[tuple[str, Any]], where: str
          ) -> dict[str, Any]:
    """Validated values by ``attr`` from the request's (name, value) pairs; absent optional
    parameters are None."""
    values: dict[str, Any] = {}
    # Grouped in one pass: a getlist per parameter would go over every item each time.
    given: dict[str, list[Any]] = {}
    for key, value in items:
        given.setdefault(key, []).append(value)
    for param in params:
        raw = given.get(param.name)
        if not raw or (param.kind != "string" and raw == [""]):
            if param.required:
                raise InvalidParameter(f"Missing required parameter {param.name} in the {where}")
            values[param.attr] = None
            continue
        texts = [str(v) for v in raw]
        for text in texts:
            check_text(text, param.name)
        values[param.attr] = _convert(param, texts)
    return values


def check_text(value: str, name: str) -> str:
    """Refuse text that cannot be stored (NUL characters, lone surrogates), naming where."""
    found = _UNSTORABLE.search(value)
    if found is not None:
        what = "a NUL character" if found.group() == "\x00" else "a lone surrogate"
        raise InvalidParameter(f"Invalid parameter {name}: it contains {what} at position "
                               f"{found.start()}, which is not valid text")
    return value


def _convert(param: Param, raw: list[str]) -> Any:
    if param.kind == "list":
        return raw  # repeated keys, as the official clients send lists
    value = raw[-1]
    if param.kind == "string":
        return value
    if param.kind == "integer":
        text = value.strip()
        if not _INTEGER.fullmatch(text):
            raise InvalidParameter(f"Invalid parameter {param.name}: '{_clip(value)}' is not an "
                                   "integer")
        # More digits than any bound: refused before int() spends time on thousands of them.
        number = int(text) if len(text.lstrip("+-").lstrip("0")) <= 20 else None
        if number is None:
            raise InvalidParameter(f"{param.name} must be between {param.low} and "
                                   f"{param.high}, got {_clip(text)}")
        if number < param.low:
            raise InvalidParameter(f"{param.name} must be at least {param.low}, got "
                                   f"{_clip(text)}")
        if number > param.high:
            raise InvalidParameter(f"{param.name} must be at most {param.high}, got "
                                   f"{_clip(text)}")
        return number
    if param.kind == "boolean":
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise InvalidParameter(f"Invalid parameter {param.name}: '{value}' is not true or false")
    if param.kind == "flag":
        # TaskRouter's string-typed switches: true, 1 or yes mean true; anything else false.
        return value.strip().lower() in TRUE_WORDS
    if param.kind == "datetime":
        return parse_datetime(value, param.name)
    if value not in param.choices:
        raise InvalidParameter(
            f"Invalid parameter {param.name}: '{value}' is not one of {', '.join(param.choices)}")
    return value


def _clip(text: str, limit: int = 40) -> str:
    """A value quoted in an error message, cut short: messages stay small whatever was sent."""
    return text if len(text) <= limit else text[:limit] + "…"


def parse_datetime(value: str, name: str) -> int:
    """An ISO 8601 date-time (or date) as epoch milliseconds; naive times are UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # In UTC it must still be a date every answer can render (years 1 to 9999).
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidParameter(
            f"Invalid parameter {name}: '{_clip(value)}' is not an ISO 8601 date-time "
            "such as 2024-01-02T03:04:05Z") from None
    return int(moment.timestamp() * 1000)
