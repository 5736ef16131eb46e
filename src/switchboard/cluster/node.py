"""One node of a cluster: its heartbeat, the leases it holds, and workspaces moving in and out.

Every ``tick`` the node records its heartbeat, reads the live nodes and every workspace's lease
(two small queries), renews its own leases when a third of their time has passed, and then:

* takes the workspaces placement gives it (``placement.py``) whose lease is free or ran out
  (a dead or paused owner's lease runs out; the epoch rises, fencing the old owner), loading
  each from the store and resuming its timers and callbacks;
* hands over, a few per tick, the workspaces placement now gives to another live node (one
  that joined, or a pinned one): their queued writes are committed first, then the lease is
  released, and the other node takes it at its next tick;
* drops at once any workspace whose lease it lost (it was paused past its lease, or cut off
  from the database): it can no longer commit to it anyway.

On shutdown (``hand_over_all``) the node marks itself leaving and hands over everything before
the server stops listening, so a rolling restart fails no request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, select

from switchboard.cluster import directory
from switchboard.cluster.directory import Lease
from switchboard.cluster.placement import desired_owner
from switchboard.service.background import TaskSet, cancel
from switchboard.service.runtime import Runtime
from switchboard.store import tables

log = logging.getLogger(__name__)
T = TypeVar("T")
HANDOVERS_PER_TICK = 8  # a joining node takes its share gradually, not in one burst
FORGET_NODES_AFTER_MS = 3_600_000  # a node silent this long leaves `cluster status`


def default_node_id() -> str:
    """Unique per process: host, process id and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class ClusterConfig:
    node_id: str
    url: str  # where the other nodes reach this one
    lease_seconds: float = 3.0
    tick_seconds: float = 0.25

    @property
    def lease_ms(self) -> int:
        return int(self.lease_seconds * 1000)


@dataclass
class View:
    """What this node last read of the cluster."""

    now: int = 0
    urls: dict[str, str] = field(default_factory=dict)  # every known node's URL
    live: set[str] = field(default_factory=set)  # heard from within a lease, not leaving
    owners: dict[str, str | None] = field(default_factory=dict)  # workspace -> owner now


