"""Logs: one format for every logger of the server, an access log, and the request ID.

``configure(level, fmt)`` (``serve --log-format text|json``) sets the root logger's one
handler; uvicorn's loggers are routed to it too, so the whole server writes one style.

* text: ``2026-01-01 00:00:00,000 INFO switchboard.access: GET /v1/… 200 1.2ms [RQ…]``
* json: one object per line: ``time`` (RFC 3339, UTC, milliseconds), ``level``, ``logger``,
  ``message``, then the context fields: ``request_id`` when made during a request, the access
  log's fields, and whatever a caller passed as ``extra``; ``exception`` with a traceback.

Every record made while a request is answered carries its ``Twilio-Request-Id``
(``request_id`` field, a ``logging.Filter`` reading ``api.headers.request_id()``), so a log line
can be found from an answer's header.

``AccessLog`` (told of each request by ``ops.requests.ObserveRequests``) writes one line per
HTTP request to the ``switchboard.access`` logger (INFO):
method, path, status, duration in ms, account SID and request ID, and the client's address;
a cluster node's line for a request it forwarded to the workspace's owner also has
``forwarded_to`` (the owner's URL), and the request ID of the owner's answer.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import Scope

from switchboard.api.headers import request_id
from switchboard.ops.requests import account_of, client_ip
from switchboard.service.accounts import AccountRegistry

ACCESS_LOGGER = "switchboard.access"
access_logger = logging.getLogger(ACCESS_LOGGER)  # once: getLogger takes logging's lock
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(request_tag)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# What every LogRecord has: anything else on a record is a context field.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "request_tag", "taskName"}


class RequestIdFilter(logging.Filter):
    """Adds the request being answered's ID to each record (``request_id``, or None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = getattr(record, "request_id", None) or request_id()
        record.request_id = rid
        record.request_tag = f" [{rid}]" if rid else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def configure(level: str, fmt: str = "text", stream: Any = None) -> None:
    """The root logger's one handler, in ``fmt``; uvicorn's loggers write through it."""
    level_name = "DEBUG" if level.lower() == "trace" else level.upper()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_name)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's ``log_config``: leave its loggers to ``configure``."""
    return {"version": 1, "disable_existing_loggers": False,
            "loggers": {name: {"handlers": [], "propagate": True} for name in UVICORN_LOGGERS}}


class AccessLog:
    """The access log, a ``RequestObserver`` (inside ``TwilioHeaders``, so the request ID is
    set): one line per HTTP request once it is answered."""

    def __init__(self, accounts: AccountRegistry) -> None:
        self.accounts = accounts

    def observed(self, scope: Scope, status: int, seconds: float) -> None:
        log_access(scope, self.accounts, status, seconds)  # nothing below INFO


def log_access(scope: Scope, accounts: AccountRegistry, status: int, seconds: float, *,
               forwarded_to: str | None = None, request_id: str | None = None) -> None:
    """The access line of one answered request. ``forwarded_to``: the node that answered it (a
    cluster node relayed its answer); ``request_id``: that answer's, when it is not this
    node's own request's."""
    if not access_logger.isEnabledFor(logging.INFO):
        return
    ms = round(seconds * 1000, 2)
    # The handler authenticated it unless it answered 401.
    account = None if status == 401 else account_of(accounts, scope, verify=False)
    path = scope["path"]
    extra: dict[str, Any] = {"method": scope["method"], "path": path, "status": status,
                             "duration_ms": ms, "account_sid": account,
                             "client": client_ip(scope)}
    if forwarded_to is not None:
        extra["forwarded_to"] = forwarded_to
    if request_id is not None:
        extra["request_id"] = request_id
    access_logger.info("%s %s %d %.1fms%s", scope["method"], path, status, ms,
                       f" forwarded to {forwarded_to}" if forwarded_to else "", extra=extra)
