"""Limits on what one HTTP connection may make the server hold, below the ASGI application.

httptools (llhttp) buffers a header until it ends, whatever its size, and uvicorn gives a request
that stops half-way all the time in the world. `guarded_protocol(settings)` is uvicorn's
httptools protocol with three limits more:

* the request line and headers together: at most `max_header_bytes`, counted as the bytes
  arrive, before the parser buffers them (431 and closed beyond);
* at most `max_header_count` header lines (431);
* `request_read_timeout` seconds for a request to arrive whole, from its first byte (or from
  the connection) to the end of its body: a half-sent request is answered 408 and closed.

Request bodies are limited per path by `hirondelle.bodylimit`, which knows the API formats.

An answer leaves in one `send()`: uvicorn writes the status line and headers, then the body,
each with its own `transport.write`, and each write is a system call and a wake-up of the client
(two per small API answer). The transport holds what is written until the response is complete
(or the current turn of the event loop ends, for a streamed body, or 64 KiB are held) and
writes it at once.

A connection closed while its request is still arriving (a refusal, a 413 before the end of an
upload) closes lingering, as nginx does: the answer, then a FIN, then what the client still sends
is read and dropped for up to `LINGER_SECONDS`. Closed at once, the kernel would answer the unread
bytes with a reset, which can reach the client before it read the answer and destroy it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from hirondelle.batched_writer import BatchedWriter
from hirondelle.config import Settings

HEAD_END = b"\r\n\r\n"
#: Bytes of an answer held at most before they are written (see LingeringTransport).
MAX_HELD_BYTES = 65_536
#: Seconds a connection closed mid-request keeps reading (and dropping) what the client sends.
LINGER_SECONDS = 2.0


class LingeringTransport:
    """The connection's transport (asyncio's or uvloop's), whose writes are held until
    `flush()` (at the latest when the current turn of the event loop ends, or MAX_HELD_BYTES
    are held), and whose `close()` lingers while `reading()` says a request is still arriving;
    everything else is the transport's own."""

    def __init__(self, transport: Any, reading: Callable[[], bool]) -> None:
        self._transport = transport
        self._reading = reading
        self._closing = False
        self._out = BatchedWriter(transport, max_held=MAX_HELD_BYTES)
        self.write = self._out.write
        self.flush = self._out.flush

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self._closing or bool(self._transport.is_closing())

    def close(self) -> None:
        if self._closing:
            return
        self.flush()
        self._closing = True
        transport = self._transport
        if not self._reading() or transport.is_closing() or not transport.can_write_eof():
            transport.close()
            return
        try:
            transport.write_eof()  # the answer, then FIN; the client's bytes are still read
            transport.resume_reading()
        except (OSError, RuntimeError):
            transport.close()
            return
        asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)


class GuardedProtocol(HttpToolsProtocol):
    max_header_bytes = 65_536
    max_header_count = 100
    read_timeout = 60.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._request_arriving = False
        self._lingering = LingeringTransport(transport, lambda: self._request_arriving)
        super().connection_made(self._lingering)  # type: ignore[arg-type]
        self._head_bytes = 0
        self._header_count = 0
        self._in_head = True
        self._tail = b""
        self._refusal: tuple[int, str] | None = None
        self._read_timer: asyncio.TimerHandle | None = None
        self._arm_read_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return  # closed, or lingering: dropped
        self._request_arriving = True
        if self._in_head:
            seen = self._tail + data
            end = seen.find(HEAD_END)
            self._head_bytes += (len(seen) if end < 0 else end) - len(self._tail)
            self._tail = seen[-3:] if end < 0 else b""
            if self._head_bytes > self.max_header_bytes:
                self._refuse(431, "Request header fields too large")
                return
        super().data_received(data)

    # -- parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0
        if self._read_timer is None:
            self._arm_read_timer()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_header_count:
            self._refusal = (431, "Too many request header fields")
            raise ValueError(self._refusal[1])  # the parser stops; send_400_response answers
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._lingering.flush()  # the whole answer, in one write
        super().on_response_complete()

    def on_message_complete(self) -> None:
        self._cancel_read_timer()
        self._request_arriving = False
        self._in_head, self._head_bytes, self._tail = True, 0, b""
        super().on_message_complete()

    # -- refusals ------------------------------------------------------------------------------

    def send_400_response(self, msg: str) -> None:
        status, msg = self._refusal or (400, msg)
        self._refuse(status, msg)

    def _refuse(self, status: int, msg: str) -> None:
        """Answer `status` (unless a response is under way) and close the connection."""
        self._cancel_read_timer()
        cycle = self.cycle
        if cycle is None or not cycle.response_started:
            body = msg.encode("ascii")
            self.transport.write(
                b"".join(
                    [
                        STATUS_LINE[status],
                        b"content-type: text/plain; charset=utf-8\r\n",
                        b"content-length: %d\r\n" % len(body),
                        b"connection: close\r\n\r\n",
                        body,
                    ]
                )
            )
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the application's receive() answers http.disconnect
            cycle.message_event.set()
        self.transport.close()

    def _arm_read_timer(self) -> None:
        self._read_timer = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes == 0 and self._in_head and self.cycle is None:
            self.transport.close()  # a connection that never sent a byte: nothing to answer
            return
        self._refuse(408, "Request timeout: the request did not arrive in time")


def guarded_protocol(settings: Settings) -> type[GuardedProtocol]:
    """The protocol class for uvicorn's `http=` option, with the limits of `settings`."""
    return type(
        "GuardedProtocol",
        (GuardedProtocol,),
        {
            "max_header_bytes": settings.max_header_bytes,
            "max_header_count": settings.max_header_count,
            "read_timeout": settings.request_read_timeout,
        },
    )
