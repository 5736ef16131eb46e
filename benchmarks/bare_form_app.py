"""The yardstick of ``http_tasks.py``: a bare Starlette endpoint that parses a task creation's
form and answers a small JSON, served exactly as ``switchboard serve`` serves the API (the same
socket binding, uvicorn protocol class, connection limits, logging set-up and options).

    python benchmarks/bare_form_app.py --port 18081
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from switchboard import serving
from switchboard.connection_limits import ConnectionLimits, uvicorn_options
from switchboard.ops import logs


async def create_task(request: Request) -> JSONResponse:
    form = await request.form()
    return JSONResponse({"workspace_sid": request.path_params["WorkspaceSid"],
                         "attributes": form.get("Attributes")}, status_code=201)


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/healthz", healthz),
                        Route("/v1/Workspaces/{WorkspaceSid}/Tasks", create_task,
                              methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    logs.configure(args.log_level)
    sock = serving.bind("127.0.0.1", args.port)
    # The options of ``switchboard serve`` (cli.py), with its default connection limits.
    serving.run(app, sock, lambda: None, None, log_level=args.log_level, access_log=False,
                log_config=logs.uvicorn_log_config(), timeout_graceful_shutdown=10,
                ws_per_message_deflate=False, **uvicorn_options(ConnectionLimits()))


if __name__ == "__main__":
    main()
