"""Event callbacks under load: what they cost task creation, and how soon they arrive.

Runs ``switchboard serve`` (durable SQLite) and a receiver process (aiohttp) on loopback.
1. Task creation throughput without callbacks, then with every event of the workspace
   POSTed to the receiver (about six callbacks per task: task.created, workflow.entered,
   workflow.target-matched, task-queue.entered, reservation.created …).
2. Latency: at a fixed rate, the time from the create request's answer (the change is
   committed by then) to the receiver getting that task's ``task.created`` callback.

    python benchmarks/callbacks.py [--tasks 4000] [--rate 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from common import machine
from http_tasks import (
    ACCOUNT,
    TOKEN,
    create,
    open_loop,
    session,
    setup,
    start_server,
    throughput,
)

# What an application typically follows: tasks coming and going, and their reservations.
USUAL_EVENTS = ("task.created,task.canceled,task.completed,reservation.created,"
                "reservation.accepted")


def receive(port: int, log_path: str, ready: multiprocessing.synchronize.Event) -> None:
    """The receiver process: answer 204 at once, note when each task.created arrived."""
    arrivals: list[tuple[str, float]] = []

    async def hook(request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("EventType") == "task.created":
            arrivals.append((str(form["TaskSid"]), time.time()))
        return web.Response(status=204)

    async def dump(request: web.Request) -> web.Response:
        Path(log_path).write_text(json.dumps(arrivals))
        return web.Response(text=str(len(arrivals)))

    app = web.Application()
    app.router.add_post("/events", hook)
    app.router.add_get("/dump", dump)
    runner = web.AppRunner(app, access_log=None)

    async def main() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def timed_creates(base: str, path: str, rate: int, seconds: float
                        ) -> dict[str, float]:
    answered: dict[str, float] = {}
    async with session(base, 256) as client:
        async def one(i: int) -> None:
            body = await create(client, path, i)
            answered[str(body["sid"])] = time.time()

        await open_loop(rate, seconds, one)
    return answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=4_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    port, receiver_port = 18_090, 18_091
    base = f"http://127.0.0.1:{port}"
    hook = f"http://127.0.0.1:{receiver_port}/events"
    ready = multiprocessing.Event()
    with tempfile.TemporaryDirectory() as tmp:
        log_path = str(Path(tmp) / "arrivals.json")
        receiver = multiprocessing.Process(target=receive, args=(receiver_port, log_path, ready),
                                           daemon=True)
        receiver.start()
        ready.wait(10)
        server = start_server(Path(tmp) / "data", port)
        try:
            print(f"machine: {machine()}")
            # Latency first, while no backlog of callbacks competes with it.
            latency_ws = setup(base)
            asyncio.run(_configure(base, latency_ws, hook))
            answered = asyncio.run(timed_creates(base, latency_ws, args.rate, args.seconds))
            time.sleep(1)  # let the last callbacks arrive
            asyncio.run(_dump(receiver_port))
            arrivals = dict(json.loads(Path(log_path).read_text()))
            delays = sorted(max(0.0, arrivals[sid] - at) * 1000 for sid, at in answered.items()
                            if sid in arrivals)
            missing = len(answered) - len(delays)
            print(f"callback delay after commit at {args.rate} tasks/s, every event called "
                  f"back ({len(delays)} tasks, {missing} missing): p50 "
                  f"{statistics.median(delays):.1f} ms, p99 "
                  f"{delays[int(len(delays) * 0.99) - 1]:.1f} ms (target p99 ≤ 50 ms)")
            plain = setup(base)
            without = asyncio.run(throughput(base, plain, args.tasks, args.concurrency))
            print(f"task creation, {args.concurrency} clients: {without:,.0f}/s without "
                  "callbacks")
            for label, events_filter in (("the usual events", USUAL_EVENTS),
                                         ("every event", None)):
                hooked = setup(base)
                asyncio.run(_configure(base, hooked, hook, events_filter))
                rate = asyncio.run(throughput(base, hooked, args.tasks, args.concurrency))
                time.sleep(3)  # let the backlog drain before the next measurement
                print(f"  with {label} called back ({events_filter or 'no EventsFilter'}): "
                      f"{rate:,.0f}/s, {rate / without:.0%} (target ≥ 80%)")
        finally:
            server.terminate()
            server.wait()
            receiver.terminate()


async def _configure(base: str, path: str, hook: str, events_filter: str | None = None
                     ) -> None:
    data = {"EventCallbackUrl": hook}
    if events_filter:
        data["EventsFilter"] = events_filter
    async with session(base, 1) as client, client.post(path, data=data) as response:
        assert response.status == 200, await response.text()


async def _dump(port: int) -> None:
    async with aiohttp.ClientSession() as client, client.get(
            f"http://127.0.0.1:{port}/dump") as response:
        await response.text()


if __name__ == "__main__":
    assert ACCOUNT and TOKEN
    main()
