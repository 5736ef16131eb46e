"""Events: ``/v1/Workspaces/{WS}/Events``, read from the workspace's stored event log.

Newest first. Without ``StartDate``, the window is the last ``Minutes`` (default 15) up to
``EndDate`` (default now). Page tokens are keyset positions in the log (``PA<seq>``), so
paging stays exact while new events arrive.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from switchboard.api.endpoints import Api, Context
from switchboard.api.filters import well_formed
from switchboard.api.params import PAGING, Param
from switchboard.api.render import iso, workspace_url
from switchboard.routing.errors import InvalidParameter, NotFound
from switchboard.store import tables

api = Api()
TAG = "Events"
BASE = "/v1/Workspaces/{WorkspaceSid}/Events"
DEFAULT_MINUTES = 15
RESOURCE_PATHS = {
    "task": "Tasks", "worker": "Workers", "activity": "Activities", "task_queue": "TaskQueues",
    "workflow": "Workflows", "task_channel": "TaskChannels",
}
FILTERS = {  # parameter -> events column
    "event_type": "event_type", "reservation_sid": "reservation_sid",
    "task_queue_sid": "task_queue_sid", "task_sid": "task_sid", "worker_sid": "worker_sid",
    "workflow_sid": "workflow_sid", "sid": "sid",
}
# SID filters and their prefixes: a malformed one is a 400; an unknown one is not, since events
# outlive what they are about (tasks are purged five minutes after they end).
SID_FILTERS = {"reservation_sid": ("ReservationSid", "WR"),
               "task_queue_sid": ("TaskQueueSid", "WQ"), "task_sid": ("TaskSid", "WT"),
               "worker_sid": ("WorkerSid", "WK"), "workflow_sid": ("WorkflowSid", "WW"),
               "sid": ("Sid", "EV")}


def _text(value: Any) -> Any:
    """event_data values are strings, as on TaskRouter (nested objects stay objects)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def render_event(row: dict[str, Any], base: str) -> dict[str, Any]:
    ws = row["workspace_sid"]
    data = row["data"] if isinstance(row["data"], dict) else json.loads(row["data"])
    resource_type = row["resource_type"]
    if resource_type == "reservation":
        resource_url = workspace_url(base, ws, "Tasks", row["task_sid"], "Reservations",
                                     row["resource_sid"])
    elif resource_type in RESOURCE_PATHS:
        resource_url = workspace_url(base, ws, RESOURCE_PATHS[resource_type],
                                     row["resource_sid"])
    else:
        resource_url = workspace_url(base, ws)
    return {
        "account_sid": row["account_sid"],
        # Every event's actor is its workspace (docs/differences.md).
        "actor_sid": ws,
        "actor_type": "workspace",
        "actor_url": workspace_url(base, ws),
        "description": row["description"],
        "event_data": {k: _text(v) for k, v in data.items()},
        "event_date": iso(row["event_date"]),
        "event_date_ms": row["event_date"],
        "event_type": row["event_type"],
        "resource_sid": row["resource_sid"],
        "resource_type": resource_type,
        "resource_url": resource_url,
        "sid": row["sid"],
        "source": "switchboard",
        "source_ip_address": None,
        "url": workspace_url(base, ws, "Events", row["sid"]),
        "workspace_sid": ws,
    }


@api.route("GET", BASE, tag=TAG, summary="List events, newest first", params=(
    Param("EndDate", "datetime"),
    Param("EventType"),
    Param("Minutes", "integer", minimum=1, description="Events of the last N minutes "
          "(default 15), unless StartDate is given."),
    Param("ReservationSid"),
    Param("StartDate", "datetime"),
    Param("TaskQueueSid"),
    Param("TaskSid"),
    Param("WorkerSid"),
    Param("WorkflowSid"),
    Param("TaskChannel", description="SID or unique name."),
    Param("Sid"),
    *PAGING,
))
async def list_events(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    engine = ctx.engine()
    now = ctx.runtime.clock.now_ms()
    end = a["end_date"] if a["end_date"] is not None else now
    start = a["start_date"] if a["start_date"] is not None else (
        end - (a["minutes"] or DEFAULT_MINUTES) * 60_000)
    if start > end:
        raise InvalidParameter("StartDate must not be after EndDate")
    for attr, (name, prefix) in SID_FILTERS.items():
        well_formed(a[attr], name, prefix)
    channel = None
    if a["task_channel"] is not None:
        channel = engine.task_channel(a["task_channel"], "TaskChannel").unique_name
    size = a["page_size"] or 50
    number = a["page"] or 0
    token = a["page_token"]
    before_seq: int | None = None
    if token:
        if not (token.startswith("PA") and _is_number(token[2:])):
            raise InvalidParameter(f"Invalid PageToken '{token}'")
        before_seq = int(token[2:])
    events = tables.events
    query = select(events).where(events.c.workspace_sid == engine.workspace.sid,
                                 events.c.event_date >= start, events.c.event_date <= end)
    for attr, column in FILTERS.items():
        if a[attr] is not None:
            query = query.where(events.c[column] == a[attr])
    if channel is not None:
        query = query.where(events.c.task_channel == channel)
    if before_seq is not None:
        query = query.where(events.c.seq < before_seq)
    query = query.order_by(events.c.seq.desc()).limit(size + 1)
    if before_seq is None and number:
        query = query.offset(number * size)
    rows = await asyncio.to_thread(_fetch, ctx, query)
    more = len(rows) > size
    rows = rows[:size]

    url = workspace_url(ctx.base_url, engine.workspace.sid, "Events")
    filters = {k: v for k, v in ctx.query.items() if k not in ("PageSize", "Page", "PageToken")}

    def link(page_number: int, page_token: str | None) -> str:
        params = dict(filters, PageSize=size, Page=page_number)
        if page_token:
            params["PageToken"] = page_token
        return f"{url}?{urlencode(params, doseq=True)}"

    return {
        "events": [render_event(row, ctx.base_url) for row in rows],
        "meta": {
            "first_page_url": link(0, None),
            "key": "events",
            "next_page_url": link(number + 1, f"PA{rows[-1]['seq']}") if more else None,
            "page": number,
            "page_size": size,
            "previous_page_url": None,
            "url": link(number, token),
        },
    }


def _is_number(text: str) -> bool:
    """Plain ASCII digits that fit the store's 64-bit integers."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def _fetch(ctx: Context, query: Any) -> list[dict[str, Any]]:
    with ctx.runtime.store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


@api.route("GET", BASE + "/{Sid}", tag=TAG, summary="Fetch an event")
async def fetch_event(ctx: Context) -> dict[str, Any]:
    engine = ctx.engine()
    events = tables.events
    rows = await asyncio.to_thread(_fetch, ctx, select(events).where(
        events.c.workspace_sid == engine.workspace.sid, events.c.sid == ctx.path["Sid"]))
    if not rows:
        raise NotFound(f"The requested resource Event {ctx.path['Sid']} was not found")
    return render_event(rows[0], ctx.base_url)
