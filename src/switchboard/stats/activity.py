"""Workers' activity changes in time order, and the time each worker spent in each activity
during a window.

A worker's time in an activity during ``[start, end]`` is the part of each of its stays in that
activity that falls inside the window (a stay that began before the window counts from its
start; the stay under way counts up to ``end``). A worker with no change since ``start`` spent
the whole window in the activity it is in now, so only the changes since ``start`` are walked;
the many workers that did not move are counted by activity in one pass in C.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Mapping, Set
from operator import attrgetter
from typing import NamedTuple

from switchboard.routing.model import Worker
from switchboard.stats.series import TRIM_EVERY, Summary, worth_forgetting
from switchboard.stats.window import KEEP_MS

_activity_of = attrgetter("activity_sid")


class Change(NamedTuple):
    worker_sid: str
    before: str | None  # None: the worker did not exist yet
    after: str | None  # None: the worker was deleted


class ActivityLog:
    def __init__(self) -> None:
        self.times = array("q")
        self.changes: list[Change] = []

    def add(self, time: int, worker_sid: str, before: str | None, after: str | None) -> None:
        change = Change(worker_sid, before, after)
        if self.times and time < self.times[-1]:
            at = bisect_right(self.times, time)
            self.times.insert(at, time)
            self.changes.insert(at, change)
            return
        self.times.append(time)
        self.changes.append(change)
        if len(self.times) % TRIM_EVERY == 0 and worth_forgetting(self.times, time - KEEP_MS):
            self.forget_before(time - KEEP_MS)

    def forget_before(self, time: int) -> None:
        cut = bisect_left(self.times, time)
        if cut:
            del self.times[:cut]
            del self.changes[:cut]

    def durations(self, start: int, end: int, workers: Mapping[str, Worker],
                  only: Set[str] | None = None) -> dict[str, Summary]:
        """Per activity SID: over the workers that spent time in it during the window, that
        time (ms) per worker. ``workers`` are the workspace's current workers; ``only`` limits
        the count to some of them (deleted workers count while they existed, unless ``only``
        leaves them out)."""
        spent: dict[str, dict[str, int]] = {}  # worker -> activity -> ms
        open_stays: dict[str, tuple[str | None, int]] = {}  # worker -> (activity, since)
        times, changes = self.times, self.changes
        for k in range(bisect_left(times, start), len(times)):
            time = times[k]
            worker_sid, before, after = changes[k]
            if only is not None and worker_sid not in only:
                continue
            if time > end:
                if worker_sid not in spent:
                    # Its first change after the window: it was in `before` all along.
                    spent[worker_sid] = {before: end - start} if before else {}
                continue
            stay = open_stays.get(worker_sid)
            if stay is None:
                if worker_sid in spent:
                    continue
                stay = (before, start)
                spent[worker_sid] = {}
            activity, since = stay
            if activity is not None and time > since:
                mine = spent[worker_sid]
                mine[activity] = mine.get(activity, 0) + time - since
            open_stays[worker_sid] = (after, time)
        for worker_sid, (activity, since) in open_stays.items():
            if activity is not None and end > since:
                mine = spent[worker_sid]
                mine[activity] = mine.get(activity, 0) + end - since

        result: dict[str, Summary] = {}
        for mine in spent.values():
            for activity, ms in mine.items():
                if ms > 0:
                    result[activity] = result.get(activity, Summary()).merge(
                        Summary(1, ms, ms, ms))
        # Workers without a change since `start`: the whole window in their current activity.
        if end > start:
            if only is None:
                still = Counter(map(_activity_of, workers.values()))
            else:
                still = Counter(workers[sid].activity_sid for sid in only if sid in workers)
            for worker_sid in spent:
                worker = workers.get(worker_sid)
                if worker is not None:
                    still[worker.activity_sid] -= 1
            window = end - start
            for activity, n in still.items():
                if n > 0:
                    result[activity] = result.get(activity, Summary()).merge(
                        Summary(n, n * window, window, window))
        return result
