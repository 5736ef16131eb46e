"""The API's request reads its body as Starlette's does, in any number of messages, once."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import ClientDisconnect
from starlette.types import Message

from switchboard.api.endpoints import ApiRequest


def request_of(*messages: Message) -> tuple[ApiRequest, list[Message]]:
    left = list(messages)

    async def receive() -> Message:
        return left.pop(0)

    return ApiRequest({"type": "http", "method": "POST", "headers": []}, receive), left


def test_a_body_in_several_messages_is_read_whole_and_kept() -> None:
    request, left = request_of({"type": "http.request", "body": b'{"a": ', "more_body": True},
                               {"type": "http.request", "body": b"", "more_body": True},
                               {"type": "http.request", "body": b"1}"})
    assert asyncio.run(request.body()) == b'{"a": 1}'
    assert left == []
    # Read again (a handler after the form), as JSON too: nothing more is received.
    assert asyncio.run(request.body()) == b'{"a": 1}'
    assert asyncio.run(request.json()) == {"a": 1}


def test_a_request_without_a_body() -> None:
    request, _ = request_of({"type": "http.request"})
    assert asyncio.run(request.body()) == b""


def test_a_client_gone_while_its_body_is_read() -> None:
    request, _ = request_of({"type": "http.request", "body": b"x", "more_body": True},
                            {"type": "http.disconnect"})
    with pytest.raises(ClientDisconnect):
        asyncio.run(request.body())
    assert request._is_disconnected


def test_a_stream_read_before_cannot_be_read_as_a_body() -> None:
    request, _ = request_of({"type": "http.request", "body": b"x"})

    async def stream_then_body() -> bytes:
        async for _ in request.stream():
            pass
        return await request.body()

    with pytest.raises(RuntimeError, match="Stream consumed"):
        asyncio.run(stream_then_body())
