"""Task creation over HTTP against a real server with durable SQLite commits.

Starts ``switchboard serve`` (SQLite in a temporary directory, ``synchronous=FULL``) and, beside
it, ``bare_form_app.py``: a bare Starlette endpoint that parses the same form and answers a
small JSON, served the same way (same uvicorn protocol, limits and options). Then, in
alternating rounds (bare, pending, routed, bare, …), each a fresh workspace:

* bare: the yardstick, what the framework and the server cost alone;
* pending: tasks created in a workspace with no workers (they stay pending);
* routed: tasks created in a workspace whose 20 workers always have room (each is reserved in
  the same command, committed before the answer);

each measured as requests per second from C concurrent keep-alive clients (closed loop) and as
the server process's CPU per request (user + system time from ``/proc/<pid>/stat``, all its
threads). Medians over the rounds, and the ratios to the bare endpoint (the median of each
round's ratio: the machine's noise moves all three of a round alike). Last, latency at a fixed
arrival rate (open loop): the time from sending a routed create request to its answer, i.e.
"task created -> reservation committed".

    python benchmarks/http_tasks.py [--rounds 5] [--tasks 5000] [--concurrency 32]
                                    [--rate 500] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
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
KINDS = ("bare", "pending", "routed")


def _wait_healthy(process: subprocess.Popen[bytes], port: int, log: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the server on port {port} did not start")


def start_server(data_dir: Path, port: int, *, account: str = ACCOUNT, token: str = TOKEN,
                 wait: float = 30) -> subprocess.Popen[bytes]:
    """``switchboard serve`` on loopback, its output in ``data_dir/server.log``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SWITCHBOARD_ACCOUNT_SID": account, "SWITCHBOARD_AUTH_TOKEN": token}
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "switchboard", "serve", "--port", str(port), "--data-dir",
         str(data_dir), "--log-level", "warning"], env=env, stdout=log, stderr=log)
    _wait_healthy(process, port, data_dir / "server.log", wait)
    return process


def start_bare(port: int, log: Path, wait: float = 30) -> subprocess.Popen[bytes]:
    """``bare_form_app.py`` on loopback, served as ``switchboard serve`` serves the API."""
    out = open(log, "ab")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("bare_form_app.py")), "--port",
         str(port)], stdout=out, stderr=out)
    _wait_healthy(process, port, log, wait)
    return process


def setup(base: str, workers: int = 20) -> str:
    """A FIFO workspace with ``workers`` available workers of ample capacity (none: every
    task stays pending); its path."""
    client = httpx.Client(base_url=base, auth=(ACCOUNT, TOKEN))
    ws = client.post("/v1/Workspaces", data={"FriendlyName": "bench", "Template": "FIFO"}).json()
    path = f"/v1/Workspaces/{ws['sid']}"
    available = client.get(f"{path}/Activities", params={"FriendlyName": "Available"}).json()
    activity = available["activities"][0]["sid"]
    for i in range(workers):
        worker = client.post(f"{path}/Workers", data={
            "FriendlyName": f"agent{i}", "ActivitySid": activity}).json()
        client.post(f"{path}/Workers/{worker['sid']}/Channels/default",
                    data={"Capacity": 1000})
    return path


def session(base: str, connections: int) -> aiohttp.ClientSession:
    # aiohttp, not httpx, generates the load: httpx's async client tops out near 500
    # requests/s here and would measure itself rather than the server.
    credentials = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    return aiohttp.ClientSession(base, headers={"Authorization": f"Basic {credentials}"},
                                 connector=aiohttp.TCPConnector(limit=connections))


async def create(client: aiohttp.ClientSession, path: str, i: int) -> dict[str, object]:
    async with client.post(f"{path}/Tasks", data={"Attributes": json.dumps({"n": i})}) as r:
        body: dict[str, object] = await r.json()
        assert r.status == 201, body
        return body


async def throughput(base: str, path: str, tasks: int, concurrency: int,
                     expect: str | None = None) -> float:
    """Tasks created per second by ``concurrency`` closed-loop clients; ``expect``: the
    assignment status every answer must have."""
    async with session(base, concurrency) as client:
        remaining = iter(range(tasks))

        async def worker() -> None:
            for i in remaining:
                body = await create(client, path, i)
                assert expect is None or body["assignment_status"] == expect, body

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return tasks / (time.perf_counter() - started)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def rounds(servers: dict[str, tuple[str, int]], n: int, tasks: int, concurrency: int
           ) -> dict[str, list[tuple[float, float]]]:
    """Per kind, each round's (requests/s, server CPU µs per request)."""
    results: dict[str, list[tuple[float, float]]] = {kind: [] for kind in KINDS}
    expect = {"bare": None, "pending": "pending", "routed": "reserved"}
    for r in range(n):
        for kind in KINDS:
            base, pid = servers[kind]
            path = ("/v1/Workspaces/WSbare" if kind == "bare"
                    else setup(base, workers=0 if kind == "pending" else 20))
            cpu = cpu_seconds(pid)
            rate = asyncio.run(throughput(base, path, tasks, concurrency, expect[kind]))
            us = (cpu_seconds(pid) - cpu) / tasks * 1e6
            results[kind].append((rate, us))
            print(f"  round {r + 1} {kind:8} {rate:8,.0f}/s  {us:5.0f} µs CPU/request",
                  flush=True)
    return results


def report(results: dict[str, list[tuple[float, float]]]) -> None:
    bare = results["bare"]
    print(f"{'':9}{'rate/s':>9}{'µs CPU/req':>12}{'x bare rate':>13}{'x bare CPU':>12}")
    for kind in KINDS:
        mine = results[kind]
        rate = statistics.median(r for r, _ in mine)
        us = statistics.median(u for _, u in mine)
        ratio = statistics.median(r / b for (r, _), (b, _) in zip(mine, bare, strict=True))
        cpu_ratio = statistics.median(u / b for (_, u), (_, b) in zip(mine, bare, strict=True))
        print(f"{kind:9}{rate:9,.0f}{us:12.0f}{ratio:13.2f}{cpu_ratio:12.2f}")
    print("targets: routed ≥ 0.35 x bare rate, pending ≥ 0.5 x (median of the rounds' ratios)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=5_000, help="requests per round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10, help="of latency (0: none)")
    parser.add_argument("--port", type=int, default=18_080, help="and the next one")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    bare_base = f"http://127.0.0.1:{args.port + 1}"
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(Path(data_dir), args.port)
        bare = start_bare(args.port + 1, Path(data_dir) / "bare.log")
        try:
            print(f"machine: {machine()}")
            print(f"{args.rounds} rounds of {args.tasks} requests, {args.concurrency} "
                  "concurrent keep-alive clients")
            servers = {"bare": (bare_base, bare.pid), "pending": (base, server.pid),
                       "routed": (base, server.pid)}
            report(rounds(servers, args.rounds, args.tasks, args.concurrency))
            if args.seconds:
                path = setup(base)
                times = sorted(asyncio.run(latency(base, path, args.rate, args.seconds)))
                p50 = statistics.median(times) * 1000
                p99 = times[int(len(times) * 0.99) - 1] * 1000
                print(f"latency at {args.rate} tasks/s for {args.seconds:.0f} s "
                      f"({len(times)} tasks): create -> reservation committed p50 {p50:.1f} ms,"
                      f" p99 {p99:.1f} ms (target p99 ≤ 20 ms)")
        finally:
            for process in (server, bare):
                process.terminate()
                process.wait()


if __name__ == "__main__":
    main()
