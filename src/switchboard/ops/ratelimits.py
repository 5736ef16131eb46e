"""Rate limits as TaskRouter applies them (``serve --rate-limits twilio``), and a brake on
repeated failed authentications (always on).

Under ``twilio``, each account's requests are limited as TaskRouter's defaults do (the
numbers and their sources are in ``docs/operations.md``):

* the filtered list endpoints, 3 requests per second each (Twilio changelog, 2024-10-18):
  ``Task-List-EvaluateTaskAttributes`` (``GET …/Tasks?EvaluateTaskAttributes=``),
  ``Worker-List-TargetWorkersExpression`` (``GET …/Workers?TargetWorkersExpression=``),
  ``TaskQueue-List-EvaluateWorkerAttributes`` (``GET …/TaskQueues?EvaluateWorkerAttributes=``);
* ``TaskQueueStatistics-List`` (``GET …/TaskQueues/Statistics``), 50 per second;
* every other request: at most 100 of the account's requests under way at once
  (``Account-Concurrency``), Twilio's default API concurrency per account.

Rates are token buckets holding one second's worth (a burst of the limit, then the limit per
second). Every answer of an authenticated request under a limit carries
``X-Rate-Limit-Limit``, ``X-Rate-Limit-Remaining`` and ``X-Rate-Limit-Config`` (the resource
key); a request over it gets 429 with Twilio's error 20429, the same three headers and
``Retry-After``. With ``off`` (the default) none of this happens: no header, never a 429.

``AuthBrake``: a client address whose authentications as one SID keep failing (more than
``FREE_FAILURES`` within ``FAILURE_MEMORY_SECONDS``) waits before each further request as that
SID is looked at, twice as long for each failure, at most ``MAX_DELAY_SECONDS``; a success
clears it. Guessing one account's secret is slowed down; a test suite trying several wrong
credentials in turn is not held up by the others' failures. A request without credentials
guesses nothing: it neither waits nor counts (the console's sign-in, whose SID and secret are in
its body, does). Every failed authentication is logged (the SID tried, never the secret).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard.api.errors import error_response
from switchboard.ops.requests import account_of, basic_username, client_ip
from switchboard.service.accounts import AccountRegistry

log = logging.getLogger(__name__)
MODES = ("off", "twilio")
ERROR_CODE = 20429
CONCURRENCY_KEY = "Account-Concurrency"
CONCURRENCY_LIMIT = 100
_WS = r"^/v1/Workspaces/[^/]+"


@dataclass(frozen=True)
class Limit:
    key: str  # Twilio's resource key, sent as X-Rate-Limit-Config
    template: str  # the route template (metrics' label)
    path: re.Pattern[str]
    per_second: int
    when_param: str | None = None  # only when the query has this parameter


LIMITS = (
    Limit("Task-List-EvaluateTaskAttributes", "/v1/Workspaces/{WorkspaceSid}/Tasks",
          re.compile(_WS + r"/Tasks/?$"), 3, "EvaluateTaskAttributes"),
    Limit("Worker-List-TargetWorkersExpression", "/v1/Workspaces/{WorkspaceSid}/Workers",
          re.compile(_WS + r"/Workers/?$"), 3, "TargetWorkersExpression"),
    Limit("TaskQueue-List-EvaluateWorkerAttributes",
          "/v1/Workspaces/{WorkspaceSid}/TaskQueues",
          re.compile(_WS + r"/TaskQueues/?$"), 3, "EvaluateWorkerAttributes"),
    Limit("TaskQueueStatistics-List", "/v1/Workspaces/{WorkspaceSid}/TaskQueues/Statistics",
          re.compile(_WS + r"/TaskQueues/Statistics/?$"), 50),
)


def limit_for(method: str, path: str, query: bytes) -> Limit | None:
    if method != "GET":
        return None
    for limit in LIMITS:
        if limit.path.match(path):
            if limit.when_param is None:
                return limit
            params = parse_qs(query.decode("latin-1"), keep_blank_values=True)
            return limit if limit.when_param in params else None
    return None


class Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, capacity: float, now: float) -> None:
        self.tokens = capacity
        self.updated = now

    def take(self, rate: float, now: float) -> bool:
        self.tokens = min(rate, self.tokens + (now - self.updated) * rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _headers(limit: int, remaining: int, key: str) -> list[tuple[bytes, bytes]]:
    return [(b"X-Rate-Limit-Limit", str(limit).encode()),
            (b"X-Rate-Limit-Remaining", str(max(0, remaining)).encode()),
            (b"X-Rate-Limit-Config", key.encode())]


class TwilioRateLimits:
    """ASGI middleware: TaskRouter's default limits, per account."""

    def __init__(self, app: ASGIApp, accounts: AccountRegistry,
                 concurrency: int = CONCURRENCY_LIMIT) -> None:
        self.app = app
        self.accounts = accounts
        self.concurrency = concurrency
        self.buckets: dict[tuple[str, str], Bucket] = {}
        self.in_flight: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        account = account_of(self.accounts, scope, verify=True)
        if account is None:  # the handler answers 401 (or it needs no account)
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["method"], scope["path"], scope.get("query_string", b""))
        if limit is not None:
            now = time.monotonic()
            bucket = self.buckets.get((account, limit.key))
            if bucket is None:
                bucket = self.buckets[(account, limit.key)] = Bucket(limit.per_second, now)
            allowed = bucket.take(limit.per_second, now)
            headers = _headers(limit.per_second, math.floor(bucket.tokens), limit.key)
            if not allowed:
                scope["switchboard.route"] = limit.template
                wait = (1 - bucket.tokens) / limit.per_second
                await self._refuse(scope, receive, send, headers, wait, limit.key)
                return
            await self.app(scope, receive, _adding(send, headers))
            return
        running = self.in_flight.get(account, 0)
        if running >= self.concurrency:
            await self._refuse(scope, receive, send,
                               _headers(self.concurrency, 0, CONCURRENCY_KEY), 1.0,
                               CONCURRENCY_KEY)
            return
        self.in_flight[account] = running + 1
        try:
            headers = _headers(self.concurrency, self.concurrency - running - 1,
                               CONCURRENCY_KEY)
            await self.app(scope, receive, _adding(send, headers))
        finally:
            left = self.in_flight[account] - 1
            if left:
                self.in_flight[account] = left
            else:
                del self.in_flight[account]

    async def _refuse(self, scope: Scope, receive: Receive, send: Send,
                      headers: list[tuple[bytes, bytes]], wait: float, key: str) -> None:
        response = error_response(429, ERROR_CODE, f"Too Many Requests: the rate limit of "
                                  f"{key} was exceeded; retry later")
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        await response(scope, receive, _adding(send, headers))


