"""Test helpers for applications that use TaskRouter: a real Switchboard server of their own.

In pytest (the plugin is registered through the ``pytest11`` entry point, nothing to import)::

    def test_routes_a_call(taskrouter):
        ws = taskrouter.client.taskrouter.v1.workspaces.create(friendly_name="Support")
        assert ws.friendly_name == "Support"

Anywhere else::

    with switchboard.testing.server() as tr:
        tr.client.taskrouter.v1.workspaces.create(friendly_name="Support")
        tr.advance(30)

The server is ``switchboard serve --ephemeral --clock manual --port 0`` in a subprocess: the
same server users run, with everything in memory and time that moves only through
``advance``. Each ``TaskRouter`` is an account of its own on it, so tests sharing a server
never see each other's workspaces. The clock, though, is the server's: ``advance`` moves time
for every account on that server (pytest-xdist workers each start their own server).
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from twilio.rest import Client

__all__ = ["Server", "ServerError", "TaskRouter", "server"]

_ANNOUNCE = re.compile(r"Serving the TaskRouter API on (\S+)/v1")
STARTUP_TIMEOUT = 30.0  # seconds; it takes about one on an idle machine
HTTP_TIMEOUT = 30.0


class ServerError(RuntimeError):
    """The server did not start, or answered a helper's request with an error."""


class TaskRouter:
    """One isolated TaskRouter: an account of its own on a Switchboard server."""

    def __init__(self, url: str, account_sid: str, auth_token: str) -> None:
        self.url = url.rstrip("/")
        self.account_sid = account_sid
        self.auth_token = auth_token
        # The Worker SDK's options: ``new Worker(token, {ebServer, wsServer})``.
        self.eb_server = f"{self.url}/v1/wschannels"
        self.ws_server = re.sub(r"^http", "ws", self.url) + "/v1/wschannels"
        self._http = httpx.Client(base_url=self.url, auth=(account_sid, auth_token),
                                  timeout=HTTP_TIMEOUT, trust_env=False)
        self._key: tuple[str, str] | None = None

    @cached_property
    def client(self) -> Client:
        """The official ``twilio.rest.Client``, its TaskRouter and Accounts (Keys) APIs pointed
        at this server."""
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        http_client = TwilioHttpClient(timeout=HTTP_TIMEOUT)
        if http_client.session is not None:  # loopback: never through a proxy from the env
            http_client.session.trust_env = False
        client = Client(self.account_sid, self.auth_token, environment={},
                        http_client=http_client)
        client.taskrouter.base_url = self.url
        client.api.base_url = self.url
        return client

    def now_ms(self) -> int:
        """The server's time (epoch milliseconds): the manual clock's, or the system's."""
        reply = self._http.get("/dev/clock")
        if reply.status_code == 404:  # a server on the system clock
            return time.time_ns() // 1_000_000
        return int(self._check(reply)["now_ms"])

    def advance(self, seconds: float) -> int:
        """Move the server's manual clock ``seconds`` forward; every timer due by then
        (reservation timeouts, task TTLs, workflow steps) has fired and its effects are
        committed when this returns. Returns the new time (epoch ms).

        The clock is the whole server's: this moves time for every test sharing it."""
        reply = self._http.post("/dev/clock", data={"Advance": repr(float(seconds))})
        return int(self._check(reply)["now_ms"])

    def worker_token(self, workspace_sid: str, worker_sid: str, ttl: int = 3600) -> str:
        """An access token for the Worker SDK (twilio-taskrouter.js), minted as twilio-python
        mints it, with an API key made through the Keys API; valid for ``ttl`` seconds of the
        server's clock from now."""
        from twilio.jwt.access_token import AccessToken
        from twilio.jwt.access_token.grants import TaskRouterGrant

        if self._key is None:
            key = self.client.new_keys.create(friendly_name="switchboard.testing")
            self._key = (key.sid, key.secret)
        now = self.now_ms() // 1000
        token = AccessToken(self.account_sid, self._key[0], self._key[1], identity=worker_sid,
                            nbf=now, valid_until=now + ttl)
        token.add_grant(TaskRouterGrant(workspace_sid=workspace_sid, worker_sid=worker_sid,
                                        role="worker"))
        return str(token.to_jwt())

    def delete_workspaces(self) -> None:
        """Delete every workspace of this account (what the fixture does after a test)."""
        for listed in self._check(self._http.get("/v1/Workspaces",
                                                 params={"PageSize": 1000}))["workspaces"]:
            self._http.delete(f"/v1/Workspaces/{listed['sid']}")

    def close(self) -> None:
        self._http.close()

    @staticmethod
    def _check(reply: httpx.Response) -> dict[str, Any]:
        if reply.status_code >= 400:
            raise ServerError(f"{reply.request.method} {reply.request.url.path}: "
                              f"{reply.status_code} {reply.text}")
        body: dict[str, Any] = reply.json()
        return body


class Server:
    """``switchboard serve --ephemeral`` in a subprocess, on a free port of loopback."""

    def __init__(self, *, clock: str = "manual", extra_args: Sequence[str] = (),
                 startup_timeout: float = STARTUP_TIMEOUT) -> None:
        self.clock = clock
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        # The account the server starts with; tests get accounts of their own.
        self.account_sid = "AC" + uuid.uuid4().hex
        self.auth_token = secrets.token_hex(16)
        self.url = ""
        self.process: subprocess.Popen[str] | None = None
        self.output: deque[str] = deque(maxlen=200)  # the server's last lines, for errors

    def start(self) -> Server:
        # The server's settings are these alone, not whatever SWITCHBOARD_* the shell has.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env.update(SWITCHBOARD_ACCOUNT_SID=self.account_sid,
                   SWITCHBOARD_AUTH_TOKEN=self.auth_token, PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", "switchboard", "serve", "--ephemeral",
                   "--clock", self.clock, "--host", "127.0.0.1", "--port", "0",
                   "--log-level", "warning", *self.extra_args]
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read_output, args=(lines,), daemon=True,
                         name="switchboard-output").start()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise ServerError(f"the server did not start in {self.startup_timeout} s:\n"
                                  + "".join(self.output)) from None
            if line is None:
                self.stop()
                raise ServerError("the server stopped while starting:\n" + "".join(self.output))
            if found := _ANNOUNCE.search(line):
                self.url = found.group(1)
                return self

    def _read_output(self, lines: queue.Queue[str | None]) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:  # read to the end: a full pipe would stall it
            self.output.append(line)
            lines.put(line)
        lines.put(None)

    def taskrouter(self, name: str | None = None) -> TaskRouter:
        """A TaskRouter of its own: a new account on this server (``POST /dev/accounts``)."""
        data = {"FriendlyName": name[:64]} if name else {}
        reply = httpx.post(self.url + "/dev/accounts", data=data, timeout=HTTP_TIMEOUT,
                           auth=(self.account_sid, self.auth_token), trust_env=False)
        if reply.status_code != 201:
            raise ServerError(f"could not create an account: {reply.status_code} {reply.text}")
        account = reply.json()
        return TaskRouter(self.url, account["sid"], account["auth_token"])

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Server:
        return self.start() if self.process is None else self

    def __exit__(self, *_: object) -> None:
        self.stop()


@contextlib.contextmanager
def server(*, clock: str = "manual", extra_args: Sequence[str] = ()) -> Iterator[TaskRouter]:
    """A server of its own for the block, and a TaskRouter on it; everything is gone after."""
    with Server(clock=clock, extra_args=extra_args) as running:
        taskrouter = running.taskrouter()
        try:
            yield taskrouter
        finally:
            taskrouter.close()
