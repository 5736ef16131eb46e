"""Driving the official JavaScript Worker SDK (npm ``twilio-taskrouter``, pinned) from tests.

``Sdk`` runs ``tests/compat/node/worker.js`` under Node: SDK ``Worker`` objects with nothing
changed but ``ebServer``/``wsServer``, given at start or connected later (``connect``), print
what they see as JSON lines, and run the commands written to the process's stdin. ``Room`` is a
FIFO-template workspace with an API key to mint tokens from, as twilio-python mints them.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import TaskRouterGrant

NODE_DIR = Path(__file__).parent / "node"
WAIT = 15.0  # seconds to wait for something the SDK should see within milliseconds

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "twilio-taskrouter").exists(),
    reason="needs Node and tests/compat/node/node_modules (./dev test installs them)")


class Sdk:
    """One Node process driving SDK Workers; ``expect`` what they see, ``call`` them."""

    def __init__(self, url: str, workers: list[dict[str, Any]]) -> None:
        env = {**os.environ, "SB_URL": url, "SB_WORKERS": json.dumps(workers),
               "NO_PROXY": "127.0.0.1,localhost"}
        self.process = subprocess.Popen(
            ["node", "worker.js"], cwd=NODE_DIR, env=env, text=True, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []  # everything read, in order
        self.unread: list[dict[str, Any]] = []
        self.ids = iter(range(1, 1_000_000))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _next(self, deadline: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"timed out; the SDK saw: {self.seen}") from None
        if line is None:
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise AssertionError(f"the Node process ended: {stderr}; it saw: {self.seen}")
        item: dict[str, Any] = json.loads(line)
        self.seen.append(item)
        return item

    def expect(self, event: str, w: int = 0, timeout: float = WAIT, **match: Any
               ) -> dict[str, Any]:
        """The next not yet expected ``event`` of worker ``w`` whose fields include ``match``."""
        def fits(item: dict[str, Any]) -> bool:
            return item["event"] == event and item["w"] == w and all(
                item.get(k) == v for k, v in match.items())

        for item in self.unread:
            if fits(item):
                self.unread.remove(item)
                return item
        deadline = time.monotonic() + timeout
        while True:
            item = self._next(deadline)
            if fits(item):
                return item
            self.unread.append(item)

    def call(self, op: str, w: int = 0, **args: Any) -> dict[str, Any]:
        """Run a command; its result (``ok`` and ``value`` or ``error``)."""
        command_id = next(self.ids)
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": command_id, "w": w, "op": op, **args}) + "\n")
        self.process.stdin.flush()
        return self.expect("result", w, id=command_id)

    def ok(self, op: str, w: int = 0, **args: Any) -> Any:
        result = self.call(op, w, **args)
        assert result["ok"], result
        return result["value"]

    def connect(self, token: str, **options: Any) -> int:
        """One more SDK Worker in this process; its index, once it is ready."""
        index: int = self.ok("connect", token=token, options=options)["w"]
        self.expect("ready", w=index)
        return index

    def events(self, w: int = 0) -> list[str]:
        return [item["event"] for item in self.seen if item["w"] == w]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@dataclass
class Room:
    """A FIFO-template workspace, an API key, and a way to start SDK processes on it."""

    url: str
    ws: Any  # twilio-python's workspace context
    sid: str
    account_sid: str
    key: Any
    clock: Any
    activity: dict[str, Any]
    workflow: Any
    queue: Any
    processes: list[Sdk]

    def worker(self, name: str, activity: str = "Offline", **attributes: Any) -> Any:
        return self.ws.workers.create(friendly_name=name, attributes=json.dumps(attributes),
                                      activity_sid=self.activity[activity].sid)

    def token(self, worker_sid: str, ttl: int = 3600, *, nbf_offset: int = 0) -> str:
        """An access token minted as twilio-python mints it, valid by the server's clock."""
        now = self.clock.now_ms() // 1000
        token = AccessToken(self.account_sid, self.key.sid, self.key.secret,
                            identity=worker_sid, nbf=now + nbf_offset, valid_until=now + ttl)
        token.add_grant(TaskRouterGrant(workspace_sid=self.sid, worker_sid=worker_sid,
                                        role="worker"))
        return str(token.to_jwt())

    def sdk(self, *workers: Any, url: str | None = None, **options: Any) -> Sdk:
        process = Sdk(url or self.url, [
            {"token": w if isinstance(w, str) else self.token(w.sid), "options": options}
            for w in workers])
        self.processes.append(process)
        return process

    def create_task(self, **attributes: Any) -> Any:
        return self.ws.tasks.create(workflow_sid=self.workflow.sid,
                                    attributes=json.dumps(attributes))


def make_room(url: str, client: Any, workspace_sid: str, clock: Any) -> Room:
    ws = client.taskrouter.v1.workspaces(workspace_sid)
    key = client.new_keys.create(friendly_name=f"worker-sdk-{uuid.uuid4().hex[:8]}")
    return Room(url=url, ws=ws, sid=workspace_sid, account_sid=client.account_sid, key=key,
                clock=clock,
                activity={a.friendly_name: a for a in ws.activities.list()},
                workflow=ws.workflows.list()[0],
                queue=ws.task_queues.list(friendly_name="Sample Queue")[0], processes=[])


def wait_until(condition: Callable[[], bool], attempts: int = 500) -> None:
    """Poll the API (each attempt is a request round trip) until ``condition()`` holds."""
    for _ in range(attempts):
        if condition():
            return
    raise AssertionError("the condition never held")
