"""Accounts (AC… + auth token) and API keys (SK… + secret), and who a request comes from.

Both are few and read on every request, so they are cached in memory; every change is
committed to the store before the cache sees it.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, update

from switchboard.routing.sids import new_sid
from switchboard.store import tables
from switchboard.store.database import Store


@dataclass(frozen=True, slots=True)
class Account:
    sid: str
    friendly_name: str
    auth_token: str
    status: str
    date_created: int
    date_updated: int


@dataclass(frozen=True, slots=True)
class ApiKey:
    sid: str
    account_sid: str
    friendly_name: str
    secret: str
    date_created: int
    date_updated: int


def new_secret() -> str:
    return secrets.token_hex(16)


class AccountRegistry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.accounts: dict[str, Account] = {}
        self.keys: dict[str, ApiKey] = {}

    def load(self) -> None:
        self.accounts = {r["sid"]: Account(**r) for r in self.store.rows(tables.accounts)}
        self.keys = {r["sid"]: ApiKey(**r) for r in self.store.rows(tables.api_keys)}

    # -------------------------------------------------------------- authentication

    def authenticate(self, username: str, password: str) -> Account | None:
        """The account behind ``AccountSid:AuthToken`` or ``KeySid:KeySecret``."""
        if username.startswith("SK"):
            key = self.keys.get(username)
            if key is None or not hmac.compare_digest(key.secret, password):
                return None
            account = self.accounts.get(key.account_sid)
            return account if account is not None and account.status == "active" else None
        account = self.accounts.get(username)
        if account is None or not hmac.compare_digest(account.auth_token, password):
            return None
        return account if account.status == "active" else None

    # -------------------------------------------------------------- changes

    def create_account(
        self, now: int, *, friendly_name: str | None = None, sid: str | None = None,
        auth_token: str | None = None,
    ) -> Account:
        sid = sid or new_sid("AC")
        account = Account(sid=sid, friendly_name=friendly_name or f"Account {sid[-8:]}",
                          auth_token=auth_token or new_secret(), status="active",
                          date_created=now, date_updated=now)
        self.store.submit(
            lambda conn: conn.execute(tables.accounts.insert(), [_row(account)])
        ).result()
        self.accounts[sid] = account
        return account

    def set_auth_token(self, sid: str, auth_token: str, now: int) -> Account:
        account = self.accounts[sid]
        if account.auth_token == auth_token:
            return account
        self.store.submit(lambda conn: conn.execute(
            update(tables.accounts).where(tables.accounts.c.sid == sid)
            .values(auth_token=auth_token, date_updated=now)
        )).result()
        account = dataclasses.replace(account, auth_token=auth_token, date_updated=now)
        self.accounts[sid] = account
        return account

    def create_key(self, account_sid: str, now: int, friendly_name: str | None = None) -> ApiKey:
        key = ApiKey(sid=new_sid("SK"), account_sid=account_sid,
                     friendly_name=friendly_name or "", secret=secrets.token_urlsafe(24)[:32],
                     date_created=now, date_updated=now)
        self.store.submit(lambda conn: conn.execute(tables.api_keys.insert(), [_row(key)])).result()
        self.keys[key.sid] = key
        return key

    def update_key(self, sid: str, friendly_name: str, now: int) -> ApiKey:
        key = self.keys[sid]
        self.store.submit(lambda conn: conn.execute(
            update(tables.api_keys).where(tables.api_keys.c.sid == sid)
            .values(friendly_name=friendly_name, date_updated=now)
        )).result()
        key = dataclasses.replace(key, friendly_name=friendly_name, date_updated=now)
        self.keys[sid] = key
        return key

    def delete_key(self, sid: str) -> None:
        self.store.submit(lambda conn: conn.execute(
            delete(tables.api_keys).where(tables.api_keys.c.sid == sid)
        )).result()
        del self.keys[sid]

    def keys_of(self, account_sid: str) -> list[ApiKey]:
        return sorted((k for k in self.keys.values() if k.account_sid == account_sid),
                      key=lambda k: (k.date_created, k.sid))


def _row(obj: Account | ApiKey) -> dict[str, object]:
    return {name: getattr(obj, name) for name in obj.__slots__}
