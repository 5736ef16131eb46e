"""``/dev/accounts``: a fresh account per test (``switchboard.testing``), made over HTTP.

Only present on a server meant for tests: ``serve --ephemeral`` or ``--clock manual``; the
caller authenticates as any account (Basic auth, as the API). Not part of TaskRouter's API:
Twilio makes accounts in its console, Switchboard otherwise with ``switchboard accounts``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from switchboard.api.endpoints import Api, Context
from switchboard.api.params import Param
from switchboard.api.render import iso
from switchboard.routing.errors import NotFound

api = Api()
TAG = "Test accounts"


def is_test_server(ctx: Context) -> bool:
    """Whether the server is one for tests: in memory or on a manual clock."""
    return ctx.runtime.clock.manual or ctx.runtime.store.in_memory


@api.route("POST", "/dev/accounts", tag=TAG, status=201,
           summary="Create an account and return its SID and auth token (test servers only)",
           params=(Param("FriendlyName"),))
async def create_test_account(ctx: Context) -> dict[str, Any]:
    if not is_test_server(ctx):
        raise NotFound("The requested resource /dev/accounts was not found: the server is not "
                       "running with --ephemeral or --clock manual")
    account = await asyncio.to_thread(ctx.runtime.accounts.create_account,
                                      ctx.runtime.clock.now_ms(),
                                      friendly_name=ctx.args["friendly_name"])
    return {"sid": account.sid, "friendly_name": account.friendly_name,
            "auth_token": account.auth_token, "status": account.status,
            "date_created": iso(account.date_created)}
