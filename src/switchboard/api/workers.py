"""Workers and their channels: ``/v1/Workspaces/{WS}/Workers`` and ``…/Workers/{WK}/Channels``."""

from __future__ import annotations

from typing import Any

from switchboard.api import filters
from switchboard.api.endpoints import Api, Context, Reply
from switchboard.api.paging import page
from switchboard.api.params import PAGING, Param
from switchboard.api.render import iso, links, workspace_url
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.errors import InvalidParameter
from switchboard.routing.model import Worker, WorkerChannel
from switchboard.routing.resources import compile_target_workers
from switchboard.routing.views import channel_figures

api = Api()
TAG = "Workers"
BASE = "/v1/Workspaces/{WorkspaceSid}/Workers"
ORDERINGS = {
    "DateCreated": lambda w: (w.date_created, w.sid),
    "DateUpdated": lambda w: (w.date_updated, w.sid),
    "DateStatusChanged": lambda w: (w.date_status_changed, w.sid),
    "FriendlyName": lambda w: (w.friendly_name.casefold(), w.sid),
}


def render_worker(engine: WorkspaceEngine, worker: Worker, base: str) -> dict[str, Any]:
    ws = worker.workspace_sid
    activity = engine.activities.get(worker.activity_sid)
    wk = f"Workers/{worker.sid}"
    return {
        "account_sid": worker.account_sid,
        "activity_name": activity.friendly_name if activity else None,
        "activity_sid": worker.activity_sid,
        "attributes": worker.attributes,
        "available": bool(activity and activity.available),
        "date_created": iso(worker.date_created),
        "date_status_changed": iso(worker.date_status_changed),
        "date_updated": iso(worker.date_updated),
        "friendly_name": worker.friendly_name,
        "sid": worker.sid,
        "workspace_sid": ws,
        "url": workspace_url(base, ws, wk),
        "links": {
            **links(base, ws, channels=f"{wk}/Channels",
                    activity=f"Activities/{worker.activity_sid}",
                    statistics="Workers/Statistics",
                    real_time_statistics="Workers/RealTimeStatistics",
                    cumulative_statistics="Workers/CumulativeStatistics",
                    worker_statistics=f"{wk}/Statistics", worker_channels=f"{wk}/Channels",
                    reservations=f"{wk}/Reservations"),
            "workspace": workspace_url(base, ws),
        },
    }


def worker_reply(engine: WorkspaceEngine, worker: Worker, base: str) -> Reply:
    return Reply(render_worker(engine, worker, base), etag=str(worker.version))


def render_worker_channel(engine: WorkspaceEngine, wc: WorkerChannel, base: str
                          ) -> dict[str, Any]:
    figures = channel_figures(wc)
    return {
        "account_sid": wc.account_sid,
        "assigned_tasks": figures["assigned_tasks"],
        "available": wc.available,
        "available_capacity_percentage": figures["available_capacity_percentage"],
        "configured_capacity": wc.configured_capacity,
        "date_created": iso(wc.date_created),
        "date_updated": iso(wc.date_updated),
        "sid": wc.sid,
        "task_channel_sid": wc.task_channel_sid,
        "task_channel_unique_name": engine.task_channels[wc.task_channel_sid].unique_name,
        "worker_sid": wc.worker_sid,
        "workspace_sid": wc.workspace_sid,
        "url": workspace_url(base, wc.workspace_sid, "Workers", wc.worker_sid, "Channels",
                             wc.sid),
    }


def _ordering(value: str | None) -> tuple[Any, bool]:
    if value is None:
        return None, False
    attribute, _, direction = value.partition(":")
    key = ORDERINGS.get(attribute)
    if key is None or direction.lower() not in ("", "asc", "desc"):
        raise InvalidParameter(
            f"Invalid Ordering '{value}': use Attribute:asc|desc with Attribute one of "
            f"{', '.join(ORDERINGS)}")
    return key, direction.lower() == "desc"


