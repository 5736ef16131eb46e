"""API keys on the 2010-04-01 Accounts API: the secret once, CRUD, and Basic auth with a key."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from switchboard.service.clock import ManualClock
from switchboard.service.runtime import Runtime

from .conftest import Workspace, assert_error, ok

ACCOUNT_SID = "AC" + "a" * 32
KEYS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Keys.json"
RFC_2822 = re.compile(r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000$")
KEY_SID = re.compile(r"^SK[0-9a-f]{32}$")


def key_path(sid: str) -> str:
    return f"/2010-04-01/Accounts/{ACCOUNT_SID}/Keys/{sid}.json"


@pytest.fixture
def key(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = ok(client.post(KEYS, data={"FriendlyName": "ci"}), 201)
    return body


def test_create_returns_the_secret_once(client: TestClient, key: dict[str, Any]) -> None:
    assert KEY_SID.match(key["sid"])
    assert key["friendly_name"] == "ci"
    assert len(key["secret"]) >= 32
    assert key["date_created"] == key["date_updated"] == "Thu, 01 Jan 2026 00:00:00 +0000"
    assert RFC_2822.match(key["date_created"])
    fetched = ok(client.get(key_path(key["sid"])))
    assert "secret" not in fetched
    assert fetched == {k: v for k, v in key.items() if k != "secret"}
    listed = ok(client.get(KEYS))["keys"]
    assert listed == [fetched]


def test_every_key_gets_its_own_secret(client: TestClient, key: dict[str, Any]) -> None:
    other = ok(client.post(KEYS, data={}), 201)
    assert other["sid"] != key["sid"]
    assert other["secret"] != key["secret"]
    assert other["friendly_name"] == ""


def test_list(client: TestClient, key: dict[str, Any]) -> None:
    second = ok(client.post(KEYS, data={"FriendlyName": "deploy"}), 201)
    body = ok(client.get(KEYS))
    assert [k["sid"] for k in body["keys"]] == [key["sid"], second["sid"]]
    assert all("secret" not in k for k in body["keys"])
    assert body["page"] == 0
    assert body["page_size"] == 50
    assert body["start"] == 0
    assert body["end"] == 1
    assert body["next_page_uri"] is None
    assert body["previous_page_uri"] is None
    assert body["first_page_uri"].startswith(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Keys.json?")
    assert body["uri"].startswith(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Keys.json?")


def test_list_pages(client: TestClient) -> None:
    sids = [ok(client.post(KEYS, data={"FriendlyName": f"k{n}"}), 201)["sid"] for n in range(3)]
    first = ok(client.get(KEYS, params={"PageSize": 2}))
    assert [k["sid"] for k in first["keys"]] == sids[:2]
    second = ok(client.get(first["next_page_uri"]))
    assert [k["sid"] for k in second["keys"]] == sids[2:]
    assert second["next_page_uri"] is None
    assert second["page"] == 1
    assert ok(client.get(second["previous_page_uri"]))["keys"] == first["keys"]


def test_update(client: TestClient, key: dict[str, Any], clock: ManualClock) -> None:
    clock.advance(3_600_000)
    body = ok(client.post(key_path(key["sid"]), data={"FriendlyName": "renamed"}))
    assert body["friendly_name"] == "renamed"
    assert body["date_updated"] == "Thu, 01 Jan 2026 01:00:00 +0000"
    assert body["date_created"] == key["date_created"]
    assert "secret" not in body
    assert ok(client.get(key_path(key["sid"]))) == body
    assert ok(client.post(key_path(key["sid"]), data={}))["friendly_name"] == "renamed"


def test_delete(client: TestClient, key: dict[str, Any]) -> None:
    response = client.delete(key_path(key["sid"]))
    assert response.status_code == 204
    assert_error(client.get(key_path(key["sid"])), 404, 20404)
    assert_error(client.delete(key_path(key["sid"])), 404, 20404)
    assert ok(client.get(KEYS))["keys"] == []


def test_unknown_key(client: TestClient) -> None:
    missing = key_path("SK" + "f" * 32)
    assert_error(client.get(missing), 404, 20404)
    assert_error(client.post(missing, data={"FriendlyName": "x"}), 404, 20404)
    assert_error(client.delete(missing), 404, 20404)


def test_a_key_authenticates_as_its_account(client: TestClient, ws: Workspace,
                                            key: dict[str, Any]) -> None:
    as_key = (key["sid"], key["secret"])
    workspaces = ok(client.get("/v1/Workspaces", auth=as_key))["workspaces"]
    assert [w["sid"] for w in workspaces] == [ws.sid]
    created = ok(client.post(ws.path("Workers"), data={"FriendlyName": "bot"}, auth=as_key), 201)
    assert created["account_sid"] == ACCOUNT_SID
    assert_error(client.get("/v1/Workspaces", auth=(key["sid"], "wrong-secret")), 401, 20003)
    assert_error(client.get("/v1/Workspaces", auth=(key["sid"], "")), 401, 20003)


def test_a_deleted_key_no_longer_authenticates(client: TestClient, key: dict[str, Any]) -> None:
    as_key = (key["sid"], key["secret"])
    ok(client.get("/v1/Workspaces", auth=as_key))
    assert client.delete(key_path(key["sid"])).status_code == 204
    response = client.get("/v1/Workspaces", auth=as_key)
    assert_error(response, 401, 20003)
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def suspend(runtime: Runtime) -> None:
    """There is no API to suspend an account yet: change the registry's record directly."""
    account = runtime.accounts.accounts[ACCOUNT_SID]
    runtime.accounts.accounts[ACCOUNT_SID] = dataclasses.replace(account, status="suspended")


