"""A small application that uses TaskRouter, as a Switchboard user would write one.

It sets up a support desk (a workspace, a billing queue, a workflow routing billing calls to
it with a 30-second reservation timeout, an agent) and routes calls. Its tests
(``test_support_desk.py``) use the ``taskrouter`` fixture of ``switchboard.testing``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

RESERVATION_TIMEOUT = 30  # seconds an agent has to accept a call


@dataclass
class Desk:
    workspace: Any  # the twilio client's workspace context
    workspace_sid: str
    workflow_sid: str
    queue_sid: str
    activities: dict[str, str]  # name -> SID


def set_up(client: Any, name: str = "Support desk") -> Desk:
    """Create the desk's workspace, queue and workflow through the TaskRouter API."""
    created = client.taskrouter.v1.workspaces.create(friendly_name=name)
    ws = client.taskrouter.v1.workspaces(created.sid)
    activities = {a.friendly_name: a.sid for a in ws.activities.list()}
    queue = ws.task_queues.create(friendly_name="Billing",
                                  target_workers="'billing' IN skills")
    workflow = ws.workflows.create(
        friendly_name="Calls", task_reservation_timeout=RESERVATION_TIMEOUT,
        configuration=json.dumps({"task_routing": {
            "filters": [{"filter_friendly_name": "billing", "expression": "type == 'billing'",
                         "targets": [{"queue": queue.sid}]}],
            "default_filter": {"queue": queue.sid}}}))
    return Desk(ws, created.sid, workflow.sid, queue.sid, activities)


def hire(desk: Desk, name: str, *skills: str, available: bool = True) -> str:
    """An agent with these skills; available at once unless told otherwise."""
    worker = desk.workspace.workers.create(
        friendly_name=name, attributes=json.dumps({"skills": list(skills)}),
        activity_sid=desk.activities["Available" if available else "Offline"])
    return str(worker.sid)


def route_call(desk: Desk, kind: str, caller: str) -> str:
    """A call to route: a task whose attributes say what it is about."""
    task = desk.workspace.tasks.create(workflow_sid=desk.workflow_sid,
                                       attributes=json.dumps({"type": kind, "from": caller}))
    return str(task.sid)


def offers(desk: Desk, task_sid: str) -> list[tuple[str, str]]:
    """(worker SID, reservation status) of each reservation the call has had."""
    return [(r.worker_sid, r.reservation_status)
            for r in desk.workspace.tasks(task_sid).reservations.list()]
