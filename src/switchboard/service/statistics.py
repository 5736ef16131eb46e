"""Statistics beside the runtime: each workspace's event history and live task tallies.

At start-up each workspace's history (``stats.cumulative.History``) is rebuilt from the stored
log of the last 30 days on a background thread, off the event loop; meanwhile the committed
events the runtime announces are held back, and fed once the rebuild is done (those the rebuild
already saw are skipped by their sequence number). From then on the history follows the log
event by event, so every window is answered from memory, exactly, without a query.

Live tallies of tasks and of workers by activity (``stats.realtime``) are made on first use
from the engine and re-counted for each task or worker a committed event names. If the engine
is rebuilt after a failed commit, they are made again from the new one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from concurrent.futures import Future
from dataclasses import dataclass, field

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import Event
from switchboard.service.runtime import Runtime, ServiceUnavailable
from switchboard.stats.cumulative import History
from switchboard.stats.queries import history_records
from switchboard.stats.realtime import LiveTasks, LiveWorkers
from switchboard.stats.records import COUNTED_TYPES, EventRecord, from_event
from switchboard.stats.window import RETENTION_MS

log = logging.getLogger(__name__)
# Held-back records fed outside the lock while more than this many remain, so the event loop
# is never kept waiting long for the lock.
HANDOVER_BATCH = 1_000


@dataclass
class WorkspaceStatistics:
    history: History | None = None  # None while it is being rebuilt
    held: list[EventRecord] = field(default_factory=list)  # records heard meanwhile
    ready: Future[History] = field(default_factory=Future)
    live: LiveTasks | None = None
    workers: LiveWorkers | None = None


class StatisticsService:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = weakref.ref(runtime)  # the runtime owns this service, not the reverse
        self._lock = threading.Lock()
        self._workspaces: dict[str, WorkspaceStatistics] = {}
        self._to_build: list[str] = []
        self._building = False
        runtime.add_listener(self._heard)
        runtime.add_workspace_listener(self)
        for workspace_sid in list(runtime.engines):
            self._rebuild(workspace_sid)

    def workspace_loaded(self, workspace_sid: str) -> None:
        """Runtime workspace listener: whatever was kept from an earlier stay is stale (the
        history is rebuilt from the store on first use)."""
        self._workspaces.pop(workspace_sid, None)

    def workspace_unloaded(self, workspace_sid: str) -> None:
        self._workspaces.pop(workspace_sid, None)

    @property
    def runtime(self) -> Runtime:
        runtime = self._runtime()
        if runtime is None:
            raise ServiceUnavailable("The server is shutting down")
        return runtime

    # ------------------------------------------------------------------ reading

    async def history(self, workspace_sid: str) -> History:
        """The workspace's history, once its rebuild (if one is under way) is done."""
        stats = self._workspaces.get(workspace_sid) or self._rebuild(workspace_sid)
        if stats.history is not None:
            return stats.history
        return await asyncio.wrap_future(stats.ready)

    def live(self, engine: WorkspaceEngine) -> LiveTasks:
        sid = engine.workspace.sid
        stats = self._workspaces.get(sid) or self._rebuild(sid)
        if stats.live is None or stats.live.engine is not engine:
            stats.live = LiveTasks(engine)
        return stats.live

    def live_workers(self, engine: WorkspaceEngine) -> LiveWorkers:
        sid = engine.workspace.sid
        stats = self._workspaces.get(sid) or self._rebuild(sid)
        if stats.workers is None or stats.workers.engine is not engine:
            stats.workers = LiveWorkers(engine)
        return stats.workers

    # ------------------------------------------------------------------ following the log

    def _heard(self, workspace_sid: str, events: list[Event]) -> None:
        """Runtime listener (event loop, after each commit): feed the history, note the tasks
        and workers the events name."""
        stats = self._workspaces.get(workspace_sid)
        if stats is None:
            if events[0].seq == 1:  # a new workspace: nothing to rebuild
                history = History()
                stats = self._workspaces[workspace_sid] = WorkspaceStatistics(history)
                stats.ready.set_result(history)
            else:
                stats = self._rebuild(workspace_sid)
        counted = [from_event(e) for e in events if e.event_type in COUNTED_TYPES]
        with self._lock:
            if stats.history is None:
                stats.held.extend(counted)
            else:
                for record in counted:
                    stats.history.add(record)
        engine = self.runtime.engines.get(workspace_sid)
        if stats.live is not None:
            if stats.live.engine is engine:
                stats.live.note(e.task_sid for e in events if e.task_sid)
            else:
                stats.live = None
        if stats.workers is not None:
            if stats.workers.engine is engine:
                stats.workers.note(e.resource_sid for e in events
                                   if e.resource_type == "worker")
            else:
                stats.workers = None
        if events[-1].event_type == "workspace.deleted":
            self._workspaces.pop(workspace_sid, None)

    # ------------------------------------------------------------------ rebuilding

    def _rebuild(self, workspace_sid: str) -> WorkspaceStatistics:
        stats = self._workspaces[workspace_sid] = WorkspaceStatistics()
        with self._lock:
            self._to_build.append(workspace_sid)
            start = not self._building
            self._building = True
        if start:
            threading.Thread(target=self._build_queued, name="statistics-rebuild",
                             daemon=True).start()
        return stats

    def _build_queued(self) -> None:
        while True:
            with self._lock:
                if not self._to_build:
                    self._building = False
                    return
                workspace_sid = self._to_build.pop(0)
            stats = self._workspaces.get(workspace_sid)
            if stats is None or stats.history is not None:
                continue
            try:
                history = self._read(workspace_sid)
            except Exception:
                log.exception("statistics of workspace %s could not be rebuilt", workspace_sid)
                if self._workspaces.get(workspace_sid) is stats:
                    del self._workspaces[workspace_sid]  # the next request tries again
                stats.ready.set_exception(ServiceUnavailable(
                    "Statistics are unavailable for the moment; please retry"))
                continue
            self._hand_over(stats, history)

    def _read(self, workspace_sid: str) -> History:
        runtime = self.runtime
        history = History()
        since = runtime.clock.now_ms() - RETENTION_MS
        with runtime.store.engine.connect() as conn:
            for record in history_records(conn, workspace_sid, since):
                history.add(record)
        return history

    def _hand_over(self, stats: WorkspaceStatistics, history: History) -> None:
        """Feed the records heard during the rebuild, then let the listener feed it directly."""
        while True:
            with self._lock:
                held, stats.held = stats.held, []
                if len(held) <= HANDOVER_BATCH:
                    for record in held:
                        history.add(record)
                    stats.history = history
                    break
            for record in held:
                history.add(record)
        stats.ready.set_result(history)


_services: weakref.WeakKeyDictionary[Runtime, StatisticsService] = weakref.WeakKeyDictionary()


def statistics_of(runtime: Runtime) -> StatisticsService:
    """The runtime's statistics, started on first use (the API starts them with the app)."""
    service = _services.get(runtime)
    if service is None:
        service = _services[runtime] = StatisticsService(runtime)
    return service
