"""Wait-time estimates (an extension): how close the estimate a caller hears when its task is
created comes to the wait it then has; and how each worker selection strategy spreads work.

In process, on the routing engine with a simulated clock (no server, no sleeping):

* **Contact centre.** Three queues on one channel sharing workers by skill (sales: 8 sales-only
  and 6 sales+support workers; support: 8 support-only, the 6 shared and 4 support+billing;
  billing: 4 billing-only and the 4 support+billing). Poisson arrivals (seeded), handle times
  lognormal (sales, mean 300 s, sigma 0.5; billing, mean 420 s, sigma 0.4) and exponential
  (support, mean 240 s); every offer is accepted at once and completed after its handle time.
  A peak: the first half of the tasks arrive at 110 % of capacity (queues build), the rest at
  85 % (they drain); and, apart, a steady 95 % (shorter waits, harder to foretell).
  Before each task is created the estimate for its queue is taken
  (``engine.estimate_wait``, what ``GET TaskQueues/{Sid}/EstimatedWaitTime`` answers); its
  actual wait is from its creation to its reservation.
* **Error** is ``|estimate - actual| / actual``; its median is the figure the issue asks to
  be at most 20 %, taken two ways: over every task created (a task served at once that was
  told 0 is exact; one told 0 that then waited, or told a wait it did not have, is not), and
  the stricter, over the tasks that waited at least ``--min-wait`` seconds (where the answer
  is a number of minutes to be right about). The naive model on the same tasks: tasks ahead x
  the queue's mean handle time / the queue's workers.
* **Deterministic.** 10 workers, a fixed handle time of 300 s, every worker busy and a task
  every 20 s (more than they can take): every estimate should be within 10 % of the wait.
* **Fairness.** The contact centre at a lighter load (70 %), once per ``worker_selection``
  strategy: reservations accepted per worker (min, median, max, and the spread max - min
  among the 8 sales-only workers, who share the same work).

    python benchmarks/wait_estimates.py [--seed 1] [--tasks 4000] [--min-wait 30]
    python benchmarks/wait_estimates.py --seeds 1-6 [--oracle]

``--seeds`` prints only the two contact-centre errors, a line per seed. ``--oracle`` has the
estimates draw from the true handle-time distributions instead of the latest 200 samples:
how much of the error is learning, and how much chance no model of the router's knowledge
removes.

Figures (Intel Xeon, 2 cores shared with other work, Python 3.11.7), ``--seed 1``; this run
on a busy machine (load 8-9 on the 2 cores: the CPU figures are about 1.5 times those of a
quiet one, where an estimate in the centre took 1.2-1.3 ms). The errors do not depend on
the machine (the simulation is seeded): the "every task" lines, added later from a run on an
AMD EPYC VM, came with every other error figure unchanged to the last digit:

    contact centre, peak: 4000 tasks, 3424 waited >= 30 s (median 1576 s, max 2713 s)
      1990 µs of CPU per estimate; 80.8 s to run
      estimate  |est - actual| / actual: median 7.3%, p75 13.3%, within 20 %: 87%
      naive     |est - actual| / actual: median 27.6%, p75 35.3%, within 20 %: 28%
        sales     1221 tasks: estimate median 7.1%, p75 12.3%; naive median 19.1%, p75 25.6%
        support   1716 tasks: estimate median 6.5%, p75 11.7%; naive median 31.3%, p75 37.1%
        billing    487 tasks: estimate median 13.7%, p75 21.4%; naive median 29.5%, p75 39.3%
      every task (500 served at once and told so, exact): estimate median 6.4%, p75 12.5%;
        naive median 25.6%, p75 34.7%
      no estimate (no basis yet): 0 tasks
    contact centre, steady 95 %: 4000 tasks, 2987 waited >= 30 s (median 195 s, max 1115 s)
      2255 µs of CPU per estimate; 101.2 s to run
      estimate  |est - actual| / actual: median 15.5%, p75 32.9%, within 20 %: 59%
      naive     |est - actual| / actual: median 32.1%, p75 47.2%, within 20 %: 28%
        sales     1064 tasks: estimate median 14.3%, p75 29.3%; naive median 25.7%, p75 40.9%
        support   1481 tasks: estimate median 15.1%, p75 32.9%; naive median 35.4%, p75 48.9%
        billing    442 tasks: estimate median 20.9%, p75 39.8%; naive median 35.5%, p75 56.8%
      every task (739 served at once and told so, exact): estimate median 12.4%, p75 32.0%;
        naive median 27.6%, p75 46.7%
      no estimate (no basis yet): 0 tasks
    deterministic (fixed 300 s, every worker busy): 199 tasks
      median 0.0%, p75 0.0%, within 20 %: 100%, worst 0.0%, within 10 %: 100%
    CPU per estimate, 1,000 waiting, 100 workers busy: new task 2.0 ms, last waiting 2.1 ms
      50 QueuePosition calls at one state (the first 50 waiting): 16.4 ms in all, 0.33 ms each
    CPU per estimate, 100,000 waiting, 1,000 workers busy: new task 20.9 ms, last waiting 29.8 ms
      50 QueuePosition calls at one state (the first 50 waiting): 229.5 ms in all, 4.59 ms each
    fairness at 70 % load: reservations accepted per worker
      longest_idle     min   86  median  136  max  167  sales-only spread  13 (stdev 3.8)
      round_robin      min   77  median  136  max  165  sales-only spread  13 (stdev 4.0)
      least_occupied   min   91  median  136  max  160  sales-only spread  13 (stdev 4.1)
      fewest_accepted  min   95  median  140  max  141  sales-only spread   3 (stdev 0.9)
      random           min   81  median  142  max  169  sales-only spread  13 (stdev 5.3)

(The 100,000-waiting figures vary with the machine's other work: 10-20 ms on a quiet machine
in runs of the same code.) The runs of a queue are shared by every place in it and kept until
the state changes (``estimates.Estimates``): the 50 QueuePosition calls cost about four
estimates, not fifty. Side by side with the estimates before the sharing, on the same states
(instructions counted under callgrind, which the machine's other work does not disturb), a
single estimate costs about 15 % more (18.4 against 16.0 million instructions at a steady 95 %,
13.6 against 11.8 million at the peak) and the first 50 waiting tasks of a queue at the peak
16 times less (49 against 765 million). In CPU time, alternating rounds in one process: one
estimate 0.82-0.90x as fast as before (1,000 or 100,000 waiting, the centre at its peak and
at 95 %), the first 50 waiting at one state 12-16x faster (1,000 waiting: 10.5 against 162
ms; 100,000: 160 against 2,280 ms; the centre at its peak: 6.6 against 80 ms).

``--seeds 1-6``, then ``--seeds 1-6 --oracle`` (median error, tasks that waited >= 30 s;
naive alike in both); "before" is the same model with each place's runs drawn apart:

    seed                       1       2       3       4       5       6
    peak       estimate      7.3%    9.9%    9.2%    6.7%    8.5%    9.5%
                 before      7.4%   10.1%    9.3%    6.7%    8.7%    9.4%
               oracle        6.7%    9.6%    8.4%    6.2%    7.8%    8.8%
               naive        27.6%   26.9%   27.1%   25.4%   27.6%   27.6%
    steady 95  estimate     15.5%   19.3%   22.7%   18.7%   25.7%   22.7%
                 before     15.8%   19.7%   22.9%   19.0%   25.5%   22.4%
               oracle       15.0%   19.2%   21.9%   18.1%   24.9%   21.4%
               naive        32.1%   32.9%   36.7%   30.7%   38.4%   33.9%

Over every task created (``--seeds 1-6 --min-wait 0``), the estimate's median error is
6.2-7.8 % at the peak and 11.3-17.5 % at a steady 95 % (naive 22.7-25.6 % and 19.7-27.7 %):
the issue's 20 % on every seed in both. A steady 95 % serves many tasks at once (739 of 4,000
with seed 1, 1,122 with seed 5), every one of them told so (no task served at once was told
to wait); over the tasks that did wait at all, seed 5 is at 29.7 %, at 30 s or more 25.7 %,
at 60 s or more 22.8 %.

Over the tasks that waited 30 s or more, at a steady 95 % the 20 % is met for seeds 1, 2 and 4
only, and no better with the true distributions in place of the learnt ones: what remains is
chance. With few tasks ahead, the wait hangs on when one of a few conversations ends, and
counting only tasks that waited 30 s or more favours those that waited longer than was likely.
Tried and measured on these seeds: the median weighted by 1 / wait (the minimiser of the mean
relative error over all waits) is worse, 17-33 % at a steady 95 %, for it leans to the short
waits the 30 s floor leaves out; 51 runs rather than 25 gain about half a point; a window of
1,000 handle times rather than 200, a tenth of one (seed 3).

Other points taken from the same runs (every estimate's runs recorded, before the sharing,
each choice applied to the same ones; steady 95 % then peak, seeds 1-6):

    seed                          1       2       3       4       5       6
    median, 51 runs (kept)     15.8%   19.7%   22.9%   19.0%   25.5%   22.4%
                                7.4%   10.1%    9.3%    6.7%    8.7%    9.4%
    within a fifth, 51 runs    16.6%   20.6%   23.3%   19.3%   26.2%   22.1%
                               10.2%   12.4%   11.2%    8.7%    9.8%   10.6%
      the same, smoothed       16.5%   20.3%   23.2%   19.3%   26.6%   22.4%
                               16.1%   14.5%   13.9%   12.9%   12.5%   13.1%
    within a fifth, 401 runs   15.9%   19.2%   22.8%   18.7%   24.9%   22.1%
                                7.8%   10.6%   10.1%    7.0%    8.9%   10.0%
    median, 401 runs           15.5%   19.4%   22.2%   18.2%   25.6%   22.6%
                                7.0%    9.6%    9.0%    6.2%    8.2%    9.0%
    0.98 x median, 51 runs     16.1%   19.8%   22.6%   19.1%   25.6%   22.4%
                                8.2%   10.2%   10.1%    7.1%    9.4%   10.2%
    geometric mean, 51 runs    15.8%   19.8%   23.6%   19.2%   27.2%   23.1%
                                7.3%    9.9%    9.2%    6.5%    8.5%    9.4%

"Within a fifth" is the wait most likely to be right within 20 %: the e that the most runs'
waits w satisfy |e - w| <= w / 5, a mode in log space; smoothed, the runs' distribution
interpolated between them. A mode needs more runs than a median to settle, and for a
lognormal spread it is 0.98 x the median anyway. None brings seeds 3, 5 and 6 to 20 % at a
steady 95 %; over every task (a wait of 0 foretold as 0 counting as exact) 53-63 % of the
estimates are within 20 % on each seed.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from common import machine

from switchboard.routing import estimates
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import Reservation
from switchboard.routing.sids import counter_sids

ACCOUNT = "AC" + "0" * 32
T0 = 1_767_225_600_000
SECOND = 1000


@dataclass
class Centre:
    """A workspace driven by a simulated clock: arrivals and completions as timed events."""

    engine: WorkspaceEngine
    queues: dict[str, str]  # name -> queue sid
    workflow_sid: str
    handle: dict[str, Any]  # queue name -> draw of a handle time in seconds
    now: int = T0
    rng: random.Random = field(default_factory=random.Random)
    completions: list[tuple[int, int, str]] = field(default_factory=list)  # (at, n, task sid)
    reserved_at: dict[str, int] = field(default_factory=dict)  # task sid -> when
    accepted: dict[str, int] = field(default_factory=dict)  # worker name -> accepts
    _n: int = 0

    def settle(self) -> None:
        """Accept every reservation the last commands made; schedule their completions."""
        while True:
            created = [e.resource_sid for e in self.engine.take_changes().events
                       if e.event_type == "reservation.created"]
            if not created:
                return
            for reservation_sid in created:
                reservation: Reservation = self.engine.reservation(reservation_sid)
                if reservation.reservation_status != "pending":
                    continue
                task = self.engine.task(reservation.task_sid)
                self.reserved_at.setdefault(task.sid, self.now)
                self.engine.update_reservation(reservation.sid, self.now, status="accepted")
                worker = self.engine.workers[reservation.worker_sid].friendly_name
                self.accepted[worker] = self.accepted.get(worker, 0) + 1
                self._n += 1
                seconds = task.parsed_attributes["handle"]
                heapq.heappush(self.completions,
                               (self.now + round(seconds * SECOND), self._n, task.sid))

    def advance_to(self, at: int) -> None:
        """Complete every task due by ``at``, in time order."""
        while self.completions and self.completions[0][0] <= at:
            done, _, sid = heapq.heappop(self.completions)
            self.now = max(self.now, done)
            self.engine.update_task(sid, self.now, assignment_status="completed", reason="done")
            self.settle()
        self.now = max(self.now, at)

    def create(self, queue: str) -> str:
        seconds = self.handle[queue](self.rng)
        task = self.engine.create_task(
            self.now, attributes=json.dumps({"queue": queue, "handle": seconds}),
            workflow_sid=self.workflow_sid, timeout=86_400)
        self.settle()
        return task.sid


def build(groups: dict[str, tuple[int, list[str]]], queues: list[str],
          handle: dict[str, Any], seed: int, strategy: str = "longest_idle") -> Centre:
    engine = WorkspaceEngine.create(account_sid=ACCOUNT, friendly_name="centre", now=T0,
                                    sids=counter_sids())
    available = next(a.sid for a in engine.activities.values() if a.available)
    sids = {q: engine.create_task_queue(q, T0, target_workers=f"skills HAS '{q}'").sid
            for q in queues}
    routing = {"filters": [
        {"filter_friendly_name": q, "expression": f"queue == '{q}'",
         "targets": [{"queue": sid, "worker_selection": strategy}]}
        for q, sid in sids.items()]}
    workflow = engine.create_workflow("by queue", json.dumps({"task_routing": routing}), T0)
    for group, (count, skills) in groups.items():
        for i in range(count):
            engine.create_worker(f"{group}{i}", T0, activity_sid=available,
                                 attributes=json.dumps({"skills": skills}))
    engine.take_changes()
    return Centre(engine, sids, workflow.sid, handle, rng=random.Random(seed))


CENTRE_GROUPS = {
    "sales": (8, ["sales"]),
    "shared": (6, ["sales", "support"]),
    "support": (8, ["support"]),
    "sb": (4, ["support", "billing"]),
    "billing": (4, ["billing"]),
}
CENTRE_QUEUES = ["sales", "support", "billing"]


def lognormal(mean: float, sigma: float) -> Any:
    mu = math.log(mean) - sigma * sigma / 2
    return lambda rng: rng.lognormvariate(mu, sigma)


CENTRE_HANDLE = {
    "sales": lognormal(300, 0.5),
    "support": lambda rng: rng.expovariate(1 / 240),
    "billing": lognormal(420, 0.4),
}
# Arrivals per second at 100 % load, per queue: capacity shared out by the queues' demand.
CENTRE_RATE = {"sales": 11 / 300, "support": 13 / 240, "billing": 6 / 420}


@dataclass
class Sample:
    queue: str
    estimate: float | None  # seconds
    naive: float | None
    actual: float
    ahead: int


PEAK = (1.1, 0.85)
STEADY = (0.95, 0.95)


def contact_centre(seed: int, tasks: int, load: tuple[float, float] = PEAK,
                   strategy: str = "longest_idle") -> tuple[list[Sample], Centre, float]:
    """Run the centre; the samples of every task, the centre and the CPU seconds spent in
    estimates."""
    centre = build(CENTRE_GROUPS, CENTRE_QUEUES, CENTRE_HANDLE, seed, strategy)
    engine = centre.engine
    arrivals = random.Random(seed * 7919 + 1)
    members = {q: len(engine.queue_members[sid]) for q, sid in centre.queues.items()}
    records: dict[str, tuple[str, float | None, float | None, int, int]] = {}
    estimating = 0.0
    t = float(T0)
    total_rate = sum(CENTRE_RATE.values())
    for n in range(tasks):
        # Over capacity for the first half of the tasks, under it after.
        factor = load[0] if n < tasks // 2 else load[1]
        t += arrivals.expovariate(total_rate * factor) * SECOND
        pick = arrivals.random() * total_rate
        queue = CENTRE_QUEUES[-1]
        for name, rate in CENTRE_RATE.items():
            if pick < rate:
                queue = name
                break
            pick -= rate
        centre.advance_to(round(t))
        sid = centre.queues[queue]
        started = time.process_time()
        found = engine.estimate_wait(sid, centre.now)
        estimating += time.process_time() - started
        mean = engine.lifecycle.handle_times.mean(sid)
        naive = None if mean is None else found.tasks_ahead * mean / members[queue] / SECOND
        estimate = None if found.wait_ms is None else found.wait_ms / SECOND
        task_sid = centre.create(queue)
        records[task_sid] = (queue, estimate, naive, found.tasks_ahead, centre.now)
    centre.advance_to(centre.now + 86_400 * SECOND)
    samples = [Sample(q, est, naive, (centre.reserved_at[sid] - created) / SECOND, ahead)
               for sid, (q, est, naive, ahead, created) in records.items()
               if sid in centre.reserved_at]
    return samples, centre, estimating


def deterministic(seed: int) -> list[Sample]:
    """10 workers, 300 s each task, every worker busy, a task every 20 s."""
    centre = build({"w": (10, ["q"])}, ["q"], {"q": lambda rng: 300.0}, seed)
    engine = centre.engine
    sid = centre.queues["q"]
    samples = []
    for i in range(10):  # warm-up: each worker starts one task, 30 s apart
        centre.advance_to(T0 + i * 30 * SECOND)
        centre.create("q")
    records = {}
    for i in range(200):
        centre.advance_to(T0 + (300 + i * 20) * SECOND)
        found = engine.estimate_wait(sid, centre.now)
        task_sid = centre.create("q")
        records[task_sid] = (found.wait_ms, found.tasks_ahead, centre.now)
    centre.advance_to(centre.now + 86_400 * SECOND)
    for task_sid, (wait, ahead, created) in records.items():
        actual = (centre.reserved_at[task_sid] - created) / SECOND
        samples.append(Sample("q", None if wait is None else wait / SECOND,
                              None, actual, ahead))
    return samples


FIRST_50 = "first 50 waiting"


def scale(waiting: int, workers: int) -> dict[str, float]:
    """CPU ms of one estimate with ``waiting`` tasks queued and ``workers`` busy, and of the
    estimates of the first 50 waiting tasks at one state (what the console asks at once)."""
    centre = build({"w": (workers, ["q"])}, ["q"], {"q": lognormal(300, 0.5)}, 1)
    engine = centre.engine
    for _ in range(workers):  # teach it handle times, then keep every worker busy
        centre.create("q")
    centre.advance_to(centre.now + 3600 * SECOND)
    centre.completions.clear()
    for _ in range(workers + waiting):
        centre.create("q")
    sid = centre.queues["q"]
    waiting = sorted((t for t in engine.tasks.values() if engine.queue_position(t.sid)),
                     key=lambda t: t.seq)
    last, first = waiting[-1], waiting[:50]
    figures = {}
    # Each round a millisecond later: a new state, so nothing is kept from the round before.
    for name, call in (("new task", lambda now: engine.estimate_wait(sid, now)),
                       ("last waiting", lambda now: engine.task_wait_estimate(last.sid, now)),
                       (FIRST_50,
                        lambda now: [engine.task_wait_estimate(t.sid, now) for t in first])):
        started = time.process_time()
        for i in range(20):
            call(centre.now + i)
        figures[name] = (time.process_time() - started) / 20 * 1000
    return figures


def relative_errors(samples: list[Sample], min_wait: float, naive: bool = False) -> list[float]:
    errors = []
    for s in samples:
        if s.actual < min_wait:
            continue
        guess = s.naive if naive else s.estimate
        if guess is None:
            errors.append(math.inf)
        elif not s.actual:  # with --min-wait 0: no wait foretold as none is exact
            errors.append(0.0 if not guess else math.inf)
        else:
            errors.append(abs(guess - s.actual) / s.actual)
    return errors


def summary(errors: list[float], short: bool = False) -> str:
    if not errors:
        return "no samples"
    finite = sorted(errors)
    if short:
        return f"median {statistics.median(finite):.1%}, p75 {finite[len(finite) * 3 // 4]:.1%}"
    within = sum(1 for e in errors if e <= 0.2) / len(errors)
    return (f"median {statistics.median(finite):.1%}, p75 {finite[len(finite) * 3 // 4]:.1%}, "
            f"within 20 %: {within:.0%}")


def true_quantiles(queue: str, count: int = 5000) -> list[int]:
    """``count`` evenly spaced quantiles (ms) of the distribution the centre draws the
    queue's handle times from: what an estimate would learn from endless history."""
    points = [(i + 0.5) / count for i in range(count)]
    if queue == "support":
        return [round(-240 * math.log(1 - p) * SECOND) for p in points]
    mean, sigma = {"sales": (300, 0.5), "billing": (420, 0.4)}[queue]
    mu = math.log(mean) - sigma * sigma / 2
    normal = statistics.NormalDist()
    return [round(math.exp(mu + sigma * normal.inv_cdf(p)) * SECOND) for p in points]


