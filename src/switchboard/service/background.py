"""Background work on the event loop: services whose work is one task, from ``start`` until
``stop``, and sets of tasks started on the side."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has ended."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class BackgroundLoop:
    """A background service (``api.app.BackgroundService``) that runs ``run`` until stopped."""

    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        await cancel(self._task)

    async def run(self) -> None:
        raise NotImplementedError


class TaskSet(set[asyncio.Task[Any]]):
    """Tasks started on the side, each held here until it ends (the event loop holds only a
    weak reference to a task)."""

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coroutine)
        self.add(task)
        task.add_done_callback(self.discard)
