"""``switchboard simulate``: simulated workers and tasks driving a workspace through TaskRouter's
public REST API and the workers' event stream.

N workers go available, are offered reservations, and accept after a think time, reject, or
let the offer time out (each with a given probability); an accepted task is handled for a
while and completed, and the worker goes available again (also after a timed-out offer, whose
timeout activity would otherwise keep it away). Tasks arrive at a given rate (exponential
inter-arrival times) with given attributes.

Each simulated worker hears of its offers the way the Worker SDK (twilio-taskrouter.js) does:
through a WebSocket of its own to the event bridge (the SDK's ``wsServer``), opened with an
access token (``AccessToken`` + ``TaskRouterGrant``, signed with an API key), which pushes
``reservation.created``, ``reservation.timeout``, ``worker.activity.update`` and the rest. It
answers through the REST API with the official client. Nothing polls reservations or workers.

Knowing when the pushes have all arrived: after each of its own requests, the simulation reads
the workspace's event log (the Events API) from where it last stopped, counts the events it
acts on per worker, and waits until each worker's stream has delivered that many pushes of
them; only then does it decide anything. On a server with the manual clock
(``serve --clock manual``) the simulation moves time itself (``POST /dev/clock``) from one
event to the next, so nothing happens between its requests: each step sees exactly the pushes
its request caused, it runs much faster than real time, and a seed gives the same run every
time (each task's decisions come from its own random stream, seeded by the seed, the task and
the offer, whichever worker it is offered to; pushes that arrive together are handled in a
fixed order). On the system clock it runs in real time and answers pushes as they arrive
(a timer's effects come with no request of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import queue
import random
import threading
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import click
import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from switchboard.workspace_file import ACCOUNT, TOKEN, URL, api_errors, client_for

T = TypeVar("T")
# Pushes the simulation acts on (and waits for); the stream carries others, which it ignores.
CLOSED = frozenset({"reservation.timeout", "reservation.canceled", "reservation.rescinded"})
ACTED_ON = CLOSED | {"reservation.created", "worker.activity.update"}
LOOK_MS = 5000  # an ignored offer still pending at its deadline: look again this much later
DELIVERY_SECONDS = 30.0  # how long a push the event log holds may take to arrive
# On the system clock the server's clock and ours may differ a little: the event log is read
# from this much before where it was last read (events already counted are skipped). An event
# missed all the same only shortens a wait: its push is handled when it comes.
LOG_OVERLAP_MS = 5_000
TOKEN_TTL = 24 * 3600  # seconds; the longest an access token may live on Twilio
CLIENT_VERSION = "2.1.1"  # the Worker SDK release whose protocol the streams speak
OPENING_AT_ONCE = 50  # WebSockets opened concurrently


@dataclass(frozen=True)
class Plan:
    workers: int = 5
    tasks: int = 20
    rate_per_minute: float = 6.0
    think_seconds: float = 5.0
    handle_seconds: float = 60.0
    reject_probability: float = 0.1
    timeout_probability: float = 0.05
    task_attributes: dict[str, Any] = field(default_factory=dict)
    worker_attributes: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    max_seconds: float = 24 * 3600.0


@dataclass
class Tally:
    accepted: int = 0
    rejected: int = 0
    timed_out: int = 0
    completed: int = 0


class StreamError(RuntimeError):
    """A worker's event stream was refused, closed, or did not deliver what the log holds."""


class Clock:
    """The server's time: moved through /dev/clock when it is manual, else the wall's."""

    def __init__(self, url: str, auth: tuple[str, str]) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), auth=auth, timeout=60,
                                  trust_env=False)
        reply = self._http.get("/dev/clock")
        self.manual = reply.status_code == 200
        self._start_ms = int(reply.json()["now_ms"]) if self.manual else _wall_ms()
        self._moved = 0  # ms the manual clock was moved since the start

    @property
    def now(self) -> int:
        """Milliseconds since the start."""
        return self._moved if self.manual else _wall_ms() - self._start_ms

    def server_ms(self) -> int:
        """The server's time (epoch ms)."""
        return self._start_ms + self.now

    def move_to(self, at_ms: int) -> None:
        if at_ms <= self.now:
            return
        if self.manual:
            self._http.post("/dev/clock", data={"Advance": f"{(at_ms - self.now) / 1000:.3f}"}
                            ).raise_for_status()
            self._moved = at_ms
        else:
            time.sleep((at_ms - self.now) / 1000)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


