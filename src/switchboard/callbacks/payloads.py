"""The form parameters of event and assignment callbacks, built from an event's data, and
their encoding."""

from __future__ import annotations

import binascii
import re
from functools import lru_cache
from typing import Any

from switchboard.routing.model import Event

RESOURCE_TYPES = {
    "task": "Task", "reservation": "Reservation", "worker": "Worker", "activity": "Activity",
    "workflow": "Workflow", "workspace": "Workspace", "task_queue": "TaskQueue",
    "task_channel": "TaskChannel",
}
ASSIGNMENT_FIELDS = (
    "account_sid", "workspace_sid", "workflow_sid", "task_queue_sid", "worker_sid",
    "worker_attributes", "task_sid", "task_attributes", "task_age", "task_priority",
    "reservation_sid",
)


@lru_cache(maxsize=1024)
def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def event_params(event: Event) -> dict[str, str]:
    """An event callback: the event's own fields plus its data, in CamelCase."""
    params = {camel(k): form_value(v) for k, v in event.data.items() if v is not None}
    params.update(
        Sid=event.sid,
        EventType=event.event_type,
        EventDescription=event.description,
        ResourceType=RESOURCE_TYPES.get(event.resource_type, event.resource_type),
        ResourceSid=event.resource_sid,
        Timestamp=str(event.event_date // 1000),
        TimestampMs=str(event.event_date),
    )
    return params


def assignment_params(event: Event) -> dict[str, str]:
    """An assignment callback for a ``reservation.created`` event."""
    data = event.data
    params = {camel(k): form_value(data[k]) for k in ASSIGNMENT_FIELDS
              if data.get(k) is not None}
    params["Timestamp"] = str(event.event_date // 1000)
    return params


# Everything but what a form value may carry as it is; NUL and SOH stand for "=" and "&"
# while a whole body is escaped in one pass.
_UNSAFE = re.compile(rb"[^A-Za-z0-9_.~ \x00\x01-]+")


def _escape(run: re.Match[bytes]) -> bytes:
    return b"%" + binascii.hexlify(run.group(), b"%").upper()


def form_encode(params: dict[str, str]) -> bytes:
    """``urllib.parse.urlencode(params).encode()``, in one regular-expression pass over the
    whole body instead of a Python loop over every byte: a callback's body is encoded on
    every send."""
    text = "\x01".join(f"{name}\x00{value}" for name, value in params.items())
    if text.count("\x00") != len(params) or text.count("\x01") != max(len(params) - 1, 0):
        # A name or value holds a NUL or SOH itself: escape them one by one.
        return b"&".join(_quote(name) + b"=" + _quote(value) for name, value in params.items())
    return (_UNSAFE.sub(_escape, text.encode()).replace(b" ", b"+")
            .replace(b"\x00", b"=").replace(b"\x01", b"&"))


def _quote(text: str) -> bytes:
    escaped = _UNSAFE.sub(_escape, text.encode()).replace(b" ", b"+")
    return escaped.replace(b"\x00", b"%00").replace(b"\x01", b"%01")
