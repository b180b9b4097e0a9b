"""An answer leaves the server in one write (httpguard's transport): the status line, the
headers and a whole body together, where uvicorn wrote the head and the body apart (two system
calls and two wake-ups of the client per small API answer). A streamed body still leaves as it
is produced, and an answer followed by a close arrives whole.

A real uvicorn server with our protocol over a socket; the server's transport records what each
`write` carried."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from hirondelle.httpguard import MAX_HELD_BYTES, guarded_protocol
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio

BURST, CHUNK = 40, 8192


class RecordingTransport:
    """The server side of a connection: keeps what each `write` carried, then passes it on."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)


class App:
    """`/small`: a small answer; `/stream`: a first chunk, then the rest when `go` is set;
    `/burst`: BURST chunks of CHUNK bytes produced without ever yielding to the event loop."""

    def __init__(self) -> None:
        self.go = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        headers = [(b"content-type", b"text/plain")]
        if scope["path"] == "/small":
            headers.append((b"content-length", b"5"))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"hello"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if scope["path"] == "/burst":
            for n in range(BURST):
                chunk = b"%d" % (n % 10) * CHUNK
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        await self.go.wait()
        await send({"type": "http.response.body", "body": b"last"})


@asynccontextmanager
async def serving(tmp_path: Path) -> AsyncIterator[tuple[App, int, list[RecordingTransport]]]:
    settings = make_settings(f"sqlite:///{tmp_path}/unused.db", tmp_path)
    transports: list[RecordingTransport] = []
    base = guarded_protocol(settings)

    class Recorded(base):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transports.append(RecordingTransport(transport))
            super().connection_made(transports[-1])

    app = App()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off", http=Recorded))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.01)
        yield app, sock.getsockname()[1], transports
    finally:
        server.should_exit = True
        app.go.set()
        await task


async def read_until(reader: asyncio.StreamReader, end: bytes) -> bytes:
    return await asyncio.wait_for(reader.readuntil(end), timeout=10)


async def test_a_small_answer_leaves_in_one_write(tmp_path: Path) -> None:
    async with serving(tmp_path) as (_app, port, transports):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(3):  # each answer of a kept-alive connection
            writer.write(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
            await read_until(reader, b"hello")
        writer.close()
        (recorded,) = transports
        assert len(recorded.writes) == 3
        for write in recorded.writes:
            head, _, body = write.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK") and body == b"hello"


async def test_a_streamed_body_leaves_as_it_is_produced(tmp_path: Path) -> None:
    async with serving(tmp_path) as (app, port, transports):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await read_until(reader, b"first;\r\n")  # before the rest exists
        assert first.startswith(b"HTTP/1.1 200 OK") and b"transfer-encoding: chunked" in first
        app.go.set()
        assert (await read_until(reader, b"0\r\n\r\n")).endswith(b"last\r\n0\r\n\r\n")
        writer.close()
        (recorded,) = transports
        assert len(recorded.writes) == 2  # the head with the first chunk; the rest


async def test_an_answer_before_a_close_arrives_whole(tmp_path: Path) -> None:
    async with serving(tmp_path) as (_app, port, transports):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), timeout=10)  # up to the server's FIN
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"\r\n\r\nhello")
        assert b"connection: close" in answer
        (recorded,) = transports
        assert recorded.writes == [answer]


async def test_a_body_produced_without_yielding_is_not_held_whole(tmp_path: Path) -> None:
    """What is held is written once MAX_HELD_BYTES are, so that a stream produced in one turn
    of the loop stays under the transport's flow control rather than piling up in memory."""
    async with serving(tmp_path) as (_app, port, transports):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        writer.write(b"GET /burst HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await read_until(reader, b"\r\n0\r\n\r\n")
        writer.close()
        body = answer.partition(b"\r\n\r\n")[2]
        for n in range(BURST):
            assert b"%d" % (n % 10) * CHUNK in body
        (recorded,) = transports
        assert len(recorded.writes) >= BURST * CHUNK // MAX_HELD_BYTES
        assert all(len(write) < MAX_HELD_BYTES + 2 * CHUNK for write in recorded.writes)
