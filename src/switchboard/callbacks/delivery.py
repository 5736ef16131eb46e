"""Sends callbacks and says how each went; what is owed and what an answer means is decided
by the dispatcher.

* Event callbacks go out one at a time per workspace, in the order they are given, each
  retried with exponential backoff until it succeeds or its attempts run out (then it is
  reported failed and delivery moves on). Each one done is reported ``delivered``.
* Assignment callbacks run side by side (a bounded number per workspace), the fallback URL
  tried when the primary fails; the answer's instruction, if any, is reported ``offered``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from switchboard.callbacks.overrides import split_url
from switchboard.callbacks.payloads import assignment_params, event_params, form_encode
from switchboard.callbacks.signing import signature
from switchboard.callbacks.transport import Answer, Transport, TransportError
from switchboard.routing.model import Event
from switchboard.service.background import TaskSet

log = logging.getLogger(__name__)
ASSIGNMENT_DEADLINE = 5.0  # seconds an assignment callback may take, as on TaskRouter
MAX_BACKOFF = 60.0
MAX_ASSIGNMENTS_IN_FLIGHT = 32  # per workspace


class Reports(Protocol):
    def delivered(self, workspace_sid: str, seq: int) -> None:
        """The event callback for ``seq`` is done (sent, or given up and reported failed)."""

    def offered(self, workspace_sid: str, seq: int, instruction: dict[str, Any] | None
                ) -> None:
        """The assignment callback for ``seq`` is done; the instruction its answer held."""

    def failed(self, event: Event, kind: str, url: str, attempts: int, error: str) -> None:
        """A callback got no 2xx answer in any of its attempts."""


@dataclass
class Lane:
    """One workspace's event callbacks, in order."""

    events: deque[tuple[Event, str]] = field(default_factory=deque)  # with the auth token
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    worker: asyncio.Task[None] | None = None
    slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(MAX_ASSIGNMENTS_IN_FLIGHT))


class Delivery:
    def __init__(self, reports: Reports, transport: Transport, *, attempts: int,
                 backoff: float) -> None:
        self.reports = reports
        self.transport = transport
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.lanes: dict[str, Lane] = {}
        self._tasks = TaskSet()

    def event(self, event: Event, auth_token: str) -> None:
        lane = self.lanes.get(event.workspace_sid)
        if lane is None:
            lane = self.lanes[event.workspace_sid] = Lane()
        lane.events.append((event, auth_token))
        lane.wake.set()
        if lane.worker is None:
            lane.worker = asyncio.create_task(self._deliver_events(event.workspace_sid, lane))

    def assignment(self, event: Event, auth_token: str) -> None:
        lane = self.lanes.get(event.workspace_sid)
        if lane is None:
            lane = self.lanes[event.workspace_sid] = Lane()
        self._tasks.spawn(self._offer(lane, event, auth_token))

    async def close(self) -> None:
        tasks = [*self._tasks, *(lane.worker for lane in self.lanes.values() if lane.worker)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.transport.close()

    async def _deliver_events(self, workspace_sid: str, lane: Lane) -> None:
        while True:
            while lane.events:
                event, auth_token = lane.events[0]
                assert event.callback_url is not None
                await self._post(event, "event", event.callback_url, event_params(event),
                                 auth_token, retry=True)
                lane.events.popleft()
                self.reports.delivered(workspace_sid, event.seq)
            lane.wake.clear()
            await lane.wake.wait()

    async def _offer(self, lane: Lane, event: Event, auth_token: str) -> None:
        instruction = None
        async with lane.slots:
            params = assignment_params(event)
            for url in (event.assignment_url, event.assignment_fallback_url):
                if not url:
                    continue
                answer = await self._post(event, "assignment", url, params, auth_token,
                                          retry=False, deadline=ASSIGNMENT_DEADLINE)
                if answer is not None:
                    instruction = _instruction(answer)
                    break
        self.reports.offered(event.workspace_sid, event.seq, instruction)

    async def _post(self, event: Event, kind: str, configured_url: str,
                    params: dict[str, str], auth_token: str, *, retry: bool,
                    deadline: float | None = None) -> Answer | None:
        """POST signed form parameters; the 2xx answer, or None once attempts run out."""
        url, overrides = split_url(configured_url)
        attempts = 1 + (overrides.retries if overrides.retries is not None
                        else (self.attempts - 1 if retry else 0))
        read_timeout = min(overrides.read_timeout, deadline or overrides.read_timeout)
        connect_timeout = min(overrides.connect_timeout, read_timeout)
        headers = {"X-Twilio-Signature": signature(auth_token, url, params)}
        body = form_encode(params)
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + overrides.total_time if overrides.retries is not None or (
            deadline is not None) else None
        error = ""
        for attempt in range(attempts):
            try:
                answer = await self.transport.post(url, body, headers,
                                                   connect_timeout=connect_timeout,
                                                   read_timeout=read_timeout)
                if 200 <= answer.status < 300:
                    return answer
                error = f"HTTP {answer.status}"
            except TransportError as exc:
                error = str(exc)
            except Exception as exc:  # a fault of ours must not stop the lane: count it
                log.exception("%s callback %s to %s", kind, event.sid, url)
                error = f"{type(exc).__name__}: {exc}"
            delay = min(self.backoff * 2 ** attempt, MAX_BACKOFF)
            if attempt + 1 == attempts or (give_up_at is not None
                                           and loop.time() + delay > give_up_at):
                break
            log.info("%s callback %s to %s failed (%s); retrying in %.1f s", kind, event.sid,
                     url, error, delay)
            await asyncio.sleep(delay)
        log.warning("%s callback %s for %s to %s failed after %d attempt(s): %s", kind,
                    event.sid, event.event_type, url, attempt + 1, error)
        self.reports.failed(event, kind, url, attempt + 1, error)
        return None


def _instruction(answer: Answer) -> dict[str, Any] | None:
    """The JSON instruction in an assignment callback's answer, if there is one."""
    if "json" not in answer.content_type:
        return None
    try:
        body = json.loads(answer.body)
    except ValueError:
        return None
    return body if isinstance(body, dict) and "instruction" in body else None
