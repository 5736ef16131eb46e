"""What recent reservations say: accepts per worker over the last 24 hours, and handle times
per queue. Both serve extensions (docs/extensions.md): the ``fewest_accepted`` selection
strategy and the wait-time estimates.

Both are kept as reservations are accepted and completed (O(1) each, amortised) and are
rebuilt after a restart from the stored events of the last 24 hours (``replay_accepts``,
``handle_samples``): the events are the one history, nothing else is stored for them.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Collection, Iterable

ACCEPT_WINDOW_MS = 86_400_000  # fewest_accepted counts the accepts of the last 24 hours
HANDLE_SAMPLES = 200  # the handle times an estimate learns from, per queue: the latest ones
# The stored events a rebuild learns from (the runtime reads them from the store).
ACCEPTED = "reservation.accepted"
HANDLED = ("reservation.created", "reservation.completed")


class AcceptCounts:
    """Reservations accepted per worker within a sliding 24-hour window on the engine's clock.

    The workspace's accepts in time order (accepts happen in clock order, so the oldest is
    always first) and a count per worker: recording is O(1), and every accept leaves the window
    exactly once, O(1) amortised, when a later call prunes it. The accepts are kept as an array
    of times beside a list of worker SIDs (the worker's own string), 16 bytes an accept rather
    than ~100 as (time, sid) tuples: a busy day holds every accept of the last 24 hours.
    """

    def __init__(self, window_ms: int = ACCEPT_WINDOW_MS) -> None:
        self.window_ms = window_ms
        self._times = array("q")
        self._workers: list[str] = []
        self._first = 0  # the oldest accept still in the window; those before it are spent
        self._counts: dict[str, int] = {}
        # Told (worker sid, old count) after every change of a count: an ordered index kept
        # by the fewest_accepted strategy.
        self.changed: Callable[[str, int], None] | None = None

    def record(self, worker_sid: str, now: int) -> None:
        self._times.append(now)
        self._workers.append(worker_sid)
        counts = self._counts
        old = counts.get(worker_sid, 0)
        counts[worker_sid] = old + 1
        if self.changed is not None:
            self.changed(worker_sid, old)
        if self._times[self._first] <= now - self.window_ms:  # hot path: prune only when due
            self.prune(now)

    def prune(self, now: int) -> None:
        """Forget the accepts older than the window (what ``count`` then leaves out)."""
        times, workers, counts = self._times, self._workers, self._counts
        cutoff = now - self.window_ms
        first, end = self._first, len(times)
        while first < end and times[first] <= cutoff:
            worker_sid = workers[first]
            left = counts[worker_sid] - 1
            if left:
                counts[worker_sid] = left
            else:
                del counts[worker_sid]
            if self.changed is not None:
                self.changed(worker_sid, left + 1)
            first += 1
        if first > 1024 and first * 2 > end:  # spent accepts are most: drop them, amortised O(1)
            del times[:first]
            del workers[:first]
            first = 0
        self._first = first

    def count(self, worker_sid: str) -> int:
        """Accepts within the window as of the last ``prune``."""
        return self._counts.get(worker_sid, 0)


class HandleTimes:
    """How long a reservation of each queue holds its worker's capacity: from the reservation
    being created to its completion (offer, talk and wrap-up), for reservations completed
    after an accept. The latest ``HANDLE_SAMPLES`` per queue."""

    def __init__(self, samples: int = HANDLE_SAMPLES) -> None:
        self.samples = samples
        self._times: dict[str, deque[int]] = {}  # bounded: the oldest fall out
        self._sorted: dict[str, list[int]] = {}  # cache: the samples in order
        self.version = 0  # samples recorded, ever: what the estimates' cache keys on

    def record(self, queue_sid: str, duration_ms: int) -> None:
        times = self._times.get(queue_sid)
        if times is None:
            times = self._times[queue_sid] = deque(maxlen=self.samples)
        times.append(duration_ms)
        self.version += 1
        if self._sorted:
            self._sorted.pop(queue_sid, None)

    def mean(self, queue_sid: str) -> float | None:
        """The mean handle time in ms; None with no sample."""
        times = self._times.get(queue_sid)
        return sum(times) / len(times) if times else None

    def sorted(self, queue_sid: str) -> list[int]:
        """The queue's samples, shortest first (empty with none); cached until the next."""
        ordered = self._sorted.get(queue_sid)
        if ordered is None:
            ordered = self._sorted[queue_sid] = sorted(self._times.get(queue_sid, ()))
        return ordered

    def residual(self, queue_sid: str, elapsed_ms: int) -> float | None:
        """The expected time left of a reservation held ``elapsed_ms`` so far: the mean of
        ``d - elapsed`` over the samples ``d`` longer than ``elapsed`` (the conditional
        residual). 0 when it has lasted longer than every sample; None with no sample."""
        ordered = self.sorted(queue_sid)
        if not ordered:
            return None
        longer = ordered[bisect_right(ordered, elapsed_ms):]
        return sum(longer) / len(longer) - elapsed_ms if longer else 0.0


def replay_accepts(accepted: Iterable[tuple[int, str]], accepts: AcceptCounts,
                   now: int) -> None:
    """Rebuild the counts from stored ``reservation.accepted`` events of the last 24 hours:
    (date, worker sid), in log order."""
    for date, worker_sid in accepted:
        accepts.record(worker_sid, date)
    accepts.prune(now)


def handle_samples(newest_first: Iterable[tuple[str, int, str | None, str | None]],
                   queue_sids: Collection[str], samples: int = HANDLE_SAMPLES
                   ) -> dict[str, list[int]]:
    """Handle times from stored events, per queue, oldest first: ``newest_first`` gives
    (type, date, reservation sid, queue sid) of ``HANDLED`` events, newest first. Reading
    stops as soon as every queue of ``queue_sids`` has ``samples`` (a busy workspace needs
    only its last few minutes of events)."""
    found: dict[str, list[int]] = {}
    if not queue_sids:
        return found
    completed: dict[str, tuple[str, int]] = {}  # reservation sid -> (queue sid, when)
    full = 0
    for event_type, date, reservation_sid, queue_sid in newest_first:
        if reservation_sid is None:
            continue
        if event_type == "reservation.completed":
            if queue_sid is not None and len(found.get(queue_sid, ())) < samples:
                completed[reservation_sid] = (queue_sid, date)
            continue
        entry = completed.pop(reservation_sid, None)  # its creation: the duration is known
        if entry is None:
            continue
        queue_sid, done = entry
        durations = found.setdefault(queue_sid, [])
        if len(durations) < samples:
            durations.append(done - date)
            if len(durations) == samples and queue_sid in queue_sids:
                full += 1
                if full == len(queue_sids):
                    break
    return {queue_sid: durations[::-1] for queue_sid, durations in found.items()}
