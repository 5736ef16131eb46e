"""What the engine sees, for people (Switchboard extensions, not in TaskRouter; see
docs/extensions.md): an expression tried on a workspace, the pending timers, and why a task
went where it did. Read-only; the same Basic auth as the rest of /v1.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import select

from switchboard.api.endpoints import Api, Context
from switchboard.api.params import Param
from switchboard.api.render import iso, workspace_url
from switchboard.routing import agenda, evaluation, explain, validate
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import Task
from switchboard.store import tables

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
    engine = ctx.engine()
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
    engine = ctx.engine()
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


@api.route("GET", BASE + "/Tasks/{TaskSid}/Routing", tag=TAG,
           summary="Why a task went where it did: its path through its workflow and how its "
           "worker was chosen (a Switchboard extension: not in TaskRouter)")
async def fetch_task_routing(ctx: Context) -> dict[str, Any]:
    workspace_sid, sid = ctx.path["WorkspaceSid"], ctx.path["TaskSid"]
    ctx.engine().task(sid)  # 404 before reading the store
    rows = await asyncio.to_thread(_task_events, ctx, workspace_sid, sid)
    # The engine as it is now, after the read (another command may have run meanwhile).
    engine = ctx.engine()
    task = engine.task(sid)
    now = ctx.runtime.clock.now_ms()
    names = _Names(engine)
    events = [explain.TaskEvent(row["event_type"], row["event_date"], _data(row["data"]),
                                row["worker_sid"], row["reservation_sid"]) for row in rows]
    steps = explain.path(events, task.config, names)
    workflow = engine.workflows.get(task.workflow_sid or "")
    decision = explain.decision(engine, task, now)
    return {
        "account_sid": task.account_sid,
        "workspace_sid": task.workspace_sid,
        "task_sid": task.sid,
        "workflow_sid": task.workflow_sid,
        "workflow_friendly_name": workflow.friendly_name if workflow else None,
        "assignment_status": task.assignment_status,
        "task_queue_sid": task.task_queue_sid,
        "steps": [_step(s, names) for s in steps],
        "decision": _decision(decision, names, now) if decision is not None else None,
        "url": workspace_url(ctx.base_url, task.workspace_sid, "Tasks", task.sid, "Routing"),
    }


def _task_events(ctx: Context, workspace_sid: str, task_sid: str) -> list[dict[str, Any]]:
    events = tables.events
    query = select(events.c.event_type, events.c.event_date, events.c.data,
                   events.c.worker_sid, events.c.reservation_sid).where(
        events.c.workspace_sid == workspace_sid, events.c.task_sid == task_sid
    ).order_by(events.c.seq)
    with ctx.runtime.store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def _data(value: Any) -> dict[str, Any]:
    data = value if isinstance(value, dict) else json.loads(value)
    return data if isinstance(data, dict) else {}


class _Names(Mapping[str, str]):
    """Friendly names of the workspace's queues, workers and workflows, by SID, looked up
    only for the SIDs asked about."""

    def __init__(self, engine: WorkspaceEngine) -> None:
        self._collections = (engine.task_queues, engine.workers, engine.workflows)

    def __getitem__(self, sid: str) -> str:
        for collection in self._collections:
            found = collection.get(sid)
            if found is not None:
                return str(found.friendly_name)
        raise KeyError(sid)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _step(step: explain.Step, names: _Names) -> dict[str, Any]:
    return {
        "time": iso(step.time), "time_ms": step.time, "kind": step.kind,
        "filter_name": step.filter_name, "target_index": step.target_index,
        "task_queue_sid": step.task_queue_sid,
        "task_queue_friendly_name": names.get(step.task_queue_sid or ""),
        "expression": step.expression, "worker_sid": step.worker_sid,
        "worker_friendly_name": names.get(step.worker_sid or ""),
        "reservation_sid": step.reservation_sid, "reason": step.reason,
    }


def _decision(d: explain.Decision, names: _Names, now: int) -> dict[str, Any]:
    worker = d.worker
    return {
        "as_of": d.as_of, "time": iso(d.time), "time_ms": d.time, "strategy": d.strategy,
        "how": d.how, "order_by": d.order_by, "reason": d.reason,
        "task_queue_sid": d.task_queue_sid,
        "task_queue_friendly_name": names.get(d.task_queue_sid or ""),
        "reservation_sid": d.reservation_sid,
        "worker_sid": worker.sid if worker else None,
        "worker_friendly_name": worker.friendly_name if worker else None,
        "worker_idle_since": iso(d.worker_idle_since),
        "considered": {
            "as_of": "now", "time": iso(now), "members": d.members, "eligible": d.eligible,
            "excluded": d.excluded,
            "top": [{"rank": c.rank, "sid": c.worker.sid,
                     "friendly_name": c.worker.friendly_name, "idle_since": iso(c.idle_since),
                     "order_by": c.order_by} for c in d.candidates],
        },
    }
