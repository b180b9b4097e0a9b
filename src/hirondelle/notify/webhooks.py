"""The webhook sender: delivers the outbox (`webhook_events`) to customers' URLs.

Each event is one HTTP GET: the event's URL with the manual's variables appended to its query,
and two headers:

- `X-Hirondelle-Event-Id`: the event's id, the same on every retry (to drop duplicates);
- `X-Hirondelle-Signature`: lowercase hex HMAC-SHA256, keyed with the account's webhook secret,
  of the request target as sent — path, `?` and query (what PHP calls REQUEST_URI), e.g.
  `/hook?smsId=...&status=1&...`. Absent when the account has no secret. The secret is stored
  sealed under `secret_key` and unsealed here, per call (`signing_secret`).

Outcomes: 2xx is done; 410 Gone stops (dead); anything else — other statuses, timeouts,
connection errors, an address the SSRF guard refuses — is retried with exponential backoff and
jitter until `webhook_max_age_hours` after the event was written, then the event is dead.

Order: an event is not sent while an earlier event of the same message (ordering key) is
pending, so "transmitted" always reaches the receiver before "delivered".

Isolation: events are leased from the store in batches; each call runs in its own task, at most
`webhook_concurrency` per account and MAX_IN_FLIGHT in all, with a total deadline. The loop only
claims and spawns, so a slow receiver holds its own account's slots and nothing else; the
dispatcher runs in another task and never waits on webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx

from hirondelle import __version__
from hirondelle.context import Context
from hirondelle.domain.sealed import Unsealable, unseal, webhook_secret_context
from hirondelle.notify import netguard
from hirondelle.store import webhooks as outbox
from hirondelle.store.webhooks import OutboxEvent

log = logging.getLogger(__name__)

EVENT_ID_HEADER = "X-Hirondelle-Event-Id"
SIGNATURE_HEADER = "X-Hirondelle-Signature"
USER_AGENT = f"Hirondelle-Webhooks/{__version__}"

MAX_IN_FLIGHT = 128
POLL_INTERVAL = 0.5  # seconds between looks at the outbox when idle
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


def request_url(url: str, params: dict[str, str]) -> str:
    """`url` with `params` appended to its query."""
    separator = "" if url.endswith(("?", "&")) else "&" if "?" in url else "?"
    return url + separator + urlencode(params)


def request_target(url: str) -> str:
    """The path and query that go on the request line for `url` (what is signed)."""
    return httpx.URL(url).raw_path.decode("ascii")


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
    """Claims due events and sends them; `run` is the loop, `deliver_due` one pass."""

    def __init__(
        self,
        ctx: Context,
        client: httpx.AsyncClient,
        resolver: netguard.Resolver | None = None,
        stats: WebhookStats | None = None,
    ) -> None:
        self.ctx = ctx
        self.client = client
        self.resolver = resolver
        self.stats = stats or WebhookStats()
        self.in_flight: Counter[int] = Counter()
        self.tasks: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()

    @property
    def timeout(self) -> float:
        return self.ctx.settings.webhook_timeout

    async def claim(self, now: datetime) -> list[OutboxEvent]:
        per_account = self.ctx.settings.webhook_concurrency
        free = {account: per_account - n for account, n in self.in_flight.items() if n}
        limit = MAX_IN_FLIGHT - sum(self.in_flight.values())
        if limit <= 0 or not await self.ctx.store.read(lambda conn: outbox.any_due(conn, now)):
            return []  # idle: no write transaction every poll
        lease_until = now + timedelta(seconds=2 * self.timeout + 60)
        events = await self.ctx.store.write(
            lambda conn: outbox.claim_due_events(conn, now, lease_until, free, per_account, limit)
        )
        for event in events:
            self.in_flight[event.account_id] += 1
        return events

    def spawn(self, event: OutboxEvent, now: datetime | None = None) -> asyncio.Task[None]:
        task = asyncio.create_task(self.send(event, now))
        self.tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, event))
        return task

    def _finished(self, task: asyncio.Task[None], event: OutboxEvent) -> None:
        self.tasks.discard(task)
        self.in_flight[event.account_id] -= 1
        if self.in_flight[event.account_id] <= 0:
            del self.in_flight[event.account_id]
        self.wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook event %d failed", event.id, exc_info=task.exception())

    async def send(self, event: OutboxEvent, now: datetime | None = None) -> None:
        """One attempt at one event, and its outcome stored. `now` fixes the clock (tests)."""
        state, error = await self._call(event)
        at = now or datetime.now(UTC)
        next_at = None
        if state == "pending":
            deadline = event.created_at + timedelta(hours=self.ctx.settings.webhook_max_age_hours)
            if at >= deadline:
                state, error = "dead", f"given up after {event.attempts} attempts: {error}"
            else:
                next_at = min(at + retry_delay(event.attempts), deadline)
        self._count(event, state, error, next_at)
        await self.ctx.store.write(
            lambda conn: outbox.finish_event(conn, event.id, state, next_at, error)
        )

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

    async def _call(self, event: OutboxEvent) -> tuple[str, str]:
        """(`done` | `dead` | `pending`, error) of one HTTP call."""
        url = request_url(event.url, event.params)
        headers = {EVENT_ID_HEADER: str(event.id), "User-Agent": USER_AGENT}
        try:
            secret = signing_secret(self.ctx, event)
            if secret:
                headers[SIGNATURE_HEADER] = sign(secret, request_target(url))
            async with asyncio.timeout(self.timeout * 2):
                response = await netguard.guarded_request(
                    self.client,
                    "GET",
                    url,
                    allow_private=self.ctx.settings.allow_private_addresses,
                    resolver=self.resolver,
                    headers=headers,
                    timeout=self.timeout,
                )
        except (netguard.BlockedUrl, httpx.InvalidURL, UnicodeError) as exc:
            return "dead", f"bad URL: {exc}"
        except netguard.NetGuardError as exc:
            return "pending", str(exc)
        except TimeoutError:
            return "pending", "timed out"
        except httpx.HTTPError as exc:
            return "pending", f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return "done", ""
        if response.status_code == 410:
            return "dead", "HTTP 410 Gone: the receiver asked to stop"
        return "pending", f"HTTP {response.status_code}"

    async def deliver_due(self, now: datetime | None = None) -> int:
        """Claim what is due at `now`, send it all, wait; return how many events were tried."""
        at = now or datetime.now(UTC)
        events = await self.claim(at)
        await asyncio.gather(*(self.spawn(event, now) for event in events))
        return len(events)

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; then let calls in flight finish (within their deadline)."""
        while not stop.is_set():
            self.wake.clear()
            try:
                for event in await self.claim(datetime.now(UTC)):
                    self.spawn(event)
            except Exception:
                log.exception("webhook sender: claiming events failed")
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
            await asyncio.wait(waits, timeout=POLL_INTERVAL, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waits:
                waiter.cancel()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=self.timeout * 2 + 1)
        for task in list(self.tasks):  # leased events come back after their lease
            task.cancel()


def new_client(ctx: Context) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=ctx.settings.webhook_timeout,
        limits=httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=32),
        follow_redirects=False,
        trust_env=False,  # no proxy from the environment: the guard checked the address we use
    )


async def deliver_due(
    ctx: Context,
    now: datetime | None = None,
    *,
    client: httpx.AsyncClient | None = None,
    resolver: netguard.Resolver | None = None,
) -> int:
    """One pass of the sender (tests, maintenance): send what is due at `now`; return the number
    of events tried. Call again until it returns 0 to drain what became due meanwhile."""
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(new_client(ctx))
        return await WebhookSender(ctx, client, resolver).deliver_due(now)


async def run_webhook_sender(
    ctx: Context, stop: asyncio.Event, stats: WebhookStats | None = None
) -> None:
    """The sender loop of `hirondelle serve` and workers: runs until `stop` is set."""
    async with new_client(ctx) as client:
        await WebhookSender(ctx, client, stats=stats).run(stop)


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
