"""Slow, idle, oversized and surplus clients against a real server (``connection_limits.py``).

Real sockets and real time: the server runs with 1 s deadlines, and each test asserts that a
connection ends within its deadline plus generous slack (never an exact moment), while a
normal client goes on being served.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import TaskRouterGrant
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from switchboard.api.limits import DEFAULT_MAX_BODY_BYTES
from switchboard.cli import serve
from switchboard.connection_limits import (
    MAX_HEADER_BYTES,
    WS_MAX_MESSAGE_BYTES,
    ConnectionLimits,
)
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, ServerProcess

TIMEOUT = 1.0  # every deadline of the server under test
SLACK = 2.0  # how much later than its deadline a connection may end on a busy machine
MAX_CONNECTIONS = 8
AUTH = (ACCOUNT_SID, AUTH_TOKEN)
FIFTY_MB = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("limits"), clock="system", extra_args=(
        "--header-timeout", str(TIMEOUT), "--body-timeout", str(TIMEOUT),
        "--keep-alive-timeout", str(TIMEOUT), "--max-connections", str(MAX_CONNECTIONS)))
    process.start()
    yield process
    process.stop()


def connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(TIMEOUT + SLACK + 5)
    return sock


def until_closed(sock: socket.socket) -> tuple[float, bytes]:
    """Read until the server closes: how long that took, and what it sent before."""
    start = time.monotonic()
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            sock.close()
            return time.monotonic() - start, data
        data += chunk


def status_and_body(data: bytes) -> tuple[int, dict[str, object]]:
    """The status and error body of an answer, which carries a Twilio-Request-Id as any."""
    head, _, body = data.partition(b"\r\n\r\n")
    assert re.search(rb"\r\nTwilio-Request-Id: RQ[0-9a-f]{32}\r\n", head + b"\r\n"), head
    return int(head.split(b" ", 2)[1]), json.loads(body)


@contextlib.contextmanager
def normal_client(server: ServerProcess) -> Iterator[list[float]]:
    """A keep-alive client asking every 0.1 s in the background; yields its latencies.

    On leaving, asserts that it was answered every time, on one connection."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def run() -> None:
        try:
            with httpx.Client(base_url=server.url, auth=AUTH, timeout=5) as client:
                while not stop.is_set():
                    start = time.monotonic()
                    response = client.get("/v1/Workspaces")
                    assert response.status_code == 200, response.text
                    latencies.append(time.monotonic() - start)
                    stop.wait(0.1)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield latencies
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    assert len(latencies) >= 5
    assert max(latencies) < 1.0


def trickled(server: ServerProcess, sock: socket.socket, data: bytes) -> bytes:
    """Sends ``data`` a byte every 0.2 s while a normal client is served, until the server
    closes (within its deadline); what it answered."""
    start = time.monotonic()
    with normal_client(server):
        with contextlib.suppress(OSError):  # the server closes while we are still sending
            for byte in data:
                sock.send(bytes([byte]))
                time.sleep(0.2)
        _, answer = until_closed(sock)
    assert time.monotonic() - start <= TIMEOUT + SLACK + 0.2
    return answer


def test_an_idle_connection_is_closed_after_the_header_deadline(server: ServerProcess) -> None:
    with normal_client(server):
        elapsed, data = until_closed(connect(server))
    assert data == b""  # nothing was asked, nothing is answered
    assert TIMEOUT - 0.1 <= elapsed <= TIMEOUT + SLACK


def test_headers_sent_a_byte_at_a_time_get_408(server: ServerProcess) -> None:
    request = b"GET /v1/Workspaces HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * 100 + b"\r\n\r\n"
    data = trickled(server, connect(server), request)
    status, body = status_and_body(data)
    assert status == 408
    assert body["code"] == 408 and "headers" in str(body["message"])


def test_a_body_sent_slowly_gets_408_and_changes_nothing(server: ServerProcess) -> None:
    before = httpx.get(server.url + "/v1/Workspaces", auth=AUTH).json()["workspaces"]
    sock = connect(server)
    body = b"FriendlyName=slow" + b"&Padding=" + b"p" * 100
    head = (f"POST /v1/Workspaces HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Authorization: {httpx.BasicAuth(*AUTH)._auth_header}\r\n\r\n").encode()
    sock.send(head)
    status, answer = status_and_body(trickled(server, sock, body))
    assert status == 408 and answer["code"] == 408 and "body" in str(answer["message"])
    after = httpx.get(server.url + "/v1/Workspaces", auth=AUTH).json()["workspaces"]
    assert after == before


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length, read whole."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.lower().split(b"\r\n")
                      if line.startswith(b"content-length:")))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_an_idle_keep_alive_connection_is_closed_an_active_one_is_not(
        server: ServerProcess) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    idle = connect(server)
    idle.send(request)
    assert read_response(idle).startswith(b"HTTP/1.1 200 ")
    elapsed, data = until_closed(idle)
    assert data == b""
    assert TIMEOUT - 0.1 <= elapsed <= TIMEOUT + SLACK
    # Asking more often than the keep-alive timeout keeps one connection for longer than it.
    active = connect(server)
    start = time.monotonic()
    while time.monotonic() - start < 3 * TIMEOUT:
        active.send(request)
        assert read_response(active).startswith(b"HTTP/1.1 200 ")
        time.sleep(TIMEOUT / 4)
    active.close()


