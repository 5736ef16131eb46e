"""A cluster of nodes on one PostgreSQL database: failover, forwarding and throughput.

Starts real ``switchboard serve`` node processes on loopback sharing a fresh PostgreSQL
database (created here, dropped afterwards), default ``--lease-seconds`` (3), and measures:

(a) failover of small workspaces: 100 workspaces spread over 3 nodes; clients poll each
    workspace of one node through the two others (``GET …/Workers``, answered by the owner's
    engine); that node is killed (SIGKILL); per workspace, the time from the kill to the first
    successful answer run by another node (``X-Switchboard-Node``). Repeated ``--rounds`` times
    (the killed node is restarted and the workspaces spread again in between); p50/p99/max.
(b) failover of one large workspace (``--large-workers`` workers with one channel each of the
    workspace's channels and three skills, ``--large-queues`` queues by skill), its queues and
    workers written straight into the store; then its owner is killed and the time to the
    first answer through a survivor measured (the new owner loads it from the store: queue
    membership of every worker in every queue).
(c) a forwarded request's cost: the same request sent straight to the owner or to another
    node (which forwards it), alternating rounds, one client, keep-alive; p50/p99 of each and
    the difference.
(d) throughput of 1, 2 and 3 nodes: task creations (committed before the answer, PostgreSQL
    with fsync) by C concurrent clients over many workspaces, the requests spread round-robin
    over the nodes as a load balancer would ("balanced": most are forwarded) or sent to each
    workspace's owner ("owner"); nodes join and leave (SIGTERM) between measurements, in the
    order 1, 2, 3, 2, 1 nodes.

    python benchmarks/cluster.py [--only a,b,c,d] [--workspaces 100] [--rounds 3]
        [--large-workers 15000] [--large-queues 5000] [--requests 300] [--overhead-rounds 6]
        [--tasks 3000] [--throughput-workspaces 30] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from common import machine
from sqlalchemy import create_engine, insert, select, text

from switchboard.cluster.placement import desired_owner
from switchboard.routing.sids import new_sid
from switchboard.store import tables

ACCOUNT = "AC" + "d" * 32
TOKEN = "bench-token"
ADMIN_URL = os.environ.get("SWITCHBOARD_TEST_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
AUTH = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()


# ---------------------------------------------------------------------- database and nodes


class Database:
    """A fresh PostgreSQL database, dropped on exit."""

    def __init__(self) -> None:
        self.name = f"switchboard_bench_cluster_{uuid.uuid4().hex[:10]}"
        self.url = ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        self.admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")

    def __enter__(self) -> Database:
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.engine = create_engine(self.url)
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.dispose()
        with self.admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name"), {"name": self.name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}"'))
        self.admin.dispose()

    def owners(self) -> dict[str, str | None]:
        """Workspace -> the node whose lease is current (None: nobody now)."""
        ws, leases = tables.workspaces, tables.workspace_leases
        now = "(extract(epoch from clock_timestamp()) * 1000)::bigint"
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ws.c.sid, leases.c.owner,
                       leases.c.expires_at >= text(now))
                .select_from(ws.outerjoin(leases, leases.c.workspace_sid == ws.c.sid))).all()
        return {sid: owner if current else None for sid, owner, current in rows}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Node:
    def __init__(self, index: int, database_url: str, root: Path) -> None:
        self.id = f"node{index}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.data_dir = root / self.id
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait: float = 60) -> None:
        env = {**os.environ, "SWITCHBOARD_ACCOUNT_SID": ACCOUNT, "SWITCHBOARD_AUTH_TOKEN": TOKEN,
               "NO_PROXY": "127.0.0.1,localhost"}
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "switchboard", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir), "--database-url", self.database_url,
             "--node-id", self.id, "--log-level", "warning"],  # default --lease-seconds (3)
            env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.data_dir / "server.log").read_text()[-2000:])
            try:
                if httpx.get(self.url + "/healthz", timeout=1, trust_env=False
                             ).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.id} did not become ready")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def terminate(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=60)
            self.process = None

    @property
    def up(self) -> bool:
        return self.process is not None


def start_all(nodes: list[Node]) -> None:
    """Every node at once (the first migrates the schema; the others wait for it)."""
    errors: list[BaseException] = []

    def run(node: Node) -> None:
        try:
            node.start()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(node,)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def client(node: Node, timeout: float = 60) -> httpx.Client:
    return httpx.Client(base_url=node.url, auth=(ACCOUNT, TOKEN), timeout=timeout,
                        trust_env=False)


def settle(db: Database, nodes: list[Node], sids: list[str], timeout: float = 120) -> dict[
        str, str]:
    """Wait until every workspace is owned by the node placement gives it among live nodes."""
    live = [n.id for n in nodes if n.up]
    deadline = time.monotonic() + timeout
    while True:
        owners = db.owners()
        if all(owners.get(s) == desired_owner(s, live) for s in sids):
            return {s: str(owners[s]) for s in sids}
        if time.monotonic() > deadline:
            raise RuntimeError("workspaces did not settle on their nodes")
        time.sleep(0.2)


def create_workspaces(node: Node, count: int, prefix: str) -> list[str]:
    with client(node) as c:
        sids = []
        for i in range(count):
            answer = c.post("/v1/Workspaces", data={"FriendlyName": f"{prefix}{i}",
                                                    "Template": "FIFO"})
            assert answer.status_code == 201, answer.text
            sids.append(answer.json()["sid"])
        return sids


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * share) - 1))]


def summary(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    return (f"p50 {statistics.median(values) * scale:.2f} {unit}, "
            f"p99 {percentile(values, 0.99) * scale:.2f} {unit}, "
            f"min {min(values) * scale:.2f}, max {max(values) * scale:.2f} ({len(values)} samples)")


def session(connections: int = 100) -> aiohttp.ClientSession:
    # aiohttp generates load: httpx's async client would measure itself.
    return aiohttp.ClientSession(headers={"Authorization": AUTH},
                                 connector=aiohttp.TCPConnector(limit=connections),
                                 timeout=aiohttp.ClientTimeout(total=60))


# ---------------------------------------------------------------------- (a), (b): failover


async def failover(victim: Node, survivors: list[Node], sids: list[str], path: str = "Workers",
                   pause: float = 0.02, timeout: float = 180) -> dict[str, float]:
    """Kill ``victim`` while clients poll each workspace through the survivors; per workspace,
    seconds from the kill to the first successful answer run by another node."""
    killed_at: float | None = None
    answered: dict[str, float] = {}
    turn = itertools.count()

    async def poll(http: aiohttp.ClientSession, sid: str) -> None:
        url_path = f"/v1/Workspaces/{sid}/{path}?PageSize=1"
        while True:
            node = survivors[next(turn) % len(survivors)]
            try:
                async with http.get(node.url + url_path) as answer:
                    await answer.read()
                    ok = (answer.status == 200
                          and answer.headers.get("X-Switchboard-Node") != victim.id)
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            if ok and killed_at is not None:
                answered[sid] = time.perf_counter() - killed_at
                return
            await asyncio.sleep(pause)

    async with session(len(sids) + 10) as http:
        pollers = [asyncio.create_task(poll(http, sid)) for sid in sids]
        await asyncio.sleep(1.0)  # polling steadily, through the survivors
        assert victim.process is not None
        killed_at = time.perf_counter()
        os.kill(victim.process.pid, signal.SIGKILL)
        _, pending = await asyncio.wait(pollers, timeout=timeout)
        for task in pending:
            task.cancel()
    victim.process.wait()
    victim.process = None
    if len(answered) < len(sids):
        print(f"  !! {len(sids) - len(answered)} workspaces did not answer within {timeout} s")
    return answered


def small_failover(db: Database, nodes: list[Node], sids: list[str], rounds: int) -> None:
    times: list[float] = []
    per_round = []
    for r in range(rounds):
        owners = settle(db, nodes, sids)
        victim = nodes[r % len(nodes)]
        theirs = [s for s in sids if owners[s] == victim.id]
        survivors = [n for n in nodes if n is not victim]
        answered = asyncio.run(failover(victim, survivors, theirs))
        values = list(answered.values())
        times += values
        per_round.append(f"{victim.id}: {len(theirs)} ws, p50 {statistics.median(values):.2f} "
                         f"max {max(values):.2f} s")
        print(f"  round {r + 1}: killed {per_round[-1]}", flush=True)
        victim.start()
    print(f"(a) failover, {len(sids)} small workspaces over {len(nodes)} nodes, kill -9 of one "
          f"node, lease 3 s (default), {rounds} rounds: kill -> first answer through a "
          f"survivor: {summary(times)}")


def build_large(db: Database, node: Node, workers: int, queues: int) -> tuple[str, float]:
    """A workspace of ``workers`` workers and ``queues`` queues, written straight into the
    store (through the API, thousands of queues take many minutes on a busy 2-core machine);
    seconds it took to build."""
    started = time.perf_counter()
    with client(node, timeout=120) as c:
        sid = c.post("/v1/Workspaces", data={"FriendlyName": "large"}).json()["sid"]
    path = f"/v1/Workspaces/{sid}"
    with client(node) as c:
        activities = [a["sid"] for a in c.get(f"{path}/Activities").json()["activities"]]
        channels = [ch["sid"] for ch in c.get(f"{path}/TaskChannels").json()["channels"]]
    rng = random.Random(7)
    now = int(time.time() * 1000)
    worker_rows, channel_rows = [], []
    for n in range(workers):
        wk = new_sid("WK")
        attributes: dict[str, Any] = {"skills": [f"s{rng.randrange(1, queues)}"
                                                 for _ in range(3)]}
        if n < 100:
            attributes["pool"] = 1
        worker_rows.append({
            "sid": wk, "account_sid": ACCOUNT, "workspace_sid": sid,
            "friendly_name": f"worker {n}", "attributes": json.dumps(attributes),
            "activity_sid": rng.choice(activities), "version": 0, "date_created": now,
            "date_updated": now, "date_status_changed": now, "idle_since": now})
        for channel in channels:
            channel_rows.append({
                "sid": new_sid("WC"), "account_sid": ACCOUNT, "workspace_sid": sid,
                "worker_sid": wk, "task_channel_sid": channel, "configured_capacity": 1,
                "available": True, "date_created": now, "date_updated": now})
    queue_rows = [{
        "sid": new_sid("WQ"), "account_sid": ACCOUNT, "workspace_sid": sid,
        "friendly_name": "Pool" if i == 0 else f"Skill {i}",
        "target_workers": "pool == 1" if i == 0 else f"skills HAS 's{i}'",
        "max_reserved_workers": 1, "task_order": "FIFO", "date_created": now + i,
        "date_updated": now + i} for i in range(queues)]
    with db.engine.begin() as conn:
        for table, rows in ((tables.task_queues, queue_rows), (tables.workers, worker_rows),
                            (tables.worker_channels, channel_rows)):
            for start in range(0, len(rows), 5_000):
                conn.execute(insert(table), rows[start:start + 5_000])
    return sid, time.perf_counter() - started


def large_failover(db: Database, nodes: list[Node], workers: int, queues: int,
                   rounds: int) -> None:
    sid, built = build_large(db, nodes[0], workers, queues)
    print(f"  built a workspace of {workers:,} workers and {queues:,} queues in {built:.0f} s",
          flush=True)
    # Its owner holds it without the workers written behind its back: the first failover
    # (not measured) makes a node load it from the store; the next ones are measured.
    times: list[float] = []
    for r in range(rounds + 1):
        owner = settle(db, nodes, [sid], timeout=600)[sid]  # where placement puts it
        victim = next(n for n in nodes if n.id == owner)
        survivors = [n for n in nodes if n is not victim and n.up]
        answered = asyncio.run(failover(victim, survivors, [sid], pause=0.1, timeout=600))
        if r > 0:
            times += answered.values()
            print(f"  round {r}: killed {victim.id}: {answered.get(sid, float('nan')):.1f} s",
                  flush=True)
        else:
            print(f"  loaded it on a new owner in {answered.get(sid, float('nan')):.1f} s "
                  "after the kill (not counted)", flush=True)
        victim.start()
    if times:
        print(f"(b) failover, one workspace of {workers:,} workers and {queues:,} queues, lease "
              f"3 s (default): kill -> first answer through a survivor: "
              + ", ".join(f"{t:.1f} s" for t in times)
              + f" (median {statistics.median(times):.1f} s)")


# ---------------------------------------------------------------------- (c): forwarding


def overhead(db: Database, nodes: list[Node], sids: list[str], count: int, rounds: int) -> None:
    owners = settle(db, nodes, sids)
    sid = next(s for s in sids if owners[s] == nodes[0].id)
    owner, other = nodes[0], nodes[1]
    path = f"/v1/Workspaces/{sid}"
    with client(owner) as c:
        worker = c.post(f"{path}/Workers", data={"FriendlyName": "w"}).json()["sid"]
    requests: dict[str, tuple[str, str, dict[str, str] | None]] = {
        "GET a worker": ("GET", f"{path}/Workers/{worker}", None),
        "POST a task": ("POST", f"{path}/Tasks", {"Attributes": "{}"}),
    }
    clients = {"direct": client(owner), "forwarded": client(other)}
    times: dict[tuple[str, str], list[float]] = {}
    round_medians: dict[str, list[float]] = {name: [] for name in requests}
    for c in clients.values():  # warm up: connections, forwarding client
        for method, url, data in requests.values():
            for _ in range(20):
                c.request(method, url, data=data)
    for r in range(rounds):
        order = ["direct", "forwarded"] if r % 2 == 0 else ["forwarded", "direct"]
        medians: dict[tuple[str, str], float] = {}
        for name, (method, url, data) in requests.items():
            for mode in order:
                c = clients[mode]
                samples = []
                for _ in range(count):
                    started = time.perf_counter()
                    answer = c.request(method, url, data=data)
                    samples.append(time.perf_counter() - started)
                    assert answer.status_code in (200, 201), answer.text
                    assert answer.headers["X-Switchboard-Node"] == owner.id
                times.setdefault((name, mode), []).extend(samples)
                medians[(name, mode)] = statistics.median(samples)
            round_medians[name].append(medians[(name, "forwarded")] - medians[(name, "direct")])
    for c in clients.values():
        c.close()
    print(f"(c) a forwarded request vs the same request straight to the owner, one client, "
          f"keep-alive, {rounds} alternating rounds of {count}:")
    for name in requests:
        direct, forwarded = times[(name, "direct")], times[(name, "forwarded")]
        diffs = round_medians[name]
        print(f"  {name}: direct p50 {statistics.median(direct) * 1000:.2f} ms, p99 "
              f"{percentile(direct, 0.99) * 1000:.2f} ms; forwarded p50 "
              f"{statistics.median(forwarded) * 1000:.2f} ms, p99 "
              f"{percentile(forwarded, 0.99) * 1000:.2f} ms; difference p50 "
              f"{(statistics.median(forwarded) - statistics.median(direct)) * 1000:+.2f} ms, p99 "
              f"{(percentile(forwarded, 0.99) - percentile(direct, 0.99)) * 1000:+.2f} ms "
              f"(per-round median difference {min(diffs) * 1000:+.2f} to "
              f"{max(diffs) * 1000:+.2f} ms)")


# ---------------------------------------------------------------------- (d): throughput


async def create_tasks(nodes: list[Node], owners: dict[str, str], sids: list[str], tasks: int,
                       concurrency: int, routing: str) -> float:
    live = [n for n in nodes if n.up]
    by_id = {n.id: n for n in live}
    counter = itertools.count()
    async with session(concurrency + 10) as http:
        remaining = iter(range(tasks))

        async def worker() -> None:
            for i in remaining:
                sid = sids[i % len(sids)]
                node = (by_id[owners[sid]] if routing == "owner"
                        else live[next(counter) % len(live)])
                async with http.post(f"{node.url}/v1/Workspaces/{sid}/Tasks",
                                     data={"Attributes": json.dumps({"n": i})}) as answer:
                    body = await answer.read()
                    assert answer.status == 201, body

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return tasks / (time.perf_counter() - started)


def throughput(db: Database, nodes: list[Node], workspaces: int, tasks: int, concurrency: int,
               rounds: int) -> None:
    for node in nodes[1:]:
        node.kill()
    sids = create_workspaces(nodes[0], workspaces, "load")
    results: dict[tuple[int, str], list[float]] = {}
    sequence = [1, 2, 3, 2, 1] * rounds
    current = 1
    for step, size in enumerate(sequence):
        while current < size:
            nodes[current].start()
            current += 1
        while current > size:
            current -= 1
            nodes[current].terminate()  # SIGTERM: hands its workspaces over first
        owners = settle(db, nodes, sids)
        asyncio.run(create_tasks(nodes, owners, sids, min(500, tasks), concurrency, "owner"))
        routings = ["owner"] if size == 1 else (["balanced", "owner"] if step % 2 == 0
                                                else ["owner", "balanced"])
        for routing in routings:
            rate = asyncio.run(create_tasks(nodes, owners, sids, tasks, concurrency, routing))
            results.setdefault((size, routing), []).append(rate)
            print(f"  {size} node(s), {routing}: {rate:,.0f} tasks/s", flush=True)
    print(f"(d) throughput, task creations committed before the answer (PostgreSQL, fsync on), "
          f"{workspaces} workspaces, {concurrency} concurrent clients, {tasks} tasks a "
          "measurement, nodes in the order " + ", ".join(map(str, sequence)) + ":")
    for (size, routing), rates in sorted(results.items()):
        how = ("requests to any node (round-robin)" if routing == "balanced"
               else "requests to the owner")
        print(f"  {size} node(s), {how}: median {statistics.median(rates):,.0f} tasks/s "
              f"(range {min(rates):,.0f} to {max(rates):,.0f}, {len(rates)} measurements)")


# ---------------------------------------------------------------------- main


@contextlib.contextmanager
def cluster(db: Database, root: Path, size: int = 3) -> Iterator[list[Node]]:
    nodes = [Node(i, db.url, root) for i in range(size)]
    try:
        start_all(nodes)
        yield nodes
    finally:
        for node in nodes:
            node.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="a,b,c,d", help="which parts to run, e.g. a,c")
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="kills in (a)")
    parser.add_argument("--large-workers", type=int, default=15_000)
    parser.add_argument("--large-queues", type=int, default=5_000)
    parser.add_argument("--large-rounds", type=int, default=1, help="measured kills in (b)")
    parser.add_argument("--requests", type=int, default=300, help="per mode and round in (c)")
    parser.add_argument("--overhead-rounds", type=int, default=6)
    parser.add_argument("--tasks", type=int, default=3_000, help="per measurement in (d)")
    parser.add_argument("--throughput-workspaces", type=int, default=30)
    parser.add_argument("--throughput-rounds", type=int, default=1,
                        help="repeats of the 1, 2, 3, 2, 1 sequence in (d)")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    parts = set(args.only.split(","))
    print(f"machine: {machine()}")
    with Database() as db:
        with db.admin.connect() as conn:
            settings = [conn.execute(text(f"SHOW {name}")).scalar()
                        for name in ("server_version", "fsync", "synchronous_commit")]
        print(f"PostgreSQL {settings[0]} on loopback (fsync {settings[1]}, synchronous_commit "
              f"{settings[2]}), nodes with the default --lease-seconds 3", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if parts & {"a", "c"}:
            with Database() as db, cluster(db, root / "ac") as nodes:
                sids = create_workspaces(nodes[0], args.workspaces, "small")
                if "c" in parts:
                    overhead(db, nodes, sids, args.requests, args.overhead_rounds)
                if "a" in parts:
                    small_failover(db, nodes, sids, args.rounds)
        if "b" in parts:
            with Database() as db, cluster(db, root / "b") as nodes:
                large_failover(db, nodes, args.large_workers, args.large_queues,
                               args.large_rounds)
        if "d" in parts:
            with Database() as db, cluster(db, root / "d") as nodes:
                throughput(db, nodes, args.throughput_workspaces, args.tasks,
                           args.concurrency, args.throughput_rounds)


if __name__ == "__main__":
    main()
