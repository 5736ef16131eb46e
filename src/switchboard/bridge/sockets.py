"""Workers' WebSockets on ``/v1/wschannels``: who is connected, and what is pushed to them.

The Worker SDK connects with ``?token=…&closeExistingSessions=…&clientVersion=…
[&setWorkerOfflineIfDisconnected=…]``. The first frame it gets is ``init`` (its worker,
account, workspace and how long its token lives); then every committed event about its
worker, reservations and tasks (``frames.py``), in commit order; and a heartbeat (a blank
frame) whenever nothing else was sent for a while, because the SDK reconnects after 30 s of
silence.

Pushing never waits: each connection has a bounded queue drained by its own writer task, so a
slow or dead client delays neither routing nor anyone else. A connection whose queue
overflows is dropped (the SDK reconnects and reloads its state).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from starlette.websockets import WebSocket

from switchboard.bridge import frames
from switchboard.bridge.tokens import Forbidden, Grant, TokenError, TokenVerifier
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.errors import RoutingError
from switchboard.routing.model import Activity, Event
from switchboard.service.runtime import Runtime

log = logging.getLogger(__name__)
QUEUE_SIZE = 1_000
HEARTBEAT_SECONDS = 10.0
# uvicorn closes every WebSocket with 1012 (service restart) when the server shuts down: that
# is not the worker going away, so it keeps its activity.
SERVICE_RESTART = 1012
CLOSE_REPLACED = 4409  # another session of the worker opened with closeExistingSessions=true
CLOSE_TOO_SLOW = 4429  # the client did not read its frames fast enough
CLOSE_GONE = 4410  # the worker or its workspace was deleted
TOKEN_LIFETIME_MAX_MS = 2_147_000_000  # the SDK's expiry timer is a setTimeout (32-bit ms)
# How long a socket closed for a deleted worker may take to send the frames already queued for
# it (its reservations' last events) before it is closed anyway.
DRAIN_SECONDS = 2.0
# A socket relayed by another node of a cluster (``cluster/forwarding.py``) that closes for any
# reason but the worker's own leaving (that node died, or moved on) is not the worker leaving:
# its SDK reconnects, through another node if need be. setWorkerOfflineIfDisconnected then
# waits this long for it before setting the worker offline. The relay tells the worker's own
# leaving by passing its close code on (1000, 1001, 4xxx), or CLIENT_LOST when the worker's
# connection dropped without a close (as 1006 would say on a direct socket).
RELAYED_HEADER = "X-Switchboard-Relayed-By"
RELAY_GRACE_SECONDS = 15.0
CLIENT_LOST = 4006


class Connection:
    """One WebSocket of one worker."""

    __slots__ = ("account_sid", "closer", "closing", "last_queued", "offline_on_close",
                 "queue", "websocket", "worker_sid", "workspace_sid", "writer")

    def __init__(self, websocket: WebSocket, grant: Grant, worker_sid: str,
                 offline_on_close: bool, queue_size: int) -> None:
        self.websocket = websocket
        self.account_sid = grant.account_sid
        self.workspace_sid = grant.workspace_sid
        self.worker_sid = worker_sid
        self.offline_on_close = offline_on_close
        self.queue: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self.last_queued = asyncio.get_running_loop().time()
        self.closing = False
        self.writer: asyncio.Task[None] | None = None
        self.closer: asyncio.Task[None] | None = None

    def push(self, text: str) -> bool:
        """Queue a frame; False if the queue is full (the connection must then be dropped)."""
        if self.closing:
            return True
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        self.last_queued = asyncio.get_running_loop().time()
        return True

    async def write(self) -> None:
        try:
            while True:
                await self.websocket.send_text(await self.queue.get())
                self.queue.task_done()
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket went away: its reader sees the disconnect
            log.debug("push to worker %s stopped", self.worker_sid, exc_info=True)

    def close(self, code: int, reason: str, *, drain: bool = False) -> None:
        """Stop pushing and close the socket (without waiting: called from listeners); with
        ``drain``, once the frames already queued are sent."""
        if self.closing:
            return
        self.closing = True
        writer = self.writer
        if writer is not None and not drain:
            writer.cancel()
        self.closer = asyncio.get_running_loop().create_task(
            self._close(code, reason, writer if drain else None))

    async def _close(self, code: int, reason: str,
                     draining: asyncio.Task[None] | None) -> None:
        if draining is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.queue.join(), DRAIN_SECONDS)
            draining.cancel()
        with contextlib.suppress(Exception):
            await self.websocket.close(code, _reason(reason))


class WorkerSockets:
    """Every worker connection of this server, by workspace and worker."""

    def __init__(self, runtime: Runtime, verifier: TokenVerifier, *,
                 queue_size: int = QUEUE_SIZE, heartbeat_seconds: float = HEARTBEAT_SECONDS):
        self.runtime = runtime
        self.verifier = verifier
        self.queue_size = queue_size
        self.heartbeat_seconds = heartbeat_seconds
        # workspace sid -> worker sid -> that worker's connections
        self.workspaces: dict[str, dict[str, list[Connection]]] = {}
        self.count = 0
        self.relay_grace_seconds = RELAY_GRACE_SECONDS
        self._heartbeat: asyncio.Task[None] | None = None
        runtime.add_listener(self.on_events)
        runtime.add_workspace_listener(self)

    # ------------------------------------------------------------------ the WebSocket route

    async def endpoint(self, websocket: WebSocket) -> None:
        query = websocket.query_params
        try:
            grant, worker_sid = self._authenticate(query.get("token", ""))
        except RoutingError as exc:
            await _refuse(websocket, exc)
            return
        await websocket.accept()
        conn = Connection(websocket, grant, worker_sid,
                          offline_on_close=_flag(query.get("setWorkerOfflineIfDisconnected"),
                                                 default=True),
                          queue_size=self.queue_size)
        now = self.runtime.clock.now_ms()
        conn.push(frames.frame_text("init", {
            "channel_id": worker_sid,
            "account_sid": grant.account_sid,
            "workspace_sid": grant.workspace_sid,
            "token_lifetime": max(0, min(grant.expires_ms - now, TOKEN_LIFETIME_MAX_MS)),
        }))
        self._add(conn, close_others=_flag(query.get("closeExistingSessions"), default=False))
        conn.writer = asyncio.create_task(conn.write())
        code = 1006
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    code = int(message.get("code") or 1005)
                    break
        finally:
            conn.closing = True
            conn.writer.cancel()
            self._remove(conn)
        if conn.offline_on_close and code != SERVICE_RESTART:
            relayed = websocket.headers.get(RELAYED_HEADER)
            if relayed and not (code in (1000, 1001) or 4000 <= code < 5000):
                await asyncio.sleep(self.relay_grace_seconds)
            log.info("worker %s disconnected (close code %s%s); setting it offline unless "
                     "it has another session", conn.worker_sid, code,
                     f", relayed by {relayed}" if relayed else "")
            await self._set_offline(conn)

    def _authenticate(self, token: str) -> tuple[Grant, str]:
        if not token:
            raise TokenError("Missing required query parameter token")
        grant = self.verifier.verify(token)
        if grant.worker_sid is None:
            raise Forbidden("The token names no worker: the event bridge's WebSocket is a "
                            "worker's channel")
        engine = self.runtime.engine(grant.account_sid, grant.workspace_sid)
        engine.worker(grant.worker_sid)
        grant.check_policies("GET", f"/v1/wschannels/{grant.account_sid}/{grant.worker_sid}",
                             {})
        return grant, grant.worker_sid

    # ------------------------------------------------------------------ registry

    def connections(self, workspace_sid: str, worker_sid: str) -> list[Connection]:
        return self.workspaces.get(workspace_sid, {}).get(worker_sid, [])

    def _add(self, conn: Connection, close_others: bool) -> None:
        if close_others:
            for other in list(self.connections(conn.workspace_sid, conn.worker_sid)):
                self._drop(other, CLOSE_REPLACED,
                           "Closed: another session of this worker opened with "
                           "closeExistingSessions=true")
        workers = self.workspaces.setdefault(conn.workspace_sid, {})
        workers.setdefault(conn.worker_sid, []).append(conn)
        self.count += 1
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._beat())

    def _remove(self, conn: Connection) -> None:
        workers = self.workspaces.get(conn.workspace_sid)
        mine = workers.get(conn.worker_sid) if workers is not None else None
        if workers is None or mine is None or conn not in mine:
            return
        mine.remove(conn)
        self.count -= 1
        if not mine:
            del workers[conn.worker_sid]
        if not workers:
            del self.workspaces[conn.workspace_sid]
        if self.count == 0 and self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    def _drop(self, conn: Connection, code: int, reason: str, *, drain: bool = False) -> None:
        self._remove(conn)
        conn.close(code, reason, drain=drain)

    # ------------------------------------------------------------------ push

    def on_events(self, workspace_sid: str, events: list[Event]) -> None:
        """The runtime's listener: queue each committed event's frame for its workers."""
        workers = self.workspaces.get(workspace_sid)
        if not workers:
            return
        engine = self.runtime.engines.get(workspace_sid)
        if engine is None:  # deleted, or (in a cluster) moved to another node
            if any(e.event_type == "workspace.deleted" for e in events):
                self._drop_workspace(workspace_sid, CLOSE_GONE, "The workspace was deleted")
            else:
                self.workspace_unloaded(workspace_sid)
            return
        for frame in frames.frames(engine, events, self.runtime.clock.now_ms(), workers):
            for worker_sid in frame.worker_sids:
                for conn in list(workers.get(worker_sid, ())):
                    if not conn.push(frame.text):
                        log.warning("dropping a WebSocket of worker %s: %d frames unread",
                                    worker_sid, self.queue_size)
                        self._drop(conn, CLOSE_TOO_SLOW, "Too slow: frames were not read")
        for event in events:
            if event.event_type == "worker.deleted" and event.worker_sid in workers:
                for conn in list(workers.get(event.worker_sid, ())):
                    # Its reservations' last events (canceled) are pushed before it goes.
                    self._drop(conn, CLOSE_GONE, "The worker was deleted", drain=True)

    def workspace_loaded(self, workspace_sid: str) -> None:
        """Runtime workspace listener: nothing to do (workers connect when they will)."""

    def workspace_unloaded(self, workspace_sid: str) -> None:
        """The workspace moved to another node: its workers reconnect (their SDK, or the
        node relaying them) and reach the new owner; a restart, not a departure."""
        self._drop_workspace(workspace_sid, SERVICE_RESTART,
                             "The workspace moved to another node; reconnect")

    def _drop_workspace(self, workspace_sid: str, code: int, reason: str) -> None:
        for conns in list(self.workspaces.get(workspace_sid, {}).values()):
            for conn in list(conns):
                self._drop(conn, code, reason)

    async def _beat(self) -> None:
        """Send a blank frame to every connection that has been quiet for a while."""
        loop = asyncio.get_running_loop()
        period = self.heartbeat_seconds / 4  # so no connection is quiet much longer than that
        while True:
            await asyncio.sleep(period)
            quiet_since = loop.time() - (self.heartbeat_seconds - period)
            for workers in list(self.workspaces.values()):
                for conns in list(workers.values()):
                    for conn in list(conns):
                        if conn.last_queued <= quiet_since and not conn.push(" "):
                            self._drop(conn, CLOSE_TOO_SLOW, "Too slow: frames were not read")

    # ------------------------------------------------------------------ disconnection

    async def _set_offline(self, conn: Connection) -> None:
        """``setWorkerOfflineIfDisconnected``: the worker's last socket closed."""
        def command(engine: WorkspaceEngine, now: int) -> None:
            worker = engine.workers.get(conn.worker_sid)
            offline = offline_activity(engine)
            if (worker is None or offline is None or worker.activity_sid == offline.sid
                    or self.connections(conn.workspace_sid, conn.worker_sid)):
                return
            engine.update_worker(worker.sid, now, activity_sid=offline.sid)

        try:
            # Shielded: once the command has run, its commit must complete even if this
            # connection's handler is cancelled (e.g. by a server shutting down).
            await asyncio.shield(self.runtime.run(conn.account_sid, conn.workspace_sid,
                                                  command))
        except RoutingError as exc:
            log.info("worker %s was not set offline: %s", conn.worker_sid, exc.message)


