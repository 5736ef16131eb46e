"""Memory against history: a server's resident memory after 10,000 and after 200,000 completed
task cycles, side by side for several source trees.

Each tree's ``switchboard serve`` runs as a real process (durable SQLite in a temporary
directory, real clock) and is driven over HTTP by C concurrent clients, each running task
cycles: create a task (routed to one of 20 workers, reserved before the answer), read its
reservation, accept it, complete the task and (unless ``--keep``) delete it. The server's RSS
(``VmRSS`` in /proc) is read after the first ``--warm`` cycles and every ``--every`` cycles
after, with statistics asked once at each reading (so their structures exist); the growth
from the first reading to the last is what history costs (target ≤ 30 MB over 190,000
cycles). Kept tasks are purged five minutes after they finish, so ``--keep`` also measures
those five minutes of tasks.

    python benchmarks/memory_history.py [--cycles 200000] [--warm 10000] [--concurrency 32]
        [--src PATH ...]   # e.g. the tree before a change: git archive <commit> src | tar -x

Without ``--src``, the working tree's source is measured; each ``--src`` is put first on
the server's PYTHONPATH.

Requests must leave no cycles of references behind (``tests/api/test_no_garbage_cycles.py``):
on a 2-core AMD EPYC VM, a tree whose one write per answer left each request in a cycle (some
twenty objects a request, freed only by the collector) grew by 37.3 MB (83.5 -> 120.7 MB),
over the target, where the mended tree grew by 10.2 MB (76.4 -> 86.6 MB) in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
from common import machine
from http_tasks import ACCOUNT, TOKEN, session, setup, start_server


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def cycles(base: str, path: str, count: int, concurrency: int, keep: bool) -> None:
    left = count

    async def one(http: aiohttp.ClientSession) -> None:
        async with http.post(f"{path}/Tasks", data={"Attributes": "{}"}) as r:
            assert r.status == 201, await r.text()
            task = (await r.json())["sid"]
        async with http.get(f"{path}/Tasks/{task}/Reservations") as r:
            assert r.status == 200, await r.text()
            reservation = (await r.json())["reservations"][0]["sid"]
        async with http.post(f"{path}/Tasks/{task}/Reservations/{reservation}",
                             data={"ReservationStatus": "accepted"}) as r:
            assert r.status == 200, await r.text()
        async with http.post(f"{path}/Tasks/{task}",
                             data={"AssignmentStatus": "completed", "Reason": "done"}) as r:
            assert r.status == 200, await r.text()
        if not keep:
            async with http.delete(f"{path}/Tasks/{task}") as r:
                assert r.status == 204, await r.text()

    async with session(base, concurrency) as http:
        async def loop() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await one(http)

        await asyncio.gather(*(loop() for _ in range(concurrency)))


def measure(src: str | None, args: argparse.Namespace) -> list[tuple[int, float]]:
    """(cycles done, RSS in MB) at each reading, for one source tree."""
    port = random.randrange(20_000, 60_000)
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    if src is not None:
        os.environ["PYTHONPATH"] = src
    readings: list[tuple[int, float]] = []
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            server = start_server(Path(data_dir), port, wait=120)
            try:
                path = setup(base, workers=20)
                client = httpx.Client(base_url=base, auth=(ACCOUNT, TOKEN), timeout=120)
                done = 0
                started = time.perf_counter()
                for target in [args.warm, *range(args.warm + args.every,
                                                 args.cycles + 1, args.every)]:
                    asyncio.run(cycles(base, path, target - done, args.concurrency, args.keep))
                    done = target
                    client.get(f"{path}/CumulativeStatistics").raise_for_status()
                    readings.append((done, rss_mb(server.pid)))
                    print(f"  {done:>9,} cycles: RSS {readings[-1][1]:7.1f} MB "
                          f"({done / (time.perf_counter() - started):,.0f} cycles/s)",
                          flush=True)
                figures = client.get(f"{path}/CumulativeStatistics",
                                     params={"Minutes": 30 * 1440}).json()
                assert figures["reservations_accepted"] == done, figures
            finally:
                server.terminate()
                server.wait(timeout=60)
    finally:
        os.environ.clear()
        os.environ.update(env)
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=200_000)
    parser.add_argument("--warm", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=38_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--keep", action="store_true", help="complete tasks without deleting")
    parser.add_argument("--src", action="append", help="a source tree to measure (repeatable)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"{args.cycles:,} task cycles (create, accept, complete"
          f"{'' if args.keep else ', delete'}) at concurrency {args.concurrency}", flush=True)
    results = []
    for src in args.src or [None]:
        print(f"source: {src or 'this tree'}", flush=True)
        readings = measure(src, args)
        results.append((src or "this tree", readings))
    for name, readings in results:
        (first_n, first), (last_n, last) = readings[0], readings[-1]
        per_cycle = (last - first) * 2**20 / (last_n - first_n)
        print(f"{name}: RSS {first:.1f} MB after {first_n:,} cycles, {last:.1f} MB after "
              f"{last_n:,}: +{last - first:.1f} MB ({per_cycle:,.0f} bytes per cycle; "
              "target ≤ 30 MB)")


if __name__ == "__main__":
    main()
