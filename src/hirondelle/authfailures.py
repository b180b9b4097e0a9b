"""Brute-force brakes: failed authentications are answered after a growing delay.

Failures are counted per login and per client address. The first `free` failures of a key cost
nothing; each one after that doubles the delay, from `base` seconds up to `cap`. A key that has
not failed for `forget_after` seconds starts again from zero. The delay is an `await` of the
request that failed, never a pause of the event loop; a success is delayed only when it comes
from an address that is itself penalised, so the owner of a login under attack, calling from
elsewhere with the right key, never waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

#: Keys kept at most; past this the oldest are forgotten first.
MAX_KEYS = 100_000


def failure_delay(failures: int, *, free: int, base: float, cap: float) -> float:
    """Seconds to wait before answering the `failures`-th failure in a row of one key."""
    if failures <= free:
        return 0.0
    return float(min(cap, base * 2 ** min(failures - free - 1, 64)))


@dataclass
class AuthFailures:
    free: int = 3
    base: float = 0.25
    cap: float = 5.0
    forget_after: float = 900.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    #: failures counted since start (exported by /metrics)
    total: int = 0
    _keys: dict[str, tuple[int, float]] = field(default_factory=dict)

    def count(self, key: str) -> int:
        failures, last = self._keys.get(key, (0, 0.0))
        return failures if self.clock() - last < self.forget_after else 0

    def delay_of(self, *keys: str) -> float:
        return max(
            failure_delay(self.count(k), free=self.free, base=self.base, cap=self.cap) for k in keys
        )

    def record_failure(self, *keys: str) -> float:
        """Count a failure against each key; return the delay to answer it after."""
        self.total += 1
        now = self.clock()
        for key in keys:
            failures = self.count(key) + 1
            self._keys.pop(key, None)  # re-inserted last: the dict stays oldest-first
            self._keys[key] = (failures, now)
        while len(self._keys) > MAX_KEYS:
            del self._keys[next(iter(self._keys))]
        return self.delay_of(*keys)

    async def failed(self, login: str | None, address: str | None) -> None:
        delay = self.record_failure(*_keys(login, address))
        if delay > 0:
            await self.sleep(delay)

    async def succeeded(self, address: str | None) -> None:
        delay = self.delay_of(*_keys(None, address))
        if delay > 0:
            await self.sleep(delay)


def _keys(login: str | None, address: str | None) -> list[str]:
    keys = ["address:" + (address or "?")]
    if login:
        keys.append("login:" + login)
    return keys
