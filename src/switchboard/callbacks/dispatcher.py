"""Delivers event and assignment callbacks from the event log, off the request path.

Which events owe a callback is decided when they happen and stored with them (the event log
is the outbox). After each commit the runtime hands the new events to ``on_events``; each
workspace has its own lane, so a slow or dead receiver holds up nobody else:

* event callbacks go out one at a time per workspace, in the log's order, each retried with
  exponential backoff until it succeeds or its attempts run out (then it is recorded in
  ``callback_failures`` and logged, and delivery moves on);
* assignment callbacks run side by side; an ``accept`` or ``reject`` instruction in the answer
  is carried out as a command on the workspace.

How far each lane got is saved in ``callback_cursors`` a moment after it moves; after a restart
delivery resumes from there. A crash may deliver a few events twice, never lose one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from switchboard.callbacks.overrides import split_url
from switchboard.callbacks.payloads import assignment_params, event_params
from switchboard.callbacks.signing import signature
from switchboard.callbacks.transport import AiohttpTransport, Answer, Transport, TransportError
from switchboard.routing.errors import RoutingError
from switchboard.routing.model import Event
from switchboard.service.runtime import Runtime
from switchboard.store import tables

log = logging.getLogger(__name__)
ASSIGNMENT_DEADLINE = 5.0  # seconds an assignment callback may take, as on TaskRouter
FLUSH_INTERVAL = 0.2  # how often moved cursors are saved
MAX_BACKOFF = 60.0
MAX_ASSIGNMENTS_IN_FLIGHT = 32  # per workspace


@dataclass
class Lane:
    """One workspace's deliveries."""

    workspace_sid: str
    events_seq: int = 0
    assignments_seq: int = 0
    events: deque[Event] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: set[int] = field(default_factory=set)  # seqs of assignment callbacks under way
    highest_assignment: int = 0
    worker: asyncio.Task[None] | None = None
    slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(MAX_ASSIGNMENTS_IN_FLIGHT))


