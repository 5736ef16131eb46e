"""``switchboard backup`` while a server is under write load; a server on the copy has every
change acknowledged before the backup began."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, ServerProcess


def test_backup_under_write_load_then_serve_the_copy(tmp_path: Path) -> None:
    live_dir, copy_dir = tmp_path / "live", tmp_path / "copy"
    live_dir.mkdir()
    copy_dir.mkdir()
    server = ServerProcess(live_dir)
    server.start()
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    acknowledged: list[str] = []
    stop = threading.Event()

    def write() -> None:
        with httpx.Client(base_url=server.url, auth=auth, timeout=10) as client:
            ws = client.post("/v1/Workspaces", data={"FriendlyName": "Load"}).json()["sid"]
            for n in range(2000):  # bounded: stops by itself
                if stop.is_set():
                    return
                answer = client.post(f"/v1/Workspaces/{ws}/Workers",
                                     data={"FriendlyName": f"w{n}"})
                assert answer.status_code == 201, answer.text
                acknowledged.append(answer.json()["url"])

    writers = [threading.Thread(target=write) for _ in range(2)]
    try:
        for writer in writers:
            writer.start()
        while len(acknowledged) < 50:
            threading.Event().wait(0.02)
        before = list(acknowledged)  # acknowledged before the backup began
        result = subprocess.run(
            [sys.executable, "-m", "switchboard", "backup", "--data-dir", str(live_dir),
             "--out", str(copy_dir / "switchboard.db")],
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "Backed up" in result.stdout
        during = len(acknowledged) - len(before)
    finally:
        stop.set()
        for writer in writers:
            writer.join()
        server.stop()
    assert during > 0 or len(acknowledged) == len(before)  # the server went on writing

    copy = ServerProcess(copy_dir)
    copy.start()
    try:
        with httpx.Client(auth=auth, timeout=10) as client:
            for url in before:
                path = "/v1/" + url.split("/v1/", 1)[1]
                assert client.get(copy.url + path).status_code == 200, path
    finally:
        copy.stop()


def test_backup_refuses_postgresql_and_a_missing_database(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "backup", "--database-url",
         "postgresql+psycopg://nobody@127.0.0.1:1/none", "--out", str(tmp_path / "x.db")],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "pg_dump" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "backup", "--data-dir", str(tmp_path / "none"),
         "--out", str(tmp_path / "x.db")], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "no database" in result.stderr
