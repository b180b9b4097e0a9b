"""Batched writes: what is written during one event-loop iteration leaves together.

SMPP: `Connection.send()` runs at once (sequence numbers and the window are updated atomically
as seen by other tasks), but its octets wait in a list until the end of the iteration, then go
out in one `transport.write` — one send() system call for a whole window of submits instead of
one each. The ESME session, the simulator and the SMPP server write this way (bench B3
measures both sides). HTTP: the head and the body of an answer (httpguard.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...

    def is_closing(self) -> bool: ...


class BatchedWriter:
    """Octets `write()` collects, sent by `flush()` at the end of the event-loop iteration.

    `on_error` runs when the transport refuses the write (the caller marks its `Connection`
    failed and drops the link); octets written after the transport started closing are dropped:
    whoever closed it fails what waits for an answer. With `max_held`, octets are written at
    once when that many are held: a writer that never yields (a streamed HTTP body produced in
    one turn) neither piles its output up in memory nor escapes the transport's flow control.
    """

    __slots__ = ("_held", "_max_held", "_on_error", "_out", "_transport")

    def __init__(
        self,
        transport: Transport,
        on_error: Callable[[], None] | None = None,
        *,
        max_held: int | None = None,
    ) -> None:
        self._transport = transport
        self._on_error = on_error
        self._max_held = max_held
        self._out: list[bytes] = []
        self._held = 0

    @property
    def closing(self) -> bool:
        return self._transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self._out:
            asyncio.get_running_loop().call_soon(self.flush)
        self._out.append(data)
        if self._max_held is not None:
            self._held += len(data)
            if self._held >= self._max_held:
                self.flush()

    def flush(self) -> None:
        if not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        self._held = 0
        if self._transport.is_closing():
            return
        try:
            self._transport.write(data)
        except (OSError, RuntimeError):
            if self._on_error is None:
                raise
            self._on_error()
