"""The event bridge's JSON RPC: ``POST /v1/wschannels`` with ``{url, method, params, token}``.

The Worker SDK sends every read and write this way, whatever the HTTP method it means, with
the resource's path relative to ``/v1`` (``Workspaces/WS…/Workers/WK…``), typed JSON
parameters, the ``apiVersion`` header (v1 or v2) and the worker's token in the body. It reads
``{"payload": …}`` back, in its own shapes (``shapes.py``), and surfaces any non-2xx answer's
``message``.

Each call is answered by the REST API's own handler for that resource, so validation and the
service call are the very same as over REST; only the token check before and the rendering
after are the bridge's. Transfers (v2 ``Workers/{WK}/Transfers``) have no REST resource: they
call the service directly. Conference routes (v2) and transfers of voice tasks need a telephone
network and are refused with a clear error.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from switchboard.api import activities, filters, reservations, task_queues, tasks, workers
from switchboard.api.endpoints import Context, Endpoint, Handler, Reply
from switchboard.api.errors import routing_error_response
from switchboard.api.params import Param, parse
from switchboard.bridge import shapes
from switchboard.bridge.tokens import Forbidden, Grant, TokenVerifier
from switchboard.routing.engine import WorkspaceEngine
from switchboard.routing.errors import InvalidParameter, NotFound, RoutingError
from switchboard.routing.model import RESERVATION_OPEN
from switchboard.routing.validate import MAX_JSON_DEPTH
from switchboard.service.accounts import Account
from switchboard.service.runtime import Runtime

log = logging.getLogger(__name__)
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50
# The REST endpoints the bridge answers with, by handler.
_ENDPOINTS: dict[Handler, Endpoint] = {
    e.handler: e for module in (activities, workers, task_queues, tasks, reservations)
    for e in module.api.endpoints
}


class NotSupported(InvalidParameter):
    """A Worker SDK feature that needs a telephone network (conferences, transfers)."""


@dataclass
class Call:
    """One RPC, authenticated and routed."""

    runtime: Runtime
    grant: Grant
    account: Account
    method: str
    path: dict[str, str]
    params: dict[str, Any]
    if_match: str | None
    base_url: str

    @property
    def engine(self) -> WorkspaceEngine:
        return self.runtime.engine(self.account.sid, self.path["WorkspaceSid"])

    @property
    def now(self) -> int:
        return self.runtime.clock.now_ms()

    async def rest(self, handler: Handler, params: Mapping[str, Any] | None = None) -> Any:
        """Run the REST API's handler for this resource with this call's parameters."""
        endpoint = _ENDPOINTS[handler]
        data = _form(endpoint.params, self.params if params is None else params)
        where = "post body" if endpoint.method == "POST" else "query string"
        args = parse(endpoint.params, data, where)
        headers = [(b"if-match", self.if_match.encode())] if self.if_match else []
        request = Request({"type": "http", "method": endpoint.method, "path": "/",
                           "path_params": self.path, "headers": headers, "query_string": b""})
        result = await handler(Context(request, self.runtime, self.account, args, self.base_url))
        return result.body if isinstance(result, Reply) else result

    async def rest_list(self, handler: Handler, params: Mapping[str, Any] | None = None
                        ) -> list[dict[str, Any]]:
        """Every item the REST list handler returns for these filters, all pages."""
        filters = {k: v for k, v in (self.params if params is None else params).items()
                   if k not in ("PageSize", "Page", "PageToken", "AfterSid", "NextToken")}
        items: list[dict[str, Any]] = []
        number = 0
        while True:
            body = await self.rest(handler, {**filters, "PageSize": MAX_PAGE_SIZE,
                                             "Page": number})
            items += body[body["meta"]["key"]]
            if not body["meta"]["next_page_url"]:
                return items
            number += 1


Action = Callable[[Call], Awaitable[Any]]
Access = Callable[[Call], None]


@dataclass(frozen=True)
class RpcRoute:
    method: str  # GET, POST, or * for any
    pattern: re.Pattern[str]
    action: Action
    access: Access  # what a worker's access token must be entitled to (capability: policies)


# ---------------------------------------------------------------------- access rules


def _anyone(call: Call) -> None:
    """Any token of the workspace (e.g. the activities every worker may choose from)."""


def _own_worker(call: Call) -> None:
    call.grant.check_worker(call.path.get("WorkerSid") or call.path["Sid"])


def _privileged(call: Call) -> None:
    if not call.grant.privileged:
        raise Forbidden("Only a token whose TaskRouter grant has the admin or supervisor role "
                        "may read the workspace's workers and queues")


def _task_holder(call: Call) -> None:
    """Reading a task the worker holds (or held) a reservation for."""
    _check_task_reservation(call, frozenset(), "has no reservation for")


def _open_task_holder(call: Call) -> None:
    """Changing a task: only while the worker's reservation for it is open."""
    _check_task_reservation(call, RESERVATION_OPEN, "has no open reservation for")


