"""The cluster's shared state in PostgreSQL: nodes, and who owns each workspace.

Every time here is the database's clock (milliseconds), so nodes whose clocks disagree still
agree on when a lease has run out. Every function takes a connection and runs its statements in
the caller's transaction.

Ownership is a lease with a fencing epoch (as Temporal assigns history shards to hosts): taking
a workspace over always raises its epoch, and every commit of the workspace's changes checks, in
its own transaction, that the committing node still holds that epoch (``check_fences``). The
check takes a share lock on the lease row, so a take-over waits for a commit under way and the
commit after it fails: a node that was paused, partitioned or slow can never write to a
workspace another node has taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert

from switchboard.store import tables
from switchboard.store.database import Fenced

NODES = tables.cluster_nodes
LEASES = tables.workspace_leases
# The database's clock in epoch milliseconds.
NOW_MS: ColumnElement[int] = literal_column(
    "(extract(epoch from clock_timestamp()) * 1000)::bigint")


@dataclass(frozen=True)
class Node:
    id: str
    url: str
    started_at: int
    last_seen: int
    leaving: bool


@dataclass(frozen=True)
class Lease:
    workspace_sid: str
    owner: str | None
    epoch: int
    expires_at: int
    pinned: str | None


def now_ms(conn: Connection) -> int:
    return int(conn.execute(select(NOW_MS)).scalar_one())


# ---------------------------------------------------------------------- nodes


def heartbeat(conn: Connection, node_id: str, url: str, leaving: bool = False) -> int:
    """Record that the node is alive (and whether it is leaving); the database's time."""
    now = now_ms(conn)
    statement = insert(NODES).values(id=node_id, url=url, started_at=now, last_seen=now,
                                     leaving=leaving)
    conn.execute(statement.on_conflict_do_update(
        index_elements=[NODES.c.id],
        set_={"url": url, "last_seen": now, "leaving": leaving}))
    return now


def nodes(conn: Connection) -> list[Node]:
    return [Node(**row._mapping) for row in conn.execute(select(NODES).order_by(NODES.c.id))]


def forget_node(conn: Connection, node_id: str) -> None:
    conn.execute(NODES.delete().where(NODES.c.id == node_id))


def forget_dead_nodes(conn: Connection, older_than_ms: int) -> None:
    """Drop nodes silent for long (their leases ran out long ago): keeps the list readable."""
    conn.execute(NODES.delete().where(NODES.c.last_seen < NOW_MS - older_than_ms))


# ---------------------------------------------------------------------- leases


def workspaces_and_leases(conn: Connection) -> dict[str, Lease | None]:
    """Every workspace in the store, with its lease (None: never owned yet)."""
    ws = tables.workspaces
    query = select(ws.c.sid, LEASES.c.owner, LEASES.c.epoch, LEASES.c.expires_at,
                   LEASES.c.pinned).select_from(
        ws.outerjoin(LEASES, LEASES.c.workspace_sid == ws.c.sid))
    found: dict[str, Lease | None] = {}
    for sid, owner, epoch, expires_at, pinned in conn.execute(query):
        found[sid] = None if epoch is None else Lease(sid, owner, epoch, expires_at, pinned)
    return found


def lease_of(conn: Connection, workspace_sid: str) -> Lease | None:
    row = conn.execute(select(LEASES).where(LEASES.c.workspace_sid == workspace_sid)).first()
    return None if row is None else Lease(**row._mapping)


def acquire(conn: Connection, workspace_sid: str, node_id: str, lease_ms: int) -> int | None:
    """Take the workspace if nobody holds it (or its lease ran out); its new epoch, or None if
    another node holds it. Taking it again after a restart under the same node id raises the
    epoch too: the new process holds nothing the old one had."""
    conn.execute(insert(LEASES).values(workspace_sid=workspace_sid, owner=None, epoch=0,
                                       expires_at=0, pinned=None)
                 .on_conflict_do_nothing(index_elements=[LEASES.c.workspace_sid]))
    free = or_(LEASES.c.owner.is_(None), LEASES.c.expires_at < NOW_MS,
               LEASES.c.owner == node_id)
    statement = (LEASES.update()
                 .where(LEASES.c.workspace_sid == workspace_sid, free)
                 .values(owner=node_id, epoch=LEASES.c.epoch + 1,
                         expires_at=NOW_MS + lease_ms)
                 .returning(LEASES.c.epoch))
    epoch = conn.execute(statement).scalar()
    return None if epoch is None else int(epoch)


