"""Bad writes among good ones, on SQLite and PostgreSQL: the bad are refused or fail alone, and
every good write concurrent with them succeeds. The manual clock's time survives a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from switchboard.api.app import create_app
from switchboard.routing.changes import Changes
from switchboard.routing.sids import new_sid
from switchboard.service.clock import ManualClock
from switchboard.service.runtime import Runtime
from switchboard.store import tables
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, START_MS, make_runtime

Request = Callable[[], Awaitable[httpx.Response]]


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    runtime = make_runtime(database_url, sids=new_sid)
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                 auth=(ACCOUNT_SID, AUTH_TOKEN)) as client:
        yield runtime, client
    runtime.stop()


async def workspace(client: httpx.AsyncClient) -> tuple[str, str]:
    """A FIFO workspace and one available worker: its tasks are reserved as they come."""
    ws = (await client.post("/v1/Workspaces", data={"FriendlyName": "w", "Template": "FIFO"}
                            )).json()["sid"]
    activities = (await client.get(f"/v1/Workspaces/{ws}/Activities")).json()["activities"]
    available = next(a["sid"] for a in activities if a["friendly_name"] == "Available")
    worker = await client.post(f"/v1/Workspaces/{ws}/Workers", data={
        "FriendlyName": "alice", "ActivitySid": available,
        "Attributes": '{"skills": ["a"]}'})
    assert worker.status_code == 201, worker.text
    return ws, worker.json()["sid"]


def good_requests(client: httpx.AsyncClient, ws: str, worker: str, count: int
                  ) -> list[Request]:
    def task(i: int) -> Request:
        return lambda: client.post(f"/v1/Workspaces/{ws}/Tasks",
                                   data={"Attributes": json.dumps({"i": i})})

    def update(i: int) -> Request:
        return lambda: client.post(f"/v1/Workspaces/{ws}/Workers/{worker}",
                                   data={"Attributes": json.dumps({"skills": ["a"], "n": i})})

    return [task(i) if i % 2 else update(i) for i in range(count)]


def stored_seqs(runtime: Runtime, ws: str) -> tuple[int, int]:
    """How many events the workspace has in the store, and how many distinct seqs."""
    events = tables.events
    return runtime.store.scalar(select(func.count()).where(events.c.workspace_sid == ws)), \
        runtime.store.scalar(select(func.count(func.distinct(events.c.seq))).where(
            events.c.workspace_sid == ws))


async def test_refused_writes_never_fail_concurrent_good_ones(
        api: tuple[Runtime, httpx.AsyncClient]) -> None:
    runtime, client = api
    ws, worker = await workspace(client)
    bad: list[Request] = [
        lambda: client.post(f"/v1/Workspaces/{ws}/Workers", data={"FriendlyName": "x\x00"}),
        lambda: client.post(f"/v1/Workspaces/{ws}/Tasks",
                            data={"Attributes": "[" * 1500 + "]" * 1500}),
        lambda: client.post(f"/v1/Workspaces/{ws}/Workers/{worker}",
                            data={"FriendlyName": "\x00"}),
        lambda: client.post(f"/v1/Workspaces/{ws}/Tasks", data={"Priority": str(2**64)}),
    ]
    good = good_requests(client, ws, worker, 200)
    mixed = [request for pair in zip(good, bad * 50, strict=True) for request in pair]
    answers = await asyncio.gather(*(request() for request in mixed))
    for index, answer in enumerate(answers):
        if index % 2:
            assert answer.status_code == 400, answer.text
        else:
            assert answer.status_code in (200, 201), answer.text
    count, distinct = stored_seqs(runtime, ws)
    assert count == distinct
    names = {w["friendly_name"] for w in (await client.get(
        f"/v1/Workspaces/{ws}/Workers")).json()["workers"]}
    assert names == {"alice"}


async def test_a_store_fault_fails_only_its_own_write_and_rebuilds_in_turn(
        api: tuple[Runtime, httpx.AsyncClient]) -> None:
    """A write the store itself refuses (a fault no validation foresaw) makes the workspace
    rebuild from the store; commands wait for the rebuild instead of racing it."""
    runtime, client = api
    ws, worker = await workspace(client)
    store = runtime.store
    original = store.apply_changes

    def faulty(conn: Any, changes: Changes) -> None:
        if any(str(changes.row(key).get("friendly_name")).startswith("poison")
               for key in changes.upserts):
            raise RuntimeError("the disk refused this row")
        original(conn, changes)

    store.apply_changes = faulty  # type: ignore[method-assign]

    def poison(i: int) -> Request:
        return lambda: client.post(f"/v1/Workspaces/{ws}/Workers",
                                   data={"FriendlyName": f"poison {i}"})

    good = good_requests(client, ws, worker, 240)
    poisons = [poison(i) for i in range(24)]
    mixed = [request for i, request in enumerate(good) for request in (
        (request, poisons[i // 10]) if i % 10 == 0 else (request,))]
    # Spread over time, so that commands keep arriving while a rebuild loads.
    started = []
    for request in mixed:
        started.append(asyncio.ensure_future(request()))
        await asyncio.sleep(0.002)
    answers = await asyncio.gather(*started)
    store.apply_changes = original  # type: ignore[method-assign]
    failed = [a for a, r in zip(answers, mixed, strict=True) if r not in poisons
              and a.status_code not in (200, 201)]
    assert not failed, [a.text for a in failed[:3]]
    assert [a.status_code for a, r in zip(answers, mixed, strict=True) if r in poisons] == \
        [503] * len(poisons)
    count, distinct = stored_seqs(runtime, ws)
    assert count == distinct
    # Memory and store agree: what is listed is what a restart would load.
    listed = (await client.get(f"/v1/Workspaces/{ws}/Tasks", params={"PageSize": 1000})
              ).json()["tasks"]
    stored = runtime.store.rows(tables.tasks, tables.tasks.c.workspace_sid == ws)
    assert {t["sid"] for t in listed} == {t["sid"] for t in stored}
    assert len(listed) == 120
    after = await client.post(f"/v1/Workspaces/{ws}/Tasks", data={})
    assert after.status_code == 201, after.text


def test_the_manual_clock_resumes_where_it_stood(database_url: str) -> None:
    runtime = make_runtime(database_url, clock=ManualClock(START_MS))
    try:
        asyncio.run(runtime.advance_clock(90_000))
    finally:
        runtime.stop()
    later = ManualClock()  # a restart would start from the wall clock
    runtime = make_runtime(database_url, clock=later)
    try:
        assert later.now_ms() == START_MS + 90_000
    finally:
        runtime.stop()