class ClusterNode:
    """A background service of ``switchboard serve`` on PostgreSQL."""

    def __init__(self, runtime: Runtime, config: ClusterConfig) -> None:
        if not runtime.clustered:
            raise ValueError("the runtime must be started clustered")
        self.runtime = runtime
        self.config = config
        self.id = config.node_id
        self.view = View()
        # Leases this node holds, loaded or still loading: workspace -> epoch.
        self.claimed: dict[str, int] = {}
        self.leaving = False
        self._moving: set[str] = set()  # being adopted or handed over right now
        self._tasks = TaskSet()
        self._loop_task: asyncio.Task[None] | None = None
        self._last_renewal = 0
        self.takeovers = 0  # workspaces taken over since start (metrics)
        self.lost_leases = 0  # leases lost to another node since start (metrics)
        self.ready = False  # the last look at the cluster's state succeeded (/readyz)
        runtime.claim_new = self._claim_new
        runtime.store.fence_check = lambda conn, fences: directory.check_fences(
            conn, self.id, fences, self.idle_ms)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self._tick()
        self.ready = True
        self._loop_task = asyncio.create_task(self._run())
        log.info("node %s joined the cluster at %s", self.id, self.config.url)

    async def stop(self) -> None:
        await self.hand_over_all()
        await cancel(self._loop_task)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._db(directory.forget_node, self.id)

    async def hand_over_all(self) -> None:
        """Leave the cluster in order: every workspace goes to another node first."""
        if self.leaving:
            return
        self.leaving = True
        with contextlib.suppress(Exception):
            await self._db(directory.heartbeat, self.id, self.config.url, True)
        sids = list(self.claimed)
        if sids:
            log.info("node %s hands over %d workspaces before leaving", self.id, len(sids))
        await asyncio.gather(*(self.hand_over(sid) for sid in sids), return_exceptions=True)

    # ------------------------------------------------------------------ what others ask

    def owner(self, workspace_sid: str) -> str | None:
        """The node that owns the workspace as last seen (None: nobody right now)."""
        return self.view.owners.get(workspace_sid)

    def knows(self, workspace_sid: str) -> bool:
        return workspace_sid in self.view.owners

    def url_of(self, node_id: str) -> str | None:
        return self.view.urls.get(node_id)

    async def refresh(self, workspace_sid: str) -> bool:
        """Read the workspace's owner afresh; False if there is no such workspace."""
        lease, exists, now, urls = await self._db(_fresh_lease, workspace_sid)
        self.view.urls.update(urls)
        if not exists:
            self.view.owners.pop(workspace_sid, None)
            return False
        self.view.owners[workspace_sid] = _current_owner(lease, now)
        return True

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.config.tick_seconds)
            try:
                await self._tick()
            except Exception as exc:
                if not failing:
                    log.warning("node %s cannot reach the cluster's database (%s); its "
                                "leases run out unless it comes back", self.id, exc)
                failing = True
                self.ready = False
            else:
                self.ready = True
                if failing:
                    log.info("node %s reaches the cluster's database again", self.id)
                failing = False

    async def _tick(self) -> None:
        renew = self.view.now - self._last_renewal >= self.config.lease_ms // 3
        held = dict(self.claimed) if renew else {}
        now, nodes, leases, lost = await self._db(
            _read_cluster, self.id, self.config.url, self.leaving, held, self.config.lease_ms)
        if renew:
            self._last_renewal = now
        view = View(now=now, urls={n.id: n.url for n in nodes})
        view.live = {n.id for n in nodes
                     if now - n.last_seen <= self.config.lease_ms and not n.leaving}
        view.owners = {sid: _current_owner(lease, now) for sid, lease in leases.items()}
        self.view = view
        for sid in lost:
            if self.claimed.get(sid) == held.get(sid):
                log.warning("node %s lost its lease on workspace %s to %s: dropping it",
                            self.id, sid, view.owners.get(sid))
                self.claimed.pop(sid, None)
                self.lost_leases += 1
                self._tasks.spawn(self.runtime.unload(sid))
        if self.leaving:
            return
        handovers = 0
        for sid, lease in leases.items():
            if sid in self._moving:
                continue
            desired = desired_owner(sid, view.live, lease.pinned if lease else None)
            if sid in self.claimed:
                if desired is not None and desired != self.id and \
                        handovers < HANDOVERS_PER_TICK:
                    handovers += 1
                    self._tasks.spawn(self.hand_over(sid))
            elif desired == self.id and view.owners.get(sid) in (None, self.id):
                self._tasks.spawn(self.take(sid))
        if now % 60_000 < self.config.tick_seconds * 1000:  # about once a minute
            await self._db(directory.forget_dead_nodes, FORGET_NODES_AFTER_MS)

    async def take(self, sid: str) -> None:
        self._moving.add(sid)
        try:
            epoch = await self._db(directory.acquire, sid, self.id, self.config.lease_ms)
            if epoch is None:
                return  # another node was quicker
            self.claimed[sid] = epoch
            self.view.owners[sid] = self.id
            if await self.runtime.adopt(sid, epoch):
                self.takeovers += 1
                log.info("node %s took over workspace %s (epoch %d)", self.id, sid, epoch)
            else:
                self.claimed.pop(sid, None)
        except Exception:
            log.exception("node %s could not take over workspace %s", self.id, sid)
            self.claimed.pop(sid, None)
            with contextlib.suppress(Exception):
                await self.runtime.unload(sid)
        finally:
            self._moving.discard(sid)

    async def hand_over(self, sid: str) -> None:
        epoch = self.claimed.get(sid)
        if epoch is None or sid in self._moving:
            return
        self._moving.add(sid)
        try:
            await self.runtime.unload(sid)  # what was queued for it is committed first
            await self._db(directory.release, sid, self.id, epoch)
            log.info("node %s handed over workspace %s", self.id, sid)
        except Exception:
            log.exception("node %s could not hand over workspace %s; its lease will run out",
                          self.id, sid)
        finally:
            self.claimed.pop(sid, None)
            self.view.owners[sid] = None
            self._moving.discard(sid)

    async def _claim_new(self, sid: str) -> int:
        """A workspace created here is owned here first (placement may move it later)."""
        epoch = await self._db(directory.acquire, sid, self.id, self.config.lease_ms)
        if epoch is None:  # a SID nobody has used: cannot happen short of a collision
            raise RuntimeError(f"workspace {sid} is already owned by another node")
        self.claimed[sid] = epoch
        self.view.owners[sid] = self.id
        return epoch

    # ------------------------------------------------------------------ helpers

    @property
    def idle_ms(self) -> int:
        """How long this node's transactions that lock lease rows may sit idle before the
        database ends them (``directory.idle_at_most``): twice a lease, far longer than a live
        node ever idles in one, so a frozen node holds its workspaces about as long as its
        leases last."""
        return 2 * self.config.lease_ms

    async def _db(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(conn, *args)`` in one transaction, off the event loop."""
        def run() -> T:
            with self.runtime.store.engine.begin() as conn:
                directory.idle_at_most(conn, self.idle_ms)  # renewals lock lease rows
                return work(conn, *args)
        return await asyncio.to_thread(run)


def _current_owner(lease: Lease | None, now: int) -> str | None:
    if lease is None or lease.owner is None or lease.expires_at < now:
        return None
    return lease.owner


def _read_cluster(conn: Connection, node_id: str, url: str, leaving: bool,
                  held: dict[str, int], lease_ms: int
                  ) -> tuple[int, list[directory.Node], dict[str, Lease | None], set[str]]:
    now = directory.heartbeat(conn, node_id, url, leaving)
    lost = directory.renew(conn, node_id, held, lease_ms)
    return now, directory.nodes(conn), directory.workspaces_and_leases(conn), lost


def _fresh_lease(conn: Connection, workspace_sid: str
                 ) -> tuple[Lease | None, bool, int, dict[str, str]]:
    ws = tables.workspaces
    exists = conn.execute(select(ws.c.sid).where(ws.c.sid == workspace_sid)).first() is not None
    return (directory.lease_of(conn, workspace_sid), exists, directory.now_ms(conn),
            {n.id: n.url for n in directory.nodes(conn)})
