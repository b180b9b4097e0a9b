"""Group commit in the event loop: many callers, one store write per batch.

`await batcher.submit(item)` returns once `write(batch)` containing the item has returned (i.e.
once it is durable); `submit_many(items)` does the same for several items with one future, as
the deliver_sm of one read from an SMSC. Whatever arrives while a write runs goes into the next
write, so batches grow with load and a lone item is written at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


class Batcher(Generic[T]):
    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        max_batch: int = 2000,
        *,
        what: str = "writes",
    ) -> None:
        self.write = write
        self.max_batch = max_batch
        #: what a batch holds, for the log line of a failed write (logged there, once a batch)
        self.what = what
        self._pending: list[tuple[Sequence[T], asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        await self.submit_many((item,))

    async def submit_many(self, items: Sequence[T]) -> None:
        """Return once every item is written, in one batch (or several when more than
        `max_batch` wait)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((items, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        await future

    def _next_batch(self) -> list[tuple[Sequence[T], asyncio.Future[None]]]:
        """Whole groups, up to `max_batch` items (a larger group alone)."""
        size = taken = 0
        for items, _ in self._pending:
            if taken and size + len(items) > self.max_batch:
                break
            size += len(items)
            taken += 1
        batch = self._pending[:taken]
        del self._pending[:taken]
        return batch

    async def settled(self) -> None:
        """Return once every item submitted so far is written (or its write failed), at once
        when none waits. Not "once idle": under steady load a batcher never is."""
        if self._flushing is None or self._flushing.done():
            return
        marker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(((), marker))  # an empty group: written after those before it
        await marker

    async def _flush(self) -> None:
        while self._pending:
            batch = self._next_batch()
            written = [item for group, _ in batch for item in group]
            try:
                if written:  # not when only a `settled` marker was left
                    await self.write(written)
            except Exception as exc:
                log.exception("a batch of %d %s failed", len(written), self.what)
                for group, future in batch:
                    if future.done():
                        continue
                    if group:
                        future.set_exception(exc)
                    else:  # `settled`: the write is over, failed or not
                        future.set_result(None)
            else:
                for _items, future in batch:
                    if not future.done():
                        future.set_result(None)
