"""The Worker SDK's WebSocket frames a batch of committed events makes, and who gets each.

A frame is ``{"event_type": …, "payload": …}``: the reservation (with its task), task,
transfer, worker or worker channel the event is about, rendered from the engine's current state
in the SDK's shapes (a task deleted by the command is still found among the engine's recently
removed). Reservation and worker events go to their worker; task events go to the workers that
hold a reservation for the task, or whose reservation for it changed in the same batch (a
completed task's workers hear ``task.completed`` after ``reservation.completed``); transfer
events go to the worker who started the transfer, whose SDK follows it as its outgoing
transfer.

A pushed reservation never carries ``active_outgoing_task_transfer``: the SDK takes the outgoing
transfer from the answer to ``task.transfer()`` and would otherwise build it twice (the
``transferInitiated`` listeners then hear of a copy that later events never reach).
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from switchboard.bridge import shapes
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.model import RESERVATION_OPEN, Event, Reservation, Transfer

RESERVATION_EVENTS = frozenset({
    "reservation.created", "reservation.accepted", "reservation.rejected",
    "reservation.timeout", "reservation.canceled", "reservation.rescinded",
    "reservation.completed", "reservation.wrapup",
})
TASK_EVENTS = frozenset({"task.updated", "task.canceled", "task.completed", "task.wrapup"})
TRANSFER_EVENTS = frozenset({
    "task.transfer-initiated", "task.transfer-attempt-failed", "task.transfer-failed",
    "task.transfer-canceled", "task.transfer-completed",
})
WORKER_EVENTS = frozenset({"worker.activity.update", "worker.attributes.update"})
CHANNEL_EVENTS = frozenset({"worker.capacity.update", "worker.channel.availability.update"})
PUSHED = RESERVATION_EVENTS | TASK_EVENTS | TRANSFER_EVENTS | WORKER_EVENTS | CHANNEL_EVENTS


@dataclass(frozen=True, slots=True)
class Frame:
    worker_sids: tuple[str, ...]
    text: str


def frame_text(event_type: str, payload: Any) -> str:
    return orjson.dumps({"event_type": event_type, "payload": payload}).decode()


def frames(engine: WorkspaceEngine, events: list[Event], now: int,
           connected: Container[str]) -> Iterator[Frame]:
    """The frames for ``events``, in order, for the workers in ``connected`` only."""
    in_batch: set[str] | None = None
    for event in events:
        kind = event.event_type
        if kind not in PUSHED:
            continue
        if kind in TASK_EVENTS:
            if in_batch is None:
                in_batch = {e.reservation_sid for e in events if e.reservation_sid}
            targets = _task_workers(engine, event.task_sid, in_batch)
        elif event.worker_sid is not None:
            targets = (event.worker_sid,)
        else:
            continue
        targets = tuple(sid for sid in targets if sid in connected)
        if not targets:
            continue
        payload = _payload(engine, event, now)
        if payload is not None:
            yield Frame(targets, frame_text(kind, payload))


def _task_workers(engine: WorkspaceEngine, task_sid: str | None, in_batch: set[str]
                  ) -> tuple[str, ...]:
    reservations = engine.task_reservations.get(task_sid or "", ())
    return tuple(dict.fromkeys(
        r.worker_sid for r in reservations
        if r.reservation_status in RESERVATION_OPEN or r.sid in in_batch))


def _payload(engine: WorkspaceEngine, event: Event, now: int) -> dict[str, Any] | None:
    kind = event.event_type
    if kind in RESERVATION_EVENTS:
        sid = event.reservation_sid or ""
        reservation = engine.reservations.get(sid) or shapes.removed(engine, sid, Reservation)
        return shapes.reservation(engine, reservation, now, incoming=True) if (
            reservation) else None
    if kind in TASK_EVENTS:
        task = engine.tasks.get(event.task_sid or "")
        return shapes.task(engine, task, now) if task else None
    if kind in TRANSFER_EVENTS:
        sid = str(event.data.get("transfer_sid"))
        transfer = engine.transfers.get(sid) or shapes.removed(engine, sid, Transfer)
        return shapes.transfer(transfer) if transfer else None
    worker = engine.workers.get(event.worker_sid or "")
    if worker is None:
        return None
    if kind in WORKER_EVENTS:
        return shapes.worker(engine, worker)
    channel = engine.worker_channels[worker.sid].get(str(event.data.get("task_channel_sid")))
    return shapes.worker_channel(engine, channel) if channel else None
