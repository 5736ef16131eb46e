"""TaskChannels: ``/v1/Workspaces/{WS}/TaskChannels``."""

from __future__ import annotations

from typing import Any

from switchboard.api.endpoints import Api, Context
from switchboard.api.paging import page
from switchboard.api.params import PAGING, Param
from switchboard.api.render import iso, workspace_url
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import TaskChannel

api = Api()
TAG = "TaskChannels"
BASE = "/v1/Workspaces/{WorkspaceSid}/TaskChannels"


def render_task_channel(channel: TaskChannel, base: str) -> dict[str, Any]:
    ws = channel.workspace_sid
    return {
        "account_sid": channel.account_sid,
        "date_created": iso(channel.date_created),
        "date_updated": iso(channel.date_updated),
        "friendly_name": channel.friendly_name,
        "sid": channel.sid,
        "unique_name": channel.unique_name,
        "workspace_sid": ws,
        "channel_optimized_routing": channel.channel_optimized_routing,
        "url": workspace_url(base, ws, "TaskChannels", channel.sid),
        "links": {"workspace": workspace_url(base, ws)},
    }


@api.route("GET", BASE, tag=TAG, summary="List task channels", params=PAGING)
async def list_task_channels(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    return page(list(engine.task_channels.values()), key="channels",
                url=workspace_url(ctx.base_url, engine.workspace.sid, "TaskChannels"),
                query=ctx.query, args=ctx.args,
                render=lambda c: render_task_channel(c, ctx.base_url))


@api.route("POST", BASE, tag=TAG, summary="Create a task channel", status=201, params=(
    Param("FriendlyName", required=True),
    Param("UniqueName", required=True, description="Letters, digits, '_' and '$'; not "
          "starting with a digit; unique in the workspace."),
    Param("ChannelOptimizedRouting", "boolean"),
))
async def create_task_channel(ctx: Context) -> dict[str, Any]:
    a = ctx.args

    def command(engine: WorkspaceEngine, now: int) -> dict[str, Any]:
        channel = engine.create_task_channel(a["friendly_name"], a["unique_name"],
                                             a["channel_optimized_routing"], now)
        return render_task_channel(channel, ctx.base_url)

    return await ctx.run(command)


@api.route("GET", BASE + "/{Sid}", tag=TAG, summary="Fetch a task channel by SID or unique name")
async def fetch_task_channel(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    return render_task_channel(engine.task_channel(ctx.path["Sid"]), ctx.base_url)


@api.route("POST", BASE + "/{Sid}", tag=TAG, summary="Update a task channel", params=(
    Param("FriendlyName"),
    Param("ChannelOptimizedRouting", "boolean"),
))
async def update_task_channel(ctx: Context) -> dict[str, Any]:
    def command(engine: WorkspaceEngine, now: int) -> dict[str, Any]:
        channel = engine.update_task_channel(
            ctx.path["Sid"], now, friendly_name=ctx.args["friendly_name"],
            optimized=ctx.args["channel_optimized_routing"])
        return render_task_channel(channel, ctx.base_url)

    return await ctx.run(command)


@api.route("DELETE", BASE + "/{Sid}", tag=TAG, summary="Delete a task channel", status=204)
async def delete_task_channel(ctx: Context) -> None:
    await ctx.run(lambda engine, now: engine.delete_task_channel(ctx.path["Sid"], now))
