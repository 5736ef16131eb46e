"""The callback sender: a process of its own that sends what the server's dispatcher hands it.

Callbacks cost CPU (signing, encoding, HTTP) that would otherwise be taken from the API and
routing; in a process of its own, at a lower CPU priority (``--niceness``, 10 by default),
that work never holds the server's event loop, and when the machine is short of CPU the
server keeps its share while callbacks wait, safely, in the event log.

Its standard input and output carry one JSON object per line:

* in: ``{"t": "e", "token": …, "event": {…}}`` an event callback to send (in order per
  workspace), ``{"t": "a", …}`` an assignment callback;
* out: ``{"t": "d", "ws": …, "seq": n}`` event callbacks done up to ``n``,
  ``{"t": "o", "ws": …, "seq": n, "instruction": {…} | null}`` an assignment callback done,
  ``{"t": "f", "ws": …, "event": sid, "kind": …, "url": …, "attempts": n, "error": …}`` a
  callback that failed.

It exits when its input closes (the server stopped or died), and quietly on SIGINT or
SIGTERM: what it had not sent yet stays owed in the event log, for the next sender.

    python -m switchboard.callbacks.sender --attempts 5 --backoff 1 --niceness 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Any

import orjson

from switchboard.callbacks.delivery import Delivery
from switchboard.callbacks.transport import HttpTransport
from switchboard.routing.model import Event

LINE_LIMIT = 64 * 1024 * 1024  # the longest line either side accepts (events carry attributes)
PROGRESS_INTERVAL = 0.02  # seconds between progress reports; offers and failures go at once


class PipeReports:
    """Writes reports to standard output, gathered into few writes."""

    def __init__(self, output: asyncio.WriteTransport) -> None:
        self.output = output
        self.done_up_to: dict[str, int] = {}
        self.lines: list[bytes] = []
        self.timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()

    def delivered(self, workspace_sid: str, seq: int) -> None:
        # Progress only moves cursors and the hand-over window: a report every few
        # milliseconds does, and spares the server a wake-up per callback.
        self.done_up_to[workspace_sid] = seq
        self._schedule(PROGRESS_INTERVAL)

    def offered(self, workspace_sid: str, seq: int, instruction: dict[str, Any] | None
                ) -> None:
        self.lines.append(orjson.dumps({"t": "o", "ws": workspace_sid, "seq": seq,
                                        "instruction": instruction}))
        self._schedule()

    def failed(self, event: Event, kind: str, url: str, attempts: int, error: str) -> None:
        self.lines.append(orjson.dumps({"t": "f", "ws": event.workspace_sid, "event": event.sid,
                                        "kind": kind, "url": url, "attempts": attempts,
                                        "error": error}))
        self._schedule()

    def _schedule(self, delay: float = 0.0) -> None:
        if self.timer is not None and (delay or self.timer.when() <= self._loop.time()):
            return  # a flush is due soon enough
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self._loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        self.timer = None
        # Failures first: a failed event callback is recorded before the cursor passes it.
        lines = self.lines + [orjson.dumps({"t": "d", "ws": ws, "seq": seq})
                              for ws, seq in self.done_up_to.items()]
        self.lines, self.done_up_to = [], {}
        self.output.write(b"\n".join(lines) + b"\n")


async def run(attempts: int, backoff: float) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    output, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout)
    delivery = Delivery(PipeReports(output), HttpTransport(), attempts=attempts,
                        backoff=backoff)
    reading = asyncio.current_task()
    assert reading is not None
    for stop in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(stop, reading.cancel)
    try:
        while line := await reader.readline():
            if not line.strip():
                continue
            job = orjson.loads(line)
            event = Event(**job["event"])
            if job["t"] == "e":
                delivery.event(event, job["token"])
            else:
                delivery.assignment(event, job["token"])
    except asyncio.CancelledError:
        pass  # a signal: stop like at the end of input
    finally:
        await delivery.close()


def main() -> None:
    # Until the loop takes them over, SIGINT and SIGTERM end the process without a traceback.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    parser = argparse.ArgumentParser(description="Send TaskRouter callbacks for the server.")
    parser.add_argument("--attempts", type=int, default=5)
    parser.add_argument("--backoff", type=float, default=1.0)
    parser.add_argument("--niceness", type=int, default=10)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s "
                        "%(name)s: %(message)s")
    if args.niceness:
        with contextlib.suppress(OSError, AttributeError):  # not everywhere, not essential
            os.nice(args.niceness)
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(args.attempts, args.backoff))
    else:
        uvloop.run(run(args.attempts, args.backoff))


if __name__ == "__main__":
    main()
