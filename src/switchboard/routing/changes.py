"""What one command changed: the rows to write and the events to append, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import orjson

from switchboard.routing.model import (
    Activity,
    Event,
    Reservation,
    Task,
    TaskChannel,
    TaskQueue,
    Transfer,
    Worker,
    WorkerChannel,
    Workflow,
    Workspace,
    stored_fields,
)

Row = dict[str, Any]
# A row as the store writes it: the values of ``FIELDS[kind]``, in that order. A tuple taken
# by one attrgetter costs a quarter of a dict built field by field.
Values = tuple[Any, ...]

FIELDS: dict[str, tuple[str, ...]] = {
    cls.kind: stored_fields(cls) for cls in (
        Workspace, Activity, TaskChannel, Worker, WorkerChannel, TaskQueue, Workflow, Task,
        Reservation, Transfer)}
_SNAPSHOTS = {kind: attrgetter(*names) for kind, names in FIELDS.items()}
# An event's columns: its data last, written as JSON text.
EVENT_FIELDS = (*(name for name in stored_fields(Event) if name != "data"), "data")
_EVENT_SNAPSHOT = attrgetter(*EVENT_FIELDS[:-1])


def to_row(entity: Any) -> Row:
    """Snapshot an entity's stored fields (taken at once: the entity keeps changing)."""
    kind = entity.kind
    return dict(zip(FIELDS[kind], _SNAPSHOTS[kind](entity), strict=True))


@dataclass
class Changes:
    """Rows upserted (by kind) and deleted, plus the events, of one or more commands."""

    upserts: dict[tuple[str, str], Values] = field(default_factory=dict)
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

    def row(self, key: tuple[str, str]) -> Row:
        """An upserted row by column name."""
        return dict(zip(FIELDS[key[0]], self.upserts[key], strict=True))

    def event_rows(self) -> list[Values]:
        """The events' values in ``EVENT_FIELDS`` order."""
        dumps = orjson.dumps
        return [(*_EVENT_SNAPSHOT(e), dumps(e.data).decode()) for e in self.events]


class ChangeRecorder:
    """Collects the entities a command touched; snapshots them when the command ends."""

    def __init__(self) -> None:
        # Changes recorded, ever (never reset): a cache of what derives from the state (the
        # wait estimates' simulations) is good while it holds.
        self.version = 0
        self._touched: dict[tuple[str, str], Any] = {}
        self._deleted: list[tuple[str, str]] = []
        self._dropped: list[str] = []
        self._events: list[Event] = []

    def __bool__(self) -> bool:
        return bool(self._touched or self._deleted or self._dropped or self._events)

    def touch(self, entity: Any) -> None:
        self.version += 1
        self._touched[(entity.kind, entity.sid)] = entity

    def delete(self, entity: Any) -> None:
        self.version += 1
        key = (entity.kind, entity.sid)
        self._touched.pop(key, None)
        self._deleted.append(key)

    def drop_workspace(self, workspace_sid: str) -> None:
        self.version += 1
        self._touched.clear()
        self._deleted.clear()
        self._dropped.append(workspace_sid)

    def event(self, event: Event) -> None:
        self.version += 1
        self._events.append(event)

    def take(self) -> Changes:
        changes = Changes(
            upserts={key: _SNAPSHOTS[key[0]](entity) for key, entity in self._touched.items()},
            deletes=self._deleted,
            dropped_workspaces=self._dropped,
            events=self._events,
        )
        self._touched = {}
        self._deleted = []
        self._dropped = []
        self._events = []
        return changes
