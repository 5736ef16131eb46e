"""Workers' activity changes in time order, and the time each worker spent in each activity
during a window.

A worker's time in an activity during ``[start, end]`` is the part of each of its stays in that
activity that falls inside the window (a stay that began before the window counts from its
start; the stay under way counts up to ``end``). A worker with no change since ``start`` spent
the whole window in the activity it is in now, so only the changes since ``start`` are walked;
the many workers that did not move are counted by activity in one pass in C.

Changes are kept as parallel arrays of small integers (workers and activities numbered as they
first appear), so the walk costs a few list look-ups per change.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Mapping, Set
from operator import attrgetter

from switchboard.routing.model import Worker
from switchboard.stats.series import TRIM_EVERY, Summary, worth_forgetting
from switchboard.stats.window import KEEP_MS

_activity_of = attrgetter("activity_sid")
NONE = -1  # "no activity": before a worker's creation, after its deletion
UNSEEN = -2


def _unseen() -> int:
    return UNSEEN


class ActivityLog:
    def __init__(self) -> None:
        self.times = array("q")
        self._workers = array("l")  # worker number of each change
        self._before = array("l")  # activity numbers (NONE: not existing)
        self._after = array("l")
        self._worker_number: dict[str, int] = {}
        self._worker_sids: list[str] = []
        self._activity_number: dict[str, int] = {}
        self._activity_sids: list[str] = []

    def _worker(self, sid: str) -> int:
        number = self._worker_number.get(sid)
        if number is None:
            number = self._worker_number[sid] = len(self._worker_sids)
            self._worker_sids.append(sid)
        return number

    def _activity(self, sid: str | None) -> int:
        if sid is None:
            return NONE
        number = self._activity_number.get(sid)
        if number is None:
            number = self._activity_number[sid] = len(self._activity_sids)
            self._activity_sids.append(sid)
        return number

    def add(self, time: int, worker_sid: str, before: str | None, after: str | None) -> None:
        """A worker changed activity (``before`` None: created; ``after`` None: deleted)."""
        row = (self._worker(worker_sid), self._activity(before), self._activity(after))
        times = self.times
        if times and time < times[-1]:
            at = bisect_right(times, time)
            times.insert(at, time)
            for column, value in zip((self._workers, self._before, self._after), row,
                                     strict=True):
                column.insert(at, value)
            return
        times.append(time)
        self._workers.append(row[0])
        self._before.append(row[1])
        self._after.append(row[2])
        if not len(times) % TRIM_EVERY and worth_forgetting(times, time - KEEP_MS):
            self.forget_before(time - KEEP_MS)

    def forget_before(self, time: int) -> None:
        cut = bisect_left(self.times, time)
        for column in (self.times, self._workers, self._before, self._after):
            del column[:cut]

    def durations(self, start: int, end: int, workers: Mapping[str, Worker],
                  only: Set[str] | None = None, counts: Mapping[str, int] | None = None
                  ) -> dict[str, Summary]:
        """Per activity SID: over the workers that spent time in it during the window, that
        time (ms) per worker. ``workers`` are the workspace's current workers; ``only`` limits
        the count to some of them (deleted workers count while they existed, unless ``only``
        leaves them out); ``counts``, if known, are the current workers by activity."""
        count = len(self._worker_sids)
        kinds = len(self._activity_sids)
        if only is None:
            wanted = None
        else:
            wanted = [False] * count
            for sid in only:
                number = self._worker_number.get(sid)
                if number is not None:
                    wanted[number] = True
        times, who, before, after = self.times, self._workers, self._before, self._after
        first = bisect_left(times, start)
        last = bisect_right(times, end)
        # Per worker number: its activity at the walk's point (UNSEEN before its first change
        # since `start`), since when, and its time per activity (flat: worker * kinds + act).
        # Lists when many workers move in the window, dicts when few do (short windows).
        activity: list[int] | defaultdict[int, int]
        since: list[int] | defaultdict[int, int]
        spent: list[int] | defaultdict[int, int]
        if 4 * (len(times) - first) >= count:
            activity, since, spent = [UNSEEN] * count, [0] * count, [0] * (count * kinds)
        else:
            activity, since, spent = defaultdict(_unseen), defaultdict(int), defaultdict(int)
        seen: list[int] = []
        # zip over slices: the arrays are copied in C, and no index is looked up per change.
        for w, was, now, time in zip(who[first:last], before[first:last], after[first:last],
                                     times[first:last], strict=True):
            current = activity[w]
            if current == UNSEEN:
                if wanted is not None and not wanted[w]:
                    continue
                seen.append(w)
                current, begun = was, start
            else:
                begun = since[w]
            if current >= 0:
                spent[w * kinds + current] += time - begun
            activity[w] = now
            since[w] = time
        for w in seen:  # the stays under way at the end of the window
            if activity[w] >= 0:
                spent[w * kinds + activity[w]] += end - since[w]
        for k in range(last, len(times)):  # first changes after the window
            w = who[k]
            if activity[w] != UNSEEN or (wanted is not None and not wanted[w]):
                continue
            seen.append(w)
            activity[w] = NONE
            if before[k] >= 0:
                spent[w * kinds + before[k]] += end - start

        result: dict[str, Summary] = {}
        for number, sid in enumerate(self._activity_sids):
            values = [ms for w in seen if (ms := spent[w * kinds + number]) > 0]
            if values:
                result[sid] = Summary(len(values), sum(values), min(values), max(values))
        # Workers without a change since `start`: the whole window in their current activity.
        if end > start:
            if only is None:
                still = Counter(counts) if counts is not None else Counter(
                    map(_activity_of, workers.values()))
            else:
                still = Counter(workers[sid].activity_sid for sid in only if sid in workers)
            sids = self._worker_sids
            for w in seen:
                worker = workers.get(sids[w])
                if worker is not None:
                    still[worker.activity_sid] -= 1
            window = end - start
            for sid, n in still.items():
                if n > 0:
                    result[sid] = result.get(sid, Summary()).merge(
                        Summary(n, n * window, window, window))
        return result
