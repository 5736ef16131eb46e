"""Worker selection strategies: the cost of one decision at 1,000 and at 100,000 eligible workers.

One queue, every worker a member and available (capacity 1 on the default channel); a workflow
per strategy (``worker_selection``, without and with ``order_by``: ``worker.level DESC``, ten
levels).
For each size and strategy, in rounds that alternate the order of the strategies, it measures
the CPU time (the process's, so that other work on the machine counts less) of:

* ``select``: the strategy's decision alone (``selector.select`` for a task, one worker wanted);
* ``cycle``: a task created, offered to the chosen worker, accepted and completed (engine
  commands, changes collected as the service does): the decision plus keeping the indexes.

Prints the medians per decision in microseconds and the ratio 100,000 / 1,000.

    python benchmarks/selection_scale.py [--sizes 1000 100000] [--rounds 5] [--decisions 2000]
        [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from common import machine

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import Workflow
from switchboard.routing.sids import counter_sids

ACCOUNT = "AC" + "0" * 32
NOW = 1_767_225_600_000
NAMES = ("longest_idle", "round_robin", "least_occupied", "fewest_accepted", "random")
STRATEGIES: dict[str, dict[str, str]] = {
    **{name: {"worker_selection": name} for name in NAMES},
    **{f"{name}+order_by": {"worker_selection": name, "order_by": "worker.level DESC"}
       for name in NAMES},
}


class Bench:
    def __init__(self, workers: int) -> None:
        self.now = NOW
        engine = self.engine = WorkspaceEngine.create(
            account_sid=ACCOUNT, friendly_name="bench", now=NOW, sids=counter_sids())
        queue = engine.create_task_queue("all", NOW, target_workers="1==1")
        self.workflows: dict[str, Workflow] = {}
        for name, extra in STRATEGIES.items():
            config = {"task_routing": {"default_filter": {"queue": queue.sid, **extra}}}
            self.workflows[name] = engine.create_workflow(name, json.dumps(config), NOW)
        available = next(a.sid for a in engine.activities.values() if a.available)
        for i in range(workers):
            engine.create_worker(f"w{i}", NOW + i, activity_sid=available,
                                 attributes=json.dumps({"level": i % 10}))
        engine.take_changes()
        self.now = NOW + workers
        self.selector = engine.lifecycle.selector

    def cycle(self, strategy: str) -> None:
        """A task offered, accepted and completed."""
        engine = self.engine
        self.now += 1
        task = engine.create_task(self.now, attributes="{}",
                                  workflow_sid=self.workflows[strategy].sid)
        reservation = next(r for r in engine.task_reservations[task.sid]
                           if r.reservation_status == "pending")
        engine.update_reservation(reservation.sid, self.now, status="accepted")
        engine.update_task(task.sid, self.now, assignment_status="completed", reason="done")
        engine.take_changes()

    def time_cycles(self, strategy: str, count: int) -> float:
        self.cycle(strategy)  # builds the strategy's index, if it keeps one
        started = time.process_time()
        for _ in range(count):
            self.cycle(strategy)
        return (time.process_time() - started) / count * 1e6

    def time_select(self, strategy: str, count: int) -> float:
        """The decision alone, for a task held by one worker (it is passed over)."""
        engine = self.engine
        self.now += 1
        task = engine.create_task(self.now, attributes="{}",
                                  workflow_sid=self.workflows[strategy].sid)
        select = self.selector.select
        started = time.process_time()
        for _ in range(count):
            chosen = select(task, 1, self.now, None)
        elapsed = (time.process_time() - started) / count * 1e6
        assert chosen
        engine.update_task(task.sid, self.now, assignment_status="canceled", reason="done")
        engine.take_changes()
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--decisions", type=int, default=2_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.json:
        print(f"machine: {machine()}")
        print(f"sizes {args.sizes}, {args.rounds} rounds of {args.decisions} decisions")
    figures: dict[str, float] = {}
    names = list(STRATEGIES)
    for size in args.sizes:
        started = time.perf_counter()
        bench = Bench(size)
        if not args.json:
            print(f"{size:,} workers built in {time.perf_counter() - started:.1f} s", flush=True)
        samples: dict[str, list[float]] = {f"{n}_{what}": [] for n in names
                                           for what in ("select", "cycle")}
        for n in range(args.rounds):
            order = names if n % 2 == 0 else names[::-1]
            for name in order:
                count = args.decisions
                samples[f"{name}_cycle"].append(bench.time_cycles(name, count))
                samples[f"{name}_select"].append(bench.time_select(name, count))
        for key, values in samples.items():
            figures[f"{key}_us_{size}"] = statistics.median(values)
        del bench
    if args.json:
        print(json.dumps(figures))
        return
    low, high = min(args.sizes), max(args.sizes)
    print(f"medians, µs per decision: {low:,} workers | {high:,} workers | ratio")
    for name in names:
        for what in ("select", "cycle"):
            a = figures[f"{name}_{what}_us_{low}"]
            b = figures[f"{name}_{what}_us_{high}"]
            print(f"  {name:<24} {what:<6} {a:10.1f} {b:12.1f}   {b / a:6.2f}x")


if __name__ == "__main__":
    main()
