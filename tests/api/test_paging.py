"""List pages: PageSize, absolute next/previous/first page URLs, stable PageTokens, meta.key."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from .conftest import BASE_URL, Workspace, assert_invalid, ok


def make_workers(ws: Workspace, count: int) -> list[str]:
    return [ws.worker(f"worker {n:03}")["sid"] for n in range(count)]


def pages(client: TestClient, first_url: str, **query: Any) -> list[dict[str, Any]]:
    """Every page from the first one, following meta.next_page_url verbatim."""
    body = ok(client.get(first_url, params=query or None))
    result = [body]
    while body["meta"]["next_page_url"]:
        body = ok(client.get(body["meta"]["next_page_url"]))
        result.append(body)
    return result


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_page_size_defaults_to_50(client: TestClient, ws: Workspace) -> None:
    sids = make_workers(ws, 52)
    body = ok(client.get(ws.path("Workers")))
    assert [w["sid"] for w in body["workers"]] == sids[:50]
    assert body["meta"]["page_size"] == 50
    assert body["meta"]["page"] == 0
    rest = ok(client.get(body["meta"]["next_page_url"]))
    assert [w["sid"] for w in rest["workers"]] == sids[50:]
    assert rest["meta"]["next_page_url"] is None


def test_page_size_may_be_1000_but_not_more_nor_0(client: TestClient, ws: Workspace) -> None:
    sids = make_workers(ws, 3)
    body = ok(client.get(ws.path("Workers"), params={"PageSize": 1000}))
    assert body["meta"]["page_size"] == 1000
    assert [w["sid"] for w in body["workers"]] == sids
    assert body["meta"]["next_page_url"] is None
    for size in ("0", "1001", "-5"):
        assert_invalid(client.get(ws.path("Workers"), params={"PageSize": size}), "PageSize")


def test_following_next_page_urls_visits_every_item_once(
        client: TestClient, ws: Workspace) -> None:
    sids = make_workers(ws, 11)
    visited = pages(client, ws.path("Workers"), PageSize=4)
    assert len(visited) == 3
    assert [w["sid"] for body in visited for w in body["workers"]] == sids
    for number, body in enumerate(visited):
        meta = body["meta"]
        assert meta["page"] == number
        assert meta["page_size"] == 4
        assert meta["key"] == "workers"
        assert meta["first_page_url"] == visited[0]["meta"]["first_page_url"]
        for name in ("url", "first_page_url", "next_page_url", "previous_page_url"):
            if meta[name] is not None:
                assert meta[name].startswith(f"{BASE_URL}{ws.path('Workers')}?"), meta[name]
    assert visited[0]["meta"]["previous_page_url"] is None
    assert visited[-1]["meta"]["next_page_url"] is None
    assert [len(body["workers"]) for body in visited] == [4, 4, 3]


def test_previous_and_first_page_urls_lead_back(client: TestClient, ws: Workspace) -> None:
    make_workers(ws, 9)
    visited = pages(client, ws.path("Workers"), PageSize=3)
    assert len(visited) == 3
    for earlier, later in itertools.pairwise(visited):
        back = ok(client.get(later["meta"]["previous_page_url"]))
        assert back["workers"] == earlier["workers"]
        assert back["meta"]["page"] == earlier["meta"]["page"]
    first = ok(client.get(visited[-1]["meta"]["first_page_url"]))
    assert first["workers"] == visited[0]["workers"]
    assert ok(client.get(visited[1]["meta"]["url"]))["workers"] == visited[1]["workers"]


def test_page_urls_keep_the_filters(client: TestClient, ws: Workspace) -> None:
    make_workers(ws, 7)
    visited = pages(client, ws.path("Workers"), PageSize=2, ActivityName="Offline",
                    Available="false")
    assert len(visited) == 4
    for body in visited:
        for name in ("url", "first_page_url", "next_page_url", "previous_page_url"):
            if body["meta"][name] is not None:
                query = query_of(body["meta"][name])
                assert query["ActivityName"] == ["Offline"]
                assert query["Available"] == ["false"]
                assert query["PageSize"] == ["2"]


def test_page_urls_keep_repeated_query_keys(client: TestClient, ws: Workspace) -> None:
    make_workers(ws, 3)
    body = ok(client.get(ws.path("Workers") + "?PageSize=1&Ordering=FriendlyName:asc"
                         "&Ordering=FriendlyName:desc"))
    assert query_of(body["meta"]["next_page_url"])["Ordering"] == [
        "FriendlyName:asc", "FriendlyName:desc"]


def test_deleting_the_last_item_seen_does_not_skip_the_next_page(
        client: TestClient, ws: Workspace) -> None:
    sids = make_workers(ws, 9)
    first = ok(client.get(ws.path("Workers"), params={"PageSize": 3}))
    ws.delete("Workers", sids[2])  # the item the next page's token points after
    second = ok(client.get(first["meta"]["next_page_url"]))
    assert [w["sid"] for w in second["workers"]] == sids[3:6]
    third = ok(client.get(second["meta"]["next_page_url"]))
    assert [w["sid"] for w in third["workers"]] == sids[6:9]
    assert third["meta"]["next_page_url"] is None


def test_deleting_an_item_already_seen_does_not_skip_the_next_page(
        client: TestClient, ws: Workspace) -> None:
    sids = make_workers(ws, 9)
    first = ok(client.get(ws.path("Workers"), params={"PageSize": 3}))
    second = ok(client.get(first["meta"]["next_page_url"]))
    ws.delete("Workers", sids[0])  # every later item moves one place up
    ws.delete("Workers", sids[4])
    third = ok(client.get(second["meta"]["next_page_url"]))
    assert [w["sid"] for w in third["workers"]] == sids[6:9]
    back = ok(client.get(third["meta"]["previous_page_url"]))  # the 3 items before sids[6]
    assert [w["sid"] for w in back["workers"]] == [sids[2], sids[3], sids[5]]


def test_deleting_an_item_of_the_next_page_does_not_skip_another(
        client: TestClient, ws: Workspace) -> None:
    sids = make_workers(ws, 7)
    first = ok(client.get(ws.path("Workers"), params={"PageSize": 3}))
    ws.delete("Workers", sids[3])
    second = ok(client.get(first["meta"]["next_page_url"]))
    assert [w["sid"] for w in second["workers"]] == sids[4:7]


def test_an_item_created_during_iteration_is_seen_at_the_end(
        client: TestClient, ws: Workspace) -> None:
    sids = make_workers(ws, 4)
    first = ok(client.get(ws.path("Workers"), params={"PageSize": 2}))
    late = ws.worker("late")["sid"]
    rest = pages(client, first["meta"]["next_page_url"])
    assert [w["sid"] for body in rest for w in body["workers"]] == [*sids[2:], late]


def test_a_page_past_the_end_is_empty(client: TestClient, ws: Workspace) -> None:
    make_workers(ws, 2)
    body = ok(client.get(ws.path("Workers"), params={"PageSize": 2, "Page": 5}))
    assert body["workers"] == []
    assert body["meta"]["next_page_url"] is None
    assert body["meta"]["page"] == 5


def test_page_numbers_without_a_token_count_from_zero(client: TestClient, ws: Workspace) -> None:
    sids = make_workers(ws, 5)
    body = ok(client.get(ws.path("Workers"), params={"PageSize": 2, "Page": 1}))
    assert [w["sid"] for w in body["workers"]] == sids[2:4]


@pytest.mark.parametrize("token", ["garbage", "PAx.WK1", "PA3", "XX1.WK" + "0" * 32])
def test_a_malformed_page_token_is_a_400(client: TestClient, ws: Workspace, token: str) -> None:
    assert_invalid(client.get(ws.path("Workers"), params={"PageToken": token}), "PageToken")


META_FIELDS = {"first_page_url", "key", "next_page_url", "page", "page_size", "previous_page_url",
               "url"}


@pytest.mark.parametrize(("collection", "key"), [
    ("Activities", "activities"),
    ("TaskChannels", "channels"),
    ("TaskQueues", "task_queues"),
    ("Workflows", "workflows"),
    ("Workers", "workers"),
])
def test_meta_key_names_the_list(client: TestClient, ws: Workspace, collection: str,
                                 key: str) -> None:
    body = ok(client.get(ws.path(collection)))
    assert set(body) == {key, "meta"}
    assert body["meta"]["key"] == key
    assert set(body["meta"]) == META_FIELDS


def test_workspaces_meta_key(client: TestClient, ws: Workspace) -> None:
    body = ok(client.get("/v1/Workspaces"))
    assert set(body) == {"workspaces", "meta"}
    assert body["meta"]["key"] == "workspaces"
    assert set(body["meta"]) == META_FIELDS


def test_worker_channels_list_meta_key(client: TestClient, ws: Workspace) -> None:
    worker = ws.worker("alice")
    body = ok(client.get(ws.path("Workers", worker["sid"], "Channels"), params={"PageSize": 2}))
    assert body["meta"]["key"] == "channels"
    visited = pages(client, ws.path("Workers", worker["sid"], "Channels"), PageSize=2)
    assert len(visited) == 3
    assert len({c["sid"] for body in visited for c in body["channels"]}) == 5


def test_workspaces_page_too(client: TestClient, make_workspace: Any) -> None:
    sids = [make_workspace().sid for _ in range(5)]
    visited = pages(client, "/v1/Workspaces", PageSize=2)
    assert [w["sid"] for body in visited for w in body["workspaces"]] == sids
