"""A lean HTTP/1.1 client for webhook calls: keep-alive connections to checked addresses.

httpx cost about 1.4 ms of CPU per webhook call on the benchmark machine, and its connection
pool looks at every connection for every request (74 calls/s with 32 connections in one pool).
A call here is one write of the request and httptools (the C parser uvicorn uses) reading the
answer, on a connection kept alive while the server allows it: about ten times less CPU.

The caller resolves and checks the address (notify/netguard.py) and gives it: this module never
resolves a name, so it connects exactly where the guard allowed. TLS uses the original host name
for SNI and the certificate check. Redirects are answers like any other (never followed).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

import httptools

MAX_ANSWER = 1 << 20  # bytes of an answer read at most; a longer one closes the connection


class HttpCallError(Exception):
    """The call failed before a complete answer (connection refused or closed, bad answer)."""


class _Answer:
    """httptools callbacks: whether the headers and the message are complete, and whether the
    server keeps the connection (asked while the headers are complete: llhttp forgets it once
    the message is)."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.headers_done = False
        self.keep_alive = False
        self.done = False

    def on_headers_complete(self) -> None:
        self.headers_done = True
        self.keep_alive = self.parser.should_keep_alive()

    def on_message_complete(self) -> None:
        self.done = True


@dataclass
class _Connection:
    address: tuple[str, int]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        self.writer.close()


class ConnectionPool:
    """Kept-alive connections of one destination (scheme, host, port), at most `size` idle."""

    def __init__(self, tls: ssl.SSLContext | None, server_name: str, size: int) -> None:
        self.tls = tls
        self.server_name = server_name
        self.size = size
        self.idle: list[_Connection] = []

    async def request(self, address: tuple[str, int], request: bytes) -> int:
        """Send `request` (head and body) to `address`; return the answer's status code.

        A kept-alive connection the server closed meanwhile is replaced once, as HTTP clients do
        (the receiver drops duplicates by event id)."""
        connection = self._idle(address)
        if connection is not None:
            try:
                return await self._exchange(connection, request)
            except (HttpCallError, OSError):
                pass  # closed while idle: one try on a new connection
        return await self._exchange(await self._connect(address), request)

    def _idle(self, address: tuple[str, int]) -> _Connection | None:
        while self.idle:
            connection = self.idle.pop()
            if connection.address == address and not connection.reader.at_eof():
                return connection
            connection.close()
        return None

    async def _connect(self, address: tuple[str, int]) -> _Connection:
        host, port = address
        try:
            if self.tls is None:
                reader, writer = await asyncio.open_connection(host, port)
            else:
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=self.tls, server_hostname=self.server_name
                )
        except ssl.SSLError as exc:
            raise HttpCallError(f"TLS: {exc.reason or exc}") from exc
        except OSError as exc:
            raise HttpCallError(f"cannot connect: {exc.strerror or exc}") from exc
        return _Connection(address, reader, writer)

    async def _exchange(self, connection: _Connection, request: bytes) -> int:
        answer = _Answer()
        parser = answer.parser
        read = 0
        keep = False
        try:
            connection.writer.write(request)
            while not answer.done:
                data = await connection.reader.read(65536)
                if not data:
                    if answer.headers_done:  # an answer delimited by the end of the connection
                        break
                    raise HttpCallError("the connection closed before an answer")
                parser.feed_data(data)
                read += len(data)
                if read > MAX_ANSWER and answer.headers_done:
                    break
            keep = answer.done and answer.keep_alive
            return int(parser.get_status_code())
        except httptools.HttpParserError as exc:
            raise HttpCallError(f"malformed answer: {exc}") from exc
        finally:
            if keep and len(self.idle) < self.size:
                self.idle.append(connection)
            else:
                connection.close()

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


def request_bytes(
    method: str, target: str, host: str, headers: dict[str, str], body: bytes = b""
) -> bytes:
    """The request's head and body. Header values must not hold CR or LF (ours never do)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
