"""Reservations, seen from their task (``Tasks/{WT}/Reservations``) or their worker
(``Workers/{WK}/Reservations``).

Instructions that need a telephone network (``call``, ``dequeue``, ``redirect``,
``conference``, ``supervise``) are validated and refused with a 400 that says so: nothing is
pretended. Accept the reservation and connect the call in your own application instead.
"""

from __future__ import annotations

import logging
from typing import Any

from switchboard.api import filters
from switchboard.api.endpoints import Api, Context, Reply
from switchboard.api.paging import page
from switchboard.api.params import PAGING, Param
from switchboard.api.render import iso, workspace_url
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.errors import InvalidParameter
from switchboard.routing.model import Reservation

api = Api()
log = logging.getLogger(__name__)
TAG = "Reservations"
BY_TASK = "/v1/Workspaces/{WorkspaceSid}/Tasks/{TaskSid}/Reservations"
BY_WORKER = "/v1/Workspaces/{WorkspaceSid}/Workers/{WorkerSid}/Reservations"
STATUSES = ("pending", "accepted", "rejected", "timeout", "canceled", "rescinded", "wrapping",
            "completed")
TELEPHONY = ("call", "dequeue", "redirect", "conference", "supervise")


def render_reservation(engine: WorkspaceEngine, reservation: Reservation, base: str,
                       by_worker: bool = False) -> dict[str, Any]:
    ws = reservation.workspace_sid
    worker = engine.workers.get(reservation.worker_sid)
    parent = (f"Workers/{reservation.worker_sid}" if by_worker
              else f"Tasks/{reservation.task_sid}")
    return {
        "account_sid": reservation.account_sid,
        "date_created": iso(reservation.date_created),
        "date_updated": iso(reservation.date_updated),
        "reservation_status": reservation.reservation_status,
        "sid": reservation.sid,
        "task_sid": reservation.task_sid,
        "worker_name": worker.friendly_name if worker else None,
        "worker_sid": reservation.worker_sid,
        "workspace_sid": ws,
        "url": workspace_url(base, ws, parent, "Reservations", reservation.sid),
        "links": {
            "task": workspace_url(base, ws, "Tasks", reservation.task_sid),
            "worker": workspace_url(base, ws, "Workers", reservation.worker_sid),
            "workspace": workspace_url(base, ws),
        },
    }


# Every other parameter of TaskRouter's reservation update configures a telephony instruction
# (dequeue, call, redirect, conference, supervise): the call, its conference and recordings.
TELEPHONY_PARAMS = (
    *(Param(name) for name in (
        "DequeuePostWorkActivitySid", "DequeueFrom", "DequeueRecord", "DequeueTo",
        "DequeueStatusCallbackUrl", "CallFrom", "CallRecord", "CallTo", "CallUrl",
        "CallStatusCallbackUrl", "RedirectCallSid", "RedirectUrl", "To", "From",
        "StatusCallback", "StatusCallbackMethod", "Beep", "WaitUrl", "WaitMethod",
        "ConferenceStatusCallback", "ConferenceStatusCallbackMethod", "ConferenceRecord",
        "ConferenceTrim", "RecordingChannels", "RecordingStatusCallback",
        "RecordingStatusCallbackMethod", "ConferenceRecordingStatusCallback",
        "ConferenceRecordingStatusCallbackMethod", "Region", "SipAuthUsername",
        "SipAuthPassword", "PostWorkActivitySid", "Supervisor", "SupervisorMode",
        "JitterBufferSize")),
    *(Param(name, "integer") for name in (
        "DequeueTimeout", "CallTimeout", "Timeout", "MaxParticipants")),
    *(Param(name, "boolean") for name in (
        "CallAccept", "RedirectAccept", "Record", "Muted", "StartConferenceOnEnter",
        "EndConferenceOnExit", "EarlyMedia", "EndConferenceOnCustomerExit",
        "BeepOnCustomerEntrance")),
    *(Param(name, "list") for name in (
        "StatusCallbackEvent", "ConferenceStatusCallbackEvent", "DequeueStatusCallbackEvent")),
)
UPDATE_PARAMS = (
    Param("ReservationStatus", "enum", choices=STATUSES,
          description="accepted, rejected, wrapping or completed."),
    Param("WorkerActivitySid", description="Move the worker to this activity, with any "
          "ReservationStatus or none."),
    Param("Instruction", description="Telephony instructions are refused: Switchboard has no "
          "telephone network."),
    *(Param(p.name, p.kind, description="Refused: it configures a telephony instruction.")
      for p in TELEPHONY_PARAMS),
)


