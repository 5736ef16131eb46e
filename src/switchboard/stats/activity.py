"""Workers' activity changes in time order, and the time each worker spent in each activity
during a window.

A worker's time in an activity during ``[start, end]`` is the part of each of its stays in that
activity that falls inside the window (a stay that began before the window counts from its
start; the stay under way counts up to ``end``). Workers are numbered, and activities, as they
first appear; changes are kept as parallel arrays of those small integers.

Three ways to answer a window (``durations`` takes the cheapest):

* **Walk** the changes since ``start``: only the workers that moved are looked at, and those that
  did not are counted by activity in one pass in C. Cheap for short one-off windows.
* **Standings** at ``start`` and at ``end`` (``_Standing``): per activity and worker, the sum of
  the times of the stays it ended minus the times of those it began (its "gain"), and the
  activity it is in. A worker's time in activity ``k`` up to ``t`` is ``gains[k][w] + t`` if it is
  in ``k`` at ``t``, else ``gains[k][w]``, so its time in the window is a difference between the
  two standings, whatever the number of changes between them. Used for some workers (the
  ``TaskQueueSid`` … filters). The standing after the newest change is kept current as changes
  arrive; others are copied from checkpoints taken every few thousand changes (or from the
  standings of recent requests) and moved by applying or undoing the changes in between.
* A **sorted window** (``_Window``, every worker): the same differences, sorted by activity and
  by whether the worker was in it at the start and/or the end. Between the same two changes,
  every worker's time is its gain plus the same shift (0, the end, minus the start, or both), so
  a window answers count, total, minimum and maximum with a binary search per list. The windows
  of recent requests are kept; a dashboard asking again a little later moves one past the few
  changes in between, re-sorting only the workers they name.

Every way is exact to the millisecond, and the tests compare each with brute force.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence, Set
from operator import attrgetter, itemgetter, sub
from typing import Literal

from switchboard.routing.model import Worker
from switchboard.stats.series import EMPTY, TRIM_EVERY, Summary, worth_forgetting
from switchboard.stats.window import KEEP_MS

_activity_of = attrgetter("activity_sid")
NONE = -1  # "no activity": before a worker's creation, after its deletion
UNSEEN = -2
CHECKPOINT_EVERY = 4096  # changes between checkpoints, at least
RECENT = 4  # standings of recent requests kept, to be moved a little for the next one
WINDOWS = 4  # sorted windows of recent requests kept (``_Window``)
Method = Literal["walk", "standings", "window"]
# How a worker stands toward an activity at a window's two ends: in it at neither end, at the
# end only, at the start only, at both. Its time in the activity during the window is then its
# gain between the ends plus nothing, the end, minus the start, the end minus the start.
NEITHER, AT_END, AT_START, BOTH = range(4)


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


class _Window:
    """Every numbered worker's gains between two standings, sorted: per activity and way of
    standing toward it (NEITHER … BOTH), the gains of the workers (``spans``, those with
    nothing to count left out) and their sum. A window whose ends fall between the same
    changes is answered with a few binary searches, however many workers and changes; moving
    an end past a change takes one worker's gains out and puts them back."""

    __slots__ = ("first", "last", "spans", "totals")

    def __init__(self, first: _Standing, last: _Standing) -> None:
        self.first = first
        self.last = last
        self.spans: list[list[list[int]]] = []
        self.totals: list[list[int]] = []

    def entries(self, w: int) -> list[tuple[int, int, int]]:
        """(activity, way, gain) of worker ``w``, where there is something to count."""
        was, now = self.first.acts[w], self.last.acts[w]
        found = []
        for k, (late, early) in enumerate(zip(self.last.gains, self.first.gains, strict=True)):
            gain = late[w] - early[w]
            way = (AT_START if was == k else NEITHER) | (AT_END if now == k else NEITHER)
            if gain or way:
                found.append((k, way, gain))
        return found

    def put(self, w: int, sign: int) -> None:
        """Count worker ``w`` in (``sign`` 1) or out (-1)."""
        for k, way, gain in self.entries(w):
            column = self.spans[k][way]
            if sign > 0:
                insort(column, gain)
            else:
                del column[bisect_left(column, gain)]
            self.totals[k][way] += sign * gain


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
        self._windows: list[_Window] = []  # the most recently used last
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
        self._windows.clear()
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
        self._windows.clear()
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

    def _standing_at(self, position: int, busy: _Standing | None = None,
                     own: bool = False) -> _Standing:
        """A standing after the first ``position`` changes: to read only (the current one, or
        a recent one moved there, or a copy of the nearest checkpoint moved there and kept as
        a recent one), or, if ``own``, a copy for the caller to keep."""
        self._rebuild_stale()
        if position == self._now.position and not own:
            return self._fit(self._now)
        recent = [r for r in self._recent if r is not busy]
        nearest_recent = min(recent, key=lambda r: abs(r.position - position), default=None)
        checkpoints = self._checkpoints
        i = bisect_right([c.position for c in checkpoints], position)
        sources = [*checkpoints[max(0, i - 1):i + 1], self._now]
        source = min(sources, key=lambda s: abs(s.position - position))
        if nearest_recent is not None and (
                abs(nearest_recent.position - position) < abs(source.position - position)):
            if own:
                standing = nearest_recent.copy()
            else:
                standing = nearest_recent
                self._recent.remove(standing)
        else:
            standing = source.copy()
            if not own and len(self._recent) >= RECENT:
                oldest = next(r for r in self._recent if r is not busy)
                self._recent.remove(oldest)
        self._move(standing, position)
        if not own:
            self._recent.append(standing)
        return standing

    # ------------------------------------------------------------------ windows

    def _window_for(self, first: int, last: int) -> _Window:
        """A window between the standings at positions ``first`` and ``last``: a recent one
        moved there if that is cheaper than sorting a new one."""
        self._rebuild_stale()
        best = min(self._windows, default=None, key=lambda w: abs(
            w.first.position - first) + abs(w.last.position - last))
        # Moving an end past a change costs about twice as much as sorting a worker in.
        fresh = min(last - first, len(self._worker_sids)) + len(self._worker_sids) // 16
        if best is not None and 2 * (abs(best.first.position - first)
                                     + abs(best.last.position - last)) <= fresh:
            self._windows.remove(best)
            self._fit_window(best)
            self._shift(best, best.first, first)
            self._shift(best, best.last, last)
        else:
            best = self._sorted_window(first, last)
            if len(self._windows) >= WINDOWS:
                del self._windows[0]
        self._windows.append(best)
        return best

    def _sorted_window(self, first: int, last: int, every: bool | None = None) -> _Window:
        """A new window between positions ``first`` and ``last``. Its spans are gathered
        from the workers that changed between them when they are few, or else (``every``)
        from every worker at once, mostly in C."""
        window = _Window(self._standing_at(first, own=True), self._standing_at(last, own=True))
        self._fit(window.first)
        self._fit(window.last)
        kinds = len(self._activity_sids)
        changed = set(self._workers[first:last])
        if every is None:
            every = 4 * len(changed) >= len(self._worker_sids)
        spans: list[list[list[int]]]
        if every:
            spans = self._spans_of_everyone(window, kinds)
        else:
            # Workers with no change between the ends: in the same activity at both, no gain.
            acts = window.last.acts
            unchanged = Counter(acts)
            for w in changed:
                unchanged[acts[w]] -= 1
            spans = [[[], [], [], [0] * unchanged[k]] for k in range(kinds)]
            for w in changed:
                for k, way, gain in window.entries(w):
                    spans[k][way].append(gain)
        for columns in spans:
            for column in columns:
                column.sort()
        window.spans = spans
        window.totals = [[sum(column) for column in columns] for columns in spans]
        return window

    @staticmethod
    def _spans_of_everyone(window: _Window, kinds: int) -> list[list[list[int]]]:
        gains = [list(map(sub, window.last.gains[k], window.first.gains[k]))
                 for k in range(kinds)]
        spans: list[list[list[int]]] = [[[], [], [], []] for _ in range(kinds)]
        for w, (was, now) in enumerate(zip(window.first.acts, window.last.acts, strict=True)):
            if was == now:
                if was >= 0:
                    spans[was][BOTH].append(gains[was][w])
                    gains[was][w] = 0
                continue
            if was >= 0:
                spans[was][AT_START].append(gains[was][w])
                gains[was][w] = 0
            if now >= 0:
                spans[now][AT_END].append(gains[now][w])
                gains[now][w] = 0
        for k in range(kinds):  # in it at neither end: those with a gain
            spans[k][NEITHER] = list(filter(None, gains[k]))
        return spans

    def _fit_window(self, window: _Window) -> None:
        """Count in the workers and activities numbered since the window was sorted (each in
        its first activity at both ends, nothing gained)."""
        numbered = len(window.first.acts)
        self._fit(window.first)
        self._fit(window.last)
        while len(window.spans) < len(self._activity_sids):
            window.spans.append([[], [], [], []])
            window.totals.append([0, 0, 0, 0])
        for w in range(numbered, len(window.first.acts)):
            window.put(w, 1)

    def _shift(self, window: _Window, standing: _Standing, position: int) -> None:
        """Move one end of the window change by change, re-sorting each worker moved."""
        gains, acts = standing.gains, standing.acts
        who, before, after, times = self._workers, self._before, self._after, self.times
        here = standing.position
        step = 1 if position > here else -1
        for c in range(here, position) if step > 0 else range(here - 1, position - 1, -1):
            w, was, now, time = who[c], before[c], after[c], times[c]
            window.put(w, -1)
            if was >= 0:
                gains[was][w] += step * time
            if now >= 0:
                gains[now][w] -= step * time
            acts[w] = now if step > 0 else was
            window.put(w, 1)
        standing.position = position

    def _by_window(self, start: int, end: int, workers: Mapping[str, Worker],
                   counts: Mapping[str, int] | None) -> dict[str, Summary]:
        times = self.times
        window = self._window_for(bisect_right(times, start), bisect_right(times, end))
        shifts = (0, end, -start, end - start)  # per way of standing (NEITHER … BOTH)
        result: dict[str, Summary] = {}
        for sid, columns, totals in zip(self._activity_sids, window.spans, window.totals,
                                        strict=True):
            summary = EMPTY
            for column, total, shift in zip(columns, totals, shifts, strict=True):
                if not column:
                    continue
                i = bisect_right(column, -shift)  # those before i spent no time in it
                if i < len(column):
                    n = len(column) - i
                    if i:
                        total -= sum(column[:i])
                    summary = summary.merge(Summary(n, total + n * shift, column[i] + shift,
                                                    column[-1] + shift))
            if summary.count:
                result[sid] = summary
        self._add_unnamed(result, start, end, workers, counts)
        return result

    def _add_unnamed(self, result: dict[str, Summary], start: int, end: int,
                     workers: Mapping[str, Worker], counts: Mapping[str, int] | None) -> None:
        """Workers no change names (none since history began): the whole window in their
        current activity."""
        if end <= start:
            return
        still = Counter(counts) if counts is not None else Counter(
            map(_activity_of, workers.values()))
        sids = self._activity_sids
        for number, n in self._alive_by_activity().items():
            if number >= 0:
                still[sids[number]] -= n
        window = end - start
        for sid, n in still.items():
            if n > 0:
                result[sid] = result.get(sid, EMPTY).merge(Summary(n, n * window, window, window))

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

        ``method`` forces one way of answering (tests): ``walk`` the changes since ``start``;
        ``standings`` at both ends compared worker by worker (some workers only); a sorted
        ``window`` (all workers). By default the cheapest is taken."""
        if method is None:
            method = self._cheapest(start, end, only)
        if method == "walk":
            return self._walk(start, end, workers, only, counts)
        if method == "window":
            if only is not None:
                raise ValueError("a sorted window counts every worker")
            return self._by_window(start, end, workers, counts)
        if only is None:
            raise ValueError("standings compare some workers only")
        return self._by_standings(start, end, workers, only)

    def _cheapest(self, start: int, end: int, only: Set[str] | None) -> Method:
        """Estimated in changes walked (a worker compared costs about as much as one)."""
        times = self.times
        walk = len(times) - bisect_left(times, start)  # changes looked at by the walk
        if only is None:
            return "window" if walk >= 64 or self._windows else "walk"
        if walk < 64:
            return "walk"
        standings = (self._cost_of_standings(bisect_right(times, start))
                     + self._cost_of_standings(bisect_right(times, end)) // 2
                     + len(only))
        return "walk" if walk <= standings else "standings"

    def _by_standings(self, start: int, end: int, workers: Mapping[str, Worker],
                      only: Set[str]) -> dict[str, Summary]:
        times = self.times
        first = self._standing_at(bisect_right(times, start))
        last = self._fit(self._standing_at(bisect_right(times, end), busy=first))
        self._fit(first)
        numbers = self._worker_number
        kinds = len(self._activity_sids)
        chosen = sorted(n for sid in only if (n := numbers.get(sid)) is not None)
        spent: list[list[int]] = [[] for _ in range(kinds)]
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
            values = [ms for ms in spent[number] if ms > 0]
            if values:
                result[sid] = Summary(len(values), sum(values), min(values), max(values))
        if end > start:  # the chosen workers no change names: the whole window
            window = end - start
            for sid, n in Counter(workers[sid].activity_sid for sid in only
                                  if sid in workers and sid not in numbers).items():
                result[sid] = result.get(sid, EMPTY).merge(
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
