"""Statistics: ``…/Statistics``, ``…/RealTimeStatistics`` and ``…/CumulativeStatistics`` of the
workspace, its TaskQueues, Workers and Workflows.

Real-time figures are read from the live state at the moment of the request; cumulative ones
from the store over the requested window (``stats/window.py``, ``stats/stored.py``). Combined
``Statistics`` resources carry both, as ``realtime`` and ``cumulative``.

This module must be mounted before ``task_queues`` and ``workers``: ``/TaskQueues/Statistics``
and ``/Workers/Statistics`` would otherwise be taken for a queue or worker SID.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.routing import Route

from switchboard.api import filters
from switchboard.api.endpoints import Api, Context
from switchboard.api.paging import page
from switchboard.api.params import PAGING, Param
from switchboard.api.render import iso, workspace_url
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.errors import InvalidParameter
from switchboard.routing.model import TaskChannel, TaskQueue, Workspace
from switchboard.routing.sids import looks_like_sid
from switchboard.routing.validate import check_json_depth
from switchboard.service.runtime import Runtime
from switchboard.service.statistics import StatisticsService, statistics_of
from switchboard.stats import cumulative, realtime
from switchboard.stats.stored import WindowReader
from switchboard.stats.window import Window, parse_thresholds, resolve_window

MAX_BULK_QUEUES = 50


class StatisticsApi(Api):
    """Starts the runtime's statistics with the app, so activity logs are rebuilt at start-up."""

    def routes(self, runtime: Runtime, public_url: str | None) -> list[Route]:
        statistics_of(runtime)
        return super().routes(runtime, public_url)


api = StatisticsApi()
TAG = "Statistics"
WS = "/v1/Workspaces/{WorkspaceSid}"

CHANNEL = Param("TaskChannel", description="Only this TaskChannel (SID or unique name).")
WINDOW = (
    Param("Minutes", "integer", minimum=1,
          description="The last N minutes (default 15); not with StartDate or EndDate."),
    Param("StartDate", "datetime", description="From this moment (ISO 8601)."),
    Param("EndDate", "datetime", description="Until this moment (ISO 8601; default now)."),
    CHANNEL,
)
SPLIT = Param("SplitByWaitTime", description="Comma-separated wait thresholds in seconds, "
              "e.g. 5,30: tasks canceled and reservations accepted at or below / above each.")
WORKER_FILTERS = (
    Param("TaskQueueSid", description="Only the workers of this queue."),
    Param("TaskQueueName", description="Only the workers of the queues with this name."),
    Param("FriendlyName", description="Only the worker with this name (any case)."),
)


# ---------------------------------------------------------------------- request parts


@dataclass(frozen=True)
class Query:
    window: Window
    channel: TaskChannel | None
    thresholds: tuple[int, ...] | None

    @property
    def channel_sid(self) -> str | None:
        return self.channel.sid if self.channel else None

    @property
    def channel_name(self) -> str | None:
        return self.channel.unique_name if self.channel else None


def _service(ctx: Context) -> StatisticsService:
    return statistics_of(ctx.runtime)


def _query(ctx: Context, engine: WorkspaceEngine) -> Query:
    a = ctx.args
    window = resolve_window(ctx.runtime.clock.now_ms(), a.get("minutes"), a.get("start_date"),
                            a.get("end_date"))
    return Query(window, _channel(engine, a.get("task_channel")),
                 parse_thresholds(a.get("split_by_wait_time")))


def _channel(engine: WorkspaceEngine, value: str | None) -> TaskChannel | None:
    return engine.task_channel(value, "TaskChannel") if value else None


def _channel_sid(ctx: Context, engine: WorkspaceEngine) -> str | None:
    """The SID of the ``TaskChannel`` a real-time request names, if any."""
    channel = _channel(engine, ctx.args["task_channel"])
    return channel.sid if channel else None


