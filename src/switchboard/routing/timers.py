"""Deadlines as data: a heap of (deadline, kind, sid) with lazy invalidation.

Nothing is ever removed from the heap when a deadline stops mattering (a reservation accepted
before its timeout, a task assigned before its TTL): the owner checks, when an entry comes due,
whether the deadline it names is still the entity's current one, and skips it otherwise.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

# Timer kinds, in the order they fire when due at the same millisecond.
RESERVATION_TIMEOUT = 0
STEP_TIMEOUT = 1
TASK_TTL = 2
TASK_PURGE = 3

Entry = tuple[int, int, int, str]  # deadline, kind, tie-break counter, sid


class Timers:
    def __init__(self) -> None:
        self._heap: list[Entry] = []
        self._counter = itertools.count()

    def schedule(self, deadline: int, kind: int, sid: str) -> None:
        heapq.heappush(self._heap, (deadline, kind, next(self._counter), sid))

    def next_deadline(self, is_live: Callable[[int, int, str], bool]) -> int | None:
        """The earliest live deadline, dropping stale entries on the way."""
        heap = self._heap
        while heap:
            deadline, kind, _, sid = heap[0]
            if is_live(deadline, kind, sid):
                return deadline
            heapq.heappop(heap)
        return None

    def pop_due(self, now: int) -> Entry | None:
        if self._heap and self._heap[0][0] <= now:
            return heapq.heappop(self._heap)
        return None

    def live(self, is_live: Callable[[int, int, str], bool]) -> list[Entry]:
        """Every live entry, soonest first, once each: a copy to read, not to fire."""
        unique = {(deadline, kind, sid): (deadline, kind, n, sid)
                  for deadline, kind, n, sid in self._heap if is_live(deadline, kind, sid)}
        return sorted(unique.values())

    def __len__(self) -> int:
        return len(self._heap)
