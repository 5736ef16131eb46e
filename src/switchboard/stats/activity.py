"""Workers' activity changes in time order, and the time each worker spent in each activity
during a window.

A worker's time in an activity during ``[start, end]`` is the part of each of its stays in that
activity that falls inside the window (a stay that began before the window counts from its
start; the stay under way counts up to ``end``). Workers are numbered, and activities, as they
first appear; changes are kept as parallel arrays of those small integers.

Two ways to answer a window, whichever costs less (``durations`` estimates both):

* **Walk** the changes since ``start``: only the workers that moved are looked at, and those that
  did not are counted by activity in one pass in C. Cheap for short windows.
* **Standings** at ``start`` and at ``end`` (``_Standing``): per activity and worker, the sum of
  the times of the stays it ended minus the times of those it began, and the activity it is in.
  A worker's time in activity ``k`` up to ``t`` is then ``gains[k][w] + t`` if it is in ``k`` at
  ``t``, else ``gains[k][w]``: the difference between the two ends, worker by worker, is its time
  in the window, computed mostly in C however many changes the window holds. The standing after
  the newest change is kept current as changes arrive; others are copied from checkpoints taken
  every few thousand changes (or from the standings of recent requests, which dashboards ask for
  again and again) and moved to the moment asked for by applying or undoing the changes between.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence, Set
from operator import attrgetter, itemgetter, sub
from typing import Literal

from switchboard.routing.model import Worker
from switchboard.stats.series import TRIM_EVERY, Summary, worth_forgetting
from switchboard.stats.window import KEEP_MS

_activity_of = attrgetter("activity_sid")
NONE = -1  # "no activity": before a worker's creation, after its deletion
UNSEEN = -2
CHECKPOINT_EVERY = 4096  # changes between checkpoints, at least
RECENT = 4  # standings of recent requests kept, to be moved a little for the next one
Method = Literal["walk", "standings"]


def _unseen() -> int:
    return UNSEEN


class _Standing:
    """Every numbered worker's standing after the first ``position`` changes: ``gains[k][w]``,
    the time (ms) worker ``w`` ended stays in activity ``k`` minus the time it began them, and
    ``acts[w]``, the activity it is in (NONE: not existing). Workers numbered after the standing
    was last brought up to date are in their first activity with nothing gained yet."""

    __slots__ = ("acts", "gains", "position")

    def __init__(self, position: int, gains: list[array[int]], acts: array[int]) -> None:
        self.position = position
        self.gains = gains
        self.acts = acts

    def copy(self) -> _Standing:
        return _Standing(self.position, [g[:] for g in self.gains], self.acts[:])


class ActivityLog:
    def __init__(self, checkpoint_every: int | None = None) -> None:
        """``checkpoint_every``: changes between checkpoints (default: as many as make a
        checkpoint cost about 16 bytes of memory a change, and at least CHECKPOINT_EVERY)."""
        self._checkpoint_every = checkpoint_every
        self.times = array("q")
        self._workers = array("l")  # worker number of each change
        self._before = array("l")  # activity numbers (NONE: not existing)
        self._after = array("l")
        self._worker_number: dict[str, int] = {}
        self._worker_sids: list[str] = []
        self._activity_number: dict[str, int] = {}
        self._activity_sids: list[str] = []
        self._first = array("l")  # per worker: its activity before its first change
        # The standing after every change (when `_stale_from` is None), checkpoints (the first
        # at position 0), and standings of recent requests (the most recently used last).
        self._now = _Standing(0, [], array("l"))
        self._checkpoints = [_Standing(0, [], array("l"))]
        self._recent: list[_Standing] = []
        self._stale_from: int | None = None  # standings after this position need rebuilding
        self._alive: tuple[int, Counter[int]] | None = None  # (position, workers by activity)

    def _worker(self, sid: str, before: int) -> int:
        number = self._worker_number.get(sid)
        if number is None:
            number = self._worker_number[sid] = len(self._worker_sids)
            self._worker_sids.append(sid)
            self._first.append(before)
        return number

    def _activity(self, sid: str | None) -> int:
        if sid is None:
            return NONE
        number = self._activity_number.get(sid)
        if number is None:
            number = self._activity_number[sid] = len(self._activity_sids)
            self._activity_sids.append(sid)
        return number

    # ------------------------------------------------------------------ feeding

    def add(self, time: int, worker_sid: str, before: str | None, after: str | None) -> None:
        """A worker changed activity (``before`` None: created; ``after`` None: deleted)."""
        was, now = self._activity(before), self._activity(after)
        w = self._worker(worker_sid, was)
        times = self.times
        if times and time < times[-1]:
            self._insert(bisect_right(times, time), time, w, was, now)
            return
        times.append(time)
        self._workers.append(w)
        self._before.append(was)
        self._after.append(now)
        if self._stale_from is None:
            standing = self._fit(self._now)
            if was >= 0:
                standing.gains[was][w] += time
            if now >= 0:
                standing.gains[now][w] -= time
            standing.acts[w] = now
            standing.position += 1
            if standing.position - self._checkpoints[-1].position >= self._spacing():
                self._checkpoints.append(standing.copy())
        if not len(times) % TRIM_EVERY and worth_forgetting(times, time - KEEP_MS):
            self.forget_before(time - KEEP_MS)

    def _insert(self, at: int, time: int, w: int, was: int, now: int) -> None:
        """A change older than the newest (a clock set back): standings after it are stale."""
        if w not in self._workers[:at]:  # the worker's first change now: its first activity
            self._first[w] = was
            for standing in (*self._checkpoints, *self._recent, self._now):
                if standing.position <= at and w < len(standing.acts):
                    standing.acts[w] = was
        for column, value in ((self.times, time), (self._workers, w), (self._before, was),
                              (self._after, now)):
            column.insert(at, value)
        self._stale_from = at if self._stale_from is None else min(self._stale_from, at)

    def _spacing(self) -> int:
        """Changes between checkpoints: by default, a checkpoint costs about as much memory as
        16 bytes a change (the changes themselves take 32)."""
        if self._checkpoint_every is not None:
            return self._checkpoint_every
        standing = self._now
        return max(CHECKPOINT_EVERY, len(standing.acts) * (len(standing.gains) + 1) // 2)

    def _fit(self, standing: _Standing) -> _Standing:
        """Make room in ``standing`` for the workers and activities numbered since."""
        workers, kinds = len(self._worker_sids), len(self._activity_sids)
        acts, gains = standing.acts, standing.gains
        if len(acts) < workers:
            missing = workers - len(acts)
            acts.extend(self._first[len(acts):])
            zeros = array("q", bytes(8 * missing))
            for column in gains:
                column.extend(zeros)
        while len(gains) < kinds:
            gains.append(array("q", bytes(8 * workers)))
        return standing

    def _rebuild_stale(self) -> None:
        """After changes arrived out of order: standings again from the last good checkpoint."""
        stale = self._stale_from
        if stale is None:
            return
        self._stale_from = None
        self._checkpoints = [c for c in self._checkpoints if c.position <= stale]
        self._recent = [r for r in self._recent if r.position <= stale]
        standing = self._checkpoints[-1].copy()
        end = len(self.times)
        while standing.position < end:
            self._move(standing, min(end, self._checkpoints[-1].position + self._spacing()))
            if standing.position - self._checkpoints[-1].position >= self._spacing():
                self._checkpoints.append(standing.copy())
        self._now = standing
        self._alive = None

    def _move(self, standing: _Standing, position: int) -> None:
        """Apply (or undo) the changes between the standing's position and ``position``."""
        self._fit(standing)
        here = standing.position
        gains, acts = standing.gains, standing.acts
        if position > here:
            for w, was, now, time in zip(self._workers[here:position],
                                         self._before[here:position],
                                         self._after[here:position], self.times[here:position],
                                         strict=True):
                if was >= 0:
                    gains[was][w] += time
                if now >= 0:
                    gains[now][w] -= time
                acts[w] = now
        elif position < here:
            for w, was, now, time in zip(reversed(self._workers[position:here]),
                                         reversed(self._before[position:here]),
                                         reversed(self._after[position:here]),
                                         reversed(self.times[position:here]), strict=True):
                if was >= 0:
                    gains[was][w] -= time
                if now >= 0:
                    gains[now][w] += time
                acts[w] = was
        standing.position = position

    def forget_before(self, time: int) -> None:
        """Drop the changes before ``time`` (windows never reach back that far again)."""
        self._rebuild_stale()
        cut = bisect_left(self.times, time)
        if not cut:
            return
        base = self._fit(self._standing_at(cut)).copy()
        for column in (self.times, self._workers, self._before, self._after):
            del column[:cut]
        kept = [c for c in self._checkpoints if c.position > cut]
        self._recent = [r for r in self._recent if r.position >= cut]
        for standing in (*kept, *self._recent, self._now):
            standing.position -= cut
        base.position = 0
        self._checkpoints = [base, *kept]
        self._alive = None

    # ------------------------------------------------------------------ standings

    def _standing_at(self, position: int, busy: _Standing | None = None) -> _Standing:
        """A standing after the first ``position`` changes, to read only: the current one, or a
        recent one moved there, or a copy of the nearest checkpoint moved there."""
        self._rebuild_stale()
        if position == self._now.position:
            return self._fit(self._now)
        recent = [r for r in self._recent if r is not busy]
        nearest_recent = min(recent, key=lambda r: abs(r.position - position), default=None)
        checkpoints = self._checkpoints
        i = bisect_right([c.position for c in checkpoints], position)
        sources = [*checkpoints[max(0, i - 1):i + 1], self._now]
        source = min(sources, key=lambda s: abs(s.position - position))
        if nearest_recent is not None and (
                abs(nearest_recent.position - position) <= abs(source.position - position)):
            standing = nearest_recent
            self._recent.remove(standing)
        else:
            standing = source.copy()
            if len(self._recent) >= RECENT:
                oldest = next(r for r in self._recent if r is not busy)
                self._recent.remove(oldest)
        self._move(standing, position)
        self._recent.append(standing)
        return standing

    def _cost_of_standings(self, position: int) -> int:
        """Changes to apply or undo to get a standing at ``position``."""
        if self._stale_from is not None:
            return len(self.times)
        candidates = [self._now.position, *(r.position for r in self._recent)]
        positions = [c.position for c in self._checkpoints]
        i = bisect_right(positions, position)
        candidates.extend(positions[max(0, i - 1):i + 1])
        return min(abs(c - position) for c in candidates)

    def _alive_by_activity(self) -> Counter[int]:
        """The numbered workers by the activity they are in after the newest change."""
        now = self._fit(self._now)
        if self._alive is None or self._alive[0] != now.position:
            self._alive = (now.position, Counter(now.acts))
        return self._alive[1]

    # ------------------------------------------------------------------ reading

    def durations(self, start: int, end: int, workers: Mapping[str, Worker],
                  only: Set[str] | None = None, counts: Mapping[str, int] | None = None,
                  method: Method | None = None) -> dict[str, Summary]:
        """Per activity SID: over the workers that spent time in it during the window, that
        time (ms) per worker. ``workers`` are the workspace's current workers; ``only`` limits
        the count to some of them (deleted workers count while they existed, unless ``only``
        leaves them out); ``counts``, if known, are the current workers by activity.
        ``method`` forces one way of answering (tests); by default the cheaper is taken."""
        if method is None:
            method = self._cheaper(start, end, only)
        if method == "walk":
            return self._walk(start, end, workers, only, counts)
        return self._by_standings(start, end, workers, only, counts)

    def _cheaper(self, start: int, end: int, only: Set[str] | None) -> Method:
        times = self.times
        walk = len(times) - bisect_left(times, start)  # changes looked at by the walk
        if walk < CHECKPOINT_EVERY // 4:
            return "walk"
        chosen = len(self._worker_sids) if only is None else len(only)
        # Per worker, a subtraction per activity and a few look-ups, mostly in C: about as
        # much as a change walked per two activities.
        standings = (self._cost_of_standings(bisect_right(times, start))
                     + self._cost_of_standings(bisect_right(times, end))
                     + chosen * (len(self._activity_sids) + 2) // 2)
        return "walk" if walk <= standings else "standings"

    def _by_standings(self, start: int, end: int, workers: Mapping[str, Worker],
                      only: Set[str] | None, counts: Mapping[str, int] | None
                      ) -> dict[str, Summary]:
        times = self.times
        first = self._standing_at(bisect_right(times, start))
        last = self._fit(self._standing_at(bisect_right(times, end), busy=first))
        self._fit(first)
        numbers = self._worker_number
        kinds = len(self._activity_sids)
        spent: list[list[int]]
        if only is None:
            spent = [list(map(sub, last.gains[k], first.gains[k])) for k in range(kinds)]
            for w, (now, was) in enumerate(zip(last.acts, first.acts, strict=True)):
                if now >= 0:
                    spent[now][w] += end
                if was >= 0:
                    spent[was][w] -= start
        else:
            chosen = sorted(n for sid in only if (n := numbers.get(sid)) is not None)
            spent = [[] for _ in range(kinds)]
            if chosen:
                pick: Callable[[Sequence[int]], tuple[int, ...]] = (
                    itemgetter(*chosen) if len(chosen) > 1
                    else lambda column: (column[chosen[0]],))
                spent = [list(map(sub, pick(last.gains[k]), pick(first.gains[k])))
                         for k in range(kinds)]
                for i, (now, was) in enumerate(zip(pick(last.acts), pick(first.acts),
                                                   strict=True)):
                    if now >= 0:
                        spent[now][i] += end
                    if was >= 0:
                        spent[was][i] -= start
        result: dict[str, Summary] = {}
        for number, sid in enumerate(self._activity_sids):
            values = list(filter(None, spent[number]))  # the workers with time in it
            if values and min(values) < 0:  # (never, with changes that follow one another)
                values = [ms for ms in values if ms > 0]
            if values:
                result[sid] = Summary(len(values), sum(values), min(values), max(values))
        # Workers no change names (none since history began): the whole window in their
        # current activity.
        if end > start:
            if only is None:
                still = Counter(counts) if counts is not None else Counter(
                    map(_activity_of, workers.values()))
                sids = self._activity_sids
                for number, n in self._alive_by_activity().items():
                    if number >= 0:
                        still[sids[number]] -= n
            else:
                still = Counter(workers[sid].activity_sid for sid in only
                                if sid in workers and sid not in numbers)
            window = end - start
            for sid, n in still.items():
                if n > 0:
                    result[sid] = result.get(sid, Summary()).merge(
                        Summary(n, n * window, window, window))
        return result

    def _walk(self, start: int, end: int, workers: Mapping[str, Worker],
              only: Set[str] | None, counts: Mapping[str, int] | None) -> dict[str, Summary]:
        """Walk the changes since ``start``: a worker's activity at ``start`` is the one its
        first change since left (its current one if none), and its time in each activity
        builds up change by change."""
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
