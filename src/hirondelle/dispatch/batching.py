"""Group commit in the event loop: many callers, one store write per batch.

`await batcher.submit(item)` returns once `write(batch)` containing the item has returned (i.e.
once it is durable). Whatever arrives while a write runs goes into the next write, so batches
grow with load and a lone item is written at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


class Batcher(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[None]], max_batch: int = 2000) -> None:
        self.write = write
        self.max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                await self.write([item for item, _ in batch])
            except Exception as exc:
                log.exception("a batch of %d writes failed", len(batch))
                for _item, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _item, future in batch:
                    if not future.done():
                        future.set_result(None)
