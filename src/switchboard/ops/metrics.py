"""Prometheus metrics, served on a port of their own (``serve --metrics-port``) at /metrics.

Every metric is listed in ``docs/operations.md``. They come from four places:

* ``HttpMetrics``, told of each request by ``ops.requests.ObserveRequests``: requests by
  method, route template (``/v1/Workspaces/{WorkspaceSid}/Tasks``, never the raw path, so SIDs
  do not become labels) and status, and their durations;
* a runtime listener: reservations by outcome and the time from a task's creation to its first
  reservation, counted from committed events;
* the store's batch commit hook: commit latency and batch size;
* ``_Collector``, read at scrape time from what is kept anyway: tasks by assignment status and
  workers by activity from each workspace's live tallies (``stats.realtime``: no scan per
  scrape), callbacks owed and done from the dispatcher, WebSocket connections from the event
  bridge, ownership from the cluster node.

The registry is the ``Metrics`` object's own, not prometheus_client's process-global one: two
apps in one process (tests) never mix their figures. The scrape is answered on the event loop
(a small asyncio server), so the collector reads the live tallies on the thread that changes
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import time
from collections.abc import Iterable
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import Scope

from switchboard.routing.model import Event
from switchboard.service.runtime import Runtime

log = logging.getLogger(__name__)

UNMATCHED = "<unmatched>"  # the route label of a request no route answers (404)
RESERVATION_OUTCOMES = frozenset({"reservation.accepted", "reservation.rejected",
                                  "reservation.timeout", "reservation.canceled",
                                  "reservation.rescinded"})
_TASK_ENDS = frozenset({"task.canceled", "task.completed", "task.deleted"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                   120.0, 300.0, 600.0, 1800.0, 3600.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
PAUSE_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


class CallbackFigures(Protocol):
    """What the callback dispatcher keeps that metrics read."""

    sent: dict[str, int]
    failed: dict[str, int]

    def owed(self) -> int: ...


class ClusterFigures(Protocol):
    claimed: dict[str, int]
    takeovers: int
    lost_leases: int


class SocketFigures(Protocol):
    count: int


class Metrics:
    """The metrics of one server: its registry, its instruments and what they read."""

    def __init__(self, runtime: Runtime, *, callbacks: CallbackFigures | None = None,
                 cluster: ClusterFigures | None = None) -> None:
        self.runtime = runtime
        self.callbacks = callbacks
        self.cluster = cluster
        self.sockets: SocketFigures | None = None  # set by the app factory
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "switchboard_http_requests", "HTTP requests answered, by method, route template "
            "and status.", ["method", "route", "status"], registry=self.registry)
        self.http_duration = Histogram(
            "switchboard_http_request_duration_seconds", "Time to answer HTTP requests, by "
            "method and route template.", ["method", "route"], registry=self.registry)
        self.http_forwarded = Counter(
            "switchboard_http_forwarded_requests", "HTTP requests this cluster node forwarded "
            "to the owner of their workspace, by method and the owner's status (the owner "
            "counts them in switchboard_http_requests_total too).", ["method", "status"],
            registry=self.registry)
        self.reservations = Counter(
            "switchboard_reservations_ended", "Reservations ended by outcome (accepted, rejected, "
            "timeout, canceled, rescinded), per workspace.", ["workspace_sid", "outcome"],
            registry=self.registry)
        self.reservations_created = Counter(
            "switchboard_reservations_created", "Reservations created, per workspace.",
            ["workspace_sid"], registry=self.registry)
        self.time_to_reserve = Histogram(
            "switchboard_task_time_to_reservation_seconds", "From a task's creation to its "
            "first reservation, per workspace.", ["workspace_sid"], buckets=LATENCY_BUCKETS,
            registry=self.registry)
        self.commit_seconds = Histogram(
            "switchboard_store_commit_duration_seconds", "Time to commit one batch of writes "
            "to the store (group commit).", registry=self.registry)
        self.commit_batch = Histogram(
            "switchboard_store_commit_batch_size", "Writes committed together in one "
            "transaction.", buckets=BATCH_BUCKETS, registry=self.registry)
        self.gc_watch = GcWatch(Histogram(
            "switchboard_gc_pause_seconds", "Pauses of Python's cyclic garbage collector, by "
            "generation (2: a full collection); nothing else runs in the process meanwhile.",
            ["generation"], buckets=PAUSE_BUCKETS, registry=self.registry), Counter(
            "switchboard_gc_collected_objects", "Objects Python's cyclic garbage collector "
            "freed, by generation: what was left in cycles of references (requests leave none).",
            ["generation"], registry=self.registry))
        # Tasks created here and not yet reserved (creation time in ms). Bounded by the tasks
        # waiting for their first reservation.
        self._unreserved: dict[str, tuple[str, int]] = {}  # task -> (workspace, created)
        self.registry.register(_Collector(self))
        runtime.add_listener(self._heard)
        runtime.store.on_batch = self._committed
        runtime.add_workspace_listener(self)

    # ------------------------------------------------------------------ from events

    def _heard(self, workspace_sid: str, events: list[Event]) -> None:
        for event in events:
            kind = event.event_type
            if kind in RESERVATION_OUTCOMES:
                self.reservations.labels(workspace_sid, kind[len("reservation."):]).inc()
            elif kind == "reservation.created":
                self.reservations_created.labels(workspace_sid).inc()
                entry = self._unreserved.pop(event.task_sid or "", None)
                if entry is not None:
                    self.time_to_reserve.labels(workspace_sid).observe(
                        max(0, event.event_date - entry[1]) / 1000)
            elif kind == "task.created" and event.task_sid:
                self._unreserved[event.task_sid] = (workspace_sid, event.event_date)
            elif kind in _TASK_ENDS and event.task_sid:
                self._unreserved.pop(event.task_sid, None)
            elif kind == "workspace.deleted":
                self.workspace_unloaded(workspace_sid)

    def workspace_loaded(self, workspace_sid: str) -> None:
        """Runtime workspace listener (nothing to do: figures are read when scraped)."""

    def workspace_unloaded(self, workspace_sid: str) -> None:
        """Its waiting tasks are no longer this node's to measure (rare: one pass)."""
        self._unreserved = {sid: entry for sid, entry in self._unreserved.items()
                            if entry[0] != workspace_sid}

    def _committed(self, seconds: float, size: int) -> None:
        """Store hook (on the thread that committed): one batch committed."""
        self.commit_seconds.observe(seconds)
        self.commit_batch.observe(size)

    # ------------------------------------------------------------------ HTTP

    def http(self, routes: Iterable[BaseRoute]) -> HttpMetrics:
        """The observer of the app's requests (see ``ops.requests.ObserveRequests``)."""
        return HttpMetrics(self, routes)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def route_templates(routes: Iterable[BaseRoute]) -> dict[Any, str]:
    """Each route's endpoint -> its path template (Starlette puts the endpoint in the scope)."""
    templates: dict[Any, str] = {}
    for route in routes:
        if isinstance(route, Route | WebSocketRoute):
            templates[route.endpoint] = route.path
        elif isinstance(route, Mount):
            templates[route.app] = route.path + "/{path}"
    return templates


