"""The console's live feed: every committed event of a workspace to each page watching it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import orjson

from switchboard.console.stream import ConsoleFeed, account_key
from switchboard.routing.model import Event
from switchboard.service.runtime import Listener


class FakeRuntime:
    def __init__(self) -> None:
        self.listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        self.listeners.append(listener)


def event(seq: int, workspace_sid: str = "WS1") -> Event:
    return Event(sid=f"EV{seq}", account_sid="AC1", workspace_sid=workspace_sid, seq=seq,
                 event_type="task.created", event_date=1_000 * seq, resource_type="task",
                 resource_sid="WT1", description="Task created", data={"task_sid": "WT1"},
                 task_sid="WT1")


def parse(frame: bytes) -> tuple[str, dict[str, object]]:
    fields = dict(line.split(": ", 1) for line in frame.decode().strip().split("\n"))
    return fields["event"], orjson.loads(fields["data"])


async def test_each_page_gets_its_workspaces_events_in_order() -> None:
    runtime = FakeRuntime()
    feed = ConsoleFeed(runtime)  # type: ignore[arg-type]
    (listener,) = runtime.listeners
    first, second = feed.frames("WS1"), feed.frames("WS1")
    assert parse(await anext(first))[0] == "hello"
    assert parse(await anext(second))[0] == "hello"
    listener("WS2", [event(1, "WS2")])  # nobody watches it
    listener("WS1", [event(2), event(3)])
    for frames in (first, second):
        got = [parse(await anext(frames)) for _ in range(2)]
        assert [kind for kind, _ in got] == ["taskrouter", "taskrouter"]
        assert [data["seq"] for _, data in got] == [2, 3]
        assert got[0][1]["event_type"] == "task.created" and got[0][1]["task_sid"] == "WT1"
    await first.aclose()
    await second.aclose()
    assert feed.watchers == {}  # closed pages leave nothing behind


async def test_a_page_that_falls_behind_is_dropped() -> None:
    runtime = FakeRuntime()
    feed = ConsoleFeed(runtime, queue_size=3)  # type: ignore[arg-type]
    frames = feed.frames("WS1")
    await anext(frames)
    runtime.listeners[0]("WS1", [event(n) for n in range(1, 6)])
    # Its stream ends (the page reconnects and reloads what it shows).
    assert await asyncio.wait_for(_drain(frames), 1) == []
    assert feed.watchers == {}


async def _drain(frames: AsyncIterator[bytes]) -> list[bytes]:
    return [frame async for frame in frames]


async def test_closing_ends_every_stream_and_refuses_new_ones() -> None:
    feed = ConsoleFeed(FakeRuntime())  # type: ignore[arg-type]
    frames = feed.frames("WS1")
    await anext(frames)
    feed.close()
    assert await asyncio.wait_for(_drain(frames), 1) == []
    assert await _drain(feed.frames("WS1")) == []


async def test_an_account_may_hold_only_so_many_streams() -> None:
    feed = ConsoleFeed(FakeRuntime(), max_streams=2)  # type: ignore[arg-type]
    first, second = feed.frames("WS1", "AC1"), feed.frames("WS2", "AC1")
    await anext(first)
    assert not feed.full("AC1")
    await anext(second)
    assert feed.full("AC1") and not feed.full("AC2")  # another account's are its own
    await first.aclose()
    assert not feed.full("AC1")
    await second.aclose()
    assert feed.streams == {} and feed.watchers == {}


async def test_an_accounts_list_hears_of_its_workspaces_only() -> None:
    runtime = FakeRuntime()
    feed = ConsoleFeed(runtime)  # type: ignore[arg-type]
    (listener,) = runtime.listeners
    frames = feed.frames(account_key("AC1"), "AC1")
    await anext(frames)
    made = Event(sid="EV9", account_sid="AC1", workspace_sid="WS9", seq=1,
                 event_type="workspace.created", event_date=1, resource_type="workspace",
                 resource_sid="WS9", description="made",
                 data={})
    elsewhere = dataclasses.replace(made, account_sid="AC2", workspace_sid="WS8")
    listener("WS1", [event(1)])  # a task: not for the list
    listener("WS8", [elsewhere])  # another account's
    listener("WS9", [made])
    kind, data = parse(await asyncio.wait_for(anext(frames), 1))
    assert (kind, data["event_type"], data["resource_sid"]) == (
        "taskrouter", "workspace.created", "WS9")
    await frames.aclose()


async def test_a_stream_ends_when_its_session_does() -> None:
    runtime = FakeRuntime()
    feed = ConsoleFeed(runtime)  # type: ignore[arg-type]
    session = {"valid": True}
    frames = feed.frames("WS1", "AC1", lambda: session["valid"])
    await anext(frames)
    runtime.listeners[0]("WS1", [event(1)])
    assert parse(await anext(frames))[1]["seq"] == 1
    session["valid"] = False  # its auth token rotated, say
    runtime.listeners[0]("WS1", [event(2)])
    assert await asyncio.wait_for(_drain(frames), 1) == []  # event 2 is never sent
    assert feed.watchers == {} and feed.streams == {}
