"""Statistics at scale: every statistics request's latency, and routing while they are polled.

Builds a workspace of 15,000 workers and 5,000 queues whose log holds 1,000,000 events of the
last 24 hours (workers, channels and events written straight into the SQLite store), starts
``switchboard serve`` on it, then measures:

* start-up: until the API answers, and until statistics are ready (the events, written straight
  into the database, folded into the per-minute rollups; workers' activity changes read back);
* latency: each statistics request N times in a row, p50 and p99 (target p99 ≤ 50 ms), and
  the server's CPU time per request (what polling costs routing);
* routing throughput: task creations per second by C concurrent clients (each task is routed
  and reserved before the answer), without and with a poller sending 50 statistics requests
  per second (every endpoint in turn, default parameters), in alternating rounds (target: with
  polling ≥ 90% of without).

    python benchmarks/statistics_api.py [--workers 15000] [--queues 5000] [--events 1000000]
        [--requests 200] [--tasks 12000] [--rounds 4] [--concurrency 32] [--poll-rate 50]
        [--latency-only] [--src TREE]

Figures (2-core shared Intel Xeon VM, Python 3.11.7; ``--workers 3000 --queues 1000 --events
200000 --tasks 6000 --rounds 6 --requests 100``; the tree before, ``--src``, in alternating
runs; medians of the ABBA rounds). Windows reaching to now answered from memory
(``stats/recent.py``): routing while polling at 50/s 88% and 93% of the rate without at load
average 3 to 5 (median of the rounds' ratios 90% and 93%), 77% and 82% in two busier runs (load
5 to 10); the tree before, each polled request read from the store, 71 to 81% in the same runs.
Server CPU of one polling cycle (the 15 default requests): 7.5 to 9.2 ms, 2.5 to 3.1% of a core
at 50/s (before 27.4 to 34.7 ms, 9.1 to 11.6%).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import multiprocessing
import operator
import random
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from common import machine
from http_tasks import cpu_seconds, start_server

from switchboard.routing.sids import new_sid
from switchboard.store import tables

ACCOUNT = "AC" + "c" * 32
TOKEN = "bench-token"
POOL_WORKERS = 120  # the workers benchmark tasks go to, each with room for 1,000
DAY_MS = 86_400_000
CHANGE_SHARE = 0.1  # of the events, activity changes: 100,000 a day is ~7 per worker



def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=120)


# ---------------------------------------------------------------------- building the workspace


@dataclass
class Layout:
    workspace: str
    activities: dict[str, str]  # name -> sid
    channels: dict[str, str]  # unique name -> sid
    pool: str
    queues: list[str]  # the skill queues
    workflow: str
    workers: list[str] = field(default_factory=list)


def configure(base: str, queues: int) -> Layout:
    """Workspace, queues and workflow through the API (no workers yet: queues are cheap)."""
    client = httpx.Client(base_url=base, auth=(ACCOUNT, TOKEN), timeout=60)
    ws = client.post("/v1/Workspaces", data={"FriendlyName": "stats-bench"}).json()["sid"]
    path = f"/v1/Workspaces/{ws}"
    activities = {a["friendly_name"]: a["sid"]
                  for a in client.get(f"{path}/Activities").json()["activities"]}
    channels = {c["unique_name"]: c["sid"]
                for c in client.get(f"{path}/TaskChannels").json()["channels"]}
    pool = client.post(f"{path}/TaskQueues", data={
        "FriendlyName": "Pool", "TargetWorkers": "pool == 1"}).json()["sid"]
    skill_queues = [client.post(f"{path}/TaskQueues", data={
        "FriendlyName": f"Skill {i}", "TargetWorkers": f"skills HAS 's{i}'"}).json()["sid"]
        for i in range(queues - 1)]
    workflow = client.post(f"{path}/Workflows", data={
        "FriendlyName": "Main", "TaskReservationTimeout": 86_400,  # offers stay open
        "Configuration": json.dumps({"task_routing": {"default_filter": {"queue": pool}}}),
    }).json()["sid"]
    return Layout(ws, activities, channels, pool, skill_queues, workflow)


def columns(table: Any) -> list[str]:
    return [c.name for c in table.columns]


def insert(db: sqlite3.Connection, table: Any, rows: Iterator[dict[str, Any]]) -> int:
    names = columns(table)
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    count = 0
    for batch in iter(lambda: list(itertools.islice(rows, 20_000)), []):
        db.executemany(sql, [tuple(row.get(n) for n in names) for row in batch])
        count += len(batch)
    return count


def add_workers(db: sqlite3.Connection, layout: Layout, count: int, queues: int, now: int,
                rng: random.Random) -> dict[str, str]:
    """Workers with three skills each (the first ones in the pool); returns worker -> activity
    they start the day in."""
    available = layout.activities["Available"]
    first: dict[str, str] = {}
    workers, channels = [], []
    for n in range(count):
        sid = new_sid("WK")
        pool = n < POOL_WORKERS
        attributes = {"skills": [f"s{rng.randrange(queues - 1)}" for _ in range(3)]}
        if pool:
            attributes["pool"] = 1
        activity = available if pool else rng.choice(list(layout.activities.values()))
        first[sid] = activity
        workers.append({"sid": sid, "account_sid": ACCOUNT, "workspace_sid": layout.workspace,
                        "friendly_name": f"worker {n}", "attributes": json.dumps(attributes),
                        "activity_sid": activity, "version": 0, "date_created": now - DAY_MS,
                        "date_updated": now - DAY_MS, "date_status_changed": now - DAY_MS,
                        "idle_since": now - DAY_MS})
        for name, channel in layout.channels.items():
            channels.append({
                "sid": new_sid("WC"), "account_sid": ACCOUNT, "workspace_sid": layout.workspace,
                "worker_sid": sid, "task_channel_sid": channel,
                "configured_capacity": 1000 if pool and name == "default" else 1,
                "available": True, "date_created": now - DAY_MS, "date_updated": now - DAY_MS})
    insert(db, tables.workers, iter(workers))
    insert(db, tables.worker_channels, iter(channels))
    layout.workers = list(first)
    return first


def synthetic_events(layout: Layout, first: dict[str, str], count: int, now: int,
                     rng: random.Random) -> list[tuple[int, dict[str, Any]]]:
    """About ``count`` events of the last 24 hours: activity changes (a tenth), and task
    lifecycles (created, routed, reserved, then accepted and completed, or rejected or timed
    out and canceled)."""
    queues = [layout.pool, *layout.queues]
    activities = list(layout.activities.values())
    names = {sid: name for name, sid in layout.activities.items()}
    events: list[tuple[int, dict[str, Any]]] = []
    base = {"account_sid": ACCOUNT, "workspace_sid": layout.workspace,
            "workspace_name": "stats-bench"}

    def event(kind: str, date: int, resource: tuple[str, str], data: dict[str, Any],
              **columns: Any) -> None:
        events.append((date, {"event_type": kind, "event_date": date,
                              "resource_type": resource[0], "resource_sid": resource[1],
                              "description": kind, "data": {**base, **data}, **columns}))

    # Activity changes: each worker's in time order, each leaving the activity it was in.
    days: dict[str, list[int]] = {}
    for _ in range(int(count * CHANGE_SHARE)):
        days.setdefault(rng.choice(layout.workers), []).append(now - rng.randrange(DAY_MS))
    for worker, dates in days.items():
        current, since = first[worker], now - DAY_MS
        for date in sorted(dates):
            after = rng.choice([a for a in activities if a != current])
            event("worker.activity.update", date, ("worker", worker), {
                "worker_sid": worker, "worker_activity_sid": after,
                "worker_activity_name": names[after], "worker_previous_activity_sid": current,
                "worker_time_in_previous_activity_ms": date - since}, worker_sid=worker)
            current, since = after, date
    while len(events) < count:
        task, reservation = new_sid("WT"), new_sid("WR")
        queue, worker = rng.choice(queues), rng.choice(layout.workers)
        channel = "chat" if rng.random() < 0.1 else "default"
        created = now - rng.randrange(DAY_MS)
        task_data = {"task_sid": task, "task_attributes": json.dumps({"n": len(events)}),
                     "task_priority": 0, "task_channel_unique_name": channel,
                     "task_queue_sid": queue, "task_date_created": created,
                     "task_queue_entered_date": created, "workflow_sid": layout.workflow,
                     "task_age": 0}
        ids = {"task_sid": task, "task_queue_sid": queue, "workflow_sid": layout.workflow,
               "task_channel": channel}
        for kind in ("task.created", "workflow.entered", "workflow.target-matched",
                     "task-queue.entered"):
            event(kind, created, ("task", task), task_data, **ids)
        offered = created + rng.randrange(1_000, 30_000)
        res = {**task_data, "worker_sid": worker, "reservation_sid": reservation}
        res_ids = {**ids, "worker_sid": worker, "reservation_sid": reservation}
        event("reservation.created", offered, ("reservation", reservation), res, **res_ids)
        outcome = rng.random()
        answered = offered + rng.randrange(1_000, 20_000)
        if outcome < 0.85:
            event("reservation.accepted", answered, ("reservation", reservation), res,
                  **res_ids)
            done = answered + rng.randrange(60_000, 600_000)
            for kind in ("task.wrapup", "reservation.wrapup"):
                event(kind, done, ("task", task), res, **res_ids)
            for kind in ("task.completed", "reservation.completed"):
                event(kind, done + 30_000, ("task", task), res, **res_ids)
        else:
            kind = "reservation.rejected" if outcome < 0.95 else "reservation.timeout"
            event(kind, answered, ("reservation", reservation), res, **res_ids)
            event("task.canceled", answered + 5_000, ("task", task), task_data, **ids)
    events.sort(key=lambda e: e[0])
    return [(d, e) for d, e in events if d <= now]


def add_events(db: sqlite3.Connection, layout: Layout, first: dict[str, str], count: int,
               now: int, rng: random.Random) -> tuple[int, int]:
    """Returns how many events were stored, and how many of them are activity changes."""
    events = synthetic_events(layout, first, count, now, rng)
    # The API's own events (creating the queues) come after the day's history in the log.
    db.execute("UPDATE events SET seq = seq + ? WHERE workspace_sid = ?",
               (len(events), layout.workspace))

    def rows() -> Iterator[dict[str, Any]]:
        for seq, (_, row) in enumerate(events, start=1):
            yield {**row, "sid": new_sid("EV"), "account_sid": ACCOUNT,
                   "workspace_sid": layout.workspace, "seq": seq,
                   "data": json.dumps(row["data"], separators=(",", ":"))}

    inserted = insert(db, tables.events, rows())
    # Written around the server: its statistics rollups fold these events in on first use
    # (a tree from before the rollups has no such table).
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'stat_backfill'").fetchone():
        db.execute("INSERT INTO stat_backfill (workspace_sid, seq, done) VALUES (?, ?, 0)",
                   (layout.workspace, len(events)))
    # Each worker ends the day in the activity its last change put it in.
    last: dict[str, str] = dict(first)
    changes = 0
    for _, row in events:
        if row["event_type"] == "worker.activity.update":
            last[row["worker_sid"]] = row["data"]["worker_activity_sid"]
            changes += 1
    db.executemany("UPDATE workers SET activity_sid = ? WHERE sid = ?",
                   [(activity, sid) for sid, activity in last.items()])
    return inserted, changes


# ---------------------------------------------------------------------- measuring


def requests(layout: Layout, wider: bool = True) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, path, query) of each statistics request measured: every endpoint with its
    default parameters (what a dashboard polls), then, if ``wider``, longer windows and
    filters."""
    ws = f"/v1/Workspaces/{layout.workspace}"
    queue, skill = f"{ws}/TaskQueues/{layout.pool}", f"{ws}/TaskQueues/{layout.queues[0]}"
    workflow, worker = f"{ws}/Workflows/{layout.workflow}", f"{ws}/Workers/{layout.workers[0]}"
    defaults: list[tuple[str, str, dict[str, Any]]] = [
        ("workspace Statistics", f"{ws}/Statistics", {}),
        ("workspace RealTimeStatistics", f"{ws}/RealTimeStatistics", {}),
        ("workspace CumulativeStatistics", f"{ws}/CumulativeStatistics", {}),
        ("queue Statistics (pool)", f"{queue}/Statistics", {}),
        ("queue RealTimeStatistics (pool)", f"{queue}/RealTimeStatistics", {}),
        ("queue CumulativeStatistics (pool)", f"{queue}/CumulativeStatistics", {}),
        ("TaskQueues/Statistics (page of 50)", f"{ws}/TaskQueues/Statistics", {}),
        ("TaskQueues/RealTimeStatistics (bulk, 50 queues)", f"{ws}/TaskQueues/RealTimeStatistics",
         {"QueueSids": [layout.pool, *layout.queues[:49]]}),
        ("Workers/Statistics", f"{ws}/Workers/Statistics", {}),
        ("Workers/RealTimeStatistics", f"{ws}/Workers/RealTimeStatistics", {}),
        ("Workers/CumulativeStatistics", f"{ws}/Workers/CumulativeStatistics", {}),
        ("Workers/{WK}/Statistics", f"{worker}/Statistics", {}),
        ("workflow Statistics", f"{workflow}/Statistics", {}),
        ("workflow RealTimeStatistics", f"{workflow}/RealTimeStatistics", {}),
        ("workflow CumulativeStatistics", f"{workflow}/CumulativeStatistics", {}),
    ]
    if not wider:
        return defaults
    day = {"Minutes": 1440}
    month = {"Minutes": 30 * 1440}
    return [*defaults,
            ("workspace CumulativeStatistics, 24 h, split 10,30,60",
             f"{ws}/CumulativeStatistics", {**day, "SplitByWaitTime": "10,30,60"}),
            ("workspace CumulativeStatistics, 30 days", f"{ws}/CumulativeStatistics", month),
            ("workspace Statistics, TaskChannel=chat", f"{ws}/Statistics",
             {"TaskChannel": "chat"}),
            ("queue CumulativeStatistics (a skill queue), 24 h", f"{skill}/CumulativeStatistics",
             day),
            ("TaskQueues/Statistics, 24 h (page of 50)", f"{ws}/TaskQueues/Statistics", day),
            ("Workers/Statistics, TaskQueueSid=pool", f"{ws}/Workers/Statistics",
             {"TaskQueueSid": layout.pool}),
            ("Workers/CumulativeStatistics, 1 h", f"{ws}/Workers/CumulativeStatistics",
             {"Minutes": 60}),
            ("Workers/CumulativeStatistics, 24 h", f"{ws}/Workers/CumulativeStatistics", day),
            ("Workers/{WK}/Statistics, 24 h", f"{worker}/Statistics", day),
            ("workflow CumulativeStatistics, 24 h", f"{workflow}/CumulativeStatistics", day)]


