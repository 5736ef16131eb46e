"""Activities: ``/v1/Workspaces/{WS}/Activities``."""

from __future__ import annotations

from typing import Any

from switchboard.api.endpoints import Api, Context
from switchboard.api.paging import page
from switchboard.api.params import PAGING, Param
from switchboard.api.render import iso, workspace_url
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import Activity

api = Api()
TAG = "Activities"
BASE = "/v1/Workspaces/{WorkspaceSid}/Activities"


def render_activity(activity: Activity, base: str) -> dict[str, Any]:
    ws = activity.workspace_sid
    return {
        "account_sid": activity.account_sid,
        "available": activity.available,
        "date_created": iso(activity.date_created),
        "date_updated": iso(activity.date_updated),
        "friendly_name": activity.friendly_name,
        "sid": activity.sid,
        "workspace_sid": ws,
        "url": workspace_url(base, ws, "Activities", activity.sid),
        "links": {"workspace": workspace_url(base, ws)},
    }


@api.route("GET", BASE, tag=TAG, summary="List activities", params=(
    Param("FriendlyName"),
    Param("Available", "flag", description="true, 1 or yes: only available activities; "
          "anything else: only unavailable ones."),
    *PAGING,
))
async def list_activities(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    items = list(engine.activities.values())
    if ctx.args["friendly_name"] is not None:
        items = [a for a in items if a.friendly_name == ctx.args["friendly_name"]]
    if ctx.args["available"] is not None:
        items = [a for a in items if a.available == ctx.args["available"]]
    return page(items, key="activities", url=workspace_url(ctx.base_url, engine.workspace.sid,
                                                           "Activities"),
                query=ctx.query, args=ctx.args, render=lambda a: render_activity(a, ctx.base_url))


@api.route("POST", BASE, tag=TAG, summary="Create an activity", status=201, params=(
    Param("FriendlyName", required=True),
    Param("Available", "boolean", description="Whether workers in it can take tasks; fixed "
          "once created. Default true."),
))
async def create_activity(ctx: Context) -> dict[str, Any]:
    a = ctx.args

    def command(engine: WorkspaceEngine, now: int) -> dict[str, Any]:
        available = True if a["available"] is None else a["available"]
        return render_activity(engine.create_activity(a["friendly_name"], available, now),
                               ctx.base_url)

    return await ctx.run(command)


@api.route("GET", BASE + "/{Sid}", tag=TAG, summary="Fetch an activity")
async def fetch_activity(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    return render_activity(engine.activity(ctx.path["Sid"]), ctx.base_url)


@api.route("POST", BASE + "/{Sid}", tag=TAG, summary="Update an activity",
           params=(Param("FriendlyName"),))
async def update_activity(ctx: Context) -> dict[str, Any]:
    def command(engine: WorkspaceEngine, now: int) -> dict[str, Any]:
        activity = engine.update_activity(ctx.path["Sid"], now,
                                          friendly_name=ctx.args["friendly_name"])
        return render_activity(activity, ctx.base_url)

    return await ctx.run(command)


@api.route("DELETE", BASE + "/{Sid}", tag=TAG, summary="Delete an activity", status=204)
async def delete_activity(ctx: Context) -> None:
    await ctx.run(lambda engine, now: engine.delete_activity(ctx.path["Sid"], now))


