"""Recent statistics in memory, so that a dashboard polling "the last 15 minutes" is answered
without the store: each workspace's live minutes summed as the rollups sum them, and a bounded
cache of what closed periods sum to.

A window ``[start, end]`` with no event after ``end`` (the usual "the last N minutes") is read
in three parts, as ``stored.Cut`` reads it: its first part-minute, from the events of that
minute (closed: kept by ``stored.EdgeMinutes``, bounded), laid out once as runs with suffix
sums (``_EdgeSums``: a part from any moment on is summed in O(log n), a few minutes kept); its
whole minutes before the live ones (closed: summed once by the store, then kept in
``_Closed``); and the live minutes (the newest event's and the one before, ``LIVE_MINUTES``,
from ``since`` on). Nothing else is kept per event.

The live minutes are fed by the store as each batch commits (``committed``, on the thread
that committed it: the event loop on SQLite, the writer thread on PostgreSQL; the rollup rows
the store built for the batch, no second pass over the events), so they hold exactly the
events committed so far. A workspace's live minutes are loaded on its first read, and closed
periods summed on a miss, on the writer thread, in a write of its own: no batch commits
meanwhile (the store runs one write at a time), so every part agrees with one state of the
log. An event dated before ``since`` (the clock stepped back) changes a closed minute: it
bumps the workspace's generation, which every cached sum carries, so they are summed again.
What memory cannot answer exactly (an event dated after the window's end, a first part-minute
not kept or still live, a state that changed while a request was read) is read from the
store.
"""

from __future__ import annotations

import itertools
import logging
import threading
from array import array
from bisect import bisect_left
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol

from sqlalchemy import Connection, func, select

from switchboard.stats.cumulative import ACCEPTED, CANCELED, SPLIT_FIGURES, Histogram, occurrences
from switchboard.stats.queries import records_between
from switchboard.stats.records import EventRecord
from switchboard.stats.rollups import MINUTE_MS, Rollup, pending_backfill, wait_second
from switchboard.stats.series import Summary
from switchboard.stats.stored import (
    EdgeMinutes,
    Sums,
    Waits,
    WindowReader,
    histograms,
    periods,
    rollup_figures,
    rollup_waits,
    round_up,
)
from switchboard.stats.window import Window
from switchboard.store import tables

log = logging.getLogger(__name__)
LIVE_MINUTES = 2  # the newest event's minute and the one before (its last commits may lag)
CLOSED_ENTRIES = 256  # closed sums kept, least recently used dropped first
CLOSED_SIDS = 10_000  # ... and SIDs in them all
CACHED_SIDS = 500  # requests for more SIDs than this are not cached
EDGE_SUMS = 4  # first part-minutes kept as runs (a dashboard asks for one or two windows)
FIGURES, WAITS = "figures", "waits"
# (workspace, FIGURES or WAITS, scope, SIDs, channel, first minute, end of the last)
ClosedKey = tuple[str, str, str, tuple[str, ...], str | None, int, int]
_generations = itertools.count(1)  # never reused: a forgotten workspace's sums never match


class Submit(Protocol):
    def __call__(self, write: Callable[[Connection], Any]) -> Future[Any]: ...


class _Minute:
    """One minute's rollup rows of one workspace, by (scope, SID)."""

    __slots__ = ("figures", "waits")

    def __init__(self) -> None:
        # (scope, sid) -> (figure, channel) -> [count, total, minimum, maximum]
        self.figures: dict[tuple[str, str], dict[tuple[str, str], list[int]]] = {}
        # (scope, sid) -> (figure, channel, second) -> count
        self.waits: dict[tuple[str, str], dict[tuple[str, str, int], int]] = {}

    def add(self, scope: str, sid: str, figure: str, channel: str, row: Sequence[int]) -> None:
        rows = self.figures.setdefault((scope, sid), {})
        had = rows.get((figure, channel))
        if had is None:
            rows[(figure, channel)] = list(row)
        else:
            had[0] += row[0]
            had[1] += row[1]
            had[2] = min(had[2], row[2])
            had[3] = max(had[3], row[3])

    def add_wait(self, scope: str, sid: str, figure: str, channel: str, second: int,
                 count: int) -> None:
        seconds = self.waits.setdefault((scope, sid), {})
        key = (figure, channel, second)
        seconds[key] = seconds.get(key, 0) + count