def _resource(ctx: Context, ws: Workspace, figures: dict[str, Any], *path: str,
              **sid: str) -> dict[str, Any]:
    """A statistics resource: its figures, the SID of what they are of, and its URL."""
    return {"account_sid": ws.account_sid, **figures, **sid, "workspace_sid": ws.sid,
            "url": workspace_url(ctx.base_url, ws.sid, *path)}


def _times(window: Window) -> dict[str, Any]:
    return {"start_time": iso(window.start), "end_time": iso(window.end)}


def _worker_subset(engine: WorkspaceEngine, args: dict[str, Any]) -> set[str] | None:
    """The workers the TaskQueueSid / TaskQueueName / FriendlyName filters leave (None: all)."""
    only: set[str] | None = None

    def narrow(found: set[str]) -> None:
        nonlocal only
        only = found if only is None else only & found

    # As on the Workers list, a queue filter that names no queue is refused (api/filters.py).
    if filters.sid(args.get("task_queue_sid"), "TaskQueueSid", "WQ",
                   engine.task_queues.__contains__):
        narrow(set(engine.queue_members.get(args["task_queue_sid"], ())))
    if filters.friendly_name(args.get("task_queue_name"), "TaskQueueName", "TaskQueue",
                             (q.friendly_name for q in engine.task_queues.values())):
        narrow({sid for q in engine.task_queues.values()
                if q.friendly_name == args["task_queue_name"]
                for sid in engine.queue_members[q.sid]})
    if args.get("friendly_name") is not None:
        worker = engine.worker_by_name(args["friendly_name"])
        narrow({worker.sid} if worker is not None else set())
    return only


# ---------------------------------------------------------------------- figures


def _workspace_realtime(ctx: Context, engine: WorkspaceEngine, channel_sid: str | None
                        ) -> dict[str, Any]:
    live = _service(ctx).live(engine)
    tasks = realtime.task_figures(live, realtime.WORKSPACE, "", ctx.runtime.clock.now_ms(),
                                  channel_sid)
    workers = realtime.worker_figures(engine, None, channel_sid,
                                      _service(ctx).live_workers(engine))
    return {**tasks, "total_workers": workers["total_workers"],
            "activity_statistics": workers["activity_statistics"]}


def _queue_realtime(ctx: Context, engine: WorkspaceEngine, queue: TaskQueue,
                    channel_sid: str | None) -> dict[str, Any]:
    live = _service(ctx).live(engine)
    tasks = realtime.task_figures(live, realtime.QUEUE, queue.sid, ctx.runtime.clock.now_ms(),
                                  channel_sid)
    workers = realtime.worker_figures(engine, engine.queue_members.get(queue.sid, ()),
                                      channel_sid)
    return {**tasks, "total_eligible_workers": workers["total_workers"],
            "total_available_workers": workers["total_available_workers"],
            "activity_statistics": workers["activity_statistics"]}


def _workflow_realtime(ctx: Context, engine: WorkspaceEngine, workflow_sid: str,
                       channel_sid: str | None) -> dict[str, Any]:
    return realtime.task_figures(_service(ctx).live(engine), realtime.WORKFLOW, workflow_sid,
                                 ctx.runtime.clock.now_ms(), channel_sid)


def _workers_realtime(ctx: Context, engine: WorkspaceEngine, only: set[str] | None,
                      channel_sid: str | None) -> dict[str, Any]:
    workers = realtime.worker_figures(engine, only, channel_sid,
                                      _service(ctx).live_workers(engine))
    return {"total_workers": workers["total_workers"],
            "activity_statistics": workers["activity_statistics"]}


async def _flows(ctx: Context, engine: WorkspaceEngine, scope: str, sids: list[str], q: Query
                 ) -> dict[str, dict[str, Any]]:
    """The cumulative figures of some queues or workflows (or the workspace, SID ''), read
    from the store in one snapshot."""

    def read(reader: WindowReader) -> dict[str, dict[str, Any]]:
        found = reader.figures(scope, sids)
        return {sid: {**cumulative.task_flow(
            found[sid], scope, None if q.thresholds is None else reader.split(scope, sid),
            q.thresholds), **_times(q.window)} for sid in sids}

    return await _service(ctx).read(engine.workspace.sid, q.window, q.channel_name, read)


