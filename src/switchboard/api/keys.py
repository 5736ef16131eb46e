"""API keys, on Twilio's 2010-04-01 Accounts API: ``/2010-04-01/Accounts/{AC}/Keys``.

That API predates v1's conventions: dates are RFC 2822 and lists page with relative
``*_page_uri`` fields. The secret is shown once, in the response to create.
"""

from __future__ import annotations

import asyncio
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode

from switchboard.api.endpoints import Api, Context
from switchboard.api.params import PAGING, Param
from switchboard.routing.errors import NotFound
from switchboard.service.accounts import ApiKey

api = Api()
TAG = "API keys"


def rfc2822(ms: int) -> str:
    return formatdate(ms / 1000, usegmt=False).replace("-0000", "+0000")


def render_key(key: ApiKey, with_secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sid": key.sid,
        "friendly_name": key.friendly_name,
        "date_created": rfc2822(key.date_created),
        "date_updated": rfc2822(key.date_updated),
    }
    if with_secret:
        body["secret"] = key.secret
    return body


def _own_account(ctx: Context) -> str:
    account_sid = ctx.path["AccountSid"]
    if account_sid != ctx.account.sid:
        raise NotFound(f"The requested resource /2010-04-01/Accounts/{account_sid} was not found")
    return account_sid


def _key(ctx: Context) -> ApiKey:
    account_sid = _own_account(ctx)
    key = ctx.runtime.accounts.keys.get(ctx.path["Sid"])
    if key is None or key.account_sid != account_sid:
        raise NotFound(f"The requested resource Key {ctx.path['Sid']} was not found")
    return key


@api.route("POST", "/2010-04-01/Accounts/{AccountSid}/Keys.json", tag=TAG, status=201,
           summary="Create an API key (the secret is returned only now)",
           params=(Param("FriendlyName"),))
async def create_key(ctx: Context) -> dict[str, Any]:
    account_sid = _own_account(ctx)
    key = await asyncio.to_thread(ctx.runtime.accounts.create_key, account_sid,
                                  ctx.runtime.clock.now_ms(), ctx.args["friendly_name"])
    return render_key(key, with_secret=True)


@api.route("GET", "/2010-04-01/Accounts/{AccountSid}/Keys.json", tag=TAG,
           summary="List API keys", params=PAGING)
async def list_keys(ctx: Context) -> dict[str, Any]:
    account_sid = _own_account(ctx)
    keys = ctx.runtime.accounts.keys_of(account_sid)
    size = ctx.args["page_size"] or 50
    number = ctx.args["page"] or 0
    start = number * size
    chunk = keys[start:start + size]
    path = f"/2010-04-01/Accounts/{account_sid}/Keys.json"

    def uri(n: int) -> str:
        return f"{path}?{urlencode({'PageSize': size, 'Page': n})}"

    return {
        "keys": [render_key(k) for k in chunk],
        "end": start + max(len(chunk) - 1, 0),
        "first_page_uri": uri(0),
        "next_page_uri": uri(number + 1) if start + size < len(keys) else None,
        "page": number,
        "page_size": size,
        "previous_page_uri": uri(number - 1) if number > 0 else None,
        "start": start,
        "uri": uri(number),
    }


@api.route("GET", "/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json", tag=TAG,
           summary="Fetch an API key")
async def fetch_key(ctx: Context) -> dict[str, Any]:
    return render_key(_key(ctx))


@api.route("POST", "/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json", tag=TAG,
           summary="Update an API key", params=(Param("FriendlyName"),))
async def update_key(ctx: Context) -> dict[str, Any]:
    key = _key(ctx)
    name = ctx.args["friendly_name"]
    if name is not None:
        key = await asyncio.to_thread(ctx.runtime.accounts.update_key, key.sid, name,
                                      ctx.runtime.clock.now_ms())
    return render_key(key)


@api.route("DELETE", "/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json", tag=TAG,
           summary="Delete an API key", status=204)
async def delete_key(ctx: Context) -> None:
    key = _key(ctx)
    await asyncio.to_thread(ctx.runtime.accounts.delete_key, key.sid)
