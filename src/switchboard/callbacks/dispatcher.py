"""Decides which callbacks the event log owes and hands them to the callback sender.

Which events owe a callback is decided when they happen and stored with them (the event log
is the outbox). After each commit the runtime hands the new events to ``on_events``; the
dispatcher passes them to the sender process (``sender.py``), which sends them, one lane per
workspace so a slow or dead receiver holds up nobody else, and reports back:

* event callbacks done, in order: the workspace's cursor moves past them (failures are
  recorded in ``callback_failures``);
* assignment callbacks done: an ``accept`` or ``reject`` instruction in the answer is carried
  out as a command on the workspace.

How far each workspace got is saved in ``callback_cursors`` a moment after it moves; after a
restart (of the server or of the sender) delivery resumes from there. A crash may deliver a
few events twice, never lose one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import sys
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, case, select
from sqlalchemy.dialects import sqlite

from switchboard.callbacks import sender
from switchboard.routing.changes import EVENT_FIELDS
from switchboard.routing.errors import RoutingError
from switchboard.routing.model import Event
from switchboard.service.background import TaskSet
from switchboard.service.runtime import Runtime
from switchboard.store import tables

log = logging.getLogger(__name__)
FLUSH_INTERVAL = 0.2  # how often moved cursors are saved
WINDOW = 1_000  # event callbacks handed to the sender ahead of its reports, per workspace
RESTART_DELAY = 0.5  # seconds before a sender that died is started again


@dataclass
class Lane:
    """What one workspace owes."""

    workspace_sid: str
    events_seq: int = 0  # event callbacks done up to here
    assignments_seq: int = 0  # assignment callbacks done up to here
    owed: deque[Event] = field(default_factory=deque)  # event callbacks not yet done
    handed: int = 0  # how many of ``owed`` (from the front) the sender has
    offers: dict[int, Event] = field(default_factory=dict)  # assignment callbacks under way
    highest_assignment: int = 0
    # While what the log owes is being read (a workspace just taken over in a cluster):
    # events committed meanwhile, taken once the owed ones are.
    resuming: list[Event] | None = None


class CallbackDispatcher:
    def __init__(self, runtime: Runtime, *, attempts: int = 5, backoff: float = 1.0,
                 niceness: int = 10) -> None:
        self.runtime = runtime
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.niceness = niceness
        self.lanes: dict[str, Lane] = {}
        self._dirty: set[str] = set()
        self._tasks = TaskSet()
        self._flusher: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._outgoing: list[bytes] = []  # lines for the sender, written once per iteration
        # Callbacks done and given up on since start, by kind ("event", "assignment"): metrics.
        self.sent: dict[str, int] = {"event": 0, "assignment": 0}
        self.failed: dict[str, int] = {"event": 0, "assignment": 0}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Resume what the log still owes, then follow new events."""
        cursors, owed = await asyncio.to_thread(self._load_owed, list(self.runtime.engines))
        for workspace_sid, (events_seq, assignments_seq) in cursors.items():
            lane = self._lane(workspace_sid)
            lane.events_seq, lane.assignments_seq = events_seq, assignments_seq
            lane.highest_assignment = assignments_seq
        self.runtime.add_listener(self.on_events)
        self.runtime.add_workspace_listener(self)
        self._supervisor = asyncio.create_task(self._supervise())
        self._flusher = asyncio.create_task(self._flush_loop())
        for event in owed:
            self._take(event)

    async def stop(self) -> None:
        for task in [*self._tasks, self._flusher, self._supervisor]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.terminate()
            await self._process.wait()
        await asyncio.to_thread(self._flush)

    def owed(self) -> int:
        """Callbacks committed and not yet done, on every lane."""
        return sum(len(lane.owed) + len(lane.offers) for lane in self.lanes.values())

    def on_events(self, workspace_sid: str, events: list[Event]) -> None:
        """Runtime listener: called on the event loop after each commit; never blocks."""
        lane = self.lanes.get(workspace_sid)
        if lane is not None and lane.resuming is not None:
            lane.resuming.extend(events)
            return
        for event in events:
            self._take(event)

    # ------------------------------------------------------------------ cluster ownership

    def workspace_loaded(self, workspace_sid: str) -> None:
        """Runtime workspace listener: a workspace taken over (or reloaded) resumes its
        callbacks from its saved cursors."""
        lane = self.lanes[workspace_sid] = Lane(workspace_sid, resuming=[])
        self._tasks.spawn(self._resume(lane))

    def workspace_unloaded(self, workspace_sid: str) -> None:
        """The workspace went to another node, which resumes from the saved cursors: save
        them now, and stop following it (what the sender still has may arrive twice)."""
        lane = self.lanes.pop(workspace_sid, None)
        if lane is not None:
            self._tasks.spawn(asyncio.to_thread(self._save_cursors, [lane]))

    async def _resume(self, lane: Lane) -> None:
        try:
            cursors, owed = await asyncio.to_thread(self._load_owed, [lane.workspace_sid])
        except Exception:
            log.exception("callbacks of workspace %s could not be resumed", lane.workspace_sid)
            cursors, owed = {}, []
        if self.lanes.get(lane.workspace_sid) is not lane:
            return  # dropped meanwhile
        lane.events_seq, lane.assignments_seq = cursors.get(lane.workspace_sid, (0, 0))
        lane.highest_assignment = lane.assignments_seq
        held, lane.resuming = lane.resuming or [], None
        last = owed[-1].seq if owed else 0
        for event in [*owed, *(e for e in held if e.seq > last)]:
            self._take(event)

    def _take(self, event: Event) -> None:
        if event.account_sid not in self.runtime.accounts.accounts:
            return  # the account is gone: nobody to sign for or deliver to
        lane = self._lane(event.workspace_sid)
        if event.callback_url and event.seq > lane.events_seq:
            lane.owed.append(event)
            self._hand_events(lane)
        if event.assignment_url and event.seq > lane.assignments_seq:
            lane.highest_assignment = max(lane.highest_assignment, event.seq)
            if self._still_pending(event):
                lane.offers[event.seq] = event
                self._hand("a", event)
            else:
                self._move_assignments(lane)

    def _lane(self, workspace_sid: str) -> Lane:
        lane = self.lanes.get(workspace_sid)
        if lane is None:
            lane = self.lanes[workspace_sid] = Lane(workspace_sid)
        return lane

    def _still_pending(self, event: Event) -> bool:
        engine = self.runtime.engines.get(event.workspace_sid)
        reservation = engine.reservations.get(event.reservation_sid or "") if (
            engine) else None
        return reservation is not None and reservation.reservation_status == "pending"

    # ------------------------------------------------------------------ the sender process

    def _hand_events(self, lane: Lane) -> None:
        while lane.handed < min(len(lane.owed), WINDOW) and self._process is not None:
            self._hand("e", lane.owed[lane.handed])
            lane.handed += 1

    def _hand(self, kind: str, event: Event) -> None:
        if self._process is None:
            return  # handed over again when the sender (re)starts
        account = self.runtime.accounts.accounts.get(event.account_sid)
        if account is None:
            return  # the account is gone: nobody to sign for
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._send)
        self._outgoing.append(orjson.dumps({"t": kind, "token": account.auth_token,
                                            "event": event}))

    def _send(self) -> None:
        """One write per loop iteration for everything handed over in it."""
        lines, self._outgoing = self._outgoing, []
        process = self._process
        if lines and process is not None and process.stdin is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):  # died: handed again
                process.stdin.write(b"\n".join(lines) + b"\n")

    async def _supervise(self) -> None:
        """Run the sender, hand it everything owed, read its reports; restart it if it dies."""
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower()
        while True:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "switchboard.callbacks.sender",
                "--attempts", str(self.attempts), "--backoff", str(self.backoff),
                "--niceness", str(self.niceness), "--log-level", level,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                limit=sender.LINE_LIMIT,
                # Out of the terminal's process group: Ctrl-C reaches the server, which
                # stops the sender in order, not both at once.
                start_new_session=True)
            self._process = process
            self._outgoing = []  # whatever was meant for the one before is handed again below
            for lane in self.lanes.values():
                lane.handed = 0
                self._hand_events(lane)
                for event in lane.offers.values():
                    self._hand("a", event)
            assert process.stdout is not None
            while line := await process.stdout.readline():
                self._report(orjson.loads(line))
            self._process = None
            code = await process.wait()
            log.error("the callback sender stopped (exit code %s); starting it again", code)
            await asyncio.sleep(RESTART_DELAY)

    def _report(self, report: dict[str, Any]) -> None:
        lane = self._lane(report["ws"])
        kind = report["t"]
        if kind == "d":
            while lane.owed and lane.owed[0].seq <= report["seq"]:
                lane.owed.popleft()
                lane.handed = max(0, lane.handed - 1)
                self.sent["event"] += 1
            lane.events_seq = report["seq"]
            self._dirty.add(lane.workspace_sid)
            self._hand_events(lane)
        elif kind == "o":
            event = lane.offers.pop(report["seq"], None)
            self.sent["assignment"] += event is not None
            self._move_assignments(lane)
            if event is not None and report["instruction"] is not None:
                self._tasks.spawn(self._carry_out(event, report["instruction"]))
        elif kind == "f":
            failed = "assignment" if report["kind"].startswith("assignment") else "event"
            self.failed[failed] += 1
            self._tasks.spawn(self._record_failure(lane.workspace_sid, report["event"],
                                                   report["kind"], report["url"],
                                                   report["attempts"], report["error"]))

    def _move_assignments(self, lane: Lane) -> None:
        moved = (min(lane.offers) - 1) if lane.offers else lane.highest_assignment
        if moved > lane.assignments_seq:
            lane.assignments_seq = moved
            self._dirty.add(lane.workspace_sid)

    # ------------------------------------------------------------------ assignment answers

    async def _carry_out(self, event: Event, instruction: dict[str, Any]) -> None:
        """Act on an assignment callback's instruction."""
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
            await self._record_failure(event.workspace_sid, event.sid, "instruction",
                                       event.assignment_url or "", 1,
                                       f"instruction {name!r} not carried out")
            return

        def command(engine: Any, now: int) -> None:
            engine.update_reservation(
                reservation_sid, now, status=status,
                worker_activity_sid=activity if isinstance(activity, str) else None)

        try:
            await self.runtime.run(event.account_sid, event.workspace_sid, command)
        except RoutingError as exc:
            log.info("assignment instruction %s for %s not applied: %s", name,
                     reservation_sid, exc.message)

    # ------------------------------------------------------------------ the store

    async def _record_failure(self, workspace_sid: str, event_sid: str, kind: str, url: str,
                              attempts: int, error: str) -> None:
        row = {"workspace_sid": workspace_sid, "event_sid": event_sid, "kind": kind,
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
        lanes = [self.lanes[sid] for sid in dirty if sid in self.lanes]
        try:
            self._save_cursors(lanes)
        except Exception:
            log.exception("could not save callback progress; will retry")
            self._dirty |= dirty

    def _save_cursors(self, lanes: list[Lane]) -> None:
        """Save how far each lane got. A cursor only moves forward: a node that has just
        handed a workspace over never takes back what the next owner has saved since."""
        rows = [{"workspace_sid": lane.workspace_sid, "events_seq": lane.events_seq,
                 "assignments_seq": lane.assignments_seq} for lane in lanes]
        if not rows:
            return
        upsert = self._cursor_upsert

        def write(conn: Connection) -> None:
            conn.execute(upsert, rows)

        self.runtime.store.submit(write).result(timeout=30)

    @functools.cached_property
    def _cursor_upsert(self) -> Any:
        """The statement ``_save_cursors`` runs, made once: each made anew would be a cycle of
        SQLAlchemy's objects for the garbage collector."""
        table = tables.callback_cursors
        if self.runtime.store.is_sqlite:
            statement: Any = sqlite.insert(table)
        else:  # imported only here: SQLite's servers start faster without it
            from sqlalchemy.dialects import postgresql

            statement = postgresql.insert(table)
        return statement.on_conflict_do_update(
            index_elements=["workspace_sid"],
            set_={name: case((statement.excluded[name] > table.c[name],
                              statement.excluded[name]), else_=table.c[name])
                  for name in ("events_seq", "assignments_seq")})

    def _load_owed(self, workspace_sids: list[str]
                   ) -> tuple[dict[str, tuple[int, int]], list[Event]]:
        """Saved cursors, and every event logged after them that still owes a callback."""
        store = self.runtime.store
        cursors = {r["workspace_sid"]: (r["events_seq"], r["assignments_seq"])
                   for r in store.rows(tables.callback_cursors)}
        events = tables.events
        owed: list[Event] = []
        with store.engine.connect() as conn:
            for workspace_sid in workspace_sids:
                after = min(cursors.get(workspace_sid, (0, 0)))
                query = select(*(events.c[name] for name in EVENT_FIELDS)).where(
                    events.c.workspace_sid == workspace_sid, events.c.seq > after,
                    events.c.callback_url.is_not(None) | events.c.assignment_url.is_not(None),
                ).order_by(events.c.seq)
                for row in conn.execute(query):
                    values = dict(row._mapping)
                    values["data"] = json.loads(values["data"])
                    owed.append(Event(**values))
        return cursors, owed
