"""The request body limit, enforced while the body is read, so never buffered past it.

A declared ``Content-Length`` over the limit is refused before a byte of the body is read; a
body without one (chunked) is counted as the application reads it and refused as soon as it
goes over. Either way the answer is 413 with Twilio's code 20413 (Request Entity Too Large)
and ``Connection: close``: the rest of the body is never read, so the connection cannot carry
another request.

This applies to every HTTP route. A path may have a lower limit of its own: the event
bridge's RPC (``POST /v1/wschannels``) does, because anyone may post to it and its token is
inside the JSON body, so the body is read (up to that limit) before the token is checked.
WebSocket messages are bounded by the server (``connection_limits.py``). ``failures.py``
applies the limit, in the one layer that answers a request's failures.
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from switchboard.api.errors import error_response

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE_CODE = 20413  # Twilio's "Request Entity Too Large"


class BodyTooLarge(Exception):
    """Raised from ``receive`` when the body goes over the limit."""


async def refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(
        413, TOO_LARGE_CODE,
        f"The request body is larger than this server accepts here ({limit} bytes)",
        headers={"Connection": "close"})
    await response(scope, receive, send)


def declared_length(scope: Scope) -> tuple[int | None, bool]:
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
