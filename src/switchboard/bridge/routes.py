"""The event bridge on ``/v1/wschannels``: the workers' WebSocket and the JSON RPC."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route, WebSocketRoute

from switchboard.bridge.rpc import EventBridgeRpc
from switchboard.bridge.sockets import RedactTokens, WorkerSockets
from switchboard.bridge.tokens import TokenVerifier
from switchboard.service.runtime import Runtime

PATH = "/v1/wschannels"
# The RPC's bodies are an envelope of a few parameters, attributes (at most 4096 characters)
# and a token; anyone may post one, and its token is read only with the body.
RPC_MAX_BODY_BYTES = 64 * 1024


class EventBridge:
    """What the Worker SDK talks to, for one runtime."""

    def __init__(self, runtime: Runtime, public_url: str | None = None) -> None:
        self.verifier = TokenVerifier(runtime.accounts, runtime.clock)
        self.sockets = WorkerSockets(runtime, self.verifier)
        self.rpc = EventBridgeRpc(runtime, self.verifier, public_url)
        RedactTokens.install("uvicorn.error", "uvicorn.access")

    def routes(self) -> list[BaseRoute]:
        return [
            WebSocketRoute(PATH, self.sockets.endpoint),
            Route(PATH, self.rpc.handle, methods=["POST"]),
        ]
