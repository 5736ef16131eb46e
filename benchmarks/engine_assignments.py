"""In-process routing engine: task-to-worker assignments per second, on one core.

Scenario: W workers (each a member of 2 of Q queues by a `skills HAS` expression), T tasks
spread over the queues, all waiting. Phase 1 brings every worker online, each taking the best
waiting task (one routing decision and one reservation per worker). Phase 2 is steady state:
each worker accepts and completes its task, which frees it and reserves its next task.
Every command's changes are collected (``take_changes``) as the service does before committing.

    python benchmarks/engine_assignments.py [--workers 10000] [--queues 50] [--tasks 100000]
    python benchmarks/engine_assignments.py --scaling     # cost per assignment vs workers
    python benchmarks/engine_assignments.py --json        # the figures as one JSON object

The same script measures an older checkout too (``PYTHONPATH=<checkout>/src``): see
``compare_trees.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from common import machine

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.sids import counter_sids

ACCOUNT = "AC" + "0" * 32


def tasks_of(engine: WorkspaceEngine) -> Any:
    """Where tasks and reservations are: the engine itself, or ``engine.router`` in code from
    before the routing core was split by concept (so that old and new run the same script)."""
    return engine if hasattr(engine, "create_task") else engine.router


def build(workers: int, queues: int, tasks: int) -> tuple[WorkspaceEngine, int]:
    now = 1_767_225_600_000
    engine = WorkspaceEngine.create(account_sid=ACCOUNT, friendly_name="bench", now=now,
                                    sids=counter_sids())
    queue_sids = [engine.create_task_queue(f"q{i}", now, target_workers=f"skills HAS 'q{i}'").sid
                  for i in range(queues)]
    for i in range(workers):
        skills = [f"q{i % queues}", f"q{(i * 7 + 3) % queues}"]
        engine.create_worker(f"w{i}", now, activity_sid=None,
                             attributes=json.dumps({"skills": skills}))
    commands = tasks_of(engine)
    for i in range(tasks):
        commands.create_task(now + i, attributes=json.dumps({"n": i}), priority=i % 3,
                             task_queue_sid=queue_sids[i % queues])
    engine.take_changes()
    return engine, now + tasks


def run(workers: int, queues: int, tasks: int) -> dict[str, float]:
    engine, now = build(workers, queues, tasks)
    available = next(a.sid for a in engine.activities.values() if a.available)
    router = tasks_of(engine)

    started, cpu = time.perf_counter(), time.process_time()
    for worker in list(engine.workers.values()):
        engine.update_worker(worker.sid, now, activity_sid=available)
        engine.take_changes()
    online = time.perf_counter() - started
    online_cpu = time.process_time() - cpu
    reserved = sum(1 for r in router.reservations.values() if r.reservation_status == "pending")

    cycles = 0
    started, cpu = time.perf_counter(), time.process_time()
    pending = [r for r in router.reservations.values() if r.reservation_status == "pending"]
    while pending and cycles < tasks - reserved:
        next_round = []
        for reservation in pending:
            router.update_reservation(reservation.sid, now, status="accepted")
            engine.take_changes()
            router.update_task(reservation.task_sid, now, assignment_status="completed",
                               reason="done")
            engine.take_changes()
            cycles += 1
            next_round += [r for r in router.worker_reservations[reservation.worker_sid].values()
                           if r.reservation_status == "pending"]
        pending = next_round
    steady = time.perf_counter() - started
    steady_cpu = time.process_time() - cpu
    return {
        "online_assignments": reserved,
        "online_per_second": reserved / online,
        "cycles": cycles,
        "cycles_per_second": cycles / steady if steady else 0.0,
        "us_per_assignment": online / reserved * 1e6,
        # CPU time of this process: what other work on the machine changes least.
        "cpu_us_per_assignment": online_cpu / reserved * 1e6,
        "cpu_us_per_cycle": steady_cpu / cycles * 1e6 if cycles else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--queues", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--scaling", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not args.json:
        print(f"machine: {machine()}")
    if args.scaling:
        figures: dict[str, float] = {}
        for workers in (1_000, 100_000):
            result = run(workers, args.queues, workers * 2)
            figures[f"us_per_assignment_{workers}"] = result["us_per_assignment"]
            figures[f"cpu_us_per_assignment_{workers}"] = result["cpu_us_per_assignment"]
            if not args.json:
                print(f"workers={workers:>7} queues={args.queues} tasks={workers * 2}: "
                      f"{result['us_per_assignment']:.1f} µs per assignment "
                      f"({result['cpu_us_per_assignment']:.1f} µs of CPU)")
        ratio = figures["us_per_assignment_100000"] / figures["us_per_assignment_1000"]
        figures["cost_ratio"] = ratio
        figures["cpu_cost_ratio"] = (figures["cpu_us_per_assignment_100000"]
                                     / figures["cpu_us_per_assignment_1000"])
        if args.json:
            print(json.dumps(figures))
            return
        print(f"cost ratio 100,000 / 1,000 workers: {ratio:.2f}x (target ≤ 2x; "
              f"{figures['cpu_cost_ratio']:.2f}x in CPU time)")
        return
    result = run(args.workers, args.queues, args.tasks)
    if args.json:
        print(json.dumps(result))
        return
    print(f"workers={args.workers} queues={args.queues} waiting tasks={args.tasks}")
    print(f"assignments as workers come online: {result['online_assignments']:.0f} at "
          f"{result['online_per_second']:,.0f}/s ({result['us_per_assignment']:.1f} µs each, "
          f"{result['cpu_us_per_assignment']:.1f} µs of CPU; target ≥ 20,000/s)")
    print(f"steady state accept+complete+next assignment: {result['cycles']:.0f} cycles at "
          f"{result['cycles_per_second']:,.0f}/s ({result['cpu_us_per_cycle']:.1f} µs of CPU "
          "each)")


if __name__ == "__main__":
    main()
