"""Every resource shape of the event bridge against the Worker SDK's own descriptors, under Node.

``tests/compat/node/descriptors.js`` loads the pinned npm ``twilio-taskrouter`` and, against a
real server: checks each raw RPC answer and pushed frame against the SDK's required-property
lists (read from its bundle), then drives the SDK's ``Workspace`` (``fetchWorkers``,
``fetchWorker``, ``fetchTaskQueues``, ``fetchTaskQueue``, ``fetchTask``, one item per page) and
``Worker`` (activities, channels, reservations with their task, a task's whole life), failing
on any missing or invalid property and on any error the SDK logs or emits.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import TaskRouterGrant

NODE_DIR = Path(__file__).parent / "node"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "twilio-taskrouter").exists(),
    reason="needs Node and tests/compat/node/node_modules (./dev test installs them)")


def test_every_shape_satisfies_the_sdk_descriptors(server: Any, twilio_client: Any,
                                                   workspace: Any, dev_clock: Any) -> None:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    activity = {a.friendly_name: a.sid for a in ws.activities.list()}
    sample = ws.task_queues.list(friendly_name="Sample Queue")[0]
    lifo = ws.task_queues.create(friendly_name="Escalations", task_order="LIFO",
                                 target_workers="level > 5")
    workflow = ws.workflows.list()[0]
    alice = ws.workers.create(friendly_name="alice", activity_sid=activity["Available"],
                              attributes=json.dumps({"skills": ["billing"]}))
    bob = ws.workers.create(friendly_name="bob", activity_sid=activity["Offline"])
    task = ws.tasks.create(workflow_sid=workflow.sid, attributes=json.dumps({"type": "billing"}))
    (reservation,) = ws.tasks(task.sid).reservations.list()

    key = twilio_client.new_keys.create(friendly_name="descriptors")
    now = dev_clock(server).now_ms() // 1000

    def token(worker_sid: str | None, role: str) -> str:
        minted = AccessToken(twilio_client.account_sid, key.sid, key.secret, identity="x",
                             nbf=now, valid_until=now + 3600)
        minted.add_grant(TaskRouterGrant(workspace_sid=workspace.sid, worker_sid=worker_sid,
                                         role=role))
        return str(minted.to_jwt())

    setup = {
        "workspaceSid": workspace.sid, "workerSid": alice.sid, "taskSid": task.sid,
        "reservationSid": reservation.sid, "workflowSid": workflow.sid,
        "workerSids": [alice.sid, bob.sid], "queueSids": [sample.sid, lifo.sid],
        "activityCount": len(activity), "channelCount": len(ws.task_channels.list()),
        "workerToken": token(alice.sid, "worker"), "adminToken": token(None, "admin"),
    }
    env = {**os.environ, "SB_URL": server.url, "SB_SETUP": json.dumps(setup),
           "NO_PROXY": "127.0.0.1,localhost"}
    run = subprocess.run(["node", "descriptors.js"], cwd=NODE_DIR, env=env, text=True,
                         capture_output=True, timeout=120)
    assert run.stdout.strip(), run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["failures"] == [], "\n".join(result["failures"])
    assert run.returncode == 0, run.stderr
    report = result["report"]

    # The SDK's lists were found and include what this test was written for.
    assert "lifo_queue" in report["required"]["TaskQueue"]
    assert report["lifoQueues"] == [["FIFO", False], ["LIFO", True]]
    # Offered a reservation, the worker's version grew by one, as the SDK counts.
    assert report["fetchWorker"] == {"sid": alice.sid, "name": "alice",
                                     "activityName": "Available",
                                     "attributes": {"skills": ["billing"]}, "version": "1"}
    assert report["queuesByNameDesc"] == ["Sample Queue", "Escalations"]
    assert report["fetchTaskQueue"] == {"sid": sample.sid, "name": "Sample Queue",
                                        "taskOrder": "FIFO", "targetWorkers": "1==1",
                                        "maxReservedWorkers": 1}
    assert report["fetchTask"] == {"sid": task.sid, "status": "reserved",
                                   "queueSid": sample.sid, "attributes": {"type": "billing"}}
    assert report["activities"] == ["Offline", "Available", "Unavailable"]
    assert report["chat"] == {"capacity": 3, "available": False}
    # Task.wrapUp({reason}) keeps its reason, as Task.complete(reason) does.
    assert report["wrapping"] == {"status": "wrapping", "reason": "customer hung up"}
    assert report["completed"] == {"status": "completed", "reason": "resolved"}
    assert report["pushed"] == {"task": True, "status": "pending"}
    assert report["worker"] == {"activity": "Unavailable",
                                "attributes": {"skills": ["billing"], "level": 4}}
    # Every kind of frame was seen, and each was checked against the lists.
    assert set(report["frames"]) >= {
        "worker.capacity.update", "worker.channel.availability.update",
        "reservation.accepted", "task.updated", "reservation.wrapup", "task.wrapup",
        "reservation.completed", "task.completed", "reservation.created",
        "reservation.canceled", "task.canceled", "worker.activity.update",
        "worker.attributes.update"}
    fetched = ws.tasks(task.sid).fetch()
    assert (fetched.assignment_status, fetched.reason) == ("completed", "resolved")
