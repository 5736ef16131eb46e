"""Beyond TaskRouter's limits: one workspace of 100,000 workers, 100,000 waiting tasks and 5,000
queues, in process (the routing core alone, one core).

Builds the workspace through the engine's commands (queues ``skills HAS 'q<i>'``, each worker
in 2 of them, offline; then the tasks, spread over the queues, all waiting), then:

* routes: R workers come online one by one, each taking the best waiting task of its queues;
* steady state: each of them accepts and completes its task and takes the next, C cycles;
* rebuilds the engine from copies of its rows (``WorkspaceEngine.load``, what a restart or a
  failover does after reading the store), with the cyclic garbage collector on, then off as
  the runtime loads (``runtime._no_cyclic_gc``).

Prints the time of each phase and the process's resident memory after it.

    python benchmarks/engine_scale.py [--workers 100000] [--queues 5000] [--tasks 100000]
        [--route 5000] [--cycles 5000] [--json]

Figures (2-core AMD EPYC VM, Python 3.11.7, the other core busy with other work), defaults:
5,000 queues 0.3 s; 100,000 workers 5.6 s (+253 MB resident); 100,000 tasks 2.9 s (+130 MB);
5,000 assignments as workers come online 51 us each; 5,000 steady cycles 76 us each; rebuild
7.6 s with the garbage collector on, 4.6-6.1 s off. In a busier hour every phase took 2-4x
longer (workers 10.3 s, assignments 214 us). Before queue membership was guarded, each new
worker was evaluated against all 5,000 queues: 500 million evaluations for the workers alone.
One full collection of the cyclic garbage collector over the built state: 0.56 s, a pause a
server avoids by freezing what it loads (``serving.tune_gc``, ``Runtime._load_workspace``).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from common import machine

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import (
    Activity,
    Reservation,
    Task,
    TaskChannel,
    TaskQueue,
    Transfer,
    Worker,
    WorkerChannel,
    Workflow,
    Workspace,
    stored_fields,
)
from switchboard.routing.sids import counter_sids
from switchboard.service.runtime import _no_cyclic_gc

ACCOUNT = "AC" + "0" * 32
NOW = 1_767_225_600_000


def rss_mb() -> float:
    """Resident memory of this process (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def copies(cls: type, entities: Iterable[Any]) -> list[Any]:
    """Stored fields only, in creation order: what the store gives back."""
    names = stored_fields(cls)
    rows = [{name: getattr(e, name) for name in names} for e in entities]
    rows.sort(key=lambda r: (r["date_created"], r["sid"]))
    return [cls(**row) for row in rows]


def rebuild(engine: WorkspaceEngine, now: int) -> WorkspaceEngine:
    rows = {
        "activities": copies(Activity, engine.activities.values()),
        "task_channels": copies(TaskChannel, engine.task_channels.values()),
        "workers": copies(Worker, engine.workers.values()),
        "worker_channels": copies(WorkerChannel, (
            wc for channels in engine.worker_channels.values() for wc in channels.values())),
        "task_queues": copies(TaskQueue, engine.task_queues.values()),
        "workflows": copies(Workflow, engine.workflows.values()),
        "tasks": copies(Task, engine.tasks.values()),
        "reservations": copies(Reservation, engine.reservations.values()),
        "transfers": copies(Transfer, engine.transfers.values()),
    }
    workspace = Workspace(**{f.name: getattr(engine.workspace, f.name)
                             for f in dataclasses.fields(Workspace)})
    return WorkspaceEngine.load(workspace, **rows, event_seq=engine.event_seq, now=now,
                                sids=engine.sids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=100_000)
    parser.add_argument("--queues", type=int, default=5_000)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--route", type=int, default=5_000, help="workers brought online")
    parser.add_argument("--cycles", type=int, default=5_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures: dict[str, float] = {"rss_start_mb": rss_mb()}

    def phase(name: str, started: float) -> None:
        figures[f"{name}_s"] = time.perf_counter() - started
        figures[f"rss_after_{name}_mb"] = rss_mb()
        if not args.json:
            print(f"  {name:<28} {figures[f'{name}_s']:8.2f} s   RSS {rss_mb():8.0f} MB",
                  flush=True)

    if not args.json:
        print(f"machine: {machine()}")
        print(f"parameters: {args.workers:,} workers, {args.queues:,} queues, {args.tasks:,} "
              f"waiting tasks, {args.route:,} workers routed, {args.cycles:,} steady cycles")
    started = time.perf_counter()
    engine = WorkspaceEngine.create(account_sid=ACCOUNT, friendly_name="scale", now=NOW,
                                    sids=counter_sids())
    queues = [engine.create_task_queue(f"q{i}", NOW, target_workers=f"skills HAS 'q{i}'").sid
              for i in range(args.queues)]
    engine.take_changes()
    phase("queues", started)
    started = time.perf_counter()
    for i in range(args.workers):
        skills = [f"q{i % args.queues}", f"q{(i * 7 + 3) % args.queues}"]
        engine.create_worker(f"w{i}", NOW, activity_sid=None,
                             attributes=json.dumps({"skills": skills}))
        engine.take_changes()
    phase("workers", started)
    started = time.perf_counter()
    for i in range(args.tasks):
        engine.create_task(NOW + i, attributes=json.dumps({"n": i}), priority=i % 3,
                           task_queue_sid=queues[i % args.queues])
        engine.take_changes()
    phase("tasks", started)
    now = NOW + args.tasks
    # What a full collection of the cyclic garbage collector costs over this state when it is
    # not frozen (a server freezes what it loads at start-up; what it creates later, it walks).
    figures["tracked_objects"] = len(gc.get_objects())
    started = time.perf_counter()
    gc.collect()
    phase("full_gc", started)

    available = next(a.sid for a in engine.activities.values() if a.available)
    started = time.perf_counter()
    routed = list(engine.workers.values())[:args.route]
    for worker in routed:
        engine.update_worker(worker.sid, now, activity_sid=available)
        engine.take_changes()
    phase("route", started)
    reserved = [r for r in engine.reservations.values() if r.reservation_status == "pending"]
    figures["reservations"] = len(reserved)
    figures["us_per_assignment"] = figures["route_s"] / max(1, len(reserved)) * 1e6

    started = time.perf_counter()
    cycles = 0
    pending = reserved
    while pending and cycles < args.cycles:
        after = []
        for reservation in pending:
            if cycles >= args.cycles:
                break
            engine.update_reservation(reservation.sid, now, status="accepted")
            engine.take_changes()
            engine.update_task(reservation.task_sid, now, assignment_status="completed",
                               reason="done")
            engine.take_changes()
            cycles += 1
            after += [r for r in engine.worker_reservations[reservation.worker_sid].values()
                      if r.reservation_status == "pending"]
        pending = after
    phase("steady", started)
    figures["cycles"] = cycles
    figures["us_per_cycle"] = figures["steady_s"] / max(1, cycles) * 1e6

    started = time.perf_counter()
    rebuilt = rebuild(engine, now)
    phase("rebuild", started)
    assert rebuilt.queue_members == engine.queue_members
    del rebuilt
    gc.collect()
    started = time.perf_counter()
    with _no_cyclic_gc():
        rebuilt = rebuild(engine, now)
    phase("rebuild_without_gc", started)
    waiting = sum(1 for t in rebuilt.tasks.values() if t.assignment_status == "pending")
    figures["waiting_after"] = waiting
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{figures['reservations']:,.0f} assignments as workers came online: "
          f"{figures['us_per_assignment']:.0f} µs each; {cycles:,} steady cycles (accept, "
          f"complete, next): {figures['us_per_cycle']:.0f} µs each; {waiting:,} tasks still "
          "waiting; the rebuilt engine has the same queue membership")


if __name__ == "__main__":
    main()
