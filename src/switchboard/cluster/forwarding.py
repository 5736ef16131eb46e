"""Every node answers every request: the owner of a workspace answers for it, the others
forward to it.

``ClusterRouter`` is the outermost ASGI layer of a cluster node. A request about a workspace
(``/v1/Workspaces/WS…/…``, the Worker SDK's RPC on ``/v1/wschannels`` naming one in its body)
that this node holds is answered here; one held by another node is sent there, with its method,
path, headers (``Host`` too, so URLs in the answer are the same) and body, and the owner's
answer is relayed as it came: status, headers, body. Everything else (accounts, keys, the list of
workspaces, health) is answered by any node from the shared store.

Ownership moves (a node dies, hands over, or is paused past its lease), so a request may meet a
workspace in between owners. The router then looks the owner up afresh and tries again, for up
to ``retry_seconds``: the request waits through a hand-over or a failover instead of failing.
A node that is asked for a workspace it no longer holds answers with ``NOT_HERE_HEADER`` (and a
404 body): the forwarder sees the mark and looks again. Forwarded requests are never forwarded
a second time, so two nodes with different views cannot pass a request back and forth.

A worker's WebSocket may reach any node too: a node that does not hold the worker's workspace
relays it to the owner (``relay_websocket``), frames in both directions, in order; if the owner
goes away, the client is told to reconnect, and its SDK reloads its state from the new owner.

Each answer names the node that ran it in ``X-Switchboard-Node``. A request answered here
without the app (relayed from the owner, or refused while no node could answer) is logged and
counted through ``Ops.forwarded``, as the app's own requests are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

import httpx
import jwt
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from switchboard.api.errors import NOT_HERE_HEADER, error_body
from switchboard.api.headers import new_request_id
from switchboard.bridge.sockets import CLIENT_LOST, RELAYED_HEADER
from switchboard.cluster.node import ClusterNode

if TYPE_CHECKING:
    from switchboard.ops.stack import Ops

log = logging.getLogger(__name__)
NODE_HEADER = b"X-Switchboard-Node"
FORWARDED_HEADER = b"x-switchboard-forwarded-by"
_NOT_HERE = NOT_HERE_HEADER.lower().encode()
_WORKSPACE_PATH = re.compile(r"^/v1/Workspaces/(WS[0-9a-fA-F]{32})(?:/|$)")
_RPC_URL = re.compile(r"(?:^|/)Workspaces/(WS[0-9a-fA-F]{32})(?:/|$)")
BRIDGE_PATH = "/v1/wschannels"
RPC_BODY_LIMIT = 64 * 1024
# Not passed on either way: they describe one connection, not the request or answer.
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"upgrade",
                         b"proxy-connection", b"te", b"trailer", b"content-length"})
_RETRY_PAUSE = 0.1  # seconds between looks at a workspace between owners
TRY_AGAIN = 1013  # WebSocket close code: the relay should find the owner again
SERVICE_RESTART = 1012  # WebSocket close code: reconnect (and the worker is not leaving)


class ClusterRouter:
    def __init__(self, app: ASGIApp, node: ClusterNode, *, max_body_bytes: int,
                 retry_seconds: float = 10.0, ops: Ops | None = None) -> None:
        self.app = app
        self.node = node
        self.ops = ops  # logs and counts what is answered here without the app
        self.max_body_bytes = max_body_bytes
        self.retry_seconds = retry_seconds
        self.node_header = (NODE_HEADER, node.id.encode())
        # Idle connections to other nodes are dropped well before the nodes' own keep-alive
        # timeout (5 s by default) can close them under a request; nodes talk directly,
        # never through a proxy the environment names.
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=2.0), trust_env=False,
            limits=httpx.Limits(max_connections=200, keepalive_expiry=2.0))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket" and scope["path"] == BRIDGE_PATH:
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def close(self) -> None:
        await self.client.aclose()

    # ------------------------------------------------------------------ HTTP

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        workspace_sid = _path_workspace(scope["path"])
        is_rpc = scope["path"] == BRIDGE_PATH and scope["method"] == "POST"
        if workspace_sid is None and not is_rpc:
            await self._local(scope, receive, send)
            return
        body, complete = await _read_body(receive, RPC_BODY_LIMIT if is_rpc
                                          else self.max_body_bytes)
        if not complete:  # too large: answered (413) here, never forwarded
            await self._local(scope, _replay(body, receive), send)
            return
        if is_rpc:
            workspace_sid = _rpc_workspace(body)
        forwarded = any(name == FORWARDED_HEADER for name, _ in scope["headers"])
        if workspace_sid is None or forwarded:
            await self._local(scope, _replay(body, _no_more), send)
            return
        await self._route(scope, body, workspace_sid, send)

    async def _route(self, scope: Scope, body: bytes, workspace_sid: str, send: Send) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        deadline = loop.time() + self.retry_seconds
        stale = False  # the last attempt met the workspace elsewhere than expected
        while True:
            if workspace_sid in self.node.runtime.engines:
                if await self._answer_here(scope, body, send):
                    return
                stale = True
            else:
                if stale or not self.node.knows(workspace_sid):
                    try:
                        exists = await self.node.refresh(workspace_sid)
                    except Exception:
                        log.exception("cannot look up the owner of %s", workspace_sid)
                        exists = True
                    if not exists:  # no such workspace: answered (404) here
                        await self._local(scope, _replay(body, _no_more), send)
                        return
                owner = self.node.owner(workspace_sid)
                url = self.node.url_of(owner) if owner not in (None, self.node.id) else None
                stale = True
                if url is not None and await self._forward(url, scope, body, send, started):
                    return
            if loop.time() >= deadline:
                break
            await asyncio.sleep(_RETRY_PAUSE)
        rid = await _answer(send, 503, 20503, f"Workspace {workspace_sid} is moving between "
                            "nodes and no node could answer for it in time; please retry")
        self._answered(scope, 503, started, None, rid)

    def _answered(self, scope: Scope, status: int, started: float, owner_url: str | None,
                  request_id: str | None) -> None:
        if self.ops is not None:
            self.ops.forwarded(scope, self.node.runtime.accounts, status,
                               time.perf_counter() - started, owner_url, request_id)

    async def _local(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), self.node_header]
            await send(message)

        await self.app(scope, receive, named)

    async def _answer_here(self, scope: Scope, body: bytes, send: Send) -> bool:
        """Answer here; False, with nothing sent, if the workspace turned out to have left
        this node meanwhile."""
        not_here = False

        async def checked(message: Message) -> None:
            nonlocal not_here
            if message["type"] == "http.response.start" and any(
                    name.lower() == _NOT_HERE for name, _ in message.get("headers", ())):
                not_here = True
            if not not_here:
                await send(message)

        await self._local(scope, _replay(body, _no_more), checked)
        return not not_here

    async def _forward(self, url: str, scope: Scope, body: bytes, send: Send,
                       started: float) -> bool:
        """Send the request to the owner and relay its answer; False if it did not answer
        for the workspace (unreachable, or no longer its owner): nothing was sent then."""
        target = url.rstrip("/") + scope.get("raw_path", scope["path"].encode()).decode(
            "latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        headers = [(name, value) for name, value in scope["headers"]
                   if name not in _HOP_BY_HOP]
        headers.append((FORWARDED_HEADER, self.node.id.encode()))
        try:
            request = self.client.build_request(scope["method"], target, headers=headers,
                                                content=body)
            answer = await self.client.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # never reached the owner
            log.info("forwarding %s %s to %s failed: %s", scope["method"], scope["path"], url,
                     exc)
            return False
        except httpx.HTTPError as exc:
            if scope["method"] in ("GET", "HEAD"):  # safe to ask again
                return False
            # The owner had the request and went away before answering: whether the change
            # was made cannot be known here, so it is not made twice.
            log.warning("the owner at %s failed while answering %s %s: %s", url,
                        scope["method"], scope["path"], exc)
            rid = await _answer(send, 502, 20500, "The node owning this workspace stopped "
                                "while answering; the change may or may not have been made")
            self._answered(scope, 502, started, url, rid)
            return True
        if answer.headers.get(NOT_HERE_HEADER):
            return False
        await send({"type": "http.response.start", "status": answer.status_code,
                    "headers": [(name, value) for name, value in answer.headers.raw
                                if name.lower() not in _HOP_BY_HOP]
                    + [(b"content-length", str(len(answer.content)).encode())]})
        await send({"type": "http.response.body", "body": answer.content})
        self._answered(scope, answer.status_code, started, url,
                       answer.headers.get("Twilio-Request-Id"))
        return True

    # ------------------------------------------------------------------ WebSocket

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        workspace_sid = _token_workspace(query.get("token", ""))
        relayed = any(name == RELAYED_HEADER.lower().encode() for name, _ in scope["headers"])
        if workspace_sid is None or workspace_sid in self.node.runtime.engines:
            await self.app(scope, receive, send)
            return
        if relayed:  # relayed here too early or too late: the relay looks for the owner again
            socket = WebSocket(scope, receive, send)
            await socket.accept()
            await _close(socket, TRY_AGAIN, "This node does not hold the workspace now")
            return
        await relay_websocket(WebSocket(scope, receive, send), self.node, workspace_sid,
                              scope.get("query_string", b"").decode("latin-1"),
                              self.retry_seconds)


async def relay_websocket(client: WebSocket, node: ClusterNode, workspace_sid: str,
                          query: str, retry_seconds: float) -> None:
    """Carry a worker's WebSocket to the node that owns its workspace, frames both ways in
    order, until either side closes. If the owner goes away (it died, or handed the workspace
    over), the client is told to reconnect (1012, as a restarting server says): its SDK
    reconnects and reloads its worker's state, so nothing pushed in between is missed."""
    loop = asyncio.get_running_loop()
    # The client's handshake completes only once the owner's has: until then it waits as for
    # a slow server, rather than on an open socket that says nothing.
    upstream = await _open_upstream(node, workspace_sid, query, loop.time() + retry_seconds)
    if upstream is None:
        await client.close(TRY_AGAIN)  # before accepting: the handshake is refused
        return
    await client.accept()
    to_client = asyncio.create_task(_pump_down(upstream, client))
    to_owner = asyncio.create_task(_pump_up(client, upstream))
    done, _ = await asyncio.wait({to_client, to_owner}, return_when=asyncio.FIRST_COMPLETED)
    if to_owner in done:  # the client left: the owner hears how
        to_client.cancel()
        code = to_owner.result()
        with contextlib.suppress(Exception):
            await upstream.close(code if code in (1000, 1001) or 4000 <= code < 5000
                                 else CLIENT_LOST)
        return
    to_owner.cancel()
    closed = upstream.close_code
    if closed is None or closed in (1001, 1006, 1011, TRY_AGAIN):
        closed = SERVICE_RESTART
    await _close(client, closed, upstream.close_reason or "The workspace moved; reconnect")


