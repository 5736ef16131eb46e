"""Checks on user input that the engine shares between resources."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from switchboard.routing.errors import InvalidParameter

MAX_ATTRIBUTES = 4096
MAX_PRIORITY = 2_147_483_647
MAX_FRIENDLY_NAME = 64
# JSON nested deeper than this is refused: no routing attribute needs it, and deeper documents
# would exhaust the stack of the parsers and encoders that walk them recursively.
MAX_JSON_DEPTH = 64
_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def attributes(value: str, name: str = "Attributes") -> dict[str, Any]:
    """Parse a JSON attributes object, at most 4,096 characters like TaskRouter's."""
    if len(value) > MAX_ATTRIBUTES:
        raise InvalidParameter(
            f"{name} is {len(value)} characters long; the maximum is {MAX_ATTRIBUTES}"
        )
    check_json_depth(value, name)
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise InvalidParameter(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidParameter(f"{name} must be a JSON object")
    return parsed


def check_json_depth(text: str | bytes, name: str) -> None:
    """Refuse JSON text nested more than ``MAX_JSON_DEPTH`` levels, before parsing it."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return  # too few brackets to nest that deep: the usual case costs two counts
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise InvalidParameter(f"{name} is nested more than {MAX_JSON_DEPTH} levels deep")


def friendly_name(value: str, name: str = "FriendlyName", limit: int = MAX_FRIENDLY_NAME) -> str:
    if not value.strip():
        raise InvalidParameter(f"{name} must not be empty")
    if len(value) > limit:
        raise InvalidParameter(f"{name} is longer than {limit} characters")
    return value


def identifier(value: str, name: str) -> str:
    if not _IDENTIFIER.match(value) or len(value) > MAX_FRIENDLY_NAME:
        raise InvalidParameter(
            f"{name} '{value}' must start with a letter, '_' or '$' and contain only letters, "
            "digits, '_' and '$' (at most 64 characters)"
        )
    return value


def callback_url(value: str | None, name: str) -> str | None:
    """An absolute http(s) URL, or None/'' to clear it."""
    if value is None or value == "":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidParameter(f"{name} '{value}' is not a valid absolute http or https URL")
    return value


def in_range(value: int, name: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidParameter(f"{name} must be between {low} and {high}, got {value}")
    return value
