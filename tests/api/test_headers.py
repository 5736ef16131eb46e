"""Twilio's headers on every answer (``api/headers.py``): the request id, CORS, the spelling.

In process: the names are checked as the application hands them to the server. That the
server writes them so is checked over real HTTP in ``tests/compat/test_headers_http.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from switchboard.api.app import create_app
from switchboard.api.headers import request_id
from switchboard.service.runtime import Runtime

from .conftest import Workspace, ok

ACCOUNT_SID = "AC" + "a" * 32
AUTH = (ACCOUNT_SID, "test-auth-token")
REQUEST_ID = re.compile(r"^RQ[0-9a-f]{32}$")
# What Twilio's API answers with, name for name.
TWILIO_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, If-Match, "
    "If-Modified-Since, If-None-Match, If-Unmodified-Since, Idempotency-Key",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Expose-Headers": "ETag",
    "Access-Control-Allow-Credentials": "true",
}
PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization,content-type"}


def raw_headers(response: httpx.Response) -> dict[str, str]:
    """The headers as the application spelled them (httpx keeps the spelling in ``raw``)."""
    return {name.decode(): value.decode() for name, value in response.headers.raw}


def assert_twilio_headers(response: httpx.Response) -> str:
    """Twilio's request id and CORS headers, spelled as Twilio spells them; the request id."""
    headers = raw_headers(response)
    assert REQUEST_ID.match(headers["Twilio-Request-Id"]), headers
    for name, value in TWILIO_CORS.items():
        assert headers.get(name) == value, (name, headers)
    return headers["Twilio-Request-Id"]


@pytest.fixture
def app_client(runtime: Runtime) -> Iterator[TestClient]:
    """The app, with two routes of the test's own: one echoing request_id(), one failing."""
    app = create_app(runtime)

    async def echo(_: Request) -> Response:
        return JSONResponse({"request_id": request_id()})

    async def fail(_: Request) -> Response:
        raise RuntimeError("boom")

    app.router.routes += [Route("/test/echo", echo), Route("/test/fail", fail)]
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        client.auth = AUTH
        yield client


# ---------------------------------------------------------------------- every answer


def test_every_answer_carries_them(client: TestClient, ws: Workspace) -> None:
    created = client.post(ws.path("Workers"), data={"FriendlyName": "alice"})
    answers = {
        "created": created,
        "fetched": client.get(ws.path("Workers", created.json()["sid"])),
        "listed": client.get("/v1/Workspaces"),
        "deleted": client.delete(ws.path("Workers", created.json()["sid"])),
        "invalid": client.post(ws.path("Workers"), data={}),
        "unauthorized": client.get("/v1/Workspaces", auth=(ACCOUNT_SID, "wrong")),
        "not found": client.get("/v1/Nowhere"),
        "not allowed": client.put("/v1/Workspaces"),
        "too large": client.post("/v1/Workspaces", content=b"x" * (2 * 1024 * 1024)),
        "health": client.get("/healthz"),
    }
    assert [(what, a.status_code) for what, a in answers.items()] == [
        ("created", 201), ("fetched", 200), ("listed", 200), ("deleted", 204),
        ("invalid", 400), ("unauthorized", 401), ("not found", 404), ("not allowed", 405),
        ("too large", 413), ("health", 200)]
    ids = [assert_twilio_headers(answer) for answer in answers.values()]
    assert len(set(ids)) == len(ids)  # one per request


