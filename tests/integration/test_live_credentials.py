"""Credentials changed outside a running server (the command line, another node) take effect
on it within a second, without a restart: on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from switchboard.cli import main
from switchboard.service.accounts import AccountRegistry
from switchboard.store.database import Store
from tests.conftest import ACCOUNT_SID, START_MS, ServerProcess

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def status(server: ServerProcess, auth: tuple[str, str]) -> int:
    return httpx.get(server.url + "/v1/Workspaces", auth=auth, timeout=5).status_code


def eventually(check: Callable[[], bool], within: float = 5.0) -> float:
    """Seconds until ``check`` held (polled, no fixed sleeps); fails after ``within``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < within, "the running server never saw the change"
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_command_line_changes_credentials_of_a_running_server(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    store = ("--data-dir", str(tmp_path), *(("--database-url", url) if url else ()))
    server = ServerProcess(tmp_path, database_url=url)
    server.start()
    try:
        key = json.loads(cli("keys", "create", "--account", ACCOUNT_SID, "--json", *store))
        key_auth = (key["sid"], key["secret"])
        # The server polls twice a second; a few seconds leave room for a busy machine.
        assert eventually(lambda: status(server, key_auth) == 200) < 3
        cli("keys", "delete", key["sid"], *store)
        eventually(lambda: status(server, key_auth) == 401)

        account = json.loads(cli("accounts", "create", "--json", *store))
        old = (account["sid"], account["auth_token"])
        eventually(lambda: status(server, old) == 200)
        rotated = json.loads(cli("accounts", "rotate-token", account["sid"], "--json", *store))
        new = (account["sid"], rotated["auth_token"])
        assert rotated["sid"] == account["sid"] and new != old
        eventually(lambda: status(server, new) == 200 and status(server, old) == 401)

        # Keys made over the REST API work at once, as before, and survive the reloads.
        made = httpx.post(f"{server.url}/2010-04-01/Accounts/{account['sid']}/Keys.json",
                          auth=new, data={"FriendlyName": "api"}).json()
        assert status(server, (made["sid"], made["secret"])) == 200
        cli("keys", "create", "--account", account["sid"], *store)  # another reload
        assert eventually(lambda: json.loads(cli("keys", "list", "--account", account["sid"],
                                                 "--json", *store))[0]["sid"] == made["sid"])
        for _ in range(10):
            assert status(server, (made["sid"], made["secret"])) == 200
    finally:
        server.stop()


def test_a_registry_reloads_only_when_the_stored_version_moved(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(database_url)
    store.migrate()
    store.start()
    other = Store(database_url)  # another process or node
    other.start()
    try:
        server, cli_side = AccountRegistry(store), AccountRegistry(other)
        server.load()
        cli_side.load()
        assert server.refresh() is False  # nothing moved: no reload
        account = cli_side.create_account(START_MS)
        key = cli_side.create_key(account.sid, START_MS)
        assert server.refresh() is True
        assert server.authenticate(key.sid, key.secret) == account
        cli_side.delete_key(key.sid)
        rotated = cli_side.rotate_auth_token(account.sid, START_MS + 1)
        assert server.refresh() is True
        assert server.authenticate(key.sid, key.secret) is None
        assert server.authenticate(account.sid, account.auth_token) is None
        assert server.authenticate(account.sid, rotated.auth_token) == rotated
        # Its own changes reach its cache at once; the reload they cause keeps them.
        own = server.create_key(account.sid, START_MS)
        assert server.authenticate(own.sid, own.secret) == rotated
        server.refresh()
        assert server.authenticate(own.sid, own.secret) == rotated

        # A reload read just before one of its own changes landed must not drop that change.
        cli_side.create_key(account.sid, START_MS)
        read = server._read
        late = []

        def read_then_change() -> tuple[dict[str, Any], dict[str, Any]]:
            rows = read()
            late.append(server.create_key(account.sid, START_MS))
            return rows

        monkeypatch.setattr(server, "_read", read_then_change)
        assert server.refresh() is False
        monkeypatch.undo()
        assert server.authenticate(late[0].sid, late[0].secret) == rotated
        assert server.refresh() is True
        assert server.authenticate(late[0].sid, late[0].secret) == rotated
    finally:
        other.close()
        store.close()
