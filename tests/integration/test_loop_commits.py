"""SQLite's group commit on the event loop (``store/loop_commits.py``): one transaction for
the commands of a turn of the loop, committed on the loop's thread; a faulty change fails
alone; the loop never waits for the writer thread's transaction; WAL checkpoints happen on
the writer thread; ``settled`` waits for what the loop has not committed yet."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from switchboard.routing.changes import Changes
from switchboard.service.runtime import Runtime, ServiceUnavailable
from switchboard.stats.rollups import ExecuteMany, Rollup
from switchboard.store import tables
from switchboard.store.database import Store, sqlite_url
from switchboard.store.loop_commits import CHECKPOINT_EVERY
from tests.conftest import ACCOUNT_SID, make_runtime
from tests.integration.test_store import build_workspace


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    runtime = make_runtime(sqlite_url(tmp_path))
    yield runtime
    runtime.stop()


class Watched:
    """Who committed what: the batches (thread, writes in it) the store reports."""

    def __init__(self, store: Store) -> None:
        self.batches: list[tuple[str, int]] = []
        store.on_batch = lambda seconds, writes: self.batches.append(
            (threading.current_thread().name, writes))


def worker_names(runtime: Runtime, workspace_sid: str) -> set[str]:
    rows = runtime.store.rows(tables.workers, tables.workers.c.workspace_sid == workspace_sid)
    return {row["friendly_name"] for row in rows}


async def create_workers(runtime: Runtime, workspace_sid: str, names: Sequence[str]
                         ) -> list[Any]:
    return await asyncio.gather(*(runtime.run(ACCOUNT_SID, workspace_sid, lambda e, now, n=n: (
        e.create_worker(n, now, activity_sid=None, attributes=None))) for n in names),
        return_exceptions=True)


def test_the_commands_of_one_turn_are_one_transaction_committed_by_the_loop(
        runtime: Runtime) -> None:
    sid = build_workspace(runtime)
    watched = Watched(runtime.store)
    names = [f"w{i}" for i in range(20)]
    asyncio.run(create_workers(runtime, sid, names))
    assert watched.batches == [("MainThread", 20)]
    assert set(names) <= worker_names(runtime, sid)


def test_a_command_of_the_next_turn_joins_the_commit(runtime: Runtime) -> None:
    """The commit waits a few turns of the loop: under load a request read in this turn runs
    its command in a later one."""
    sid = build_workspace(runtime)
    watched = Watched(runtime.store)

    async def scenario() -> None:
        first = asyncio.ensure_future(create_workers(runtime, sid, ["first"]))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        second = asyncio.ensure_future(create_workers(runtime, sid, ["second"]))
        await asyncio.gather(first, second)

    asyncio.run(scenario())
    assert watched.batches == [("MainThread", 2)]


def test_a_faulty_change_fails_alone_and_the_others_of_its_batch_are_stored(
        runtime: Runtime) -> None:
    sid = build_workspace(runtime)
    store = runtime.store
    original = store.apply_changes

    def faulty(execute: ExecuteMany, changes: Changes) -> Rollup | None:
        if any(str(changes.row(key).get("friendly_name")) == "poison"
               for key in changes.upserts):
            raise RuntimeError("the disk refused this row")
        return original(execute, changes)

    store.apply_changes = faulty  # type: ignore[method-assign]
    answers = asyncio.run(create_workers(runtime, sid, ["a", "poison", "b"]))
    store.apply_changes = original  # type: ignore[method-assign]
    assert isinstance(answers[1], ServiceUnavailable)
    assert not isinstance(answers[0], Exception) and not isinstance(answers[2], Exception)
    names = worker_names(runtime, sid)
    assert {"a", "b"} <= names and "poison" not in names


def test_the_loop_does_not_wait_for_the_writer_threads_transaction(runtime: Runtime) -> None:
    """While a write of the writer thread holds the transaction, the loop keeps running and
    its changes wait; they are committed as soon as the writer lets go."""
    sid = build_workspace(runtime)
    entered, release = threading.Event(), threading.Event()

    def slow(conn: Any) -> None:
        entered.set()
        release.wait(timeout=30)

    async def scenario() -> None:
        slow_write = runtime.store.submit(slow)
        await asyncio.to_thread(entered.wait, 30)
        command = asyncio.ensure_future(create_workers(runtime, sid, ["late"]))
        for _ in range(50):  # the loop turns: nothing blocks it
            await asyncio.sleep(0)
        assert not command.done()
        assert "late" not in worker_names(runtime, sid)
        release.set()
        await asyncio.wrap_future(slow_write)
        answers = await asyncio.wait_for(command, timeout=30)
        assert not isinstance(answers[0], Exception)

    asyncio.run(scenario())
    assert "late" in worker_names(runtime, sid)


def test_settled_waits_for_the_changes_the_loop_has_not_committed_yet(runtime: Runtime
                                                                       ) -> None:
    sid = build_workspace(runtime)

    async def scenario() -> None:
        command = asyncio.ensure_future(create_workers(runtime, sid, ["soon"]))
        await asyncio.sleep(0)  # the command ran; its commit waits for the end of the turn
        assert "soon" not in worker_names(runtime, sid)
        await runtime.store.settled()
        assert "soon" in worker_names(runtime, sid)
        await command

    asyncio.run(scenario())


def test_checkpoints_run_on_the_writer_thread_every_so_many_commits(runtime: Runtime
                                                                    ) -> None:
    store = runtime.store
    sid = build_workspace(runtime)
    commits = store._loop_commits
    assert commits is not None
    checkpoints: list[str] = []
    original = store._checkpoint

    def watched(conn: Any) -> None:
        checkpoints.append(threading.current_thread().name)
        original(conn)

    store._checkpoint = watched  # type: ignore[method-assign]

    names = (f"c{i}" for i in itertools.count())

    async def one_by_one(count: int) -> None:
        for _ in range(count):
            await create_workers(runtime, sid, [next(names)])
        await store.settled()

    asyncio.run(one_by_one(CHECKPOINT_EVERY - 1 - commits._commits % CHECKPOINT_EVERY))
    assert checkpoints == []
    asyncio.run(one_by_one(1))
    assert checkpoints == ["store-writer"]
    # The loop's connection never checkpoints by itself (the writer's does, by SQLite's rule).
    assert commits._connection.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)


def test_the_wal_stays_bounded_while_commits_follow_each_other(runtime: Runtime,
                                                               tmp_path: Path) -> None:
    """Checkpoints run beside the loop's commits; one of them overtaken by commits would
    leave frames behind, and the WAL could never start over."""
    sid = build_workspace(runtime)
    wal = tmp_path / "switchboard.db-wal"
    names = (f"n{i}" for i in itertools.count())

    async def back_to_back(count: int) -> None:
        for _ in range(count):
            await create_workers(runtime, sid, [next(names)])
        await runtime.store.settled()

    asyncio.run(back_to_back(2 * CHECKPOINT_EVERY))
    after_two_rounds = wal.stat().st_size
    asyncio.run(back_to_back(20 * CHECKPOINT_EVERY))
    assert wal.stat().st_size <= 2 * after_two_rounds
