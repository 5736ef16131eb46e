"""How a request that fails is answered, in one ASGI layer around the routes:

- a body over the limit (``limits.py``): 413, and the connection closed;
- an ``HTTPException`` (the router's 404 and 405, an endpoint's own): the app's HTTP error
  handler's answer, with ``Connection: close`` if the body was not read to its end;
- anything else: the app's 500, then the exception goes on to the server, which logs it;
- the client going away while its body is read: nothing to answer.

One layer rather than Starlette's two error middlewares around a body limit of our own:
each of those wrapped every answer's ``send`` again (three wrappers where one tells whether
the answer has started), some 20,000 instructions of a request's (``http_tasks.py``, ninth
pass). Starlette's endpoints (health, documentation, console) raise their HTTP errors on to it;
WebSocket sessions go through Starlette's middleware as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.api.limits import BodyTooLarge, declared_length, refuse

ErrorHandler = Callable[[Request, Any], Awaitable[Response]]


class Failures:
    """ASGI middleware: the body limit, HTTP errors and unexpected errors of every request.

    ``max_bytes``: the body limit; ``paths``: paths with a lower limit of their own;
    ``http_error``: answers an ``HTTPException``; ``unexpected_error``: answers anything else
    (the answer then is a 500, whatever it says)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, paths: Mapping[str, int],
                 http_error: ErrorHandler, unexpected_error: ErrorHandler) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = dict(paths)
        self.http_error = http_error
        self.unexpected_error = unexpected_error
        self.websockets = ExceptionMiddleware(app, handlers={HTTPException: http_error})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await (self.websockets if scope["type"] == "websocket" else self.app)(
                scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.max_bytes)
        length, has_body = declared_length(scope)
        if length is not None and length > limit:
            await refuse(limit, scope, receive, send)
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
            await refuse(limit, scope, receive, send)
        except ClientDisconnect:
            # The client went away, or the server cut it off (body timeout): nobody is left
            # to answer, and it is not a server error.
            pass
        except HTTPException as exc:
            if started:
                raise RuntimeError("an HTTP error was raised after its answer had started"
                                   ) from exc
            response = await self.http_error(Request(scope, limited_receive), exc)
            await response(scope, limited_receive, tracked_send)
            exc.__traceback__ = None  # a reused exception would gather tracebacks
        except Exception as exc:
            if not started:
                response = await self.unexpected_error(Request(scope), exc)
                await response(scope, receive, send)
            raise
