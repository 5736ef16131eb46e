"""The imperative shell: owns the store, the clock and one engine per workspace.

A command runs synchronously on its workspace's engine (so commands of one workspace never
interleave), its changes are handed to the store, and the caller is answered only once they
are committed. If a commit fails, the workspace's engine is rebuilt from the store, which is
always the truth.

In a cluster (``cluster/``) the runtime holds only the workspaces this node owns: the cluster
node loads (``adopt``) and drops (``unload``) them as ownership moves, and every commit carries
the ownership epoch, so a node that lost a workspace cannot write to it. A request for a
workspace held elsewhere raises ``NotHere``, which the cluster's router turns into a forward.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import func, select

from switchboard.routing.changes import Changes
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.errors import InvalidParameter, NotFound, RoutingError
from switchboard.routing.history import ACCEPT_WINDOW_MS, ACCEPTED, HANDLED, handle_samples
from switchboard.routing.model import (
    Activity,
    Event,
    Reservation,
    Task,
    TaskChannel,
    TaskQueue,
    Transfer,
    Worker,
    WorkerChannel,
    Workflow,
    Workspace,
)
from switchboard.routing.sids import SidFactory, new_sid
from switchboard.service.accounts import Account, AccountRegistry
from switchboard.service.clock import LATEST_MS, Clock, ManualClock, SystemClock
from switchboard.store import manual_clock, tables
from switchboard.store.database import Fenced, Store, StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")
Command = Callable[[WorkspaceEngine, int], T]
# Told of every committed batch of events, in commit order (workspace SID, events).
Listener = Callable[[str, list[Event]], None]


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection while a workspace is loaded: the load allocates hundreds of
    thousands of objects and no cycle garbage, and the collector would scan the growing heap
    again and again (a third to a half of the time of loading 100,000 workers and 100,000
    tasks). Left as found if another load turned it off already."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ServiceUnavailable(RoutingError):
    code = 20500
    status = 503


class NotHere(NotFound):
    """The workspace is not held by this node: in a cluster, another node owns it (or is
    taking it over); the cluster's router forwards the request there. Alone, a 404."""


class WorkspaceListener(Protocol):
    """Told when a workspace's engine is loaded into this node or dropped from it (cluster
    ownership moving, a workspace created or deleted), to keep per-workspace state in step."""

    def workspace_loaded(self, workspace_sid: str) -> None: ...

    def workspace_unloaded(self, workspace_sid: str) -> None: ...


@dataclass(frozen=True)
class WorkspaceListing:
    """What a list of workspaces shows of each, without its engine."""

    workspace: Workspace
    default_activity_name: str | None
    timeout_activity_name: str | None