Pushed = tuple[str, str, dict[str, Any]]  # (the stream's worker SID, event type, payload)


class Streams:
    """The simulated workers' event streams: a WebSocket each to the event bridge, opened as
    the Worker SDK opens it, all read on one background thread (its own event loop); what they
    push lands on one queue, each stream's pushes in their order."""

    def __init__(self, ws_server: str, tokens: dict[str, str]) -> None:
        self.ws_server = ws_server
        self.tokens = tokens  # worker SID -> access token
        self._pushed: queue.Queue[Pushed] = queue.Queue()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="simulate-streams")
        self._sockets: list[ClientConnection] = []
        self._readers: list[asyncio.Task[None]] = []
        self._closing = False

    def __enter__(self) -> Streams:
        self._thread.start()
        try:
            self._call(self._open_all())
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def get(self, timeout: float) -> Pushed | None:
        """The next push, waiting at most ``timeout`` seconds for one."""
        try:
            item = self._pushed.get(timeout=timeout) if timeout > 0 else self._pushed.get_nowait()
        except queue.Empty:
            return None
        worker_sid, kind, payload = item
        if kind == "closed":
            raise StreamError(f"the event stream of worker {worker_sid} closed: "
                              f"{payload.get('code')} {payload.get('reason') or ''}".rstrip())
        return item

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._call(self._close_all(), timeout=DELIVERY_SECONDS)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()

    def _call(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    async def _open_all(self) -> None:
        at_once = asyncio.Semaphore(OPENING_AT_ONCE)

        async def open_one(worker_sid: str, token: str) -> None:
            async with at_once:
                await self._open(worker_sid, token)

        await asyncio.gather(*(open_one(sid, token) for sid, token in self.tokens.items()))

    async def _open(self, worker_sid: str, token: str) -> None:
        # The SDK's query: keep other sessions of the worker, and leave its activity alone
        # when the simulation ends (as it was before the socket opened).
        query = urlencode({"token": token, "closeExistingSessions": "false",
                           "clientVersion": CLIENT_VERSION,
                           "setWorkerOfflineIfDisconnected": "false"})
        socket = await connect(f"{self.ws_server}?{query}", open_timeout=DELIVERY_SECONDS)
        self._sockets.append(socket)
        while (first := _frame(await socket.recv())) is None:  # a heartbeat
            pass
        kind, payload = first
        if kind != "init":  # the bridge says why it refused with an "error" frame
            raise StreamError(f"the event bridge refused worker {worker_sid}: "
                              f"{payload.get('message') or kind}")
        self._readers.append(asyncio.create_task(self._read(worker_sid, socket)))

    async def _read(self, worker_sid: str, socket: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in socket:
                if (frame := _frame(message)) is not None:
                    self._pushed.put((worker_sid, *frame))
        if not self._closing:
            self._pushed.put((worker_sid, "closed", {"code": socket.close_code,
                                                     "reason": socket.close_reason}))

    async def _close_all(self) -> None:
        await asyncio.gather(*(s.close() for s in self._sockets), return_exceptions=True)
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


def _frame(message: str | bytes) -> tuple[str, dict[str, Any]] | None:
    """A frame's event type and payload; None for a heartbeat (a blank frame)."""
    text = message.decode() if isinstance(message, bytes) else message
    if not text.strip():
        return None
    data = json.loads(text)
    return str(data.get("event_type")), data.get("payload") or {}


class Deliveries:
    """Pushes due and pushes received, per (worker, event type, resource), for the events the
    simulation acts on: the event log (the Events API) says what is due."""

    def __init__(self, ws: Any, workers: Iterable[str], clock: Clock) -> None:
        self._ws = ws
        self._workers = frozenset(workers)
        self._clock = clock
        self._counted: set[str] = set()  # event SIDs
        self._read_from = clock.server_ms()
        # due minus received; positive: still to come
        self.outstanding: dict[tuple[str, str, str], int] = {}
        self.read_log(count=False)  # what happened before the streams opened is not due

    def read_log(self, *, count: bool = True) -> None:
        now = self._clock.server_ms()
        start = self._read_from - (0 if self._clock.manual else LOG_OVERLAP_MS)
        for event in self._ws.events.stream(
                start_date=datetime.fromtimestamp(start // 1000, UTC), page_size=1000):
            if event.sid in self._counted:
                continue
            self._counted.add(event.sid)
            worker_sid = (event.event_data or {}).get("worker_sid")
            if count and event.event_type in ACTED_ON and worker_sid in self._workers:
                self._add((worker_sid, event.event_type, event.resource_sid), 1)
        self._read_from = now

    def received(self, item: Pushed) -> None:
        worker_sid, kind, payload = item
        if kind in ACTED_ON:
            self._add((worker_sid, kind, str(payload.get("sid"))), -1)

    def missing(self) -> list[tuple[str, str, str]]:
        return [key for key, count in self.outstanding.items() if count > 0]

    def _add(self, key: tuple[str, str, str], delta: int) -> None:
        count = self.outstanding.get(key, 0) + delta
        if count:
            self.outstanding[key] = count
        else:
            self.outstanding.pop(key, None)


class Simulation:
    """One run of a plan on a workspace."""

    def __init__(self, client: Any, clock: Clock, workspace_sid: str, plan: Plan,
                 workflow_sid: str | None, ws_server: str,
                 api_key: tuple[str, str] | None) -> None:
        self.client = client
        self.clock = clock
        self.plan = plan
        self.ws_server = ws_server
        self.api_key = api_key
        self.ws = client.taskrouter.v1.workspaces(workspace_sid)
        self.workspace_sid = workspace_sid
        self.workflow_sid = workflow_sid
        self.available = ""
        self.names: dict[str, str] = {}  # worker SID -> name
        self.activity: dict[str, str | None] = {}  # worker SID -> activity SID, as pushed
        self.events: list[tuple[int, int, str, tuple[Any, ...]]] = []  # a heap
        self.seq = 0
        self.tally: dict[str, Tally] = {}
        self.task_index: dict[str, int] = {}
        self.created_at: dict[str, int] = {}
        self.waits: list[float] = []
        self.offers: dict[str, int] = {}  # task SID -> offers seen so far
        self.answering: dict[str, str] = {}  # reservation SID -> worker SID, answer scheduled
        self.ignored: dict[str, str] = {}  # reservation SID -> worker SID, left to time out
        self.handling: set[str] = set()  # task SIDs accepted, not yet completed
        self.busy: set[str] = set()  # workers with an offer or a task
        self.streams: Streams | None = None
        self.deliveries: Deliveries | None = None

    def run(self) -> dict[str, Any]:
        ws = self.ws
        activities = ws.activities.list()
        self.available = next((a.sid for a in activities if a.friendly_name == "Available"),
                               next(a.sid for a in activities if a.available))
        self.workflow_sid = self.workflow_sid or ws.workflows.list()[0].sid
        existing = {w.friendly_name: w.sid for w in ws.workers.list()}
        for name in (f"sim-{i + 1:03d}" for i in range(self.plan.workers)):
            sid = existing.get(name) or ws.workers.create(
                friendly_name=name, attributes=json.dumps(self.plan.worker_attributes)).sid
            self.names[sid] = name
            self.tally[name] = Tally()
        made_key = self.api_key is None
        key = self.api_key or _make_key(self.client)
        try:
            self.deliveries = Deliveries(ws, self.names, self.clock)
            with Streams(self.ws_server, self._tokens(key)) as self.streams:
                return self._drive()
        finally:
            if made_key:
                self.client.keys(key[0]).delete()

    def _tokens(self, key: tuple[str, str]) -> dict[str, str]:
        from twilio.jwt.access_token import AccessToken
        from twilio.jwt.access_token.grants import TaskRouterGrant

        now = self.clock.server_ms() // 1000
        tokens = {}
        for sid, name in self.names.items():
            token = AccessToken(self.client.account_sid, key[0], key[1], identity=name,
                                nbf=now, valid_until=now + TOKEN_TTL)
            token.add_grant(TaskRouterGrant(workspace_sid=self.workspace_sid, worker_sid=sid,
                                            role="worker"))
            tokens[sid] = str(token.to_jwt())
        return tokens

    def _drive(self) -> dict[str, Any]:
        clock, plan = self.clock, self.plan
        for sid in self.names:  # one millisecond apart: who has waited longest is never a tie
            self.ws.workers(sid).update(activity_sid=self.available)
            self.activity[sid] = self.available
            clock.move_to(clock.now + 1)
        self._handle(self._settle())

        arrivals = random.Random(plan.seed)
        t = clock.now
        for index in range(plan.tasks):
            t += max(1, round(arrivals.expovariate(plan.rate_per_minute / 60) * 1000))
            self._at(t, "arrive", index)
        begin = clock.now
        assert self.streams is not None
        while self.events:
            when = self.events[0][0]
            if not clock.manual:
                # Meanwhile, answer what is pushed (a timer's effects) as it arrives.
                pushed = self.streams.get(max(0.0, (when - clock.now) / 1000))
                if pushed is not None:
                    self._received(pushed)
                    self._handle([pushed, *self._drain()])
                    continue
            when, _, kind, data = heapq.heappop(self.events)
            if when - begin > plan.max_seconds * 1000:
                break
            clock.move_to(when)
            getattr(self, "_" + kind)(*data)
            self._handle(self._settle())
            if self.ignored and not any(item[2] == "look" for item in self.events):
                # An offer left to time out is still pending: look again a little later.
                self._at(clock.now + LOOK_MS, "look")

        waits = self.waits
        return {
            "seed": plan.seed, "tasks": len(self.task_index),
            "completed": sum(t.completed for t in self.tally.values()),
            "accepted": sum(t.accepted for t in self.tally.values()),
            "rejected": sum(t.rejected for t in self.tally.values()),
            "timed_out": sum(t.timed_out for t in self.tally.values()),
            "wait_seconds": {"avg": round(sum(waits) / len(waits), 3) if waits else None,
                             "max": max(waits) if waits else None},
            "simulated_seconds": (clock.now - begin) / 1000,
            "workers": {name: vars(t) for name, t in self.tally.items()},
        }

    def _at(self, ms: int, kind: str, *data: Any) -> None:
        self.seq += 1
        heapq.heappush(self.events, (ms, self.seq, kind, data))

    # ------------------------------------------------------------------ what happens at a time

    def _arrive(self, index: int) -> None:
        task = self.ws.tasks.create(workflow_sid=self.workflow_sid,
                                    attributes=json.dumps(self.plan.task_attributes))
        self.task_index[task.sid] = index
        self.created_at[task.sid] = self.clock.now

    def _accept(self, reservation_sid: str, task_sid: str, worker_sid: str) -> None:
        if self.answering.pop(reservation_sid, None) is None:
            return  # the offer was withdrawn (or timed out) before the think time was over
        if self._answer(reservation_sid, task_sid, worker_sid, "accepted"):
            self.tally[self.names[worker_sid]].accepted += 1
            self.waits.append((self.clock.now - self.created_at[task_sid]) / 1000)
            self.handling.add(task_sid)

    def _reject(self, reservation_sid: str, task_sid: str, worker_sid: str) -> None:
        if self.answering.pop(reservation_sid, None) is None:
            return
        if self._answer(reservation_sid, task_sid, worker_sid, "rejected"):
            self.tally[self.names[worker_sid]].rejected += 1
            self.busy.discard(worker_sid)

    def _answer(self, reservation_sid: str, task_sid: str, worker_sid: str,
                status: str) -> bool:
        from twilio.base.exceptions import TwilioRestException

        try:
            self.ws.tasks(task_sid).reservations(reservation_sid).update(
                reservation_status=status)
        except TwilioRestException as exc:
            if exc.status >= 500 or self.clock.manual:
                raise
            # On the system clock its timeout may have fired meanwhile (pushed, not yet read).
            self.busy.discard(worker_sid)
            return False
        return True

    def _complete(self, task_sid: str, worker_sid: str) -> None:
        if task_sid not in self.handling:
            return
        self.handling.discard(task_sid)
        self.ws.tasks(task_sid).update(assignment_status="completed", reason="simulated")
        self.tally[self.names[worker_sid]].completed += 1
        self.busy.discard(worker_sid)

    def _look(self) -> None:
        """Nothing to do: the clock moved for a reservation's timeout."""

    # ------------------------------------------------------------------ what is pushed

    def _settle(self) -> list[Pushed]:
        """After a request: wait until every push the event log says is due has arrived;
        return what arrived since the last time."""
        assert self.deliveries is not None and self.streams is not None
        self.deliveries.read_log()
        arrived = self._drain()
        deadline = time.monotonic() + DELIVERY_SECONDS
        while missing := self.deliveries.missing():
            pushed = self.streams.get(deadline - time.monotonic())
            if pushed is None:
                worker_sid, kind, sid = missing[0]
                raise StreamError(
                    f"{len(missing)} pushes the event log holds did not arrive in "
                    f"{DELIVERY_SECONDS:.0f} s, e.g. {kind} {sid} to worker {worker_sid}")
            self._received(pushed)
            arrived.append(pushed)
        return arrived

    def _drain(self) -> list[Pushed]:
        assert self.streams is not None
        arrived = []
        while (pushed := self.streams.get(0)) is not None:
            self._received(pushed)
            arrived.append(pushed)
        return arrived

    def _received(self, pushed: Pushed) -> None:
        assert self.deliveries is not None
        self.deliveries.received(pushed)

    def _handle(self, pushed: list[Pushed]) -> None:
        """Act on pushes, in a fixed order whatever order the streams delivered them in: the
        workers by name, each one's offers by task."""
        while pushed:
            offers = []
            withdrawn = set()  # offers closed in the same batch that made them
            for worker_sid, kind, payload in pushed:
                if kind == "worker.activity.update":
                    self.activity[worker_sid] = payload.get("activity_sid")
                elif kind == "reservation.created":
                    if payload.get("task_sid") in self.task_index:
                        offers.append((worker_sid, payload))
                elif kind in CLOSED:
                    withdrawn.add(str(payload.get("sid")))
                    self._closed(worker_sid, kind, str(payload.get("sid")))
            offers = [offer for offer in offers if str(offer[1]["sid"]) not in withdrawn]
            acted = False
            for sid in sorted(self.names, key=self.names.__getitem__):
                if self.activity.get(sid) != self.available and sid not in self.busy:
                    # Back from a timeout (its timeout activity), or moved by someone else.
                    self.ws.workers(sid).update(activity_sid=self.available)
                    self.activity[sid] = self.available
                    acted = True
            offers.sort(key=lambda o: (self.names[o[0]], self.task_index[o[1]["task_sid"]]))
            for worker_sid, payload in offers:
                self._offered(worker_sid, payload)
            pushed = self._settle() if acted else []

    def _closed(self, worker_sid: str, kind: str, reservation_sid: str) -> None:
        if self.ignored.pop(reservation_sid, None) is None and (
                self.answering.pop(reservation_sid, None) is None):
            return
        self.tally[self.names[worker_sid]].timed_out += kind == "reservation.timeout"
        self.busy.discard(worker_sid)

    def _offered(self, worker_sid: str, reservation: dict[str, Any]) -> None:
        plan, now = self.plan, self.clock.now
        reservation_sid, task_sid = str(reservation["sid"]), str(reservation["task_sid"])
        offer = self.offers.get(task_sid, 0)
        self.offers[task_sid] = offer + 1
        # The task's own stream: the same decisions whoever the offer goes to.
        rng = random.Random(f"{plan.seed}:{self.task_index[task_sid]}:{offer}")
        think = max(1, round(rng.expovariate(1 / plan.think_seconds) * 1000)) \
            if plan.think_seconds > 0 else 1
        roll = rng.random()
        self.busy.add(worker_sid)
        if roll < plan.timeout_probability:
            self.ignored[reservation_sid] = worker_sid
            timeout = reservation.get("reservation_timeout")
            # Move the clock to its deadline, when the server's timer fires.
            self._at(now + (int(timeout) * 1000 if timeout else LOOK_MS), "look")
        elif roll < plan.timeout_probability + plan.reject_probability:
            self.answering[reservation_sid] = worker_sid
            self._at(now + think, "reject", reservation_sid, task_sid, worker_sid)
        else:
            handle = max(1, round(rng.expovariate(1 / plan.handle_seconds) * 1000)) \
                if plan.handle_seconds > 0 else 1
            self.answering[reservation_sid] = worker_sid
            self._at(now + think, "accept", reservation_sid, task_sid, worker_sid)
            self._at(now + think + handle, "complete", task_sid, worker_sid)


def simulate(client: Any, clock: Clock, workspace_sid: str, plan: Plan,
             workflow_sid: str | None = None, *, ws_server: str | None = None,
             api_key: tuple[str, str] | None = None) -> dict[str, Any]:
    """Run the plan; return what happened (times in seconds since the start).

    ``client`` is the official client, its TaskRouter API pointed at the server; the workers'
    streams go to ``ws_server`` (default: the event bridge that goes with that API). Their
    access tokens are signed with ``api_key`` (SID, secret), else with a key made through the
    client's Keys API for the run and deleted after it."""
    url = client.taskrouter.base_url
    return Simulation(client, clock, workspace_sid, plan, workflow_sid,
                      ws_server or event_bridge_url(url), api_key).run()


def event_bridge_url(api_url: str) -> str:
    """The Worker SDK's ``wsServer`` for a TaskRouter API: Twilio's event bridge for Twilio's
    API, else the server's own ``/v1/wschannels``."""
    parts = urlsplit(api_url)
    if _is_twilio(api_url):
        return "wss://event-bridge.twilio.com/v1/wschannels"
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/v1/wschannels", "", ""))


def _is_twilio(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "twilio.com" or host.endswith(".twilio.com")


def _make_key(client: Any) -> tuple[str, str]:
    key = client.new_keys.create(friendly_name="switchboard simulate")
    return str(key.sid), str(key.secret)


def _json_option(value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc.msg}") from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object")
    return parsed


@click.command("simulate")
@click.argument("workspace_sid", metavar="WS…")
@click.option("--workers", default=5, type=click.IntRange(1), show_default=True)
@click.option("--tasks", default=20, type=click.IntRange(0), show_default=True,
              help="How many tasks arrive.")
@click.option("--rate", default=6.0, type=click.FloatRange(0, min_open=True),
              show_default=True, help="Tasks arriving per minute (on average).")
@click.option("--think", default=5.0, type=click.FloatRange(0), show_default=True,
              help="Mean seconds before a worker answers an offer.")
@click.option("--handle", default=60.0, type=click.FloatRange(0), show_default=True,
              help="Mean seconds a worker handles a task before completing it.")
@click.option("--reject", default=0.1, type=click.FloatRange(0, 1), show_default=True,
              help="Probability that a worker rejects an offer.")
@click.option("--ignore", default=0.05, type=click.FloatRange(0, 1), show_default=True,
              help="Probability that a worker lets an offer time out.")
@click.option("--attributes", default="{}", show_default=True,
              help="The tasks' attributes (JSON).")
@click.option("--worker-attributes", default="{}", show_default=True,
              help="The simulated workers' attributes (JSON).")
@click.option("--workflow", "workflow_sid", help="Default: the workspace's first workflow.")
@click.option("--seed", default=0, type=int, show_default=True)
@click.option("--ws-server", help="The workers' event stream (the Worker SDK's wsServer). "
              "Default: ws://…/v1/wschannels on --url's server, Twilio's event bridge for "
              "Twilio.")
@click.option("--api-key", envvar="TWILIO_API_KEY",
              help="API key SID signing the workers' access tokens (with --api-secret). "
              "Default: $TWILIO_API_KEY, else a key made for the run and deleted after it.")
@click.option("--api-secret", envvar="TWILIO_API_SECRET",
              help="Default: $TWILIO_API_SECRET.")
@URL
@ACCOUNT
@TOKEN
def simulate_command(workspace_sid: str, workers: int, tasks: int, rate: float, think: float,
                     handle: float, reject: float, ignore: float, attributes: str,
                     worker_attributes: str, workflow_sid: str | None, seed: int,
                     ws_server: str | None, api_key: str | None, api_secret: str | None,
                     url: str, account_sid: str, auth_token: str) -> None:
    """Drive a workspace with simulated workers and tasks; print what happened as JSON.

    Workers are named sim-001 … and made if missing; each hears of its offers through the
    worker event stream, as the Worker SDK does. On a manual-clock server time moves from
    event to event, and a seed gives the same run every time."""
    if reject + ignore > 1:
        raise click.BadParameter("--reject and --ignore add up to more than 1")
    if (api_key is None) != (api_secret is None):
        raise click.BadParameter("--api-key and --api-secret go together")
    plan = Plan(workers=workers, tasks=tasks, rate_per_minute=rate, think_seconds=think,
                handle_seconds=handle, reject_probability=reject, timeout_probability=ignore,
                task_attributes=_json_option(attributes),
                worker_attributes=_json_option(worker_attributes), seed=seed)
    key = (api_key, api_secret) if api_key is not None and api_secret is not None else None

    def run() -> None:
        clock = Clock(url, (account_sid, auth_token))
        client = client_for(url, account_sid, auth_token)
        if not _is_twilio(url):  # Switchboard serves the Keys API beside TaskRouter's
            client.api.base_url = url.rstrip("/")
        try:
            report = simulate(client, clock, workspace_sid, plan, workflow_sid,
                              ws_server=ws_server, api_key=key)
        except StreamError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(json.dumps(report, indent=2))

    api_errors(run)
