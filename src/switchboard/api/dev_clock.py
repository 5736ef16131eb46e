"""``/dev/clock``: move a manual clock (``serve --clock manual``) and fire what falls due.

Only present in manual-clock mode; the same Basic auth as the API applies.
"""

from __future__ import annotations

import math
from typing import Any

from switchboard.api.endpoints import Api, Context
from switchboard.api.params import Param
from switchboard.api.render import iso
from switchboard.routing.errors import InvalidParameter, NotFound

api = Api()
TAG = "Manual clock"


def _require_manual(ctx: Context) -> None:
    if not ctx.runtime.clock.manual:
        raise NotFound("The requested resource /dev/clock was not found: the server is not "
                       "running with --clock manual")


def _now(ctx: Context) -> dict[str, Any]:
    now = ctx.runtime.clock.now_ms()
    return {"now": iso(now), "now_ms": now}


@api.route("GET", "/dev/clock", tag=TAG, summary="The manual clock's current time")
async def get_clock(ctx: Context) -> dict[str, Any]:
    _require_manual(ctx)
    return _now(ctx)


@api.route("POST", "/dev/clock", tag=TAG, summary="Move the manual clock forward",
           params=(Param("Advance", required=True,
                         description="Seconds to move forward (decimals allowed); every timer "
                         "due by then fires, in deadline order, before the answer."),))
async def advance_clock(ctx: Context) -> dict[str, Any]:
    _require_manual(ctx)
    try:
        seconds = float(ctx.args["advance"])
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidParameter(f"Invalid parameter Advance: '{ctx.args['advance']}' is not a "
                               "non-negative number of seconds")
    await ctx.runtime.advance_clock(round(seconds * 1000))
    return _now(ctx)
