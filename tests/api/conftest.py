"""Helpers for the REST API tests: workspaces to work in, error checks, "nothing changed"."""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import re
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

BASE_URL = "http://testserver"
ERROR_KEYS = {"code", "message", "more_info", "status"}
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a response that must have ``status``."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


def assert_error(response: httpx.Response, status: int, code: int = 20001,
                 *mentions: str) -> dict[str, Any]:
    """A Twilio error body with this status and code whose message names each of ``mentions``."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    for mention in mentions:
        assert mention in body["message"], f"{mention!r} not in {body['message']!r}"
    return body


def assert_invalid(response: httpx.Response, *mentions: str) -> dict[str, Any]:
    """400 with Twilio's 20001 (invalid parameter) naming ``mentions``."""
    return assert_error(response, 400, 20001, *mentions)


def list_all(client: TestClient, path: str, **query: Any) -> list[dict[str, Any]]:
    """Every item of a list, following ``meta.next_page_url`` as the official clients do."""
    body = ok(client.get(path, params=query or None))
    items: list[dict[str, Any]] = list(body[body["meta"]["key"]])
    while body["meta"]["next_page_url"]:
        body = ok(client.get(body["meta"]["next_page_url"]))
        items += body[body["meta"]["key"]]
    return items


def switchboards(thing: object) -> bool:
    """Made by Switchboard's code: an instance of one of its classes, or one of its functions
    (closures included)."""
    if isinstance(thing, types.FunctionType):
        return str(thing.__module__).startswith("switchboard")
    return type(thing).__module__.startswith("switchboard")


def left_in_cycles(run: Callable[[], object],
                   which: Callable[[object], bool] = switchboards) -> list[str]:
    """The objects ``run`` made that the garbage collector then found unreachable, i.e. left in
    cycles of references, among those ``which`` picks (by default Switchboard's own). What
    existed before is set aside (an earlier test's server may be let go of meanwhile, its
    long-lived state a cycle as such state may be); what ``run`` returns is kept until the
    collector has looked."""
    gc.collect()
    before = {id(thing) for thing in gc.get_objects()}
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage
    try:
        kept = run()
        gc.collect()
        found = [repr(thing)[:120] for thing in gc.garbage
                 if which(thing) and id(thing) not in before]
        del kept
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return found


@contextlib.contextmanager
def unchanged(client: TestClient, *paths: str) -> Iterator[None]:
    """Assert that GETting each path returns the same body after the block as before it."""
    before = [ok(client.get(path)) for path in paths]
    yield
    after = [ok(client.get(path)) for path in paths]
    assert after == before


@dataclass
class Workspace:
    """A workspace of the test account, with short ways to reach its resources."""

    client: TestClient
    body: dict[str, Any]

    @property
    def sid(self) -> str:
        return str(self.body["sid"])

    def path(self, *parts: str) -> str:
        return "/".join((f"/v1/Workspaces/{self.sid}", *parts))

    def url(self, *parts: str) -> str:
        return BASE_URL + self.path(*parts)

    def create(self, collection: str, **data: Any) -> dict[str, Any]:
        result: dict[str, Any] = ok(self.client.post(self.path(collection), data=data), 201)
        return result

    def fetch(self, *parts: str) -> dict[str, Any]:
        result: dict[str, Any] = ok(self.client.get(self.path(*parts)))
        return result

    def update(self, *parts: str, **data: Any) -> dict[str, Any]:
        result: dict[str, Any] = ok(self.client.post(self.path(*parts), data=data))
        return result

    def delete(self, *parts: str) -> None:
        response = self.client.delete(self.path(*parts))
        assert response.status_code == 204, response.text
        assert response.content == b""

    def list(self, *parts: str, **query: Any) -> list[dict[str, Any]]:
        """All items of a collection (every page), with optional filters."""
        return list_all(self.client, self.path(*parts), **query)

    def activity(self, name: str) -> str:
        """The SID of the activity with this friendly name."""
        (found,) = self.list("Activities", FriendlyName=name)
        return str(found["sid"])

    def worker(self, name: str, **data: Any) -> dict[str, Any]:
        return self.create("Workers", FriendlyName=name, **data)

    def queue(self, name: str, **data: Any) -> dict[str, Any]:
        return self.create("TaskQueues", FriendlyName=name, **data)

    def workflow(self, name: str, queue_sid: str, **data: Any) -> dict[str, Any]:
        return self.create("Workflows", FriendlyName=name,
                           Configuration=default_filter(queue_sid), **data)


def default_filter(queue_sid: str) -> str:
    """The simplest workflow configuration: everything to one queue."""
    return json.dumps({"task_routing": {"default_filter": {"queue": queue_sid}}})


MakeWorkspace = Callable[..., Workspace]


@pytest.fixture
def make_workspace(client: TestClient) -> MakeWorkspace:
    """``make_workspace(FriendlyName=..., Template=...)``: a new workspace (201 checked)."""
    counter = itertools.count(1)

    def make(**data: Any) -> Workspace:
        data.setdefault("FriendlyName", f"Workspace {next(counter)}")
        return Workspace(client, ok(client.post("/v1/Workspaces", data=data), 201))

    return make


@pytest.fixture
def ws(make_workspace: MakeWorkspace) -> Workspace:
    """A fresh workspace made with the default template (NONE)."""
    return make_workspace()
