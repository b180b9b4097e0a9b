"""A connector: one SMSC, reached by `binds` SMPP sessions, with the options that shape its PDUs.

Operators cap each bind's throughput, so a connector may open several (`binds = N`): each has
its own window, and the connector's `tps` holds across all of them (one shared token bucket).
A submit goes to the bound session with the fewest submits awaiting an answer.

`Connector.submit_message` turns a claimed message into its submit_sm PDUs (cut exactly where
the credits were counted, with the message's validity as validity_period, so that the SMSC
drops it when we stop waiting for it) and returns a `SubmitResult` for the dispatcher to store.
A submit throttled or not answered is given back to retry later; a warning says so, once a
minute per connector. The connector is the only SMPP adapter: an incoming deliver_sm becomes a
plain value, a `ReceiptIn` for `services.delivery` or an `InboundPart` for `services.replies`,
persisted before the session acknowledges.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hirondelle.config import ConnectorConfig, ValidityFormat
from hirondelle.context import Context
from hirondelle.dispatch.batching import Batcher
from hirondelle.domain.smsc_ids import normalize_message_id
from hirondelle.services import delivery, replies
from hirondelle.services.delivery import ReceiptIn, SubmitResult
from hirondelle.services.dispatching import ClaimedMessage
from hirondelle.services.replies import InboundPart
from hirondelle.smpp.constants import CommandStatus
from hirondelle.smpp.errors import (
    SubmitRejected,
    SubmitRetryLater,
    SubmitThrottled,
    SubmitTimedOut,
)
from hirondelle.smpp.messages import MessageOptions, build_submits, segment_of
from hirondelle.smpp.pdu import DataSm, DeliverSm
from hirondelle.smpp.receipts import is_receipt, receipt_from_deliver_sm, receipt_outcome
from hirondelle.smpp.session import HANDLER_FAILED, BindMode, SessionConfig, SmppSession
from hirondelle.smpp.timers import TokenBucket
from hirondelle.smpp.times import absolute_time, relative_time

log = logging.getLogger(__name__)

#: The session's bind of each spelling hirondelle.toml accepts (config.BindMode).
BIND_MODES: dict[str, BindMode] = {
    "transceiver": "trx",
    "trx": "trx",
    "transmitter+receiver": "tx+rx",
    "tx+rx": "tx+rx",
}

#: Seconds a receipt waits at most for its submit result to be stored before it is written.
UNSTORED_WAIT = 10.0
#: Seconds between two warnings of one connector about throttled or unanswered submits.
WARNING_INTERVAL = 60.0


class Occasional:
    """A log line at most once per `interval` seconds of `clock`, with a count of the others."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self.interval = interval
        self.clock = clock
        self.last: float | None = None
        self.skipped = 0

    def ready(self) -> int | None:
        """The number of lines held back since the last one when it is time for one, else None."""
        now = self.clock()
        if self.last is not None and now - self.last < self.interval:
            self.skipped += 1
            return None
        skipped, self.skipped, self.last = self.skipped, 0, now
        return skipped


