"""Ownership in process, on the PostgreSQL server: fencing, hand-over and placement, with no
server processes and no waiting for leases to run out (a frozen node's session is waited for,
a fraction of a second)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from switchboard.cluster import directory
from switchboard.cluster.node import ClusterConfig, ClusterNode
from switchboard.cluster.placement import desired_owner
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.sids import new_sid
from switchboard.service.clock import SystemClock
from switchboard.service.runtime import NotHere, Runtime
from switchboard.store import tables
from switchboard.store.database import Store
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN

pytestmark = pytest.mark.postgres


@pytest.fixture
async def nodes(cluster_db: str) -> AsyncIterator[tuple[ClusterNode, ClusterNode]]:
    made = []
    for name in ("a", "b"):
        runtime = Runtime(Store(cluster_db), SystemClock(), sids=new_sid, clustered=True)
        runtime.start()
        if ACCOUNT_SID not in runtime.accounts.accounts:
            runtime.accounts.create_account(0, sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
        made.append(ClusterNode(runtime, ClusterConfig(name, f"http://{name}",
                                                       lease_seconds=60)))
    yield made[0], made[1]
    for node in made:
        node.runtime.stop()


async def create_workspace(runtime: Runtime) -> str:
    def build(now: int) -> WorkspaceEngine:
        return WorkspaceEngine.create(account_sid=ACCOUNT_SID, friendly_name="w", now=now,
                                      template="FIFO", sids=runtime.sids)

    return await runtime.create_workspace(build, lambda e: e.workspace.sid)


def add_worker(name: str) -> Any:
    return lambda engine, now: engine.create_worker(name, now, activity_sid=None,
                                                    attributes=json.dumps({"n": name}))


def expire(runtime: Runtime, sid: str) -> None:
    """What a pause past the lease looks like to the others: the lease has run out."""
    with runtime.store.engine.begin() as conn:
        conn.execute(text("UPDATE workspace_leases SET expires_at = 0 "
                          "WHERE workspace_sid = :sid"), {"sid": sid})


def stored_workers(runtime: Runtime, sid: str) -> set[str]:
    workers = tables.workers
    with runtime.store.engine.connect() as conn:
        return {r.friendly_name for r in conn.execute(
            select(workers.c.friendly_name).where(workers.c.workspace_sid == sid))}


async def test_the_creating_node_owns_a_new_workspace(nodes: tuple[ClusterNode, ClusterNode]
                                                      ) -> None:
    a, _ = nodes
    sid = await create_workspace(a.runtime)
    with a.runtime.store.engine.connect() as conn:
        lease = directory.lease_of(conn, sid)
    assert lease is not None and lease.owner == "a" and lease.epoch == 1
    assert a.runtime.epochs[sid] == 1


async def test_a_node_whose_lease_was_taken_cannot_commit(
        nodes: tuple[ClusterNode, ClusterNode]) -> None:
    a, b = nodes
    sid = await create_workspace(a.runtime)
    await a.runtime.run(ACCOUNT_SID, sid, add_worker("before"))
    expire(a.runtime, sid)
    await b.take(sid)
    assert b.runtime.epochs[sid] == 2
    assert {w.friendly_name for w in b.runtime.engines[sid].workers.values()} == {"before"}

    # a was paused and does not know: its command runs in its memory, its commit is refused.
    with pytest.raises(NotHere):
        await a.runtime.run(ACCOUNT_SID, sid, add_worker("stale"))
    assert sid not in a.runtime.engines
    assert stored_workers(a.runtime, sid) == {"before"}
    # The new owner goes on, with event sequence numbers that follow the stored ones.
    await b.runtime.run(ACCOUNT_SID, sid, add_worker("after"))
    assert stored_workers(b.runtime, sid) == {"before", "after"}
    events = tables.events
    with b.runtime.store.engine.connect() as conn:
        seqs = [r.seq for r in conn.execute(select(events.c.seq).where(
            events.c.workspace_sid == sid).order_by(events.c.seq))]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_a_lease_held_by_a_live_node_is_not_taken(
        nodes: tuple[ClusterNode, ClusterNode]) -> None:
    a, b = nodes
    sid = await create_workspace(a.runtime)
    await b.take(sid)
    assert sid not in b.runtime.engines
    await a.runtime.run(ACCOUNT_SID, sid, add_worker("still mine"))


async def test_hand_over_commits_what_was_queued_then_releases(
        nodes: tuple[ClusterNode, ClusterNode]) -> None:
    a, b = nodes
    sid = await create_workspace(a.runtime)
    await a.runtime.run(ACCOUNT_SID, sid, add_worker("w1"))
    await a.hand_over(sid)
    assert sid not in a.runtime.engines and sid not in a.claimed
    with pytest.raises(NotHere):
        a.runtime.engine(ACCOUNT_SID, sid)
    await b.take(sid)  # no waiting for the lease to run out
    assert b.runtime.epochs[sid] == 2
    assert {w.friendly_name for w in b.runtime.engines[sid].workers.values()} == {"w1"}


async def test_renewal_reports_leases_taken_by_others(
        nodes: tuple[ClusterNode, ClusterNode]) -> None:
    a, b = nodes
    sid = await create_workspace(a.runtime)
    expire(a.runtime, sid)
    await b.take(sid)
    with a.runtime.store.engine.begin() as conn:
        assert directory.renew(conn, "a", dict(a.claimed), 60_000) == {sid}
        assert directory.renew(conn, "b", dict(b.claimed), 60_000) == set()


async def test_a_node_frozen_inside_a_commit_does_not_keep_its_workspaces(
        nodes: tuple[ClusterNode, ClusterNode]) -> None:
    """A node stopped between the start and the end of a commit holds its lease rows locked;
    the database ends its session once it has sat idle for ``idle_ms``, and the take-over that
    was waiting for the rows goes on."""
    a, b = nodes
    sid = await create_workspace(a.runtime)
    expire(a.runtime, sid)
    frozen = a.runtime.store.engine.connect()
    frozen.begin()
    directory.check_fences(frozen, "a", {sid: 1}, idle_ms=300)  # then nothing more
    try:
        await asyncio.wait_for(b.take(sid), timeout=10)
        assert b.runtime.epochs[sid] == 2
        with pytest.raises(DBAPIError):  # a's session was ended: its commit cannot happen
            frozen.execute(text("SELECT 1"))
    finally:
        frozen.invalidate()
        frozen.close()


def test_placement_moves_only_the_joining_nodes_share() -> None:
    workspaces = [f"WS{i:032x}" for i in range(3_000)]
    before = {ws: desired_owner(ws, ["n1", "n2", "n3"]) for ws in workspaces}
    after = {ws: desired_owner(ws, ["n1", "n2", "n3", "n4"]) for ws in workspaces}
    moved = [ws for ws in workspaces if before[ws] != after[ws]]
    assert all(after[ws] == "n4" for ws in moved)
    assert 600 <= len(moved) <= 900  # about a quarter
    shares = [list(before.values()).count(n) for n in ("n1", "n2", "n3")]
    assert min(shares) > 850  # about a third each
    # A node leaving moves only its own workspaces.
    gone = {ws: desired_owner(ws, ["n1", "n3"]) for ws in workspaces}
    assert all(gone[ws] == before[ws] for ws in workspaces if before[ws] != "n2")
    assert desired_owner("WS1", ["n1", "n2"], pinned="n2") == "n2"
    assert desired_owner("WS1", ["n1"], pinned="n2") == "n1"  # a pin to a dead node lapses
    assert desired_owner("WS1", []) is None
