"""Checks shared by the compatibility tests on what the official SDK parsed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def sids(items: Any) -> list[str]:
    return [item.sid for item in items]


def check_types(instance: Any, *, datetimes: tuple[str, ...] = ("date_created", "date_updated"),
                bools: tuple[str, ...] = (), ints: tuple[str, ...] = ()) -> None:
    """Typed fields came back typed: our date format parses, booleans and ints are JSON's."""
    for name in datetimes:
        value = getattr(instance, name)
        assert isinstance(value, datetime), f"{name}={value!r} did not parse as a datetime"
        assert value.tzinfo == UTC, name
    for name in bools:
        assert type(getattr(instance, name)) is bool, f"{name}={getattr(instance, name)!r}"
    for name in ints:
        assert type(getattr(instance, name)) is int, f"{name}={getattr(instance, name)!r}"
    assert isinstance(instance.sid, str)
    assert instance.url.startswith("http://127.0.0.1:")
