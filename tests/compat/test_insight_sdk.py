"""The insight extensions (docs/extensions.md) through the official client's own request
machinery: they are not TaskRouter resources, so the SDK has no classes for them, but
``Client.request`` reaches them with the same credentials and transport."""

from __future__ import annotations

import json
from typing import Any

from twilio.rest import Client


def test_the_console_extensions_answer_the_official_client(
        twilio_client: Client, workspace: Any) -> None:
    ws = twilio_client.taskrouter.v1.workspaces(workspace.sid)
    available = next(a.sid for a in ws.activities.list() if a.friendly_name == "Available")
    alice = ws.workers.create(friendly_name="alice", activity_sid=available,
                              attributes=json.dumps({"skills": ["en"]}))
    task = ws.tasks.create(attributes=json.dumps({"type": "support"}))
    base = f"{twilio_client.taskrouter.base_url}/v1/Workspaces/{workspace.sid}"

    evaluated = twilio_client.request("POST", f"{base}/ExpressionEvaluations", data={
        "Expression": "skills HAS 'en'", "Subject": "Workers"})
    assert evaluated.status_code == 200, evaluated.text
    body = json.loads(evaluated.text)
    assert (body["valid"], body["count"], body["matches"]) == (
        True, 1, [{"sid": alice.sid, "friendly_name": "alice"}])
    broken = json.loads(twilio_client.request("POST", f"{base}/ExpressionEvaluations", data={
        "Expression": "skills HAS", "Subject": "Workers"}).text)
    assert broken["valid"] is False and broken["error"]["column"] == 11

    timers = json.loads(twilio_client.request("GET", f"{base}/Timers").text)["timers"]
    assert [t["kind"] for t in timers] == ["reservation_timeout", "task_ttl"]
    assert timers[0]["worker_sid"] == alice.sid

    routing = json.loads(twilio_client.request("GET", f"{base}/Tasks/{task.sid}/Routing").text)
    assert [s["kind"] for s in routing["steps"]] == [
        "created", "workflow_entered", "default_filter", "target_entered", "reserved"]
    assert routing["decision"]["worker_sid"] == alice.sid

    refused = twilio_client.request("POST", f"{base}/ExpressionEvaluations",
                                    data={"Expression": "1==1"})
    assert refused.status_code == 400 and json.loads(refused.text)["code"] == 20001
