"""Tasks: ``/v1/Workspaces/{WS}/Tasks``."""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any

from switchboard.api import filters
from switchboard.api.endpoints import Api, Context, Reply
from switchboard.api.paging import page
from switchboard.api.params import PAGING, Param
from switchboard.api.render import iso, workspace_url
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.errors import InvalidParameter
from switchboard.routing.model import Task
from switchboard.routing.resources import compile_target_workers

api = Api()
TAG = "Tasks"
BASE = "/v1/Workspaces/{WorkspaceSid}/Tasks"
STATUSES = ("pending", "reserved", "assigned", "canceled", "wrapping", "completed")
ORDERINGS: dict[str, Callable[[Task], Any]] = {
    "DateCreated": lambda t: t.date_created,
    "Priority": lambda t: t.priority,
    "VirtualStartTime": lambda t: t.virtual_start_time,
}


def render_task(engine: WorkspaceEngine, task: Task, base: str, now: int) -> dict[str, Any]:
    ws = task.workspace_sid
    queue = engine.task_queues.get(task.task_queue_sid or "")
    workflow = engine.workflows.get(task.workflow_sid or "")
    channel = engine.task_channels.get(task.task_channel_sid)
    task_links = {"workspace": workspace_url(base, ws),
                  "reservations": workspace_url(base, ws, "Tasks", task.sid, "Reservations")}
    if task.task_queue_sid:
        task_links["task_queue"] = workspace_url(base, ws, "TaskQueues", task.task_queue_sid)
    if task.workflow_sid:
        task_links["workflow"] = workspace_url(base, ws, "Workflows", task.workflow_sid)
    return {
        "account_sid": task.account_sid,
        "age": max(0, (now - task.date_created) // 1000),
        "assignment_status": task.assignment_status,
        "attributes": task.attributes,
        "addons": "{}",
        "date_created": iso(task.date_created),
        "date_updated": iso(task.date_updated),
        "task_queue_entered_date": iso(task.task_queue_entered_date),
        "priority": task.priority,
        "reason": task.reason,
        "sid": task.sid,
        "task_queue_sid": task.task_queue_sid,
        "task_queue_friendly_name": queue.friendly_name if queue else None,
        "task_channel_sid": task.task_channel_sid,
        "task_channel_unique_name": channel.unique_name if channel else None,
        "timeout": task.timeout,
        "workflow_sid": task.workflow_sid,
        "workflow_friendly_name": workflow.friendly_name if workflow else None,
        "workspace_sid": ws,
        "url": workspace_url(base, ws, "Tasks", task.sid),
        "links": task_links,
        "virtual_start_time": iso(task.virtual_start_time),
        "ignore_capacity": task.ignore_capacity,
        "routing_target": task.routing_target,
    }


def task_reply(engine: WorkspaceEngine, task: Task, base: str, now: int) -> Reply:
    return Reply(render_task(engine, task, base, now), etag=str(task.version))


def _ordering(value: str) -> list[tuple[Callable[[Task], Any], bool]]:
    clauses = []
    for clause in value.split(","):
        attribute, _, direction = clause.strip().partition(":")
        key = ORDERINGS.get(attribute)
        if key is None or direction.lower() not in ("", "asc", "desc"):
            raise InvalidParameter(
                f"Invalid Ordering '{value}': use Attribute:asc|desc[,...] with Attribute one "
                f"of {', '.join(ORDERINGS)}")
        clauses.append((key, direction.lower() == "desc"))
    return clauses


def _check_filters(engine: WorkspaceEngine, a: dict[str, Any]) -> None:
    """Refuse a filter that names nothing (api/filters.py); a finished task may still name a
    queue or workflow deleted since, or a worker it was routed to."""
    tasks = engine.tasks.values()
    filters.sid(a["workflow_sid"], "WorkflowSid", "WW", lambda sid: sid in engine.workflows
                or any(t.workflow_sid == sid for t in tasks))
    filters.friendly_name(a["workflow_name"], "WorkflowName", "Workflow",
                          (w.friendly_name for w in engine.workflows.values()))
    filters.sid(a["task_queue_sid"], "TaskQueueSid", "WQ", lambda sid: sid in engine.task_queues
                or any(t.task_queue_sid == sid for t in tasks))
    filters.friendly_name(a["task_queue_name"], "TaskQueueName", "TaskQueue",
                          (q.friendly_name for q in engine.task_queues.values()))
    target = filters.well_formed(a["routing_target"], "RoutingTarget", "WK", "WQ", "WW")
    if target is not None:
        collections: dict[str, Container[str]] = {
            "WK": engine.workers, "WQ": engine.task_queues, "WW": engine.workflows}
        collection = collections[target[:2]]
        filters.sid(target, "RoutingTarget", target[:2], lambda sid: sid in collection
                    or any(t.routing_target == sid for t in tasks))


@api.route("GET", BASE, tag=TAG, summary="List tasks", params=(
    Param("Priority", "integer"),
    Param("AssignmentStatus", "list", description="Repeat for several statuses."),
    Param("WorkflowSid", description="A workflow of the workspace (else 400)."),
    Param("WorkflowName", description="A workflow of the workspace (else 400)."),
    Param("TaskQueueSid", description="A queue of the workspace (else 400)."),
    Param("TaskQueueName", description="A queue of the workspace (else 400)."),
    Param("EvaluateTaskAttributes", description="Only tasks whose attributes match."),
    Param("RoutingTarget", description="A Worker, TaskQueue or Workflow SID of the workspace "
          "(else 400)."),
    Param("Ordering", description="DateCreated, Priority or VirtualStartTime, then :asc or "
          ":desc; several separated by commas."),
    Param("HasAddons", "boolean"),
    *PAGING,
))
async def list_tasks(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    engine = ctx.engine()
    now = ctx.runtime.clock.now_ms()
    statuses = {s for value in a["assignment_status"] or () for s in value.split(",") if s}
    unknown = statuses - set(STATUSES)
    if unknown:
        raise InvalidParameter(f"Invalid AssignmentStatus {', '.join(sorted(unknown))}: use "
                               f"{', '.join(STATUSES)}")
    expression = (compile_target_workers(a["evaluate_task_attributes"],
                                         "EvaluateTaskAttributes")
                  if a["evaluate_task_attributes"] is not None else None)
    ordering = _ordering(a["ordering"]) if a["ordering"] else []
    _check_filters(engine, a)
    workflow_names = {w.sid for w in engine.workflows.values()
                      if w.friendly_name == a["workflow_name"]}
    queue_names = {q.sid for q in engine.task_queues.values()
                   if q.friendly_name == a["task_queue_name"]}

    def keep(t: Task) -> bool:
        return (
            (not statuses or t.assignment_status in statuses)
            and (a["priority"] is None or t.priority == a["priority"])
            and (a["workflow_sid"] is None or t.workflow_sid == a["workflow_sid"])
            and (a["workflow_name"] is None or t.workflow_sid in workflow_names)
            and (a["task_queue_sid"] is None or t.task_queue_sid == a["task_queue_sid"])
            and (a["task_queue_name"] is None or t.task_queue_sid in queue_names)
            and (a["routing_target"] is None or t.routing_target == a["routing_target"])
            and (a["has_addons"] is not True)
            and (expression is None or expression.always_true
                 or expression.evaluate(t.parsed_attributes))
        )

    items = [t for t in engine.tasks.values() if keep(t)]
    items.sort(key=lambda t: (t.date_created, t.seq))
    for key, descending in reversed(ordering):
        items.sort(key=key, reverse=descending)
    return page(items, key="tasks", url=workspace_url(ctx.base_url, engine.workspace.sid, "Tasks"),
                query=ctx.query, args=a, render=lambda t: render_task(engine, t, ctx.base_url, now))


@api.route("POST", BASE, tag=TAG, summary="Create a task", status=201, params=(
    Param("Timeout", "integer", minimum=1, maximum=1_209_600,
          description="Seconds the task may wait to be assigned (default 86,400)."),
    Param("Priority", "integer", minimum=0, maximum=2_147_483_647),
    Param("TaskChannel", description="SID or unique name (default: default)."),
    Param("WorkflowSid", description="Optional when the workspace has exactly one workflow."),
    Param("Attributes", description="A JSON object of at most 4,096 characters."),
    Param("VirtualStartTime", "datetime"),
    Param("RoutingTarget", description="A Worker, TaskQueue or Workflow SID to route to."),
    Param("IgnoreCapacity", "flag", description="With a Worker RoutingTarget (default true)."),
    Param("TaskQueueSid"),
))
async def create_task(ctx: Context) -> Reply:
    a = ctx.args

    def command(engine: WorkspaceEngine, now: int) -> Reply:
        task = engine.create_task(
            now, attributes=a["attributes"], priority=a["priority"], timeout=a["timeout"],
            task_channel=a["task_channel"], workflow_sid=a["workflow_sid"],
            virtual_start_time=a["virtual_start_time"], routing_target=a["routing_target"],
            ignore_capacity=a["ignore_capacity"], task_queue_sid=a["task_queue_sid"])
        return task_reply(engine, task, ctx.base_url, now)

    return await ctx.run(command)


@api.route("GET", BASE + "/{Sid}", tag=TAG, summary="Fetch a task")
async def fetch_task(ctx: Context) -> Reply:
    engine = ctx.engine()
    return task_reply(engine, engine.task(ctx.path["Sid"]), ctx.base_url,
                      ctx.runtime.clock.now_ms())


@api.route("GET", BASE + "/{Sid}/QueuePosition", tag=TAG,
           summary="A task's place in its queue (a Switchboard extension: not in TaskRouter)")
async def fetch_queue_position(ctx: Context) -> dict[str, Any]:
    """1-based, in the order the router serves the task's queue and channel; null when the
    task is not waiting (reserved, assigned, finished). See docs/extensions.md."""
    engine = ctx.engine()
    task = engine.task(ctx.path["Sid"])
    now = ctx.runtime.clock.now_ms()
    position = engine.queue_position(task.sid)
    wait = engine.task_wait_estimate(task.sid, now) if position is not None else None
    ws = task.workspace_sid
    return {
        "account_sid": task.account_sid,
        "workspace_sid": ws,
        "task_sid": task.sid,
        "task_queue_sid": task.task_queue_sid,
        "task_channel_sid": task.task_channel_sid,
        "position": position,
        "tasks_ahead": None if position is None else position - 1,
        "estimated_wait_time": None if wait is None else round(wait / 1000),
        "url": workspace_url(ctx.base_url, ws, "Tasks", task.sid, "QueuePosition"),
    }


@api.route("POST", BASE + "/{Sid}", tag=TAG, summary="Update a task", params=(
    Param("Attributes"),
    Param("AssignmentStatus", "enum", choices=STATUSES,
          description="canceled (from pending or reserved), wrapping or completed."),
    Param("Reason", description="Why the task was canceled or completed."),
    Param("Priority", "integer", minimum=0, maximum=2_147_483_647),
    Param("TaskChannel"),
    Param("VirtualStartTime", "datetime"),
))
async def update_task(ctx: Context) -> Reply:
    a = ctx.args

    def command(engine: WorkspaceEngine, now: int) -> Reply:
        task = engine.update_task(
            ctx.path["Sid"], now, attributes=a["attributes"],
            assignment_status=a["assignment_status"], reason=a["reason"],
            priority=a["priority"], task_channel=a["task_channel"],
            virtual_start_time=a["virtual_start_time"], if_match=ctx.if_match)
        return task_reply(engine, task, ctx.base_url, now)

    return await ctx.run(command)


@api.route("DELETE", BASE + "/{Sid}", tag=TAG, summary="Delete a task", status=204)
async def delete_task(ctx: Context) -> None:
    await ctx.run(
        lambda engine, now: engine.delete_task(ctx.path["Sid"], now, if_match=ctx.if_match))