async def _flow(ctx: Context, engine: WorkspaceEngine, scope: str, sid: str, q: Query
                ) -> dict[str, Any]:
    return (await _flows(ctx, engine, scope, [sid], q))[sid]


async def _workers_flow(ctx: Context, engine: WorkspaceEngine, only: set[str] | None, q: Query
                        ) -> dict[str, Any]:
    service = _service(ctx)
    reservations = await service.read(engine.workspace.sid, q.window, q.channel_name,
                                      lambda reader: reader.reservations(only))
    activity = await service.activity(engine.workspace.sid)
    activities = [(a.sid, a.friendly_name) for a in engine.activities.values()]
    counts = service.live_workers(engine).counts() if only is None else None
    return {**cumulative.workers_flow(reservations, activity, q.window, engine.workers, only,
                                      activities, counts),
            **_times(q.window)}


# ---------------------------------------------------------------------- workspace


@api.route("GET", WS + "/Statistics", tag=TAG, summary="Workspace statistics",
           params=(*WINDOW, SPLIT))
async def workspace_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    q = _query(ctx, engine)
    return _resource(ctx, engine.workspace, {
        "cumulative": await _flow(ctx, engine, cumulative.WORKSPACE, "", q),
        "realtime": _workspace_realtime(ctx, engine, q.channel_sid)}, "Statistics")


@api.route("GET", WS + "/RealTimeStatistics", tag=TAG, summary="Workspace real-time statistics",
           params=(CHANNEL,))
async def workspace_realtime_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    return _resource(ctx, engine.workspace,
                     _workspace_realtime(ctx, engine, _channel_sid(ctx, engine)),
                     "RealTimeStatistics")


@api.route("GET", WS + "/CumulativeStatistics", tag=TAG,
           summary="Workspace cumulative statistics", params=(*WINDOW, SPLIT))
async def workspace_cumulative_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    q = _query(ctx, engine)
    return _resource(ctx, engine.workspace,
                     await _flow(ctx, engine, cumulative.WORKSPACE, "", q),
                     "CumulativeStatistics")


# ---------------------------------------------------------------------- task queues

QUEUES = WS + "/TaskQueues"


@api.route("GET", QUEUES + "/Statistics", tag=TAG, summary="Statistics of every task queue",
           params=(Param("FriendlyName", description="Only the queues with this name."),
                   *WINDOW, SPLIT, *PAGING))
async def list_task_queue_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    q = _query(ctx, engine)
    queues = list(engine.task_queues.values())
    if ctx.args["friendly_name"] is not None:
        queues = [queue for queue in queues if queue.friendly_name == ctx.args["friendly_name"]]
    ws = engine.workspace
    key = "task_queues_statistics"
    # The page first (its queues only), then their figures read in one go.
    listing = page(queues, key=key,
                   url=workspace_url(ctx.base_url, ws.sid, "TaskQueues", "Statistics"),
                   query=ctx.query, args=ctx.args, render=lambda queue: {"sid": queue.sid})
    sids = [entry["sid"] for entry in listing[key]]
    flows = await _flows(ctx, engine, cumulative.QUEUE, sids, q)
    listing[key] = [{
        "account_sid": ws.account_sid,
        "cumulative": flows[sid],
        "realtime": _queue_realtime(ctx, engine, engine.task_queues[sid], q.channel_sid),
        "task_queue_sid": sid,
        "workspace_sid": ws.sid,
    } for sid in sids]
    return listing


@api.route("POST", QUEUES + "/RealTimeStatistics", tag=TAG,
           summary="Real-time statistics of up to 50 task queues. Body: JSON "
           '{"QueueSids": ["WQ…", …]} (or the form parameter QueueSids, repeated).')
