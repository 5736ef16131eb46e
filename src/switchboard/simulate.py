"""``switchboard simulate``: simulated workers and tasks driving a workspace through the API.

N workers go available, are offered reservations, and accept after a think time, reject, or
let the offer time out (each with a given probability); an accepted task is handled for a
while and completed, and the worker goes available again (also after a timed-out offer, whose
timeout activity would otherwise keep it away). Tasks arrive at a given rate (exponential
inter-arrival times) with given attributes. Everything goes through TaskRouter's public REST
API with the official client, so it runs against any TaskRouter, Twilio's included.

On a server with the manual clock (``serve --clock manual``) the simulation moves time itself
(``POST /dev/clock``) from one event to the next: it runs much faster than real time, and a
seed gives the same run every time (each task's decisions come from its own random stream,
seeded by the seed, the task and the offer, whichever worker it is offered to). On the system
clock it sleeps in real time instead.
"""

from __future__ import annotations

import heapq
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click
import httpx

from switchboard.workspace_file import ACCOUNT, TOKEN, URL, api_errors, client_for

LOOK_MS = 5000


@dataclass(frozen=True)
class Plan:
    workers: int = 5
    tasks: int = 20
    rate_per_minute: float = 6.0
    think_seconds: float = 5.0
    handle_seconds: float = 60.0
    reject_probability: float = 0.1
    timeout_probability: float = 0.05
    task_attributes: dict[str, Any] = field(default_factory=dict)
    worker_attributes: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    max_seconds: float = 24 * 3600.0


@dataclass
class Tally:
    accepted: int = 0
    rejected: int = 0
    timed_out: int = 0
    completed: int = 0


class Clock:
    """The server's time: moved through /dev/clock when it is manual, else the wall's."""

    def __init__(self, url: str, auth: tuple[str, str]) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), auth=auth, timeout=60,
                                  trust_env=False)
        reply = self._http.get("/dev/clock")
        self.manual = reply.status_code == 200
        self._start_ms = int(reply.json()["now_ms"]) if self.manual else _wall_ms()
        self.now = 0  # ms since the start

    def move_to(self, at_ms: int) -> None:
        if at_ms <= self.now:
            return
        if self.manual:
            self._http.post("/dev/clock", data={"Advance": f"{(at_ms - self.now) / 1000:.3f}"}
                            ).raise_for_status()
        else:
            time.sleep(max(0.0, (self._start_ms + at_ms - _wall_ms()) / 1000))
        self.now = at_ms


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def simulate(client: Any, clock: Clock, workspace_sid: str, plan: Plan,
             workflow_sid: str | None = None) -> dict[str, Any]:
    """Run the plan; return what happened (times in seconds since the start)."""
    ws = client.taskrouter.v1.workspaces(workspace_sid)
    activities = ws.activities.list()
    available = next((a.sid for a in activities if a.friendly_name == "Available"),
                     next(a.sid for a in activities if a.available))
    workflow_sid = workflow_sid or ws.workflows.list()[0].sid
    existing = {w.friendly_name: w.sid for w in ws.workers.list()}
    names = [f"sim-{i + 1:03d}" for i in range(plan.workers)]
    workers: dict[str, str] = {}  # SID -> name
    for name in names:  # one millisecond apart: who has waited longest is never a tie
        sid = existing.get(name) or ws.workers.create(
            friendly_name=name, attributes=json.dumps(plan.worker_attributes)).sid
        ws.workers(sid).update(activity_sid=available)
        workers[sid] = name
        clock.move_to(clock.now + 1)

    arrivals = random.Random(plan.seed)
    queue: list[tuple[int, int, str, tuple[Any, ...]]] = []
    seq = 0

    def at(ms: int, kind: str, *data: Any) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(queue, (ms, seq, kind, data))

    t = clock.now
    for index in range(plan.tasks):
        t += max(1, round(arrivals.expovariate(plan.rate_per_minute / 60) * 1000))
        at(t, "arrive", index)

    tally = {name: Tally() for name in names}
    task_index: dict[str, int] = {}
    created_at: dict[str, int] = {}
    waits: list[float] = []
    offers: dict[str, int] = {}  # task SID -> offers seen so far
    seen: set[str] = set()  # reservation SIDs already decided on
    busy: set[str] = set()  # workers handling a task (or about to)
    ignored: dict[str, tuple[str, str]] = {}  # reservation SID -> (task SID, worker SID)
    begin = clock.now

    while queue:
        when, _, kind, data = heapq.heappop(queue)
        if when - begin > plan.max_seconds * 1000:
            break
        clock.move_to(when)
        if kind == "arrive":
            task = ws.tasks.create(workflow_sid=workflow_sid,
                                   attributes=json.dumps(plan.task_attributes))
            task_index[task.sid] = data[0]
            created_at[task.sid] = when
        elif kind == "accept":
            reservation_sid, task_sid, worker_sid = data
            ws.tasks(task_sid).reservations(reservation_sid).update(
                reservation_status="accepted")
            tally[workers[worker_sid]].accepted += 1
            waits.append((when - created_at[task_sid]) / 1000)
        elif kind == "reject":
            reservation_sid, task_sid, worker_sid = data
            ws.tasks(task_sid).reservations(reservation_sid).update(
                reservation_status="rejected")
            tally[workers[worker_sid]].rejected += 1
            busy.discard(worker_sid)
        elif kind == "complete":
            task_sid, worker_sid = data
            ws.tasks(task_sid).update(assignment_status="completed", reason="simulated")
            tally[workers[worker_sid]].completed += 1
            busy.discard(worker_sid)
        _step(ws, clock, workers, available, plan, at, tally, task_index, offers, seen, busy,
              ignored)
        if ignored and not any(item[2] == "look" for item in queue):
            # Offers left to time out: look again a little later, when the server's
            # reservation timeout may have fired.
            at(clock.now + LOOK_MS, "look")

    done = sum(t.completed for t in tally.values())
    return {
        "seed": plan.seed, "tasks": len(task_index), "completed": done,
        "accepted": sum(t.accepted for t in tally.values()),
        "rejected": sum(t.rejected for t in tally.values()),
        "timed_out": sum(t.timed_out for t in tally.values()),
        "wait_seconds": {"avg": round(sum(waits) / len(waits), 3) if waits else None,
                         "max": max(waits) if waits else None},
        "simulated_seconds": (clock.now - begin) / 1000,
        "workers": {name: vars(t) for name, t in tally.items()},
    }


