"""Worker WebSockets: how soon a reservation reaches its worker, and what idle connections cost.

Runs ``switchboard serve`` (durable SQLite) and, in this process, Python WebSocket clients
(the ``websockets`` package) that speak the Worker SDK's protocol: connect to
``/v1/wschannels?token=…`` with an access token minted by twilio-python, read ``init``, then
every pushed frame.

1. Latency: 1,000 connected, available workers; tasks created over HTTP at a fixed rate
   (open loop); the time from sending the create request to the worker's client receiving
   that task's ``reservation.created`` frame.
2. Memory: 10,000 connections held idle (one per worker) for a while; the server's resident
   memory before and after, and whether every connection stayed open (heartbeats).

    python benchmarks/worker_push.py [--workers 1000] [--rate 200] [--seconds 10]
                                     [--idle 10000] [--hold 25] [--compression deflate|none]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from common import machine
from http_tasks import ACCOUNT, TOKEN, start_server
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import TaskRouterGrant
from websockets.asyncio.client import connect


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Setup:
    """A workspace with N workers, an API key, and a token per worker."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(
            base, headers={"Authorization": aiohttp.encode_basic_auth(ACCOUNT, TOKEN)},
            connector=aiohttp.TCPConnector(limit=32))

    async def post(self, path: str, **data: Any) -> dict[str, Any]:
        async with self.http.post(path, data={k: str(v) for k, v in data.items()}) as reply:
            body: dict[str, Any] = await reply.json()
            assert reply.status < 300, body
            return body

    async def build(self, workers: int, available: int) -> None:
        ws = await self.post("/v1/Workspaces", FriendlyName="push", Template="FIFO",
                             MultiTaskEnabled="true")
        self.path = f"/v1/Workspaces/{ws['sid']}"
        self.workspace_sid = ws["sid"]
        async with self.http.get(f"{self.path}/Activities",
                                 params={"FriendlyName": "Available"}) as reply:
            activity = (await reply.json())["activities"][0]["sid"]
        key = await self.post(f"/2010-04-01/Accounts/{ACCOUNT}/Keys.json")
        self.workflow = (await (await self.http.get(f"{self.path}/Workflows")).json()
                         )["workflows"][0]["sid"]

        async def worker(i: int) -> str:
            extra = {"ActivitySid": activity} if i < available else {}
            body = await self.post(f"{self.path}/Workers", FriendlyName=f"agent{i}", **extra)
            if i < available:  # room for every task of the run
                await self.post(f"{self.path}/Workers/{body['sid']}/Channels/default",
                                Capacity=100)
            return str(body["sid"])

        self.workers = await gather_limited([worker(i) for i in range(workers)], 32)
        now = int(time.time())
        self.tokens = []
        for sid in self.workers:
            token = AccessToken(ACCOUNT, key["sid"], key["secret"], identity=sid, nbf=now,
                                valid_until=now + 3600)
            token.add_grant(TaskRouterGrant(workspace_sid=self.workspace_sid, worker_sid=sid,
                                            role="worker"))
            self.tokens.append(str(token.to_jwt()))


async def gather_limited(coroutines: list[Any], limit: int) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(coroutine: Any) -> Any:
        async with semaphore:
            return await coroutine

    return list(await asyncio.gather(*(one(c) for c in coroutines)))


class Client:
    """One worker's WebSocket: counts frames and notes when each task's reservation came."""

    def __init__(self, received: dict[int, float]) -> None:
        self.received = received
        self.frames = 0
        self.heartbeats = 0
        self.closed = False
        self.extensions: str | None = None

    async def run(self, url: str, compression: str | None, ready: asyncio.Event) -> None:
        async with connect(url, compression=compression, ping_interval=None,
                           max_size=2**20, open_timeout=60) as socket:
            assert socket.response is not None
            self.extensions = socket.response.headers.get("Sec-WebSocket-Extensions")
            async for message in socket:
                text = message if isinstance(message, str) else message.decode()
                if not text.strip():
                    self.heartbeats += 1
                    continue
                self.frames += 1
                frame = json.loads(text)
                if frame["event_type"] == "init":
                    ready.set()
                elif frame["event_type"] == "reservation.created":
                    n = json.loads(frame["payload"]["task"]["attributes"])["n"]
                    self.received[n] = time.perf_counter()
        self.closed = True