async def bulk_task_queue_realtime_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    sids = await _bulk_queue_sids(ctx)
    ws = engine.workspace
    data = []
    for sid in sids:
        queue = engine.task_queues.get(sid)
        if queue is not None:
            figures = _queue_realtime(ctx, engine, queue, None)
        else:  # another workspace's or account's queue: zeros, as TaskRouter answers
            figures = _empty_queue_realtime(engine)
        data.append({"task_queue_sid": sid, **figures})
    return {
        "account_sid": ws.account_sid,
        "workspace_sid": ws.sid,
        "task_queue_data": data,
        "task_queue_response_count": len(data),
        "url": workspace_url(ctx.base_url, ws.sid, "TaskQueues", "RealTimeStatistics"),
    }


async def _bulk_queue_sids(ctx: Context) -> list[str]:
    """``QueueSids`` from a JSON body (as the official clients send it) or a form."""
    request = ctx.request
    raw: Any = None
    if request.headers.get("content-type", "").startswith("application/json"):
        text = await request.body() or b"{}"
        check_json_depth(text, "The request body")
        try:
            body = json.loads(text)
        except ValueError:
            raise InvalidParameter("The request body is not valid JSON") from None
        if isinstance(body, dict):
            raw = next((v for k, v in body.items()
                        if k.lower() in ("queuesids", "taskqueuesids")), None)
    else:
        form = await request.form()
        raw = form.getlist("QueueSids") or form.getlist("TaskQueueSids") or None
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BULK_QUEUES:
        raise InvalidParameter(f"QueueSids must list 1 to {MAX_BULK_QUEUES} TaskQueue SIDs")
    for sid in raw:
        if not isinstance(sid, str) or not looks_like_sid(sid, "WQ"):
            raise InvalidParameter(f"QueueSids: '{str(sid)[:40]}' is not a TaskQueue SID")
    return list(dict.fromkeys(raw))


def _empty_queue_realtime(engine: WorkspaceEngine) -> dict[str, Any]:
    return {
        "total_tasks": 0, "tasks_by_status": dict.fromkeys(realtime.STATUSES, 0),
        "tasks_by_priority": {}, "longest_task_waiting_age": 0,
        "longest_task_waiting_sid": None, "longest_relative_task_age_in_queue": 0,
        "longest_relative_task_sid_in_queue": None, "total_eligible_workers": 0,
        "total_available_workers": 0,
        "activity_statistics": [{"friendly_name": a.friendly_name, "sid": a.sid, "workers": 0}
                                for a in engine.activities.values()],
    }


QUEUE = QUEUES + "/{TaskQueueSid}"


@api.route("GET", QUEUE + "/Statistics", tag=TAG, summary="Task queue statistics",
           params=(*WINDOW, SPLIT))
async def task_queue_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    queue = engine.task_queue(ctx.path["TaskQueueSid"])
    q = _query(ctx, engine)
    return _resource(ctx, engine.workspace, {
        "cumulative": await _flow(ctx, engine, cumulative.QUEUE, queue.sid, q),
        "realtime": _queue_realtime(ctx, engine, queue, q.channel_sid)},
        "TaskQueues", queue.sid, "Statistics", task_queue_sid=queue.sid)


@api.route("GET", QUEUE + "/RealTimeStatistics", tag=TAG,
           summary="Task queue real-time statistics", params=(CHANNEL,))
async def task_queue_realtime_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    queue = engine.task_queue(ctx.path["TaskQueueSid"])
    return _resource(ctx, engine.workspace,
                     _queue_realtime(ctx, engine, queue, _channel_sid(ctx, engine)),
                     "TaskQueues", queue.sid, "RealTimeStatistics", task_queue_sid=queue.sid)


@api.route("GET", QUEUE + "/CumulativeStatistics", tag=TAG,
           summary="Task queue cumulative statistics", params=(*WINDOW, SPLIT))
