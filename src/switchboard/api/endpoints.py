"""How an API endpoint is declared, authenticated, parsed, run and answered.

Handlers are small: they get a ``Context`` with the authenticated account and the validated
arguments, call the service layer, and return the JSON body (or None for 204).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from switchboard.api.errors import SessionEnded, Unauthorized, routing_error_response
from switchboard.api.params import Param, check_text, form_items, parse
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.errors import RoutingError
from switchboard.service.accounts import Account
from switchboard.service.runtime import Command, Runtime
from switchboard.service.sessions import COOKIE, CSRF_HEADER, ConsoleSessions

T = TypeVar("T")


@dataclass
class Reply:
    """A JSON body with an ETag header (Tasks, Workers and Reservations carry one)."""

    body: dict[str, Any]
    etag: str | None = None


@dataclass
class Context:
    request: Request
    runtime: Runtime
    account: Account
    args: dict[str, Any]
    base_url: str

    @property
    def path(self) -> dict[str, str]:
        return self.request.path_params

    @property
    def if_match(self) -> str | None:
        return self.request.headers.get("if-match")

    @property
    def query(self) -> dict[str, list[str]]:
        params = self.request.query_params
        return {key: params.getlist(key) for key in params}

    def url(self, path: str) -> str:
        return self.base_url + path

    def engine(self) -> WorkspaceEngine:
        """The engine of the workspace the path names (``{WorkspaceSid}``), to read."""
        return self.runtime.engine(self.account.sid, self.path["WorkspaceSid"])

    def run(self, command: Command[T]) -> Coroutine[Any, Any, T]:
        """Run a command on the path's workspace; awaited, it returns once committed."""
        return self.runtime.run(self.account.sid, self.path["WorkspaceSid"], command)


Handler = Callable[[Context], Awaitable[dict[str, Any] | Reply | None]]


@dataclass
class Endpoint:
    method: str
    path: str
    handler: Handler
    params: tuple[Param, ...]
    status: int
    summary: str
    tag: str


@dataclass
class Api:
    """The registry of endpoints; it makes both the Starlette routes and the OpenAPI paths."""

    endpoints: list[Endpoint] = field(default_factory=list)

    def route(self, method: str, path: str, *, summary: str, tag: str,
              params: tuple[Param, ...] = (), status: int = 200
              ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(Endpoint(method, path, handler, params, status, summary, tag))
            return handler
        return register

    def routes(self, runtime: Runtime, public_url: str | None) -> list[Route]:
        return [Route(e.path, _Handle(e, runtime, public_url), methods=[e.method],
                      name=e.handler.__name__) for e in self.endpoints]


class ApiRequest(Request):
    """Starlette's request, its body read straight from ``receive``: Starlette reads it through
    an async generator under ``aclosing``, three times the cost for a body of one message.
    Kept as Starlette keeps it (``_body``, the stream consumed), so a handler may read it again
    (``body()``, ``json()``)."""

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            if self._stream_consumed:
                raise RuntimeError("Stream consumed")
            chunks = []
            while not self._stream_consumed:
                message = await self._receive()
                if message["type"] == "http.request":
                    chunks.append(message.get("body", b""))
                    self._stream_consumed = not message.get("more_body", False)
                elif message["type"] == "http.disconnect":
                    self._is_disconnected = True
                    raise ClientDisconnect()
            self._body = b"".join(chunks)
        return self._body


class _Handle:
    """One endpoint as a plain ASGI app: authenticated, parsed, run, answered.

    Not a Starlette request-response function: that would wrap each request in another
    exception-handling layer (the app's own already catches what escapes here) and build a
    ``Response`` whose headers are made again per request."""

    def __init__(self, endpoint: Endpoint, runtime: Runtime, public_url: str | None) -> None:
        self.endpoint = endpoint
        self.runtime = runtime
        self.public_url = public_url
        self.where = "post body" if endpoint.method == "POST" else "query string"
        self.start: Message = {"type": "http.response.start", "status": endpoint.status}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoint
        request = ApiRequest(scope, receive, send)
        try:
            account = authenticate(self.runtime, request)
            for name, value in request.path_params.items():
                check_text(value, name)
            items = (request.query_params.multi_items() if endpoint.method != "POST"
                     else await _form(request))
            args = parse(endpoint.params, items, self.where)
            base = self.public_url or _own_base(request)
            result = await endpoint.handler(Context(request, self.runtime, account, args, base))
        except RoutingError as exc:
            await routing_error_response(exc)(scope, receive, send)
            return
        if result is None:
            await Response(status_code=204)(scope, receive, send)
            return
        # What Starlette's Response(body, media_type="application/json") sends, in its order.
        headers = []
        if isinstance(result, Reply):
            if result.etag is not None:
                headers.append((b"etag", result.etag.encode("latin-1")))
            result = result.body
        body = orjson.dumps(result)
        headers += [(b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json")]
        await send({**self.start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _own_base(request: Request) -> str:
    """scheme://host[:port] as the client addressed us (cheaper than building request.url)."""
    host = request.headers.get("host")
    if not host:
        server = request.scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{request.scope.get('scheme', 'http')}://{host}"


async def _form(request: Request) -> list[tuple[str, Any]]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/"):
        return (await request.form()).multi_items()
    return form_items((await request.body()).decode("utf-8", errors="replace"))


def authenticate(runtime: Runtime, request: Request) -> Account:
    """HTTP Basic with ``AccountSid:AuthToken`` or ``KeySid:KeySecret``; without an
    Authorization header, a console session (cookie and CSRF header)."""
    header = request.headers.get("authorization")
    if header is None:
        # The console's session: its cookie and, on every method, its CSRF header.
        sessions: ConsoleSessions | None = getattr(request.app.state, "console_sessions", None)
        csrf = request.headers.get(CSRF_HEADER)
        if sessions is not None and csrf is not None:
            session = sessions.account(request.cookies.get(COOKIE), csrf)
            if session is not None:
                return session
            raise SessionEnded("Authenticate: the console session has ended or is not valid; "
                               "sign in again")
        header = ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            username = password = ""
        account = runtime.accounts.authenticate(username, password)
        if account is not None:
            return account
    raise Unauthorized("Authenticate: the request needs valid HTTP Basic credentials "
                       "(AccountSid:AuthToken or ApiKeySid:ApiKeySecret)")
