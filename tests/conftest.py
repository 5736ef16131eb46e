"""Fixtures shared by every test layer: databases, a runtime, an HTTP client, a server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from switchboard.api.app import create_app
from switchboard.routing.sids import SidFactory, counter_sids
from switchboard.service.clock import ManualClock
from switchboard.service.runtime import Runtime
from switchboard.store.database import Store, sqlite_url

# Under CI every property test draws the same examples each run and keeps no example
# database: a red run is reproducible from the code alone, never from a leftover .hypothesis/.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ACCOUNT_SID = "AC" + "a" * 32
AUTH_TOKEN = "test-auth-token"
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
POSTGRES_ADMIN_URL = os.environ.get(
    "SWITCHBOARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


# ---------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    name = f"switchboard_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"
        ), {"name": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    engine = create_engine(url)
    with engine.begin() as conn:  # leave an empty schema for the next test
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


# ---------------------------------------------------------------------- in-process service


def make_runtime(url: str, clock: ManualClock | None = None,
                 sids: SidFactory | None = None) -> Runtime:
    runtime = Runtime(Store(url), clock or ManualClock(START_MS), sids=sids or counter_sids())
    runtime.start()
    if ACCOUNT_SID not in runtime.accounts.accounts:
        runtime.accounts.create_account(START_MS, sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    return runtime


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_MS)


@pytest.fixture
def runtime(tmp_path: Path, clock: ManualClock) -> Iterator[Runtime]:
    runtime = make_runtime(sqlite_url(tmp_path), clock)
    yield runtime
    runtime.stop()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """The API in process, authenticated as the test account."""
    with TestClient(create_app(runtime), base_url="http://testserver",
                    raise_server_exceptions=False) as test_client:
        test_client.auth = (ACCOUNT_SID, AUTH_TOKEN)
        yield test_client


# ---------------------------------------------------------------------- a real server process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``switchboard serve`` in a subprocess on loopback, restartable on the same data."""

    def __init__(self, data_dir: Path, clock: str = "manual", database_url: str | None = None,
                 extra_args: tuple[str, ...] = (), port: int | None = None):
        self.data_dir = data_dir
        self.clock = clock
        self.database_url = database_url
        self.extra_args = extra_args
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "SWITCHBOARD_ACCOUNT_SID": ACCOUNT_SID,
               "SWITCHBOARD_AUTH_TOKEN": AUTH_TOKEN, "NO_PROXY": "127.0.0.1,localhost"}
        command = [sys.executable, "-m", "switchboard", "serve", "--port", str(self.port),
                   "--data-dir", str(self.data_dir), "--clock", self.clock,
                   "--log-level", "warning"]
        if self.database_url:
            command += ["--database-url", self.database_url]
        command += self.extra_args
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.data_dir / "server.log").read_text())
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the server did not become ready in 30 s")

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=30)
        self.process = None


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the session's compatibility tests (manual clock, SQLite)."""
    process = ServerProcess(tmp_path_factory.mktemp("server"))
    process.start()
    yield process
    process.stop()