def _check_task_reservation(call: Call, statuses: frozenset[str], missing: str) -> None:
    """The task exists (404 if not) and the worker has a reservation for it, in one of
    ``statuses`` when any are given; admin and supervisor tokens may act on any task."""
    task_sid = call.path.get("TaskSid") or call.path["Sid"]
    engine = call.engine
    engine.task(task_sid)
    if call.grant.privileged:
        return
    if not any(r.worker_sid == call.grant.worker_sid
               and (not statuses or r.reservation_status in statuses)
               for r in engine.task_reservations.get(task_sid, ())):
        raise Forbidden(f"Worker {call.grant.worker_sid} {missing} task {task_sid}")


def _task_reservation_holder(call: Call) -> None:
    reservation = call.engine.reservation(call.path["Sid"], task_sid=call.path["TaskSid"])
    call.grant.check_worker(reservation.worker_sid)


def _own_routing_target(call: Call) -> None:
    """Workers create tasks for themselves (``Worker.createTask`` routes to the worker)."""
    if call.grant.privileged:
        return
    target = call.params.get("RoutingTarget")
    if target != call.grant.worker_sid:
        raise Forbidden(f"A worker's token may create tasks only with RoutingTarget "
                        f"{call.grant.worker_sid}")


# ---------------------------------------------------------------------- actions


def _page(items: list[Any], params: Mapping[str, Any],
          render: Callable[[Any], dict[str, Any]], prefix: str,
          known: Callable[[str], bool]) -> dict[str, Any]:
    """``{"contents": [...], "after_sid": …}``: the SDK asks for the next page with AfterSid
    (NextToken when it orders the list), the SID of the last item of the page before."""
    size = _integer(params.get("PageSize"), "PageSize", DEFAULT_PAGE_SIZE)
    size = max(1, min(size, MAX_PAGE_SIZE))
    start = 0
    name = "AfterSid" if params.get("AfterSid") is not None else "NextToken"
    after = params.get(name)
    if after is not None:
        filters.well_formed(after if isinstance(after, str) else repr(after), name, prefix)
        sids = [item.sid for item in items]
        if after in sids:
            start = sids.index(after) + 1
        elif known(after):
            # It left this list since the page before (changed, filtered out): go on after
            # where it stood in creation (SID) order.
            start = next((i for i, sid in enumerate(sids) if sid > after), len(items))
        else:
            raise InvalidParameter(f"Invalid {name} '{after}': it names nothing of this "
                                   "list")
    chunk = items[start:start + size]
    after_sid = chunk[-1].sid if chunk and start + size < len(items) else None
    return {"contents": [render(item) for item in chunk], "after_sid": after_sid,
            "meta": {"next_token": after_sid, "page_size": size}}


async def fetch_worker(call: Call) -> dict[str, Any]:
    body = await call.rest(workers.fetch_worker)
    return shapes.worker(call.engine, call.engine.worker(body["sid"]))


async def update_worker(call: Call) -> dict[str, Any]:
    body = await call.rest(workers.update_worker)
    return shapes.worker(call.engine, call.engine.worker(body["sid"]))


async def list_workers(call: Call) -> dict[str, Any]:
    engine = call.engine
    found = [engine.workers[w["sid"]] for w in await call.rest_list(workers.list_workers)
             if w["sid"] in engine.workers]
    return _page(found, call.params, lambda w: shapes.worker(engine, w), "WK",
                 engine.workers.__contains__)


