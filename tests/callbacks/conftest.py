"""Callback tests: a real server process with fast retries, and real receivers on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.callbacks.receiver import Receiver
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, ServerProcess

FAST_RETRIES = ("--callback-attempts", "12", "--callback-backoff", "0.05")


@pytest.fixture(scope="module")
def callback_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("callbacks"), clock="system",
                           extra_args=FAST_RETRIES)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


class Api:
    """Plain HTTP against the server, enough to drive the scenarios."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=10)

    def post(self, path: str, **data: Any) -> dict[str, Any]:
        response = self.http.post(path, data=data)
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def workspace(self, **data: Any) -> str:
        sid: str = self.post("/v1/Workspaces", FriendlyName="callbacks", Template="FIFO",
                             **data)["sid"]
        return sid

    def activity(self, ws: str, name: str) -> str:
        sid: str = self.get(f"/v1/Workspaces/{ws}/Activities",
                            FriendlyName=name)["activities"][0]["sid"]
        return sid

    def worker(self, ws: str, name: str, available: bool = True) -> str:
        data = {"ActivitySid": self.activity(ws, "Available")} if available else {}
        sid: str = self.post(f"/v1/Workspaces/{ws}/Workers", FriendlyName=name, **data)["sid"]
        return sid

    def task(self, ws: str, **attributes: Any) -> dict[str, Any]:
        return self.post(f"/v1/Workspaces/{ws}/Tasks", Attributes=json.dumps(attributes))

    def workflow_sid(self, ws: str) -> str:
        sid: str = self.get(f"/v1/Workspaces/{ws}/Workflows")["workflows"][0]["sid"]
        return sid


@pytest.fixture
def api(callback_server: ServerProcess) -> Api:
    return Api(callback_server.url)


def data_dir(server: ServerProcess) -> Path:
    return server.data_dir
