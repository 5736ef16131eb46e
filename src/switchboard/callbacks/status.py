"""What operators see of callbacks: how many each workspace still owes, and the failures."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from switchboard.store import tables
from switchboard.store.database import Store


def callback_status(store: Store, workspace_sid: str | None = None) -> dict[str, Any]:
    events, cursors, failures = tables.events, tables.callback_cursors, tables.callback_failures
    pending = []
    with store.engine.connect() as conn:
        workspace_sids = [r.sid for r in conn.execute(select(tables.workspaces.c.sid))
                          if workspace_sid is None or r.sid == workspace_sid]
        for sid in workspace_sids:
            cursor = conn.execute(select(cursors).where(cursors.c.workspace_sid == sid)).first()
            events_seq = cursor.events_seq if cursor else 0
            assignments_seq = cursor.assignments_seq if cursor else 0
            owed_events = conn.execute(select(func.count()).where(
                events.c.workspace_sid == sid, events.c.seq > events_seq,
                events.c.callback_url.is_not(None))).scalar_one()
            owed_assignments = conn.execute(select(func.count()).where(
                events.c.workspace_sid == sid, events.c.seq > assignments_seq,
                events.c.assignment_url.is_not(None))).scalar_one()
            if owed_events or owed_assignments:
                pending.append({"workspace_sid": sid, "events": owed_events,
                                "assignments": owed_assignments})
        query = select(failures).order_by(failures.c.id)
        if workspace_sid is not None:
            query = query.where(failures.c.workspace_sid == workspace_sid)
        failed = [dict(row._mapping) for row in conn.execute(query)]
    return {"pending": pending, "failed": failed}