class _Live:
    """A workspace's minutes from ``since`` on, every committed event of them counted."""

    __slots__ = ("generation", "minutes", "newest", "since", "version")

    def __init__(self, since: int, newest: int | None) -> None:
        self.since = since
        self.newest = newest  # the newest event's date (None: no event yet)
        self.minutes: dict[int, _Minute] = {}
        self.generation = next(_generations)  # changes when a closed minute does
        self.version = 0  # changes at every commit: one request reads one state

    def minute(self, start: int) -> _Minute:
        found = self.minutes.get(start)
        if found is None:
            found = self.minutes[start] = _Minute()
        return found

    def advance(self) -> None:
        """Keep the live minutes only: those of the newest event and just before."""
        if self.newest is None:
            return
        since = self.newest - self.newest % MINUTE_MS - (LIVE_MINUTES - 1) * MINUTE_MS
        if since > self.since:
            self.since = since
            for start in [m for m in self.minutes if m < since]:
                del self.minutes[start]


class _Closed:
    """Sums of closed periods, least recently used dropped first once there are ``entries``
    of them or they name ``sids`` SIDs in all."""

    def __init__(self, entries: int = CLOSED_ENTRIES, sids: int = CLOSED_SIDS) -> None:
        self.entries = entries
        self.sids = sids
        self._found: OrderedDict[ClosedKey, tuple[int, Any]] = OrderedDict()
        self._weight = 0

    def __len__(self) -> int:
        return len(self._found)

    def get(self, key: ClosedKey, generation: int) -> Any:
        found = self._found.get(key)
        if found is None or found[0] != generation:
            return None
        self._found.move_to_end(key)
        return found[1]

    def put(self, key: ClosedKey, generation: int, value: Any) -> None:
        if key in self._found:
            self._weight -= len(key[3])
            del self._found[key]
        self._found[key] = (generation, value)
        self._weight += len(key[3])
        while len(self._found) > self.entries or self._weight > self.sids:
            gone, _ = self._found.popitem(last=False)
            self._weight -= len(gone[3])

    def forget(self, workspace_sid: str) -> None:
        for key in [k for k in self._found if k[0] == workspace_sid]:
            self._weight -= len(key[3])
            del self._found[key]


class _Run:
    """One figure's occurrences in one channel of a closed minute, by date, with the sums of
    every suffix: the part of the minute from any moment on is summed in O(log n)."""

    __slots__ = ("dates", "least", "most", "totals", "waits")

    def __init__(self, dates: array[int], waits: array[int]) -> None:
        self.dates = dates
        self.waits = waits
        totals, least, most = [0] * len(waits), [0] * len(waits), [0] * len(waits)
        total, low, high = 0, waits[-1], waits[-1]
        for i in range(len(waits) - 1, -1, -1):
            wait = waits[i]
            total += wait
            low = min(low, wait)
            high = max(high, wait)
            totals[i], least[i], most[i] = total, low, high
        self.totals, self.least, self.most = (array("q", a) for a in (totals, least, most))

    def span(self, lo: int, hi: int) -> tuple[int, int]:
        """The indexes of the occurrences with ``lo <= date < hi``."""
        return bisect_left(self.dates, lo), bisect_left(self.dates, hi)

    def summary(self, lo: int, hi: int) -> Summary | None:
        i, j = self.span(lo, hi)
        if i >= j:
            return None
        if j == len(self.dates):  # a suffix, as a window's first part-minute is
            return Summary(j - i, self.totals[i], self.least[i], self.most[i])
        part = self.waits[i:j]
        return Summary(j - i, sum(part), min(part), max(part))