class CallbackDispatcher:
    def __init__(
        self,
        runtime: Runtime,
        *,
        attempts: int = 5,
        backoff: float = 1.0,
        transport: Transport | None = None,
    ) -> None:
        self.runtime = runtime
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.transport = transport or AiohttpTransport()
        self.lanes: dict[str, Lane] = {}
        self._dirty: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._flusher: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Resume what the log still owes, then follow new events."""
        cursors, owed = await asyncio.to_thread(self._load_owed)
        for workspace_sid, (events_seq, assignments_seq) in cursors.items():
            lane = self._lane(workspace_sid)
            lane.events_seq, lane.assignments_seq = events_seq, assignments_seq
            lane.highest_assignment = assignments_seq
        for event in owed:
            self._take(event)
        self.runtime.add_listener(self.on_events)
        self._flusher = asyncio.create_task(self._flush_loop())

    async def stop(self) -> None:
        for lane in self.lanes.values():
            if lane.worker is not None:
                lane.worker.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._flusher is not None:
            self._flusher.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self._flush)
        await self.transport.close()

    def on_events(self, workspace_sid: str, events: list[Event]) -> None:
        """Runtime listener: called on the event loop after each commit; never blocks."""
        for event in events:
            self._take(event)

    def _take(self, event: Event) -> None:
        lane = self._lane(event.workspace_sid)
        if event.callback_url and event.seq > lane.events_seq:
            lane.events.append(event)
            lane.wake.set()
            if lane.worker is None or lane.worker.done():
                lane.worker = asyncio.create_task(self._deliver_events(lane))
        if event.assignment_url and event.seq > lane.assignments_seq:
            lane.in_flight.add(event.seq)
            lane.highest_assignment = max(lane.highest_assignment, event.seq)
            self._spawn(self._assign(lane, event))

    def _lane(self, workspace_sid: str) -> Lane:
        lane = self.lanes.get(workspace_sid)
        if lane is None:
            lane = self.lanes[workspace_sid] = Lane(workspace_sid)
        return lane

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ event callbacks

    async def _deliver_events(self, lane: Lane) -> None:
        while True:
            while lane.events:
                event = lane.events[0]
                await self._deliver_event(event)
                lane.events.popleft()
                lane.events_seq = event.seq
                self._dirty.add(lane.workspace_sid)
            lane.wake.clear()
            await lane.wake.wait()

    async def _deliver_event(self, event: Event) -> None:
        assert event.callback_url is not None
        token = self._auth_token(event.account_sid)
        if token is None:
            return  # the account is gone: nobody to sign for or deliver to
        await self._post(event, "event", event.callback_url, event_params(event), token,
                         retry=True)

    # ------------------------------------------------------------------ assignment callbacks

    async def _assign(self, lane: Lane, event: Event) -> None:
        try:
            async with lane.slots:
                await self._offer(event)
        finally:
            lane.in_flight.discard(event.seq)
            moved = (min(lane.in_flight) - 1) if lane.in_flight else lane.highest_assignment
            if moved > lane.assignments_seq:
                lane.assignments_seq = moved
                self._dirty.add(lane.workspace_sid)

    async def _offer(self, event: Event) -> None:
        reservation_sid = event.reservation_sid
        engine = self.runtime.engines.get(event.workspace_sid)
        reservation = engine.router.reservations.get(reservation_sid or "") if engine else None
        if reservation is None or reservation.reservation_status != "pending":
            return  # already answered (or gone): nothing to offer any more
        token = self._auth_token(event.account_sid)
        if token is None:
            return
        params = assignment_params(event)
        for url in (event.assignment_url, event.assignment_fallback_url):
            if not url:
                continue
            response = await self._post(event, "assignment", url, params, token, retry=False,
                                        deadline=ASSIGNMENT_DEADLINE)
            if response is not None:
                await self._carry_out(event, _instruction(response))
                return
        # Both failed: the reservation stays pending for the application (or its timeout).

    async def _carry_out(self, event: Event, instruction: dict[str, Any] | None) -> None:
        """Act on an assignment callback's answer; none (an empty 200) leaves it pending."""
        if instruction is None:
            return
        name = instruction.get("instruction")
        reservation_sid = event.reservation_sid or ""
        if name == "accept":
            status, activity = "accepted", None
        elif name == "reject":
            status, activity = "rejected", instruction.get("activity_sid")
        else:
            log.warning("assignment callback for %s answered instruction %r, which needs a "
                        "telephone network or is unknown; the reservation stays pending",
                        reservation_sid, name)
            await self._record_failure(event, "instruction", event.assignment_url or "", 1,
                                       f"instruction {name!r} not carried out")
            return

        def command(engine: Any, now: int) -> None:
            engine.router.update_reservation(
                reservation_sid, now, status=status,
                worker_activity_sid=activity if isinstance(activity, str) else None)

        try:
            await self.runtime.run(event.account_sid, event.workspace_sid, command)
        except RoutingError as exc:
            log.info("assignment instruction %s for %s not applied: %s", name,
                     reservation_sid, exc.message)

    # ------------------------------------------------------------------ HTTP

    async def _post(self, event: Event, kind: str, configured_url: str,
                    params: dict[str, str], auth_token: str, *, retry: bool,
                    deadline: float | None = None) -> Answer | None:
        """POST signed form parameters; the 2xx response, or None once attempts run out."""
        url, overrides = split_url(configured_url)
        attempts = 1 + (overrides.retries if overrides.retries is not None
                        else (self.attempts - 1 if retry else 0))
        read_timeout = min(overrides.read_timeout, deadline or overrides.read_timeout)
        connect_timeout = min(overrides.connect_timeout, read_timeout)
        headers = {"X-Twilio-Signature": signature(auth_token, url, params)}
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + overrides.total_time if overrides.retries is not None or (
            deadline is not None) else None
        error = ""
        for attempt in range(attempts):
            try:
                answer = await self.transport.post(url, params, headers,
                                                   connect_timeout=connect_timeout,
                                                   read_timeout=read_timeout)
                if 200 <= answer.status < 300:
                    return answer
                error = f"HTTP {answer.status}"
            except TransportError as exc:
                error = str(exc)
            delay = min(self.backoff * 2 ** attempt, MAX_BACKOFF)
            if attempt + 1 == attempts or (give_up_at is not None
                                           and loop.time() + delay > give_up_at):
                break
            log.info("%s callback %s to %s failed (%s); retrying in %.1f s", kind, event.sid,
                     url, error, delay)
            await asyncio.sleep(delay)
        log.warning("%s callback %s for %s to %s failed after %d attempt(s): %s", kind,
                    event.sid, event.event_type, url, attempt + 1, error)
        await self._record_failure(event, kind, url, attempt + 1, error)
        return None

    def _auth_token(self, account_sid: str) -> str | None:
        account = self.runtime.accounts.accounts.get(account_sid)
        return account.auth_token if account else None

    # ------------------------------------------------------------------ the store

    async def _record_failure(self, event: Event, kind: str, url: str, attempts: int,
                              error: str) -> None:
        row = {"workspace_sid": event.workspace_sid, "event_sid": event.sid, "kind": kind,
               "url": url, "attempts": attempts, "error": error[:2000],
               "failed_at": self.runtime.clock.now_ms()}
        future = self.runtime.store.submit(
            lambda conn: conn.execute(tables.callback_failures.insert(), [row]))
        with contextlib.suppress(Exception):  # a lost failure record must not stop delivery
            await asyncio.wrap_future(future)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            if self._dirty:
                await asyncio.to_thread(self._flush)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, set()
        rows = [{"workspace_sid": sid, "events_seq": self.lanes[sid].events_seq,
                 "assignments_seq": self.lanes[sid].assignments_seq}
                for sid in dirty if sid in self.runtime.engines]
        if not rows:
            return
        store = self.runtime.store
        insert = sqlite.insert if store.is_sqlite else postgresql.insert
        table = tables.callback_cursors
        statement = insert(table)
        upsert = statement.on_conflict_do_update(
            index_elements=["workspace_sid"],
            set_={"events_seq": statement.excluded.events_seq,
                  "assignments_seq": statement.excluded.assignments_seq})

        def write(conn: Connection) -> None:
            conn.execute(upsert, rows)

        try:
            store.submit(write).result(timeout=30)
        except Exception:
            log.exception("could not save callback progress; will retry")
            self._dirty |= dirty

    def _load_owed(self) -> tuple[dict[str, tuple[int, int]], list[Event]]:
        """Saved cursors, and every event logged after them that still owes a callback."""
        store = self.runtime.store
        cursors = {r["workspace_sid"]: (r["events_seq"], r["assignments_seq"])
                   for r in store.rows(tables.callback_cursors)}
        events = tables.events
        owed: list[Event] = []
        with store.engine.connect() as conn:
            for workspace_sid in list(self.runtime.engines):
                after = min(cursors.get(workspace_sid, (0, 0)))
                query = select(events).where(
                    events.c.workspace_sid == workspace_sid, events.c.seq > after,
                    events.c.callback_url.is_not(None) | events.c.assignment_url.is_not(None),
                ).order_by(events.c.seq)
                for row in conn.execute(query):
                    values = dict(row._mapping)
                    values["data"] = json.loads(values["data"])
                    owed.append(Event(**values))
        return cursors, owed


def _instruction(answer: Answer) -> dict[str, Any] | None:
    """The JSON instruction in an assignment callback's answer, if there is one."""
    if "json" not in answer.content_type:
        return None
    try:
        body = json.loads(answer.body)
    except ValueError:
        return None
    return body if isinstance(body, dict) and "instruction" in body else None