async def _open_upstream(node: ClusterNode, workspace_sid: str, query: str, deadline: float
                         ) -> ClientConnection | None:
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        owner = node.owner(workspace_sid)
        url = node.url_of(owner) if owner not in (None, node.id) else None
        if owner == node.id and workspace_sid in node.runtime.engines:
            url = node.config.url  # it came here meanwhile: relay to this node's own endpoint
        if url is not None:
            target = re.sub(r"^http", "ws", url.rstrip("/")) + BRIDGE_PATH + "?" + query
            try:
                upstream = await connect(target, additional_headers={RELAYED_HEADER: node.id},
                                         open_timeout=5, compression=None, max_size=2**20)
                log.info("relaying a WebSocket of %s to %s", workspace_sid, url)
                return upstream
            except (TimeoutError, OSError, InvalidStatus, WebSocketException) as exc:
                log.info("relaying a WebSocket of %s to %s failed: %s", workspace_sid, url, exc)
        await asyncio.sleep(_RETRY_PAUSE * 2)
        with contextlib.suppress(Exception):
            await node.refresh(workspace_sid)
    return None


async def _pump_down(upstream: ClientConnection, client: WebSocket) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for message in upstream:
            if isinstance(message, bytes):
                await client.send_bytes(message)
            else:
                await client.send_text(message)