def _adding(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    async def send_with(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *headers]
        await send(message)
    return send_with


FREE_FAILURES = 5
FAILURE_MEMORY_SECONDS = 300.0
BASE_DELAY_SECONDS = 0.25
MAX_DELAY_SECONDS = 10.0
MAX_CLIENTS = 100_000  # addresses remembered at most (the oldest are forgotten)
CONSOLE_SIGN_IN = "/console/api/session"  # POST: its SID and secret are in the body
_SID = re.compile(r"(AC|SK)[0-9a-fA-F]{32}")  # what a username may be logged as


class AuthBrake:
    """Slows down the addresses that keep failing to authenticate, whatever
    ``--rate-limits`` says: ``ObserveRequests`` holds each request (``hold``) while some
    address is failing, and tells the brake of each answer (``observed``), which counts and
    logs the failures (401) and clears an address's count when it succeeds. While no address
    is failing (the common case), a request passes without its credentials being read."""

    def __init__(self) -> None:
        # (client address, SID tried) -> (failures, time of the last one)
        self.failures: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()

    def delay(self, key: tuple[str, str], now: float) -> float:
        entry = self.failures.get(key)
        if entry is None:
            return 0.0
        count, last = entry
        if now - last > FAILURE_MEMORY_SECONDS:
            del self.failures[key]
            return 0.0
        if count <= FREE_FAILURES:
            return 0.0
        return float(min(MAX_DELAY_SECONDS,
                         BASE_DELAY_SECONDS * 2.0 ** (count - FREE_FAILURES - 1)))

    async def hold(self, scope: Scope) -> None:
        """Wait as long as the request's address and SID have earned (some address is
        failing: ``failures`` is not empty)."""
        key = _guess(scope)[2]
        wait = self.delay(key, time.monotonic()) if key is not None else 0.0
        if wait:
            await asyncio.sleep(wait)

    def observed(self, scope: Scope, status: int, seconds: float) -> None:
        if status == 401:
            username, _, key = _guess(scope)
            self._failed(scope, username, key)
        elif status < 400 and self.failures:
            _, credentials, key = _guess(scope)
            if credentials and key is not None:
                self.failures.pop(key, None)

    def _failed(self, scope: Scope, username: str | None,
                key: tuple[str, str] | None) -> None:
        ip = client_ip(scope)
        count = 1
        if key is not None:  # counted: a guess
            count = self.failures.pop(key, (0, 0.0))[0] + 1
            self.failures[key] = (count, time.monotonic())
            while len(self.failures) > MAX_CLIENTS:
                self.failures.popitem(last=False)
        log.warning("authentication failed for %s %s from %s (username %s; %d failure(s) "
                    "in a row from this address as this SID)", scope["method"], scope["path"], ip,
                    username or "(none)", count,
                    extra={"client": ip, "username": username, "failures": count})


def _guess(scope: Scope) -> tuple[str | None, bool, tuple[str, str] | None]:
    """Who a request claims to be: the username it tried (as logged), whether it carries
    credentials, and the (client address, SID) its failures are counted under (None: not
    counted)."""
    ip = client_ip(scope)
    credentials = basic_username(scope)
    username = credentials[0] if credentials else None
    if username is not None and not _SID.fullmatch(username):
        username = "(not a SID)"
    if credentials is not None:
        return username, True, (ip, username or "")
    # A request without credentials guesses nothing, so it neither waits nor counts (else
    # anyone's failures from an address would slow a signed-in console page, whose requests
    # carry none); the console's sign-in carries them in its body.
    signing_in = (scope["method"], scope["path"]) == ("POST", CONSOLE_SIGN_IN)
    return None, False, (ip, "(console sign-in)") if signing_in else None
