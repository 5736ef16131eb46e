"""What the engine sees, for people (Switchboard extensions, not in TaskRouter; see
docs/extensions.md): an expression tried on a workspace, the pending timers, and why a task
went where it did. Read-only; the same Basic auth as the rest of /v1.
"""

from __future__ import annotations

from typing import Any

from switchboard.api.endpoints import Api, Context
from switchboard.api.params import Param
from switchboard.api.render import iso, workspace_url
from switchboard.routing import agenda, evaluation, validate
from switchboard.routing.model import Task

api = Api()
TAG = "Insight (extensions)"
BASE = "/v1/Workspaces/{WorkspaceSid}"


@api.route("POST", BASE + "/ExpressionEvaluations", tag=TAG,
           summary="Try an expression on the workspace's workers or tasks (a Switchboard "
           "extension: not in TaskRouter)", params=(
               Param("Expression", required=True,
                     description="A TargetWorkers or target expression (Workers), or a "
                     "workflow filter expression (Tasks)."),
               Param("Subject", "enum", required=True, choices=evaluation.SUBJECTS,
                     description="Workers or Tasks."),
               Param("TaskAttributes", description="A JSON object: what task.* names in a "
                     "target expression (Subject Workers)."),
           ))
async def create_expression_evaluation(ctx: Context) -> dict[str, Any]:
    """200 in both cases: ``valid`` true with the matches, or false with the problem."""
    a = ctx.args
    subject = a["subject"]
    task_attributes = None
    if a["task_attributes"] is not None:
        task_attributes = validate.attributes(a["task_attributes"], "TaskAttributes")
    engine = ctx.runtime.engine(ctx.account.sid, ctx.path["WorkspaceSid"])
    url = workspace_url(ctx.base_url, engine.workspace.sid, "ExpressionEvaluations")
    expression, problem = evaluation.compile_problem(a["expression"])
    if expression is None:
        assert problem is not None
        return {"valid": False, "subject": subject, "url": url, "error": {
            "message": problem.message, "position": problem.position, "line": problem.line,
            "column": problem.column}}
    result = evaluation.evaluate(engine, expression, subject, ctx.runtime.clock.now_ms(),
                                 task_attributes=task_attributes)
    matches = [_task_match(m) if isinstance(m, Task) else
               {"sid": m.sid, "friendly_name": m.friendly_name} for m in result.matches]
    return {"valid": True, "subject": subject, "form": result.form,
            "task_queue_sid": result.queue_sid, "matches": matches, "count": result.count,
            "url": url}


def _task_match(task: Task) -> dict[str, Any]:
    return {"sid": task.sid, "friendly_name": None, "assignment_status": task.assignment_status,
            "task_queue_sid": task.task_queue_sid}


@api.route("GET", BASE + "/Timers", tag=TAG,
           summary="The workspace's pending timers, soonest first (a Switchboard extension: "
           "not in TaskRouter)")
async def list_timers(ctx: Context) -> dict[str, Any]:
    engine = ctx.runtime.engine(ctx.account.sid, ctx.path["WorkspaceSid"])
    now = ctx.runtime.clock.now_ms()
    return {
        "now": iso(now),
        "now_ms": now,
        "timers": [{
            "kind": t.kind, "due_at": iso(t.due_ms), "due_ms": t.due_ms,
            "due_in_ms": t.due_ms - now, "task_sid": t.task_sid,
            "reservation_sid": t.reservation_sid, "worker_sid": t.worker_sid,
            "task_queue_sid": t.task_queue_sid, "description": t.description,
        } for t in agenda.pending_timers(engine)],
        "url": workspace_url(ctx.base_url, engine.workspace.sid, "Timers"),
    }