class Connector:
    def __init__(
        self,
        ctx: Context,
        name: str,
        session_config: SessionConfig,
        options: MessageOptions,
        *,
        validity: ValidityFormat = "relative",
        clock: Callable[[], float] = time.monotonic,
        binds: int = 1,
    ) -> None:
        self.ctx = ctx
        self.name = name
        self.options = options
        self.validity = validity
        self.retry_warnings = Occasional(WARNING_INTERVAL, clock)
        bucket = TokenBucket(session_config.tps) if session_config.tps else None
        self.sessions = [
            SmppSession(session_config, on_deliveries=self.on_deliveries, bucket=bucket)
            for _ in range(binds)
        ]
        #: the first bind (the only one unless `binds` > 1)
        self.session = self.sessions[0]
        self.receipts: Batcher[ReceiptIn] = Batcher(self._write_receipts, what="receipts")
        #: returns once the submit results handed over so far are stored (the dispatcher's
        #: `results.settled`; see `_match_waiting`)
        self.results_stored: Callable[[], Awaitable[None]] = _at_once
        self._matching: set[asyncio.Task[None]] = set()
        #: one per message being submitted or having its outcome stored (see Dispatcher._submit)
        self.slots = asyncio.Semaphore(session_config.window * binds)
        #: SMSC ids accepted whose submit result is not stored yet, each with the receipts
        #: waiting for it (see `receipts_may_go`)
        self.unstored: dict[str, list[asyncio.Future[None]]] = {}
        self._validities: dict[str, MessageOptions] = {}  # see `_with_validity`

    @classmethod
    def from_config(cls, ctx: Context, config: ConnectorConfig) -> Connector:
        session_config = SessionConfig(
            host=config.host,
            port=config.port,
            system_id=config.system_id,
            password=config.resolved_password(),
            system_type=config.system_type,
            bind_mode=BIND_MODES[config.bind_mode],
            window=config.window,
            tps=config.tps or None,
            name=config.name,
        )
        options = MessageOptions(
            concatenation=config.concatenation,
            allow_latin1=config.encoding == "latin1",
            source_ton=config.source_ton,
            source_npi=config.source_npi,
            dest_ton=config.dest_ton,
            dest_npi=config.dest_npi,
        )
        return cls(
            ctx,
            config.name,
            session_config,
            options,
            validity=config.validity_format,
            binds=config.binds,
        )

    @property
    def bound(self) -> bool:
        if len(self.sessions) == 1:  # asked for each message: spare the generator
            return self.session.bound
        return any(session.bound for session in self.sessions)

    async def start(self) -> None:
        for session in self.sessions:
            await session.start()

    async def close(self) -> None:
        await asyncio.gather(*(session.close() for session in self.sessions))
        for task in self._matching:  # what they would match, the sweep does
            task.cancel()

    def _pick(self) -> SmppSession:
        """The bound session with the fewest submits in flight (the first when none is bound:
        its submit waits for the bind, then gives the message back)."""
        if len(self.sessions) == 1:
            return self.session
        bound = [session for session in self.sessions if session.bound] or self.sessions
        return min(bound, key=lambda session: session.stats.in_flight)

    async def submit_message(self, message: ClaimedMessage) -> SubmitResult:
        """Submit every part of a message; the result says what to store."""
        left = message.expires_at - datetime.now(UTC)
        if left <= timedelta(0):  # the expiry sweep fails it, refunded
            return SubmitResult(
                message.id, "retry", self.name, detail="validity over", retry_in=timedelta(0)
            )
        options = self.options
        if self.validity == "relative":
            options = self._with_validity(relative_time(left))
        elif self.validity == "absolute":
            options = self._with_validity(absolute_time(message.expires_at))
        pdus = build_submits(
            message.text, message.sender, message.phone, options, reference=message.id
        )
        smsc_ids: list[str] = []
        session = self._pick()  # every part on one bind: some SMSCs reassemble per session
        try:
            for pdu in pdus:
                resp = await session.submit(pdu)
                smsc_ids.append(resp.message_id)
                # Before anything else runs: its receipt may be in the same read.
                self.storing(resp.message_id)
        except SubmitRejected as exc:
            self.stored(smsc_ids)
            return SubmitResult(message.id, "rejected", self.name, detail=str(exc)[:255])
        except SubmitRetryLater as exc:
            self.stored(smsc_ids)
            if isinstance(exc, SubmitThrottled | SubmitTimedOut):
                self._warn_retry(exc)
            return SubmitResult(message.id, "retry", self.name, detail=str(exc)[:255])
        return SubmitResult(message.id, "accepted", self.name, smsc_ids)

    def _with_validity(self, validity_period: str) -> MessageOptions:
        """The connector's options with this validity_period, made once: the messages of a
        campaign share theirs, to the second."""
        options = self._validities.get(validity_period)
        if options is None:
            if len(self._validities) >= 1024:
                self._validities.clear()
            options = replace(self.options, validity_period=validity_period)
            self._validities[validity_period] = options
        return options

    def storing(self, smsc_id: str) -> None:
        """The submit result holding this SMSC id is not stored yet: its receipt waits."""
        self.unstored.setdefault(normalize_message_id(smsc_id), [])

    def stored(self, smsc_ids: Iterable[str]) -> None:
        """The submit result holding these SMSC ids is stored (or will never be): their
        receipts may be written."""
        for smsc_id in smsc_ids:
            for waiter in self.unstored.pop(normalize_message_id(smsc_id), ()):
                if not waiter.done():
                    waiter.set_result(None)

    async def receipts_may_go(self, smsc_ids: Iterable[str]) -> None:
        """Wait until the submit results of `smsc_ids`, of those being stored, are durable.

        A receipt often arrives before its submit result is stored (batched, durable only on
        commit). Written in parallel, each in its own PostgreSQL transaction, neither would see
        the other's row and the receipt would wait for the stale sweep; written after, it finds
        its part at once. This orders the two within the process that holds the bind, which is
        where both arrive, without a lock in the database. A receipt that still finds no part
        waits in pending_receipts and is matched when its submit result lands (set-wise, under
        row locks), when looked at again (`_match_waiting`: the result was written at the same
        moment, as happens across binds) or by the sweep.
        """
        keys = [key for key in map(normalize_message_id, smsc_ids) if key in self.unstored]
        if not keys:
            return
        # Futures and one timer, not wait_for(): that costs a task.
        loop = asyncio.get_running_loop()
        waiters = []
        for key in keys:
            waiter: asyncio.Future[None] = loop.create_future()
            self.unstored[key].append(waiter)
            waiters.append(waiter)
        # After UNSTORED_WAIT, results nobody stores (a test's direct submit): go on.
        timer = loop.call_later(UNSTORED_WAIT, self.stored, keys)
        try:
            for waiter in waiters:  # mostly one batch of results: the first wait is the wait
                await waiter
        finally:
            timer.cancel()

    def _warn_retry(self, exc: SubmitRetryLater) -> None:
        skipped = self.retry_warnings.ready()
        if skipped is not None:
            more = f" ({skipped} more since the last warning)" if skipped else ""
            log.warning(
                "smpp %s: %s; messages are given back to retry until their validity ends%s",
                self.name,
                exc,
                more,
            )

    async def _write_receipts(self, batch: list[ReceiptIn]) -> None:
        waiting = await delivery.record_receipts(self.ctx, self.name, batch)
        if waiting:  # see delivery.match_waiting
            task = asyncio.create_task(self._match_waiting(waiting))
            self._matching.add(task)
            task.add_done_callback(self._matching.discard)

    async def _match_waiting(self, smsc_ids: list[str]) -> None:
        await self.results_stored()
        try:
            await delivery.match_waiting(self.ctx, self.name, smsc_ids)
        except Exception:  # the sweep looks at them again
            log.exception("smpp %s: matching %d waiting receipts failed", self.name, len(smsc_ids))

    async def on_deliveries(self, pdus: list[DeliverSm | DataSm]) -> list[int]:
        """Persist the receipts and replies of one read; only then does the session acknowledge
        them. The receipts go in one batch, the replies side by side (a burst of STOPs commits
        together, as when each deliver_sm had its task); one that cannot be stored is refused
        alone, the SMSC delivers it again."""
        statuses = [int(CommandStatus.ESME_ROK)] * len(pdus)
        receipts: list[ReceiptIn] = []
        indexes: list[int] = []  # of the receipts in `pdus`
        reply_indexes: list[int] = []
        for index, pdu in enumerate(pdus):
            if not is_receipt(pdu):
                reply_indexes.append(index)
                continue
            receipt = receipt_from_deliver_sm(pdu)
            if receipt is None:
                log.warning(
                    "%s: receipt without a message id, acknowledged and ignored",
                    self.session.config.describe(),
                )
                continue
            detail = f"stat:{receipt.stat.value} err:{receipt.err or ''}".strip()
            receipts.append(ReceiptIn(receipt.message_id, receipt_outcome(receipt), detail))
            indexes.append(index)
        jobs = [self._store_reply(pdus[index]) for index in reply_indexes]
        if receipts:
            jobs.append(self._store_receipts(receipts))
        # Receipts alone (the usual read) are awaited as they are: gather() costs a task each.
        stored = [await jobs[0]] if len(jobs) == 1 else await asyncio.gather(*jobs)
        replies_stored = stored[: len(reply_indexes)]  # the receipts' outcome comes last
        failed = [i for i, ok in zip(reply_indexes, replies_stored, strict=True) if not ok]
        if receipts and not stored[-1]:
            failed += indexes
        for index in failed:
            statuses[index] = HANDLER_FAILED
        return statuses

    async def _store_reply(self, pdu: DeliverSm | DataSm) -> bool:
        try:
            await replies.record_inbound(self.ctx, self.name, inbound_part(pdu))
        except Exception:
            log.exception("smpp %s: storing a reply failed: %s", self.name, pdu)
            return False
        return True

    async def _store_receipts(self, receipts: list[ReceiptIn]) -> bool:
        await self.receipts_may_go(receipt.smsc_id for receipt in receipts)
        try:
            await self.receipts.submit_many(receipts)
        except Exception:  # logged by the batcher
            return False
        return True


async def _at_once() -> None:
    return None


def inbound_part(pdu: DeliverSm | DataSm) -> InboundPart:
    """A short message from a handset as services take it: its user data without the header,
    and its place in a concatenated message (none: a whole one)."""
    segment, data = segment_of(pdu)
    if segment is None:
        return InboundPart(pdu.source_addr, pdu.destination_addr, pdu.data_coding, data)
    return InboundPart(
        pdu.source_addr,
        pdu.destination_addr,
        pdu.data_coding,
        data,
        reference=segment.reference,
        total=segment.total,
        seqnum=segment.seqnum,
    )