class Runtime:
    def __init__(self, store: Store, clock: Clock | None = None, sids: SidFactory = new_sid,
                 *, clustered: bool = False):
        self.store = store
        # In a cluster, workspaces are loaded as this node comes to own them, not at start.
        self.clustered = clustered
        # Cluster: the ownership epoch this node holds each loaded workspace at.
        self.epochs: dict[str, int] = {}
        # Cluster: takes the ownership of a workspace about to be created; its epoch.
        self.claim_new: Callable[[str], Awaitable[int]] | None = None
        self._workspace_listeners: list[WorkspaceListener] = []
        self.clock = clock or SystemClock()
        self.sids = sids
        self.accounts = AccountRegistry(store)
        self.engines: dict[str, WorkspaceEngine] = {}
        # Per workspace: the deadline a wake-up is armed for, and its handle.
        self._wakeups: dict[str, tuple[int, asyncio.TimerHandle]] = {}
        self._listeners: list[Listener] = []
        self._advancing = asyncio.Lock()
        # Workspaces being rebuilt from the store; their commands wait for these.
        self._rebuilds: dict[str, asyncio.Future[None]] = {}

    # ------------------------------------------------------------------ start-up

    def start(self) -> None:
        self.store.migrate()
        self.store.start()
        if isinstance(self.clock, ManualClock):
            saved = manual_clock.saved_time(self.store)
            if saved is not None:  # time under test goes on from where it stood
                self.clock.resume(saved)
        self.accounts.load()
        if self.clustered:
            return
        for row in self.store.rows(tables.workspaces, order=[tables.workspaces.c.date_created,
                                                              tables.workspaces.c.sid]):
            engine = self._load_workspace(row["sid"])
            if engine is not None:
                self.engines[engine.workspace.sid] = engine

    def stop(self) -> None:
        for _, handle in self._wakeups.values():
            handle.cancel()
        self._wakeups.clear()
        self.store.close()

    def bootstrap_account(self) -> tuple[Account, bool]:
        """Make sure an account exists: the one named by the environment, or a new one.

        Returns the account and whether it was created now (its token is then worth printing).
        Nodes of a cluster starting together may race to create the named one: the insert
        ignores a conflict, and the loser reads the winner's account back.
        """
        now = self.clock.now_ms()
        sid = os.environ.get("SWITCHBOARD_ACCOUNT_SID")
        token = os.environ.get("SWITCHBOARD_AUTH_TOKEN")
        if sid:
            if sid not in self.accounts.accounts:
                account, created = self.accounts.create_account_unless_present(
                    now, sid=sid, auth_token=token)
                if created:
                    return account, True
            account = self.accounts.accounts[sid]
            if token:
                account = self.accounts.set_auth_token(sid, token, now)
            return account, False
        if self.accounts.accounts:
            return next(iter(self.accounts.accounts.values())), False
        return self.accounts.create_account(now, auth_token=token), True

    def _load_workspace(self, sid: str) -> WorkspaceEngine | None:
        with _no_cyclic_gc():
            engine = self._read_workspace(sid)
        if engine is not None and gc.get_freeze_count():
            # Serving: the server froze what start-up loaded out of the collector's sight
            # (``serving.tune_gc``). A workspace loaded since (taken over, rebuilt) joins it;
            # otherwise the next young and middle collections walk all of it, each a pause of
            # the server (``benchmarks/startup.py``: 260 ms for 100,000 workers).
            gc.freeze()
        return engine

    def _read_workspace(self, sid: str) -> WorkspaceEngine | None:
        # One connection for every table; rows as plain tuples zipped with the column names,
        # which costs less than SQLAlchemy's row mappings.
        with self.store.engine.connect() as conn:
            def rows(table: Any, *where: Any, order: tuple[Any, ...] = ()) -> list[Any]:
                result = conn.execute(select(table).where(*where).order_by(*order))
                names = tuple(result.keys())
                return [dict(zip(names, row, strict=True)) for row in result.all()]

            def children(table: Any, cls: Any) -> list[Any]:
                return [cls(**r) for r in rows(table, table.c.workspace_sid == sid,
                                               order=(table.c.date_created, table.c.sid))]

            found = rows(tables.workspaces, tables.workspaces.c.sid == sid)
            if not found:
                return None
            workspace = Workspace(**found[0])
            seq = conn.execute(select(func.max(tables.events.c.seq))
                               .where(tables.events.c.workspace_sid == sid)).scalar()
            loaded = {name: children(table, cls) for name, table, cls in (
                ("activities", tables.activities, Activity),
                ("task_channels", tables.task_channels, TaskChannel),
                ("workers", tables.workers, Worker),
                ("worker_channels", tables.worker_channels, WorkerChannel),
                ("task_queues", tables.task_queues, TaskQueue),
                ("workflows", tables.workflows, Workflow),
                ("tasks", tables.tasks, Task),
                ("reservations", tables.reservations, Reservation),
                ("transfers", tables.transfers, Transfer))}
            now = self.clock.now_ms()
            # fewest_accepted and the wait estimates learn from the last 24 h of events
            ev = tables.events
            recent = (ev.c.workspace_sid == sid, ev.c.event_date > now - ACCEPT_WINDOW_MS)
            accepted = conn.execute(select(ev.c.event_date, ev.c.worker_sid)
                                    .where(*recent, ev.c.event_type == ACCEPTED)
                                    .order_by(ev.c.seq)).all()
            newest = conn.execution_options(yield_per=2_000).execute(
                select(ev.c.event_type, ev.c.event_date, ev.c.reservation_sid,
                       ev.c.task_queue_sid)
                .where(*recent, ev.c.event_type.in_(HANDLED)).order_by(ev.c.seq.desc()))
            samples = handle_samples(newest, {q.sid for q in loaded["task_queues"]})
            newest.close()
        return WorkspaceEngine.load(workspace, **loaded, accepted=accepted,
                                    handle_samples=samples, event_seq=seq or 0,
                                    now=now, sids=self.sids)

    # ------------------------------------------------------------------ commands

    def engine(self, account_sid: str, workspace_sid: str) -> WorkspaceEngine:
        engine = self.engines.get(workspace_sid)
        if engine is None or engine.workspace.account_sid != account_sid:
            message = f"The requested resource Workspace {workspace_sid} was not found"
            raise NotHere(message) if engine is None and self.clustered else NotFound(message)
        return engine

    async def workspaces_of(self, account_sid: str) -> list[WorkspaceListing]:
        """The account's workspaces in creation order: in a cluster, from the store, since
        this node holds only its own."""
        if not self.clustered:
            return [listing_of(e) for e in self.engines.values()
                    if e.workspace.account_sid == account_sid]
        return await asyncio.to_thread(self._stored_workspaces, account_sid)

    def _stored_workspaces(self, account_sid: str) -> list[WorkspaceListing]:
        ws, activities = tables.workspaces, tables.activities
        names = {r["sid"]: r["friendly_name"] for r in self.store.rows(
            activities, activities.c.workspace_sid.in_(
                select(ws.c.sid).where(ws.c.account_sid == account_sid)))}
        return [WorkspaceListing(Workspace(**row), names.get(row["default_activity_sid"]),
                                 names.get(row["timeout_activity_sid"]))
                for row in self.store.rows(ws, ws.c.account_sid == account_sid,
                                           order=[ws.c.date_created, ws.c.sid])]

    async def run(self, account_sid: str, workspace_sid: str, command: Command[T]) -> T:
        """Run a command on a workspace and wait until its changes are committed."""
        if workspace_sid in self._rebuilds:
            await self._rebuilt(workspace_sid)
        engine = self.engine(account_sid, workspace_sid)
        result = await self._apply(engine, command, self.clock.now_ms())
        await self._commit(workspace_sid, engine.take_changes())
        self._schedule(engine)
        return result

    async def _apply(self, engine: WorkspaceEngine, command: Command[T], now: int) -> T:
        """Run a command; if it fails after changing anything, memory no longer matches the
        store, so the engine is rebuilt from it (commands validate first, so refusals change
        nothing and cost nothing here)."""
        try:
            return command(engine, now)
        except BaseException:
            if engine.changes:
                engine.take_changes()
                log.exception("a command failed half-way; rebuilding workspace %s",
                              engine.workspace.sid)
                await self._rebuild(engine.workspace.sid)
            raise

    # ------------------------------------------------------------------ timers

    def schedule_all(self) -> None:
        """Arm every workspace's next deadline; overdue ones fire at once, in order."""
        for engine in list(self.engines.values()):
            self._schedule(engine, rearm=True)

    def _schedule(self, engine: WorkspaceEngine, rearm: bool = False) -> None:
        """Wake up at the workspace's earliest deadline (real clock only)."""
        if self.clock.manual:
            return
        sid = engine.workspace.sid
        deadline = engine.next_deadline()
        current = self._wakeups.get(sid)
        if current is not None:
            if deadline is not None and current[0] <= deadline and not rearm:
                return  # an earlier wake-up is armed; it will arm the next one
            current[1].cancel()
            del self._wakeups[sid]
        if deadline is None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, (deadline - self.clock.now_ms()) / 1000)
        self._wakeups[sid] = (deadline, loop.call_later(
            delay, lambda: loop.create_task(self._fire(sid))))

    async def _fire(self, workspace_sid: str) -> None:
        self._wakeups.pop(workspace_sid, None)
        await self._rebuilt(workspace_sid)
        engine = self.engines.get(workspace_sid)
        if engine is None:
            return
        try:
            await self._apply(engine, lambda e, now: e.fire_due(now), self.clock.now_ms())
            await self._commit(workspace_sid, engine.take_changes())
        except ServiceUnavailable:
            log.error("timers of workspace %s could not be committed; retrying", workspace_sid)
        except Exception:
            # A fault, not a refusal: try again in a second rather than in a tight loop.
            log.exception("timers of workspace %s failed; retrying in 1 s", workspace_sid)
            loop = asyncio.get_running_loop()
            self._wakeups[workspace_sid] = (self.clock.now_ms() + 1000, loop.call_later(
                1.0, lambda: loop.create_task(self._fire(workspace_sid))))
            return
        current = self.engines.get(workspace_sid)
        if current is not None:
            self._schedule(current)

    async def advance_clock(self, ms: int) -> int:
        """Manual clock: move time forward, firing each workspace's timers at their deadlines.

        Advances run one at a time, each from where the previous one left the clock."""
        async with self._advancing:
            return await self._advance_clock(ms)

    async def _advance_clock(self, ms: int) -> int:
        clock = self.clock
        assert isinstance(clock, ManualClock)
        target = clock.now_ms() + ms
        if target > LATEST_MS:
            raise InvalidParameter("Invalid parameter Advance: the clock cannot move past "
                                   "9999-01-01T00:00:00Z")
        # Kept before the timers it passes fire: after a crash, time never goes back and the
        # timers still due fire at the next advance.
        await asyncio.wrap_future(self.store.submit(
            lambda conn: manual_clock.save_time(conn, target)))
        for sid in list(self.engines):
            await self._rebuilt(sid)
            engine = self.engines.get(sid)
            if engine is None:
                continue
            while (deadline := engine.next_deadline()) is not None and deadline <= target:
                await self._apply(engine, lambda e, now: e.fire_due(now),
                                  max(deadline, clock.now_ms()))
            await self._commit(engine.workspace.sid, engine.take_changes())
        return clock.advance(target - clock.now_ms())

    async def create_workspace(self, build: Callable[[int], WorkspaceEngine],
                               render: Callable[[WorkspaceEngine], T]) -> T:
        engine = build(self.clock.now_ms())
        result = render(engine)
        sid = engine.workspace.sid
        if self.claim_new is not None:  # a cluster: the node creating it owns it first
            self.epochs[sid] = await self.claim_new(sid)
        await self._commit(sid, engine.take_changes(), new=True)
        self.engines[sid] = engine
        return result

    async def delete_workspace(self, account_sid: str, workspace_sid: str) -> None:
        await self._rebuilt(workspace_sid)
        engine = self.engine(account_sid, workspace_sid)
        engine.delete_workspace(self.clock.now_ms())
        del self.engines[workspace_sid]
        try:
            await self._commit(workspace_sid, engine.take_changes())
        finally:
            self.epochs.pop(workspace_sid, None)
            self._tell(workspace_sid, loaded=False)

    def add_listener(self, listener: Listener) -> None:
        """Hear about committed events (callbacks, worker pushes). Listeners must not block."""
        self._listeners.append(listener)

    def add_workspace_listener(self, listener: WorkspaceListener) -> None:
        self._workspace_listeners.append(listener)

    async def _commit(self, workspace_sid: str, changes: Changes, new: bool = False) -> None:
        if not changes:
            return
        epoch = self.epochs.get(workspace_sid)
        try:
            await self.store.commit(changes, None if epoch is None else (workspace_sid, epoch))
        except Fenced:
            # Another node took the workspace over: nothing was written; the request goes
            # to the new owner, and this node forgets the workspace.
            log.warning("workspace %s was taken over by another node (epoch %s is no longer "
                        "current): dropping it", workspace_sid, epoch)
            await self.unload(workspace_sid)
            raise NotHere(f"The requested resource Workspace {workspace_sid} was not found"
                          ) from None
        except StoreError:
            if not new:
                await self._rebuild(workspace_sid)
            raise ServiceUnavailable(
                "The change could not be stored and was not applied; please retry"
            ) from None
        if changes.events:
            # Futures resolve in commit order and each waiter resumes in that order, so
            # listeners see a workspace's events in commit (seq) order.
            for listener in self._listeners:
                try:
                    listener(workspace_sid, changes.events)
                except Exception:
                    log.exception("event listener failed")

    async def _rebuild(self, workspace_sid: str) -> None:
        """Reload a workspace from the store, with its commands held back meanwhile.

        Commands that ran before the rebuild began have their writes queued already: the
        rebuild waits for them, so it sees every one, and no command runs on the old engine
        while the new one loads (its events would get sequence numbers the new one reuses)."""
        if workspace_sid in self._rebuilds:
            await self._rebuilt(workspace_sid)
            return
        async with self._holding(workspace_sid):
            log.warning("rebuilding workspace %s from the store", workspace_sid)
            engine = await asyncio.to_thread(self._load_workspace, workspace_sid)
            if engine is None:
                self.engines.pop(workspace_sid, None)
            else:
                self.engines[workspace_sid] = engine

    @contextlib.asynccontextmanager
    async def _holding(self, workspace_sid: str) -> AsyncIterator[None]:
        """The workspace's commands wait while the block runs, and it starts once every write
        queued for it before is committed."""
        while workspace_sid in self._rebuilds:
            await self._rebuilt(workspace_sid)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._rebuilds[workspace_sid] = done  # before any await: later commands wait
        try:
            await self.store.settled()
            yield
        finally:
            del self._rebuilds[workspace_sid]
            done.set_result(None)

    # ------------------------------------------------------------------ cluster ownership

    async def adopt(self, workspace_sid: str, epoch: int) -> bool:
        """Load a workspace this node now owns at ``epoch``, and resume its timers (overdue
        ones fire at once, in deadline order). False if it no longer exists."""
        async with self._holding(workspace_sid):
            engine = await asyncio.to_thread(self._load_workspace, workspace_sid)
            if engine is None:
                return False
            self.epochs[workspace_sid] = epoch
            self.engines[workspace_sid] = engine
        self._tell(workspace_sid, loaded=True)
        self._schedule(engine, rearm=True)
        return True

    async def unload(self, workspace_sid: str) -> None:
        """Drop a workspace this node no longer owns (or is handing over), once the writes
        already queued for it are committed; its commands then go elsewhere."""
        async with self._holding(workspace_sid):
            engine = self.engines.pop(workspace_sid, None)
            self.epochs.pop(workspace_sid, None)
            wakeup = self._wakeups.pop(workspace_sid, None)
            if wakeup is not None:
                wakeup[1].cancel()
        if engine is not None:
            self._tell(workspace_sid, loaded=False)

    def _tell(self, workspace_sid: str, *, loaded: bool) -> None:
        for listener in self._workspace_listeners:
            try:
                if loaded:
                    listener.workspace_loaded(workspace_sid)
                else:
                    listener.workspace_unloaded(workspace_sid)
            except Exception:
                log.exception("workspace listener failed")

    async def _rebuilt(self, workspace_sid: str) -> None:
        """Wait while the workspace is being rebuilt (at once when it is not)."""
        while (rebuilding := self._rebuilds.get(workspace_sid)) is not None:
            await asyncio.shield(rebuilding)


def listing_of(engine: WorkspaceEngine) -> WorkspaceListing:
    ws = engine.workspace
    default = engine.activities.get(ws.default_activity_sid or "")
    timeout = engine.activities.get(ws.timeout_activity_sid or "")
    return WorkspaceListing(ws, default.friendly_name if default else None,
                            timeout.friendly_name if timeout else None)
