"""The webhook sender: delivers the outbox (`webhook_events`) to customers' URLs.

Each event is one HTTP GET: the event's URL with the manual's variables appended to its query,
and two headers:

- `X-Hirondelle-Event-Id`: the event's id, the same on every retry (to drop duplicates);
- `X-Hirondelle-Signature`: lowercase hex HMAC-SHA256, keyed with the account's webhook secret,
  of the request target as sent — path, `?` and query (what PHP calls REQUEST_URI), e.g.
  `/hook?smsId=...&status=1&...`. Absent when the account has no secret. The secret is stored
  sealed under `secret_key` and unsealed here (`signing_secret`), once per sealed value while
  the sender runs (a new secret is a new sealed value).

An account with `webhook_batch` N > 1 gets instead a JSON POST of up to N events to its URL:
`{"events": [{"eventId": 12, "kind": "receipt", "smsId": ..., ...}, ...]}`, the ids in
`X-Hirondelle-Event-Id` separated by commas, and a signature of the target, a newline and the
body.

Outcomes: 2xx is done; 410 Gone stops (dead); anything else — other statuses, timeouts,
connection errors, an address the SSRF guard refuses — is retried with exponential backoff and
jitter until `webhook_max_age_hours` after the event was written, then the event is dead.

Concurrency: due events are claimed in batches, in the same write transaction that records the
outcomes of the calls finished meanwhile (one transaction for many calls, like the dispatcher's
for SMS). Calls go out concurrently, at most `webhook_concurrency` per destination (scheme,
host and port of the URL) over that destination's own keep-alive connections; a destination
also holds at most that many events claimed and not yet recorded, which bounds what a crash can
send twice. After `webhook_breaker_failures` consecutive failures a destination's breaker opens:
its due events are pushed back in the outbox for a pause (10 s doubling to 10 min), then one
probe call decides. A slow or failing receiver holds its own slots and nothing else.

Order: an event is not claimed while an earlier event of the same message (ordering key) is
pending, so "transmitted" always reaches the receiver before "delivered". Events of different
messages go in any order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import re
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus, urlsplit

import httpx
import orjson
from sqlalchemy.engine import Connection

from hirondelle import __version__
from hirondelle.context import Context
from hirondelle.domain.sealed import Unsealable, unseal, webhook_secret_context
from hirondelle.notify import netguard
from hirondelle.notify.http1 import ConnectionPool, HttpCallError, request_bytes
from hirondelle.notify.webhook_destinations import CLAIM_AHEAD, DNS_TTL, Breaker, Destination
from hirondelle.store import webhooks as outbox
from hirondelle.store.webhooks import OutboxEvent, Outcome

log = logging.getLogger(__name__)

EVENT_ID_HEADER = "X-Hirondelle-Event-Id"
SIGNATURE_HEADER = "X-Hirondelle-Signature"
USER_AGENT = f"Hirondelle-Webhooks/{__version__}"

MAX_ENDPOINTS = 4096  # parsed URLs kept
MAX_IN_HAND = 4096  # events claimed and not yet recorded, all destinations together
POLL_INTERVAL = 0.5  # seconds between looks at the outbox when idle
#: Seconds at least between two transactions of the sender: outcomes gather meanwhile, so that a
#: busy sender writes a few large transactions a second, not one per call (the store and the
#: interpreter are shared with the dispatcher).
CYCLE_INTERVAL = 0.1
LEASE_MARGIN = timedelta(seconds=5)  # beyond two call timeouts: time to record an outcome
FIRST_RETRY = timedelta(seconds=10)
MAX_RETRY = timedelta(hours=1)


def sign(secret: str, target: str) -> str:
    """The signature of a request target (path and query, as sent)."""
    return hmac.new(secret.encode(), target.encode(), hashlib.sha256).hexdigest()


def signing_secret(ctx: Context, event: OutboxEvent) -> str:
    """The account's webhook secret in clear ("" when it has none).

    A secret that does not unseal (secret_key changed, or the row was altered) signs nothing:
    the call goes out unsigned, which a receiver that checks signatures refuses — the same as
    a wrong signature — and the error is logged so the operator sets a new secret.
    """
    if not event.secret:
        return ""
    try:
        return unseal(ctx.secret, event.secret, webhook_secret_context(event.account_id))
    except Unsealable as exc:
        log.error("webhook secret of account %d does not unseal: %s", event.account_id, exc)
        return ""


_SAFE = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch  # what quote_plus leaves as it is
#: ...and with spaces and colons besides, a date or a status text: two replaces, not quote_plus
_SPACED = re.compile(r"[A-Za-z0-9_.~ :-]*").fullmatch
_KEYS: dict[str, str] = {}


def query(params: dict[str, str]) -> str:
    """`urlencode(params)`, twice as fast: the names are few and most values need no quoting."""
    parts = []
    for name, value in params.items():
        key = _KEYS.get(name)
        if key is None:
            key = quote_plus(name)
            if len(_KEYS) < 256:  # the manual's variable names, a handful
                _KEYS[name] = key
        if not _SAFE(value):
            if _SPACED(value):
                value = value.replace(" ", "+").replace(":", "%3A")
            else:
                value = quote_plus(value)
        parts.append(f"{key}={value}")
    return "&".join(parts)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An account's URL, parsed and checked once (httpx parses a URL in ~50 µs; a busy sender
    calls the same few URLs thousands of times a second)."""

    target: str  # path and query, as on the request line
    separator: str  # what goes between `target` and the event's variables: "", "?" or "&"
    host: str  # the Host header
    name: str  # the host to resolve
    port: int

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """Raises BlockedUrl unless `url` is an http(s) URL with a host (as netguard checks)."""
        parsed, port = netguard.checked_url(url)
        target = parsed.raw_path.decode("ascii")
        separator = "" if target.endswith(("?", "&")) else "&" if "?" in target else "?"
        host = parsed.netloc.decode("ascii").rpartition("@")[2]
        return cls(target, separator, host, parsed.host, port)

    def get_target(self, params: dict[str, str]) -> str:
        """The request target of a GET carrying `params` (what is signed)."""
        return self.target + self.separator + query(params)


