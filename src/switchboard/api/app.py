"""The ASGI application: every API module's endpoints, health, OpenAPI and error handling."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp

from switchboard.api import (
    activities,
    dev_accounts,
    dev_clock,
    docs,
    events,
    insight,
    keys,
    reservations,
    statistics,
    task_channels,
    task_queues,
    tasks,
    workers,
    workflows,
    workspaces,
)
from switchboard.api.errors import error_response
from switchboard.api.failures import Failures
from switchboard.api.headers import TwilioHeaders
from switchboard.api.limits import DEFAULT_MAX_BODY_BYTES
from switchboard.api.openapi import openapi_document
from switchboard.bridge.routes import PATH as BRIDGE_PATH
from switchboard.bridge.routes import RPC_MAX_BODY_BYTES, EventBridge
from switchboard.console import routes as console
from switchboard.console.stream import ConsoleFeed
from switchboard.ops.readiness import Readiness
from switchboard.ops.stack import Ops
from switchboard.service.runtime import Runtime
from switchboard.service.sessions import ConsoleSessions

log = logging.getLogger(__name__)
# Routes are tried in this order: the busiest first (tasks, reservations), and statistics
# before workers and task_queues, because /Workers/Statistics is not a worker SID.
MODULES = (tasks, reservations, statistics, workers, task_queues, workspaces, activities,
           task_channels, workflows, events, keys, dev_clock, dev_accounts, insight)


class BackgroundService(Protocol):
    """Something that runs beside the API while the server is up (callbacks, pruning …)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


# Request headers the Worker SDK sends to the event bridge, beyond those of Twilio's API.
BRIDGE_REQUEST_HEADERS = ("apiVersion", "clientVersion")


class _App(Starlette):
    """Starlette with a middleware stack of its own, outermost first: Twilio's headers (on
    every answer, a 500 too), the ops middleware (``ops/stack.py``), and ``Failures`` (the
    body limit and the answers to errors) in place of Starlette's error middleware."""

    def __init__(self, *, cors_origins: Sequence[str], ops: Ops, runtime: Runtime,
                 failures: Callable[[ASGIApp], ASGIApp], **options: Any) -> None:
        self.cors_origins = cors_origins
        self.ops = ops
        self.runtime = runtime
        self.failures = failures
        super().__init__(**options)

    def build_middleware_stack(self) -> ASGIApp:
        inner = self.ops.wrap(self.failures(self.router), self.runtime.accounts, self.routes)
        return TwilioHeaders(inner, self.cors_origins,
                             allow_headers={BRIDGE_PATH: BRIDGE_REQUEST_HEADERS})


def create_app(runtime: Runtime, public_url: str | None = None, *,
               services: Sequence[BackgroundService] = (),
               cors_origins: Sequence[str] = (),
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               ops: Ops | None = None, console_secret: str | None = None) -> Starlette:
    endpoints = [e for module in MODULES for e in module.api.endpoints]
    document = openapi_document(endpoints)
    public_url = public_url.rstrip("/") if public_url else None

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    ops = ops or Ops()
    readiness = Readiness(runtime)
    readiness.node = ops.node
    # The API's routes first: Starlette tries each route in turn, and a task's creation
    # would otherwise be matched against health and documentation paths first.
    routes: list[BaseRoute] = []
    for module in MODULES:
        routes += module.api.routes(runtime, public_url)
    routes += [Route("/healthz", healthz), Route("/readyz", readiness.endpoint),
               *docs.routes(document)]
    bridge = EventBridge(runtime, public_url)
    routes += bridge.routes()
    sessions = ConsoleSessions(runtime.accounts,
                               console_secret.encode() if console_secret else None)
    console_feed = ConsoleFeed(runtime)
    routes += console.routes(runtime, sessions, console_feed, public_url)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        runtime.schedule_all()
        for service in services:
            await service.start()
        readiness.started = True
        yield
        readiness.started = False
        for service in reversed(services):
            await service.stop()
        runtime.stop()

    failures = functools.partial(Failures, max_bytes=max_body_bytes, paths={
        BRIDGE_PATH: min(max_body_bytes, RPC_MAX_BODY_BYTES),
        console.SIGN_IN_PATH: min(max_body_bytes, console.SIGN_IN_MAX_BODY_BYTES)},
        http_error=_http_error, unexpected_error=_unexpected_error)
    app = _App(cors_origins=cors_origins, ops=ops, runtime=runtime, failures=failures,
               routes=routes, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.event_bridge = bridge
    app.state.console_sessions = sessions  # authenticate() reads console sessions from here
    app.state.console_feed = console_feed
    if ops.metrics is not None:
        ops.metrics.sockets = bridge.sockets
    return app


async def _http_error(request: Request, exc: Any) -> Response:
    if exc.status_code == 404:
        return error_response(404, 20404,
                              f"The requested resource {request.url.path} was not found")
    if exc.status_code == 405:
        return error_response(405, 20004, f"Method {request.method} not allowed on "
                              f"{request.url.path}",
                              headers={"Allow": ", ".join(_allowed_methods(request))})
    return error_response(exc.status_code, exc.status_code, str(exc.detail))


_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path (RFC 9110: a 405 lists them in Allow).

    Starlette's own Allow names only the first route that matched the path, but one path is
    often several routes (one per method).
    """
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods, key=lambda m: (_METHOD_ORDER.index(m) if m in _METHOD_ORDER
                                          else len(_METHOD_ORDER), m))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, 20500, "An internal error occurred; it has been logged")
