"""An HTTP answer leaves in one write (``connection_limits.py``): uvicorn's protocol fed a
request through a transport that records each write, as uvloop would send each at once."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle
from uvicorn.server import ServerState

from switchboard.connection_limits import (
    ConnectionLimits,
    LimitedHttpToolsProtocol,
    protocol_class,
)

from .conftest import left_in_cycles


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def connect(app: Any) -> tuple[LimitedHttpToolsProtocol, RecordingTransport]:
    config = Config(app=app, log_level="warning", lifespan="off")
    config.load()
    protocol = protocol_class(ConnectionLimits())(config=config, server_state=ServerState(),
                                                  app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def receive(protocol: LimitedHttpToolsProtocol, part: bytes) -> None:
    """``part`` received, and whatever it sets going run until the answer is complete."""
    protocol.data_received(part)
    for _ in range(100):
        await asyncio.sleep(0)
        if protocol.cycle is not None and protocol.cycle.response_complete:
            break


async def answer(app: Any, *parts: bytes) -> RecordingTransport:
    """The writes made while answering a request, received in ``parts``, with ``app``; each
    part is received once the loop has run whatever the one before set going."""
    protocol, transport = connect(app)
    for part in parts:
        await receive(protocol, part)
    protocol.connection_lost(None)
    return transport


async def hello(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"hello"})


async def streamed(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for part in (b"one", b"two"):
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def head_then_failure(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"5")]})
    raise RuntimeError("failed after the head")


GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def test_an_answer_is_one_write() -> None:
    transport = asyncio.run(answer(hello, GET))
    assert len(transport.writes) == 1
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and body == b"hello"


def test_a_streamed_answer_sends_its_head_with_its_first_part_and_each_part_at_once() -> None:
    transport = asyncio.run(answer(streamed, GET))
    assert [w.partition(b"\r\n\r\n")[2] if i == 0 else w
            for i, w in enumerate(transport.writes)] == [b"3\r\none\r\n", b"3\r\ntwo\r\n",
                                                         b"0\r\n\r\n"]


def test_a_head_request_is_answered_with_its_head_alone() -> None:
    transport = asyncio.run(answer(hello, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert len(transport.writes) == 1 and transport.writes[0].endswith(b"\r\n\r\n")


def test_continue_goes_before_the_body_is_read_and_the_answer_after() -> None:
    head = (b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
            b"\r\n")
    transport = asyncio.run(answer(hello, head, b"hi"))
    assert transport.writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert len(transport.writes) == 2 and transport.writes[1].endswith(b"\r\n\r\nhello")


def test_a_head_is_still_sent_when_the_application_fails_after_it() -> None:
    transport = asyncio.run(answer(head_then_failure, GET))
    assert transport.closed
    assert len(transport.writes) == 1 and transport.writes[0].startswith(b"HTTP/1.1 200 OK")


def test_an_answered_request_leaves_no_cycle_of_references_behind() -> None:
    """What a request made is freed as soon as the next one replaces it, not left for the
    garbage collector (which found a cycle, and all it held, for every request)."""

    async def two_requests() -> LimitedHttpToolsProtocol:
        protocol, _ = connect(hello)
        for _ in range(2):  # the second replaces the first as the connection's cycle
            await receive(protocol, GET)
        return protocol  # kept open

    assert left_in_cycles(lambda: asyncio.run(two_requests()),
                          lambda thing: isinstance(thing, RequestResponseCycle)) == []
