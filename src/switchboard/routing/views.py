"""Read-only mapping views that expressions evaluate against.

Expressions only walk mappings (see ``expressions.py``); these views present a worker or a
task the way TaskRouter's expression language sees them, without copying attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from switchboard.routing.model import Activity, TaskChannel, Worker, WorkerChannel

# Worker fields that expressions may name besides the worker's attributes. They take precedence
# over attributes of the same name, so ``sid IN [...]`` always means the worker's SID.
WORKER_FIELDS = frozenset({"sid", "friendly_name", "activity_sid", "activity_name", "channel"})
# First path segments whose value depends on the worker's activity.
ACTIVITY_FIELDS = frozenset({"activity_sid", "activity_name"})


class ChannelView(Mapping[str, Any]):
    """``worker.channel.<unique_name>.{configured_capacity, assigned_tasks, ...}``."""

    __slots__ = ("_by_name", "_channels")

    def __init__(
        self, channels: Mapping[str, WorkerChannel], by_name: Callable[[str], TaskChannel | None]
    ) -> None:
        self._channels = channels
        self._by_name = by_name

    def __getitem__(self, key: str) -> Any:
        task_channel = self._by_name(key)
        if task_channel is None or task_channel.sid not in self._channels:
            raise KeyError(key)
        return channel_figures(self._channels[task_channel.sid])

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return len(self._channels)


def channel_figures(channel: WorkerChannel) -> dict[str, Any]:
    capacity = channel.configured_capacity
    free = 0 if capacity <= 0 else max(0, 100 - (channel.reserved * 100 + capacity - 1) // capacity)
    return {
        "configured_capacity": capacity,
        "assigned_tasks": channel.assigned,
        "available_capacity_percentage": free if capacity > 0 else 0,
        "available": channel.available,
    }


class WorkerView(Mapping[str, Any]):
    """A worker as TargetWorkers and ``worker.`` references see it."""

    __slots__ = ("_activity", "_channels", "_worker")

    def __init__(self, worker: Worker, activity: Activity | None, channels: ChannelView) -> None:
        self._worker = worker
        self._activity = activity
        self._channels = channels

    def __getitem__(self, key: str) -> Any:
        worker = self._worker
        if key in WORKER_FIELDS:
            if key == "sid":
                return worker.sid
            if key == "friendly_name":
                return worker.friendly_name
            if key == "activity_sid":
                return worker.activity_sid
            if key == "activity_name":
                return self._activity.friendly_name if self._activity else None
            return self._channels
        return worker.parsed_attributes[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._worker.parsed_attributes)

    def __len__(self) -> int:
        return len(self._worker.parsed_attributes)
