"""Assignment callbacks: the documented parameters, instructions carried out, the fallback."""

from __future__ import annotations

import json
import time

from tests.callbacks.conftest import Api
from tests.callbacks.receiver import Answer, Receiver, json_answer, valid
from tests.conftest import AUTH_TOKEN

PARAMS = {"AccountSid", "WorkspaceSid", "WorkflowSid", "TaskQueueSid", "WorkerSid",
          "WorkerAttributes", "TaskSid", "TaskAttributes", "TaskAge", "TaskPriority",
          "ReservationSid", "Timestamp"}


def _workspace_with_callback(api: Api, url: str, fallback: str | None = None) -> str:
    ws = api.workspace()
    data = {"AssignmentCallbackUrl": url}
    if fallback:
        data["FallbackAssignmentCallbackUrl"] = fallback
    api.post(f"/v1/Workspaces/{ws}/Workflows/{api.workflow_sid(ws)}", **data)
    return ws


def _reservation(api: Api, ws: str, task_sid: str) -> dict[str, object]:
    return api.get(f"/v1/Workspaces/{ws}/Tasks/{task_sid}/Reservations")["reservations"][0]


def _eventually(check: object, timeout: float = 10) -> None:
    """Wait for the server to act on a callback answer (it does so asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            assert callable(check)
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def test_accept_instruction_accepts_the_reservation(api: Api) -> None:
    receiver = Receiver(answer=lambda path, params: json_answer({"instruction": "accept"}))
    receiver.start()
    try:
        ws = _workspace_with_callback(api, receiver.url + "/assign")
        worker = api.worker(ws, "alice")
        task = api.task(ws, type="support")
        request = receiver.wait_for(lambda rs: len(rs) >= 1)[0]
        assert valid(AUTH_TOKEN, receiver.url, request)
        assert set(request.params) == PARAMS
        assert request.params["WorkerSid"] == worker
        assert request.params["TaskSid"] == task["sid"]
        assert json.loads(request.params["TaskAttributes"]) == {"type": "support"}

        def accepted() -> None:
            assert _reservation(api, ws, task["sid"])["reservation_status"] == "accepted"
            assert api.get(f"/v1/Workspaces/{ws}/Tasks/{task['sid']}")[
                "assignment_status"] == "assigned"

        _eventually(accepted)
    finally:
        receiver.stop()


def test_reject_instruction_moves_the_worker(api: Api) -> None:
    holder: dict[str, str] = {}
    receiver = Receiver(answer=lambda path, params: json_answer(
        {"instruction": "reject", "activity_sid": holder["busy"]}))
    receiver.start()
    try:
        ws = _workspace_with_callback(api, receiver.url)
        holder["busy"] = api.activity(ws, "Unavailable")
        worker = api.worker(ws, "alice")
        task = api.task(ws)

        def rejected() -> None:
            assert _reservation(api, ws, task["sid"])["reservation_status"] == "rejected"
            assert api.get(f"/v1/Workspaces/{ws}/Workers/{worker}")[
                "activity_name"] == "Unavailable"
            assert api.get(f"/v1/Workspaces/{ws}/Tasks/{task['sid']}")[
                "assignment_status"] == "pending"

        _eventually(rejected)
    finally:
        receiver.stop()


def test_an_empty_200_leaves_the_reservation_to_the_application(api: Api) -> None:
    receiver = Receiver(answer=lambda path, params: Answer(status=200, content_type="text/plain"))
    receiver.start()
    try:
        ws = _workspace_with_callback(api, receiver.url)
        api.worker(ws, "alice")
        task = api.task(ws)
        receiver.wait_for(lambda rs: len(rs) >= 1)
        time.sleep(0.2)  # the server has nothing to do; make sure it did nothing
        assert _reservation(api, ws, task["sid"])["reservation_status"] == "pending"
    finally:
        receiver.stop()


def test_the_fallback_is_used_when_the_primary_fails(api: Api) -> None:
    primary = Receiver(answer=lambda path, params: Answer(status=500)).start()
    fallback = Receiver(answer=lambda path, params: json_answer({"instruction": "accept"}))
    fallback.start()
    try:
        ws = _workspace_with_callback(api, primary.url, fallback.url + "/fallback")
        api.worker(ws, "alice")
        task = api.task(ws)
        assert len(primary.wait_for(lambda rs: len(rs) >= 1)) == 1  # no retry on the primary
        request = fallback.wait_for(lambda rs: len(rs) >= 1)[0]
        assert request.path == "/fallback"
        assert valid(AUTH_TOKEN, fallback.url, request)
        _eventually(lambda: _check_status(api, ws, task["sid"], "accepted"))
    finally:
        primary.stop()
        fallback.stop()


def _check_status(api: Api, ws: str, task_sid: str, status: str) -> None:
    assert _reservation(api, ws, task_sid)["reservation_status"] == status


def test_telephony_instructions_are_not_pretended(api: Api) -> None:
    receiver = Receiver(answer=lambda path, params: json_answer(
        {"instruction": "dequeue", "from": "+15550100"})).start()
    try:
        ws = _workspace_with_callback(api, receiver.url)
        api.worker(ws, "alice")
        task = api.task(ws)
        receiver.wait_for(lambda rs: len(rs) >= 1)
        time.sleep(0.2)
        assert _reservation(api, ws, task["sid"])["reservation_status"] == "pending"
    finally:
        receiver.stop()