class _EdgeSums:
    """A closed minute's counted events (an ``EdgeMinutes`` entry) as runs by (scope, SID)
    and (figure, channel)."""

    __slots__ = ("records", "runs")

    def __init__(self, records: Sequence[EventRecord]) -> None:
        self.records = records  # what it was made from: it is stale once that is dropped
        found: dict[tuple[str, str], dict[tuple[str, str], tuple[array[int], array[int]]]] = {}
        for record in records:  # sorted by date
            channel = record.task_channel or ""
            for scope, sid, figure, wait in occurrences(record):
                runs = found.setdefault((scope, sid), {})
                run = runs.get((figure, channel))
                if run is None:
                    run = runs[(figure, channel)] = (array("q"), array("q"))
                run[0].append(record.event_date)
                run[1].append(wait)
        self.runs = {key: {of: _Run(*run) for of, run in runs.items()}
                     for key, runs in found.items()}


class RecentRollups:
    """The live minutes of the workspaces read lately, and closed periods' sums. Fed by the
    store (``Store.rollup_listeners``); read on the event loop."""

    def __init__(self, edges: EdgeMinutes, submit: Submit,
                 closed_entries: int = CLOSED_ENTRIES, closed_sids: int = CLOSED_SIDS
                 ) -> None:
        self.edges = edges
        self._submit = submit
        self._lock = threading.Lock()
        self._live: dict[str, _Live] = {}
        self._loading: set[str] = set()
        self._closed = _Closed(closed_entries, closed_sids)
        self._edge_sums: OrderedDict[tuple[str, int], _EdgeSums] = OrderedDict()
        # The dates of the batch staged last, for its commit to reuse.
        self._staged: tuple[Sequence[Any], dict[str, tuple[int, int]]] = ((), {})

    # ------------------------------------------------------------------ fed by the store

    def staged(self, events: Sequence[Any]) -> None:
        """In the transaction, before it commits: the edge minutes these events reopen are
        dropped before a request can read them."""
        dates = _dates(events)
        self._staged = (events, dates)
        for workspace_sid, (earliest, _) in dates.items():
            self.edges.heard(workspace_sid, earliest)

    def committed(self, events: Sequence[Any], rollup: Rollup,
                  dropped: Collection[str] = ()) -> None:
        """Once a batch is committed: its minute rows join the live minutes."""
        for workspace_sid in dropped:
            self.forget(workspace_sid)
        if not self._live:
            return
        staged, dates = self._staged
        if staged is not events:  # committed without being staged (not the store's way)
            dates = _dates(events)
        with self._lock:
            for workspace_sid, (earliest, _) in dates.items():
                self.edges.heard(workspace_sid, earliest)  # again: a read may have put it back
                live = self._live.get(workspace_sid)
                if live is not None and earliest < live.since:
                    live.generation = next(_generations)  # a closed minute changed
            self._absorb(rollup)
            for workspace_sid, (_, newest) in dates.items():
                live = self._live.get(workspace_sid)
                if live is not None:
                    live.version += 1
                    if live.newest is None or newest > live.newest:
                        live.newest = newest
                        live.advance()

    def _absorb(self, rollup: Rollup) -> None:
        """Add a rollup's minute rows to the live minutes they fall in (lock held)."""
        for key, row in rollup.periods.items():
            if key[3] != MINUTE_MS:
                continue
            live = self._live.get(key[0])
            if live is not None and key[4] >= live.since:
                live.minute(key[4]).add(key[1], key[2], key[5], key[6], row)
        for wait_key, count in rollup.waits.items():
            if wait_key[3] != MINUTE_MS:
                continue
            live = self._live.get(wait_key[0])
            if live is not None and wait_key[4] >= live.since:
                live.minute(wait_key[4]).add_wait(wait_key[1], wait_key[2], wait_key[5],
                                                  wait_key[6], wait_key[7], count)

    def forget(self, workspace_sid: str) -> None:
        """The workspace's state here is stale (loaded, unloaded, deleted)."""
        with self._lock:
            self._live.pop(workspace_sid, None)
            self._closed.forget(workspace_sid)
            for key in [k for k in self._edge_sums if k[0] == workspace_sid]:
                del self._edge_sums[key]

    def _load(self, conn: Connection, workspace_sid: str) -> None:
        """Writer thread: the workspace's live minutes, from their events."""
        try:
            self._read_live(conn, workspace_sid)
        except Exception:  # the request was answered from the store; the next one retries
            log.exception("recent statistics of workspace %s could not be loaded",
                          workspace_sid)
        finally:
            with self._lock:
                self._loading.discard(workspace_sid)

    def _read_live(self, conn: Connection, workspace_sid: str) -> None:
        if pending_backfill(conn, workspace_sid):
            return  # events still to fold into the rollups: read from the store
        e = tables.events
        newest = conn.execute(select(func.max(e.c.event_date)).where(
            e.c.workspace_sid == workspace_sid)).scalar()
        live = _Live(0, None if newest is None else int(newest))
        live.advance()
        # The live minutes' events (by the date index; the rollup rows are keyed by scope
        # first), summed as the writer sums them.
        rollup = Rollup()
        if live.newest is not None:
            for record in records_between(conn, workspace_sid, live.since, live.newest + 1):
                rollup.add(workspace_sid, record)
        with self._lock:
            self._live[workspace_sid] = live
            self._absorb(rollup)

    def _fill(self, conn: Connection, workspace_sid: str, keys: list[ClosedKey]) -> None:
        """Writer thread: sum the closed periods of ``keys`` (no commit runs meanwhile)."""
        with self._lock:
            live = self._live.get(workspace_sid)
            if live is None:
                return
            generation = live.generation
        found: list[tuple[ClosedKey, Any]] = []
        for key in keys:
            _, kind, scope, sids, channel, first, until = key
            ranges = periods(first, until)
            if kind == FIGURES:
                found.append((key, rollup_figures(conn, workspace_sid, scope, sids, channel,
                                                  ranges)))
            else:
                found.append((key, rollup_waits(conn, workspace_sid, scope, sids[0], channel,
                                                ranges)))
        with self._lock:
            if self._live.get(workspace_sid) is live and live.generation == generation:
                for key, value in found:
                    self._closed.put(key, generation, value)

    # ------------------------------------------------------------------ read

    def reader(self, workspace_sid: str, window: Window, channel: str | None
               ) -> RecentReader | None:
        """A reader of the window from memory, or None when it must be read from the store
        (the workspace is not loaded yet — its loading starts —, or an event is dated after
        the window's end)."""
        with self._lock:
            live = self._live.get(workspace_sid)
            if live is None:
                if workspace_sid not in self._loading:
                    self._loading.add(workspace_sid)
                    self._submit(lambda conn: self._load(conn, workspace_sid))
                return None
            if live.newest is not None and live.newest > window.end:
                return None
            return RecentReader(self, workspace_sid, live, window, channel)

    def edge_sums(self, workspace_sid: str, minute: int) -> _EdgeSums | None:
        """A closed minute's occurrences as runs, if ``edges`` keeps its events (lock held)."""
        records = self.edges.get(workspace_sid, minute)
        if records is None:
            return None
        key = (workspace_sid, minute)
        found = self._edge_sums.get(key)
        if found is None or found.records is not records:
            found = self._edge_sums[key] = _EdgeSums(records)
            while len(self._edge_sums) > EDGE_SUMS:
                self._edge_sums.popitem(last=False)
        self._edge_sums.move_to_end(key)
        return found

    def fill(self, workspace_sid: str, keys: list[ClosedKey]) -> None:
        """Sum closed periods a reader missed, for the next requests."""
        if keys:
            self._submit(lambda conn: self._fill(conn, workspace_sid, keys))


