"""``GET /readyz``: whether this server should be sent traffic (``/healthz``: it is alive).

Ready means every check passes:

* ``store``: the database answers a query, within a few seconds;
* ``migrations``: its schema is at the newest revision this version knows;
* ``serving``: the server finished starting (workspaces loaded and their timers armed, the
  background services started) and is not shutting down; in a cluster, the node has read the
  cluster's state and renewed its leases, and is not handing its workspaces over to leave.

The answer is 200 ``{"status": "ready", "checks": {...}}`` or 503 with ``"unavailable"`` and
the failing checks' reasons.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from switchboard.service.runtime import Runtime
from switchboard.store import database

TIMEOUT = 3.0  # seconds the store has to answer


class NodeState(Protocol):
    leaving: bool

    @property
    def ready(self) -> bool: ...


def head_revision() -> str:
    """The newest revision this version knows (alembic's head: a test checks they agree)."""
    return database.HEAD_REVISION


class Readiness:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.started = False  # set once the app's start-up is done, cleared at shutdown
        self.node: NodeState | None = None

    def _schema_revision(self) -> str | None:
        with self.runtime.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    async def checks(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            revision = await asyncio.wait_for(asyncio.to_thread(self._schema_revision),
                                              TIMEOUT)
            checks["store"] = "ok"
            head = head_revision()
            checks["migrations"] = "ok" if revision == head else (
                f"schema at revision {revision}, this version needs {head}")
        except TimeoutError:
            checks["store"] = f"the database did not answer within {TIMEOUT:g} s"
            checks["migrations"] = "unknown"
        except Exception as exc:
            checks["store"] = f"the database cannot be used: {type(exc).__name__}"
            checks["migrations"] = "unknown"
        if not self.started:
            checks["serving"] = "starting or shutting down"
        elif self.node is not None and self.node.leaving:
            checks["serving"] = "this node is leaving the cluster"
        elif self.node is not None and not self.node.ready:
            checks["serving"] = "this node cannot reach the cluster's database"
        else:
            checks["serving"] = "ok"
        return checks

    async def endpoint(self, _: Request) -> Response:
        checks = await self.checks()
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                            status_code=200 if ready else 503)