def use_true_distributions() -> None:
    """``--oracle``: estimates draw from the true handle-time distributions instead of the
    latest samples, which shows how much of the error is chance rather than learning."""
    truth = {q: true_quantiles(q) for q in CENTRE_QUEUES}

    def samples(model: Any, queue_sid: str | None) -> list[int]:
        queue = model.lc.task_queues[queue_sid or model.queue_sid]
        return truth[queue.friendly_name]

    estimates._Simulation._samples = samples  # type: ignore[method-assign,assignment]  # diagnostic


def per_seed(seeds: list[int], tasks: int, min_wait: float) -> None:
    """The median error of each contact-centre scenario for each seed, ours and naive."""
    print(f"median |est - actual| / actual over tasks that waited >= {min_wait:g} s")
    for name, load in (("peak", PEAK), ("steady 95 %", STEADY)):
        for seed in seeds:
            samples, _, estimating = contact_centre(seed, tasks, load)
            ours = relative_errors(samples, min_wait)
            naive = relative_errors(samples, min_wait, naive=True)
            print(f"  {name:<12} seed {seed:>2}: estimate {statistics.median(ours):6.1%}, "
                  f"naive {statistics.median(naive):6.1%}  ({len(ours)} tasks, "
                  f"{estimating / len(samples) * 1e6:.0f} µs of CPU per estimate)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument("--min-wait", type=float, default=30.0)
    parser.add_argument("--seeds", type=str, default=None,
                        help="only the contact-centre errors, one line per seed: 1-6 or 1,3")
    parser.add_argument("--oracle", action="store_true",
                        help="estimates from the true handle-time distributions (diagnostic)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if args.oracle:
        use_true_distributions()
        print("oracle: estimates from the true handle-time distributions, not the learnt ones")
    if args.seeds:
        first, _, last = args.seeds.partition("-")
        seeds = (list(range(int(first), int(last) + 1)) if last
                 else [int(s) for s in args.seeds.split(",")])
        per_seed(seeds, args.tasks, args.min_wait)
        return

    for name, load in (("peak", PEAK), ("steady 95 %", STEADY)):
        started = time.perf_counter()
        samples, _, estimating = contact_centre(args.seed, args.tasks, load)
        elapsed = time.perf_counter() - started
        waited = [s for s in samples if s.actual >= args.min_wait]
        print(f"contact centre, {name}: {len(samples)} tasks, {len(waited)} waited >= "
              f"{args.min_wait:g} s (median {statistics.median(s.actual for s in waited):.0f}"
              f" s, max {max(s.actual for s in waited):.0f} s)")
        print(f"  {estimating / len(samples) * 1e6:.0f} µs of CPU per estimate; "
              f"{elapsed:.1f} s to run")
        ours = relative_errors(samples, args.min_wait)
        naive = relative_errors(samples, args.min_wait, naive=True)
        print(f"  estimate  |est - actual| / actual: {summary(ours)}")
        print(f"  naive     |est - actual| / actual: {summary(naive)}")
        for queue in CENTRE_QUEUES:
            mine = [s for s in waited if s.queue == queue]
            print(f"    {queue:<8} {len(mine):>5} tasks: estimate "
                  f"{summary(relative_errors(mine, args.min_wait), short=True)}; naive "
                  f"{summary(relative_errors(mine, args.min_wait, naive=True), short=True)}")
        at_once = sum(1 for s in samples if not s.actual and s.estimate == 0)
        print(f"  every task ({at_once} served at once and told so, exact): estimate "
              f"{summary(relative_errors(samples, 0), short=True)}; naive "
              f"{summary(relative_errors(samples, 0, naive=True), short=True)}")
        no_basis = sum(1 for s in samples if s.estimate is None)
        print(f"  no estimate (no basis yet): {no_basis} tasks")

    fixed = deterministic(args.seed)
    errors = relative_errors(fixed, 1.0)
    worst = max(errors)
    print(f"deterministic (fixed 300 s, every worker busy): {len(errors)} tasks")
    print(f"  {summary(errors)}, worst {worst:.1%}, "
          f"within 10 %: {sum(1 for e in errors if e <= 0.1) / len(errors):.0%}")

    for waiting, workers in ((1_000, 100), (100_000, 1_000)):
        cost = scale(waiting, workers)
        print(f"CPU per estimate, {waiting:,} waiting, {workers:,} workers busy: "
              f"new task {cost['new task']:.1f} ms, last waiting {cost['last waiting']:.1f} ms")
        print(f"  50 QueuePosition calls at one state (the first 50 waiting): "
              f"{cost[FIRST_50]:.1f} ms in all, {cost[FIRST_50] / 50:.2f} ms each")

    print("fairness at 70 % load: reservations accepted per worker")
    for strategy in ("longest_idle", "round_robin", "least_occupied", "fewest_accepted",
                     "random"):
        _, run, _ = contact_centre(args.seed, args.tasks, load=(0.7, 0.7), strategy=strategy)
        counts = sorted(run.accepted.get(w.friendly_name, 0)
                        for w in run.engine.workers.values())
        sales = [run.accepted.get(f"sales{i}", 0) for i in range(8)]
        print(f"  {strategy:<16} min {counts[0]:>4}  median {statistics.median(counts):>4.0f}  "
              f"max {counts[-1]:>4}  sales-only spread {max(sales) - min(sales):>3} "
              f"(stdev {statistics.pstdev(sales):.1f})")


if __name__ == "__main__":
    main()
