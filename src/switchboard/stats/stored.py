"""Cumulative figures of a window, read from the store: whole minutes, hours and days from the
rollups, the edges from the events.

A window ``[start, end]`` (both inclusive, to the millisecond) is cut into the part before its
first whole minute, its whole minutes, and the part after its last whole minute. The whole
minutes are tiled with the fewest minutes, hours and days (``periods``) and read as sums of
``stat_rollups`` / ``stat_waits`` rows (``rollups.py``): a 30-day window reads at most 29 days,
46 hours and 118 minutes. The two edges, less than a minute each, are folded from the events
themselves (the ``(workspace_sid, event_date)`` index finds them). When no event is later than
``end`` — the usual "the last N minutes" window — every period from the first whole minute on
is all before ``end`` and is read from its rollup rows, so only the first edge reads events.
Counts, totals, minimums and maximums merge exactly, and so do histograms by whole second, so
every figure equals the one folded from the window's events one by one (the tests compare
both). Nothing of the history is kept in memory (``recent.py`` keeps the live minutes' sums
and answers windows reaching to now from them when it can).

All reads of one request are one snapshot of the store (a transaction), so rollups and events
agree with each other.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence, Set
from contextlib import contextmanager
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    func,
    select,
    union_all,
)

from switchboard.stats.cumulative import (
    ACCEPTED,
    CANCELED,
    RESERVATION_FIGURES,
    SPLIT_FIGURES,
    WORKER,
    WORKSPACE,
    Histogram,
    occurrences,
)
from switchboard.stats.queries import records_between
from switchboard.stats.records import EventRecord
from switchboard.stats.rollups import MINUTE_MS, SPANS, wait_second
from switchboard.stats.series import Summary
from switchboard.stats.window import Window
from switchboard.store import tables

_date = attrgetter("event_date")
MANY = 500  # SIDs beyond which rows are filtered here rather than by an IN (...) list
LATER_MOST = 1_000  # events after a window's end beyond which its last part-minute is read
_r = tables.stat_rollups
_w = tables.stat_waits
_e = tables.events
Range = tuple[int, int, int | None]  # (span, first period start, end of the last; None: all)


def round_up(time: int, span: int) -> int:
    return -(-time // span) * span


def _down(time: int, span: int) -> int:
    return time // span * span


def periods(first: int, end: int | None) -> list[Range]:
    """The fewest minutes, hours and days (``(span, from, to)`` ranges of period starts) that
    tile ``[first, end)`` (both whole minutes; ``end`` None: no end): smaller periods up to the
    first whole larger one, the larger ones, smaller ones again after the last."""
    found: list[Range] = []
    level = 0
    while level + 1 < len(SPANS):  # climbing: while a whole larger period fits
        larger = SPANS[level + 1]
        edge = round_up(first, larger)
        if end is not None and edge + larger > end:
            break
        if first < edge:
            found.append((SPANS[level], first, edge))
        first = edge
        level += 1
    if end is None:
        found.append((SPANS[level], first, None))
        return found
    for span in SPANS[level::-1]:  # descending
        last = _down(end, span)
        if first < last:
            found.append((span, first, last))
            first = last
    return found


class Cut:
    """How a window is read: events in ``edges`` (half-open ranges), rollups in ``ranges``,
    less the events in ``later`` (a half-open range, or None)."""

    def __init__(self, window: Window, newest: int | None, subtract: bool = False) -> None:
        start, end = window.start, window.end
        first_full = round_up(start, MINUTE_MS)
        after_last = _down(end + 1, MINUTE_MS)
        self.edges: list[tuple[int, int]] = []
        self.ranges: list[Range] = []
        self.later: tuple[int, int] | None = None
        if newest is None or newest <= end:
            # Nothing after the window's end: every period from the first whole minute is in it.
            if start < first_full:
                self.edges.append((start, min(first_full, end + 1)))
            self.ranges = periods(first_full, None)
        elif first_full < after_last:
            if start < first_full:
                self.edges.append((start, first_full))
            if subtract and after_last <= end:
                # The last minute's rollups less its few events after the end, rather than
                # its many events up to the end (a busy minute still being written).
                self.ranges = periods(first_full, after_last + MINUTE_MS)
                self.later = (end + 1, after_last + MINUTE_MS)
            else:
                if after_last <= end:
                    self.edges.append((after_last, end + 1))
                self.ranges = periods(first_full, after_last)
        else:
            self.edges.append((start, end + 1))


class EdgeMinutes:
    """The counted events of a few whole minutes, by workspace, kept for the next requests'
    edges (a dashboard polling "the last 15 minutes" reads the same first minute for a
    minute). Only minutes that are over are kept — ended no later than the newest stored event:
    events are dated by the clock as they are committed, so none can join such a minute unless
    the clock steps back, and ``heard`` (told the earliest date of each commit) then drops the
    minutes it reopened. Bounded: the ``size`` most recently used minutes, each of at most
    ``most`` events."""

    def __init__(self, size: int = 32, most: int = 5_000) -> None:
        self.size = size
        self.most = most
        self._minutes: OrderedDict[tuple[str, int], list[EventRecord]] = OrderedDict()
        self._latest: dict[str, int] = {}  # per workspace: the end of its latest minute kept
        self._lock = threading.Lock()  # requests read on worker threads

    def get(self, workspace_sid: str, minute: int) -> list[EventRecord] | None:
        with self._lock:
            found = self._minutes.get((workspace_sid, minute))
            if found is not None:
                self._minutes.move_to_end((workspace_sid, minute))
            return found

    def put(self, workspace_sid: str, minute: int, records: list[EventRecord]) -> None:
        if len(records) > self.most:
            return
        with self._lock:
            self._minutes[(workspace_sid, minute)] = records
            self._latest[workspace_sid] = max(self._latest.get(workspace_sid, 0),
                                              minute + MINUTE_MS)
            while len(self._minutes) > self.size:
                (gone, _), _ = self._minutes.popitem(last=False)
                if not any(k[0] == gone for k in self._minutes):
                    self._latest.pop(gone, None)

    def heard(self, workspace_sid: str, earliest: int) -> None:
        """Events dated from ``earliest`` on were committed: minutes ending after it reopened."""
        if earliest < self._latest.get(workspace_sid, earliest):
            self.forget(workspace_sid)

    def forget(self, workspace_sid: str) -> None:
        with self._lock:
            for key in [k for k in self._minutes if k[0] == workspace_sid]:
                del self._minutes[key]
            self._latest.pop(workspace_sid, None)


Sums = dict[str, dict[str, Summary]]  # per SID: each figure's occurrences
Waits = dict[str, Counter[int]]  # per split figure: how many waits by whole second


def _where(table: Table, workspace_sid: str, scope: str, sids: Collection[str],
           channel: str | None) -> list[ColumnElement[bool]]:
    c = table.c
    where = [c.workspace_sid == workspace_sid, c.scope == scope]
    if len(sids) <= MANY:
        where.append(c.scope_sid.in_(sorted(sids)) if len(sids) > 1
                     else c.scope_sid == next(iter(sids)))
    if channel is not None:
        where.append(c.channel == channel)
    return where


def _each(table: Table, ranges: Sequence[Range]) -> list[ColumnElement[bool]]:
    """A condition per range: each a run of the key, once the scope's SID is fixed (one OR of
    them all would read every period of the scope)."""
    c = table.c
    return [and_(c.span == span, c.period_start >= lo,
                 *(() if hi is None else (c.period_start < hi,)))
            for span, lo, hi in ranges]


def _summed(conn: Connection, table: Table, where: list[ColumnElement[bool]],
            ranges: Sequence[Range], keys: tuple[str, ...],
            sums: tuple[tuple[Callable[[Any], Any], str], ...]) -> Sequence[Any]:
    """The rows matching ``where`` in ``ranges``' periods, aggregated by ``keys`` (each
    ``(function, column)`` of ``sums``): one query, a UNION ALL branch per range (each reads
    its rows by key), aggregated by the database, so a long window or a page of queues costs
    one round trip and a row per key, not a row per period."""
    c = table.c
    branches = [select(*(c[k] for k in keys), *(c[name] for _, name in sums))
                .where(*where, period) for period in _each(table, ranges)]
    if not branches:
        return []
    rows = (union_all(*branches) if len(branches) > 1 else branches[0]).subquery()
    return conn.execute(
        select(*(rows.c[k] for k in keys), *(f(rows.c[name]) for f, name in sums))
        .group_by(*(rows.c[k] for k in keys))).all()


def rollup_figures(conn: Connection, workspace_sid: str, scope: str, sids: Collection[str],
                   channel: str | None, ranges: Sequence[Range]) -> Sums:
    """Per SID of the scope: each figure's occurrences in the rollups of ``ranges``."""
    found: Sums = {sid: {} for sid in sids}
    if not sids:
        return found
    rows = _summed(conn, _r, _where(_r, workspace_sid, scope, sids, channel), ranges,
                   ("scope_sid", "figure"), ((func.sum, "count"), (func.sum, "total"),
                                             (func.min, "minimum"), (func.max, "maximum")))
    for sid, figure, count, total, least, most in rows:
        mine = found.get(sid)
        if mine is not None:
            mine[figure] = Summary(int(count), int(total), int(least), int(most))
    return found


