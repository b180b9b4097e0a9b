"""The dispatcher: claim due messages in batches, submit them, store the outcomes in batches.

One loop claims up to `batch_size` due messages under a lease (so a crashed dispatcher's claims
come back; a live one renews the leases of the claims in its hands every third of it, by id: a
claim whose outcome could not be stored comes back too), as long as fewer than
`max_in_flight` are being submitted. Each claimed message is submitted by its own task on the
best bound connector for its number (failing over to the next when one refuses for a temporary
reason). Outcomes are gathered and written together, one transaction per few hundred messages,
instead of one per message; on PostgreSQL what the SMSC accepted is first made durable in the
submit journal, a row per batch, which frees the window slots sooner (dispatch/journal.py).

Messages waiting for a connector that is down stay queued: they are claimed only when at least
one connector is bound, and given back with a short delay when none of theirs is. Whatever
keeps a message from being submitted (throttling, no answer, no connector), it is not retried
past its validity: every sweep fails and refunds those (`delivery.expire_messages`), bound
connector or not.

With several workers (scale-out on PostgreSQL) each dispatcher has only the connectors its
worker owns (`add_connector`, `remove_connector`) and claims only the numbers they serve
(`numbers`, from `routing.owned_numbers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import timedelta

from hirondelle.context import Context
from hirondelle.dispatch.batching import Batcher
from hirondelle.dispatch.connectors import WARNING_INTERVAL, Connector, Occasional
from hirondelle.dispatch.journal import SubmitJournal
from hirondelle.dispatch.routing import Router
from hirondelle.services import delivery, dispatching
from hirondelle.services.delivery import SubmitResult
from hirondelle.services.dispatching import ClaimedMessage, NumberFilter

log = logging.getLogger(__name__)

NO_ROUTE_RETRY = timedelta(seconds=5)
#: Seconds between two sweeps: receipts waiting for their message, messages past their validity.
SWEEP_INTERVAL = 10.0


class Dispatcher:
    def __init__(
        self,
        ctx: Context,
        connectors: Mapping[str, Connector],
        router: Router,
        *,
        batch_size: int = 500,
        max_in_flight: int = 2000,
        lease: timedelta = timedelta(seconds=120),
        idle_tick: float = 1.0,
        sweep_interval: float = SWEEP_INTERVAL,
    ) -> None:
        self.ctx = ctx
        self.connectors: dict[str, Connector] = {}
        self.router = router
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.lease = lease
        self.idle_tick = idle_tick
        self.sweep_interval = sweep_interval
        self.owner = str(uuid.uuid4())
        self.results: Batcher[SubmitResult] = Batcher(
            lambda batch: delivery.record_submit_results(ctx, batch), what="submit results"
        )
        #: on PostgreSQL: see dispatch/journal.py
        self.journal = SubmitJournal(ctx, self.owner) if not ctx.store.is_sqlite else None
        self._tasks: set[asyncio.Task[None]] = set()
        #: ids of the claimed messages whose outcome is not stored yet: their leases are renewed
        self._in_hand: set[int] = set()
        self._slot_free = asyncio.Event()
        self._stopping = asyncio.Event()
        self._last_sweep = 0.0
        self._last_renewal = 0.0
        #: a store that is down fails every claim: a warning a minute
        self.claim_warnings = Occasional(WARNING_INTERVAL, time.monotonic)
        #: the phones this dispatcher claims (None: any); see routing.owned_numbers
        self.numbers: NumberFilter | None = None
        for connector in connectors.values():
            self.add_connector(connector)

    def add_connector(self, connector: Connector) -> None:
        connector.results_stored = self.results.settled  # see Connector._match_waiting
        self.connectors[connector.name] = connector
        self._slot_free.set()

    def remove_connector(self, name: str) -> Connector | None:
        """Stop routing to `name`; its submits in flight finish (or fail and are retried)."""
        return self.connectors.pop(name, None)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def recover(self) -> int:
        """Single-dispatcher start-up (SQLite): take back the claims a crashed process left
        behind. Never with several workers: their claims come back by lease only."""
        return await dispatching.release_claims_of_others(self.ctx, self.owner)

    async def run(self) -> None:
        """Claim and submit until `stop()`; then let the messages in flight finish."""
        self._last_renewal = asyncio.get_running_loop().time()  # claims from now: leases new
        while not self._stopping.is_set():
            await self._sweep()
            await self._renew()
            room = self.max_in_flight - self.in_flight
            # Refill by whole batches: claiming one message per finished one would cost a
            # transaction each.
            full = room < self.batch_size // 2 and self.in_flight > 0
            if full or not any(c.bound for c in self.connectors.values()):
                await self._wait(self._slot_free if full else None)
                continue
            claimed = await self._claim(min(self.batch_size, room))
            if not claimed:
                await self._wait(self.ctx.new_messages)
                continue
            for message in claimed:
                self._in_hand.add(message.id)
                task = asyncio.create_task(self._submit(message))
                self._tasks.add(task)
                task.add_done_callback(self._task_done)
        if self._tasks:
            await asyncio.wait(self._tasks)

    async def _sweep(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_sweep < self.sweep_interval:
            return
        self._last_sweep = now
        # Each on its own: one failing does not keep the others from their turn.
        await _swept(delivery.resolve_stale_receipts(self.ctx), "resolve waiting receipts", "")
        if self.journal is not None:
            await _swept(
                delivery.record_left_behind(self.ctx),
                "store the submit journal's rows left behind",
                "%d submits stored from the submit journal",
            )
        await _swept(
            delivery.expire_messages(self.ctx),
            "expire the messages past their validity",
            "%d messages failed: not submitted within their validity",
        )

    async def _renew(self) -> None:
        now = asyncio.get_running_loop().time()
        if not self._in_hand or now - self._last_renewal < self.lease.total_seconds() / 3:
            return
        self._last_renewal = now
        try:
            await dispatching.renew_claims(self.ctx, self.owner, list(self._in_hand), self.lease)
        except Exception:
            log.exception("could not renew the leases of the claimed messages")

    async def _claim(self, limit: int) -> list[ClaimedMessage]:
        """Claim up to `limit` due messages; none when the store fails, tried again after the
        idle tick. A claim that raised ended the dispatcher: a PostgreSQL failover at the wrong
        moment stopped a worker's deliveries for good, its sweeps with them."""
        try:
            return await dispatching.claim_due(
                self.ctx, self.owner, self.lease, limit, self.numbers
            )
        except Exception as exc:
            skipped = self.claim_warnings.ready()
            if skipped is not None:
                more = f" ({skipped} more since the last warning)" if skipped else ""
                error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.warning("could not claim due messages, trying again: %s%s", error, more)
            return []

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slot_free.set()

    async def _wait(self, event: asyncio.Event | None) -> None:
        """Sleep until `event`, a stop, or the idle tick (scheduled messages become due)."""
        waiters = [asyncio.ensure_future(self._stopping.wait())]
        if event is not None:
            waiters.append(asyncio.ensure_future(event.wait()))
        _done, pending = await asyncio.wait(
            waiters, timeout=self.idle_tick, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            waiter.cancel()
        if event is not None:
            event.clear()

    async def _submit(self, message: ClaimedMessage) -> None:
        """Submit one message and store the outcome, failing over between connectors.

        A connector's window slot is held until what the SMSC accepted is durable, in the
        submit journal when there is one (the full write goes on after): after a crash, at
        most a window's worth of messages were accepted by the SMSC without our knowing it.
        """
        try:
            result: SubmitResult | None = None
            for name in self.router.candidates(message.phone):
                connector = self.connectors.get(name)
                if connector is None or not connector.bound:
                    continue
                async with connector.slots:
                    result = await connector.submit_message(message)
                    if result.outcome == "retry":
                        continue
                    journaled = await self._journaled(result)
                    if journaled is None:
                        await self._store(connector, result)
                        return
                await self._store(connector, journaled)
                return
            detail = result.detail if result is not None else "no bound connector"
            with contextlib.suppress(Exception):
                await self.results.submit(
                    SubmitResult(message.id, "retry", detail=detail, retry_in=NO_ROUTE_RETRY)
                )
        finally:  # stored, or left for its lease to bring back
            self._in_hand.discard(message.id)

    async def _journaled(self, result: SubmitResult) -> SubmitResult | None:
        """`result` with its journal row, once durable; None without one (no journal, not
        accepted, or the journal's write failed, logged once a batch by its batcher: the full
        write is then made in the slot)."""
        if self.journal is None or result.outcome != "accepted":
            return None
        try:
            return replace(result, journal=await self.journal.add(result))
        except Exception:
            return None

    async def _store(self, connector: Connector, result: SubmitResult) -> None:
        try:
            # logged by the batcher; the lease (or the journal's sweep) brings the message back
            with contextlib.suppress(Exception):
                await self.results.submit(result)
        finally:  # its receipts may be written now
            connector.stored(result.smsc_ids)


async def _swept(work: Awaitable[int], what: str, warning: str) -> None:
    """Run one of the sweep's tasks; log its failure, and `warning` with its count if any."""
    try:
        count = await work
    except Exception:
        log.exception("could not %s", what)
    else:
        if count and warning:
            log.warning(warning, count)
