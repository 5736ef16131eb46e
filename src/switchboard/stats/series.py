"""A time-ordered series of occurrences, each with an optional value, answering window queries
in O(log n): how many fell in a window and, for valued series, their total, minimum and maximum.

Occurrences arrive in time order (the event log's), so adding is an append; the rare one that
arrives earlier than the last (a wall clock stepping back) is inserted in place and the
summaries after it are rebuilt. Counts come from two binary searches, totals from prefix sums,
minimums and maximums from per-block extremes plus at most two partial blocks; every scan
runs inside the interpreter's C code (``array`` slices, ``min``/``max``), never a Python loop.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate

BLOCK = 64
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


class Series:
    """Occurrences only: how many fell in a window."""

    __slots__ = ("times",)

    def __init__(self) -> None:
        self.times = array("q")

    def __len__(self) -> int:
        return len(self.times)

    def add(self, time: int, value: int = 0) -> None:
        times = self.times
        if times and time < times[-1]:
            times.insert(bisect_right(times, time), time)
        else:
            times.append(time)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Positions ``[i, j)`` of the occurrences with ``start <= time <= end``."""
        return bisect_left(self.times, start), bisect_right(self.times, end)

    def count(self, start: int, end: int) -> int:
        i, j = self.span(start, end)
        return max(0, j - i)

    def forget_before(self, time: int) -> None:
        """Drop occurrences earlier than ``time`` (outside every window still asked for)."""
        del self.times[:bisect_left(self.times, time)]


class ValuedSeries(Series):
    """Occurrences with a value each: also their total, minimum and maximum in a window."""

    __slots__ = ("_block_max", "_block_min", "_prefix", "values")

    def __init__(self) -> None:
        super().__init__()
        self.values = array("q")
        self._prefix = array("q", [0])  # _prefix[i]: total of the first i values
        self._block_min = array("q")
        self._block_max = array("q")

    def add(self, time: int, value: int = 0) -> None:
        times = self.times
        if times and time < times[-1]:
            at = bisect_right(times, time)
            times.insert(at, time)
            self.values.insert(at, value)
            self._rebuild(at)
            return
        times.append(time)
        values = self.values
        values.append(value)
        self._prefix.append(self._prefix[-1] + value)
        index = len(values) - 1
        block = index // BLOCK
        if index % BLOCK == 0:
            self._block_min.append(value)
            self._block_max.append(value)
        else:
            if value < self._block_min[block]:
                self._block_min[block] = value
            if value > self._block_max[block]:
                self._block_max[block] = value

    def _rebuild(self, start: int) -> None:
        """Recompute prefix sums and block extremes from position ``start`` on."""
        values = self.values
        totals = accumulate(values[start:], initial=self._prefix[start])
        del self._prefix[start:]
        self._prefix.extend(totals)
        first_block = start // BLOCK
        del self._block_min[first_block:]
        del self._block_max[first_block:]
        for offset in range(first_block * BLOCK, len(values), BLOCK):
            chunk = values[offset:offset + BLOCK]
            self._block_min.append(min(chunk))
            self._block_max.append(max(chunk))

    def summary(self, start: int, end: int) -> Summary:
        values = self.values
        i, j = self.span(start, end)
        if i >= j:
            return EMPTY
        total = self._prefix[j] - self._prefix[i]
        first_full = -(-i // BLOCK)  # first block starting at or after i
        last_full = j // BLOCK  # blocks before this one end at or before j
        if first_full >= last_full:
            chunk = values[i:j]
            return Summary(j - i, total, min(chunk), max(chunk))
        lows = [min(self._block_min[first_full:last_full])]
        highs = [max(self._block_max[first_full:last_full])]
        for lo, hi in ((i, first_full * BLOCK), (last_full * BLOCK, j)):
            if lo < hi:
                chunk = values[lo:hi]
                lows.append(min(chunk))
                highs.append(max(chunk))
        return Summary(j - i, total, min(lows), max(highs))

    def values_between(self, start: int, end: int) -> array[int]:
        """The values of the occurrences in the window, in time order."""
        i, j = self.span(start, end)
        return self.values[i:j]

    def forget_before(self, time: int) -> None:
        cut = bisect_left(self.times, time)
        if not cut:
            return
        del self.times[:cut]
        del self.values[:cut]
        del self._prefix[1:]
        del self._block_min[:]
        del self._block_max[:]
        self._rebuild(0)


def worth_forgetting(times: array[int], horizon: int) -> bool:
    """True once at least half of ``times`` is before ``horizon``: dropping the old part then
    costs O(1) per addition since the last drop."""
    return bool(times) and times[0] < horizon and 2 * bisect_left(times, horizon) >= len(times)
