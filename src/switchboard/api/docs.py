"""The API reference: ``/openapi.json`` and the interactive page at ``/docs``.

The page is Swagger UI, served from the files the swagger-ui-bundle package installs, not from
a CDN: it works on a machine with no internet access, and shows exactly the version pinned.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"

PAGE = f"""<!doctype html>
<html><head><title>Switchboard API</title><meta charset="utf-8">
<link rel="icon" type="image/png" href="{ASSETS}/favicon-32x32.png">
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head><body><div id="docs"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: "/openapi.json", dom_id: "#docs"}});</script>
</body></html>"""


def routes(document: dict[str, Any]) -> list[BaseRoute]:
    async def openapi(_: Request) -> Response:
        return JSONResponse(document)

    async def docs(_: Request) -> Response:
        return HTMLResponse(PAGE)

    return [
        Route("/openapi.json", openapi),
        Route("/docs", docs),
        Mount(ASSETS, app=StaticFiles(directory=str(swagger_ui_path))),
    ]
