"""Old and new code side by side: one benchmark run alternately against two source trees.

Each round runs the benchmark (with ``--json``) once against each tree, in a separate process
with ``PYTHONPATH=<tree>``, the order swapped every round so that a machine growing busier or
quieter favours neither. Prints every round, the medians and the ratio new / old.

    git worktree add /tmp/old <commit>
    python benchmarks/compare_trees.py --old /tmp/old/src engine_assignments.py
    python benchmarks/compare_trees.py --old /tmp/old/src engine_assignments.py -- --scaling
    git worktree remove /tmp/old
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from common import machine

HERE = Path(__file__).resolve().parent


def run_once(script: Path, tree: Path, extra: list[str]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, str(script), "--json", *extra], env=env,
                         check=True, capture_output=True, text=True).stdout
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="the old tree's src directory")
    parser.add_argument("--new", type=Path, default=HERE.parent / "src")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("script", help="a benchmark in benchmarks/ that accepts --json")
    parser.add_argument("args", nargs="*", help="arguments for the benchmark (after --)")
    args = parser.parse_args()
    script = HERE / args.script
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    print(f"machine: {machine()}")
    print(f"{args.script} {' '.join(args.args)}: old = {trees['old']}, new = {trees['new']}")
    results: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for n in range(args.rounds):
        order = ("old", "new") if n % 2 == 0 else ("new", "old")
        for name in order:
            figures = run_once(script, trees[name], args.args)
            results[name].append(figures)
            shown = ", ".join(f"{key}={value:,.2f}" for key, value in figures.items())
            print(f"round {n + 1} {name}: {shown}", flush=True)
    print(f"medians of {args.rounds} rounds:")
    for key in results["old"][0]:
        old = statistics.median(r[key] for r in results["old"])
        new = statistics.median(r[key] for r in results["new"])
        ratio = f"{new / old:.3f}" if old else "-"
        print(f"  {key:<28} old {old:>14,.2f}   new {new:>14,.2f}   new/old {ratio}")


if __name__ == "__main__":
    main()