def _check_instruction(args: dict[str, Any]) -> None:
    """Refuse a telephony instruction, or any of its parameters sent without one: acting on
    the rest of the update would drop them silently."""
    instruction = args["instruction"]
    if instruction is not None and instruction not in TELEPHONY:
        raise InvalidParameter(f"Invalid Instruction '{instruction}': TaskRouter instructions "
                               f"are {', '.join(TELEPHONY)}")
    if instruction is not None:
        log.info("refused the %s instruction: there is no telephone network", instruction)
        raise InvalidParameter(
            f"Instruction '{instruction}' needs a telephone network, which this server does "
            "not have; nothing was changed. Accept the reservation with "
            "ReservationStatus=accepted and connect the call in your application.")
    sent = [p.name for p in TELEPHONY_PARAMS if args[p.attr] is not None]
    if sent:
        raise InvalidParameter(
            f"{', '.join(sent)} {'configures' if len(sent) == 1 else 'configure'} telephony "
            "instructions, which need a telephone network this server does not have; nothing "
            "was changed. Leave them out and connect the call in your application.")


async def _list(ctx: Context, reservations: list[Reservation], url: str,
                by_worker: bool) -> dict[str, Any]:
    status = ctx.args["reservation_status"]
    if status is not None:
        reservations = [r for r in reservations if r.reservation_status == status]
    engine = ctx.engine()
    # A worker deleted since may still hold past reservations of the task: not unknown.
    worker_sid = filters.sid(ctx.args.get("worker_sid"), "WorkerSid", "WK",
                             lambda sid: sid in engine.workers
                             or any(r.worker_sid == sid for r in reservations))
    if worker_sid is not None:
        reservations = [r for r in reservations if r.worker_sid == worker_sid]
    return page(reservations, key="reservations", url=url, query=ctx.query, args=ctx.args,
                render=lambda r: render_reservation(engine, r, ctx.base_url, by_worker))


@api.route("GET", BY_TASK, tag=TAG, summary="List a task's reservations", params=(
    Param("ReservationStatus", "enum", choices=STATUSES),
    Param("WorkerSid", description="A worker of the workspace (else 400)."), *PAGING))
async def list_task_reservations(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    task = engine.task(ctx.path["TaskSid"])
    return await _list(ctx, list(engine.task_reservations.get(task.sid, [])),
                       workspace_url(ctx.base_url, task.workspace_sid, "Tasks", task.sid,
                                     "Reservations"), False)


@api.route("GET", BY_TASK + "/{Sid}", tag=TAG, summary="Fetch a task's reservation")
async def fetch_task_reservation(ctx: Context) -> Reply:
    engine = ctx.engine()
    reservation = engine.reservation(ctx.path["Sid"], task_sid=ctx.path["TaskSid"])
    return Reply(render_reservation(engine, reservation, ctx.base_url), str(reservation.version))


@api.route("POST", BY_TASK + "/{Sid}", tag=TAG, summary="Update a task's reservation",
           params=UPDATE_PARAMS)
async def update_task_reservation(ctx: Context) -> Reply:
    return await _update(ctx, task_sid=ctx.path["TaskSid"])


@api.route("GET", BY_WORKER, tag=TAG, summary="List a worker's reservations", params=(
    Param("ReservationStatus", "enum", choices=STATUSES), *PAGING))
async def list_worker_reservations(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    worker = engine.worker(ctx.path["WorkerSid"])
    return await _list(ctx, engine.reservations_of_worker(worker.sid),
                       workspace_url(ctx.base_url, worker.workspace_sid, "Workers", worker.sid,
                                     "Reservations"), True)


@api.route("GET", BY_WORKER + "/{Sid}", tag=TAG, summary="Fetch a worker's reservation")
async def fetch_worker_reservation(ctx: Context) -> Reply:
    engine = ctx.engine()
    reservation = engine.reservation(ctx.path["Sid"], worker_sid=ctx.path["WorkerSid"])
    return Reply(render_reservation(engine, reservation, ctx.base_url, True),
                 str(reservation.version))


@api.route("POST", BY_WORKER + "/{Sid}", tag=TAG, summary="Update a worker's reservation",
           params=UPDATE_PARAMS)
async def update_worker_reservation(ctx: Context) -> Reply:
    return await _update(ctx, worker_sid=ctx.path["WorkerSid"])


async def _update(ctx: Context, *, task_sid: str | None = None,
                  worker_sid: str | None = None) -> Reply:
    a = ctx.args
    _check_instruction(a)

    def command(engine: WorkspaceEngine, now: int) -> Reply:
        reservation = engine.update_reservation(
            ctx.path["Sid"], now, status=a["reservation_status"],
            worker_activity_sid=a["worker_activity_sid"], task_sid=task_sid,
            worker_sid=worker_sid, if_match=ctx.if_match)
        return Reply(render_reservation(engine, reservation, ctx.base_url, worker_sid is not None),
                     str(reservation.version))

    return await ctx.run(command)