def send(client: httpx.Client, path: str, query: dict[str, Any]) -> httpx.Response:
    if "QueueSids" in query:
        return client.post(path, json=query)
    return client.get(path, params=query)


def latency(base: str, layout: Layout, count: int, pid: int
            ) -> list[tuple[str, float, float, float, float]]:
    """Per request kind: the first request's time (a window not asked for before), then p50
    and p99 of the next ``count``, and the server's CPU time per request over them."""
    results = []
    with httpx.Client(base_url=base, auth=(ACCOUNT, TOKEN), timeout=60) as client:
        for name, path, query in requests(layout):
            started = time.perf_counter()
            send(client, path, query).raise_for_status()
            first = time.perf_counter() - started
            times = []
            used = cpu_seconds(pid)
            for _ in range(count):
                started = time.perf_counter()
                response = send(client, path, query)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            cpu = (cpu_seconds(pid) - used) / count
            times.sort()
            results.append((name, first * 1000, statistics.median(times) * 1000,
                            times[max(0, int(len(times) * 0.99) - 1)] * 1000, cpu * 1000))
    return results


def session(base: str, connections: int = 100) -> aiohttp.ClientSession:
    # aiohttp, not httpx, generates the load: httpx's async client would measure itself.
    auth = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    return aiohttp.ClientSession(base, headers={"Authorization": auth},
                                 connector=aiohttp.TCPConnector(limit=connections))


