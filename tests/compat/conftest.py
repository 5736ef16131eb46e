"""Fixtures for driving the server with the official, unchanged ``twilio`` Python library.

Test modules get everything through fixtures: with pytest's default import mode every
``conftest.py`` is a module named ``conftest``, so they cannot be imported by name.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client


def _root_conftest() -> ModuleType:
    """tests/conftest.py (ACCOUNT_SID, AUTH_TOKEN, ServerProcess), under a name of its own."""
    name = "switchboard_tests_root_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).resolve().parents[1] / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_root = _root_conftest()
ACCOUNT_SID: str = _root.ACCOUNT_SID
AUTH_TOKEN: str = _root.AUTH_TOKEN
ServerProcess = _root.ServerProcess


class RecordingHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, remembering each request's method and URL.

    Tests use it to see what the SDK did by itself, e.g. how many pages it followed.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requests: list[tuple[str, str]] = []

    def request(self, method: str, url: str, params: Any = None, *args: Any, **kwargs: Any
                ) -> Any:
        full = url + ("&" if "?" in url else "?") + urlencode(params, doseq=True) if params \
            else url
        self.requests.append((method.upper(), full))
        return super().request(method, url, params, *args, **kwargs)

    def gets(self, path_end: str) -> list[str]:
        """URLs of the GET requests whose path ends with ``path_end``."""
        return [url for method, url in self.requests
                if method == "GET" and url.split("?")[0].endswith(path_end)]


def sdk_client(url: str, username: str = ACCOUNT_SID, password: str = AUTH_TOKEN,
               account_sid: str | None = None) -> Client:
    """An official ``Client`` whose TaskRouter and Accounts (Keys) APIs point at ``url``."""
    client = Client(username, password, account_sid, environment={},
                    http_client=RecordingHttpClient())
    client.taskrouter.base_url = url
    client.api.base_url = url
    return client


@pytest.fixture(scope="session")
def account_sid() -> str:
    return ACCOUNT_SID


@pytest.fixture(scope="session")
def make_client() -> Callable[..., Client]:
    """``make_client(url, username=ACCOUNT_SID, password=AUTH_TOKEN, account_sid=None)``."""
    return sdk_client


@pytest.fixture(scope="session")
def twilio_client(server: Any) -> Client:
    """The official client, authenticated as the test account, on the session server."""
    return sdk_client(server.url)


@pytest.fixture
def http_log(twilio_client: Client) -> RecordingHttpClient:
    """The session client's request log, emptied for this test."""
    recorder: RecordingHttpClient = twilio_client.http_client
    recorder.requests.clear()
    return recorder


@pytest.fixture
def workspace(twilio_client: Client) -> Iterator[Any]:
    """A fresh workspace made from the FIFO template, deleted after the test."""
    created = twilio_client.taskrouter.v1.workspaces.create(
        friendly_name=f"compat-{uuid.uuid4().hex[:12]}", template="FIFO")
    yield created
    try:
        twilio_client.taskrouter.v1.workspaces(created.sid).delete()
    except TwilioRestException as exc:  # the test may have deleted it already
        if exc.status != 404:
            raise


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Any]:
    """A server of this test's own on ``tmp_path`` (a ServerProcess: stop, then start again)."""
    process = ServerProcess(tmp_path)
    process.start()
    yield process
    process.stop()


# ---------------------------------------------------------------------- the manual clock


class DevClock:
    """``/dev/clock`` of a manual-clock server: read the time, or move it and fire timers."""

    def __init__(self, url: str) -> None:
        self.url = url

    def now_ms(self) -> int:
        """The server's current time (epoch ms); it only moves when advanced."""
        reply = httpx.get(self.url + "/dev/clock", auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=10)
        reply.raise_for_status()
        return int(reply.json()["now_ms"])

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move forward ``seconds``; every timer due by then has fired when this returns."""
        reply = httpx.post(self.url + "/dev/clock", data={"Advance": str(seconds)},
                           auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=30)
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        return body


@pytest.fixture(scope="session")
def dev_clock() -> Callable[[Any], DevClock]:
    """``dev_clock(server_or_url)``: the manual clock of any server (e.g. ``own_server``)."""
    return lambda server: DevClock(server if isinstance(server, str) else server.url)


@pytest.fixture(scope="session")
def advance(server: Any) -> Callable[[float], dict[str, Any]]:
    """``advance(seconds)`` on the session server: ``{"now": ..., "now_ms": ...}`` after."""
    return DevClock(server.url).advance
