"""Console sessions: a signed cookie naming the credential that signed in, and its CSRF token.

The cookie holds the credential's SID (an account's or an API key's), a digest of its secret
at sign-in and an expiry, signed with HMAC-SHA256 under a per-server key. Nothing is stored
server-side: every use checks the signature, the expiry, and that the credential still exists
with the same secret, so rotating an auth token or deleting a key ends its sessions at once.
The CSRF token is an HMAC of the cookie value, so it is bound to that one session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import orjson

from switchboard.service.accounts import Account, AccountRegistry

COOKIE = "switchboard_console"
CSRF_HEADER = "x-switchboard-csrf"
LIFETIME_SECONDS = 12 * 3600


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ConsoleSessions:
    def __init__(self, accounts: AccountRegistry, key: bytes | None = None,
                 lifetime_seconds: int = LIFETIME_SECONDS) -> None:
        self.accounts = accounts
        # A fresh key per server start unless one is given: restarting signs everyone out.
        self.key = key or secrets.token_bytes(32)
        self.lifetime_seconds = lifetime_seconds

    def _secret_of(self, username: str) -> str | None:
        if username.startswith("SK"):
            key = self.accounts.keys.get(username)
            return key.secret if key is not None else None
        account = self.accounts.accounts.get(username)
        return account.auth_token if account is not None else None

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())

    def sign_in(self, username: str, password: str) -> tuple[Account, str] | None:
        """The account and a new session cookie value, if the credentials are right."""
        account = self.accounts.authenticate(username, password)
        if account is None:
            return None
        payload = _b64(orjson.dumps({"u": username, "h": _digest(password),
                                     "e": int(time.time()) + self.lifetime_seconds}))
        return account, f"{payload}.{self._sign(payload)}"

    def csrf_token(self, cookie: str) -> str:
        return self._sign("csrf:" + cookie)

    def account(self, cookie: str | None, csrf: str | None) -> Account | None:
        """The account of a valid, current session whose CSRF token matches; else None."""
        if not cookie or not csrf or not hmac.compare_digest(self.csrf_token(cookie), csrf):
            return None
        return self.account_of_cookie(cookie)

    def account_of_cookie(self, cookie: str) -> Account | None:
        """The session's account, checking the cookie alone (for pages, which change nothing)."""
        payload, _, signature = cookie.partition(".")
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            username, digest, expires = str(data["u"]), str(data["h"]), int(data["e"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires < time.time():
            return None
        secret = self._secret_of(username)
        if secret is None or not hmac.compare_digest(_digest(secret), digest):
            return None  # the credential was deleted or its secret changed
        return self.accounts.authenticate(username, secret)
