"""Task creation over HTTP against a real server with durable SQLite commits.

Starts ``switchboard serve`` (SQLite in a temporary directory, ``synchronous=FULL``), builds a
workspace whose workers always have room, then measures:

* throughput: tasks created per second by C concurrent keep-alive clients (closed loop);
* latency: at a fixed arrival rate (open loop), the time from sending the create request to
  its answer. The reservation is made in the same command and committed before the answer,
  so this is "task created -> reservation committed".

    python benchmarks/http_tasks.py [--tasks 10000] [--concurrency 32] [--rate 500] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from common import machine

ACCOUNT = "AC" + "b" * 32
TOKEN = "bench-token"


def start_server(data_dir: Path, port: int, *, account: str = ACCOUNT, token: str = TOKEN,
                 wait: float = 30) -> subprocess.Popen[bytes]:
    """``switchboard serve`` on loopback, its output in ``data_dir/server.log``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SWITCHBOARD_ACCOUNT_SID": account, "SWITCHBOARD_AUTH_TOKEN": token}
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "switchboard", "serve", "--port", str(port), "--data-dir",
         str(data_dir), "--log-level", "warning"], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((data_dir / "server.log").read_text()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def setup(base: str) -> str:
    client = httpx.Client(base_url=base, auth=(ACCOUNT, TOKEN))
    ws = client.post("/v1/Workspaces", data={"FriendlyName": "bench", "Template": "FIFO"}).json()
    path = f"/v1/Workspaces/{ws['sid']}"
    available = client.get(f"{path}/Activities", params={"FriendlyName": "Available"}).json()
    activity = available["activities"][0]["sid"]
    for i in range(20):
        worker = client.post(f"{path}/Workers", data={
            "FriendlyName": f"agent{i}", "ActivitySid": activity}).json()
        client.post(f"{path}/Workers/{worker['sid']}/Channels/default",
                    data={"Capacity": 1000})
    return path


def session(base: str, connections: int) -> aiohttp.ClientSession:
    # aiohttp, not httpx, generates the load: httpx's async client tops out near 500
    # requests/s here and would measure itself rather than the server.
    return aiohttp.ClientSession(base, auth=aiohttp.BasicAuth(ACCOUNT, TOKEN),
                                 connector=aiohttp.TCPConnector(limit=connections))


async def create(client: aiohttp.ClientSession, path: str, i: int) -> dict[str, object]:
    async with client.post(f"{path}/Tasks", data={"Attributes": json.dumps({"n": i})}) as r:
        body: dict[str, object] = await r.json()
        assert r.status == 201, body
        return body


async def throughput(base: str, path: str, tasks: int, concurrency: int) -> float:
    async with session(base, concurrency) as client:
        remaining = iter(range(tasks))

        async def worker() -> None:
            for i in remaining:
                await create(client, path, i)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return tasks / (time.perf_counter() - started)


async def latency(base: str, path: str, rate: int, seconds: float) -> list[float]:
    async with session(base, 256) as client:
        results: list[float] = []

        async def one(i: int) -> None:
            sent = time.perf_counter()
            body = await create(client, path, i)
            results.append(time.perf_counter() - sent)
            assert body["assignment_status"] == "reserved"

        await open_loop(rate, seconds, one)
        return results


async def open_loop(rate: int, seconds: float,
                    one: Callable[[int], Coroutine[Any, Any, None]]) -> None:
    """Start ``one(i)`` at a fixed rate, whether or not earlier ones have answered."""
    pending = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(one(i)))
    await asyncio.gather(*pending)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--port", type=int, default=18_080)
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(Path(data_dir), args.port)
        try:
            path = setup(base)
            print(f"machine: {machine()}")
            rate = asyncio.run(throughput(base, path, args.tasks, args.concurrency))
            print(f"throughput: {args.tasks} task creations, {args.concurrency} concurrent "
                  f"clients: {rate:,.0f} tasks/s (target ≥ 2,000/s)")
            times = sorted(asyncio.run(latency(base, path, args.rate, args.seconds)))
            p50 = statistics.median(times) * 1000
            p99 = times[int(len(times) * 0.99) - 1] * 1000
            print(f"latency at {args.rate} tasks/s for {args.seconds:.0f} s ({len(times)} tasks):"
                  f" create -> reservation committed p50 {p50:.1f} ms, p99 {p99:.1f} ms "
                  "(target p99 ≤ 20 ms)")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
