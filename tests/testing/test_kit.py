"""The testing kit itself: ``serve --ephemeral``, the test accounts, ``server()``, and the
example application's suite under pytest-xdist."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException

import switchboard.testing
from switchboard.api.app import create_app
from switchboard.service.clock import SystemClock
from switchboard.service.runtime import Runtime
from switchboard.store import tables
from switchboard.store.database import Store, memory_url
from switchboard.testing import Server, TaskRouter

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "AC" + "e" * 32


def _files_under(*dirs: Path) -> list[Path]:
    return [p for d in dirs for p in d.rglob("*")]


def _cpu_seconds(pid: int) -> float | None:
    """The CPU time a running process has used (Linux's /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_ephemeral_server_starts_fast_and_leaves_no_file(tmp_path: Path) -> None:
    cwd, tmp, home = (tmp_path / name for name in ("cwd", "tmp", "home"))
    for d in (cwd, tmp, home):
        d.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update(SWITCHBOARD_ACCOUNT_SID=ACCOUNT, SWITCHBOARD_AUTH_TOKEN="secret-token",
               TMPDIR=str(tmp), HOME=str(home), PYTHONDONTWRITEBYTECODE="1",
               PYTHONUNBUFFERED="1")
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "switchboard", "serve", "--ephemeral", "--port", "0",
         "--log-level", "warning"], cwd=cwd, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Serving the TaskRouter API on "):
                break
        started = time.monotonic() - began
        cpu = _cpu_seconds(process.pid)
        url = lines[-1].split(" on ")[1].split("/v1")[0]
        assert "in memory" in lines[-1], lines
        # Well under a second on an idle machine (about 0.35 s of CPU with compiled bytecode,
        # 0.5 s without, as here: Python's imports are most of it); the bound here leaves room
        # for a loaded CI runner.
        print(f"ephemeral server answering after {started:.2f} s"
              + (f" ({cpu:.2f} s of CPU)" if cpu is not None else ""))
        assert started < 10
        auth = (ACCOUNT, "secret-token")
        created = httpx.post(url + "/v1/Workspaces", data={"FriendlyName": "kept nowhere"},
                             auth=auth, trust_env=False)
        assert created.status_code == 201, created.text
        assert httpx.get(url + "/v1/Workspaces", auth=auth,
                         trust_env=False).json()["workspaces"][0]["friendly_name"] == \
            "kept nowhere"
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode in (0, -15), "".join(lines)  # -15: ended by SIGTERM, as asked
    assert _files_under(cwd, tmp, home) == []


def test_ephemeral_takes_no_database_url() -> None:
    run = subprocess.run([sys.executable, "-m", "switchboard", "serve", "--ephemeral",
                          "--port", "0", "--database-url", "sqlite:///x.db"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "--ephemeral" in run.stderr and "Traceback" not in run.stderr


def test_the_in_memory_store_is_shared_by_its_connections_and_gone_when_closed() -> None:
    url = memory_url()
    store = Store(url)
    assert store.in_memory and store.sqlite_path is None
    store.migrate()
    store.start()
    store.submit(lambda conn: conn.exec_driver_sql(
        "UPDATE credentials_version SET version = 41")).result()
    # Read on another connection than the writer's.
    assert store.scalar(select(tables.credentials_version.c.version)) == 41
    store.close()
    again = Store(url)
    with again.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar() == 0
    again.close()


def test_dev_accounts_only_on_a_test_server(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    runtime = Runtime(Store(f"sqlite:///{tmp_path / 'db.sqlite'}"), SystemClock())
    runtime.start()
    runtime.accounts.create_account(0, sid=ACCOUNT, auth_token="t")
    with TestClient(create_app(runtime)) as client:
        reply = client.post("/dev/accounts", auth=(ACCOUNT, "t"))
    assert reply.status_code == 404
    assert "--ephemeral" in reply.json()["message"]


def test_accounts_on_one_server_do_not_see_each_other(switchboard_server: Server) -> None:
    one, two = switchboard_server.taskrouter("one"), switchboard_server.taskrouter("two")
    assert one.account_sid != two.account_sid
    mine = one.client.taskrouter.v1.workspaces.create(friendly_name="Same name")
    theirs = two.client.taskrouter.v1.workspaces.create(friendly_name="Same name")
    assert [w.sid for w in one.client.taskrouter.v1.workspaces.list()] == [mine.sid]
    assert [w.sid for w in two.client.taskrouter.v1.workspaces.list()] == [theirs.sid]
    with pytest.raises(TwilioRestException) as refused:
        one.client.taskrouter.v1.workspaces(theirs.sid).fetch()
    assert refused.value.status == 404
    # A token of one account's key does not open the other's workspace.
    worker = two.client.taskrouter.v1.workspaces(theirs.sid).workers.create(friendly_name="w")
    forged = one.worker_token(theirs.sid, worker.sid)
    reply = httpx.post(one.eb_server, trust_env=False, json={
        "url": f"Workspaces/{theirs.sid}/Workers/{worker.sid}", "method": "GET",
        "token": forged})
    assert reply.status_code >= 400
    for tr in (one, two):
        tr.delete_workspaces()
        tr.close()


def test_advance_moves_the_clock_of_the_whole_server(switchboard_server: Server) -> None:
    one, two = switchboard_server.taskrouter(), switchboard_server.taskrouter()
    before = two.now_ms()
    assert one.advance(90) == before + 90_000
    assert two.now_ms() == before + 90_000


def test_server_context_manager_outside_pytest() -> None:
    with switchboard.testing.server() as tr:
        assert isinstance(tr, TaskRouter)
        ws = tr.client.taskrouter.v1.workspaces.create(friendly_name="Outside pytest")
        assert tr.client.taskrouter.v1.workspaces(ws.sid).fetch().friendly_name == \
            "Outside pytest"
        url = tr.url
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/healthz", trust_env=False, timeout=2)


@pytest.mark.slow  # two pytest workers, each with a server of its own
def test_the_example_suite_passes_under_xdist() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-q",
         "tests/example_app"], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed" in run.stdout
