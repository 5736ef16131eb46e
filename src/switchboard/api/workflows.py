"""Workflows: ``/v1/Workspaces/{WS}/Workflows``."""

from __future__ import annotations

from typing import Any

from switchboard.api.endpoints import Api, Context
from switchboard.api.paging import page
from switchboard.api.params import PAGING, Param
from switchboard.api.render import iso, links, workspace_url
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import Workflow

api = Api()
TAG = "Workflows"
BASE = "/v1/Workspaces/{WorkspaceSid}/Workflows"


def render_workflow(workflow: Workflow, base: str) -> dict[str, Any]:
    ws = workflow.workspace_sid
    ww = f"Workflows/{workflow.sid}"
    return {
        "account_sid": workflow.account_sid,
        "assignment_callback_url": workflow.assignment_callback_url,
        "configuration": workflow.configuration,
        "date_created": iso(workflow.date_created),
        "date_updated": iso(workflow.date_updated),
        "document_content_type": "application/json",
        "fallback_assignment_callback_url": workflow.fallback_assignment_callback_url,
        "friendly_name": workflow.friendly_name,
        "sid": workflow.sid,
        "task_reservation_timeout": workflow.task_reservation_timeout,
        "workspace_sid": ws,
        "url": workspace_url(base, ws, ww),
        "links": links(base, ws, statistics=f"{ww}/Statistics",
                       real_time_statistics=f"{ww}/RealTimeStatistics",
                       cumulative_statistics=f"{ww}/CumulativeStatistics"),
    }


@api.route("GET", BASE, tag=TAG, summary="List workflows",
           params=(Param("FriendlyName"), *PAGING))
async def list_workflows(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    items = list(engine.workflows.values())
    if ctx.args["friendly_name"] is not None:
        items = [w for w in items if w.friendly_name == ctx.args["friendly_name"]]
    return page(items, key="workflows",
                url=workspace_url(ctx.base_url, engine.workspace.sid, "Workflows"),
                query=ctx.query, args=ctx.args, render=lambda w: render_workflow(w, ctx.base_url))


CALLBACKS = (
    Param("AssignmentCallbackUrl", description="Where reservations are offered (POST)."),
    Param("FallbackAssignmentCallbackUrl"),
    Param("TaskReservationTimeout", "integer", minimum=1, maximum=86_400,
          description="Seconds a reservation waits for an answer (default 120)."),
)


@api.route("POST", BASE, tag=TAG, summary="Create a workflow", status=201, params=(
    Param("FriendlyName", required=True),
    Param("Configuration", required=True, description="The routing configuration (JSON)."),
    *CALLBACKS,
))
async def create_workflow(ctx: Context) -> dict[str, Any]:
    a = ctx.args

    def command(engine: WorkspaceEngine, now: int) -> dict[str, Any]:
        workflow = engine.create_workflow(
            a["friendly_name"], a["configuration"], now,
            assignment_callback_url=a["assignment_callback_url"],
            fallback_assignment_callback_url=a["fallback_assignment_callback_url"],
            task_reservation_timeout=a["task_reservation_timeout"])
        return render_workflow(workflow, ctx.base_url)

    return await ctx.run(command)


@api.route("GET", BASE + "/{Sid}", tag=TAG, summary="Fetch a workflow")
async def fetch_workflow(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    return render_workflow(engine.workflow(ctx.path["Sid"]), ctx.base_url)


@api.route("POST", BASE + "/{Sid}", tag=TAG, summary="Update a workflow", params=(
    Param("FriendlyName"),
    Param("Configuration"),
    *CALLBACKS,
    Param("ReEvaluateTasks", "flag",
          description="true: route the workflow's pending tasks again by the new configuration."),
))
async def update_workflow(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    urls = {k: a[k] for k in ("assignment_callback_url", "fallback_assignment_callback_url")
            if a[k] is not None}

    def command(engine: WorkspaceEngine, now: int) -> dict[str, Any]:
        workflow = engine.update_workflow(
            ctx.path["Sid"], now, friendly_name=a["friendly_name"],
            configuration=a["configuration"],
            task_reservation_timeout=a["task_reservation_timeout"],
            re_evaluate_tasks=bool(a["re_evaluate_tasks"]), **urls)
        return render_workflow(workflow, ctx.base_url)

    return await ctx.run(command)


@api.route("DELETE", BASE + "/{Sid}", tag=TAG, summary="Delete a workflow", status=204)
async def delete_workflow(ctx: Context) -> None:
    await ctx.run(lambda engine, now: engine.delete_workflow(ctx.path["Sid"], now))
