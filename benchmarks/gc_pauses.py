"""Latency with a large heap: how long the garbage collector stops the server.

Starts ``switchboard serve`` (durable SQLite, metrics on) for this tree and each ``--src`` tree,
fills each with ``--waiting`` pending tasks (they stay in memory: the heap a busy contact
centre's queues make), then, in alternating windows, creates routed tasks at a fixed rate
(open loop) and times each from sending to its answer ("task created -> reservation
committed"). Reports, per tree, the latency's p50, p99 and maximum over all windows, and the
garbage collector's pauses from ``switchboard_gc_pause_seconds``: how many of each
generation, their total, and how many took over 50 ms.

    python benchmarks/gc_pauses.py [--waiting 100000] [--windows 6] [--rate 500]
        [--seconds 10] [--src PATH ...]   # PATH: git archive <commit> src | tar -x

A tree before ``switchboard_gc_pause_seconds`` existed shows latency only.

Figures: a 2-core AMD EPYC VM, Python 3.11.7, the defaults (100,000 waiting tasks, 6 windows
of 10 s at 500 tasks/s), this tree beside one that differs only in the collector's thresholds
(20,000, 20, 20 before; 20,000, 1, 200 now), in one run:

                     latency p50 / p99 / max   middle generation's pauses (windows; filling)
    before           1.9 / 8.4 / 48 ms         1 pause of 64 ms; 2 of 118 ms on average
    now              1.7 / 7.4 / 88 ms         11 pauses, 131 ms in all, none over 50 ms;
                                               15, 240 ms, none over 50 ms

The middle generation is now collected at every second young collection, over one young
collection's survivors, instead of after twenty, over all of theirs: each pause is short
(10-30 ms measured alone) and the collector's time in all is the same (filling: 523 against
519 ms). The one full collection in each (104 and 75 ms) is the server's own at start-up,
before it freezes what it loaded. Later full collections come after 200 middle ones, and
only once the heap has grown by a quarter since the last (CPython's rule); each walks the
whole heap not frozen at start-up. The largest latency (88 ms) was no collector's: none of its
pauses in the windows reached 50 ms.

Another day, 20,000 tasks waiting, 4 windows, beside the tree whose one-write-per-answer holder
left every request's uvicorn cycle in a cycle of references (``connection_limits.py``): while
filling, 6 young collections (38 ms in all) and 3 middle ones (68 ms) against 18 (206 ms) and
8 (147 ms); in the windows, 3 short pauses against 2; latency p50 2.0 / p99 8.5 ms against 1.9 /
15.5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from common import machine
from http_tasks import latency, setup, start_server, throughput
from prometheus_client.parser import text_string_to_metric_families

LONG = 0.05  # seconds: a pause counted as long


def pauses(metrics_url: str) -> dict[str, tuple[float, float, float]] | None:
    """Per generation: (pauses, their total seconds, pauses over ``LONG``); None if the
    server does not time them."""
    with urllib.request.urlopen(metrics_url, timeout=10) as answer:
        text = answer.read().decode()
    counts: dict[str, float] = {}
    sums: dict[str, float] = {}
    short: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "switchboard_gc_pause_seconds":
            continue
        for sample in family.samples:
            generation = sample.labels.get("generation", "")
            if sample.name.endswith("_count"):
                counts[generation] = sample.value
            elif sample.name.endswith("_sum"):
                sums[generation] = sample.value
            elif sample.name.endswith("_bucket") and float(sample.labels["le"]) == LONG:
                short[generation] = sample.value  # pauses up to LONG (the bucket's edge)
    if not counts:
        return None
    return {g: (counts[g], sums[g], counts[g] - short.get(g, 0.0)) for g in sorted(counts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waiting", type=int, default=100_000, help="pending tasks held")
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--rate", type=int, default=500, help="routed tasks a second")
    parser.add_argument("--seconds", type=float, default=10, help="of each window")
    parser.add_argument("--port", type=int, default=18_180, help="and the next ones")
    parser.add_argument("--src", action="append", default=[],
                        help="a source tree to measure too (repeatable)")
    args = parser.parse_args()
    trees = [("this tree", None), *((src, src) for src in args.src)]
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as data_dir:
        try:
            servers: dict[str, tuple[str, str]] = {}
            for i, (name, src) in enumerate(trees):
                port, metrics_port = args.port + 2 * i, args.port + 2 * i + 1
                processes.append(start_server(Path(data_dir) / str(i), port, src=src,
                                              options=["--metrics-port", str(metrics_port)]))
                servers[name] = (f"http://127.0.0.1:{port}",
                                 f"http://127.0.0.1:{metrics_port}/metrics")
            print(f"machine: {machine()}")
            for base, _ in servers.values():
                asyncio.run(throughput(base, setup(base, workers=0), args.waiting, 32))
            print(f"{args.waiting:,} tasks waiting in each server; {args.windows} windows of "
                  f"{args.seconds:.0f} s at {args.rate} routed tasks/s")
            before = {name: pauses(url) for name, (_, url) in servers.items()}
            times: dict[str, list[float]] = {name: [] for name in servers}
            for _ in range(args.windows):
                for name, (base, _) in servers.items():
                    path = setup(base)  # a fresh workspace: its workers never fill up
                    times[name] += asyncio.run(latency(base, path, args.rate, args.seconds))
            for name, (_, url) in servers.items():
                report(name, sorted(times[name]), before[name], pauses(url))
        finally:
            for process in processes:
                process.terminate()
                process.wait()


def report(name: str, times: list[float], before: dict[str, tuple[float, float, float]] | None,
           after: dict[str, tuple[float, float, float]] | None) -> None:
    p50 = statistics.median(times) * 1000
    p99 = times[int(len(times) * 0.99) - 1] * 1000
    print(f"{name}: latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {times[-1] * 1000:.0f} ms "
          f"({len(times):,} tasks)")
    if before is None or after is None:
        return
    for generation, (count, total, long) in after.items():
        was = before.get(generation, (0.0, 0.0, 0.0))
        print(f"  generation {generation}: {count - was[0]:4.0f} pauses, "
              f"{(total - was[1]) * 1000:6.0f} ms in all, {long - was[2]:3.0f} over "
              f"{LONG * 1000:.0f} ms (start-up and filling: {was[0]:.0f} pauses, "
              f"{was[1] * 1000:.0f} ms, {was[2]:.0f} long)")


if __name__ == "__main__":
    main()
