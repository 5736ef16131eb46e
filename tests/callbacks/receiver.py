"""A real HTTP receiver on loopback that records callbacks and answers as told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from twilio.request_validator import RequestValidator


@dataclass
class Received:
    path: str
    params: dict[str, str]
    signature: str
    at: float


@dataclass
class Answer:
    status: int = 204
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0  # seconds to wait before answering (a slow or hanging receiver)


@dataclass
class Receiver:
    """Answers POSTs with ``answer(path, params)`` and remembers each one."""

    answer: Callable[[str, dict[str, str]], Answer] = lambda path, params: Answer()
    received: list[Received] = field(default_factory=list)
    condition: threading.Condition = field(default_factory=threading.Condition)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode()
                params = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                answer = receiver.answer(self.path, params)
                with receiver.condition:
                    receiver.received.append(Received(
                        self.path, params, self.headers.get("X-Twilio-Signature", ""),
                        time.monotonic()))
                    receiver.condition.notify_all()
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def wait_for(self, predicate: Callable[[list[Received]], bool],
                 timeout: float = 10.0) -> list[Received]:
        """Block until the received requests satisfy ``predicate`` (I/O, not time, is awaited)."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while not predicate(self.received):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"receiver saw {[r.params.get('EventType') for r in self.received]}")
                self.condition.wait(remaining)
            return list(self.received)

    def of_type(self, event_type: str) -> list[Received]:
        with self.condition:
            return [r for r in self.received if r.params.get("EventType") == event_type]


def valid(auth_token: str, base_url: str, request: Received) -> bool:
    return RequestValidator(auth_token).validate(base_url + request.path, request.params,
                                                 request.signature)


def json_answer(body: dict[str, object]) -> Answer:
    return Answer(status=200, body=json.dumps(body).encode())
