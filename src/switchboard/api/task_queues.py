"""TaskQueues: ``/v1/Workspaces/{WS}/TaskQueues``."""

from __future__ import annotations

from typing import Any

from switchboard.api import filters
from switchboard.api.endpoints import Api, Context
from switchboard.api.paging import page
from switchboard.api.params import PAGING, Param
from switchboard.api.render import iso, links, workspace_url
from switchboard.routing import validate
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.errors import InvalidParameter
from switchboard.routing.model import TaskQueue

api = Api()
TAG = "TaskQueues"
BASE = "/v1/Workspaces/{WorkspaceSid}/TaskQueues"
ORDERINGS = {
    "DateCreated": lambda q: (q.date_created, q.sid),
    "DateUpdated": lambda q: (q.date_updated, q.sid),
    "FriendlyName": lambda q: (q.friendly_name.casefold(), q.sid),
}


def render_task_queue(engine: WorkspaceEngine, queue: TaskQueue, base: str) -> dict[str, Any]:
    ws = queue.workspace_sid
    reservation = engine.activities.get(queue.reservation_activity_sid or "")
    assignment = engine.activities.get(queue.assignment_activity_sid or "")
    wq = f"TaskQueues/{queue.sid}"
    queue_links: dict[str, str | None] = {**links(
        base, ws, statistics=f"{wq}/Statistics",
        real_time_statistics=f"{wq}/RealTimeStatistics",
        cumulative_statistics=f"{wq}/CumulativeStatistics",
        list_statistics="TaskQueues/Statistics",
        bulk_real_time_statistics="TaskQueues/RealTimeStatistics",
    )}
    # Twilio always lists both activity links; they are null while the activity is unset.
    queue_links["assignment_activity"] = (
        workspace_url(base, ws, "Activities", assignment.sid) if assignment else None)
    queue_links["reservation_activity"] = (
        workspace_url(base, ws, "Activities", reservation.sid) if reservation else None)
    queue_links["workspace"] = workspace_url(base, ws)
    return {
        "account_sid": queue.account_sid,
        "assignment_activity_sid": queue.assignment_activity_sid,
        "assignment_activity_name": assignment.friendly_name if assignment else None,
        "date_created": iso(queue.date_created),
        "date_updated": iso(queue.date_updated),
        "friendly_name": queue.friendly_name,
        "max_reserved_workers": queue.max_reserved_workers,
        "reservation_activity_sid": queue.reservation_activity_sid,
        "reservation_activity_name": reservation.friendly_name if reservation else None,
        "sid": queue.sid,
        "target_workers": queue.target_workers,
        "task_order": queue.task_order,
        "url": workspace_url(base, ws, wq),
        "workspace_sid": ws,
        "links": queue_links,
    }


