"""``Failures``, the one layer answering a request's failures: HTTP errors, unexpected errors,
a client gone, whether or not the answer had started."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.api.failures import Failures


async def http_error(request: Request, exc: Any) -> Response:
    return PlainTextResponse(f"http {exc.status_code} {request.url.path}",
                             status_code=exc.status_code)


async def unexpected_error(request: Request, exc: Any) -> Response:
    return PlainTextResponse(f"unexpected {type(exc).__name__}", status_code=500)


def serve(app: ASGIApp, body: bytes = b"", more_body: bool = False,
          length: int | None = None, sent: list[Message] | None = None) -> list[Message]:
    """The messages ``Failures`` around ``app`` sends for a POST with ``body`` (into ``sent``,
    for an exception that escapes it)."""
    sent = [] if sent is None else sent
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    scope: Scope = {"type": "http", "method": "POST", "path": "/p", "headers": headers,
                    "query_string": b"", "root_path": ""}

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": more_body}

    async def send(message: Message) -> None:
        sent.append(message)

    failures = Failures(app, max_bytes=100, paths={}, http_error=http_error,
                        unexpected_error=unexpected_error)
    asyncio.run(failures(scope, receive, send))
    return sent


def raising(exc: Exception, *, after_start: bool = False, read: bool = False) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if read:
            await receive()
        if after_start:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        raise exc
    return app


def test_an_http_error_is_answered_by_its_handler_closing_an_unread_body() -> None:
    sent = serve(raising(HTTPException(404)), body=b"x" * 10, length=10)
    assert sent[0]["status"] == 404
    assert (b"connection", b"close") in sent[0]["headers"]
    assert sent[1]["body"] == b"http 404 /p"


def test_an_http_error_after_a_read_body_keeps_the_connection() -> None:
    sent = serve(raising(HTTPException(405), read=True), body=b"x" * 10, length=10)
    assert sent[0]["status"] == 405
    assert (b"connection", b"close") not in sent[0]["headers"]


def test_an_http_error_after_the_answer_started_is_a_fault() -> None:
    with pytest.raises(RuntimeError, match="after its answer had started"):
        serve(raising(HTTPException(404), after_start=True))


def test_an_unexpected_error_is_a_500_and_goes_on_to_the_server() -> None:
    sent: list[Message] = []
    with pytest.raises(ZeroDivisionError):
        serve(raising(ZeroDivisionError()), sent=sent)
    assert sent[0]["status"] == 500
    assert sent[1]["body"] == b"unexpected ZeroDivisionError"


def test_an_unexpected_error_after_the_answer_started_sends_nothing_more() -> None:
    sent: list[Message] = []
    with pytest.raises(ValueError):
        serve(raising(ValueError(), after_start=True), sent=sent)
    assert [m["type"] for m in sent] == ["http.response.start"]


def test_a_client_gone_gets_nothing_and_is_no_fault() -> None:
    assert serve(raising(ClientDisconnect())) == []


def test_a_body_going_over_the_limit_while_read_is_refused() -> None:
    sent = serve(raising(ValueError("never reached"), read=True), body=b"x" * 101,
                 more_body=True)
    assert sent[0]["status"] == 413


def test_a_starlette_endpoint_finds_the_http_error_handler() -> None:
    def teapot(request: Request) -> Response:
        raise HTTPException(418)

    sent = serve(Router([Route("/p", teapot, methods=["POST"])]))
    assert sent[0]["status"] == 418
    assert sent[1]["body"] == b"http 418 /p"