async def create_tasks(base: str, layout: Layout, count: int, concurrency: int) -> float:
    path = f"/v1/Workspaces/{layout.workspace}/Tasks"
    async with session(base, concurrency) as client:
        remaining = iter(range(count))

        async def worker() -> None:
            for i in remaining:
                async with client.post(path, data={"Attributes": json.dumps({"i": i})}) as r:
                    assert r.status == 201, await r.text()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


async def poll(base: str, layout: Layout, rate: float, stop: Any) -> int:
    """Statistics requests at a fixed rate (open loop), cycling through every endpoint, until
    ``stop`` (a process-shared event) is set."""
    kinds = itertools.cycle(requests(layout, wider=False))
    sent = failed = 0
    pending: set[asyncio.Task[None]] = set()
    async with session(base) as client:

        async def one(path: str, query: dict[str, Any]) -> None:
            nonlocal failed
            if "QueueSids" in query:
                request = client.post(path, json=query)
            else:
                request = client.get(path, params=query)
            async with request as r:
                await r.read()
                failed += r.status != 200

        started = time.perf_counter()
        while not stop.is_set():
            _, path, query = next(kinds)
            task = asyncio.create_task(one(path, query))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
            delay = started + sent / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await asyncio.gather(*pending)
    if failed:
        print(f"  (poller: {failed} of {sent} statistics requests failed)", flush=True)
    return sent