async def list_activities(call: Call) -> dict[str, Any]:
    engine = call.engine
    found = [engine.activities[a["sid"]] for a in await call.rest_list(
        activities.list_activities) if a["sid"] in engine.activities]
    return _page(found, call.params, shapes.activity, "WA", engine.activities.__contains__)


async def list_worker_channels(call: Call) -> dict[str, Any]:
    engine = call.engine
    channels = engine.worker_channels.get(call.path["WorkerSid"], {})
    found = [channels[c["task_channel_sid"]]
             for c in await call.rest_list(workers.list_worker_channels)
             if c["task_channel_sid"] in channels]
    return _page(found, call.params, lambda wc: shapes.worker_channel(engine, wc), "WC",
                 lambda sid: any(wc.sid == sid for wc in channels.values()))


async def update_worker_channel(call: Call) -> dict[str, Any]:
    body = await call.rest(workers.update_worker_channel)
    engine = call.engine
    wc = engine.worker_channel(call.path["WorkerSid"], body["sid"])
    return shapes.worker_channel(engine, wc)


async def list_worker_reservations(call: Call) -> dict[str, Any]:
    engine = call.engine
    found = [engine.reservations[r["sid"]]
             for r in await call.rest_list(reservations.list_worker_reservations)
             if r["sid"] in engine.reservations]
    if _flag(call.params.get("Active")):
        found = [r for r in found if r.reservation_status in RESERVATION_OPEN]
    now = call.now
    mine = engine.worker_reservations.get(call.path["WorkerSid"], {})
    # The list the SDK loads at start: with transfers, as pushes bring them.
    return _page(found, call.params, lambda r: shapes.reservation(
        engine, r, now, incoming=True, outgoing=True), "WR",
                 mine.__contains__)


def _reservation_action(handler: Handler) -> Action:
    async def action(call: Call) -> dict[str, Any]:
        body = await call.rest(handler)
        engine = call.engine
        return shapes.reservation(engine, engine.reservation(body["sid"]), call.now)
    return action


async def _task_reply(call: Call, handler: Handler, params: Mapping[str, Any] | None = None
                      ) -> dict[str, Any]:
    body = await call.rest(handler, params)
    engine = call.engine
    return shapes.task(engine, engine.task(body["sid"]), call.now)


async def fetch_task(call: Call) -> dict[str, Any]:
    return await _task_reply(call, tasks.fetch_task)


async def update_task(call: Call) -> dict[str, Any]:
    return await _task_reply(call, tasks.update_task)


async def create_task(call: Call) -> dict[str, Any]:
    params = dict(call.params)
    # Worker.createTask names the channel TaskChannelUniqueName or TaskChannelSid.
    for name in ("TaskChannelUniqueName", "TaskChannelSid"):
        value = params.pop(name, None)
        if value is not None:
            params.setdefault("TaskChannel", value)
    return await _task_reply(call, tasks.create_task, params)


async def list_task_queues(call: Call) -> dict[str, Any]:
    engine = call.engine
    found = [engine.task_queues[q["sid"]] for q in await call.rest_list(
        task_queues.list_task_queues) if q["sid"] in engine.task_queues]
    return _page(found, call.params, lambda q: shapes.task_queue(engine, q), "WQ",
                 engine.task_queues.__contains__)


async def fetch_task_queue(call: Call) -> dict[str, Any]:
    body = await call.rest(task_queues.fetch_task_queue)
    return shapes.task_queue(call.engine, call.engine.task_queue(body["sid"]))


async def create_transfer(call: Call) -> dict[str, Any]:
    """``task.transfer(to, {mode, priority, attributes})``: ``{ReservationSid, TaskSid, To[,
    Mode, Priority, Attributes]}``, answered with the transfer."""
    params = call.params
    task_sid = _string(params, "TaskSid")
    reservation_sid = _string(params, "ReservationSid")
    to = _string(params, "To")
    mode = _optional_string(params, "Mode")
    priority = params.get("Priority")
    if priority is not None:
        priority = _integer(priority, "Priority", 0)
    attributes = params.get("Attributes")
    if attributes is not None:
        attributes = _text(attributes)  # an object from the SDK, kept as its JSON text
    engine = call.engine
    channel = engine.task_channels.get(engine.task(task_sid).task_channel_sid)
    if channel is not None and channel.unique_name == "voice":
        raise NotSupported(
            "Transferring a voice task needs a telephone network and conferences, which this "
            "server does not have; nothing was changed (tasks of other channels transfer)")
    worker_sid = call.path["WorkerSid"]
    transfer = await call.runtime.run(
        call.account.sid, call.path["WorkspaceSid"],
        lambda engine, now: engine.transfer_task(
            task_sid, reservation_sid, now, to=to, worker_sid=worker_sid, mode=mode,
            priority=priority, attributes=attributes))
    return shapes.transfer(transfer)