@api.route("GET", BASE, tag=TAG, summary="List workers", params=(
    Param("ActivityName", description="An activity of the workspace (else 400)."),
    Param("ActivitySid", description="An activity of the workspace (else 400)."),
    Param("Available", "flag"),
    Param("FriendlyName"),
    Param("TargetWorkersExpression", description="Only workers this expression selects."),
    Param("TaskQueueName", description="Only members of the queue with this name (a queue of "
          "the workspace, else 400)."),
    Param("TaskQueueSid", description="Only members of this queue (else 400)."),
    Param("Ordering", description="DateCreated, DateUpdated, DateStatusChanged or "
          "FriendlyName, then :asc or :desc."),
    *PAGING,
))
async def list_workers(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    engine = ctx.engine()
    order_key, descending = _ordering(a["ordering"])
    # Filters that name nothing in the workspace are refused (api/filters.py).
    filters.sid(a["activity_sid"], "ActivitySid", "WA", engine.activities.__contains__)
    filters.friendly_name(a["activity_name"], "ActivityName", "Activity",
                          (x.friendly_name for x in engine.activities.values()))
    filters.sid(a["task_queue_sid"], "TaskQueueSid", "WQ", engine.task_queues.__contains__)
    filters.friendly_name(a["task_queue_name"], "TaskQueueName", "TaskQueue",
                          (q.friendly_name for q in engine.task_queues.values()))
    expression = (compile_target_workers(a["target_workers_expression"],
                                         "TargetWorkersExpression")
                  if a["target_workers_expression"] is not None else None)
    members: set[str] | None = None
    if a["task_queue_sid"] is not None:
        members = engine.queue_members.get(a["task_queue_sid"], set())
    if a["task_queue_name"] is not None:
        named = {sid for q in engine.task_queues.values() if q.friendly_name == a["task_queue_name"]
                 for sid in engine.queue_members[q.sid]}
        members = named if members is None else members & named
    workers = list(engine.workers_matching(expression)) if expression else list(
        engine.workers.values())

    def keep(w: Worker) -> bool:
        activity = engine.activities.get(w.activity_sid)
        return (
            (members is None or w.sid in members)
            and (a["activity_sid"] is None or w.activity_sid == a["activity_sid"])
            and (a["activity_name"] is None
                 or (activity is not None and activity.friendly_name == a["activity_name"]))
            and (a["available"] is None or bool(activity and activity.available) == a["available"])
            and (a["friendly_name"] is None
                 or w.friendly_name.casefold() == a["friendly_name"].casefold())
        )

    items = [w for w in workers if keep(w)]
    if order_key is not None:
        items.sort(key=order_key, reverse=descending)
    return page(items, key="workers", url=workspace_url(ctx.base_url, engine.workspace.sid,
                                                        "Workers"),
                query=ctx.query, args=a, render=lambda w: render_worker(engine, w, ctx.base_url))


@api.route("POST", BASE, tag=TAG, summary="Create a worker", status=201, params=(
    Param("FriendlyName", required=True, description="Unique in the workspace, any case."),
    Param("ActivitySid", description="Default: the workspace's default activity."),
    Param("Attributes", description="A JSON object of at most 4,096 characters."),
))
async def create_worker(ctx: Context) -> Reply:
    a = ctx.args

    def command(engine: WorkspaceEngine, now: int) -> Reply:
        worker = engine.create_worker(a["friendly_name"], now, activity_sid=a["activity_sid"],
                                      attributes=a["attributes"])
        return worker_reply(engine, worker, ctx.base_url)

    return await ctx.run(command)


@api.route("GET", BASE + "/{Sid}", tag=TAG, summary="Fetch a worker")
async def fetch_worker(ctx: Context) -> Reply:
    engine = ctx.engine()
    return worker_reply(engine, engine.worker(ctx.path["Sid"]), ctx.base_url)


@api.route("POST", BASE + "/{Sid}", tag=TAG, summary="Update a worker", params=(
    Param("ActivitySid"),
    Param("Attributes"),
    Param("FriendlyName"),
    Param("RejectPendingReservations", "boolean",
          description="Reject the worker's pending reservations (needs an unavailable "
          "ActivitySid)."),
))
async def update_worker(ctx: Context) -> Reply:
    a = ctx.args

    def command(engine: WorkspaceEngine, now: int) -> Reply:
        worker = engine.update_worker(
            ctx.path["Sid"], now, activity_sid=a["activity_sid"], attributes=a["attributes"],
            friendly_name=a["friendly_name"],
            reject_pending_reservations=bool(a["reject_pending_reservations"]),
            if_match=ctx.if_match,
        )
        return worker_reply(engine, worker, ctx.base_url)

    return await ctx.run(command)


@api.route("DELETE", BASE + "/{Sid}", tag=TAG, summary="Delete a worker", status=204)
async def delete_worker(ctx: Context) -> None:
    await ctx.run(
        lambda engine, now: engine.delete_worker(ctx.path["Sid"], now, if_match=ctx.if_match))


CHANNELS = BASE + "/{WorkerSid}/Channels"


@api.route("GET", CHANNELS, tag=TAG, summary="List a worker's channels", params=PAGING)
async def list_worker_channels(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    worker = engine.worker(ctx.path["WorkerSid"])
    return page(list(engine.worker_channels[worker.sid].values()), key="channels",
                url=workspace_url(ctx.base_url, engine.workspace.sid, "Workers", worker.sid,
                                  "Channels"),
                query=ctx.query, args=ctx.args,
                render=lambda wc: render_worker_channel(engine, wc, ctx.base_url))


@api.route("GET", CHANNELS + "/{Sid}", tag=TAG,
           summary="Fetch a worker channel by its SID or its TaskChannel's SID or unique name")
async def fetch_worker_channel(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    wc = engine.worker_channel(ctx.path["WorkerSid"], ctx.path["Sid"])
    return render_worker_channel(engine, wc, ctx.base_url)


@api.route("POST", CHANNELS + "/{Sid}", tag=TAG, summary="Update a worker channel", params=(
    Param("Capacity", "integer", description="How many tasks of this channel at once."),
    Param("Available", "boolean"),
))
async def update_worker_channel(ctx: Context) -> dict[str, Any]:
    def command(engine: WorkspaceEngine, now: int) -> dict[str, Any]:
        wc = engine.update_worker_channel(ctx.path["WorkerSid"], ctx.path["Sid"], now,
                                          capacity=ctx.args["capacity"],
                                          available=ctx.args["available"])
        return render_worker_channel(engine, wc, ctx.base_url)

    return await ctx.run(command)