class RecentReader(WindowReader):
    """One request's reads from memory, of one state of the workspace. ``complete`` False:
    the answers are wrong, because the state changed meanwhile (``changed``: a batch committed;
    read again) or a part was missing (read from the store; ``missing`` are the closed sums to
    compute for the next requests)."""

    def __init__(self, recent: RecentRollups, workspace_sid: str, live: _Live, window: Window,
                 channel: str | None) -> None:
        self.recent = recent
        self.workspace_sid = workspace_sid
        self.live = live
        self.version = live.version
        self.window = window
        self.channel = channel
        self.first = round_up(window.start, MINUTE_MS)  # the first whole minute
        self.complete = True
        self.changed = False
        self.missing: list[ClosedKey] = []
        # The first part-minute, ``[_lo, _hi)``: its minute's runs (None: none in it).
        self._lo, self._hi = window.start, min(self.first, window.end + 1)
        self._edge: _EdgeSums | None = None
        self._edge_kept = True  # False: the part-minute has events not kept here
        if window.start < self.first and live.newest is not None \
                and self.first - MINUTE_MS <= live.newest:
            # A live minute's events are not kept; a closed one's may be.
            self._edge = None if self.first > live.since else self.recent.edge_sums(
                workspace_sid, self.first - MINUTE_MS)
            self._edge_kept = self._edge is not None

    def _runs(self, scope: str, sid: str) -> Iterable[tuple[tuple[str, str], _Run]]:
        """The first part-minute's runs of a SID of the scope."""
        return () if self._edge is None else self._edge.runs.get((scope, sid), {}).items()

    def _key(self, kind: str, scope: str, sids: Collection[str]) -> ClosedKey | None:
        """The cache key of the closed minutes' sums (None: there are none)."""
        if self.first >= self.live.since:
            return None
        return (self.workspace_sid, kind, scope, tuple(sorted(sids)), self.channel,
                self.first, self.live.since)

    def _closed(self, kind: str, scope: str, sids: Collection[str]) -> Any:
        """The closed minutes' sums (None if none; the key was missed if not kept)."""
        key = self._key(kind, scope, sids)
        if key is None:
            return None
        found = self.recent._closed.get(key, self.live.generation)
        if found is None:
            self.complete = False
            if len(sids) <= CACHED_SIDS:
                self.missing.append(key)
        return found

    def _usable(self) -> bool:
        """Still the state the reader began with (and every part was found so far)."""
        if self.live.version != self.version \
                or self.recent._live.get(self.workspace_sid) is not self.live:
            self.changed = True
        if self.changed or not self._edge_kept:
            self.complete = False
        return self.complete

    def figures(self, scope: str, sids: Collection[str]) -> Sums:
        found: Sums = {sid: {} for sid in sids}
        if not sids:
            return found
        with self.recent._lock:
            closed = self._closed(FIGURES, scope, sids)
            if not self._usable():
                return found
            if closed is not None:
                for sid, figures in closed.items():
                    found[sid] = dict(figures)
            channel, first = self.channel, self.first
            for start, minute in self.live.minutes.items():
                if start < first:
                    continue
                for sid in sids:
                    rows = minute.figures.get((scope, sid))
                    if not rows:
                        continue
                    mine = found[sid]
                    for (figure, of), (count, total, least, most) in rows.items():
                        if channel is None or of == channel:
                            mine[figure] = mine.get(figure, Summary()).merge(
                                Summary(count, total, least, most))
            for sid in sids:
                mine = found[sid]
                for (figure, of), run in self._runs(scope, sid):
                    if channel is None or of == channel:
                        part = run.summary(self._lo, self._hi)
                        if part is not None:
                            mine[figure] = mine.get(figure, Summary()).merge(part)
        return found

    def split(self, scope: str, sid: str) -> tuple[Histogram, Histogram]:
        counts: Waits = {CANCELED: Counter(), ACCEPTED: Counter()}
        with self.recent._lock:
            closed = self._closed(WAITS, scope, (sid,))
            if not self._usable():
                return (), ()
            if closed is not None:
                for figure, seconds in closed.items():
                    counts[figure].update(seconds)
            channel, first = self.channel, self.first
            for start, minute in self.live.minutes.items():
                if start < first:
                    continue
                for (figure, of, second), count in minute.waits.get((scope, sid), {}).items():
                    if channel is None or of == channel:
                        counts[figure][second] += count
            for (figure, of), run in self._runs(scope, sid):
                if figure in SPLIT_FIGURES and (channel is None or of == channel):
                    i, j = run.span(self._lo, self._hi)
                    for wait in run.waits[i:j]:
                        counts[figure][wait_second(wait)] += 1
        return histograms(counts)


def _dates(events: Sequence[Any]) -> dict[str, tuple[int, int]]:
    """Per workspace: the earliest and the newest date of the events."""
    found: dict[str, tuple[int, int]] = {}
    for event in events:
        date = event.event_date
        had = found.get(event.workspace_sid)
        if had is None:
            found[event.workspace_sid] = (date, date)
        elif date < had[0] or date > had[1]:
            found[event.workspace_sid] = (min(date, had[0]), max(date, had[1]))
    return found
