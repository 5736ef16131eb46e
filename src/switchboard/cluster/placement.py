"""Which node should own a workspace: rendezvous (highest random weight) hashing.

Every node computes the same answer from the same list of live nodes, with no coordination:
each workspace goes to the node with the highest hash of (node, workspace). When a node joins,
it takes only the workspaces it now wins (about 1/N of them); when one leaves, only its own
workspaces move, spread over the others. An operator may pin a workspace to a node; the pin
holds while that node is live.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def weight(node_id: str, workspace_sid: str) -> int:
    digest = hashlib.blake2b(f"{node_id}\x00{workspace_sid}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def desired_owner(workspace_sid: str, live_nodes: Iterable[str], pinned: str | None = None
                  ) -> str | None:
    """The node that should own the workspace (None when no node is live)."""
    candidates = list(live_nodes)
    if pinned is not None and pinned in candidates:
        return pinned
    if not candidates:
        return None
    return max(candidates, key=lambda node: (weight(node, workspace_sid), node))