def poller(base: str, layout: Layout, rate: float, stop: Any) -> None:
    asyncio.run(poll(base, layout, rate, stop))


def throughput(base: str, layout: Layout, tasks: int, concurrency: int,
               poll_rate: float | None) -> float:
    """Tasks created per second; the poller, if any, runs in a process of its own so that
    handling its answers does not slow the clients creating tasks."""
    if poll_rate is None:
        return asyncio.run(create_tasks(base, layout, tasks, concurrency))
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    process = context.Process(target=poller, args=(base, layout, poll_rate, stop))
    process.start()
    try:
        return asyncio.run(create_tasks(base, layout, tasks, concurrency))
    finally:
        stop.set()
        process.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=15_000)
    parser.add_argument("--queues", type=int, default=5_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="per statistics request kind")
    parser.add_argument("--tasks", type=int, default=12_000,
                        help="per throughput round (the pool has room for 120,000 in all)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--poll-rate", type=float, default=50)
    parser.add_argument("--port", type=int, default=18_090)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-only", action="store_true",
                        help="measure start-up and latency, not routing throughput")
    parser.add_argument("--src", help="serve this source tree instead (e.g. a checkout of "
                        "the code before a change, to compare)")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    rng = random.Random(args.seed)
    print(f"machine: {machine()}")
    print(f"parameters: {args.workers:,} workers, {args.queues:,} queues, {args.events:,} "
          f"events over the last 24 h, {args.requests} requests per kind, {args.rounds} rounds "
          f"of {args.tasks:,} tasks at concurrency {args.concurrency}, polling at "
          f"{args.poll_rate:g}/s", flush=True)
    with tempfile.TemporaryDirectory() as data_dir:
        data = Path(data_dir)
        server = start_server(data, args.port, account=ACCOUNT, token=TOKEN, wait=1800,
                              src=args.src)
        try:
            layout = configure(base, args.queues)
        finally:
            stop(server)
        started = time.perf_counter()
        db = sqlite3.connect(data / "switchboard.db")
        db.execute("PRAGMA synchronous=OFF")
        now = int(time.time() * 1000)
        first = add_workers(db, layout, args.workers, args.queues, now, rng)
        stored, changes = add_events(db, layout, first, args.events, now, rng)
        db.commit()
        db.close()
        print(f"stored {args.workers:,} workers and {stored:,} events ({changes:,} activity "
              f"changes) in {time.perf_counter() - started:.0f} s", flush=True)

        started = time.perf_counter()
        server = start_server(data, args.port, account=ACCOUNT, token=TOKEN, wait=1800,
                              src=args.src)
        try:
            up = time.perf_counter() - started
            httpx.get(f"{base}/v1/Workspaces/{layout.workspace}/CumulativeStatistics",
                      auth=(ACCOUNT, TOKEN), timeout=600).raise_for_status()
            ready = time.perf_counter() - started
            print(f"start-up: API answering after {up:.0f} s (loading the workspace), "
                  f"statistics ready after {ready:.0f} s", flush=True)
            warm = asyncio.run(create_tasks(base, layout, 2_000, args.concurrency))
            print(f"2,000 live tasks created ({warm:,.0f}/s)", flush=True)

            print("latency (sequential requests, keep-alive), target p99 ≤ 50 ms; first: the "
                  "first request of each kind:")
            polled = {name for name, _, _ in requests(layout, wider=False)}
            cycle = 0.0
            for name, first, p50, p99, cpu in latency(base, layout, args.requests, server.pid):
                mark = "" if p99 <= 50 else "  (over target)"
                print(f"  {name:<55} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   first "
                      f"{first:6.1f} ms   server CPU {cpu:5.2f} ms{mark}", flush=True)
                cycle += cpu if name in polled else 0
            print(f"server CPU of one polling cycle (each default request once): {cycle:.1f} ms; "
                  f"at {args.poll_rate:g} requests/s, "
                  f"{cycle * args.poll_rate / len(polled) / 10:.1f}% of a core", flush=True)

            if args.latency_only:
                return
            # A round to warm up: the first after the latency runs is slower either way.
            throughput(base, layout, args.tasks // 3, args.concurrency, None)
            rates: dict[bool, list[float]] = {False: [], True: []}
            cpu: dict[bool, list[float]] = {False: [], True: []}  # server CPU s per task
            for round_number in range(args.rounds):
                # ABBA order, so that a drift of the machine weighs on both sides alike.
                order = (False, True) if round_number % 2 == 0 else (True, False)
                for polled in order:
                    used = cpu_seconds(server.pid)
                    rates[polled].append(throughput(base, layout, args.tasks, args.concurrency,
                                                    args.poll_rate if polled else None))
                    cpu[polled].append((cpu_seconds(server.pid) - used) / args.tasks)
                print(f"  round {round_number + 1}: {rates[False][-1]:,.0f} tasks/s without "
                      f"polling, {rates[True][-1]:,.0f} with: "
                      f"{rates[True][-1] / rates[False][-1]:.0%}", flush=True)
            # Medians: a round the shared machine slowed moves a mean, not a median.
            without, polled_rate = (statistics.median(rates[False]),
                                    statistics.median(rates[True]))
            print(f"routing throughput (medians): {without:,.0f} tasks/s without polling, "
                  f"{polled_rate:,.0f} tasks/s while polling statistics at {args.poll_rate:g}/s: "
                  f"{polled_rate / without:.0%} (target ≥ 90%); median of the rounds' ratios "
                  f"{statistics.median(map(operator.truediv, rates[True], rates[False])):.0%}")
            plain_cpu, polled_cpu = statistics.median(cpu[False]), statistics.median(cpu[True])
            print(f"server CPU per routed task: {plain_cpu * 1000:.3f} ms without polling, "
                  f"{polled_cpu * 1000:.3f} ms with: a CPU-bound server keeps "
                  f"{plain_cpu / polled_cpu:.0%} of its throughput (less sensitive to the "
                  "machine's noise than the rates above)")
        finally:
            stop(server)


if __name__ == "__main__":
    main()