def rollup_waits(conn: Connection, workspace_sid: str, scope: str, sid: str,
                 channel: str | None, ranges: Sequence[Range]) -> Waits:
    """The canceled and accepted waits of one SID in the rollups of ``ranges``."""
    counts: Waits = {CANCELED: Counter(), ACCEPTED: Counter()}
    where = [*_where(_w, workspace_sid, scope, (sid,), channel),
             _w.c.figure.in_(sorted(SPLIT_FIGURES))]
    for figure, second, count in _summed(conn, _w, where, ranges, ("figure", "second"),
                                         ((func.sum, "count"),)):
        counts[figure][int(second)] += int(count)
    return counts


def fold_figures(found: Sums, records: Iterable[EventRecord], scope: str) -> None:
    """Add the occurrences of ``records`` in the scope to the SIDs of ``found``."""
    added: dict[tuple[str, str], list[int]] = {}  # (sid, figure) -> count, total, min, max
    for record in records:
        for kind, sid, figure, wait in occurrences(record):
            if kind == scope and sid in found:
                sums = added.get((sid, figure))
                if sums is None:
                    added[(sid, figure)] = [1, wait, wait, wait]
                else:
                    sums[0] += 1
                    sums[1] += wait
                    sums[2] = min(sums[2], wait)
                    sums[3] = max(sums[3], wait)
    for (sid, figure), (count, total, least, most) in added.items():
        mine = found[sid]
        mine[figure] = mine.get(figure, Summary()).merge(Summary(count, total, least, most))


