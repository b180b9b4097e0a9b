"""Token buckets: how many messages or requests an account may pass now, and when it may next.

A bucket refills at `rate` tokens a second up to `capacity`. Taking `n` tokens succeeds when the
bucket holds them; otherwise nothing is taken and the answer is the wait until it would hold them.
A request of more tokens than the bucket can ever hold (a 2,000-recipient campaign under a limit
of 50 a second) passes whole when the bucket is full, and leaves the bucket in debt: nothing else
passes until the debt is paid back at `rate`. The average never exceeds `rate`; a campaign is
never refused only for its size.

Pure: time is a number of seconds the caller passes in (a monotonic clock in production).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

#: Tokens short that still count as there: the sums of float seconds lose a few ulps, and a
#: refusal for 1e-15 of a token would tell the client to wait a whole second.
EPSILON = 1e-9


@dataclass
class TokenBucket:
    rate: float
    capacity: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, capacity: float, now: float) -> TokenBucket:
        return cls(rate, capacity, capacity, now)

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)  # a clock that steps back refills nothing
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = max(self.updated, now)

    def take(self, count: float, now: float) -> float:
        """Take `count` tokens: 0.0 when taken, else the seconds until they could be."""
        self.refill(now)
        tokens = self.tokens + EPSILON
        if count <= tokens or (count > self.capacity and tokens >= self.capacity):
            self.tokens -= count
            return 0.0
        return (min(count, self.capacity) - self.tokens) / self.rate

    def give_back(self, count: float) -> None:
        """Return tokens taken for something that did not happen after all."""
        self.tokens = min(self.capacity, self.tokens + count)

    def is_full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens + EPSILON >= self.capacity


#: Buckets kept at most; past this, full ones (which hold no state worth keeping) are dropped.
MAX_BUCKETS = 100_000


@dataclass
class Throttles:
    """The buckets of one process, by key (for instance `("messages", account_id)`).

    `burst` is how many seconds of its rate a bucket holds (at least one token): any one-second
    window passes at most `rate * (1 + burst)`. `share` divides every rate: with N processes
    behind a load balancer that spreads requests evenly, `share=N` keeps their sum at the limit.
    """

    clock: Callable[[], float]
    burst: float = 0.1
    share: int = 1
    buckets: dict[Hashable, TokenBucket] = field(default_factory=dict)

    def take(self, key: Hashable, per_second: float, count: float = 1) -> float:
        """Take `count` tokens from the bucket of `key`, limited to `per_second` (for the whole
        platform): 0.0 when taken, else the seconds to wait. The bucket follows a changed limit."""
        now = self.clock()
        rate = per_second / self.share
        capacity = max(1.0, rate * self.burst)
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= MAX_BUCKETS:
                self._forget_full(now)
            bucket = self.buckets[key] = TokenBucket.full(rate, capacity, now)
        elif bucket.rate != rate:
            bucket.refill(now)
            bucket.rate, bucket.capacity = rate, capacity
            bucket.tokens = min(bucket.tokens, capacity)
        return bucket.take(count, now)

    def give_back(self, key: Hashable, count: float) -> None:
        bucket = self.buckets.get(key)
        if bucket is not None:
            bucket.give_back(count)

    def _forget_full(self, now: float) -> None:
        for key in [k for k, bucket in self.buckets.items() if bucket.is_full(now)]:
            del self.buckets[key]
