"""The console's live feed: each committed event of a workspace, to the browsers watching it.

It listens to the runtime's committed-event stream (as the Worker SDK bridge does) and keeps
one bounded queue per open page. A page too slow to keep up is dropped rather than allowed to
hold memory: its stream ends, and the page reconnects and reloads what it shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Any

import orjson

from switchboard.routing.model import Event
from switchboard.service.runtime import Runtime

QUEUE_SIZE = 1000
# Open pages per account: each holds a connection and up to QUEUE_SIZE frames.
MAX_STREAMS_PER_ACCOUNT = 50
HEARTBEAT_SECONDS = 15.0
_END = None


def event_shape(event: Event) -> dict[str, Any]:
    """The event as the Events API names its fields (dates in epoch milliseconds)."""
    return {
        "sid": event.sid, "seq": event.seq, "event_type": event.event_type,
        "event_date_ms": event.event_date, "resource_type": event.resource_type,
        "resource_sid": event.resource_sid, "actor_type": "workspace",
        "actor_sid": event.workspace_sid, "description": event.description,
        "task_sid": event.task_sid, "worker_sid": event.worker_sid,
        "reservation_sid": event.reservation_sid, "task_queue_sid": event.task_queue_sid,
        "workflow_sid": event.workflow_sid, "task_channel": event.task_channel,
        "event_data": event.data,
    }


def account_key(account_sid: str) -> str:
    """What ``frames`` watches for an account's list of workspaces (its workspace.* events)."""
    return "account:" + account_sid


class ConsoleFeed:
    def __init__(self, runtime: Runtime, queue_size: int = QUEUE_SIZE,
                 max_streams: int = MAX_STREAMS_PER_ACCOUNT) -> None:
        self.queue_size = queue_size
        self.max_streams = max_streams
        self.watchers: dict[str, set[asyncio.Queue[bytes | None]]] = {}
        self.streams: dict[str, int] = {}  # account SID -> its open streams
        self.closed = False
        runtime.add_listener(self.on_events)

    def close(self) -> None:
        """End every stream, and those opened from now on (the server is stopping)."""
        self.closed = True
        for workspace_sid, watchers in list(self.watchers.items()):
            for queue in list(watchers):
                self._drop(workspace_sid, queue)

    def on_events(self, workspace_sid: str, events: list[Event]) -> None:
        if not self.watchers:  # no page open: nothing to look through (after every commit)
            return
        self._send(workspace_sid, events)
        # The account's list of workspaces hears of workspaces made, renamed and deleted.
        listed = [e for e in events if e.event_type.startswith("workspace.")]
        if listed:
            self._send(account_key(listed[0].account_sid), listed)

    def _send(self, key: str, events: list[Event]) -> None:
        watchers = self.watchers.get(key)
        if not watchers:
            return
        frames = [b"event: taskrouter\ndata: " + orjson.dumps(event_shape(e), default=str)
                  + b"\n\n" for e in events]
        for queue in list(watchers):
            try:
                for frame in frames:
                    queue.put_nowait(frame)
            except asyncio.QueueFull:
                self._drop(key, queue)

    def _drop(self, workspace_sid: str, queue: asyncio.Queue[bytes | None]) -> None:
        self.watchers.get(workspace_sid, set()).discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(_END)

    def full(self, account_sid: str) -> bool:
        """Whether the account has as many streams open as it may."""
        return self.streams.get(account_sid, 0) >= self.max_streams

    async def frames(self, workspace_sid: str, account_sid: str = "",
                     allowed: Callable[[], bool] = lambda: True) -> AsyncGenerator[bytes, None]:
        """Server-Sent Events for one page: a hello, then every event of the workspace (or of
        ``account_key``: the account's workspace.* events), with heartbeats. The stream ends
        as soon as ``allowed`` says no before a frame (the session ended, its token was
        rotated, the workspace went away)."""
        if self.closed:
            return
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(self.queue_size)
        self.watchers.setdefault(workspace_sid, set()).add(queue)
        self.streams[account_sid] = self.streams.get(account_sid, 0) + 1
        try:
            yield b"retry: 1000\nevent: hello\ndata: {}\n\n"
            while True:
                try:
                    frame = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    frame = b": heartbeat\n\n"
                if frame is _END or not allowed():
                    return
                yield frame
        finally:
            if (left := self.streams.pop(account_sid, 1) - 1) > 0:
                self.streams[account_sid] = left
            watchers = self.watchers.get(workspace_sid)
            if watchers is not None:
                watchers.discard(queue)
                if not watchers:
                    del self.watchers[workspace_sid]
