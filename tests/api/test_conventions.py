"""Twilio's REST conventions, shared by every resource: auth, errors, SIDs, dates, URLs, forms."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from switchboard.api.app import MODULES, create_app
from switchboard.service.clock import ManualClock
from switchboard.service.runtime import Runtime

from .conftest import (
    BASE_URL,
    DATE,
    ERROR_KEYS,
    Workspace,
    assert_error,
    assert_invalid,
    ok,
    unchanged,
)

OTHER_ACCOUNT_SID = "AC" + "b" * 32
OTHER_AUTH_TOKEN = "other-auth-token"
SID = re.compile(r"^(?P<prefix>[A-Z]{2})[0-9a-f]{32}$")


@pytest.fixture
def populated(ws: Workspace) -> dict[str, dict[str, Any]]:
    """One of each configuration resource, by its SID prefix."""
    worker = ws.worker("alice")
    queue = ws.queue("Everyone")
    return {
        "WS": ws.fetch(),
        "WA": ws.create("Activities", FriendlyName="Lunch", Available="false"),
        "TC": ws.create("TaskChannels", FriendlyName="Email", UniqueName="email"),
        "WK": worker,
        "WC": ws.fetch("Workers", worker["sid"], "Channels", "default"),
        "WQ": queue,
        "WW": ws.workflow("Route", queue["sid"]),
    }


# ---------------------------------------------------------------- authentication


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.parametrize("headers", [
    {},
    basic("AC" + "a" * 32, "wrong-token"),
    basic("AC" + "c" * 32, "test-auth-token"),
    basic("SK" + "0" * 32, "no-such-key"),
    {"Authorization": "Basic not-base64!"},
    {"Authorization": "Bearer some-token"},
], ids=["none", "wrong-token", "unknown-account", "unknown-key", "garbled", "bearer"])
def test_bad_credentials_get_401_20003_with_a_basic_challenge(
        client: TestClient, ws: Workspace, headers: dict[str, str]) -> None:
    client.auth = None  # type: ignore[assignment]
    for response in (client.get("/v1/Workspaces", headers=headers),
                     client.get(ws.path(), headers=headers),
                     client.post("/v1/Workspaces", data={"FriendlyName": "x"}, headers=headers)):
        assert_error(response, 401, 20003)
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_a_rejected_create_creates_nothing(client: TestClient, ws: Workspace) -> None:
    with unchanged(client, "/v1/Workspaces", ws.path("Workers")):
        response = client.post(ws.path("Workers"), data={"FriendlyName": "x"},
                               auth=("AC" + "a" * 32, "no"))
        assert_error(response, 401, 20003)


def test_another_account_cannot_see_or_touch_the_workspace(
        client: TestClient, runtime: Runtime, clock: ManualClock, ws: Workspace) -> None:
    runtime.accounts.create_account(clock.now_ms(), sid=OTHER_ACCOUNT_SID,
                                    auth_token=OTHER_AUTH_TOKEN)
    worker = ws.worker("alice")
    other = (OTHER_ACCOUNT_SID, OTHER_AUTH_TOKEN)
    with unchanged(client, ws.path(), ws.path("Workers"), ws.path("Activities")):
        assert ok(client.get("/v1/Workspaces", auth=other))["workspaces"] == []
        for response in (
            client.get(ws.path(), auth=other),
            client.post(ws.path(), data={"FriendlyName": "mine now"}, auth=other),
            client.delete(ws.path(), auth=other),
            client.get(ws.path("Workers"), auth=other),
            client.get(ws.path("Workers", worker["sid"]), auth=other),
            client.post(ws.path("Workers"), data={"FriendlyName": "mallory"}, auth=other),
            client.post(ws.path("Activities"), data={"FriendlyName": "Hacked"}, auth=other),
            client.delete(ws.path("Workers", worker["sid"]), auth=other),
        ):
            assert_error(response, 404, 20404)
    # and the second account's own workspace is invisible to the first
    theirs = ok(client.post("/v1/Workspaces", data={"FriendlyName": "theirs"}, auth=other), 201)
    assert_error(client.get(f"/v1/Workspaces/{theirs['sid']}"), 404, 20404)
    assert [w["sid"] for w in ok(client.get("/v1/Workspaces"))["workspaces"]] == [ws.sid]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("path", [
    "/v1/Nope",
    "/v1/Workspaces/WS00000000000000000000000000000999",
    "/v1/Workspaces/not-a-sid",
    "/2010-04-01/Accounts",
])
def test_an_unknown_path_or_resource_gets_twilio_404(client: TestClient, path: str) -> None:
    body = assert_error(client.get(path), 404, 20404)
    assert body["message"]


def test_unknown_children_of_a_real_workspace_get_404(client: TestClient, ws: Workspace) -> None:
    for collection, prefix in (("Activities", "WA"), ("Workers", "WK"), ("TaskQueues", "WQ"),
                               ("Workflows", "WW"), ("TaskChannels", "TC"), ("Nope", "XX")):
        missing = prefix + "f" * 32
        assert_error(client.get(ws.path(collection, missing)), 404, 20404)
    assert_error(client.post(ws.path("Workers", "WK" + "f" * 32), data={"FriendlyName": "x"}),
                 404, 20404)
    assert_error(client.delete(ws.path("Workflows", "WW" + "f" * 32)), 404, 20404)


def test_a_wrong_method_gets_a_twilio_405(client: TestClient) -> None:
    response = client.put("/v1/Workspaces", data={"FriendlyName": "x"})
    assert_error(response, 405, 20004, "PUT")
    # RFC 9110: a 405 names every method of the path, here two routes' (list and create).
    assert response.headers["Allow"] == "GET, HEAD, POST"
    response = client.patch(f"/v1/Workspaces/WS{'0' * 32}")
    assert_error(response, 405, 20004, "PATCH")
    assert response.headers["Allow"] == "GET, HEAD, POST, DELETE"
    # The event bridge's path: the RPC's POST (its WebSocket is no HTTP method).
    response = client.get("/v1/wschannels")
    assert_error(response, 405, 20004, "GET")
    assert response.headers["Allow"] == "POST"


def test_every_405_lists_every_method_of_its_path(client: TestClient) -> None:
    declared: dict[str, set[str]] = {}
    for route in client.app.router.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.methods:
            declared.setdefault(route.path, set()).update(route.methods)
    assert len(declared) > 20
    for path, methods in declared.items():
        # Unknown SIDs throughout: the allowed methods answer 4xx and change nothing.
        url = re.sub(r"\{[^}]+\}", "XX" + "0" * 32, path)
        response = client.request("PATCH", url)
        assert_error(response, 405, 20004, "PATCH")
        allowed = response.headers["Allow"].split(", ")
        assert methods <= set(allowed), path
        for method in allowed:
            if path.endswith("/stream") and method in ("GET", "HEAD"):
                continue  # the console's event stream answers 200 and never ends
            assert client.request(method, url).status_code != 405, (method, path)


def test_error_bodies_have_exactly_twilios_four_fields(client: TestClient) -> None:
    for response in (client.get("/v1/Nope"),
                     client.post("/v1/Workspaces", data={}),
                     client.get("/v1/Workspaces", auth=("AC" + "a" * 32, "bad"))):
        body = response.json()
        assert set(body) == ERROR_KEYS  # never type/title: twilio-python would misread them
        assert isinstance(body["code"], int)
        assert body["status"] == response.status_code
        assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"
        assert response.headers["content-type"] == "application/json"


# ---------------------------------------------------------------- representation


def test_every_date_is_seconds_precision_utc_with_a_z(
        populated: dict[str, dict[str, Any]]) -> None:
    for body in populated.values():
        dates = {k: v for k, v in body.items() if k.startswith("date_")}
        assert {"date_created", "date_updated"} <= set(dates)
        for name, value in dates.items():
            assert DATE.match(value), (name, value)
    assert populated["WS"]["date_created"] == "2026-01-01T00:00:00Z"  # the manual clock's start


def test_every_sid_is_its_prefix_and_32_lowercase_hex(
        populated: dict[str, dict[str, Any]]) -> None:
    for prefix, body in populated.items():
        match = SID.match(body["sid"])
        assert match and match["prefix"] == prefix, body["sid"]
        assert SID.match(body["account_sid"])["prefix"] == "AC"  # type: ignore[index]
        for name, value in body.items():
            if name.endswith("_sid") and value is not None:
                assert SID.match(value), (name, value)


def test_urls_and_links_are_absolute_and_url_fetches_the_resource(
        client: TestClient, ws: Workspace, populated: dict[str, dict[str, Any]]) -> None:
    for body in populated.values():
        assert body["url"].startswith(f"{BASE_URL}/v1/Workspaces/{ws.sid}")
        assert ok(client.get(body["url"])) == body
        for name, link in body.get("links", {}).items():
            if link is not None:
                assert link.startswith(f"{BASE_URL}/v1/Workspaces/{ws.sid}"), (name, link)
    worker = populated["WK"]
    channels = ok(client.get(worker["links"]["channels"]))["channels"]
    assert len(channels) == 6
    assert ok(client.get(worker["links"]["activity"]))["sid"] == worker["activity_sid"]
    assert ok(client.get(worker["links"]["workspace"]))["sid"] == ws.sid
    assert ok(client.get(populated["WS"]["links"]["workers"]))["workers"] == [worker]


def test_urls_use_the_configured_public_url(runtime: Runtime) -> None:
    app = create_app(runtime, public_url="https://tr.example.com/")
    with TestClient(app, raise_server_exceptions=False) as client:
        client.auth = ("AC" + "a" * 32, "test-auth-token")
        body = ok(client.post("/v1/Workspaces", data={"FriendlyName": "public"}), 201)
        assert body["url"] == f"https://tr.example.com/v1/Workspaces/{body['sid']}"
        meta = ok(client.get("/v1/Workspaces"))["meta"]
        assert meta["url"].startswith("https://tr.example.com/v1/Workspaces?")


# ---------------------------------------------------------------- requests


def test_a_repeated_form_key_takes_the_last_value(client: TestClient) -> None:
    body = ok(client.post("/v1/Workspaces", content=b"FriendlyName=first&FriendlyName=second",
                          headers={"Content-Type": "application/x-www-form-urlencoded"}), 201)
    assert body["friendly_name"] == "second"


def test_form_values_are_url_decoded(client: TestClient) -> None:
    body = ok(client.post("/v1/Workspaces", content=b"FriendlyName=Support+%26+Sales%21",
                          headers={"Content-Type": "application/x-www-form-urlencoded"}), 201)
    assert body["friendly_name"] == "Support & Sales!"


def test_multipart_forms_are_accepted(client: TestClient) -> None:
    body = ok(client.post("/v1/Workspaces", files={"FriendlyName": (None, "multipart")}), 201)
    assert body["friendly_name"] == "multipart"


def test_a_get_with_a_form_content_type_is_fine(client: TestClient, ws: Workspace) -> None:
    # twilio-python sends Content-Type: application/x-www-form-urlencoded on list GETs.
    response = client.get(ws.path("Workers"),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert ok(response)["workers"] == []


def test_unknown_parameters_are_ignored(client: TestClient, ws: Workspace) -> None:
    worker = ok(client.post(ws.path("Workers"), data={"FriendlyName": "a", "Colour": "red"}), 201)
    assert "colour" not in worker


@pytest.mark.parametrize(("collection", "data", "parameter"), [
    ("Activities", {"FriendlyName": "x", "Available": "maybe"}, "Available"),
    ("TaskChannels", {"FriendlyName": "x", "UniqueName": "x", "ChannelOptimizedRouting": "2"},
     "ChannelOptimizedRouting"),
    ("TaskQueues", {"FriendlyName": "x", "MaxReservedWorkers": "two"}, "MaxReservedWorkers"),
    ("TaskQueues", {"FriendlyName": "x", "MaxReservedWorkers": "1.5"}, "MaxReservedWorkers"),
    ("TaskQueues", {"FriendlyName": "x", "MaxReservedWorkers": "1_0"}, "MaxReservedWorkers"),
    ("TaskQueues", {"FriendlyName": "x", "MaxReservedWorkers": "\u0663"},  # Arabic-Indic 3
     "MaxReservedWorkers"),
    ("TaskQueues", {"FriendlyName": "x", "TaskOrder": "RANDOM"}, "TaskOrder"),
    ("Workflows", {"FriendlyName": "x", "Configuration": "{}", "TaskReservationTimeout": "soon"},
     "TaskReservationTimeout"),
    ("Workers", {}, "FriendlyName"),
    ("Activities", {"Available": "true"}, "FriendlyName"),
    ("Workflows", {"FriendlyName": "x"}, "Configuration"),
])
def test_an_invalid_or_missing_parameter_is_a_400_naming_it(
        client: TestClient, ws: Workspace, collection: str, data: dict[str, str],
        parameter: str) -> None:
    with unchanged(client, ws.path(collection)):
        assert_invalid(client.post(ws.path(collection), data=data), parameter)


@pytest.mark.parametrize(("data", "parameter"), [
    ({"FriendlyName": "x", "MultiTaskEnabled": "perhaps"}, "MultiTaskEnabled"),
    ({"FriendlyName": "x", "Template": "ROUND_ROBIN"}, "Template"),
    ({"FriendlyName": "x", "PrioritizeQueueOrder": "SIDEWAYS"}, "PrioritizeQueueOrder"),
    ({}, "FriendlyName"),
])
def test_an_invalid_workspace_parameter_is_a_400_naming_it(
        client: TestClient, data: dict[str, str], parameter: str) -> None:
    with unchanged(client, "/v1/Workspaces"):
        assert_invalid(client.post("/v1/Workspaces", data=data), parameter)


def test_an_invalid_query_parameter_is_a_400_naming_it(client: TestClient, ws: Workspace) -> None:
    assert_invalid(client.get(ws.path("Workers"), params={"PageSize": "ten"}), "PageSize")
    assert_invalid(client.get(ws.path("Workers"), params={"PageSize": "1_0"}), "PageSize")
    assert_invalid(client.get(ws.path("Workers"), params={"Page": "-1"}), "Page")


# ---------------------------------------------------------------- service endpoints


def test_healthz_needs_no_credentials(client: TestClient) -> None:
    client.auth = None  # type: ignore[assignment]
    assert ok(client.get("/healthz")) == {"status": "ok"}


CONFIGURATION_PATHS = {
    "/v1/Workspaces": {"get", "post"},
    "/v1/Workspaces/{Sid}": {"get", "post", "delete"},
    "/v1/Workspaces/{WorkspaceSid}/Activities": {"get", "post"},
    "/v1/Workspaces/{WorkspaceSid}/Activities/{Sid}": {"get", "post", "delete"},
    "/v1/Workspaces/{WorkspaceSid}/TaskChannels": {"get", "post"},
    "/v1/Workspaces/{WorkspaceSid}/TaskChannels/{Sid}": {"get", "post", "delete"},
    "/v1/Workspaces/{WorkspaceSid}/Workers": {"get", "post"},
    "/v1/Workspaces/{WorkspaceSid}/Workers/{Sid}": {"get", "post", "delete"},
    "/v1/Workspaces/{WorkspaceSid}/Workers/{WorkerSid}/Channels": {"get"},
    "/v1/Workspaces/{WorkspaceSid}/Workers/{WorkerSid}/Channels/{Sid}": {"get", "post"},
    "/v1/Workspaces/{WorkspaceSid}/TaskQueues": {"get", "post"},
    "/v1/Workspaces/{WorkspaceSid}/TaskQueues/{Sid}": {"get", "post", "delete"},
    "/v1/Workspaces/{WorkspaceSid}/Workflows": {"get", "post"},
    "/v1/Workspaces/{WorkspaceSid}/Workflows/{Sid}": {"get", "post", "delete"},
    "/2010-04-01/Accounts/{AccountSid}/Keys.json": {"get", "post"},
    "/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json": {"get", "post", "delete"},
}


def test_openapi_document_lists_every_endpoint(client: TestClient) -> None:
    client.auth = None  # type: ignore[assignment]
    document = ok(client.get("/openapi.json"))
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path, methods in CONFIGURATION_PATHS.items():
        assert methods <= set(paths.get(path, {})), path
    registered = {(e.path, e.method.lower()) for m in MODULES for e in m.api.endpoints}
    documented = {(path, method) for path, ops in paths.items() for method in ops}
    assert registered == documented
    create_worker = paths["/v1/Workspaces/{WorkspaceSid}/Workers"]["post"]
    form = create_worker["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert {"FriendlyName", "ActivitySid", "Attributes"} <= set(form["schema"]["properties"])
    assert form["schema"]["required"] == ["FriendlyName"]
    list_workers = paths["/v1/Workspaces/{WorkspaceSid}/Workers"]["get"]
    assert {"PageSize", "PageToken", "ActivitySid", "TargetWorkersExpression"} <= {
        p["name"] for p in list_workers["parameters"]}


def test_docs_page_renders_the_openapi_document(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text
