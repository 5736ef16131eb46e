"""The headers Twilio puts on every answer, spelled as Twilio spells them.

Twilio answers every API request, errors included, with:

- ``Twilio-Request-Id``: ``RQ`` and 32 hex digits, new for each request. ``request_id()``
  gives it to whatever runs for the request (logs), from a context variable.
- The same ``Access-Control-*`` headers whatever the request: any origin
  (``Access-Control-Allow-Origin: *``), its methods, the request headers its clients send,
  ``ETag`` exposed. The values are the ones Twilio's API answers with. Given a list of
  origins (``serve --cors-origins``), only those origins' pages are allowed, each named back
  (``Vary: Origin``); ``*`` in the list is Twilio's behaviour. A browser's preflight
  (``OPTIONS`` with ``Access-Control-Request-Method``) is answered here, for every path.

Names are spelled as Twilio spells them (``ETag``, ``Content-Type``, ``Twilio-Request-Id``
…): HTTP names are case-insensitive, but the official twilio-python hands response headers
over as a plain, case-sensitive dict. Starlette writes names lower-case, so they are respelled
here; ``serving.py`` makes uvicorn write them as given.

The middleware must be outermost, around Starlette's last-resort error handler too, so that a
500 carries the headers as well.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.api.errors import error_body

# What Twilio's API answers with (recorded answers of api.twilio.com and
# taskrouter.twilio.com; Idempotency-Key joined the list in 2023).
ALLOW_HEADERS = ("Accept", "Authorization", "Content-Type", "If-Match", "If-Modified-Since",
                 "If-None-Match", "If-Unmodified-Since", "Idempotency-Key")
ALLOW_METHODS = "GET, POST, DELETE, OPTIONS"
EXPOSE_HEADERS = "ETag"
PREFLIGHT_MAX_AGE = "600"  # ours: Twilio's value is unknown; spares browsers a preflight a call

# Names the application writes, respelled as Twilio writes them. Never the names the server
# itself reads (Content-Length, Transfer-Encoding, Connection): see serving.py.
SPELLING = {name.lower().encode(): name.encode()
            for name in ("ETag", "Content-Type", "WWW-Authenticate")}

_current: ContextVar[str | None] = ContextVar("twilio_request_id", default=None)


# Request IDs name answers, they guard nothing: a fast PRNG is enough. os.urandom is a
# syscall that also lets go of the GIL, and winning it back from another thread (the
# store's writer's, before the loop committed on its own) cost a request tens of
# microseconds under load.
_random = random.Random()


def new_request_id() -> str:
    return f"RQ{_random.getrandbits(128):032x}"


def request_id() -> str | None:
    """The ``Twilio-Request-Id`` of the request being answered (None outside one)."""
    return _current.get()


class TwilioHeaders:
    """ASGI middleware: Twilio's request id and CORS headers on every HTTP answer.

    ``cors_origins``: the origins whose pages may call the API (empty or with ``*``: any, as
    Twilio). ``allow_headers``: paths whose callers send more headers than Twilio's list,
    e.g. the Worker SDK's ``apiVersion`` and ``clientVersion`` on the event bridge.
    """

    def __init__(self, app: ASGIApp, cors_origins: Sequence[str] = (),
                 allow_headers: Mapping[str, Sequence[str]] | None = None) -> None:
        self.app = app
        self.origins = None if not cors_origins or "*" in cors_origins else frozenset(
            o.rstrip("/") for o in cors_origins)
        common = [(b"Access-Control-Allow-Methods", ALLOW_METHODS.encode()),
                  (b"Access-Control-Expose-Headers", EXPOSE_HEADERS.encode()),
                  (b"Access-Control-Allow-Credentials", b"true")]

        def cors(names: Sequence[str]) -> list[tuple[bytes, bytes]]:
            return [(b"Access-Control-Allow-Headers", ", ".join(names).encode()), *common]

        self.cors = cors(ALLOW_HEADERS)
        self.cors_by_path = {path: cors((*ALLOW_HEADERS, *extra))
                             for path, extra in (allow_headers or {}).items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id()
        token = _current.set(rid)
        try:
            origin, preflight = _origin_and_preflight(scope)
            headers = [(b"Twilio-Request-Id", rid.encode()), *self._allow_origin(origin),
                       *self.cors_by_path.get(scope["path"], self.cors)]
            if preflight:
                await self._preflight(origin, headers, send)
                return

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [(SPELLING.get(name, name), value)
                                          for name, value in message.get("headers", ())]
                    message["headers"] += headers
                await send(message)

            await self.app(scope, receive, send_with_headers)
        finally:
            _current.reset(token)

    def _allow_origin(self, origin: bytes | None) -> list[tuple[bytes, bytes]]:
        if self.origins is None:
            return [(b"Access-Control-Allow-Origin", b"*")]
        # The answer depends on the Origin, so caches must keep one per origin.
        if origin is not None and origin.decode("latin-1") in self.origins:
            return [(b"Access-Control-Allow-Origin", origin), (b"Vary", b"Origin")]
        return [(b"Vary", b"Origin")]

    async def _preflight(self, origin: bytes | None, headers: list[tuple[bytes, bytes]],
                         send: Send) -> None:
        if self.origins is not None and (origin is None or origin.decode("latin-1")
                                         not in self.origins):
            body = error_body(400, 400, "This server does not allow requests from the origin "
                              f"{(origin or b'').decode('latin-1')!r}")
            status = 400
            headers = [*headers, (b"Content-Type", b"application/json")]
        else:
            body = b""
            status = 200
            headers = [*headers, (b"Access-Control-Max-Age", PREFLIGHT_MAX_AGE.encode())]
        await send({"type": "http.response.start", "status": status, "headers": [
            *headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _origin_and_preflight(scope: Scope) -> tuple[bytes | None, bool]:
    """The request's Origin, and whether it is a CORS preflight."""
    origin = None
    asks_method = False
    for name, value in scope["headers"]:
        if name == b"origin":
            origin = value
        elif name == b"access-control-request-method":
            asks_method = True
    return origin, asks_method and origin is not None and scope["method"] == "OPTIONS"
