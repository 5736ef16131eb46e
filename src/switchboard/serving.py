"""Serving the app with uvicorn on a socket bound before anything else starts.

Binding first makes a port in use a clear error before the store is opened or the callback
sender started. The socket only listens once uvicorn has run the app's start-up, so until the
server can answer, clients are refused rather than left waiting; ``on_listening`` is called
then, which is when the server is worth announcing.

Response header names reach the wire as the application spelled them (``ETag``,
``Twilio-Request-Id``), as Twilio writes them: uvicorn's httptools protocol would lower-case
them (``KeepSpelling``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import gc
import logging
import socket
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.service.background import TaskSet


class PortUnavailable(Exception):
    """The address cannot be served: in use, not this machine's, not resolvable."""


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: any free one), not yet listening."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a restart need not wait for the last run's connections to time out.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortUnavailable(f"port {port} on {host} is already in use by another "
                                  "process") from None
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


# The cyclic garbage collector's thresholds while serving: a request allocates a thousand or
# more container objects that almost all die by reference counting, and the defaults (700, 10,
# 10) ran a young collection every few hundred of them and a full one over the whole heap (every
# loaded task and worker) every few thousand requests: 25 to 70 µs of a request's CPU. With a
# young generation of 20,000, and the state loaded at start-up frozen out of the collector's
# sight, it is a few µs. The middle generation is collected at every second young collection: it
# then holds what survived one young collection only, a pause of 10-30 ms with 100,000 tasks
# waiting (``benchmarks/gc_pauses.py``); left to gather 20 young collections' survivors it
# paused the server for 100-140 ms. A full collection comes no more often than before: after
# about 400 young ones, and only once the heap grew by a quarter (CPython's own rule).
GC_THRESHOLDS = (20_000, 1, 200)


def tune_gc() -> None:
    """Freeze what start-up made (modules, loaded workspaces) and collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


# The names uvicorn reads back from the response to frame it: always given to it lower-case.
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"connection"})


class _Spelled(bytes):
    """A header name uvicorn's httptools protocol writes as spelled.

    The protocol writes ``name.lower()``; this name's ``lower()`` is itself. It is made only
    here, at the server's edge, so that no one else comparing names meets it.
    """

    def lower(self) -> bytes:
        return self


@functools.lru_cache(maxsize=256)  # an application writes few distinct names
def _as_given(name: bytes) -> bytes:
    return name if name.islower() or name.lower() in _FRAMING else _Spelled(name)


class KeepSpelling:
    """ASGI middleware, outermost: response header names written as the application spelled
    them, not lower-cased."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def spelled_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [(_as_given(name), value)
                                      for name, value in message.get("headers", ())]
            await send(message)

        await self.app(scope, receive, spelled_send)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_listening: Callable[[], None],
                 before_exit: Callable[[], Awaitable[None]] | None = None) -> None:
        super().__init__(config)
        self.on_listening = on_listening
        self.before_exit = before_exit
        self._leaving = False
        self._tasks = TaskSet()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """On SIGTERM or Ctrl-C, first ``before_exit`` (a cluster node hands its workspaces
        over while it still answers), then uvicorn's own shutdown. A second signal does not
        wait."""
        if self.before_exit is None or self._leaving:
            super().handle_exit(sig, frame)
            return
        loop = asyncio.get_event_loop()
        before_exit = self.before_exit

        async def leave() -> None:
            try:
                await before_exit()
            except Exception:
                logging.getLogger(__name__).exception("could not leave in order")
            super(_Server, self).handle_exit(sig, frame)

        self._leaving = True  # a second signal goes straight on
        loop.call_soon_threadsafe(lambda: self._tasks.spawn(leave()))

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        except OSError as exc:  # listen() failed: another server took the port meanwhile
            await self.lifespan.shutdown()
            raise PortUnavailable(f"cannot listen: {exc.strerror}") from None
        if self.started and not self.should_exit:
            tune_gc()
            self.on_listening()


def run(app: Any, sock: socket.socket, on_listening: Callable[[], None],
        before_exit: Callable[[], Awaitable[None]] | None = None, **options: Any) -> None:
    """Serve ``app`` on ``sock`` until SIGINT or SIGTERM; ``options`` go to uvicorn.Config."""
    server = _Server(uvicorn.Config(KeepSpelling(app), **options), on_listening, before_exit)
    # uvicorn shuts down in order on Ctrl-C, then raises the signal again for whoever called
    # it; here nobody is left to tell, so it ends quietly.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
