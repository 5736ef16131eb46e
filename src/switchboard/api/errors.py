"""Twilio's error body: ``{"code", "message", "more_info", "status"}``.

Never add ``type``/``title``: with all four of type, title, status and code present the
official Python client raises a different exception class than TaskRouter's errors give.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response

from switchboard.routing.errors import RoutingError
from switchboard.service.runtime import NotHere


def error_body(status: int, code: int, message: str) -> bytes:
    """The JSON text of an error (also written raw by the server, before any ASGI app runs)."""
    return orjson.dumps({
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    })


def error_response(status: int, code: int, message: str,
                   headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(status, code, message), status_code=status,
                    media_type="application/json", headers=headers)


class Unauthorized(RoutingError):
    code = 20003
    status = 401


class SessionEnded(Unauthorized):
    """A console request (it sends the CSRF header) whose session is no longer valid: answered
    without a Basic challenge, which would make the browser prompt for a password."""


# Marks an answer given because the workspace is held by another node of the cluster: the
# cluster's router (``cluster/forwarding.py``) forwards the request instead of sending it.
NOT_HERE_HEADER = "X-Switchboard-Not-Here"


def routing_error_response(exc: RoutingError) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if isinstance(
        exc, Unauthorized) and not isinstance(exc, SessionEnded) else None
    if isinstance(exc, NotHere):
        headers = {NOT_HERE_HEADER: "1"}
    return error_response(exc.status, exc.code, exc.message, headers)
