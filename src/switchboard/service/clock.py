"""Where time comes from. The routing core never reads a clock: the service passes it ``now``."""

from __future__ import annotations

import time
from typing import Protocol


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
        self._now += ms
        return self._now
