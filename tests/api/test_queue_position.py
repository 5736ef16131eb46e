"""GET /v1/Workspaces/{WS}/Tasks/{Sid}/QueuePosition: an extension (docs/extensions.md)."""

from __future__ import annotations

from .conftest import Workspace, assert_error


def test_queue_position_through_the_api(ws: Workspace) -> None:
    queue = ws.queue("Everyone")
    ws.workflow("Everything", queue["sid"])
    low = ws.create("Tasks", Attributes="{}", Priority=1)
    high = ws.create("Tasks", Attributes="{}", Priority=5)
    body = ws.fetch("Tasks", low["sid"], "QueuePosition")
    assert body == {
        "account_sid": low["account_sid"],
        "workspace_sid": ws.sid,
        "task_sid": low["sid"],
        "task_queue_sid": queue["sid"],
        "task_channel_sid": low["task_channel_sid"],
        "position": 2,
        "tasks_ahead": 1,
        "estimated_wait_time": None,
        "url": ws.url("Tasks", low["sid"], "QueuePosition"),
    }
    assert ws.fetch("Tasks", high["sid"], "QueuePosition")["position"] == 1
    ws.worker("w", ActivitySid=ws.activity("Available"))  # takes the high-priority task
    reserved = ws.fetch("Tasks", high["sid"], "QueuePosition")
    assert (reserved["position"], reserved["tasks_ahead"]) == (None, None)
    assert ws.fetch("Tasks", low["sid"], "QueuePosition")["position"] == 1


def test_queue_position_of_an_unknown_task_is_404(ws: Workspace) -> None:
    response = ws.client.get(ws.path("Tasks", "WT" + "0" * 32, "QueuePosition"))
    assert_error(response, 404, 20404)
