"""List filters that name a resource: a malformed or unknown one is a 400, never an empty page.

Twilio's OpenAPI document gives every SID filter its pattern (``ActivitySid``:
``^WA[0-9a-fA-F]{32}$``); a value that does not match is malformed: ``400``, code 20001, naming
the parameter. A well-formed SID or a friendly name that names nothing the list could hold is
refused the same way, so an application with a typo or a stale SID learns so instead of reading
an empty page as "nobody". "Nothing the list could hold" means no such resource in the
workspace *and* no listed item that still refers to it (a task routed to a worker deleted
since, a deleted worker's past reservation): those stay reachable by their filter. The Events
list only checks the form of its SIDs: it is history, and its events outlive what they are
about.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable

from switchboard.routing.errors import InvalidParameter

KINDS = {"WA": "Activity", "WK": "Worker", "WQ": "TaskQueue", "WW": "Workflow", "WT": "Task",
         "WR": "Reservation", "WC": "WorkerChannel", "EV": "Event", "TC": "TaskChannel"}
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


def _article(label: str) -> str:
    return "an" if label[0] in "AEIOU" else "a"


def _quoted(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def well_formed(value: str | None, name: str, *prefixes: str) -> str | None:
    """``value`` unless it is not a SID of one of ``prefixes`` (Twilio's pattern for it)."""
    if value is None:
        return None
    if value[:2] in prefixes and _HEX32.fullmatch(value, 2):
        return value
    kinds = " or ".join(f"{_article(KINDS[p])} {KINDS[p]} SID ({p} and 32 hex digits)"
                        for p in prefixes)
    raise InvalidParameter(f"Invalid {name} '{_quoted(value)}': it must be {kinds}")


def sid(value: str | None, name: str, prefix: str, known: Callable[[str], bool]) -> str | None:
    """A well-formed SID that ``known`` recognises (a resource, or one a listed item names)."""
    if well_formed(value, name, prefix) is None:
        return None
    assert value is not None
    if not known(value):
        label = KINDS[prefix]
        raise InvalidParameter(f"Invalid {name} '{value}': it is not {_article(label)} {label} "
                               "of this workspace")
    return value


def friendly_name(value: str | None, name: str, label: str, names: Iterable[str]) -> str | None:
    """A friendly name that one of ``names`` is (exactly, as the filter compares them)."""
    if value is None:
        return None
    if value not in (names if isinstance(names, Collection) else set(names)):
        raise InvalidParameter(f"Invalid {name} '{_quoted(value)}': no {label} of this "
                               "workspace has that name")
    return value
