"""Statistics beside the runtime: each workspace's cumulative figures read from the store, the
workers' activity changes, and live task tallies.

Cumulative figures are read from the store (``stats.stored``: per-minute rollups written with
the events, and the events at a window's edges), on a worker thread, so memory does not grow
with history; windows reaching to now, as dashboards poll them, are answered from memory
instead (``stats.recent``: the live minutes' rollups, fed by the store's commits, and a bounded
cache of closed periods' sums). Before a workspace's first read, events stored without
rollups (before the rollups existed) are folded into them, a batch per short write.

Workers' activity changes of the last 30 days are kept in memory (``stats.activity``, a few
tens of bytes a change, none per task): rebuilt from the stored log on a background thread,
off the event loop, then followed change by change; changes heard during the rebuild are held
back and fed once it is done (those the rebuild already saw are skipped by sequence number).

Live tallies of tasks and of workers by activity (``stats.realtime``) are made on first use
from the engine and re-counted for each task or worker a committed event names. If the engine
is rebuilt after a failed commit, they are made again from the new one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TypeVar

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import Event
from switchboard.service.runtime import Runtime, ServiceUnavailable
from switchboard.stats.activity import ActivityLog
from switchboard.stats.cumulative import feed_activity
from switchboard.stats.queries import history_records
from switchboard.stats.realtime import LiveTasks, LiveWorkers
from switchboard.stats.recent import RecentRollups
from switchboard.stats.records import WORKER_TYPES, EventRecord, from_event
from switchboard.stats.rollups import backfill_step
from switchboard.stats.stored import EdgeMinutes, WindowReader, reading
from switchboard.stats.window import RETENTION_MS, Window

log = logging.getLogger(__name__)
T = TypeVar("T")
# Held-back records fed outside the lock while more than this many remain, so the event loop
# is never kept waiting long for the lock.
HANDOVER_BATCH = 1_000
# Reads from memory begun again when a commit lands in the middle, before the store is read.
RECENT_TRIES = 3


@dataclass
class WorkspaceStatistics:
    activity: ActivityLog | None = None  # None while it is being rebuilt
    held: list[EventRecord] = field(default_factory=list)  # records heard meanwhile
    ready: Future[ActivityLog] = field(default_factory=Future)
    seq: int = 0  # the last activity change fed
    live: LiveTasks | None = None
    workers: LiveWorkers | None = None


class StatisticsService:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = weakref.ref(runtime)  # the runtime owns this service, not the reverse
        self._lock = threading.Lock()
        self._workspaces: dict[str, WorkspaceStatistics] = {}
        self._to_build: list[str] = []
        self._building = False
        self._edges = EdgeMinutes()
        self._recent = RecentRollups(self._edges, runtime.store.submit)
        runtime.store.rollup_listeners.append(self._recent)
        runtime.add_listener(self._heard)
        runtime.add_workspace_listener(self)
        for workspace_sid in list(runtime.engines):
            self._rebuild(workspace_sid)

    def workspace_loaded(self, workspace_sid: str) -> None:
        """Runtime workspace listener: whatever was kept from an earlier stay is stale (the
        activity log is rebuilt from the store on first use)."""
        self.workspace_unloaded(workspace_sid)

    def workspace_unloaded(self, workspace_sid: str) -> None:
        self._workspaces.pop(workspace_sid, None)
        self._edges.forget(workspace_sid)
        self._recent.forget(workspace_sid)

    @property
    def runtime(self) -> Runtime:
        runtime = self._runtime()
        if runtime is None:
            raise ServiceUnavailable("The server is shutting down")
        return runtime

    # ------------------------------------------------------------------ reading

    async def activity(self, workspace_sid: str) -> ActivityLog:
        """The workspace's activity log, once its rebuild (and the folding of old events into
        the rollups) is done."""
        stats = self._workspaces.get(workspace_sid) or self._rebuild(workspace_sid)
        if stats.activity is not None:
            return stats.activity
        return await asyncio.wrap_future(stats.ready)

    async def read(self, workspace_sid: str, window: Window, channel: str | None,
                   figures: Callable[[WindowReader], T]) -> T:
        """``figures`` of a window: from memory when it holds them (``stats.recent``: on the
        event loop, no store), else read from the store on a worker thread."""
        await self.activity(workspace_sid)
        for _ in range(RECENT_TRIES):
            recent = self._recent.reader(workspace_sid, window, channel)
            if recent is None:
                break
            found = figures(recent)
            if recent.complete:
                return found
            if not recent.changed:
                self._recent.fill(workspace_sid, recent.missing)  # for the next requests
                break
            # A batch committed while it was read (on the writer thread): read
            # the new state (``reader`` checks again that no event is after the window's end).
        engine = self.runtime.store.engine

        def run() -> T:
            with reading(engine, workspace_sid, window, channel, self._edges) as reader:
                return figures(reader)

        return await asyncio.to_thread(run)

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
        """Runtime listener (event loop, after each commit): feed the activity log, note the
        tasks and workers the events name."""
        stats = self._workspaces.get(workspace_sid)
        if stats is None:
            if events[0].seq == 1:  # a new workspace: nothing to rebuild
                activity = ActivityLog()
                stats = self._workspaces[workspace_sid] = WorkspaceStatistics(activity)
                stats.ready.set_result(activity)
            else:
                stats = self._rebuild(workspace_sid)
        changes = [from_event(e) for e in events if e.event_type in WORKER_TYPES]
        if changes:
            with self._lock:
                if stats.activity is None:
                    stats.held.extend(changes)
                else:
                    self._feed(stats, stats.activity, changes)
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

    @staticmethod
    def _feed(stats: WorkspaceStatistics, activity: ActivityLog,
              records: list[EventRecord]) -> None:
        for record in records:
            if record.seq > stats.seq:  # not seen already (both in the store and live)
                stats.seq = record.seq
                feed_activity(activity, record)

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
            if stats is None or stats.activity is not None:
                continue
            try:
                self._backfill(workspace_sid)
                activity = self._read(workspace_sid, stats)
            except Exception:
                log.exception("statistics of workspace %s could not be rebuilt", workspace_sid)
                if self._workspaces.get(workspace_sid) is stats:
                    del self._workspaces[workspace_sid]  # the next request tries again
                stats.ready.set_exception(ServiceUnavailable(
                    "Statistics are unavailable for the moment; please retry"))
                continue
            self._hand_over(stats, activity)

    def _backfill(self, workspace_sid: str) -> None:
        """Fold events stored without rollups into them, one short write per batch."""
        runtime = self.runtime
        since = runtime.clock.now_ms() - RETENTION_MS
        while not runtime.store.submit(
                lambda conn: backfill_step(conn, workspace_sid, since)).result():
            pass

    def _read(self, workspace_sid: str, stats: WorkspaceStatistics) -> ActivityLog:
        runtime = self.runtime
        activity = ActivityLog()
        since = runtime.clock.now_ms() - RETENTION_MS
        records = []
        with runtime.store.engine.connect() as conn:
            for record in history_records(conn, workspace_sid, since, types=WORKER_TYPES):
                records.append(record)
                if len(records) >= HANDOVER_BATCH:
                    self._feed(stats, activity, records)
                    records = []
        self._feed(stats, activity, records)
        return activity

    def _hand_over(self, stats: WorkspaceStatistics, activity: ActivityLog) -> None:
        """Feed the records heard during the rebuild, then let the listener feed it directly."""
        while True:
            with self._lock:
                held, stats.held = stats.held, []
                if len(held) <= HANDOVER_BATCH:
                    self._feed(stats, activity, held)
                    stats.activity = activity
                    break
            self._feed(stats, activity, held)
        stats.ready.set_result(activity)


_services: weakref.WeakKeyDictionary[Runtime, StatisticsService] = weakref.WeakKeyDictionary()


def statistics_of(runtime: Runtime) -> StatisticsService:
    """The runtime's statistics, started on first use (the API starts them with the app)."""
    service = _services.get(runtime)
    if service is None:
        service = _services[runtime] = StatisticsService(runtime)
    return service
