"""Twilio tokens that let a worker's own client (the Worker SDK) use the event bridge.

Two kinds are verified, exactly as the official helper libraries mint them:

* **Access tokens** with a TaskRouter grant (``AccessToken`` + ``TaskRouterGrant``): signed
  with an API key's secret; header ``cty: twilio-fpa;v=1``; ``iss`` is the key (SK…), ``sub``
  the account (AC…), ``grants.task_router`` names the workspace, the worker and a role.
* **Capability tokens** (``TaskRouterCapabilityToken`` / ``WorkerCapabilityToken``): signed
  with the account's auth token; ``iss`` is the account; ``policies`` list what the holder may
  do, by URL. Policies are matched on the URL's path: their host (``taskrouter.twilio.com``,
  ``event-bridge.twilio.com``) is ignored.

Times are checked against the server's clock (a manual clock moves them too), with a small
leeway for clocks that differ a little.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import jwt

from switchboard.routing.errors import RoutingError
from switchboard.service.accounts import Account, ApiKey
from switchboard.service.clock import Clock

LEEWAY_MS = 30_000
ACCESS_TOKEN_CONTENT_TYPE = "twilio-fpa;v=1"
# Roles that may act on any worker of the workspace; any other role (Twilio's "worker", or
# none) acts only as the worker the token names.
PRIVILEGED_ROLES = frozenset({"admin", "supervisor"})


class TokenError(RoutingError):
    """Twilio 20101: the token is malformed, wrongly signed or its issuer is unknown."""

    code = 20101
    status = 401


class TokenExpired(TokenError):
    code = 20104


class TokenNotYetValid(TokenError):
    code = 20105


class Forbidden(RoutingError):
    """Twilio 20403: a valid token that does not allow this request."""

    code = 20403
    status = 403


class Credentials(Protocol):
    """Where the secrets live (``runtime.accounts``)."""

    @property
    def accounts(self) -> Mapping[str, Account]: ...

    @property
    def keys(self) -> Mapping[str, ApiKey]: ...


@dataclass(frozen=True, slots=True)
class Policy:
    """One entry of a capability token's ``policies``, its URL reduced to a path."""

    path: str
    method: str
    allow: bool
    query_filter: Mapping[str, Any] = field(default_factory=dict)
    post_filter: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, method: str, path: str) -> bool:
        return (self.method == method.upper()
                and _path_pattern(self.path).fullmatch(path) is not None)

    def admits(self, params: Mapping[str, Any], method: str) -> bool:
        """Do the request's parameters satisfy the filter (``{"Name": {"required": true}}``)?"""
        constraints = self.post_filter if method.upper() == "POST" else self.query_filter
        for name, rule in constraints.items():
            if isinstance(rule, Mapping) and rule.get("required") and params.get(name) is None:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Grant:
    """What a verified token allows: who issued it, for which workspace and worker, until when."""

    kind: str  # "access_token" or "capability_token"
    account_sid: str
    issuer: str  # the API key (SK…) or the account (AC…) whose secret signed it
    workspace_sid: str
    worker_sid: str | None
    role: str | None
    identity: str | None
    expires_ms: int
    policies: tuple[Policy, ...] = ()

    @property
    def privileged(self) -> bool:
        return self.kind == "access_token" and self.role in PRIVILEGED_ROLES

    def check_workspace(self, workspace_sid: str) -> None:
        if workspace_sid != self.workspace_sid:
            raise Forbidden(f"The token is for workspace {self.workspace_sid}, not "
                            f"{workspace_sid}")

    def check_worker(self, worker_sid: str) -> None:
        """A worker's token acts only as that worker (a privileged role as any worker)."""
        if self.privileged or worker_sid == self.worker_sid:
            return
        if self.worker_sid is None:
            raise Forbidden(f"The token names no worker and cannot act as worker {worker_sid}")
        raise Forbidden(f"The token of worker {self.worker_sid} cannot act as worker "
                        f"{worker_sid}")

    def check_policies(self, method: str, path: str, params: Mapping[str, Any]) -> None:
        """Capability tokens: some policy must allow ``method path`` and none deny it."""
        if self.kind != "capability_token":
            return
        matching = [p for p in self.policies if p.matches(method, path)]
        if not any(p.allow and p.admits(params, method) for p in matching) or any(
                not p.allow for p in matching):
            raise Forbidden(f"The token's policies do not allow {method.upper()} {path}")