def test_the_event_bridge_allows_the_worker_sdks_headers(client: TestClient) -> None:
    answer = client.post("/v1/wschannels", json={})
    assert answer.status_code == 400
    headers = raw_headers(answer)
    assert REQUEST_ID.match(headers["Twilio-Request-Id"])
    assert headers["Access-Control-Allow-Headers"] == (
        TWILIO_CORS["Access-Control-Allow-Headers"] + ", apiVersion, clientVersion")
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_names_are_spelled_as_twilio_spells_them(client: TestClient, ws: Workspace) -> None:
    created = client.post(ws.path("Workers"), data={"FriendlyName": "alice"})
    headers = raw_headers(created)
    assert headers["ETag"]
    assert headers["Content-Type"] == "application/json"
    assert "etag" not in headers and "content-type" not in headers
    # WWW-Authenticate too; the names the server frames the answer with stay as it reads them.
    refused = raw_headers(client.get("/v1/Workspaces", auth=(ACCOUNT_SID, "wrong")))
    assert refused["WWW-Authenticate"] == 'Basic realm="Twilio API"'
    assert "content-length" in refused


def test_an_unexpected_error_carries_them(app_client: TestClient) -> None:
    failed = app_client.get("/test/fail")
    assert failed.status_code == 500
    assert failed.json()["code"] == 20500
    assert_twilio_headers(failed)


def test_request_id_is_the_current_requests(app_client: TestClient) -> None:
    first = app_client.get("/test/echo")
    second = app_client.get("/test/echo")
    assert first.json()["request_id"] == first.headers["Twilio-Request-Id"]
    assert second.json()["request_id"] == second.headers["Twilio-Request-Id"]
    assert first.json() != second.json()
    assert request_id() is None  # outside a request


# ---------------------------------------------------------------------- CORS


def test_preflight_on_any_path(client: TestClient) -> None:
    for path in ("/v1/Workspaces", "/v1/Workspaces/WS0/Tasks", "/2010-04-01/Accounts/AC/Keys"):
        preflight = client.options(path, headers={"Origin": "https://agents.example",
                                                  **PREFLIGHT}, auth=None)
        assert preflight.status_code == 200, preflight.text
        assert preflight.content == b""
        assert_twilio_headers(preflight)
        assert preflight.headers["Access-Control-Max-Age"] == "600"
    # An OPTIONS that is no preflight is a method like another: 405.
    plain = client.options("/v1/Workspaces")
    assert plain.status_code == 405
    assert_twilio_headers(plain)


def test_cors_origins_restrict_the_pages(runtime: Runtime) -> None:
    app = create_app(runtime, cors_origins=["https://agents.example", "https://ops.example/"])
    with TestClient(app, base_url="http://testserver") as client:
        client.auth = AUTH
        for origin in ("https://agents.example", "https://ops.example"):
            allowed = client.get("/v1/Workspaces", headers={"Origin": origin})
            headers = raw_headers(allowed)
            assert headers["Access-Control-Allow-Origin"] == origin
            assert headers["Vary"] == "Origin"
            assert headers["Access-Control-Expose-Headers"] == "ETag"
            preflight = client.options("/v1/Workspaces", headers={"Origin": origin,
                                                                  **PREFLIGHT})
            assert preflight.status_code == 200
            assert preflight.headers["Access-Control-Allow-Origin"] == origin

        other = client.get("/v1/Workspaces", headers={"Origin": "https://elsewhere.example"})
        ok(other)  # answered (a server may call), but no browser page may read it
        assert "Access-Control-Allow-Origin" not in raw_headers(other)
        assert REQUEST_ID.match(other.headers["Twilio-Request-Id"])
        refused = client.options("/v1/Workspaces", headers={
            "Origin": "https://elsewhere.example", **PREFLIGHT})
        assert refused.status_code == 400
        assert "https://elsewhere.example" in refused.json()["message"]
        assert "Access-Control-Allow-Origin" not in raw_headers(refused)
        assert "Access-Control-Allow-Origin" not in raw_headers(client.get("/v1/Workspaces"))

    # '*' among them: any page, as Twilio.
    with TestClient(create_app(runtime, cors_origins=["*"]),
                    base_url="http://testserver") as client:
        answer = client.get("/healthz", headers={"Origin": "https://elsewhere.example"})
        assert_twilio_headers(answer)
        assert "Vary" not in answer.headers
