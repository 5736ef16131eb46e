"""What one command changed: the rows to write and the events to append, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from switchboard.routing.model import Event, stored_fields

Row = dict[str, Any]

_FIELDS: dict[type, tuple[str, ...]] = {}


def to_row(entity: Any) -> Row:
    """Snapshot an entity's stored fields (taken at once: the entity keeps changing)."""
    cls = type(entity)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = stored_fields(cls)
    return {name: getattr(entity, name) for name in names}


@dataclass
class Changes:
    """Rows upserted (by kind) and deleted, plus the events, of one or more commands."""

    upserts: dict[tuple[str, str], Row] = field(default_factory=dict)
    deletes: list[tuple[str, str]] = field(default_factory=list)
    # Whole workspaces removed, with every row that belongs to them.
    dropped_workspaces: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletes or self.dropped_workspaces or self.events)

    def absorb(self, later: Changes) -> None:
        """Merge a later command's changes in: its rows replace earlier rows of the same key."""
        for key, row in later.upserts.items():
            self.upserts.pop(key, None)  # re-insert at the end: keep write order
            self.upserts[key] = row
        self.deletes += later.deletes
        self.dropped_workspaces += later.dropped_workspaces
        self.events += later.events

    def event_rows(self) -> list[Row]:
        rows = [to_row(event) for event in self.events]
        for row in rows:
            row["data"] = orjson.dumps(row["data"]).decode()
        return rows


class ChangeRecorder:
    """Collects the entities a command touched; snapshots them when the command ends."""

    def __init__(self) -> None:
        self._touched: dict[tuple[str, str], Any] = {}
        self._deleted: list[tuple[str, str]] = []
        self._dropped: list[str] = []
        self._events: list[Event] = []

    def __bool__(self) -> bool:
        return bool(self._touched or self._deleted or self._dropped or self._events)

    def touch(self, entity: Any) -> None:
        self._touched[(entity.kind, entity.sid)] = entity

    def delete(self, entity: Any) -> None:
        key = (entity.kind, entity.sid)
        self._touched.pop(key, None)
        self._deleted.append(key)

    def drop_workspace(self, workspace_sid: str) -> None:
        self._touched.clear()
        self._deleted.clear()
        self._dropped.append(workspace_sid)

    def event(self, event: Event) -> None:
        self._events.append(event)

    def take(self) -> Changes:
        changes = Changes(
            upserts={key: to_row(entity) for key, entity in self._touched.items()},
            deletes=self._deleted,
            dropped_workspaces=self._dropped,
            events=self._events,
        )
        self.__init__()  # type: ignore[misc]
        return changes