def test_a_suspended_account_token_no_longer_authenticates(
        client: TestClient, runtime: Runtime) -> None:
    ok(client.get("/v1/Workspaces"))
    suspend(runtime)
    assert_error(client.get("/v1/Workspaces"), 401, 20003)


def test_a_suspended_account_key_no_longer_authenticates(
        client: TestClient, runtime: Runtime, key: dict[str, Any]) -> None:
    suspend(runtime)
    assert_error(client.get("/v1/Workspaces", auth=(key["sid"], key["secret"])), 401, 20003)


def test_another_account_sees_none_of_the_keys(
        client: TestClient, runtime: Runtime, clock: ManualClock, key: dict[str, Any]) -> None:
    """Another account sees neither the keys nor the key list of the first."""
    other_sid, other_token = "AC" + "b" * 32, "other-token"
    runtime.accounts.create_account(clock.now_ms(), sid=other_sid, auth_token=other_token)
    other = (other_sid, other_token)
    assert_error(client.get(KEYS, auth=other), 404, 20404)
    assert_error(client.post(KEYS, data={"FriendlyName": "x"}, auth=other), 404, 20404)
    assert_error(client.get(key_path(key["sid"]), auth=other), 404, 20404)
    theirs = f"/2010-04-01/Accounts/{other_sid}/Keys/{key['sid']}.json"
    assert_error(client.get(theirs, auth=other), 404, 20404)
    assert_error(client.delete(theirs, auth=other), 404, 20404)
    assert ok(client.get(f"/2010-04-01/Accounts/{other_sid}/Keys.json", auth=other))["keys"] == []
    assert [k["sid"] for k in ok(client.get(KEYS))["keys"]] == [key["sid"]]


def test_keys_need_credentials(client: TestClient, key: dict[str, Any]) -> None:
    client.auth = None  # type: ignore[assignment]
    assert_error(client.get(KEYS), 401, 20003)
    assert_error(client.post(KEYS, data={"FriendlyName": "x"}), 401, 20003)
    assert_error(client.delete(key_path(key["sid"])), 401, 20003)
