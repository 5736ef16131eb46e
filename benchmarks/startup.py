"""Start-up: how long until a large workspace answers after the server starts (or fails over).

Builds a workspace of W workers and Q queues in a SQLite store (the queues and workflow through
the API, each queue ``skills HAS 's<i>'`` plus a pool queue; the workers, three skills each and
two channels, written straight into the store as in ``statistics_api.py``), then measures in
alternating rounds:

* in process: ``Runtime.start()`` (migrations, accounts, loading every workspace), the part of
  it spent in the routing core (``WorkspaceEngine.load``), and the time to read the rows;
* a real server: from ``switchboard serve`` to the first answer about the workspace (a page of
  workers and a queue's real-time statistics).

    python benchmarks/startup.py [--workers 15000] [--queues 5000] [--rounds 3] [--profile]
        [--data-dir DIR] [--json]

``--data-dir`` keeps the built store there and reuses it on the next run (same sizes), so that
``compare_trees.py --old <src> startup.py -- --data-dir DIR --rounds 1`` measures two source
trees on one store.
``--profile`` prints the top of a cProfile of one in-process start. Cluster failover loads a
workspace the same way (``Runtime.adopt``), so the in-process figure is also the failover cost.

Figures (2-core AMD EPYC VM, Python 3.11.7, other work keeping the load average at 5-7, so
single rounds vary up to 2x), 15,000 workers x 5,000 queues:

* before (every worker evaluated against every queue, 75 million evaluations): one round,
  ``Runtime.start()`` 106 s (engine load 104 s), the server answering after 205 s; the profile:
  ``membership.index_queue`` 97% of the time, the lark parser of 5,000 expressions 2%;
* guarded membership (each queue evaluated on the workers an inverted index gives): 2.2 s
  (engine load 1.1 s), server 3.0 s (median of 3 rounds); what was left: parsing 5,000
  expressions ~0.5 s, SQLAlchemy row mappings ~0.5 s, worker keys ~0.2 s;
* rows as tuples on one connection: 2.76 -> 2.29 s (``compare_trees.py``, medians of 4);
* no cyclic garbage collection while loading: 2.65 -> 1.50 s (engine load 1.36 -> 0.79 s),
  server answering 4.52 -> 3.25 s (medians of 4 alternating rounds).

Each round also loads the workspace again after the server's start-up freeze
(``serving.tune_gc``), as a cluster node loads one it takes over, and then makes 200,000
lasting objects: the garbage collector's longest pause meanwhile. Before a workspace loaded
while serving was frozen too, the first young and middle collections after the load walked
all of it: 60-70 ms for this workspace (``compare_trees.py``, medians of 3 rounds: 70 ms
against 1 ms after); with 100,000 workers (one round), 260 ms against 1 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import pstats
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import httpx
from common import machine
from http_tasks import start_server
from statistics_api import ACCOUNT, TOKEN, Layout, add_workers, configure, stop

from switchboard import serving
from switchboard.routing.engine import WorkspaceEngine
from switchboard.service.runtime import Runtime
from switchboard.store.database import Store, sqlite_url


def build(data: Path, workers: int, queues: int, port: int, seed: int) -> Layout:
    saved = data / f"layout-{workers}-{queues}.json"
    if saved.exists():
        return Layout(**json.loads(saved.read_text()))
    server = start_server(data, port, account=ACCOUNT, token=TOKEN, wait=600)
    try:
        layout = configure(f"http://127.0.0.1:{port}", queues)
    finally:
        stop(server)
    db = sqlite3.connect(data / "switchboard.db")
    add_workers(db, layout, workers, queues, int(time.time() * 1000), random.Random(seed))
    db.commit()
    db.close()
    saved.write_text(json.dumps(vars(layout)))
    return layout


def in_process(data: Path) -> tuple[float, float]:
    """Seconds of ``Runtime.start()`` and of the engine's ``load`` within it."""
    spent: list[float] = []
    original = WorkspaceEngine.load.__func__  # type: ignore[attr-defined]

    def timed_load(cls: type[WorkspaceEngine], *args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        try:
            return original(cls, *args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    runtime = Runtime(Store(sqlite_url(data)))
    with mock.patch.object(WorkspaceEngine, "load", classmethod(timed_load)):
        started = time.perf_counter()
        runtime.start()
        total = time.perf_counter() - started
    runtime.stop()
    return total, sum(spent)


def takeover(data: Path, lasting: int = 200_000) -> tuple[float, float]:
    """The garbage collector after a workspace is loaded while serving, as a cluster node loads
    one it takes over: its longest pause and all its pauses, in seconds, while ``lasting``
    more objects are made and kept (the state a server goes on to hold)."""
    runtime = Runtime(Store(sqlite_url(data)))
    runtime.start()
    thresholds = gc.get_threshold()
    serving.tune_gc()  # as the server does once it listens
    pauses: list[float] = []
    started = [0.0]

    def timed(phase: str, _: object) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - started[0])

    try:
        sid = next(iter(runtime.engines))
        del runtime.engines[sid]  # handed over; taken back:
        runtime.engines[sid] = runtime._load_workspace(sid)  # type: ignore[assignment]
        gc.callbacks.append(timed)
        kept = [[] for _ in range(lasting)]
        del kept
    finally:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(timed)
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        runtime.stop()
    return max(pauses, default=0.0), sum(pauses)


def served(data: Path, layout: Layout, port: int) -> float:
    """Seconds from starting ``switchboard serve`` to the first answer about the workspace."""
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = start_server(data, port, account=ACCOUNT, token=TOKEN, wait=600)
    try:
        path = f"{base}/v1/Workspaces/{layout.workspace}"
        with httpx.Client(auth=(ACCOUNT, TOKEN), timeout=600) as client:
            client.get(f"{path}/Workers", params={"PageSize": 1}).raise_for_status()
            client.get(f"{path}/TaskQueues/{layout.pool}/RealTimeStatistics").raise_for_status()
        return time.perf_counter() - started
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=15_000)
    parser.add_argument("--queues", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=18_091)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--data-dir", type=Path, help="keep (and reuse) the store here")
    parser.add_argument("--json", action="store_true", help="print the medians as JSON")
    args = parser.parse_args()
    say = (lambda *_, **__: None) if args.json else print
    say(f"machine: {machine()}")
    say(f"parameters: {args.workers:,} workers (3 skills, 2 channels each), {args.queues:,} "
        f"queues, {args.rounds} rounds", flush=True)
    with contextlib.ExitStack() as stack:
        if args.data_dir is None:
            data = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            data = args.data_dir
            data.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        layout = build(data, args.workers, args.queues, args.port, args.seed)
        say(f"store ready in {time.perf_counter() - started:.0f} s", flush=True)
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            in_process(data)
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
        starts, loads, serves, longest = [], [], [], []
        for number in range(args.rounds):
            total, load = in_process(data)
            up = served(data, layout, args.port)
            pause, pauses = takeover(data)
            starts.append(total)
            loads.append(load)
            serves.append(up)
            longest.append(pause)
            say(f"  round {number + 1}: Runtime.start() {total:.2f} s (engine load "
                  f"{load:.2f} s); server answering after {up:.2f} s; taken over while "
                  f"serving, the collector's longest pause {pause * 1000:.0f} ms "
                  f"({pauses * 1000:.0f} ms in all)", flush=True)
        figures = {"runtime_start_s": statistics.median(starts),
                   "engine_load_s": statistics.median(loads),
                   "server_answering_s": statistics.median(serves),
                   "takeover_longest_gc_pause_s": statistics.median(longest)}
        if args.json:
            print(json.dumps(figures))
            return
        print(f"median: Runtime.start() {figures['runtime_start_s']:.2f} s (engine load "
              f"{figures['engine_load_s']:.2f} s; the rest: migrations, accounts, reading "
              f"rows); server answering after {figures['server_answering_s']:.2f} s "
              "(target ≤ 5 s); after a take-over while serving, the garbage collector's "
              f"longest pause {figures['takeover_longest_gc_pause_s'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
