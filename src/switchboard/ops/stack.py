"""What the app factory wraps around the API, in order, from the ``serve`` options."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Scope

from switchboard.ops.logs import AccessLog, log_access
from switchboard.ops.metrics import Metrics
from switchboard.ops.ratelimits import AuthBrake, TwilioRateLimits
from switchboard.ops.readiness import NodeState
from switchboard.ops.requests import ObserveRequests, RequestObserver
from switchboard.service.accounts import AccountRegistry


@dataclass
class Ops:
    metrics: Metrics | None = None  # --metrics-port
    access_log: bool = False  # serve: on unless --no-access-log
    rate_limits: str = "off"  # --rate-limits off|twilio
    node: NodeState | None = None  # a cluster node: its state counts for /readyz

    def wrap(self, app: ASGIApp, accounts: AccountRegistry,
             routes: Sequence[BaseRoute]) -> ASGIApp:
        """Inside ``TwilioHeaders`` (the request ID is set), outermost first: one observation
        of each request for the failed-authentication brake, the metrics and the access log
        (they see every answer, 429s included), the brake's delay (timed too), the rate
        limits."""
        if self.rate_limits == "twilio":
            app = TwilioRateLimits(app, accounts)
        observers: list[RequestObserver] = []
        if self.metrics is not None:
            observers.append(self.metrics.http(routes))
        if self.access_log:
            observers.append(AccessLog(accounts))
        return ObserveRequests(app, AuthBrake(), observers)

    def forwarded(self, scope: Scope, accounts: AccountRegistry, status: int, seconds: float,
                  owner_url: str | None, request_id: str | None) -> None:
        """A request a cluster node answered without its app: relayed to its workspace's owner
        at ``owner_url``, or refused (None) while no node could answer for the workspace. It
        is logged and counted here as the app's requests are."""
        if self.metrics is not None and owner_url is not None:
            self.metrics.http_forwarded.labels(scope["method"], str(status)).inc()
        if self.access_log:
            log_access(scope, accounts, status, seconds, forwarded_to=owner_url,
                       request_id=request_id)
