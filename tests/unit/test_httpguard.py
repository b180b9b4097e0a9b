"""The HTTP server's own limits, on a real uvicorn server over a socket: a header too large or
too many headers (431), a half-sent request (408), and a huge body refused (413) while another
client is still served."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from hirondelle.app import create_app
from hirondelle.context import Context
from hirondelle.httpguard import guarded_protocol
from hirondelle.store import Store
from hirondelle.store.engine import create_engine
from tests.conftest import TEST_SECRET, make_settings
from tests.helpers import make_account

pytestmark = pytest.mark.anyio

LIMITS = {"max_header_bytes": 8192, "max_header_count": 20, "request_read_timeout": 0.5}


@asynccontextmanager
async def running(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[Context, int]]:
    settings = make_settings(sqlite_url, tmp_path, **LIMITS)
    ctx = Context(store=Store(create_engine(sqlite_url)), settings=settings, secret=TEST_SECRET)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(ctx), log_config=None, lifespan="off", http=guarded_protocol(settings)
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.01)
        yield ctx, sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        ctx.close()


class Client(asyncio.Protocol):
    """A raw HTTP client that keeps what it received even when the server resets the
    connection (a refusal closes with the client's bytes unread: the client sees a reset)."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.writable = asyncio.Event()
        self.writable.set()
        self.transport: asyncio.Transport | None = None

    @classmethod
    async def connect(cls, port: int) -> Client:
        _transport, client = await asyncio.get_running_loop().create_connection(
            cls, "127.0.0.1", port
        )
        return client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.writable.set()
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    async def send(self, parts: list[bytes]) -> int:
        """Write `parts` as the server takes them; stop when it closes. Returns bytes written."""
        sent = 0
        for part in parts:
            await self.writable.wait()
            if self.closed.done():
                break
            assert self.transport is not None
            self.transport.write(part)
            sent += len(part)
        return sent

    async def answer(self) -> tuple[int, bytes]:
        """Status and body of the answer, once the server closed (waits at most 10 s)."""
        await asyncio.wait_for(asyncio.shield(self.closed), timeout=10)
        head, _, body = bytes(self.received).partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), body


async def test_a_header_too_large_is_refused_as_it_arrives(sqlite_url: str, tmp_path: Path) -> None:
    async with running(sqlite_url, tmp_path) as (_ctx, port):
        client = await Client.connect(port)
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
        sender = asyncio.create_task(client.send([head, *[b"a" * 65536] * 3200]))
        status, body = await client.answer()  # 200 MB would follow if nobody stopped it
        assert (status, body) == (431, b"Request header fields too large")
        assert await sender < 10_000_000


async def test_too_many_headers(sqlite_url: str, tmp_path: Path) -> None:
    async with running(sqlite_url, tmp_path) as (_ctx, port):
        client = await Client.connect(port)
        lines = b"".join(b"X-%d: y\r\n" % n for n in range(21))
        await client.send([b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n"])
        assert await client.answer() == (431, b"Too many request header fields")
        async with httpx.AsyncClient() as http:  # a normal request still passes
            answer = await http.get(f"http://127.0.0.1:{port}/healthz", headers={"X-1": "y"})
        assert answer.status_code == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /http/9.0/getInfo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nlogin=",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow",
    ],
    ids=["body", "headers"],
)
async def test_a_half_sent_request_is_answered_408(
    sqlite_url: str, tmp_path: Path, request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(sqlite_url, tmp_path) as (_ctx, port):
        client = await Client.connect(port)
        await client.send([request_bytes])
        status, _body = await client.answer()  # waits for the server, at most 10 s
        assert status == 408
    assert "Exception in ASGI application" not in caplog.text  # no traceback for it


async def test_a_huge_body_is_refused_while_another_client_is_served(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with running(sqlite_url, tmp_path) as (ctx, port):
        alice = make_account(ctx, "alice", credits=321)
        query = f"login={alice.login}&apiKey={alice.api_key}"
        client = await Client.connect(port)
        chunk = b"a=&" * 21845  # 64 KiB of what froze the server: 60 MB of `a=&`
        framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        head = (
            f"POST /http/9.0/getInfo?{query} HTTP/1.1\r\nHost: x\r\n".encode()
            + b"Content-Type: application/x-www-form-urlencoded\r\n"
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        first = await client.send([head, *[framed] * 8])  # half a MiB on its way
        async with httpx.AsyncClient() as http:
            other = await http.get(f"http://127.0.0.1:{port}/http/9.0/getInfo?{query}")
        assert other.json()["credits"] == 321
        rest = asyncio.create_task(client.send([framed] * 1000))
        status, body = await client.answer()
        assert status == 413 and b"too large" in body
        assert first + await rest < 60_000_000  # refused before the client finished sending