class HttpMetrics:
    """A ``RequestObserver``: counts and times every HTTP request by its route template."""

    def __init__(self, metrics: Metrics, routes: Iterable[BaseRoute]) -> None:
        self.metrics = metrics
        self.templates = route_templates(routes)
        # (method, route, status) -> its count and its durations' histogram: ``labels()``
        # costs more than counting (a lock, the values checked), so once per label set (as
        # many as the registry keeps anyway).
        self._labelled: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observed(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"]
        route = scope.get("switchboard.route") or self.templates.get(
            scope.get("endpoint"), UNMATCHED)
        key = (method, route, status)
        labelled = self._labelled.get(key)
        if labelled is None:
            labelled = self._labelled[key] = (
                self.metrics.http_requests.labels(method, route, str(status)),
                self.metrics.http_duration.labels(method, route))
        labelled[0].inc()
        labelled[1].observe(seconds)


class _Collector(Collector):
    """Figures read at scrape time from what the server keeps anyway."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        from switchboard.service.statistics import statistics_of
        from switchboard.stats.realtime import STATUSES, WORKSPACE

        m = self.metrics
        runtime = m.runtime
        tasks = GaugeMetricFamily("switchboard_tasks", "Active tasks by assignment status, "
                                  "per workspace held by this node.",
                                  labels=["workspace_sid", "assignment_status"])
        workers = GaugeMetricFamily("switchboard_workers", "Workers by activity, per "
                                    "workspace held by this node.",
                                    labels=["workspace_sid", "activity"])
        loaded = GaugeMetricFamily("switchboard_workspaces_loaded", "Workspaces whose engine "
                                   "this node holds in memory.", value=len(runtime.engines))
        statistics = statistics_of(runtime)
        for sid, engine in list(runtime.engines.items()):
            statuses = dict.fromkeys(STATUSES, 0)
            for tally in statistics.live(engine).tallies(WORKSPACE, "", None):
                for status, n in tally.statuses.items():
                    statuses[status] = statuses.get(status, 0) + n
            for status, n in statuses.items():
                tasks.add_metric([sid, status], n)
            counts = statistics.live_workers(engine).counts()
            for activity_sid, activity in engine.activities.items():
                workers.add_metric([sid, activity.friendly_name], counts.get(activity_sid, 0))
        yield tasks
        yield workers
        yield loaded
        if m.callbacks is not None:
            sent = CounterMetricFamily("switchboard_callbacks_sent", "Callbacks done (the "
                                       "receiver answered 2xx), by kind (event, assignment).",
                                       labels=["kind"])
            failed = CounterMetricFamily("switchboard_callbacks_failed", "Callbacks given "
                                         "up on after their attempts, by kind.",
                                         labels=["kind"])
            for kind in ("event", "assignment"):
                sent.add_metric([kind], m.callbacks.sent.get(kind, 0))
                failed.add_metric([kind], m.callbacks.failed.get(kind, 0))
            yield sent
            yield failed
            yield GaugeMetricFamily("switchboard_callbacks_owed", "Callbacks committed and "
                                    "not yet done (queued, being sent or retried).",
                                    value=m.callbacks.owed())
        if m.sockets is not None:
            yield GaugeMetricFamily("switchboard_websocket_connections", "Open Worker SDK "
                                    "(event bridge) WebSocket connections.",
                                    value=m.sockets.count)
        if m.cluster is not None:
            yield GaugeMetricFamily("switchboard_cluster_workspaces_owned", "Workspaces "
                                    "whose lease this node holds.",
                                    value=len(m.cluster.claimed))
            yield CounterMetricFamily("switchboard_cluster_takeovers", "Workspaces this "
                                      "node took over.", value=m.cluster.takeovers)
            yield CounterMetricFamily("switchboard_cluster_lost_leases", "Workspace leases "
                                      "this node lost to another node.",
                                      value=m.cluster.lost_leases)


class GcWatch:
    """Times the garbage collector's pauses into a histogram, and counts the objects it freed,
    while installed (``gc.callbacks``: called before and after each collection, on the thread
    that triggered it; collections never overlap)."""

    def __init__(self, pauses: Histogram, collected: Counter) -> None:
        generations = [str(generation) for generation in range(3)]
        self._pauses = [pauses.labels(generation) for generation in generations]
        self._collected = [collected.labels(generation) for generation in generations]
        self._started = 0.0

    def install(self) -> None:
        if self._heard not in gc.callbacks:
            gc.callbacks.append(self._heard)

    def remove(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._heard)

    def _heard(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self._pauses[generation].observe(time.perf_counter() - self._started)
            self._collected[generation].inc(info["collected"])


class MetricsServer:
    """A background service: answers ``GET /metrics`` on its own socket, on the event loop.

    A deliberately tiny HTTP/1.1 server (one request per connection): it serves only scrapes,
    and keeping it off uvicorn leaves the API server's signal handling alone."""

    def __init__(self, metrics: Metrics, sock: socket.socket) -> None:
        self.metrics = metrics
        self.sock = sock
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self.metrics.gc_watch.install()
        self.sock.listen(64)
        self.sock.setblocking(False)
        self._server = await asyncio.start_server(self._serve, sock=self.sock)

    async def stop(self) -> None:
        self.metrics.gc_watch.remove()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            path = path.split("?", 1)[0]
            if path != "/metrics":
                status, body, kind = "404 Not Found", b"not found\n", "text/plain"
            elif method not in ("GET", "HEAD"):
                status, body, kind = "405 Method Not Allowed", b"", "text/plain"
            else:
                status, body, kind = "200 OK", self.metrics.render(), CONTENT_TYPE_LATEST
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: "
                         f"{len(body)}\r\nConnection: close\r\n\r\n".encode())
            if method != "HEAD":
                writer.write(body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError, ValueError):
            pass
        except Exception:
            log.exception("metrics scrape failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