@api.route("GET", BASE, tag=TAG, summary="List task queues", params=(
    Param("FriendlyName"),
    Param("EvaluateWorkerAttributes",
          description="Worker attributes (JSON): only the queues such a worker would be in."),
    Param("WorkerSid", description="Only the queues this worker is in (a worker of the "
          "workspace, else 400)."),
    Param("Ordering", description="DateCreated, DateUpdated or FriendlyName, then :asc or "
          ":desc."),
    *PAGING,
))
async def list_task_queues(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    engine = ctx.engine()
    if a["evaluate_worker_attributes"] is not None:
        attributes = validate.attributes(a["evaluate_worker_attributes"],
                                         "EvaluateWorkerAttributes")
        queues = list(engine.queues_for_attributes(attributes))
    else:
        queues = list(engine.task_queues.values())
    if a["friendly_name"] is not None:
        queues = [q for q in queues if q.friendly_name == a["friendly_name"]]
    if filters.sid(a["worker_sid"], "WorkerSid", "WK", engine.workers.__contains__):
        mine = engine.worker_queues.get(a["worker_sid"], set())
        queues = [q for q in queues if q.sid in mine]
    if a["ordering"] is not None:
        attribute, _, direction = a["ordering"].partition(":")
        key = ORDERINGS.get(attribute)
        if key is None or direction.lower() not in ("", "asc", "desc"):
            raise InvalidParameter(
                f"Invalid Ordering '{a['ordering']}': use Attribute:asc|desc with Attribute "
                f"one of {', '.join(ORDERINGS)}")
        queues.sort(key=key, reverse=direction.lower() == "desc")
    return page(queues, key="task_queues",
                url=workspace_url(ctx.base_url, engine.workspace.sid, "TaskQueues"),
                query=ctx.query, args=a,
                render=lambda q: render_task_queue(engine, q, ctx.base_url))


QUEUE_PARAMS = (
    Param("TargetWorkers", description="Which workers are in the queue (default 1==1)."),
    Param("MaxReservedWorkers", "integer", minimum=1, maximum=50),
    Param("TaskOrder", "enum", choices=("FIFO", "LIFO")),
    Param("ReservationActivitySid"),
    Param("AssignmentActivitySid"),
)


@api.route("POST", BASE, tag=TAG, summary="Create a task queue", status=201,
           params=(Param("FriendlyName", required=True), *QUEUE_PARAMS))
async def create_task_queue(ctx: Context) -> dict[str, Any]:
    a = ctx.args

    def command(engine: WorkspaceEngine, now: int) -> dict[str, Any]:
        queue = engine.create_task_queue(
            a["friendly_name"], now, target_workers=a["target_workers"],
            max_reserved_workers=a["max_reserved_workers"], task_order=a["task_order"],
            reservation_activity_sid=a["reservation_activity_sid"],
            assignment_activity_sid=a["assignment_activity_sid"])
        return render_task_queue(engine, queue, ctx.base_url)

    return await ctx.run(command)


@api.route("GET", BASE + "/{Sid}", tag=TAG, summary="Fetch a task queue")
async def fetch_task_queue(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    return render_task_queue(engine, engine.task_queue(ctx.path["Sid"]), ctx.base_url)


@api.route("GET", BASE + "/{Sid}/EstimatedWaitTime", tag=TAG,
           summary="How long a task created now would wait in this queue "
                   "(a Switchboard extension: not in TaskRouter)", params=(
    Param("TaskChannel", description="SID or unique name; default: default"),
    Param("Priority", "integer", minimum=0, maximum=2_147_483_647,
          description="The new task's priority; default 0"),
))
async def fetch_estimated_wait_time(ctx: Context) -> dict[str, Any]:
    """Seconds until a task created now would be reserved, by the model of
    docs/extensions.md; null when there is no basis for one."""
    a = ctx.args
    engine = ctx.engine()
    queue = engine.task_queue(ctx.path["Sid"])
    found = engine.estimate_wait(queue.sid, ctx.runtime.clock.now_ms(),
                                 task_channel=a["task_channel"], priority=a["priority"] or 0)
    return {
        "account_sid": queue.account_sid,
        "workspace_sid": queue.workspace_sid,
        "task_queue_sid": queue.sid,
        "waiting_tasks": found.waiting_tasks,
        "available_workers": found.available_workers,
        "tasks_ahead": found.tasks_ahead,
        "estimated_wait_time": seconds(found.wait_ms),
        "url": workspace_url(ctx.base_url, queue.workspace_sid, "TaskQueues", queue.sid,
                             "EstimatedWaitTime"),
    }


def seconds(ms: float | None) -> int | None:
    """An estimate in whole seconds (rounded), or None."""
    return None if ms is None else round(ms / 1000)


@api.route("POST", BASE + "/{Sid}", tag=TAG, summary="Update a task queue",
           params=(Param("FriendlyName"), *QUEUE_PARAMS))
async def update_task_queue(ctx: Context) -> dict[str, Any]:
    a = ctx.args

    def command(engine: WorkspaceEngine, now: int) -> dict[str, Any]:
        queue = engine.update_task_queue(
            ctx.path["Sid"], now, friendly_name=a["friendly_name"],
            target_workers=a["target_workers"], max_reserved_workers=a["max_reserved_workers"],
            task_order=a["task_order"], reservation_activity_sid=a["reservation_activity_sid"],
            assignment_activity_sid=a["assignment_activity_sid"])
        return render_task_queue(engine, queue, ctx.base_url)

    return await ctx.run(command)


@api.route("DELETE", BASE + "/{Sid}", tag=TAG, summary="Delete a task queue", status=204)
async def delete_task_queue(ctx: Context) -> None:
    await ctx.run(lambda engine, now: engine.delete_task_queue(ctx.path["Sid"], now))
