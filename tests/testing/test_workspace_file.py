"""``switchboard apply`` and ``export``: round trip, idempotence, one change applied alone.

They run against the testing kit's own ``taskrouter`` fixture (a fresh account per test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from switchboard.cli import main
from switchboard.testing import Server, TaskRouter
from switchboard.workspace_file import apply, export


def build(tr: TaskRouter) -> str:
    """A workspace with a bit of everything, made through the API."""
    v1 = tr.client.taskrouter.v1
    created = v1.workspaces.create(friendly_name="Support", multi_task_enabled=True,
                                   prioritize_queue_order="LIFO")
    ws = v1.workspaces(created.sid)
    activity = {a.friendly_name: a.sid for a in ws.activities.list()}
    lunch = ws.activities.create(friendly_name="Lunch", available=False)
    ws.task_channels.create(unique_name="whatsapp", friendly_name="WhatsApp")
    billing = ws.task_queues.create(friendly_name="Billing", target_workers="'billing' IN skills",
                                    max_reserved_workers=2, task_order="LIFO",
                                    reservation_activity_sid=lunch.sid)
    sales = ws.task_queues.create(friendly_name="Sales", target_workers="'sales' IN skills")
    ws.workflows.create(friendly_name="Calls", task_reservation_timeout=45,
                        configuration=json.dumps({"task_routing": {
                            "filters": [{"filter_friendly_name": "money",
                                         "expression": "type == 'billing'",
                                         "targets": [{"queue": billing.sid, "timeout": 30},
                                                     {"queue": sales.sid}]}],
                            "default_filter": {"queue": sales.sid}}}))
    ws.update(timeout_activity_sid=lunch.sid)
    ws.workers.create(friendly_name="alice", activity_sid=activity["Available"],
                      attributes=json.dumps({"skills": ["billing"], "level": 3}))
    ws.workers.create(friendly_name="bob", attributes=json.dumps({"skills": ["sales"]}))
    return str(created.sid)


def dates(tr: TaskRouter, workspace_sid: str) -> dict[str, Any]:
    ws = tr.client.taskrouter.v1.workspaces(workspace_sid)
    found: dict[str, Any] = {"workspace": ws.fetch().date_updated}
    for kind in ("activities", "task_channels", "task_queues", "workflows", "workers"):
        for item in getattr(ws, kind).list():
            found[f"{kind}/{item.sid}"] = item.date_updated
    return found


def test_export_names_queues_and_activities(taskrouter: TaskRouter) -> None:
    spec = export(taskrouter.client, build(taskrouter))

    assert spec["workspace"]["timeout_activity"] == "Lunch"
    assert spec["workspace"]["prioritize_queue_order"] == "LIFO"
    (calls,) = spec["workflows"]
    assert calls["configuration"]["task_routing"]["filters"][0]["targets"] == [
        {"queue": "Billing", "timeout": 30}, {"queue": "Sales"}]
    assert calls["configuration"]["task_routing"]["default_filter"] == {"queue": "Sales"}
    billing = next(q for q in spec["task_queues"] if q["friendly_name"] == "Billing")
    assert billing["reservation_activity"] == "Lunch"
    assert billing["task_order"] == "LIFO" and billing["max_reserved_workers"] == 2
    assert {"unique_name": "whatsapp", "friendly_name": "WhatsApp"}.items() <= \
        next(c for c in spec["task_channels"] if c["unique_name"] == "whatsapp").items()
    assert next(w for w in spec["workers"] if w["friendly_name"] == "alice") == {
        "friendly_name": "alice", "activity": "Available",
        "attributes": {"skills": ["billing"], "level": 3}}


def test_round_trip_idempotence_and_one_change(taskrouter: TaskRouter,
                                               switchboard_server: Server) -> None:
    source = export(taskrouter.client, build(taskrouter))
    empty = switchboard_server.taskrouter("empty")
    try:
        first = apply(empty.client, source)
        assert "created workspace Support" in first.changes
        assert export(empty.client, first.workspace_sid) == source

        before = dates(empty, first.workspace_sid)
        empty.advance(5)  # a change now would carry a later date
        again = apply(empty.client, source)
        assert again.workspace_sid == first.workspace_sid
        assert again.changes == []
        assert dates(empty, first.workspace_sid) == before

        changed = json.loads(json.dumps(source))
        billing = next(q for q in changed["task_queues"] if q["friendly_name"] == "Billing")
        billing["target_workers"] = "'billing' IN skills AND level > 2"
        result = apply(empty.client, changed)
        assert result.changes == ["updated task queue Billing: target_workers"]
        after = dates(empty, first.workspace_sid)
        moved = {k for k in after if after[k] != before[k]}
        queue = empty.client.taskrouter.v1.workspaces(first.workspace_sid).task_queues.list(
            friendly_name="Billing")[0]
        assert moved == {f"task_queues/{queue.sid}"}
        assert export(empty.client, first.workspace_sid) == changed
    finally:
        empty.delete_workspaces()
        empty.close()


def test_the_commands_round_trip_through_a_yaml_file(taskrouter: TaskRouter,
                                                     switchboard_server: Server,
                                                     tmp_path: Path) -> None:
    workspace_sid = build(taskrouter)
    runner = CliRunner()

    def run(tr: TaskRouter, *args: str) -> str:
        result = runner.invoke(main, [*args, "--url", tr.url], env={
            "SWITCHBOARD_ACCOUNT_SID": tr.account_sid, "SWITCHBOARD_AUTH_TOKEN": tr.auth_token})
        assert result.exit_code == 0, result.output
        return result.output

    exported = run(taskrouter, "export", workspace_sid)
    file = tmp_path / "support.yaml"
    file.write_text(exported)
    empty = switchboard_server.taskrouter("empty")
    try:
        assert "created workspace Support" in run(empty, "apply", str(file))
        assert run(empty, "apply", str(file)).endswith(": no changes\n")
        new_sid = empty.client.taskrouter.v1.workspaces.list()[0].sid
        assert run(empty, "export", new_sid) == exported
        as_json = run(empty, "export", new_sid, "--format", "json")
        assert json.loads(as_json) == yaml.safe_load(exported)
    finally:
        empty.delete_workspaces()
        empty.close()


def test_a_bad_file_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("workflows: {}\n")
    result = CliRunner().invoke(main, ["apply", str(file), "--account-sid", "AC1",
                                       "--auth-token", "x"])
    assert result.exit_code == 1
    assert "workspace.friendly_name" in result.output and "Traceback" not in result.output