def renew(conn: Connection, node_id: str, held: dict[str, int], lease_ms: int
          ) -> set[str]:
    """Extend this node's leases at the epochs it holds; the workspaces it no longer holds."""
    if not held:
        return set()
    renewed = conn.execute(
        LEASES.update()
        .where(LEASES.c.owner == node_id,
               LEASES.c.workspace_sid.in_(bindparam("sids", expanding=True)))
        .values(expires_at=NOW_MS + lease_ms)
        .returning(LEASES.c.workspace_sid, LEASES.c.epoch),
        {"sids": list(held)}).all()
    still = {sid for sid, epoch in renewed if held.get(sid) == epoch}
    return set(held) - still


def release(conn: Connection, workspace_sid: str, node_id: str, epoch: int) -> None:
    """Give the workspace up at once (the next owner need not wait for the lease to end)."""
    conn.execute(LEASES.update().where(
        LEASES.c.workspace_sid == workspace_sid, LEASES.c.owner == node_id,
        LEASES.c.epoch == epoch).values(owner=None, expires_at=0))


def pin(conn: Connection, workspace_sid: str, node_id: str | None) -> bool:
    """Place a workspace on a node (None: back to automatic placement); False if unknown."""
    ws = tables.workspaces
    if conn.execute(select(ws.c.sid).where(ws.c.sid == workspace_sid)).first() is None:
        return False
    conn.execute(insert(LEASES).values(workspace_sid=workspace_sid, owner=None, epoch=0,
                                       expires_at=0, pinned=node_id)
                 .on_conflict_do_update(index_elements=[LEASES.c.workspace_sid],
                                        set_={"pinned": node_id}))
    return True


def idle_at_most(conn: Connection, ms: int) -> None:
    """For the rest of this transaction, which locks lease rows: the database ends the session
    if it sits idle in the transaction longer than ``ms``. A node frozen in the middle of one
    (stopped, stalled, cut off from the database) would otherwise keep the rows locked, and every
    node that comes to take its workspaces over waiting, until it came back."""
    conn.exec_driver_sql(f"SET LOCAL idle_in_transaction_session_timeout = {int(ms)}")


def check_fences(conn: Connection, node_id: str, fences: dict[str, int], idle_ms: int
                 ) -> None:
    """Inside a commit's transaction: this node still owns each workspace at its epoch.

    ``FOR SHARE`` holds the lease rows until the commit ends, so a take-over (an update of the
    row) waits for it, and the next commit of the old owner sees the new epoch; ``idle_ms``
    bounds that wait should this node freeze before the commit ends (``idle_at_most``)."""
    idle_at_most(conn, idle_ms)
    rows = conn.execute(
        select(LEASES.c.workspace_sid, LEASES.c.owner, LEASES.c.epoch)
        .where(LEASES.c.workspace_sid.in_(bindparam("sids", expanding=True)))
        .with_for_update(read=True), {"sids": list(fences)}).all()
    held = {sid for sid, owner, epoch in rows if owner == node_id and epoch == fences[sid]}
    lost = sorted(set(fences) - held)
    if lost:
        raise Fenced(lost)


def status(conn: Connection) -> list[dict[str, Any]]:
    """Every node and the workspaces it owns now (for ``switchboard cluster status``)."""
    now = now_ms(conn)
    owned: dict[str, list[str]] = {}
    for sid, owner in conn.execute(select(LEASES.c.workspace_sid, LEASES.c.owner).where(
            and_(LEASES.c.owner.is_not(None), LEASES.c.expires_at >= now))
            .order_by(LEASES.c.workspace_sid)):
        owned.setdefault(owner, []).append(sid)
    return [{"id": node.id, "url": node.url, "last_seen": node.last_seen,
             "seconds_since_seen": round(max(0, now - node.last_seen) / 1000, 1),
             "leaving": node.leaving, "workspaces": owned.get(node.id, [])}
            for node in nodes(conn)]
