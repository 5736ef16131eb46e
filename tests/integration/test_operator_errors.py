"""Operator mistakes: one clear line on standard error and a non-zero exit, never a traceback.
And a server that starts, announces and stops the way an operator expects."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, ServerProcess, free_port

SWITCHBOARD = (sys.executable, "-m", "switchboard")


def switchboard(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWITCHBOARD, *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def refused(*args: str) -> str:
    """Run a command that must fail; return its one line of error."""
    result = switchboard(*args)
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize(("url", "says"), [
    ("not a url", "malformed"),
    ("oracle://scott:tiger@db/orcl", "runs on SQLite and PostgreSQL"),
    ("postgresql+nodriver://user@db/x", "unknown driver 'postgresql+nodriver'"),
    ("postgresql+psycopg2://user@db/x", "driver for 'postgresql+psycopg2' is not installed"),
])
def test_a_bad_database_url(url: str, says: str, tmp_path: Path) -> None:
    line = refused("accounts", "list", "--data-dir", str(tmp_path), "--database-url", url)
    assert says in line


@pytest.mark.parametrize("command", [("serve", "--port", "0"),
                                     ("keys", "create", "--account", ACCOUNT_SID),
                                     ("accounts", "rotate-token", ACCOUNT_SID),
                                     ("callbacks",)])
def test_every_command_that_opens_the_store_says_so(command: tuple[str, ...],
                                                    tmp_path: Path) -> None:
    line = refused(*command, "--data-dir", str(tmp_path), "--database-url", "not a url")
    assert "malformed" in line


def test_a_database_that_refuses_connections(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres:secret@127.0.0.1:{free_port()}/nothing"
    for command in (("serve", "--port", "0"), ("accounts", "create")):
        line = refused(*command, "--data-dir", str(tmp_path), "--database-url", url)
        assert "cannot use the database" in line and "Connection refused" in line
        assert "secret" not in line  # the password is never printed


def test_a_data_dir_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    assert "cannot create the data dir" in refused("accounts", "list", "--data-dir",
                                                   str(tmp_path / "file"))


def test_a_bad_log_level(tmp_path: Path) -> None:
    line = refused("serve", "--log-level", "loud", "--data-dir", str(tmp_path))
    assert "'--log-level'" in line and "'loud'" in line


def test_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = refused("serve", "--port", str(port), "--data-dir", str(tmp_path))
    assert f"port {port} on 127.0.0.1 is already in use" in line
    assert not (tmp_path / "switchboard.db").exists()  # refused before opening anything


def test_a_second_server_on_one_data_dir_is_refused(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path)
    first.start()
    try:
        line = refused("serve", "--port", "0", "--data-dir", str(tmp_path))
        assert "already running on the data dir" in line and str(tmp_path) in line
        # Short commands still work beside it: they take the store only briefly.
        assert switchboard("accounts", "list", "--data-dir", str(tmp_path)).returncode == 0
        assert httpx.get(first.url + "/healthz").status_code == 200
    finally:
        first.stop()
    second = ServerProcess(tmp_path)  # the lock went with the first server
    second.start()
    second.stop()


def test_version() -> None:
    result = switchboard("--version")
    assert result.returncode == 0
    version = importlib.metadata.version("switchboard")
    assert result.stdout.strip() == f"switchboard, version {version}"


def test_serving_is_announced_once_listening_and_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "SWITCHBOARD_ACCOUNT_SID": ACCOUNT_SID,
           "SWITCHBOARD_AUTH_TOKEN": AUTH_TOKEN, "NO_PROXY": "127.0.0.1,localhost"}
    # A process group of its own, as a terminal gives a foreground job: Ctrl-C signals all.
    process = subprocess.Popen(
        [*SWITCHBOARD, "serve", "--port", "0", "--data-dir", str(tmp_path),
         "--log-level", "info"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert process.stdout is not None
    output = []
    try:
        for line in process.stdout:
            output.append(line)
            if line.startswith("Serving"):
                break
        url = output[-1].split(" on ")[1].split("/v1")[0]
        # Announced only once listening: the first request needs no retry.
        assert httpx.get(url + "/healthz").status_code == 200
        assert httpx.get(url + "/v1/Workspaces", auth=(ACCOUNT_SID, AUTH_TOKEN)
                         ).status_code == 200
        wait_for_a_child(process.pid)  # the callback sender: Ctrl-C must find it running
        os.killpg(process.pid, signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    log = "".join(output) + rest
    assert process.returncode == 0, log
    assert "Application shutdown complete" in log
    assert "Traceback" not in log
    assert "callback sender stopped" not in log


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_callback_sender_exits_quietly_on_a_signal(stop: signal.Signals) -> None:
    sender = subprocess.Popen([sys.executable, "-m", "switchboard.callbacks.sender"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        wait_until_it_catches(sender.pid, signal.SIGTERM)  # its loop is up and reading
        sender.send_signal(stop)
        _, err = sender.communicate(timeout=10)
    finally:
        if sender.poll() is None:
            sender.kill()
    assert sender.returncode == 0
    assert err == b""


def wait_until_it_catches(pid: int, sig: signal.Signals) -> None:
    """Until the process has a handler for ``sig`` (Linux: SigCgt in /proc/PID/status)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        caught = int(next(line for line in status.splitlines()
                          if line.startswith("SigCgt:")).split()[1], 16)
        if caught & (1 << (sig - 1)):
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} never caught {sig.name}")


def wait_for_a_child(pid: int) -> None:
    deadline = time.monotonic() + 20
    while not Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        assert time.monotonic() < deadline, f"process {pid} started no child"
        time.sleep(0.02)