def fold_waits(counts: Waits, records: Iterable[EventRecord], scope: str, sid: str,
               sign: int = 1) -> None:
    for record in records:
        for kind, of, figure, wait in occurrences(record):
            if kind == scope and of == sid and figure in SPLIT_FIGURES:
                counts[figure][wait_second(wait)] += sign


def histograms(counts: Waits) -> tuple[Histogram, Histogram]:
    """(canceled, accepted), sorted by second, without empty seconds."""
    canceled, accepted = (sorted((second, n) for second, n in counts[f].items() if n)
                          for f in (CANCELED, ACCEPTED))
    return canceled, accepted


class WindowReader:
    """One request's reads of one workspace's window: what the statistics resources ask."""

    def figures(self, scope: str, sids: Collection[str]) -> Sums:
        """Per SID of the scope: each figure's occurrences in the window."""
        raise NotImplementedError

    def split(self, scope: str, sid: str) -> tuple[Histogram, Histogram]:
        """Histograms of the canceled and accepted waits (whole seconds, rounded up)."""
        raise NotImplementedError

    def reservations(self, only: Set[str] | None) -> dict[str, int]:
        """Reservations by outcome of every worker (None) or of some."""
        if only is None:
            return {figure: s.count for figure, s in self.figures(WORKSPACE, ("",))[""].items()
                    if figure in RESERVATION_FIGURES}
        totals: Counter[str] = Counter()
        for figures in self.figures(WORKER, only).values():
            for figure, summary in figures.items():
                totals[figure] += summary.count
        return dict(totals)