async def task_queue_cumulative_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    queue = engine.task_queue(ctx.path["TaskQueueSid"])
    q = _query(ctx, engine)
    return _resource(ctx, engine.workspace,
                     await _flow(ctx, engine, cumulative.QUEUE, queue.sid, q),
                     "TaskQueues", queue.sid, "CumulativeStatistics", task_queue_sid=queue.sid)


# ---------------------------------------------------------------------- workers

WORKERS = WS + "/Workers"


@api.route("GET", WORKERS + "/Statistics", tag=TAG, summary="Workers statistics",
           params=(*WINDOW, *WORKER_FILTERS))
async def workers_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    q = _query(ctx, engine)
    only = _worker_subset(engine, ctx.args)
    return _resource(ctx, engine.workspace, {
        "cumulative": await _workers_flow(ctx, engine, only, q),
        "realtime": _workers_realtime(ctx, engine, only, q.channel_sid)},
        "Workers", "Statistics")


@api.route("GET", WORKERS + "/RealTimeStatistics", tag=TAG,
           summary="Workers real-time statistics", params=(CHANNEL, *WORKER_FILTERS))
async def workers_realtime_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    figures = _workers_realtime(ctx, engine, _worker_subset(engine, ctx.args),
                                _channel_sid(ctx, engine))
    return _resource(ctx, engine.workspace, figures, "Workers", "RealTimeStatistics")


@api.route("GET", WORKERS + "/CumulativeStatistics", tag=TAG,
           summary="Workers cumulative statistics", params=(*WINDOW, *WORKER_FILTERS))
async def workers_cumulative_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    q = _query(ctx, engine)
    only = _worker_subset(engine, ctx.args)
    return _resource(ctx, engine.workspace, await _workers_flow(ctx, engine, only, q),
                     "Workers", "CumulativeStatistics")


@api.route("GET", WORKERS + "/{WorkerSid}/Statistics", tag=TAG,
           summary="One worker's cumulative statistics", params=WINDOW)
async def worker_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    worker = engine.worker(ctx.path["WorkerSid"])
    q = _query(ctx, engine)
    return _resource(ctx, engine.workspace,
                     {"cumulative": await _workers_flow(ctx, engine, {worker.sid}, q)},
                     "Workers", worker.sid, "Statistics", worker_sid=worker.sid)


# ---------------------------------------------------------------------- workflows

WORKFLOW = WS + "/Workflows/{WorkflowSid}"


@api.route("GET", WORKFLOW + "/Statistics", tag=TAG, summary="Workflow statistics",
           params=(*WINDOW, SPLIT))
async def workflow_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    workflow = engine.workflow(ctx.path["WorkflowSid"])
    q = _query(ctx, engine)
    return _resource(ctx, engine.workspace, {
        "cumulative": await _flow(ctx, engine, cumulative.WORKFLOW, workflow.sid, q),
        "realtime": _workflow_realtime(ctx, engine, workflow.sid, q.channel_sid)},
        "Workflows", workflow.sid, "Statistics", workflow_sid=workflow.sid)


@api.route("GET", WORKFLOW + "/RealTimeStatistics", tag=TAG,
           summary="Workflow real-time statistics", params=(CHANNEL,))
async def workflow_realtime_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    workflow = engine.workflow(ctx.path["WorkflowSid"])
    return _resource(ctx, engine.workspace,
                     _workflow_realtime(ctx, engine, workflow.sid, _channel_sid(ctx, engine)),
                     "Workflows", workflow.sid, "RealTimeStatistics", workflow_sid=workflow.sid)


@api.route("GET", WORKFLOW + "/CumulativeStatistics", tag=TAG,
           summary="Workflow cumulative statistics", params=(*WINDOW, SPLIT))
async def workflow_cumulative_statistics(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    workflow = engine.workflow(ctx.path["WorkflowSid"])
    q = _query(ctx, engine)
    return _resource(ctx, engine.workspace,
                     await _flow(ctx, engine, cumulative.WORKFLOW, workflow.sid, q),
                     "Workflows", workflow.sid, "CumulativeStatistics",
                     workflow_sid=workflow.sid)
