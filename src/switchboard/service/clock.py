"""Where time comes from. The routing core never reads a clock: the service passes it ``now``."""

from __future__ import annotations

import time
from typing import Protocol

# The latest time a manual clock may reach: 9999-01-01T00:00:00Z, a year before the last
# date an answer can render, so that deadlines set from it (weeks at most) still render.
LATEST_MS = 253_370_764_800_000


class Clock(Protocol):
    manual: bool

    def now_ms(self) -> int: ...


class SystemClock:
    manual = False

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told; tests and users move time with it."""

    manual = True

    def __init__(self, start_ms: int | None = None) -> None:
        self._now = SystemClock().now_ms() if start_ms is None else start_ms

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> int:
        if ms < 0:
            raise ValueError("time cannot move backwards")
        if self._now + ms > LATEST_MS:
            raise ValueError("time cannot move past 9999-01-01")
        self._now += ms
        return self._now

    def resume(self, now_ms: int) -> None:
        """Continue from a time kept in the store (after a restart)."""
        self._now = now_ms
