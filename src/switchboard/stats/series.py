"""Summaries of values over a window (count, total, minimum, maximum), which merge exactly, and
when a time-ordered array kept in memory is worth trimming."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass

TRIM_EVERY = 1024  # additions between looks at whether old occurrences are worth dropping


@dataclass(frozen=True, slots=True)
class Summary:
    """Values of the occurrences in a window (milliseconds for wait durations)."""

    count: int = 0
    total: int = 0
    minimum: int = 0
    maximum: int = 0

    def merge(self, other: Summary) -> Summary:
        if not other.count:
            return self
        if not self.count:
            return other
        return Summary(self.count + other.count, self.total + other.total,
                       min(self.minimum, other.minimum), max(self.maximum, other.maximum))


EMPTY = Summary()


def worth_forgetting(times: array[int], horizon: int) -> bool:
    """True once at least half of ``times`` is before ``horizon``: dropping the old part then
    costs O(1) per addition since the last drop."""
    return bool(times) and times[0] < horizon and 2 * bisect_left(times, horizon) >= len(times)
