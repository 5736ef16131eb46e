"""The web console's routes: its single page (every deep link under ``/console/`` serves the
same ``index.html``; the page's router shows the view), its static files, sign-in and
sign-out, and each workspace's live feed.

The page reads and acts through the REST API itself (``/v1``, ``/dev/clock``) with the
session cookie and its CSRF header; nothing here decides anything about routing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from switchboard.api.endpoints import authenticate
from switchboard.api.errors import error_response, routing_error_response
from switchboard.console.stream import ConsoleFeed, account_key
from switchboard.routing.errors import RoutingError
from switchboard.service.accounts import Account
from switchboard.service.runtime import Runtime
from switchboard.service.sessions import COOKIE, ConsoleSessions

STATIC = Path(__file__).parent / "static"
SIGN_IN_PATH = "/console/api/session"
# Anyone may post to the sign-in: its body (a SID and a secret) is read before anything is
# checked, so it is kept small (the app's body limit for this path).
SIGN_IN_MAX_BODY_BYTES = 8 * 1024
# The page loads nothing from elsewhere: it works offline, and injected markup cannot load
# scripts from another origin.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class _Static(StaticFiles):
    """The page's files, revalidated on every load (their ETag makes that a 304): without a
    Cache-Control a browser may keep a file for days by its age, and after an upgrade run an
    old script against the new page."""

    def file_response(self, full_path: Any, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _who(account: Account, csrf: str | None) -> dict[str, Any]:
    return {"account_sid": account.sid, "friendly_name": account.friendly_name, "csrf": csrf}


def _cross_site(request: Request) -> Response | None:
    """A 403 for a request a browser says another page made (``Sec-Fetch-Site``): the session
    endpoints hand out the CSRF token, so only the console's own page may call them, even from
    an origin ``--cors-origins`` lets call the API."""
    if request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none"):
        return None
    return error_response(403, 20403, "The console's session endpoints answer only the "
                          "console's own page")


def routes(runtime: Runtime, sessions: ConsoleSessions, feed: ConsoleFeed,
           public_url: str | None = None) -> list[BaseRoute]:
    # Behind a proxy ending TLS the request may look like http: --public-url says otherwise.
    public_https = bool(public_url and public_url.startswith("https:"))

    async def page(_: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    async def to_page(_: Request) -> Response:
        return RedirectResponse("/console/", status_code=308)

    async def sign_in(request: Request) -> Response:
        if refused := _cross_site(request):
            return refused
        body = (await request.body()).decode("utf-8", errors="replace")
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                form = {str(k): str(v) for k, v in orjson.loads(body).items()}
            except (orjson.JSONDecodeError, AttributeError):
                form = {}
        else:
            form = dict(parse_qsl(body))
        signed = sessions.sign_in(form.get("username", "").strip(), form.get("password", ""))
        if signed is None:
            return error_response(401, 20003, "Authenticate: the SID and secret do not match "
                                  "an active account or API key")
        account, cookie = signed
        answer = _json(_who(account, sessions.csrf_token(cookie)))
        answer.set_cookie(COOKIE, cookie, max_age=sessions.lifetime_seconds, path="/",
                          httponly=True, samesite="strict",
                          secure=public_https or request.url.scheme == "https")
        return answer

    async def session(request: Request) -> Response:
        """Who is signed in (nobody: ``account_sid`` null), and the page's CSRF token
        (read-only: a GET needs no token)."""
        if refused := _cross_site(request):
            return refused
        cookie = request.cookies.get(COOKIE)
        if "authorization" not in request.headers and cookie:
            account = sessions.account_of_cookie(cookie)
            if account is not None:
                return _json(_who(account, sessions.csrf_token(cookie)))
        try:
            return _json(_who(authenticate(runtime, request), None))
        except RoutingError:
            # Not a failed authentication (which the brake would count against the address):
            # the page asks this before anyone has signed in.
            return _json({"account_sid": None, "friendly_name": None, "csrf": None})

    async def sign_out(request: Request) -> Response:
        try:
            authenticate(runtime, request)
        except RoutingError as exc:
            return routing_error_response(exc)
        answer = Response(status_code=204)
        answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return answer

    async def stream(request: Request) -> Response:
        """A workspace's events, or without one the account's workspace.* events."""
        workspace_sid = request.path_params.get("WorkspaceSid")
        try:
            account = authenticate(runtime, request)
            if workspace_sid is not None:
                runtime.engine(account.sid, workspace_sid)  # the account's own, held here
        except RoutingError as exc:
            return routing_error_response(exc)
        key = workspace_sid if workspace_sid is not None else account_key(account.sid)
        if feed.full(account.sid):
            return error_response(429, 20429, "Too many console streams are open for this "
                                  f"account (at most {feed.max_streams}); close some pages")
        def allowed() -> bool:  # checked again before each frame: a session can end
            try:
                return authenticate(runtime, request).sid == account.sid and (
                    workspace_sid is None or runtime.engine(account.sid, workspace_sid)
                    is not None)
            except RoutingError:
                return False

        return StreamingResponse(feed.frames(key, account.sid, allowed),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    async def no_such_api(request: Request) -> Response:
        return error_response(404, 20404, f"The requested resource {request.url.path} was not "
                              "found")

    return [
        Route("/console", to_page),
        Mount("/console/static", app=_Static(directory=str(STATIC)), name="console"),
        Route(SIGN_IN_PATH, sign_in, methods=["POST"]),
        Route(SIGN_IN_PATH, session, methods=["GET"]),
        Route(SIGN_IN_PATH, sign_out, methods=["DELETE"]),
        Route("/console/api/stream", stream, methods=["GET"]),
        Route("/console/api/workspaces/{WorkspaceSid}/stream", stream, methods=["GET"]),
        Route("/console/api/{rest:path}", no_such_api, methods=["GET", "POST", "DELETE"]),
        Route("/console/", page),
        Route("/console/{path:path}", page),
    ]