async def connect_all(ws_url: str, tokens: list[str], received: dict[int, float],
                      compression: str | None, tasks: list[asyncio.Task[None]]) -> list[Client]:
    clients = [Client(received) for _ in tokens]

    async def one(client: Client, token: str) -> None:
        ready = asyncio.Event()
        tasks.append(asyncio.create_task(client.run(
            f"{ws_url}?token={token}&closeExistingSessions=false&clientVersion=2.1.1",
            compression, ready)))
        await asyncio.wait_for(ready.wait(), 60)

    await gather_limited([one(c, t) for c, t in zip(clients, tokens, strict=True)], 100)
    return clients


async def latency(setup: Setup, rate: int, seconds: float, received: dict[int, float]
                  ) -> tuple[list[float], list[float]]:
    sent: dict[int, float] = {}
    answered: dict[int, float] = {}

    async def one(i: int) -> None:
        sent[i] = time.perf_counter()
        await setup.post(f"{setup.path}/Tasks", WorkflowSid=setup.workflow,
                         Attributes=json.dumps({"n": i}))
        answered[i] = time.perf_counter()

    pending = []
    start = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(one(i)))
    await asyncio.gather(*pending)
    deadline = time.perf_counter() + 10
    while len(received) < total and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    missing = total - len(received)
    assert missing == 0, f"{missing} reservation.created frames never arrived"
    return ([received[i] - sent[i] for i in range(total)],
            [max(0.0, received[i] - answered[i]) for i in range(total)])


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"


async def run(args: argparse.Namespace, base: str, pid: int) -> None:
    compression = None if args.compression == "none" else "deflate"
    ws_url = base.replace("http", "ws", 1) + "/v1/wschannels"
    setup = Setup(base)
    tasks: list[asyncio.Task[None]] = []
    try:
        started = time.perf_counter()
        await setup.build(max(args.workers, args.idle), args.workers)
        print(f"set-up: {len(setup.workers):,} workers in {time.perf_counter() - started:.1f} s")
        baseline = rss_mb(pid)

        received: dict[int, float] = {}
        clients = await connect_all(ws_url, setup.tokens[:args.workers], received, compression,
                                    tasks)
        print(f"{len(clients):,} workers connected (server RSS {rss_mb(pid):.0f} MB)")
        to_frame, answer_to_frame = await latency(setup, args.rate, args.seconds, received)
        print(f"latency at {args.rate} tasks/s for {args.seconds:.0f} s ({len(to_frame):,} "
              f"tasks), {args.workers:,} connected workers:")
        print(f"  create request sent -> reservation.created received: "
              f"{percentiles(to_frame)}")
        print(f"  create answered     -> reservation.created received: "
              f"{percentiles(answer_to_frame)}")

        more = await connect_all(ws_url, setup.tokens[args.workers:args.idle], {}, compression,
                                 tasks)
        clients += more
        held = rss_mb(pid)
        negotiated = clients[0].extensions or "none"
        print(f"{len(clients):,} connections open: server RSS {baseline:.0f} MB before any, "
              f"{held:.0f} MB now ({(held - baseline) * 1024 / len(clients):.1f} KB each; "
              f"compression offered: {args.compression}, negotiated: {negotiated})")
        await asyncio.sleep(args.hold)
        open_now = sum(1 for c in clients if not c.closed)
        beats = sum(c.heartbeats for c in clients)
        print(f"after holding them {args.hold:.0f} s idle: {open_now:,} still open, "
              f"{beats:,} heartbeat frames received, server RSS {rss_mb(pid):.0f} MB")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await setup.http.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1_000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--hold", type=float, default=25)
    parser.add_argument("--compression", choices=("deflate", "none"), default="deflate",
                        help="Offer permessage-deflate like the SDK's ws client (default).")
    parser.add_argument("--port", type=int, default=18_082)
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(Path(data_dir), args.port)
        try:
            asyncio.run(run(args, base, server.pid))
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