async def fetch_transfer(call: Call) -> dict[str, Any]:
    transfer = call.engine.transfer(call.path["Sid"])
    if transfer.initiating_worker_sid != call.path["WorkerSid"]:
        raise NotFound(f"The requested resource Transfer {transfer.sid} was not found")
    return shapes.transfer(transfer)


async def update_transfer(call: Call) -> dict[str, Any]:
    """``transfer.cancel()``: ``{TaskSid, TransferStatus: "canceled"}``."""
    status = _string(call.params, "TransferStatus")
    if status != "canceled":
        raise InvalidParameter(f"TransferStatus can only be set to canceled, not '{status}'")
    task_sid = _optional_string(call.params, "TaskSid")
    sid, worker_sid = call.path["Sid"], call.path["WorkerSid"]
    transfer = await call.runtime.run(
        call.account.sid, call.path["WorkspaceSid"],
        lambda engine, now: engine.cancel_transfer(sid, now, worker_sid=worker_sid,
                                                   task_sid=task_sid))
    return shapes.transfer(transfer)


def _not_supported(feature: str) -> Action:
    async def action(call: Call) -> Any:
        raise NotSupported(
            f"{feature} needs a telephone network and conferences, which this server does not "
            "have; nothing was changed")
    return action


# ---------------------------------------------------------------------- the route table


def _route(method: str, template: str, action: Action, access: Access) -> RpcRoute:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return RpcRoute(method, re.compile(pattern), action, access)


WS = "Workspaces/{WorkspaceSid}"
WK = WS + "/Workers/{WorkerSid}"
ROUTES = (
    _route("GET", WS + "/Workers/{Sid}", fetch_worker, _own_worker),
    _route("POST", WS + "/Workers/{Sid}", update_worker, _own_worker),
    _route("GET", WS + "/Workers", list_workers, _privileged),
    _route("GET", WS + "/Activities", list_activities, _anyone),
    _route("GET", WK + "/WorkerChannels", list_worker_channels, _own_worker),
    _route("GET", WK + "/Channels", list_worker_channels, _own_worker),
    _route("POST", WK + "/WorkerChannels/{Sid}", update_worker_channel, _own_worker),
    _route("POST", WK + "/Channels/{Sid}", update_worker_channel, _own_worker),
    _route("GET", WK + "/Reservations", list_worker_reservations, _own_worker),
    _route("GET", WK + "/Reservations/{Sid}",
           _reservation_action(reservations.fetch_worker_reservation), _own_worker),
    _route("POST", WK + "/Reservations/{Sid}",
           _reservation_action(reservations.update_worker_reservation), _own_worker),
    _route("POST", WS + "/Tasks", create_task, _own_routing_target),
    _route("GET", WS + "/Tasks/{Sid}", fetch_task, _task_holder),
    _route("POST", WS + "/Tasks/{Sid}", update_task, _open_task_holder),
    _route("GET", WS + "/Tasks/{TaskSid}/Reservations/{Sid}",
           _reservation_action(reservations.fetch_task_reservation), _task_reservation_holder),
    _route("POST", WS + "/Tasks/{TaskSid}/Reservations/{Sid}",
           _reservation_action(reservations.update_task_reservation), _task_reservation_holder),
    _route("GET", WS + "/TaskQueues", list_task_queues, _privileged),
    _route("GET", WS + "/TaskQueues/{Sid}", fetch_task_queue, _privileged),
    _route("POST", WK + "/Transfers", create_transfer, _own_worker),
    _route("GET", WK + "/Transfers/{Sid}", fetch_transfer, _own_worker),
    _route("POST", WK + "/Transfers/{Sid}", update_transfer, _own_worker),
    *(_route("*", WK + "/" + name, _not_supported(feature), _own_worker) for name, feature in (
        ("CustomerParticipant", "Updating the customer's call leg"),
        ("WorkerParticipant", "Updating a worker's call leg"),
        ("HoldWorkerParticipant", "Holding a worker's call leg"),
        ("KickWorkerParticipant", "Removing a worker from a conference"),
    )),
)


