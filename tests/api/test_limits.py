"""Request body limits (``api/limits.py``): refused while reading, never buffered whole.

The byte counts come from the ASGI ``receive`` the server would call: what the application
took of the body is what the server had to read and hand over.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message

from switchboard.api.app import create_app
from switchboard.api.limits import DEFAULT_MAX_BODY_BYTES
from switchboard.bridge.routes import RPC_MAX_BODY_BYTES
from switchboard.service.runtime import Runtime

from .conftest import assert_error, ok, unchanged

ACCOUNT_SID = "AC" + "a" * 32
AUTH = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:test-auth-token".encode()).decode()
WRONG_AUTH = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:wrong".encode()).decode()
CHUNK = 16 * 1024
FIFTY_MB = 50 * 1024 * 1024


class Upload:
    """A request body of ``total`` bytes handed out in chunks, counting what was taken."""

    def __init__(self, total: int, first: bytes = b"") -> None:
        self.chunks = self._chunks(total, first)
        self.consumed = 0

    @staticmethod
    def _chunks(total: int, first: bytes) -> Iterator[bytes]:
        sent = 0
        while sent < total:
            chunk = (first if sent == 0 and first else b"x" * CHUNK)[:total - sent]
            sent += len(chunk)
            yield chunk

    async def receive(self) -> Message:
        chunk = next(self.chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        self.consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}


async def post(app: ASGIApp, path: str, upload: Upload, headers: dict[str, str]
               ) -> tuple[int, dict[str, str], dict[str, Any]]:
    """POST through the ASGI app: status, headers and JSON body of the answer."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
             "server": ("testserver", 80),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, upload.receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return (start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
            json.loads(body))


@pytest.fixture
def app(runtime: Runtime) -> ASGIApp:
    return create_app(runtime)


def assert_too_large(status: int, headers: dict[str, str], body: dict[str, Any],
                     limit: int) -> None:
    assert status == 413, body
    assert body == {"code": 20413, "status": 413,
                    "message": f"The request body is larger than this server accepts here "
                               f"({limit} bytes)",
                    "more_info": "https://www.twilio.com/docs/errors/20413"}
    assert headers["connection"] == "close"  # the rest of the body is never read


@pytest.mark.parametrize("path, limit", [("/v1/Workspaces", DEFAULT_MAX_BODY_BYTES),
                                         ("/v1/wschannels", RPC_MAX_BODY_BYTES)])
async def test_a_declared_length_over_the_limit_is_refused_before_reading(
        app: ASGIApp, path: str, limit: int) -> None:
    upload = Upload(FIFTY_MB)
    status, headers, body = await post(app, path, upload, {
        "authorization": AUTH, "content-length": str(FIFTY_MB),
        "content-type": "application/x-www-form-urlencoded"})
    assert_too_large(status, headers, body, limit)
    assert upload.consumed == 0


@pytest.mark.parametrize("path, limit", [("/v1/Workspaces", DEFAULT_MAX_BODY_BYTES),
                                         ("/v1/wschannels", RPC_MAX_BODY_BYTES)])
async def test_a_chunked_body_is_refused_as_soon_as_it_goes_over(
        app: ASGIApp, path: str, limit: int) -> None:
    upload = Upload(FIFTY_MB, first=b"FriendlyName=big&Attributes=")
    status, headers, body = await post(app, path, upload, {
        "authorization": AUTH, "transfer-encoding": "chunked",
        "content-type": "application/x-www-form-urlencoded"})
    assert_too_large(status, headers, body, limit)
    assert limit < upload.consumed <= limit + CHUNK


async def test_an_unauthenticated_rest_body_is_not_read_at_all(app: ASGIApp) -> None:
    upload = Upload(FIFTY_MB)
    status, headers, body = await post(app, "/v1/Workspaces", upload, {
        "authorization": WRONG_AUTH, "transfer-encoding": "chunked"})
    assert (status, body["code"]) == (401, 20003)
    assert upload.consumed == 0
    assert headers["connection"] == "close"  # not left to read and discard 50 MB


async def test_an_unauthenticated_rpc_reads_at_most_its_own_limit(app: ASGIApp) -> None:
    upload = Upload(FIFTY_MB, first=b'{"url": "Workspaces", "method": "GET", "token": "')
    status, _, body = await post(app, "/v1/wschannels", upload,
                                 {"transfer-encoding": "chunked"})
    assert (status, body["code"]) == (413, 20413)
    assert upload.consumed <= RPC_MAX_BODY_BYTES + CHUNK


async def test_bodies_within_the_limit_are_read_whole(app: ASGIApp) -> None:
    upload = Upload(5000, first=b"FriendlyName=within&Padding=")
    status, headers, body = await post(app, "/v1/Workspaces", upload, {
        "authorization": AUTH, "content-length": "5000",
        "content-type": "application/x-www-form-urlencoded"})
    assert status == 201 and body["friendly_name"] == "within"
    assert upload.consumed == 5000
    assert "connection" not in headers  # the connection stays open for the next request


def test_a_refused_body_changes_nothing(client: TestClient) -> None:
    with unchanged(client, "/v1/Workspaces"):
        response = client.post("/v1/Workspaces", content=b"FriendlyName=" + b"x" * (
            DEFAULT_MAX_BODY_BYTES), headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        assert_error(response, 413, 20413, str(DEFAULT_MAX_BODY_BYTES))
    ok(client.post("/v1/Workspaces", data={"FriendlyName": "small"}), 201)


def test_the_limit_is_configurable(runtime: Runtime) -> None:
    with TestClient(create_app(runtime, max_body_bytes=100)) as client:
        client.auth = (ACCOUNT_SID, "test-auth-token")
        assert_error(client.post("/v1/Workspaces", data={"FriendlyName": "x" * 100}),
                     413, 20413, "100 bytes")
        # The RPC's own limit is never above the server's.
        assert_error(client.post("/v1/wschannels", content=b"{" + b" " * 100 + b"}"),
                     413, 20413, "100 bytes")
        ok(client.post("/v1/Workspaces", data={"FriendlyName": "small"}), 201)
