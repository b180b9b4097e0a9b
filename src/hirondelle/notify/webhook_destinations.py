"""What the webhook sender keeps per destination (`scheme://host:port` of a URL).

- a `Breaker`: after `threshold` consecutive failed calls the destination is paused (10 s,
  doubling on each new opening up to 10 minutes); when the pause ends one probe call goes out
  (half open): a success closes the breaker, a failure opens it again for longer;
- the events claimed for it and not yet sent (`waiting`), the calls in flight, the events held
  (claimed, not yet recorded) and among them those sent (what a crash would send twice): at
  most UNRECORDED times the calls allowed, in flight or answered and not yet recorded;
- its kept-alive connections (notify/http1.py), as many as calls in flight;
- its addresses, as the SSRF guard checked them, kept DNS_TTL seconds: a busy destination is not
  resolved and checked again for each call.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hirondelle.notify.http1 import ConnectionPool
from hirondelle.store.webhooks import OutboxEvent

FIRST_PAUSE = timedelta(seconds=10)
MAX_PAUSE = timedelta(minutes=10)
DNS_TTL = 30.0  # seconds a DNS answer is reused
#: Events sent and not yet recorded, per call allowed: the calls go on while the outcomes of the
#: previous ones wait for their transaction (the store is shared with the dispatcher, whose
#: writes can hold it a few hundred milliseconds). What a crash may send twice.
UNRECORDED = 8
CLAIM_AHEAD = 2 * UNRECORDED  # events held per call allowed: the next ones are at hand


@dataclass
class Breaker:
    threshold: int
    failures: int = 0  # consecutive
    open_until: datetime | None = None
    pause: timedelta = FIRST_PAUSE

    def calls_allowed(self, now: datetime, concurrency: int) -> int:
        """Calls that may be in flight: all when closed, none when open, one when half open."""
        if self.open_until is None:
            return concurrency
        return 0 if now < self.open_until else 1

    def succeeded(self) -> None:
        self.failures = 0
        self.open_until = None
        self.pause = FIRST_PAUSE

    def failed(self, now: datetime) -> bool:
        """Count a failed call; True when this one opens the breaker (pauses the destination)."""
        self.failures += 1
        half_open = self.open_until is not None and now >= self.open_until
        if self.open_until is not None and not half_open:
            return False  # a call sent before the opening: already paused
        if not half_open and self.failures < self.threshold:
            return False
        self.open_until = now + self.pause
        self.pause = min(self.pause * 2, MAX_PAUSE)
        return True


@dataclass
class Destination:
    key: str
    pool: ConnectionPool
    breaker: Breaker
    waiting: deque[OutboxEvent] = field(default_factory=deque)
    calls: int = 0  # in flight
    held: int = 0  # claimed, not yet recorded
    sent: int = 0  # sent, not yet recorded
    batch: int = 0  # events per call of the last events claimed (0: one GET per event)
    addresses: list[str] = field(default_factory=list)  # checked by the SSRF guard
    resolved_at: float = -DNS_TTL  # time.monotonic() of `addresses`

    def free_slots(self, now: datetime, concurrency: int) -> int:
        """Events it may still claim: CLAIM_AHEAD times its calls allowed times the events per
        call, less those held."""
        allowed = self.breaker.calls_allowed(now, concurrency)
        return CLAIM_AHEAD * allowed * max(1, self.batch) - self.held

    def may_call(self, allowed: int) -> bool:
        """Whether another call may start: a free call slot, and not too many sent events
        waiting to be recorded."""
        return self.calls < allowed and self.sent < UNRECORDED * allowed * max(1, self.batch)

    def stalled(self, allowed: int) -> bool:
        """Whether events wait with a call slot free, held back only by the sent events not yet
        recorded: the sender then records them at once rather than at its next cycle."""
        return bool(self.waiting) and self.calls < allowed and not self.may_call(allowed)

    def next_group(self) -> list[OutboxEvent]:
        """The next call's events: the oldest waiting one, and with batching the following ones
        of the same account and URL (never two of one message: the claim forbids it)."""
        first = self.waiting.popleft()
        group = [first]
        if first.batch > 1:
            kept: deque[OutboxEvent] = deque()
            while self.waiting:
                event = self.waiting.popleft()
                same = (event.account_id, event.url, event.kind)
                if len(group) < first.batch and same == (first.account_id, first.url, first.kind):
                    group.append(event)
                else:
                    kept.append(event)
            self.waiting = kept
        return group
