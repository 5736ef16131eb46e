"""Event callbacks under load: what they cost task creation, and how soon they arrive.

Runs ``switchboard serve`` (durable SQLite; it starts its callback sender process) and a
receiver process on loopback. The receiver is an asyncio protocol with httptools' parser, so
that what is measured is Switchboard's cost rather than a web framework's.
1. Latency: at a fixed rate, with every event called back, the time from the create request's
   answer (the change is committed by then) to the receiver getting that task's
   ``task.created`` callback.
2. Task creation throughput without callbacks, then with the usual events and with every
   event of the workspace POSTed to the receiver (about six callbacks per task:
   task.created, workflow.entered, workflow.target-matched, task-queue.entered,
   reservation.created …); then how fast the backlog of callbacks drains, in order.

    python benchmarks/callbacks.py [--tasks 4000] [--rate 200] [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs

import httptools
import httpx
from common import machine
from http_tasks import (
    ACCOUNT,
    TOKEN,
    cpu_seconds,
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
    """The receiver process: answer 204 at once, count callbacks, note when each task.created
    arrived; ``GET /dump`` writes the arrivals to ``log_path`` and answers the count."""
    arrivals: list[tuple[str, float]] = []
    count = 0

    class Receiver(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.parser = httptools.HttpRequestParser(self)
            self.body = b""

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

        def on_message_begin(self) -> None:
            self.body = b""

        def on_body(self, body: bytes) -> None:
            self.body += body

        def on_message_complete(self) -> None:
            nonlocal count
            if self.parser.get_method() == b"GET":
                Path(log_path).write_text(json.dumps(arrivals))
                text = str(count).encode()
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                                     % (len(text), text))
                return
            count += 1
            if b"EventType=task.created" in self.body:
                form = parse_qs(self.body.decode())
                arrivals.append((form["TaskSid"][0], time.time()))
            self.transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")

    async def main() -> None:
        await asyncio.get_running_loop().create_server(Receiver, "127.0.0.1", port)
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def received(port: int) -> int:
    return int(httpx.get(f"http://127.0.0.1:{port}/dump").text)


def drain(port: int) -> tuple[int, float]:
    """Wait until callbacks stop arriving; how many arrived, and in how long."""
    start, last, seen = time.perf_counter(), time.perf_counter(), received(port)
    while time.perf_counter() - last < 1.0:
        time.sleep(0.1)
        now = received(port)
        if now != seen:
            seen, last = now, time.perf_counter()
    return seen, last - start



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
    parser.add_argument("--rounds", type=int, default=3)
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
            drain(receiver_port)
            arrivals = dict(json.loads(Path(log_path).read_text()))
            delays = sorted(max(0.0, arrivals[sid] - at) * 1000 for sid, at in answered.items()
                            if sid in arrivals)
            missing = len(answered) - len(delays)
            print(f"callback delay after commit at {args.rate} tasks/s, every event called "
                  f"back ({len(delays)} tasks, {missing} missing): p50 "
                  f"{statistics.median(delays):.1f} ms, p99 "
                  f"{delays[int(len(delays) * 0.99) - 1]:.1f} ms (target p99 ≤ 50 ms)")
            # Alternating rounds, so that other work on the machine weighs on each kind alike.
            kinds = (("no callbacks", ""), ("the usual events", USUAL_EVENTS),
                     ("every event", None))
            rates: dict[str, list[float]] = {label: [] for label, _ in kinds}
            sender = sender_pid(server)
            for round_number in range(1, args.rounds + 1):
                for label, events_filter in kinds:
                    path = setup(base)
                    if events_filter != "":
                        asyncio.run(_configure(base, path, hook, events_filter))
                    before, sent_cpu = received(receiver_port), cpu_seconds(sender)
                    rate, cpu = measure(server, base, path, args)
                    rates[label].append(rate)
                    count, seconds = drain(receiver_port)
                    count -= before
                    sent_cpu = cpu_seconds(sender) - sent_cpu
                    print(f"round {round_number}, {label}: {rate:,.0f} tasks/s, server process "
                          f"{cpu:.0f} µs CPU per task; {count:,} callbacks delivered in order, "
                          f"the last {seconds:.1f} s after the last task"
                          + (f", sender {sent_cpu / count * 1e6:.0f} µs CPU each" if count
                             else ""))
            without = statistics.median(rates["no callbacks"])
            print(f"task creation, {args.concurrency} clients, median of {args.rounds} rounds: "
                  f"{without:,.0f}/s without callbacks")
            for label, events_filter in kinds[1:]:
                ratios = sorted(r / w for r, w in zip(rates[label], rates["no callbacks"],
                                                      strict=True))
                print(f"  with {label} called back ({events_filter or 'no EventsFilter'}): "
                      f"{statistics.median(rates[label]):,.0f}/s, "
                      f"{statistics.median(rates[label]) / without:.0%} (rounds "
                      f"{ratios[0]:.0%} to {ratios[-1]:.0%}; target ≥ 80%)")
        finally:
            server.terminate()
            server.wait()
            receiver.terminate()


def measure(server: subprocess.Popen[bytes], base: str, path: str, args: argparse.Namespace
            ) -> tuple[float, float]:
    """Creation throughput, and the server process's CPU per task meanwhile."""
    cpu = cpu_seconds(server.pid)
    rate = asyncio.run(throughput(base, path, args.tasks, args.concurrency))
    return rate, (cpu_seconds(server.pid) - cpu) / args.tasks * 1e6


def sender_pid(server: subprocess.Popen[bytes]) -> int:
    """The server's callback sender process (its only child)."""
    return next(int(pid) for path in Path(f"/proc/{server.pid}/task").iterdir()
                for pid in (path / "children").read_text().split())


async def _configure(base: str, path: str, hook: str, events_filter: str | None = None
                     ) -> None:
    data = {"EventCallbackUrl": hook}
    if events_filter:
        data["EventsFilter"] = events_filter
    async with session(base, 1) as client, client.post(path, data=data) as response:
        assert response.status == 200, await response.text()


if __name__ == "__main__":
    assert ACCOUNT and TOKEN
    main()
