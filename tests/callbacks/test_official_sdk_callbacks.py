"""An application written with the official twilio library, driven by our callbacks."""

from __future__ import annotations

import json
import time

from twilio.rest import Client

from tests.callbacks.receiver import Receiver, json_answer, valid
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, ServerProcess


def test_an_sdk_application_gets_signed_callbacks_and_its_instruction_is_carried_out(
        callback_server: ServerProcess) -> None:
    client = Client(ACCOUNT_SID, AUTH_TOKEN, environment={})
    client.taskrouter.base_url = callback_server.url
    events = Receiver().start()
    assign = Receiver(answer=lambda path, params: json_answer({"instruction": "accept"})).start()
    try:
        workspace = client.taskrouter.v1.workspaces.create(
            friendly_name="sdk callbacks", template="FIFO",
            event_callback_url=events.url + "/events",
            events_filter="task.created,reservation.created,reservation.accepted")
        ws = client.taskrouter.v1.workspaces(workspace.sid)
        available = ws.activities.list(friendly_name="Available")[0]
        worker = ws.workers.create(friendly_name="ada", activity_sid=available.sid)
        workflow = ws.workflows.list()[0]
        ws.workflows(workflow.sid).update(assignment_callback_url=assign.url + "/assign")

        task = ws.tasks.create(attributes=json.dumps({"topic": "billing"}),
                               workflow_sid=workflow.sid)

        received = events.wait_for(lambda rs: len(rs) >= 3)
        assert [r.params["EventType"] for r in received] == [
            "task.created", "reservation.created", "reservation.accepted"]
        assert all(valid(AUTH_TOKEN, events.url, r) for r in received)
        assert {r.params["TaskSid"] for r in received} == {task.sid}
        (offer,) = assign.wait_for(lambda rs: len(rs) >= 1)
        assert valid(AUTH_TOKEN, assign.url, offer)
        assert (offer.params["WorkerSid"], offer.params["TaskSid"]) == (worker.sid, task.sid)
        deadline = time.monotonic() + 10
        while (reservation := ws.tasks(task.sid).reservations.list()[0]
               ).reservation_status != "accepted" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert reservation.reservation_status == "accepted"
        assert ws.tasks(task.sid).fetch().assignment_status == "assigned"
    finally:
        events.stop()
        assign.stop()