def _step(ws: Any, clock: Clock, workers: dict[str, str], available: str, plan: Plan,
          at: Callable[..., None], tally: dict[str, Tally], task_index: dict[str, int],
          offers: dict[str, int], seen: set[str], busy: set[str],
          ignored: dict[str, tuple[str, str]]) -> None:
    """Look at what the server did since the last step: new offers, offers timed out, workers
    that a timeout took away."""
    for reservation_sid, (task_sid, worker_sid) in list(ignored.items()):
        status = ws.tasks(task_sid).reservations(reservation_sid).fetch().reservation_status
        if status != "pending":
            del ignored[reservation_sid]
            tally[workers[worker_sid]].timed_out += status == "timeout"
            busy.discard(worker_sid)
    for worker in sorted(ws.workers.list(), key=lambda w: w.friendly_name):
        if worker.sid not in workers:
            continue
        if worker.activity_sid != available and worker.sid not in busy:
            ws.workers(worker.sid).update(activity_sid=available)  # back from a timeout
        pending = ws.workers(worker.sid).reservations.list(reservation_status="pending")
        for reservation in sorted(pending, key=lambda r: task_index.get(r.task_sid, -1)):
            if reservation.sid in seen or reservation.task_sid not in task_index:
                continue
            seen.add(reservation.sid)
            offer = offers.get(reservation.task_sid, 0)
            offers[reservation.task_sid] = offer + 1
            # The task's own stream: the same decisions whoever the offer goes to.
            rng = random.Random(f"{plan.seed}:{task_index[reservation.task_sid]}:{offer}")
            think = max(1, round(rng.expovariate(1 / plan.think_seconds) * 1000)) \
                if plan.think_seconds > 0 else 1
            roll = rng.random()
            busy.add(worker.sid)
            if roll < plan.timeout_probability:
                ignored[reservation.sid] = (reservation.task_sid, worker.sid)
            elif roll < plan.timeout_probability + plan.reject_probability:
                at(clock.now + think, "reject", reservation.sid, reservation.task_sid,
                   worker.sid)
            else:
                handle = max(1, round(rng.expovariate(1 / plan.handle_seconds) * 1000)) \
                    if plan.handle_seconds > 0 else 1
                at(clock.now + think, "accept", reservation.sid, reservation.task_sid,
                   worker.sid)
                at(clock.now + think + handle, "complete", reservation.task_sid, worker.sid)


def _json_option(value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc.msg}") from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object")
    return parsed


@click.command("simulate")
@click.argument("workspace_sid", metavar="WS…")
@click.option("--workers", default=5, type=click.IntRange(1), show_default=True)
@click.option("--tasks", default=20, type=click.IntRange(0), show_default=True,
              help="How many tasks arrive.")
@click.option("--rate", default=6.0, type=click.FloatRange(0, min_open=True),
              show_default=True, help="Tasks arriving per minute (on average).")
@click.option("--think", default=5.0, type=click.FloatRange(0), show_default=True,
              help="Mean seconds before a worker answers an offer.")
@click.option("--handle", default=60.0, type=click.FloatRange(0), show_default=True,
              help="Mean seconds a worker handles a task before completing it.")
@click.option("--reject", default=0.1, type=click.FloatRange(0, 1), show_default=True,
              help="Probability that a worker rejects an offer.")
@click.option("--ignore", default=0.05, type=click.FloatRange(0, 1), show_default=True,
              help="Probability that a worker lets an offer time out.")
@click.option("--attributes", default="{}", show_default=True,
              help="The tasks' attributes (JSON).")
@click.option("--worker-attributes", default="{}", show_default=True,
              help="The simulated workers' attributes (JSON).")
@click.option("--workflow", "workflow_sid", help="Default: the workspace's first workflow.")
@click.option("--seed", default=0, type=int, show_default=True)
@URL
@ACCOUNT
@TOKEN
def simulate_command(workspace_sid: str, workers: int, tasks: int, rate: float, think: float,
                     handle: float, reject: float, ignore: float, attributes: str,
                     worker_attributes: str, workflow_sid: str | None, seed: int, url: str,
                     account_sid: str, auth_token: str) -> None:
    """Drive a workspace with simulated workers and tasks; print what happened as JSON.

    Workers are named sim-001 … and made if missing. On a manual-clock server time moves from
    event to event, and a seed gives the same run every time."""
    if reject + ignore > 1:
        raise click.BadParameter("--reject and --ignore add up to more than 1")
    plan = Plan(workers=workers, tasks=tasks, rate_per_minute=rate, think_seconds=think,
                handle_seconds=handle, reject_probability=reject, timeout_probability=ignore,
                task_attributes=_json_option(attributes),
                worker_attributes=_json_option(worker_attributes), seed=seed)

    def run() -> None:
        clock = Clock(url, (account_sid, auth_token))
        report = simulate(client_for(url, account_sid, auth_token), clock, workspace_sid,
                          plan, workflow_sid)
        click.echo(json.dumps(report, indent=2))

    api_errors(run)
