"""Workspaces: ``/v1/Workspaces``."""

from __future__ import annotations

from typing import Any

from switchboard.api.endpoints import Api, Context
from switchboard.api.paging import page
from switchboard.api.params import PAGING, Param
from switchboard.api.render import iso, links, workspace_url
from switchboard.routing.engine import WorkspaceEngine
from switchboard.service.runtime import WorkspaceListing, listing_of

api = Api()
TAG = "Workspaces"
QUEUE_ORDER = ("FIFO", "LIFO")


def render_workspace(engine: WorkspaceEngine, base: str) -> dict[str, Any]:
    return render_listing(listing_of(engine), base)


def render_listing(listing: WorkspaceListing, base: str) -> dict[str, Any]:
    ws = listing.workspace
    return {
        "account_sid": ws.account_sid,
        "date_created": iso(ws.date_created),
        "date_updated": iso(ws.date_updated),
        "default_activity_name": listing.default_activity_name,
        "default_activity_sid": ws.default_activity_sid,
        "event_callback_url": ws.event_callback_url,
        "events_filter": ws.events_filter,
        "friendly_name": ws.friendly_name,
        "multi_task_enabled": ws.multi_task_enabled,
        "prioritize_queue_order": ws.prioritize_queue_order,
        "sid": ws.sid,
        "timeout_activity_name": listing.timeout_activity_name,
        "timeout_activity_sid": ws.timeout_activity_sid,
        "url": workspace_url(base, ws.sid),
        "links": links(
            base, ws.sid,
            activities="Activities", statistics="Statistics",
            real_time_statistics="RealTimeStatistics",
            cumulative_statistics="CumulativeStatistics", task_queues="TaskQueues",
            tasks="Tasks", workers="Workers", workflows="Workflows",
            task_channels="TaskChannels", events="Events",
        ),
    }


@api.route("GET", "/v1/Workspaces", tag=TAG, summary="List workspaces",
           params=(Param("FriendlyName", description="Only workspaces with this name."),
                   *PAGING))
async def list_workspaces(ctx: Context) -> dict[str, Any]:
    listings = await ctx.runtime.workspaces_of(ctx.account.sid)
    name = ctx.args["friendly_name"]
    if name is not None:
        listings = [w for w in listings if w.workspace.friendly_name == name]
    return page(listings, key="workspaces", url=ctx.url("/v1/Workspaces"), query=ctx.query,
                args=ctx.args, render=lambda w: render_listing(w, ctx.base_url),
                sid_of=lambda w: w.workspace.sid)


@api.route("POST", "/v1/Workspaces", tag=TAG, summary="Create a workspace", status=201,
           params=(
               Param("FriendlyName", required=True),
               Param("EventCallbackUrl", description="Where event callbacks are POSTed."),
               Param("EventsFilter", description="Comma-separated event types to send."),
               Param("MultiTaskEnabled", "boolean", description="Default true."),
               Param("Template", "enum", choices=("NONE", "FIFO")),
               Param("PrioritizeQueueOrder", "enum", choices=QUEUE_ORDER),
           ))
async def create_workspace(ctx: Context) -> dict[str, Any]:
    a = ctx.args

    def build(now: int) -> WorkspaceEngine:
        return WorkspaceEngine.create(
            account_sid=ctx.account.sid, friendly_name=a["friendly_name"], now=now,
            event_callback_url=a["event_callback_url"], events_filter=a["events_filter"],
            multi_task_enabled=True if a["multi_task_enabled"] is None
            else a["multi_task_enabled"],
            template=a["template"], prioritize_queue_order=a["prioritize_queue_order"] or "FIFO",
            sids=ctx.runtime.sids,
        )

    return await ctx.runtime.create_workspace(build, lambda e: render_workspace(e, ctx.base_url))


@api.route("GET", "/v1/Workspaces/{Sid}", tag=TAG, summary="Fetch a workspace")
async def fetch_workspace(ctx: Context) -> dict[str, Any]:
    return render_workspace(ctx.runtime.engine(ctx.account.sid, ctx.path["Sid"]), ctx.base_url)


@api.route("POST", "/v1/Workspaces/{Sid}", tag=TAG, summary="Update a workspace",
           params=(
               Param("DefaultActivitySid"),
               Param("EventCallbackUrl", description="Empty to stop event callbacks."),
               Param("EventsFilter"),
               Param("FriendlyName"),
               Param("MultiTaskEnabled", "boolean"),
               Param("TimeoutActivitySid"),
               Param("PrioritizeQueueOrder", "enum", choices=QUEUE_ORDER),
           ))
async def update_workspace(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    optional = {k: a[k] for k in ("event_callback_url", "events_filter") if a[k] is not None}

    def command(engine: WorkspaceEngine, now: int) -> dict[str, Any]:
        engine.update_workspace(
            now, friendly_name=a["friendly_name"],
            default_activity_sid=a["default_activity_sid"],
            timeout_activity_sid=a["timeout_activity_sid"],
            multi_task_enabled=a["multi_task_enabled"],
            prioritize_queue_order=a["prioritize_queue_order"], **optional,
        )
        return render_workspace(engine, ctx.base_url)

    return await ctx.runtime.run(ctx.account.sid, ctx.path["Sid"], command)


@api.route("DELETE", "/v1/Workspaces/{Sid}", tag=TAG, summary="Delete a workspace",
           status=204)
async def delete_workspace(ctx: Context) -> None:
    await ctx.runtime.delete_workspace(ctx.account.sid, ctx.path["Sid"])
