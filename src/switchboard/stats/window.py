"""The window of a cumulative statistics request, from ``Minutes``, ``StartDate``, ``EndDate``.

* Nothing given: the last 15 minutes. ``Minutes=N``: the last N minutes.
* ``StartDate`` and/or ``EndDate``: from StartDate (default: 15 minutes before the end) to
  EndDate (default: now). ``Minutes`` cannot be combined with either.
* Both ends are inclusive, to the millisecond. The end is never later than now, and the start
  never earlier than ``RETENTION_MS`` ago: statistics reach back 30 days, as on TaskRouter.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.routing.errors import InvalidParameter

MINUTE_MS = 60_000
DEFAULT_MINUTES = 15
RETENTION_MS = 30 * 86_400_000
# What history keeps before its newest event: the retention period and a day to spare (now may
# be a little ahead of the newest event).
KEEP_MS = RETENTION_MS + 86_400_000


@dataclass(frozen=True, slots=True)
class Window:
    start: int  # epoch ms, inclusive
    end: int  # epoch ms, inclusive


def resolve_window(now: int, minutes: int | None = None, start_date: int | None = None,
                   end_date: int | None = None) -> Window:
    if minutes is not None and (start_date is not None or end_date is not None):
        raise InvalidParameter("Minutes cannot be combined with StartDate or EndDate")
    if minutes is not None and minutes < 1:
        raise InvalidParameter(f"Minutes must be at least 1, got {minutes}")
    horizon = now - RETENTION_MS
    if start_date is None and end_date is None:
        start = now - (minutes or DEFAULT_MINUTES) * MINUTE_MS
        return Window(max(start, horizon), now)
    if start_date is not None and end_date is not None and start_date > end_date:
        raise InvalidParameter("StartDate must not be after EndDate")
    end = now if end_date is None else min(end_date, now)
    if end < horizon:
        raise InvalidParameter("EndDate is more than 30 days ago: statistics cover the "
                               "past 30 days")
    start = start_date if start_date is not None else end - DEFAULT_MINUTES * MINUTE_MS
    if start > end:
        raise InvalidParameter("StartDate must not be in the future")
    return Window(max(start, horizon), end)


def parse_thresholds(text: str | None) -> tuple[int, ...] | None:
    """``SplitByWaitTime``: comma-separated whole seconds, e.g. ``5,30``."""
    if text is None:
        return None
    thresholds: list[int] = []
    for part in text.split(","):
        value = part.strip()
        if not (value.isascii() and value.isdigit() and len(value) <= 10):
            raise InvalidParameter(
                f"Invalid parameter SplitByWaitTime: '{text}' is not a comma-separated list "
                "of whole seconds such as 5,30")
        if int(value) not in thresholds:
            thresholds.append(int(value))
    return tuple(thresholds)