async def _pump_up(client: WebSocket, upstream: ClientConnection) -> int:
    """Relay the client's messages; its close code when it leaves."""
    while True:
        try:
            message = await client.receive()
        except WebSocketDisconnect as exc:
            return exc.code
        if message["type"] == "websocket.disconnect":
            return int(message.get("code") or 1005)
        with contextlib.suppress(ConnectionClosed):
            if message.get("text") is not None:
                await upstream.send(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send(message["bytes"])


async def _close(client: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await client.close(code, reason.encode()[:120].decode(errors="ignore"))


# ---------------------------------------------------------------------- helpers


def _path_workspace(path: str) -> str | None:
    found = _WORKSPACE_PATH.match(path)
    return found.group(1) if found else None


def _rpc_workspace(body: bytes) -> str | None:
    """The workspace an RPC envelope's ``url`` names (None if it names none, or is not one)."""
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    url = envelope.get("url") if isinstance(envelope, dict) else None
    found = _RPC_URL.search(url) if isinstance(url, str) else None
    return found.group(1) if found else None


def _token_workspace(token: str) -> str | None:
    """The workspace a worker's token is for, read without checking it: only to choose where
    to send the socket; the owner checks the token."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    grants = claims.get("grants") if isinstance(claims, dict) else None
    if isinstance(grants, dict):
        grant = grants.get("task_router")
        if isinstance(grant, dict) and isinstance(grant.get("workspace_sid"), str):
            return str(grant["workspace_sid"])
    workspace = claims.get("workspace_sid") if isinstance(claims, dict) else None
    return workspace if isinstance(workspace, str) else None


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The request's body, up to ``limit`` bytes; whether that was all of it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False


def _replay(body: bytes, then: Receive) -> Receive:
    """A ``receive`` that gives the body read so far, then whatever ``then`` gives."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": then is not _no_more}
        return await then()

    return receive


async def _no_more() -> Message:
    # The body was read whole: nothing more will come; wait as a client that keeps the
    # connection open would look (the app stops asking once it has answered).
    await asyncio.Event().wait()
    return {"type": "http.disconnect"}


async def _answer(send: Send, status: int, code: int, message: str) -> str:
    """Answer with a Twilio error; returns the answer's request ID."""
    body = error_body(status, code, message)
    rid = new_request_id()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"Content-Type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"Twilio-Request-Id", rid.encode()), (b"Retry-After", b"1")]})
    await send({"type": "http.response.body", "body": body})
    return rid