class RedactTokens(logging.Filter):
    """The SDK sends its token in the WebSocket URL; keep it out of the server's logs."""

    TOKEN = re.compile(r"([?&]token=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
                isinstance(a, str) and "token=" in a for a in record.args):
            record.args = tuple(self.TOKEN.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                                for a in record.args)
        return True

    @classmethod
    def install(cls, *logger_names: str) -> None:
        for name in logger_names:
            logger = logging.getLogger(name)
            if not any(isinstance(f, cls) for f in logger.filters):
                logger.addFilter(cls())


def offline_activity(engine: WorkspaceEngine) -> Activity | None:
    """Where a disconnected worker goes: the unavailable activity named Offline, else the
    workspace's default activity if it is unavailable."""
    for activity in engine.activities.values():
        if activity.friendly_name.casefold() == "offline" and not activity.available:
            return activity
    default = engine.activities.get(engine.workspace.default_activity_sid or "")
    return default if default is not None and not default.available else None


async def _refuse(websocket: WebSocket, exc: RoutingError) -> None:
    """Tell the SDK why (an ``error`` frame it re-emits as the Worker's error), then close."""
    await websocket.accept()
    with contextlib.suppress(Exception):
        await websocket.send_text(frames.frame_text(
            "error", {"code": exc.code, "status": exc.status, "message": exc.message}))
        await websocket.close(4000 + exc.status, _reason(exc.message))


def _reason(text: str) -> str:
    """A close reason: at most 123 bytes of UTF-8."""
    data = text.encode()
    return text if len(data) <= 123 else data[:120].decode(errors="ignore") + "..."


def _flag(value: str | None, *, default: bool) -> bool:
    if value is None or value == "" or value == "undefined":
        return default
    return value.strip().lower() in ("true", "1", "yes")