@pytest.fixture(scope="module")
def worker_ws_url(server: ServerProcess) -> str:
    """The WebSocket URL of a worker, with its access token, as the Worker SDK opens it."""
    key = httpx.post(f"{server.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Keys.json",
                     auth=AUTH).json()
    workspace = httpx.post(f"{server.url}/v1/Workspaces", auth=AUTH,
                           data={"FriendlyName": "sockets"}).json()
    worker = httpx.post(f"{server.url}/v1/Workspaces/{workspace['sid']}/Workers",
                        auth=AUTH, data={"FriendlyName": "alice"}).json()
    token = AccessToken(ACCOUNT_SID, key["sid"], key["secret"], identity="alice")
    token.add_grant(TaskRouterGrant(workspace_sid=workspace["sid"], worker_sid=worker["sid"],
                                    role="worker"))
    return server.url.replace("http", "ws") + f"/v1/wschannels?token={token.to_jwt()}"


def test_connections_over_the_limit_get_503_and_websockets_do_not_count(
        server: ServerProcess, worker_ws_url: str) -> None:
    with contextlib.ExitStack() as stack:
        # More workers' WebSockets than the limit: each is served, none is counted.
        for _ in range(MAX_CONNECTIONS + 2):
            socket_ = stack.enter_context(ws_connect(worker_ws_url))
            assert json.loads(socket_.recv(timeout=5))["event_type"] == "init"
        assert httpx.get(server.url + "/healthz").status_code == 200
        held = [connect(server) for _ in range(MAX_CONNECTIONS)]
        time.sleep(0.2)  # let the server take them all
        over = connect(server)
        over.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        _, data = until_closed(over)
        status, body = status_and_body(data)
        assert status == 503 and body["code"] == 20503
        assert b"retry-after: 1\r\n" in data.lower()
        for sock in held:  # closed at their header deadline: room again
            until_closed(sock)
        assert httpx.get(server.url + "/healthz").status_code == 200


def test_a_large_websocket_message_closes_the_socket(worker_ws_url: str) -> None:
    """The Worker SDK sends nothing on its WebSocket: a large message is not buffered."""
    with ws_connect(worker_ws_url, max_size=None) as socket_:
        assert json.loads(socket_.recv(timeout=5))["event_type"] == "init"
        with contextlib.suppress(ConnectionClosed):
            socket_.send("x" * (WS_MAX_MESSAGE_BYTES + 1))
            while True:
                socket_.recv(timeout=5)
    assert socket_.close_code == 1009  # message too big


@pytest.mark.parametrize("path", ["/v1/Workspaces", "/v1/wschannels"])
def test_an_oversized_body_is_refused_before_it_is_sent(server: ServerProcess,
                                                        path: str) -> None:
    sock = connect(server)
    sock.send(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {FIFTY_MB}\r\n"
              "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode())
    elapsed, data = until_closed(sock)  # not a byte of the body sent
    status, body = status_and_body(data)
    assert status == 413 and body["code"] == 20413
    assert elapsed < TIMEOUT  # answered at once, not at the body deadline


def test_a_streamed_rpc_body_is_cut_off_near_the_limit(server: ServerProcess) -> None:
    """No Content-Length: the server reads until the limit, answers 413 and closes, long
    before the 50 MB are sent (what was sent includes what the kernel buffers hold)."""
    sock = connect(server)
    sock.send(b"POST /v1/wschannels HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    sent = 0
    with contextlib.suppress(OSError):
        while sent < FIFTY_MB:
            sent += sock.send(chunk)
    assert sent < FIFTY_MB / 2
    _, data = until_closed(sock)
    status, body = status_and_body(data)
    assert status == 413 and body["code"] == 20413


def test_oversized_headers_get_431(server: ServerProcess) -> None:
    sock = connect(server)
    with contextlib.suppress(OSError):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * (
            MAX_HEADER_BYTES * 4))
    _, data = until_closed(sock)
    status, body = status_and_body(data)
    assert status == 431 and body["code"] == 431


def test_serve_defaults_are_the_documented_ones() -> None:
    defaults = {p.name: p.default for p in serve.params}
    limits = ConnectionLimits()
    assert defaults["max_body_bytes"] == DEFAULT_MAX_BODY_BYTES == 1024 * 1024
    assert defaults["header_timeout"] == limits.header_timeout == 10
    assert defaults["body_timeout"] == limits.body_timeout == 30
    assert defaults["keep_alive_timeout"] == limits.keep_alive_timeout == 5
    assert defaults["max_connections"] == limits.max_connections == 1000
