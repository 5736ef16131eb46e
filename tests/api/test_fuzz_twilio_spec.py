"""Fuzzing with schemathesis against Twilio's own OpenAPI document: whatever a client sends to
any TaskRouter operation, valid or not, the answer is never a 5xx.

Path parameters name real resources of a populated workspace most of the time, so the
requests reach the handlers instead of stopping at a 404.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core import NotSet
from schemathesis.generation import GenerationMode
from starlette.testclient import TestClient

from .conftest import MakeWorkspace, Workspace, ok

SPEC = Path(__file__).parents[2].parent / "shared" / "reference" / "twilio_taskrouter_v1.json"
SCHEMA = schemathesis.openapi.from_path(SPEC)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
# The collection a `{Sid}` belongs to, by the path segment before it.
SID_OF = {"Activities": "activity", "Tasks": "task", "TaskChannels": "channel",
          "TaskQueues": "queue", "Workers": "worker", "Workflows": "workflow",
          "Reservations": "reservation", "Events": "event", "Channels": "worker_channel",
          "Workspaces": "workspace"}
NAMED = {"WorkspaceSid": "workspace", "TaskSid": "task", "WorkerSid": "worker",
         "TaskQueueSid": "queue", "WorkflowSid": "workflow"}


def _populated(make_workspace: MakeWorkspace) -> dict[str, str]:
    """A workspace with one of everything, and a task reserved by its worker."""
    ws: Workspace = make_workspace(Template="FIFO")
    worker = ws.worker("w", ActivitySid=ws.activity("Available"),
                       Attributes='{"skills": ["a"], "level": 3}')
    task = ok(ws.client.post(ws.path("Tasks"), data={"Attributes": '{"type": "x"}'}), 201)
    reservation = ws.list("Tasks", task["sid"], "Reservations")[0]
    channel = ws.list("TaskChannels")[0]
    return {"workspace": ws.sid, "activity": ws.activity("Offline"), "task": task["sid"],
            "channel": channel["sid"], "queue": task["task_queue_sid"],
            "worker": worker["sid"], "workflow": task["workflow_sid"],
            "reservation": reservation["sid"], "event": ws.list("Events")[0]["sid"],
            "worker_channel": ws.list("Workers", worker["sid"], "Channels")[0]["sid"]}


def _path_parameters(path: str, sids: dict[str, str]) -> dict[str, str]:
    parts = path.split("/")
    values = {}
    for index, part in enumerate(parts):
        if part == "{Sid}":
            values["Sid"] = sids[SID_OF[parts[index - 1]]]
        elif part.startswith("{") and part[1:-1] in NAMED:
            values[part[1:-1]] = sids[NAMED[part[1:-1]]]
    return values


def _form(value: Any) -> Any:
    """A generated value as the official clients would serialise it in a form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_form(item) for item in value]
    if isinstance(value, dict):
        return str(value)
    return "" if value is None else str(value)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=lambda mode: mode.value)
@pytest.mark.parametrize("operation", OPERATIONS,
                         ids=[f"{op.method.upper()} {op.path}" for op in OPERATIONS])
def test_no_operation_answers_a_server_error(client: TestClient, make_workspace: MakeWorkspace,
                                             operation: Any, mode: GenerationMode) -> None:
    sids = _populated(make_workspace)
    fixed = _path_parameters(operation.path, sids)

    @settings(max_examples=15, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(mode), real_sids=st.booleans() | st.just(True))
    def check(case: Any, real_sids: bool) -> None:
        if real_sids:
            case.path_parameters = {**(case.path_parameters or {}), **fixed}
        if operation.method.upper() == "DELETE":
            # Deleting the fixture would leave nothing to fuzz: delete a fresh copy.
            case.path_parameters = {**case.path_parameters,
                                    **_path_parameters(operation.path,
                                                       _populated(make_workspace))}
        query = {k: _form(v) for k, v in (case.query or {}).items()}
        request: dict[str, Any] = {"params": query}
        body = case.body
        if isinstance(body, dict):
            request["data"] = {k: _form(v) for k, v in body.items()}
        elif not isinstance(body, NotSet) and body is not None:
            request["content"] = str(body).encode()
            request["headers"] = {"Content-Type": "application/x-www-form-urlencoded"}
        response = client.request(operation.method.upper(), case.formatted_path, **request)
        assert response.status_code < 500, (case.method, case.formatted_path, request,
                                            response.text)
        if response.status_code >= 400:
            assert set(response.json()) == {"code", "message", "more_info", "status"}

    check()
