"""Keeps a server's accounts and API keys in step with the store.

The command line and other nodes sharing the database change credentials behind this server's
back. Polling the stored credentials version (one row) twice a second makes their changes — a
new key, a deleted one, a rotated auth token — take effect within a second, with no restart and
no channel between processes other than the database they already share.
"""

from __future__ import annotations

import asyncio
import logging

from switchboard.service.accounts import AccountRegistry
from switchboard.service.background import BackgroundLoop

log = logging.getLogger(__name__)
INTERVAL = 0.5  # seconds between looks at the version


class CredentialsWatch(BackgroundLoop):
    """A background service: reloads accounts and keys when the stored version moves."""

    def __init__(self, accounts: AccountRegistry, interval: float = INTERVAL) -> None:
        self.accounts = accounts
        self.interval = interval

    async def run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.interval)
            try:
                # Off the loop: the read may wait for the database.
                if await asyncio.to_thread(self.accounts.refresh):
                    log.info("accounts and API keys reloaded (credentials version %s)",
                             self.accounts.version)
            except Exception as exc:
                if not failing:  # once per outage, not twice a second
                    log.warning("cannot check the store for changed credentials (%s); "
                                "serving with the ones known", exc)
                failing = True
            else:
                failing = False
