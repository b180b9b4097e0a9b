"""The batched writer the ESME session and the simulator share: one transport write (one send()
system call) for all the PDUs sent during one event-loop iteration."""

from __future__ import annotations

import asyncio

import pytest

from hirondelle.batched_writer import BatchedWriter

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recording:
    """A transport that keeps what it is given (the writer's only two needs of asyncio's)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.error = error

    def write(self, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed


async def test_one_write_per_event_loop_iteration() -> None:
    transport = Recording()
    out = BatchedWriter(transport)
    for pdu in (b"one", b"two", b"three"):
        out.write(pdu)
    assert transport.writes == []  # nothing leaves before the iteration ends
    await asyncio.sleep(0)  # one event-loop turn, not a timer
    assert transport.writes == [b"onetwothree"]
    out.write(b"four")
    await asyncio.sleep(0)
    assert transport.writes == [b"onetwothree", b"four"]


async def test_flush_sends_at_once_and_a_closing_transport_gets_nothing() -> None:
    transport = Recording()
    out = BatchedWriter(transport)
    out.write(b"unbind_resp")
    out.flush()
    assert transport.writes == [b"unbind_resp"]
    transport.closed = True
    assert out.closing
    out.write(b"late")
    await asyncio.sleep(0)
    assert transport.writes == [b"unbind_resp"]


async def test_a_refused_write_calls_on_error() -> None:
    failures: list[str] = []
    out = BatchedWriter(Recording(OSError("broken pipe")), lambda: failures.append("failed"))
    out.write(b"submit_sm")
    out.flush()
    assert failures == ["failed"]
    bare = BatchedWriter(Recording(RuntimeError("closed")))  # no handler: the error surfaces
    bare.write(b"submit_sm")
    with pytest.raises(RuntimeError):
        bare.flush()
