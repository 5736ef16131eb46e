"""Live tallies of tasks and of workers by activity, kept from committed events, against a scan
of the engine after random routing: creates, accepts, rejects, cancels, wrap-ups, completions,
deletions, priority and activity changes, workers coming and going, reservation and step
timeouts."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.errors import RoutingError
from switchboard.routing.model import TASK_ACTIVE, TASK_WAITING, Task
from switchboard.routing.sids import counter_sids
from switchboard.stats.realtime import (
    QUEUE,
    STATUSES,
    WORKFLOW,
    WORKSPACE,
    LiveTasks,
    LiveWorkers,
    worker_figures,
)
from switchboard.stats.realtime import task_figures as figures

T0 = 1_767_225_600_000

OPS = st.lists(st.tuples(st.sampled_from([
    "create", "create", "create", "accept", "reject", "cancel", "wrap", "complete", "delete",
    "priority", "activity", "advance", "hire", "fire", "capacity", "channel", "new channel",
    "drop channel",
]), st.integers(0, 1000)), max_size=60)


def world() -> tuple[WorkspaceEngine, list[str]]:
    engine = WorkspaceEngine.create(account_sid="AC" + "a" * 32, friendly_name="live", now=T0,
                                    sids=counter_sids())
    available = next(a.sid for a in engine.activities.values() if a.available)
    first = engine.create_task_queue("First", T0, target_workers="skills HAS 'a'")
    engine.create_task_queue("Second", T0, max_reserved_workers=2)
    engine.create_workflow("Flow", json.dumps({"task_routing": {"filters": [{
        "expression": "1==1",
        "targets": [{"queue": first.sid, "timeout": 20},
                    {"queue": engine.task_queues[list(engine.task_queues)[1]].sid}]}]}}),
        T0, task_reservation_timeout=15)
    workers = []
    for n, skills in enumerate((["a"], ["b"], ["a", "b"])):
        workers.append(engine.create_worker(f"w{n}", T0, activity_sid=available,
                                            attributes=json.dumps({"skills": skills})).sid)
    engine.take_changes()
    return engine, workers


def expected(tasks: list[Task], now: int, in_queue: bool) -> dict[str, Any]:
    statuses = dict.fromkeys(STATUSES, 0)
    statuses.update(Counter(t.assignment_status for t in tasks))
    waiting = [t for t in tasks if t.assignment_status in TASK_WAITING]
    oldest = min(waiting, key=lambda t: (t.date_created, t.seq, t.sid), default=None)
    result: dict[str, Any] = {
        "total_tasks": len(tasks),
        "tasks_by_status": statuses,
        "tasks_by_priority": {str(p): n for p, n in sorted(
            Counter(t.priority for t in tasks).items())},
        "longest_task_waiting_age": (now - oldest.date_created) // 1000 if oldest else 0,
        "longest_task_waiting_sid": oldest.sid if oldest else None,
    }
    if in_queue:
        entered = [t for t in waiting if t.task_queue_entered_date is not None]
        first = min(entered, key=lambda t: (t.task_queue_entered_date, t.seq, t.sid),
                    default=None)
        result["longest_relative_task_age_in_queue"] = (
            (now - (first.task_queue_entered_date or 0)) // 1000 if first else 0)
        result["longest_relative_task_sid_in_queue"] = first.sid if first else None
    return result


def check(engine: WorkspaceEngine, live: LiveTasks, now: int,
          workers: LiveWorkers | None = None) -> None:
    if workers is not None:
        counts = workers.counts()
        assert min(counts.values(), default=0) >= 0
        assert +counts == Counter(w.activity_sid for w in engine.workers.values())
        for channel_sid in engine.task_channels:
            tally = workers.channel_counts(channel_sid)
            assert min(tally.values(), default=0) >= 0
            assert +tally == Counter(
                (w.activity_sid, wc.available) for w in engine.workers.values()
                if (wc := engine.worker_channels[w.sid].get(channel_sid)) is not None
                and wc.configured_capacity > 0)
            assert (worker_figures(engine, None, channel_sid, workers)
                    == worker_figures(engine, None, channel_sid))
    active = [t for t in engine.tasks.values() if t.assignment_status in TASK_ACTIVE]
    for channel in (None, *engine.task_channels):
        mine = [t for t in active if channel is None or t.task_channel_sid == channel]
        assert figures(live, WORKSPACE, "", now, channel) == expected(mine, now, False)
        for queue in engine.task_queues:
            assert figures(live, QUEUE, queue, now, channel) == expected(
                [t for t in mine if t.task_queue_sid == queue], now, True)
        for workflow in engine.workflows:
            assert figures(live, WORKFLOW, workflow, now, channel) == expected(
                [t for t in mine if t.workflow_sid == workflow], now, False)


@settings(max_examples=150, deadline=None)
@given(ops=OPS)
def test_live_tallies_match_the_engine(ops: list[tuple[str, int]]) -> None:
    engine, workers = world()
    live = LiveTasks(engine)
    by_activity = LiveWorkers(engine)
    now = T0
    activities = list(engine.activities)

    def pick(items: list[Any], n: int) -> Any:
        return items[n % len(items)] if items else None

    for op, n in ops:
        tasks = list(engine.tasks.values())
        pending = [r for r in engine.reservations.values() if r.reservation_status == "pending"]
        try:
            if op == "create":
                engine.create_task(now, attributes="{}", priority=n % 3,
                                   task_channel="chat" if n % 4 == 0 else None)
            elif op in ("accept", "reject") and pending:
                reservation = pick(pending, n)
                engine.update_reservation(reservation.sid, now, status=op + "ed"
                                          if op == "reject" else "accepted",
                                          task_sid=reservation.task_sid)
            elif op == "cancel" and tasks:
                engine.update_task(pick(tasks, n).sid, now, assignment_status="canceled")
            elif op == "wrap" and tasks:
                engine.update_task(pick(tasks, n).sid, now, assignment_status="wrapping")
            elif op == "complete" and tasks:
                engine.update_task(pick(tasks, n).sid, now, assignment_status="completed")
            elif op == "delete" and tasks:
                engine.delete_task(pick(tasks, n).sid, now)
            elif op == "priority" and tasks:
                engine.update_task(pick(tasks, n).sid, now, priority=n % 5)
            elif op == "activity" and workers:
                engine.update_worker(pick(workers, n), now, activity_sid=pick(activities, n // 7))
            elif op == "hire":
                workers.append(engine.create_worker(f"h{n}-{now}", now,
                                                    activity_sid=pick(activities, n),
                                                    attributes='{"skills": ["b"]}').sid)
            elif op == "fire" and workers:
                engine.delete_worker(workers.pop(n % len(workers)), now)
            elif op in ("capacity", "channel") and workers:
                worker = pick(workers, n)
                wc = pick(sorted(engine.worker_channels[worker]), n // 7)
                engine.update_worker_channel(
                    worker, engine.worker_channels[worker][wc].sid, now,
                    capacity=n % 3 if op == "capacity" else None,
                    available=n % 2 == 0 if op == "channel" else None)
            elif op == "new channel":
                engine.create_task_channel(f"c{n}", f"c{n}-{now}", None, now)
            elif op == "drop channel" and len(engine.task_channels) > 2:
                engine.delete_task_channel(pick(sorted(engine.task_channels), n), now)
            elif op == "advance":
                now += (n % 30 + 1) * 1000
                engine.fire_due(now)
        except RoutingError:
            pass
        events = engine.take_changes().events
        live.note(e.task_sid for e in events if e.task_sid)
        by_activity.note(e.resource_sid for e in events if e.resource_type == "worker")
        if n % 3 == 0:
            check(engine, live, now, by_activity)
    check(engine, live, now, by_activity)
