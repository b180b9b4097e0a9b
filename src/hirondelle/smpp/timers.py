"""The session's clocks, split out of `session.py` to keep it under 500 lines (STYLE.md §0);
the simulator shares `FifoTimer`. Like `session.py`, this may use asyncio's clock."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What `FifoTimer` needs of a clock: the running event loop's, or a test's manual one."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], object]) -> Cancellable: ...


class FifoTimer:
    """Callbacks due `delay` seconds after they were added, run in order by one loop timer.

    A `call_later` per PDU (a request's timeout, a simulator receipt) cost a TimerHandle, a
    heap push and, for wait_for, an extra Future each; with one fixed delay the due times are
    already in order, so a queue and a single armed timer do the same work (B3 reference).
    """

    def __init__(
        self,
        delay: float,
        after: Callable[[], object] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.delay = delay
        self.after = after  # called once after each batch of callbacks
        self.clock = clock  # None: the running event loop's
        self._queue: deque[tuple[float, Callable[..., Any], tuple[Any, ...]]] = deque()
        self._handle: Cancellable | None = None

    def add(self, callback: Callable[..., Any], *args: Any) -> None:
        loop = self.clock or asyncio.get_running_loop()
        due = loop.time() + self.delay
        self._queue.append((due, callback, args))
        if self._handle is None:
            self._handle = loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self._handle = None
        loop = self.clock or asyncio.get_running_loop()
        queue = self._queue
        now = loop.time()
        while queue and queue[0][0] <= now:
            _, callback, args = queue.popleft()
            callback(*args)
        if self.after is not None:
            self.after()
        if queue and self._handle is None:
            self._handle = loop.call_at(queue[0][0], self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._queue.clear()


def expire(future: asyncio.Future[Any]) -> None:
    """A `FifoTimer` callback: fail a request's Future that got no answer in time."""
    if not future.done():
        future.set_exception(TimeoutError())


class TokenBucket:
    """`tps` submits per second at most: a burst of 100 ms worth, then evenly spaced."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate / 10)
        self.tokens = self.capacity
        self.stamp: float | None = None
        self.lock = asyncio.Lock()

    async def take(self) -> None:
        async with self.lock:
            loop = asyncio.get_running_loop()
            now = loop.time()
            elapsed = 0.0 if self.stamp is None else now - self.stamp
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.stamp = now
            if self.tokens < 1:
                await asyncio.sleep((1 - self.tokens) / self.rate)
                self.tokens, self.stamp = 1.0, loop.time()
            self.tokens -= 1
