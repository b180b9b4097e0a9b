"""Connector ownership between workers: each connector is bound by one worker at a time.

Ownership is a lock per connector (on PostgreSQL a session advisory lock on a dedicated
connection, store/locks.py): a worker that dies, or loses that connection, loses its locks with
it. Every `interval` seconds each worker checks its connection and tries the locks of the
connectors it does not own, so a dead worker's connectors are taken over within about
`interval` seconds. The first worker up takes every free connector; no share is attempted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import structlog

# structlog: these lines say which worker binds what, and must show at the info level.
log = structlog.get_logger(__name__)

#: Seconds between two looks for connectors nobody owns.
POLL_INTERVAL = 2.0


class Locks(Protocol):
    """Named locks held by one connection (blocking calls, run in a thread)."""

    def try_lock(self, name: str) -> bool: ...
    def unlock(self, name: str) -> None: ...
    def check(self) -> None: ...
    def close(self) -> None: ...


OnChange = Callable[[str], Awaitable[None]]


class ConnectorOwnership:
    def __init__(
        self,
        names: Sequence[str],
        locks: Locks,
        on_acquired: OnChange,
        on_lost: OnChange,
        *,
        interval: float = POLL_INTERVAL,
    ) -> None:
        self.names = list(names)
        self.locks = locks
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.interval = interval
        self.owned: set[str] = set()
        self._stop = asyncio.Event()

    async def poll(self) -> None:
        """Take the free connectors; when the lock connection is lost, give up every one."""
        try:
            if self.owned:
                await asyncio.to_thread(self.locks.check)
            for name in self.names:
                if name not in self.owned and await asyncio.to_thread(self.locks.try_lock, name):
                    self.owned.add(name)
                    log.info("connector owned by this worker", connector=name)
                    await self.on_acquired(name)
        except Exception as exc:
            log.warning("connector locks lost: their connectors stop", error=str(exc))
            await self._lose_all()

    async def run(self) -> None:
        """Poll until `stop()`."""
        while not self._stop.is_set():
            await self.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    def stop(self) -> None:
        self._stop.set()

    async def release(self) -> None:
        """Stop every owned connector, then drop the locks (another worker binds after our
        unbind, not during it)."""
        await self._lose_all()

    async def _lose_all(self) -> None:
        owned, self.owned = sorted(self.owned), set()
        for name in owned:
            try:
                await self.on_lost(name)
            except Exception:
                log.exception("connector did not stop cleanly", connector=name)
        await asyncio.to_thread(self.locks.close)
