"""What the ops middleware read of a request (its credentials' account, its client) and of its
answer (its status), and ``ObserveRequests``: one timing and one status of each HTTP request for
all that record it (the access log, the HTTP metrics)."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Sequence, Sized
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.service.accounts import AccountRegistry


def basic_username(scope: Scope) -> tuple[str, str] | None:
    """The (username, password) of the request's HTTP Basic credentials, if any."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, encoded = value.decode("latin-1").partition(" ")
            if scheme.lower() != "basic":
                return None
            try:
                username, _, password = base64.b64decode(encoded).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            return username, password
    return None


def account_of(accounts: AccountRegistry, scope: Scope, *, verify: bool) -> str | None:
    """The account SID the request's credentials name (an API key stands for its account).

    ``verify``: only when the credentials are right (before the handler has checked them);
    without it the name alone is read, for a request the handler already let through."""
    credentials = basic_username(scope)
    if credentials is None:
        return None
    username, password = credentials
    if verify:
        account = accounts.authenticate(username, password)
        return account.sid if account is not None else None
    if username.startswith("SK"):
        key = accounts.keys.get(username)
        return key.account_sid if key is not None else None
    return username if username in accounts.accounts else None


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"


class StatusWatch:
    """An ASGI ``send`` that passes every message on and notes the answer's status (500 until
    one is sent: an application that raised before answering)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)


class RequestObserver(Protocol):
    """Told of each HTTP request once it is answered."""

    def observed(self, scope: Scope, status: int, seconds: float) -> None:
        """The request was answered with ``status`` ``seconds`` after it arrived (each
        observer skips what it does not want)."""
        ...


class Brake(RequestObserver, Protocol):
    """Holds requests back while some are failing (``failures`` not empty): the
    failed-authentication brake (``ratelimits.AuthBrake``)."""

    @property
    def failures(self) -> Sized: ...

    async def hold(self, scope: Scope) -> None: ...


class ObserveRequests:
    """ASGI middleware: times each HTTP request and notes its answer's status once, for all its
    observers in order, the failed-authentication ``brake`` first; the brake's hold comes
    before the app (and is timed)."""

    def __init__(self, app: ASGIApp, brake: Brake,
                 observers: Sequence[RequestObserver] = ()) -> None:
        self.app = app
        self.brake = brake
        # Their methods, bound once: this runs on every request.
        self.observed = tuple(observer.observed for observer in (brake, *observers))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            start = time.perf_counter()
            if self.brake.failures:
                await self.brake.hold(scope)
            watch = StatusWatch(send)
            try:
                await self.app(scope, receive, watch)
            finally:
                seconds = time.perf_counter() - start
                for observed in self.observed:
                    observed(scope, watch.status, seconds)
            return
        await self.app(scope, receive, send)
