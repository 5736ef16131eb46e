"""Machine instructions per assignment and per steady cycle, old code against new.

On a shared machine the time of a run moves with other work; the instructions it executes do
not. This runs the scenario of ``engine_assignments.py`` (smaller) under valgrind's callgrind,
once stopping after the set-up, once after workers come online, once after the steady cycles,
so that differences give each phase's instructions; the hash seed is fixed so that both trees
iterate their sets and dicts alike. Needs valgrind; slow (about a minute of CPU per run).

    git worktree add /tmp/old <commit>
    python benchmarks/engine_instructions.py --old /tmp/old/src [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from common import machine

HERE = Path(__file__).resolve().parent
WORKERS, QUEUES, TASKS, CYCLES = 1_000, 50, 4_000, 1_000
PHASES = ("setup", "online", "steady")


def scenario(phase: str) -> None:
    """The engine_assignments.py scenario, stopped after ``phase``."""
    import engine_assignments as bench

    engine, now = bench.build(WORKERS, QUEUES, TASKS)
    if phase == "setup":
        return
    available = next(a.sid for a in engine.activities.values() if a.available)
    commands = bench.tasks_of(engine)
    for worker in list(engine.workers.values()):
        engine.update_worker(worker.sid, now, activity_sid=available)
        engine.take_changes()
    if phase == "online":
        return
    pending = [r for r in commands.reservations.values() if r.reservation_status == "pending"]
    for reservation in pending[:CYCLES]:
        commands.update_reservation(reservation.sid, now, status="accepted")
        engine.take_changes()
        commands.update_task(reservation.task_sid, now, assignment_status="completed",
                             reason="done")
        engine.take_changes()


def instructions(tree: Path, phase: str, seed: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": str(seed)}
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, "--run", phase], env=env, check=True, capture_output=True, text=True).stderr
    found = re.search(r"Collected : (\d+)", out)
    assert found, out
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", type=Path, help="the old tree's src directory")
    parser.add_argument("--new", type=Path, default=HERE.parent / "src")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--run", choices=PHASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        scenario(args.run)
        return
    if args.old is None:
        parser.error("--old is required")
    print(f"machine: {machine()}")
    print(f"{WORKERS} workers, {QUEUES} queues, {TASKS} waiting tasks; {WORKERS} assignments as "
          f"workers come online, then {CYCLES} accept+complete+next cycles")
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    for seed in args.seeds:
        per: dict[str, tuple[float, float]] = {}
        for name, tree in trees.items():
            counts = [instructions(tree, phase, seed) for phase in PHASES]
            per[name] = ((counts[1] - counts[0]) / WORKERS, (counts[2] - counts[1]) / CYCLES)
            print(f"seed {seed} {name}: {per[name][0]:,.0f} instructions per assignment, "
                  f"{per[name][1]:,.0f} per steady cycle", flush=True)
        print(f"seed {seed} new/old: assignment {per['new'][0] / per['old'][0]:.4f}, "
              f"steady cycle {per['new'][1] / per['old'][1]:.4f}")


if __name__ == "__main__":
    main()