class TokenVerifier:
    def __init__(self, credentials: Credentials, clock: Clock, leeway_ms: int = LEEWAY_MS):
        self.credentials = credentials
        self.clock = clock
        self.leeway_ms = leeway_ms

    def verify(self, token: str) -> Grant:
        """The grant of a valid token; ``TokenError`` saying what is wrong otherwise."""
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenError("The token is not a valid JWT") from None
        if header.get("alg") != "HS256":
            raise TokenError(f"The token's algorithm must be HS256, not {header.get('alg')}")
        issuer = claims.get("iss")
        if not isinstance(issuer, str):
            raise TokenError("The token has no issuer (iss)")
        if issuer.startswith("SK"):
            secret, account = self._api_key(issuer, claims, header)
        elif issuer.startswith("AC"):
            account = self._account(issuer)
            secret = account.auth_token
        else:
            raise TokenError(f"The token's issuer {issuer} is neither an API key (SK…) nor an "
                             "account (AC…)")
        self._check_signature(token, secret)
        expires_ms = self._check_times(claims)
        if issuer.startswith("SK"):
            return self._access_grant(claims, account.sid, issuer, expires_ms)
        return self._capability_grant(claims, account.sid, expires_ms)

    # ------------------------------------------------------------------ parts

    def _api_key(self, sid: str, claims: dict[str, Any], header: dict[str, Any]
                 ) -> tuple[str, Account]:
        if header.get("cty") != ACCESS_TOKEN_CONTENT_TYPE:
            raise TokenError(f"An access token's header must have cty "
                             f"'{ACCESS_TOKEN_CONTENT_TYPE}'")
        key = self.credentials.keys.get(sid)
        if key is None:
            raise TokenError(f"The token is signed with API key {sid}, which does not exist or "
                             "was deleted")
        if claims.get("sub") != key.account_sid:
            raise TokenError(f"The token's subject {claims.get('sub')} is not the account of "
                             f"API key {sid}")
        return key.secret, self._account(key.account_sid)

    def _account(self, sid: str) -> Account:
        account = self.credentials.accounts.get(sid)
        if account is None or account.status != "active":
            raise TokenError(f"The token's account {sid} does not exist or is not active")
        return account

    @staticmethod
    def _check_signature(token: str, secret: str) -> None:
        try:
            with warnings.catch_warnings():
                # The secret's length is the account's, not something a verifier can change.
                warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
                jwt.decode(token, secret, algorithms=["HS256"],
                           options={"verify_exp": False, "verify_nbf": False,
                                    "verify_iat": False})
        except jwt.InvalidSignatureError:
            raise TokenError("The token's signature is not valid for its issuer's secret") \
                from None
        except jwt.PyJWTError as exc:
            raise TokenError(f"The token is not valid: {exc}") from None

    def _check_times(self, claims: dict[str, Any]) -> int:
        now = self.clock.now_ms()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise TokenError("The token has no expiry (exp)")
        if now - self.leeway_ms >= exp * 1000:
            raise TokenExpired(f"The token expired at {int(exp)} (server time "
                               f"{now // 1000})")
        if nbf is not None:
            if not isinstance(nbf, int | float) or isinstance(nbf, bool):
                raise TokenError("The token's nbf is not a number")
            if now + self.leeway_ms < nbf * 1000:
                raise TokenNotYetValid(f"The token is not valid before {int(nbf)} (server time "
                                       f"{now // 1000})")
        return int(exp * 1000)

    @staticmethod
    def _access_grant(claims: dict[str, Any], account_sid: str, issuer: str,
                      expires_ms: int) -> Grant:
        grants = claims.get("grants")
        task_router = grants.get("task_router") if isinstance(grants, dict) else None
        if not isinstance(task_router, dict):
            raise TokenError("The access token has no TaskRouter grant (grants.task_router)")
        workspace_sid = task_router.get("workspace_sid")
        if not isinstance(workspace_sid, str) or not workspace_sid.startswith("WS"):
            raise TokenError("The TaskRouter grant names no workspace (workspace_sid)")
        worker_sid = task_router.get("worker_sid")
        role = task_router.get("role")
        identity = grants.get("identity") if isinstance(grants, dict) else None
        return Grant(
            kind="access_token", account_sid=account_sid, issuer=issuer,
            workspace_sid=workspace_sid,
            worker_sid=worker_sid if isinstance(worker_sid, str) and worker_sid else None,
            role=role if isinstance(role, str) else None,
            identity=identity if isinstance(identity, str) else None,
            expires_ms=expires_ms)

    @staticmethod
    def _capability_grant(claims: dict[str, Any], account_sid: str, expires_ms: int) -> Grant:
        workspace_sid = claims.get("workspace_sid")
        if not isinstance(workspace_sid, str) or not workspace_sid.startswith("WS"):
            raise TokenError("The capability token names no workspace (workspace_sid)")
        if claims.get("account_sid", account_sid) != account_sid:
            raise TokenError("The capability token's account_sid is not its issuer")
        channel = claims.get("channel")
        worker_sid = claims.get("worker_sid")
        if not isinstance(worker_sid, str) and isinstance(channel, str) and channel.startswith(
                "WK"):
            worker_sid = channel
        policies = claims.get("policies")
        if not isinstance(policies, list):
            raise TokenError("The capability token has no policies")
        return Grant(
            kind="capability_token", account_sid=account_sid, issuer=account_sid,
            workspace_sid=workspace_sid,
            worker_sid=worker_sid if isinstance(worker_sid, str) else None, role=None,
            identity=None, expires_ms=expires_ms,
            policies=tuple(_policy(p) for p in policies))


def _policy(raw: Any) -> Policy:
    if not isinstance(raw, dict) or not isinstance(raw.get("url"), str):
        raise TokenError("A capability token policy has no url")
    query_filter, post_filter = raw.get("query_filter"), raw.get("post_filter")
    return Policy(
        path=urlsplit(raw["url"]).path.rstrip("/") or "/",
        method=str(raw.get("method", "GET")).upper(),
        allow=raw.get("allow") is True,
        query_filter=query_filter if isinstance(query_filter, dict) else {},
        post_filter=post_filter if isinstance(post_filter, dict) else {},
    )


@functools.lru_cache(maxsize=4096)
def _path_pattern(path: str) -> re.Pattern[str]:
    """``/a/*/b`` matches one segment for ``*``; a trailing ``/**`` matches any depth, or none."""
    segments = path.split("/")
    deep = segments[-1] == "**"
    if deep:
        segments = segments[:-1]
    body = "/".join("[^/]+" if s == "*" else re.escape(s) for s in segments)
    return re.compile(body + ("(?:/.*)?" if deep else "") + "/?")
