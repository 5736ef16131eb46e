"""Accounts (AC… + auth token) and API keys (SK… + secret), and who a request comes from.

Both are few and read on every request, so they are cached in memory; every change is
committed to the store before the cache sees it. Other processes change them too (the command
line, other nodes on the same database): each change moves the stored credentials version in
its own transaction, and ``refresh`` reloads the cache when that version moved.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import sqlite

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
        self.version: int | None = None  # the stored credentials version the cache reflects
        # Our own changes update the cache directly; a reload read before one of them landed
        # must not replace the cache (it would drop the change until the next reload).
        self._lock = threading.Lock()
        self._changes = 0

    def load(self) -> None:
        version = self._stored_version()
        accounts, keys = self._read()
        with self._lock:
            self.accounts, self.keys, self.version = accounts, keys, version

    def refresh(self) -> bool:
        """Reload if the stored credentials changed since the last load; blocking I/O, so call
        it off the event loop. Returns whether the cache was replaced."""
        version = self._stored_version()
        if version == self.version:
            return False
        changes = self._changes
        # Read after the version: a change committed in between is simply read again next time.
        accounts, keys = self._read()
        with self._lock:
            if self._changes != changes:
                return False  # one of ours landed meanwhile; the next refresh sees it stored
            self.accounts, self.keys, self.version = accounts, keys, version
        return True

    def _stored_version(self) -> int | None:
        version = self.store.scalar(select(tables.credentials_version.c.version))
        return None if version is None else int(version)

    def _read(self) -> tuple[dict[str, Account], dict[str, ApiKey]]:
        return ({r["sid"]: Account(**r) for r in self.store.rows(tables.accounts)},
                {r["sid"]: ApiKey(**r) for r in self.store.rows(tables.api_keys)})

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
        self._write(tables.accounts.insert().values(_row(account)))
        self._cache(account)
        return account

    def create_account_unless_present(self, now: int, *, sid: str,
                                      auth_token: str | None = None) -> tuple[Account, bool]:
        """The account ``sid``, created now unless it is already stored (another node starting
        at the same moment may have just created it: no error then, its account is read
        back). Returns the account and whether it was created here."""
        account = Account(sid=sid, friendly_name=f"Account {sid[-8:]}",
                          auth_token=auth_token or new_secret(), status="active",
                          date_created=now, date_updated=now)
        if self.store.is_sqlite:
            statement: Any = sqlite.insert(tables.accounts)
        else:  # imported only here: SQLite's servers start faster without it
            from sqlalchemy.dialects import postgresql

            statement = postgresql.insert(tables.accounts)
        statement = statement.values(_row(account)).on_conflict_do_nothing(
            index_elements=["sid"]).returning(tables.accounts.c.sid)
        version = tables.credentials_version

        def write(conn: Connection) -> bool:
            if conn.execute(statement).first() is None:  # no row: it was there already
                return False
            conn.execute(update(version).values(version=version.c.version + 1))
            return True

        if self.store.submit(write).result():
            self._cache(account)
            return account, True
        self.load()
        return self.accounts[sid], False

    def set_auth_token(self, sid: str, auth_token: str, now: int) -> Account:
        account = self.accounts[sid]
        if account.auth_token == auth_token:
            return account
        self._write(update(tables.accounts).where(tables.accounts.c.sid == sid)
                    .values(auth_token=auth_token, date_updated=now))
        account = dataclasses.replace(account, auth_token=auth_token, date_updated=now)
        self._cache(account)
        return account

    def rotate_auth_token(self, sid: str, now: int) -> Account:
        """Give the account a new auth token; the old one stops working."""
        return self.set_auth_token(sid, new_secret(), now)

    def create_key(self, account_sid: str, now: int, friendly_name: str | None = None) -> ApiKey:
        key = ApiKey(sid=new_sid("SK"), account_sid=account_sid,
                     friendly_name=friendly_name or "", secret=secrets.token_urlsafe(24)[:32],
                     date_created=now, date_updated=now)
        self._write(tables.api_keys.insert().values(_row(key)))
        self._cache(key)
        return key

    def update_key(self, sid: str, friendly_name: str, now: int) -> ApiKey:
        key = self.keys[sid]
        self._write(update(tables.api_keys).where(tables.api_keys.c.sid == sid)
                    .values(friendly_name=friendly_name, date_updated=now))
        key = dataclasses.replace(key, friendly_name=friendly_name, date_updated=now)
        self._cache(key)
        return key

    def delete_key(self, sid: str) -> None:
        self._write(delete(tables.api_keys).where(tables.api_keys.c.sid == sid))
        with self._lock:
            self.keys.pop(sid, None)
            self._changes += 1

    def keys_of(self, account_sid: str) -> list[ApiKey]:
        return sorted((k for k in self.keys.values() if k.account_sid == account_sid),
                      key=lambda k: (k.date_created, k.sid))

    def _write(self, statement: Any) -> None:
        """Commit a change together with a move of the credentials version."""
        version = tables.credentials_version

        def write(conn: Connection) -> None:
            conn.execute(statement)
            conn.execute(update(version).values(version=version.c.version + 1))

        self.store.submit(write).result()

    def _cache(self, item: Account | ApiKey) -> None:
        with self._lock:
            if isinstance(item, Account):
                self.accounts[item.sid] = item
            else:
                self.keys[item.sid] = item
            self._changes += 1


def _row(obj: Account | ApiKey) -> dict[str, object]:
    return {name: getattr(obj, name) for name in obj.__slots__}
