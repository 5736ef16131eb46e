"""Machine instructions per HTTP request of a whole server, each of its threads apart.

``http_tasks.py``'s rates and CPU times move by a tenth between identical runs on a shared
2-core machine; the instructions a server executes per request move far less. This runs
each server under valgrind's callgrind (``--separate-threads=yes``), sends it N1 and then, in a
second run, N2 requests (8 keep-alive clients, the requests of ``http_tasks.py``), and divides
the difference of the totals by N2 - N1: start-up and set-up cancel out. Measured: the bare
endpoint of ``bare_form_app.py``, pending creations and routed ones, for this tree and each
``--src`` tree. Kernel time (system calls) is not counted. What is left of noise comes from
timing (group commit's batches, where the garbage collector strikes): up to 2 % with 300
requests between the runs, less with 900 (the default). Needs valgrind; slow (a server
under callgrind runs ~50x slower: 3-5 minutes a measurement).

    python benchmarks/http_instructions.py [--kinds bare,pending,routed] [--requests 100,1000]
        [--src PATH ...]   # PATH: git archive <commit> src | tar -x

Figures: a 2-core AMD EPYC VM, Python 3.11.7, thousands of instructions per request (the
event loop's thread, the store writer's, and in all with the loop's thread pool):

                                       event loop   writer           all   x bare
    bare                                  389-392                389-392     1.00
    pending, 300 apart, two runs each:
      before http_tasks.py's seventh pass  888-890   443-455   1,345-1,359     3.46
      one write per answer, the brake      879-880   440-463   1,332-1,356     3.43
    routed, 900 apart:
      one write per answer                   1,047       802         1,863     4.76
      and the brake                          1,033       790         1,841     4.70

Pending at 0.5x of the bare endpoint's rate in ``http_tasks.py`` would need about 2.5x here
(see that benchmark's docstring, seventh pass).

Another day, 900 apart, with one write per answer no longer leaving each request in a cycle of
references: bare 397.6k; pending 882.5k + 458.9k (+ 12.4k in the pool) = 1,353.8k, 3.40x,
beside 890.4k + 452.9k + 14.2k = 1,357.5k for the tree before. The collector's work that the
cycles caused is small in instructions; it showed in pauses and memory (``http_tasks.py``,
eighth pass).

Another day, 600 apart, after ``http_tasks.py``'s ninth pass, beside the tree before it:
pending 745.7k + 452.5k (+ 8.0k) = 1,206.1k against 884.3k + 459.2k + 9.5k = 1,353.1k, 3.0x
the bare; routed 869.1k + 783.8k + 9.8k = 1,662.6k against 1,026.6k + 809.4k + 17.6k =
1,853.6k, 4.2x.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import tempfile
from pathlib import Path

from common import machine
from http_tasks import setup, start_bare, start_server, throughput

PORT = 18_094
WAIT = 600  # seconds for a server to start under callgrind


def run(kind: str, src: str | None, requests: int) -> dict[int, int]:
    """Instructions per thread (by callgrind's thread number) of one server's whole life
    serving ``requests`` requests of ``kind``."""
    with tempfile.TemporaryDirectory() as data_dir:
        out = f"{data_dir}/callgrind.out"
        wrapper = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
                   f"--callgrind-out-file={out}"]
        process = (start_bare(PORT, Path(data_dir) / "bare.log", WAIT, wrapper)
                   if kind == "bare" else
                   start_server(Path(data_dir), PORT, wait=WAIT, src=src, wrapper=wrapper))
        try:
            base = f"http://127.0.0.1:{PORT}"
            path = ("/v1/Workspaces/WSbare" if kind == "bare"
                    else setup(base, workers=0 if kind == "pending" else 20))
            expect = {"bare": None, "pending": "pending", "routed": "reserved"}[kind]
            asyncio.run(throughput(base, path, requests, 8, expect))
        finally:
            process.terminate()
            process.wait()
        totals: dict[int, int] = {}
        for name in glob.glob(out + "-*"):
            with open(name) as profile:
                for line in profile:
                    if line.startswith(("summary:", "totals:")):
                        totals[int(name.rsplit("-", 1)[1])] = int(line.split()[1])
                        break
        return totals


def per_request(kind: str, src: str | None, counts: tuple[int, int]) -> dict[int, float]:
    few, many = (run(kind, src, n) for n in counts)
    return {thread: (many[thread] - few.get(thread, 0)) / (counts[1] - counts[0])
            for thread in sorted(many)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", default="bare,pending,routed")
    parser.add_argument("--requests", default="100,1000", help="N1,N2")
    parser.add_argument("--src", action="append", default=[],
                        help="a source tree to measure too (repeatable)")
    args = parser.parse_args()
    os.environ["PYTHONHASHSEED"] = "0"  # the servers' sets and dicts iterate alike each run
    few, many = (int(n) for n in args.requests.split(","))
    print(f"machine: {machine()}")
    print("thousands of instructions per request, per thread (1: the event loop, 2: the "
          "store's writer, 3: the loop's thread pool)")
    bare: float | None = None
    for src in (None, *args.src):
        for kind in args.kinds.split(","):
            if kind == "bare" and src is not None:
                continue  # the yardstick is measured once
            threads = per_request(kind, src, (few, many))
            total = sum(threads.values())
            if kind == "bare":
                bare = total
            shown = "  ".join(f"{t}: {n / 1000:6.1f}k" for t, n in threads.items())
            ratio = f"  {total / bare:.2f}x bare" if bare else ""
            print(f"{src or 'this tree'} {kind:8} {shown}   all {total / 1000:7.1f}k{ratio}",
                  flush=True)


if __name__ == "__main__":
    main()
