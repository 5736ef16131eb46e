"""The command line: accounts and keys, and a server that runs on PostgreSQL too."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from click.testing import CliRunner
from twilio.rest import Client

from switchboard.cli import main
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, ServerProcess


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_accounts_and_keys(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path))
    created = json.loads(run("accounts", "create", "--friendly-name", "Team B", "--json", *data))
    assert created["sid"].startswith("AC") and created["auth_token"]
    listed = json.loads(run("accounts", "list", "--json", *data))
    assert [a["sid"] for a in listed] == [created["sid"]]
    assert created["sid"] in run("accounts", "list", *data)
    key = json.loads(run("keys", "create", "--account", created["sid"], "--friendly-name", "ci",
                         "--json", *data))
    assert key["sid"].startswith("SK") and key["secret"]
    assert key["account_sid"] == created["sid"]
    unknown = CliRunner().invoke(main, ["keys", "create", "--account", "AC" + "9" * 32, *data])
    assert unknown.exit_code != 0
    assert "No account" in unknown.output


def test_the_server_runs_on_postgresql_and_stops_cleanly(tmp_path: Path,
                                                         postgres_url: str) -> None:
    server = ServerProcess(tmp_path, database_url=postgres_url,
                           extra_args=("--log-level", "info"))
    server.start()
    client = Client(ACCOUNT_SID, AUTH_TOKEN, environment={})
    client.taskrouter.base_url = server.url
    workspace = client.taskrouter.v1.workspaces.create(friendly_name="on postgres",
                                                       template="FIFO")
    ws = client.taskrouter.v1.workspaces(workspace.sid)
    worker = ws.workers.create(friendly_name="alice", attributes=json.dumps({"a": 1}))
    server.stop()  # SIGTERM: the server finishes its work and shuts down in order
    log = (tmp_path / "server.log").read_text()
    assert "Application shutdown complete" in log
    assert "Traceback" not in log
    server.start()
    try:
        assert ws.workers(worker.sid).fetch().attributes == '{"a": 1}'
        assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
        ws.delete()
    finally:
        server.stop()
