"""The callback transport against scripted HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from switchboard.callbacks.transport import HttpTransport, TransportError

TIMEOUTS = {"connect_timeout": 2.0, "read_timeout": 2.0}


@dataclass
class Scripted:
    """A server that answers each request with ``answer(n)`` (raw bytes; None: no answer),
    closing the connection afterwards when ``close_after`` says so."""

    answer: Callable[[int], bytes | None]
    close_after: Callable[[int], bool] = lambda n: False
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                request = head + await reader.readexactly(length)
                n = len(self.requests)
                self.requests.append(request)
                reply = self.answer(n)
                if reply is None:
                    await asyncio.sleep(3600)
                writer.write(reply or b"")
                await writer.drain()
                if self.close_after(n):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


@pytest.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    transport = HttpTransport()
    yield transport
    await transport.close()


async def serve(scripted: Scripted) -> asyncio.Server:
    server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
    scripted.port = server.sockets[0].getsockname()[1]
    return server


async def test_requests_reuse_one_kept_alive_connection(transport: HttpTransport) -> None:
    scripted = Scripted(lambda n: NO_CONTENT)
    async with await serve(scripted):
        for i in range(3):
            answer = await transport.post(f"http://127.0.0.1:{scripted.port}/hook?x=1",
                                          b"A=%d" % i, {"X-Twilio-Signature": "sig"},
                                          **TIMEOUTS)
            assert answer.status == 204
    assert scripted.connections == 1
    head, body = scripted.requests[2].split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /hook?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{scripted.port}".encode() in lines
    assert b"Content-Type: application/x-www-form-urlencoded" in lines
    assert b"X-Twilio-Signature: sig" in lines
    assert b"Content-Length: 3" in lines
    assert body == b"A=2"


async def test_answers_with_a_length_chunked_or_ended_by_closing(
        transport: HttpTransport) -> None:
    replies = [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"instruction\": 1}",
    ]
    scripted = Scripted(lambda n: replies[n], close_after=lambda n: n == 2)
    async with await serve(scripted):
        url = f"http://127.0.0.1:{scripted.port}/"
        answers = [await transport.post(url, b"", {}, **TIMEOUTS) for _ in replies]
    assert [(a.status, a.content_type, a.body) for a in answers] == [
        (200, "application/json", b"{}"), (200, "text/plain", b"abcde"),
        (200, "application/json", b'{"instruction": 1}')]


async def test_a_connection_the_server_closed_is_replaced(transport: HttpTransport) -> None:
    scripted = Scripted(lambda n: b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
                        close_after=lambda n: True)
    async with await serve(scripted):
        url = f"http://127.0.0.1:{scripted.port}/"
        first = await transport.post(url, b"", {}, **TIMEOUTS)
        await asyncio.sleep(0)  # let the close arrive
        second = await transport.post(url, b"", {}, **TIMEOUTS)
    assert (first.status, second.status) == (500, 500)
    assert scripted.connections == 2


async def test_credentials_in_the_url_are_sent_as_basic_auth(transport: HttpTransport) -> None:
    scripted = Scripted(lambda n: NO_CONTENT)
    async with await serve(scripted):
        await transport.post(f"http://us%40er:p%3Ass@127.0.0.1:{scripted.port}/", b"", {},
                             **TIMEOUTS)
    expected = base64.b64encode(b"us@er:p:ss")
    assert b"Authorization: Basic " + expected in scripted.requests[0]
    assert b"us%40er" not in scripted.requests[0]


@pytest.mark.parametrize("reply", [None, b"NOT HTTP AT ALL\r\n\r\n"])
async def test_no_answer_or_a_garbled_one_is_an_error(transport: HttpTransport,
                                                      reply: bytes | None) -> None:
    scripted = Scripted(lambda n: reply)
    async with await serve(scripted):
        with pytest.raises(TransportError):
            await transport.post(f"http://127.0.0.1:{scripted.port}/", b"", {},
                                 connect_timeout=1.0, read_timeout=0.2)


async def test_a_refused_connection_or_a_bad_url_is_an_error(transport: HttpTransport) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(TransportError, match="could not connect"):
        await transport.post(f"http://127.0.0.1:{port}/", b"", {}, **TIMEOUTS)
    with pytest.raises(TransportError, match="not an http"):
        await transport.post("ftp://example.test/", b"", {}, **TIMEOUTS)