def relative(url: str) -> str:
    """``Workspaces/…``: the SDK's URL without a leading slash or version."""
    path = url.strip("/")
    for prefix in ("v1/", "v2/"):
        path = path.removeprefix(prefix)
    return path


def match(method: str, url: str) -> tuple[RpcRoute, dict[str, str]]:
    path = relative(url)
    for route in ROUTES:
        if route.method not in ("*", method):
            continue
        found = route.pattern.fullmatch(path)
        if found is not None:
            return route, {k: v for k, v in found.groupdict().items() if v is not None}
    raise NotFound(f"The requested resource {method} {url} was not found on the event bridge")


# ---------------------------------------------------------------------- the endpoint


class EventBridgeRpc:
    """``POST /v1/wschannels``."""

    def __init__(self, runtime: Runtime, verifier: TokenVerifier, public_url: str | None):
        self.runtime = runtime
        self.verifier = verifier
        self.public_url = public_url

    async def handle(self, request: Request) -> Response:
        try:
            body = _envelope(await request.body())
            grant = self.verifier.verify(body["token"])
            method = body["method"]
            route, path = match(method, body["url"])
            params = body["params"]
            if "WorkspaceSid" in path:
                grant.check_workspace(path["WorkspaceSid"])
            account = self.runtime.accounts.accounts[grant.account_sid]
            base = self.public_url or f"{request.url.scheme}://{request.url.netloc}"
            call = Call(self.runtime, grant, account, method, path, params,
                        request.headers.get("if-match"), base)
            call.engine  # noqa: B018 - 404 unless the workspace is the token's account's
            if grant.kind == "capability_token":
                grant.check_policies(method, "/v1/" + relative(body["url"]), params)
            else:
                route.access(call)
            payload = await route.action(call)
        except RoutingError as exc:
            return routing_error_response(exc)
        return Response(orjson.dumps({"payload": payload}), media_type="application/json")


def _envelope(raw: bytes) -> dict[str, Any]:
    """The JSON body, whatever Content-Type the client labelled it with."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidParameter("The request body must be JSON: {url, method, params, token}") \
            from None
    if not isinstance(body, dict):
        raise InvalidParameter("The request body must be a JSON object: "
                               "{url, method, params, token}")
    for name in ("url", "method", "token"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise InvalidParameter(f"Missing required field '{name}' in the request body")
    params = body.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidParameter("The request body's 'params' must be a JSON object")
    method = body["method"].upper()
    if method not in ("GET", "POST", "DELETE"):
        raise InvalidParameter(f"Unknown method '{body['method']}': use GET or POST")
    return {"url": body["url"], "method": method, "params": params, "token": body["token"]}


# ---------------------------------------------------------------------- typed JSON -> form


def _form(params: tuple[Param, ...], values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The SDK's typed JSON parameters as the REST API's form fields."""
    kinds = {p.name: p.kind for p in params}
    items: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is None:
            continue
        if kinds.get(name) == "list" and isinstance(value, list):
            items += [(name, _text(v)) for v in value]
        else:
            items.append((name, _text(value)))
    return items


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    # Attributes arrive as JSON objects; the REST API keeps the JSON text it is given (and
    # refuses it when nested too deeply: the envelope's own parser allows more levels).
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except RecursionError:
        raise InvalidParameter(f"A parameter is nested more than {MAX_JSON_DEPTH} levels "
                               "deep") from None


def _optional_string(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidParameter(f"Invalid parameter {name}: {value!r} is not a string")
    return value


def _string(params: Mapping[str, Any], name: str) -> str:
    value = _optional_string(params, name)
    if value is None:
        raise InvalidParameter(f"Missing required parameter {name}")
    return value


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in (
        "true", "1", "yes"))


def _integer(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise InvalidParameter(f"Invalid parameter {name}: {value!r} is not an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"Invalid parameter {name}: {value!r} is not an integer") \
            from None