class Reader(WindowReader):
    """One request's reads of one workspace, in one snapshot of the store."""

    def __init__(self, conn: Connection, workspace_sid: str, window: Window,
                 channel: str | None, minutes: EdgeMinutes | None = None) -> None:
        self.conn = conn
        self.workspace_sid = workspace_sid
        self.window = window
        self.channel = channel
        newest = conn.execute(select(func.max(_e.c.event_date)).where(
            _e.c.workspace_sid == workspace_sid)).scalar()
        self.newest = None if newest is None else int(newest)
        self.cut = Cut(window, self.newest)
        self._later: list[EventRecord] = []
        if self.newest is not None and self.newest > window.end:
            # Committed after the window's end (the request's "now"): usually a handful.
            lo = window.end + 1
            later = records_between(conn, workspace_sid, lo, round_up(lo, MINUTE_MS),
                                    LATER_MOST + 1)
            if len(later) <= LATER_MOST:
                self.cut = Cut(window, self.newest, subtract=True)
                if self.cut.later is not None:
                    self._later = [r for r in later
                                   if channel is None or r.task_channel == channel]
        self._minutes = minutes
        self._edge_records: list[EventRecord] | None = None

    def _unsubtract(self) -> None:
        """Read the last part-minute from its events after all (see ``figures``)."""
        self.cut = Cut(self.window, self.newest)
        self._later = []
        self._edge_records = None

    def _edges(self) -> list[EventRecord]:
        if self._edge_records is None:
            found: list[EventRecord] = []
            for lo, hi in self.cut.edges:
                while lo < hi:  # minute by minute
                    minute = _down(lo, MINUTE_MS)
                    upto = min(hi, minute + MINUTE_MS)
                    found.extend(self._part(minute, lo, upto))
                    lo = upto
            if self.channel is not None:
                found = [r for r in found if r.task_channel == self.channel]
            self._edge_records = found
        return self._edge_records

    def _part(self, minute: int, lo: int, hi: int) -> Sequence[EventRecord]:
        """The counted events with ``lo <= event_date < hi``, all in ``minute``."""
        cache, ws = self._minutes, self.workspace_sid
        if cache is None or self.newest is None or minute + MINUTE_MS > self.newest:
            return records_between(self.conn, ws, lo, hi)
        records = cache.get(ws, minute)
        if records is None:
            records = records_between(self.conn, ws, minute, minute + MINUTE_MS)
            records.sort(key=_date)
            cache.put(ws, minute, records)
        return within(records, lo, hi)

    def figures(self, scope: str, sids: Collection[str]) -> Sums:
        if not sids:
            return {}
        found = rollup_figures(self.conn, self.workspace_sid, scope, sids, self.channel,
                               self.cut.ranges)
        fold_figures(found, self._edges(), scope)
        for record in self._later:
            for kind, sid, figure, wait in occurrences(record):
                mine = found.get(sid) if kind == scope else None
                if mine is None:
                    continue
                had = mine.get(figure)
                # Taking a value out keeps the least and the greatest only if it is neither
                # (or all values are equal); otherwise the events are read after all.
                if had is None or not (had.minimum < wait < had.maximum
                                       or had.minimum == had.maximum):
                    self._unsubtract()
                    return self.figures(scope, sids)
                if had.count == 1:
                    del mine[figure]
                else:
                    mine[figure] = Summary(had.count - 1, had.total - wait, had.minimum,
                                           had.maximum)
        return found

    def split(self, scope: str, sid: str) -> tuple[Histogram, Histogram]:
        counts = rollup_waits(self.conn, self.workspace_sid, scope, sid, self.channel,
                              self.cut.ranges)
        fold_waits(counts, self._edges(), scope, sid)
        fold_waits(counts, self._later, scope, sid, -1)
        return histograms(counts)


def within(records: Sequence[EventRecord], lo: int, hi: int) -> Sequence[EventRecord]:
    """The records (sorted by date) with ``lo <= event_date < hi``."""
    dates = [r.event_date for r in records]
    return records[bisect_left(dates, lo):bisect_left(dates, hi)]


@contextmanager
def reading(engine: Engine, workspace_sid: str, window: Window, channel: str | None,
            minutes: EdgeMinutes | None = None) -> Iterator[Reader]:
    """A ``Reader`` over one snapshot: a repeatable-read transaction on PostgreSQL, a deferred
    one (``BEGIN``: the snapshot is taken at the first read) on SQLite."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        else:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        try:
            yield Reader(conn, workspace_sid, window, channel, minutes)
        finally:
            conn.rollback()


def brute_force(records: Sequence[EventRecord], scope: str, sid: str, window: Window,
                channel: str | None) -> dict[str, Summary]:
    """The figures of a window folded from its events one by one (for tests)."""
    found: dict[str, Summary] = {}
    for record in records:
        if not window.start <= record.event_date <= window.end:
            continue
        if channel is not None and record.task_channel != channel:
            continue
        for where, found_sid, figure, wait in occurrences(record):
            if where == scope and found_sid == sid:
                found[figure] = found.get(figure, Summary()).merge(Summary(1, wait, wait, wait))
    return found
