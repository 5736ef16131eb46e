"""SQLite's group commit on the event loop: the changes of the commands a few turns of the
loop ran are written and committed by the loop itself, in one transaction.

Why not the writer thread, as for PostgreSQL: under load, a thread's commit round trip was
most of a request's time. It waited for the GIL (held by the loop answering the last batch)
before each batch, for a core to run on (two busy processes on two cores), and again to hand
the batch back; the loop meanwhile had nothing to do. Side by side over HTTP on 2 cores, with
the loop's own commits the server created 0.53x the bare endpoint's rate of pending tasks
against 0.41x, and routed 0.40x against 0.31x (``benchmarks/http_tasks.py``, tenth pass).
What the loop gives up is the commit's wait for the disk (the GIL is released meanwhile):
under a millisecond on a local disk, once a batch; on a disk slow to sync, batches grow.

The writer thread stays for everything else (``Store.submit``: accounts, retention, callback
cursors; PostgreSQL's commits; a workspace's fenced commits) and for the WAL's checkpoints,
which copy pages into the database file off the loop. One write transaction runs at a time,
under ``lock``: the writer thread waits for it, the loop never does (it tries again once the
writer lets go).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from switchboard.routing.changes import Changes
from switchboard.stats.rollups import ExecuteMany, Rollup

log = logging.getLogger(__name__)
# A checkpoint is asked of the writer thread after this many commits: about SQLite's own
# auto-checkpoint of 1,000 pages at a few dozen pages a commit.
CHECKPOINT_EVERY = 32
# Turns of the loop a commit waits for, after the first command's, for the commands of requests
# already read to join it. Under load a request takes a few turns from its bytes to its command;
# waiting two turns made batches of 17 creations rather than 10 at 32 clients, and the rate rose
# a tenth (less of a commit's fixed cost, its fsync's above all, on each). Idle, a turn is a few
# microseconds.
FLUSH_AFTER_TURNS = 2

Pending = tuple[Changes, "asyncio.Future[None]"]


class LoopCommits:
    """Changes waiting for their turn of the loop, and their commit."""

    def __init__(self, connection: sqlite3.Connection, lock: threading.Lock, *,
                 write: Callable[[ExecuteMany, Changes], Rollup | None],
                 committed: Callable[[Changes, Rollup | None, float, int], None],
                 checkpoint: Callable[[], None], error: Callable[[], Exception]) -> None:
        self._connection = connection
        self._lock = lock
        self._write = write  # the statements of some changes, through the given executemany
        self._committed = committed  # told of each batch once it is committed
        self._checkpoint = checkpoint  # asks the writer thread for a WAL checkpoint
        self._error = error  # what a caller whose changes were not stored gets
        self._pending: list[Pending] = []
        self._scheduled = False
        # Set by a flush that found the writer thread in a transaction: it calls ``wake``
        # once it lets go, on this loop.
        self._blocked: asyncio.AbstractEventLoop | None = None
        self._commits = 0

    def add(self, changes: Changes, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((changes, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush, loop, FLUSH_AFTER_TURNS)
        return future

    def wake(self) -> None:
        """The writer thread, having let go of the lock: flush what waited for it."""
        loop, self._blocked = self._blocked, None
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
                loop.call_soon_threadsafe(self._flush, loop)

    def _flush(self, loop: asyncio.AbstractEventLoop, turns: int = 0) -> None:
        if turns:
            loop.call_soon(self._flush, loop, turns - 1)
            return
        self._scheduled = False
        if not self._pending:
            return
        if not self._lock.acquire(blocking=False):
            self._blocked = loop
            # Again: the writer may have let go before it could see ``_blocked``.
            if not self._lock.acquire(blocking=False):
                return
            self._blocked = None
        try:
            batch, self._pending = self._pending, []
            self._commit(batch)
        finally:
            self._lock.release()

    def _commit(self, batch: list[Pending]) -> None:
        started = time.perf_counter()
        if len(batch) == 1:
            merged = batch[0][0]
        else:
            merged = Changes()
            for changes, _ in batch:
                merged.absorb(changes)
        connection = self._connection
        try:
            rollup = None
            if merged:  # else only ``settled`` markers: nothing to write
                connection.execute("BEGIN IMMEDIATE")
                rollup = self._write(connection.executemany, merged)
                connection.commit()
        except Exception:
            with contextlib.suppress(sqlite3.Error):  # (no transaction is left open)
                connection.rollback()
            if len(batch) > 1:  # find the faulty changes: commit each alone
                for item in batch:
                    self._commit([item])
                return
            log.exception("store write failed")
            future = batch[0][1]
            if not future.done():
                future.set_exception(self._error())
            return
        if merged:
            self._committed(merged, rollup, time.perf_counter() - started, len(batch))
            self._commits += 1
            if self._commits % CHECKPOINT_EVERY == 0:
                self._checkpoint()
        for _, future in batch:
            if not future.done():  # its caller may have stopped waiting; the write stands
                future.set_result(None)

