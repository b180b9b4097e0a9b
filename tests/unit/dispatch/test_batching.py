"""Batcher: group commit in the event loop, driven by a fake write that the test releases."""

from __future__ import annotations

import asyncio

import pytest

from hirondelle.dispatch.batching import Batcher

pytestmark = pytest.mark.anyio


class FakeWrite:
    """Records each batch; each write waits until the test releases it (or fails it)."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.started = asyncio.Event()
        self._release: list[asyncio.Future[None]] = []

    async def __call__(self, batch: list[str]) -> None:
        self.batches.append(list(batch))
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._release.append(gate)
        self.started.set()
        await gate

    async def wait_started(self, count: int) -> None:
        while len(self.batches) < count:
            self.started.clear()
            await self.started.wait()

    def release(self, index: int, error: Exception | None = None) -> None:
        if error is None:
            self._release[index].set_result(None)
        else:
            self._release[index].set_exception(error)


async def settle() -> None:
    """Let every ready task run until none is (no sleeping on a clock)."""
    for _ in range(5):
        await asyncio.sleep(0)


Tasks = list["asyncio.Task[None]"]


async def behind_a_write(write: FakeWrite, items: str) -> tuple[Batcher[str], Tasks, Tasks]:
    """Submit "a", then `items` while the write of "a" runs."""
    batcher: Batcher[str] = Batcher(write)
    first = [asyncio.create_task(batcher.submit("a"))]
    await write.wait_started(1)
    later = [asyncio.create_task(batcher.submit(x)) for x in items]
    await settle()
    return batcher, first, later


async def test_a_lone_item_is_written_at_once(anyio_backend: str) -> None:
    write = FakeWrite()
    batcher: Batcher[str] = Batcher(write)
    task = asyncio.create_task(batcher.submit("a"))
    await write.wait_started(1)
    assert write.batches == [["a"]]
    write.release(0)
    await task


async def test_items_arriving_during_a_write_go_into_the_next(anyio_backend: str) -> None:
    write = FakeWrite()
    _batcher, first, later = await behind_a_write(write, "bcd")
    assert write.batches == [["a"]]
    write.release(0)
    await write.wait_started(2)
    assert write.batches == [["a"], ["b", "c", "d"]]
    write.release(1)
    await asyncio.gather(*first, *later)


async def test_max_batch_is_respected(anyio_backend: str) -> None:
    write = FakeWrite()
    batcher: Batcher[str] = Batcher(write, max_batch=2)
    tasks = [asyncio.create_task(batcher.submit(x)) for x in "abcde"]
    await write.wait_started(1)
    assert write.batches == [["a", "b"]]
    for index in range(3):
        await write.wait_started(index + 1)
        write.release(index)
    await asyncio.gather(*tasks)
    assert write.batches == [["a", "b"], ["c", "d"], ["e"]]


async def test_a_group_is_written_whole_within_max_batch_or_alone(anyio_backend: str) -> None:
    write = FakeWrite()
    batcher: Batcher[str] = Batcher(write, max_batch=3)
    tasks = [
        asyncio.create_task(batcher.submit_many(group)) for group in (["a"], ["b", "c"], ["d", "e"])
    ]
    tasks.append(asyncio.create_task(batcher.submit_many(["f", "g", "h", "i"])))  # above max
    for index in range(3):
        await write.wait_started(index + 1)
        write.release(index)
    await asyncio.gather(*tasks)
    assert write.batches == [["a", "b", "c"], ["d", "e"], ["f", "g", "h", "i"]]


async def test_a_failed_write_fails_exactly_its_batch(anyio_backend: str) -> None:
    write = FakeWrite()
    batcher, (first,), second = await behind_a_write(write, "bc")
    write.release(0, RuntimeError("disk full"))
    await write.wait_started(2)
    with pytest.raises(RuntimeError, match="disk full"):
        await first
    assert not any(task.done() for task in second)
    write.release(1)
    await asyncio.gather(*second)
    assert write.batches == [["a"], ["b", "c"]]
    third = asyncio.create_task(batcher.submit("d"))  # the batcher still works afterwards
    await write.wait_started(3)
    write.release(2)
    await third
    assert write.batches[-1] == ["d"]


async def test_callers_wait_for_the_write_to_return(anyio_backend: str) -> None:
    write = FakeWrite()
    batcher: Batcher[str] = Batcher(write)
    tasks = [asyncio.create_task(batcher.submit(x)) for x in "ab"]
    await write.wait_started(1)
    await settle()
    assert [task.done() for task in tasks] == [False, False]
    write.release(0)
    await settle()
    assert [task.done() for task in tasks] == [True, True]
    assert [task.exception() for task in tasks] == [None, None]


async def test_settled_waits_for_what_was_submitted_not_for_a_quiet_moment(
    anyio_backend: str,
) -> None:
    """Under steady load the batcher never goes idle: `settled` returns once the items
    submitted before it are written, whatever arrives after (a receipt looked at again must
    not wait for the traffic to stop)."""
    write = FakeWrite()
    batcher, first, second = await behind_a_write(write, "b")
    settled = asyncio.create_task(batcher.settled())
    third = [asyncio.create_task(batcher.submit("c"))]  # after the call: not waited for
    await settle()
    write.release(0)
    await write.wait_started(2)
    assert write.batches == [["a"], ["b", "c"]]
    await settle()
    assert not settled.done()
    fourth = [asyncio.create_task(batcher.submit("d"))]  # the traffic goes on
    write.release(1)
    await asyncio.wait_for(settled, 5)
    await write.wait_started(3)
    assert write.batches[-1] == ["d"]
    write.release(2)
    await asyncio.gather(*first, *second, *third, *fourth)


async def test_settled_returns_at_once_when_nothing_waits(anyio_backend: str) -> None:
    write = FakeWrite()
    batcher: Batcher[str] = Batcher(write)
    await asyncio.wait_for(batcher.settled(), 5)
    assert write.batches == []
