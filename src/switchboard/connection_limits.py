"""What one HTTP connection may cost the server: deadlines, header size, how many are open.

uvicorn's httptools protocol closes a keep-alive connection left idle between requests, and
nothing else: a client that connects and sends nothing, or sends its headers or its body a
byte at a time, holds its connection (and whatever it sent) for as long as it likes, and
headers of any size are buffered. This protocol adds:

- a header deadline, from the connection's start (or a request's first byte) to the end of
  its headers: an idle connection is closed, a slow request gets 408 and is closed;
- a body deadline, from the end of the headers to the end of the body: 408 (or, once the
  answer has begun, a plain close);
- a bound on the headers' size: 431 and closed;
- a bound on open HTTP connections: those above it are answered 503 (Twilio's 20503, with
  ``Retry-After``) and closed. WebSockets are not counted: each signed-in worker holds one for
  hours, so a bound shared with requests would let connected workers lock the API out (or
  need a bound too large to protect it). A WebSocket is counted until its upgrade (so the
  header deadline covers its handshake) and its messages are bounded in size (the Worker SDK
  sends none: the worker's token is in the URL and is checked before the upgrade completes).

Timers are armed only when a request does not arrive in one read, so a request that does (the
common case) costs no timer beyond uvicorn's own keep-alive one.

It also writes each answer in one system call: uvicorn writes a response's head and its body
apart, and uvloop sends each write at once (two sends here, two TCP segments, two reads at the
client).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from switchboard.api.errors import error_body
from switchboard.api.headers import new_request_id
from switchboard.serving import KeepSpelling

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024  # the request line and headers of one request
WS_MAX_MESSAGE_BYTES = 64 * 1024  # a worker's WebSocket carries nothing from the client
OVER_CAPACITY_WARNING_SECONDS = 10.0  # at most one warning this often while refusing


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive_timeout: float = 5.0
    max_connections: int = 1000  # HTTP connections; WebSockets are not counted


async def _refuse_over_capacity(scope: Any, receive: Any, send: Any) -> None:
    body = error_body(503, 20503, "The server has too many open connections; try again shortly")
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"Content-Type", b"application/json"), (b"Retry-After", b"1"),
        (b"Twilio-Request-Id", new_request_id().encode()),
        (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# The ASGI app of a connection above the bound: one 503, then the connection closes.
_over_capacity = KeepSpelling(_refuse_over_capacity)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above; see ``protocol_class``."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    counted: ClassVar[set[LimitedHttpToolsProtocol]] = set()  # open HTTP connections
    last_warned: ClassVar[float] = float("-inf")

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # uvicorn's own idle timer between requests, in fractions of a second if need be.
        self.timeout_keep_alive = self.limits.keep_alive_timeout  # type: ignore[assignment]
        self.deadline: asyncio.TimerHandle | None = None
        self.reading_headers = True  # until the current request's headers are complete
        self.reading_body = False
        self.request_begun = False  # some of the current request has arrived
        self.header_bytes = 0
        self.upgraded = False

    # ------------------------------------------------------------------ the connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.counted) >= self.limits.max_connections:
            self.app = _over_capacity
            self._warn_over_capacity()
        else:
            self.counted.add(self)
        # Also covers a client that connects and never sends a byte.
        self._arm(self.limits.header_timeout, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.counted.discard(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.upgraded or self.transport.is_closing():
            return
        if self.reading_headers:
            # Whole reads are counted: a read may also end the previous request's body, so
            # this errs on the side of more, by at most one read of a pipelined request.
            self.header_bytes += len(data)
            if self.header_bytes > MAX_HEADER_BYTES:
                self._answer_and_close(431, 431, "The request's headers are larger than this "
                                       f"server accepts ({MAX_HEADER_BYTES} bytes)")
                return
            if self.deadline is None:
                self._arm(self.limits.header_timeout, self._headers_too_slow)
        elif self.reading_body and self.deadline is None:
            self._arm(self.limits.body_timeout, self._body_too_slow)

    def handle_websocket_upgrade(self) -> None:
        # From here the connection is a WebSocket's: not counted, no HTTP deadlines.
        self._disarm()
        self.counted.discard(self)
        self.upgraded = True
        super().handle_websocket_upgrade()

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.reading_headers = True
        self.request_begun = True

    def on_headers_complete(self) -> None:
        self.reading_headers = False
        self.header_bytes = 0
        self._disarm()
        super().on_headers_complete()
        self.reading_body = not (self.parser.should_upgrade() and self._should_upgrade())
        cycle = self.cycle
        # A HEAD request's answer has no body to carry its head.
        if self.reading_body and cycle is not None and self.scope["method"] != "HEAD":
            cycle.transport = cast(asyncio.Transport, _HeadWithBody(self.transport, cycle))

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading_body = False
        self.request_begun = False
        self._disarm()

    # ------------------------------------------------------------------ deadlines

    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _headers_too_slow(self) -> None:
        self.deadline = None
        if not self.request_begun:  # nothing sent: nothing to answer
            self.transport.close()
            return
        self._answer_and_close(408, 408, "The request's headers did not arrive within "
                               f"{self.limits.header_timeout:g} s")

    def _body_too_slow(self) -> None:
        self.deadline = None
        cycle = self.cycle
        if cycle is None or cycle.response_started:
            self.transport.close()
            return
        # The application reading the body sees a disconnect, and what it sends is dropped.
        cycle.disconnected = True
        cycle.message_event.set()
        self._answer_and_close(408, 408, "The request's body did not arrive within "
                               f"{self.limits.body_timeout:g} s")

    def _answer_and_close(self, status: int, code: int, message: str) -> None:
        if self.transport.is_closing():
            return
        body = error_body(status, code, message)
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"Content-Type: application/json\r\nTwilio-Request-Id: ",
                 new_request_id().encode(), b"\r\ncontent-length: ",
                 str(len(body)).encode(), b"\r\nconnection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        self.transport.close()

    def _warn_over_capacity(self) -> None:
        now = self.loop.time()
        cls = type(self)
        if now - cls.last_warned >= OVER_CAPACITY_WARNING_SECONDS:
            cls.last_warned = now
            log.warning("refusing connections: %d HTTP connections are open (the limit)",
                        len(self.counted))


class _HeadWithBody:
    """The transport as one response's cycle sees it: the head it writes is held back and
    written with the first part of the body (a response without a body still writes an empty
    one); anything else passes straight through, such as ``100 Continue`` before the head.

    It lets go of the cycle once the head is held: the cycle refers to it, and a cycle of
    references would outlive the request until the garbage collector's next pass, and bring
    those passes on with the traffic (one every couple of thousand requests)."""

    __slots__ = ("_cycle", "_head", "_passing", "_transport")

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self._transport = transport
        self._cycle: RequestResponseCycle | None = cycle
        self._head = b""
        self._passing = False  # the head has been written

    def write(self, data: bytes) -> None:
        if self._passing:
            self._transport.write(data)
        elif self._head:
            self._passing = True
            self._transport.write(self._head + data)
        elif self._cycle is not None and self._cycle.response_started:
            self._head = data  # the cycle's first write once its response has begun
            self._cycle = None
        else:
            self._transport.write(data)

    def close(self) -> None:
        # The application failed between the head and the body: the head goes first, as before.
        if self._head and not self._passing:
            self._passing = True
            self._transport.write(self._head)
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def protocol_class(limits: ConnectionLimits) -> type[LimitedHttpToolsProtocol]:
    """The protocol for one server: these limits, and a count of its own connections."""
    return cast(type[LimitedHttpToolsProtocol], type(
        "LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,),
        {"limits": limits, "counted": set(), "last_warned": float("-inf")}))


def uvicorn_options(limits: ConnectionLimits) -> dict[str, Any]:
    """uvicorn.Config options that apply ``limits``."""
    return {"http": protocol_class(limits), "ws_max_size": WS_MAX_MESSAGE_BYTES}
