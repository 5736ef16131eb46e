"""The request body limit, enforced while the body is read, so never buffered past it.

A declared ``Content-Length`` over the limit is refused before a byte of the body is read; a
body without one (chunked) is counted as the application reads it and refused as soon as it
goes over. Either way the answer is 413 with Twilio's code 20413 (Request Entity Too Large)
and ``Connection: close``: the rest of the body is never read, so the connection cannot carry
another request.

This applies to every HTTP route. A path may have a lower limit of its own: the event
bridge's RPC (``POST /v1/wschannels``) does, because anyone may post to it and its token is
inside the JSON body, so the body is read (up to that limit) before the token is checked.
WebSocket messages are bounded by the server (``connection_limits.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.api.errors import error_response

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE_CODE = 20413  # Twilio's "Request Entity Too Large"


class BodyTooLarge(Exception):
    """Raised from ``receive`` when the body goes over the limit."""


class BodyLimit:
    """ASGI middleware: 413 for request bodies over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 paths: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = dict(paths or {})  # path -> its own (lower) limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.max_bytes)
        length, has_body = _declared_length(scope)
        if length is not None and length > limit:
            await _refuse(limit, scope, receive, send)
            return
        received = 0
        complete = not has_body
        started = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
                if not message.get("more_body", False):
                    complete = True
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not complete:
                    # Answered before the body was read (401, 404 …): close rather than read
                    # and discard the rest of what may be a very large body.
                    message["headers"] = [*message.get("headers", ()),
                                          (b"connection", b"close")]
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(limit, scope, receive, send)
        except ClientDisconnect:
            # The client went away, or the server cut it off (body timeout): nobody is left
            # to answer, and it is not a server error.
            pass


async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(
        413, TOO_LARGE_CODE,
        f"The request body is larger than this server accepts here ({limit} bytes)",
        headers={"Connection": "close"})
    await response(scope, receive, send)


def _declared_length(scope: Scope) -> tuple[int | None, bool]:
    """The Content-Length (None if not given or not a number) and whether a body comes."""
    length: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked or bool(length)
