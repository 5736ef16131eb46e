"""How callbacks leave the process: keep-alive HTTP/1.1 POSTs, parsed by httptools.

Callbacks are small form POSTs whose answer is read for its status (and, for assignment
callbacks, a short JSON body). A general client spends most of its time on what these do not
need (cookies, redirects, tracing, multipart): aiohttp took about 110 µs of CPU per callback
on loopback, this asyncio protocol with httptools' C parser about 20 µs. Callbacks go out one at
a time per workspace, in order, so that cost bounds how fast a workspace's backlog drains.

What it does: ``http`` and ``https`` (system trust store), credentials in the URL sent as Basic
auth (as Twilio does), connections kept alive and reused per origin, a connect and a read
timeout, answers with a length, chunked or ended by the server closing the connection.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, cast
from urllib.parse import unquote, urlsplit

import httptools

from switchboard import __version__

MAX_BODY = 64 * 1024  # an answer's body is kept up to this size (instructions are tiny)
MAX_IDLE_PER_ORIGIN = 32


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


class TransportError(Exception):
    """The request did not get an answer (refused, timed out, reset …)."""


class Transport(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str], *,
                   connect_timeout: float, read_timeout: float) -> Answer: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Target:
    """What a URL means for a request: where to connect and the request's first lines."""

    origin: tuple[str, str, int]  # scheme, host, port
    head: bytes  # request line and the headers every request to this URL carries


@lru_cache(maxsize=4096)
def target(url: str) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        host += f":{parts.port}"
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"User-Agent: Switchboard/{__version__}",
             "Content-Type: application/x-www-form-urlencoded"]
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        lines.append(f"Authorization: Basic {base64.b64encode(credentials.encode()).decode()}")
    return Target((parts.scheme, parts.hostname, port), ("\r\n".join(lines) + "\r\n").encode())


class Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer: asyncio.Future[Answer] | None = None
        self.closed = False
        self._reset()

    def _reset(self) -> None:
        self.content_type = b""
        self.body = bytearray()
        self.started = False  # any byte of the answer seen
        self.headers_done = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        self.started = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(TransportError(f"malformed answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done:  # an answer whose body ends when the connection does
            self.on_message_complete()
        else:
            self._fail(TransportError("connection closed before an answer"
                                      + (f" ({exc})" if exc else "")))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-type":
            self.content_type = value

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        if len(self.body) < MAX_BODY:
            self.body += body[:MAX_BODY - len(self.body)]

    def on_message_complete(self) -> None:
        self.headers_done = False
        answer, self.answer = self.answer, None
        if answer is not None and not answer.done():
            answer.set_result(Answer(self.parser.get_status_code(),
                                     self.content_type.decode("latin-1"), bytes(self.body)))
        if not self.parser.should_keep_alive():
            self.close()

    def _fail(self, error: Exception) -> None:
        answer, self.answer = self.answer, None
        if answer is not None and not answer.done():
            answer.set_exception(error)
        self.close()

    # requests
    def request(self, data: bytes) -> asyncio.Future[Answer]:
        assert self.transport is not None and self.answer is None
        self._reset()
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HttpTransport:
    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int], list[Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str], *,
                   connect_timeout: float, read_timeout: float) -> Answer:
        where = target(url)
        request = b"".join((
            where.head,
            "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode(),
            b"Content-Length: %d\r\n\r\n" % len(body), body))
        connection = self._reuse(where.origin)
        if connection is not None:
            try:
                return await self._exchange(where.origin, connection, request, read_timeout)
            except TransportError:
                if connection.started:
                    raise
                # A kept-alive connection the other side had already closed: try a new one.
        connection = await self._connect(where.origin, connect_timeout)
        return await self._exchange(where.origin, connection, request, read_timeout)

    async def _exchange(self, origin: tuple[str, str, int], connection: Connection,
                        request: bytes, read_timeout: float) -> Answer:
        answer = connection.request(request)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(read_timeout, connection._fail,
                                TransportError(f"no answer within {read_timeout:g} s"))
        try:
            result = await answer
        except asyncio.CancelledError:
            connection.close()
            raise
        finally:
            timer.cancel()
        if not connection.closed:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < MAX_IDLE_PER_ORIGIN:
                idle.append(connection)
            else:
                connection.close()
        return result

    def _reuse(self, origin: tuple[str, str, int]) -> Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    async def _connect(self, origin: tuple[str, str, int], timeout: float) -> Connection:
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    Connection, host, port, ssl=tls, server_hostname=host if tls else None)
        except TimeoutError:
            raise TransportError(f"could not connect to {host}:{port} within {timeout:g} s"
                                 ) from None
        except OSError as exc:
            raise TransportError(f"could not connect to {host}:{port}: "
                                 f"{exc.strerror or exc}") from None
        return connection

    async def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