def batch_body(events: list[OutboxEvent]) -> bytes:
    """The JSON body of a batched call."""
    return orjson.dumps({"events": [{"eventId": e.id, "kind": e.kind, **e.params} for e in events]})


def retry_delay(attempts: int) -> timedelta:
    """Backoff after the `attempts`-th failure: 10 s doubling to 1 h, times 0.5–1 (jitter)."""
    base: timedelta = min(FIRST_RETRY * 2 ** min(attempts - 1, 20), MAX_RETRY)
    return base * random.uniform(0.5, 1.0)


def shown_url(url: str) -> str:
    """`url` as a log line shows it: without its query, which may carry a token."""
    return url.partition("?")[0].partition("#")[0]


@dataclass
class WebhookStats:
    """Counters of one sender, exported by `/metrics`."""

    delivered: int = 0  # calls answered 2xx
    failed: int = 0  # calls that did not deliver: retried later or given up
    given_up: int = 0  # events given up: 410 Gone, a bad URL, or too old to retry


class WebhookSender:
    """Claims due events and sends them; `run` is the loop, `deliver_due` one pass; `aclose()`
    closes the kept-alive connections. `resolver` replaces DNS (tests)."""

    def __init__(
        self,
        ctx: Context,
        resolver: netguard.Resolver | None = None,
        stats: WebhookStats | None = None,
    ) -> None:
        self.ctx = ctx
        self.resolver = resolver
        self.endpoints: dict[str, Endpoint | Exception] = {}  # by URL
        self.secrets: dict[tuple[int, str], str] = {}  # (account, sealed secret): in clear
        self.stats = stats or WebhookStats()
        self.destinations: dict[str, Destination] = {}
        self.outcomes: list[tuple[str, Outcome, bool]] = []  # (destination, outcome, sent)
        self.paused: dict[str, datetime] = {}  # destinations whose due events to push back
        self.tasks: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()  # a call finished
        self.stalled = asyncio.Event()  # a destination waits for its outcomes to be recorded
        self._tls: ssl.SSLContext | None = None

    @property
    def tls(self) -> ssl.SSLContext:
        """One TLS context for all the clients (building one costs ~30 ms)."""
        if self._tls is None:
            self._tls = httpx.create_ssl_context(trust_env=False)
        return self._tls

    @property
    def timeout(self) -> float:
        return self.ctx.settings.webhook_timeout

    @property
    def concurrency(self) -> int:
        return self.ctx.settings.webhook_concurrency

    def destination(self, key: str, url: str) -> Destination:
        found = self.destinations.get(key)
        if found is None:
            parsed = urlsplit(url)
            tls = self.tls if parsed.scheme.lower() == "https" else None
            pool = ConnectionPool(tls, parsed.hostname or "", self.concurrency)
            breaker = Breaker(self.ctx.settings.webhook_breaker_failures)
            found = self.destinations[key] = Destination(key, pool, breaker)
        return found

    async def aclose(self) -> None:
        for destination in self.destinations.values():
            destination.pool.close()

    # -- the outbox: record what finished and claim more, in one transaction ----------------

    async def cycle(self, now: datetime, claim: bool = True) -> list[OutboxEvent]:
        """Record the outcomes gathered since the last cycle, push back the events of paused
        destinations, and (if `claim`) lease due events and hand them to their destinations."""
        outcomes, self.outcomes = self.outcomes, []
        paused, self.paused = self.paused, {}
        for key, _, _sent in outcomes:  # recorded below, in the same transaction
            self.destinations[key].held -= 1
        free = {key: d.free_slots(now, self.concurrency) for key, d in self.destinations.items()}
        # at most what the known destinations can take, and one new destination's share
        wanted = sum(max(0, n) for n in free.values()) + CLAIM_AHEAD * self.concurrency
        held = sum(d.held for d in self.destinations.values())
        limit = min(MAX_IN_HAND - held, wanted) if claim else 0
        idle = not outcomes and not paused
        if idle and (limit <= 0 or not await self.ctx.store.read(lambda c: outbox.any_due(c, now))):
            return []  # idle: no write transaction every poll
        lease_until = now + timedelta(seconds=2 * self.timeout) + LEASE_MARGIN

        def write(conn: Connection) -> list[OutboxEvent]:
            finished = [outcome for _, outcome, _ in outcomes]
            if paused or limit <= 0:
                outbox.finish_events(conn, finished)
                finished = []
                for key, until in paused.items():
                    outbox.defer_destination(conn, key, now, until)
            if limit <= 0:
                return []
            calls = CLAIM_AHEAD * self.concurrency
            return outbox.claim_due_events(
                conn, now, lease_until, free, calls, limit, finished=finished
            )

        try:
            events = await self.ctx.store.write(write)
        except BaseException:
            for key, _, _sent in outcomes:
                self.destinations[key].held += 1
            self.outcomes[:0] = outcomes  # recorded by the next cycle; leases cover the wait
            self.paused = {**paused, **self.paused}
            raise
        # Only now are these calls recorded: until the commit they count as sent and unrecorded
        # (what a crash would send again), so no destination starts more than its share meanwhile.
        for key, _, sent in outcomes:
            self.destinations[key].sent -= sent
        for event in events:
            destination = self.destination(event.destination, event.url)
            destination.held += 1
            destination.batch = event.batch
            destination.waiting.append(event)
        return events

    def pump(
        self, destination: Destination, now: datetime | None = None
    ) -> list[asyncio.Task[None]]:
        """Start the calls `destination` may make now; push back what its breaker holds."""
        at = now or datetime.now(UTC)
        allowed = destination.breaker.calls_allowed(at, self.concurrency)
        started = []
        while destination.waiting and destination.may_call(allowed):
            group = destination.next_group()
            destination.calls += 1
            destination.sent += len(group)
            task = asyncio.create_task(self.send(destination, group, now))
            self.tasks.add(task)
            task.add_done_callback(self._finished)
            started.append(task)
        if destination.stalled(allowed):
            self.stalled.set()
        until = destination.breaker.open_until
        if allowed == 0 and until is not None:
            while destination.waiting:  # not sent: the attempt does not count
                event = destination.waiting.popleft()
                self._record(
                    event, "pending", until, "destination paused", event.attempts - 1, False
                )
        return started

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook call failed", exc_info=task.exception())

    def _record(
        self,
        event: OutboxEvent,
        state: str,
        next_at: datetime | None,
        error: str,
        tries: int,
        sent: bool = True,
    ) -> None:
        outcome = Outcome(event.id, state, next_at, error, tries)
        self.outcomes.append((event.destination, outcome, sent))

    # -- one call ---------------------------------------------------------------------------

    async def send(
        self, destination: Destination, events: list[OutboxEvent], now: datetime | None = None
    ) -> None:
        """One call carrying `events`, and their outcomes kept for the next cycle. `now` fixes
        the clock (tests)."""
        try:
            state, error = await self._call(destination, events)
        finally:
            destination.calls -= 1
        at = now or datetime.now(UTC)
        if state == "pending":
            if destination.breaker.failed(at):
                assert destination.breaker.open_until is not None
                self.paused[destination.key] = destination.breaker.open_until
                log.warning(
                    "webhooks to %s paused until %s UTC after %d failed calls in a row",
                    destination.key,
                    f"{destination.breaker.open_until:%Y-%m-%d %H:%M:%S}",
                    destination.breaker.failures,
                )
        else:
            destination.breaker.succeeded()
        for event in events:
            self._outcome(event, state, error, at)
        self.pump(destination, now)

    def _outcome(self, event: OutboxEvent, state: str, error: str, at: datetime) -> None:
        next_at = None
        if state == "pending":
            deadline = event.created_at + timedelta(hours=self.ctx.settings.webhook_max_age_hours)
            if at >= deadline:
                state, error = "dead", f"given up after {event.attempts} attempts: {error}"
            else:
                next_at = min(at + retry_delay(event.attempts), deadline)
        self._count(event, state, error, next_at)
        self._record(event, state, next_at, error, event.attempts)

    def _count(self, event: OutboxEvent, state: str, error: str, next_at: datetime | None) -> None:
        if state == "done":
            self.stats.delivered += 1
            return
        self.stats.failed += 1
        if next_at is not None:
            outcome = f"next try at {next_at:%Y-%m-%d %H:%M:%S} UTC"
        else:
            self.stats.given_up += 1
            outcome = "given up"
        log.warning(
            "webhook event %d of account %d to %s: %s; %s",
            event.id,
            event.account_id,
            shown_url(event.url),
            error,
            outcome,
        )

    def endpoint(self, url: str) -> Endpoint:
        """`url` parsed (cached: a few URLs serve thousands of calls); raises BlockedUrl."""
        found = self.endpoints.get(url)
        if found is None:
            if len(self.endpoints) >= MAX_ENDPOINTS:
                self.endpoints.clear()
            try:
                found = Endpoint.parse(url)
            except (netguard.BlockedUrl, httpx.InvalidURL, UnicodeError) as exc:
                found = exc
            self.endpoints[url] = found
        if isinstance(found, Exception):
            raise found
        return found

    def secret(self, event: OutboxEvent) -> str:
        """The account's secret in clear (unsealing costs ~50 µs: once per sealed value)."""
        key = (event.account_id, event.secret)
        found = self.secrets.get(key)
        if found is None:
            if len(self.secrets) >= MAX_ENDPOINTS:
                self.secrets.clear()
            found = self.secrets[key] = signing_secret(self.ctx, event)
        return found

    async def addresses(self, destination: Destination, endpoint: Endpoint) -> list[str]:
        """The destination's addresses, every one checked by the SSRF guard; an answer is kept
        DNS_TTL seconds (a failure is not kept)."""
        if time.monotonic() - destination.resolved_at < DNS_TTL and destination.addresses:
            return destination.addresses
        found = await netguard.resolve_checked(
            endpoint.name,
            endpoint.port,
            allow_private=self.ctx.settings.allow_private_addresses,
            timeout=self.timeout,
            resolver=self.resolver,
        )
        destination.addresses = [str(address) for address in found]
        destination.resolved_at = time.monotonic()
        return destination.addresses

    async def _call(self, destination: Destination, events: list[OutboxEvent]) -> tuple[str, str]:
        """(`done` | `dead` | `pending`, error) of one HTTP call, to an address the SSRF guard
        checked (every address of the host)."""
        event = events[0]
        ids = ",".join(str(e.id) for e in events) if len(events) > 1 else str(event.id)
        headers = {"User-Agent": USER_AGENT, EVENT_ID_HEADER: ids}
        try:
            endpoint = self.endpoint(event.url)
            if event.batch > 0:
                method, target, body = "POST", endpoint.target, batch_body(events)
                headers["Content-Type"] = "application/json"
                signed = target + "\n" + body.decode()
            else:
                method, body = "GET", b""
                target = signed = endpoint.get_target(event.params)
            secret = self.secret(event)
            if secret:
                headers[SIGNATURE_HEADER] = sign(secret, signed)
            async with asyncio.timeout(self.timeout):
                addresses = await self.addresses(destination, endpoint)
                request = request_bytes(method, target, endpoint.host, headers, body)
                status = await destination.pool.request((addresses[0], endpoint.port), request)
        except (netguard.BlockedUrl, httpx.InvalidURL, UnicodeError) as exc:
            return "dead", f"bad URL: {exc}"
        except netguard.NetGuardError as exc:
            return "pending", str(exc)
        except TimeoutError:
            return "pending", "timed out"
        except HttpCallError as exc:
            return "pending", str(exc)
        if 200 <= status < 300:
            return "done", ""
        if status == 410:
            return "dead", "HTTP 410 Gone: the receiver asked to stop"
        return "pending", f"HTTP {status}"

    # -- loops ------------------------------------------------------------------------------

    def _start_calls(self, now: datetime | None) -> list[asyncio.Task[None]]:
        return [t for d in list(self.destinations.values()) for t in self.pump(d, now)]

    async def deliver_due(self, now: datetime | None = None) -> int:
        """Claim what is due at `now`, send it all, record it; return how many were tried."""
        at = now or datetime.now(UTC)
        events = await self.cycle(at)
        while self.tasks or any(d.waiting for d in self.destinations.values()):
            self._start_calls(now)
            if self.tasks:
                await asyncio.wait(set(self.tasks))
        await self.cycle(at, claim=False)
        return len(events)

    @staticmethod
    async def _wait_any(events: tuple[asyncio.Event, ...], timeout: float) -> None:
        waits = [asyncio.ensure_future(event.wait()) for event in events]
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waits:
            waiter.cancel()

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; then let calls in flight finish (within their deadline),
        record them, and give back the events not yet sent."""
        while not stop.is_set():
            self.wake.clear()
            self.stalled.clear()
            began = time.monotonic()
            try:
                await self.cycle(datetime.now(UTC))
            except Exception:
                log.exception("webhook sender: recording or claiming events failed")
            self._start_calls(None)
            rest = CYCLE_INTERVAL - (time.monotonic() - began)
            if rest > 0 and self.tasks:  # busy: let outcomes gather, unless a destination stalls
                await self._wait_any((stop, self.stalled), rest)
            if self.wake.is_set() and self.outcomes:
                continue  # calls finished meanwhile: record them now
            await self._wait_any((stop, self.wake), POLL_INTERVAL)
        for destination in self.destinations.values():
            while destination.waiting:
                event = destination.waiting.popleft()
                self._record(event, "pending", datetime.now(UTC), "", event.attempts - 1, False)
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=self.timeout * 2 + 1)
        for task in list(self.tasks):  # leased events come back after their lease
            task.cancel()
        with contextlib.suppress(Exception):
            await self.cycle(datetime.now(UTC), claim=False)


async def deliver_due(
    ctx: Context,
    now: datetime | None = None,
    *,
    resolver: netguard.Resolver | None = None,
) -> int:
    """One pass of the sender (tests, maintenance): send what is due at `now`; return the number
    of events tried. Call again until it returns 0 to drain what became due meanwhile."""
    sender = WebhookSender(ctx, resolver)
    try:
        return await sender.deliver_due(now)
    finally:
        await sender.aclose()


async def run_webhook_sender(
    ctx: Context, stop: asyncio.Event, stats: WebhookStats | None = None
) -> None:
    """The sender loop of `hirondelle serve` and workers: runs until `stop` is set."""
    sender = WebhookSender(ctx, stats=stats)
    try:
        await sender.run(stop)
    finally:
        await sender.aclose()


class WebhookWorker:
    """The sender loop as a background task: `WebhookWorker.start(ctx)`, later `await stop()`."""

    def __init__(self, ctx: Context) -> None:
        self._stop = asyncio.Event()
        self.stats = WebhookStats()
        self._task = asyncio.create_task(run_webhook_sender(ctx, self._stop, self.stats))

    @classmethod
    def start(cls, ctx: Context) -> WebhookWorker:
        return cls(ctx)

    async def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await self._task
