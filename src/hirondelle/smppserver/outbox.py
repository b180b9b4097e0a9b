"""Receipts and replies to customers' SMPP receivers, from the durable `smpp_deliveries` rows.

Theory of operation
-------------------
The rows are written with what they report (services.delivery, services.replies). While an
account has a receiver (or transceiver) bound, `Outbox.run` reads its rows in id order, hands
each to a bind with room in its window as a deliver_sm, and deletes it once the customer
answered ESME_ROK (or a permanent error, ESME_RX_P_APPN / ESME_RX_R_APPN: it will never take
it). Another answer, no answer before the bind is closed, or a lost connection leaves the row
where it is: it goes again, to this bind or the next. A row is therefore delivered at least
once; the customer acknowledges by receipted_message_id.

Reading: a cursor per account (the last id handed out) avoids reading the same rows at every
pass; it goes back to 0 when a delivery failed, and every `RESCAN` seconds, so that a row whose
transaction committed after a later id was read (PostgreSQL) is not left behind. Rows in flight
are never sent twice at once. A pass runs every `POLL` seconds, and at once when a window
frees or a receiver binds. Rows older than smpp_server_delivery_hours are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from hirondelle.context import Context
from hirondelle.domain.statuses import AckStatus
from hirondelle.services import smpp_customers
from hirondelle.services.smpp_customers import Delivery
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.constants import MessageState
from hirondelle.smpp.messages import MessageOptions, build_messages, choose_data_coding, split_text
from hirondelle.smpp.pdu import DeliverSm
from hirondelle.smpp.receipts import Receipt, ReceiptStat, format_receipt_text

log = logging.getLogger(__name__)

POLL = 0.1  # seconds between passes when nothing wakes the outbox
RESCAN = 2.0  # seconds between reads from the first row (see the module docstring)
RETRY = 1.0  # seconds before an account's rows go again after a temporary refusal
EXPIRY_EVERY = 60.0
MAX_READ = 2000
#: Answers after which a row is done: taken, or refused for good by the customer.
FINAL_ANSWERS = frozenset({S.ESME_ROK, S.ESME_RX_P_APPN, S.ESME_RX_R_APPN})

#: annex 6 status -> (stat, err, dlvrd, message_state); err 001 is GSM's unknown subscriber.
RECEIPT_FIELDS: dict[int, tuple[ReceiptStat, str, str, MessageState]] = {
    AckStatus.DELIVERED: (ReceiptStat.DELIVRD, "000", "001", MessageState.DELIVERED),
    AckStatus.NOT_DELIVERED: (ReceiptStat.UNDELIV, "000", "000", MessageState.UNDELIVERABLE),
    AckStatus.REJECTED: (ReceiptStat.REJECTD, "000", "000", MessageState.REJECTED),
    AckStatus.UNKNOWN_NUMBER: (ReceiptStat.UNDELIV, "001", "000", MessageState.UNDELIVERABLE),
}


def _receipt_date(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%y%m%d%H%M") if moment is not None else ""


def deliver_sm_for(delivery: Delivery) -> DeliverSm:
    """The deliver_sm (sequence_number 0) carrying a receipt or a reply."""
    if delivery.kind == "receipt":
        stat, err, dlvrd, state = RECEIPT_FIELDS.get(
            delivery.status, (ReceiptStat.UNKNOWN, "000", "000", MessageState.UNKNOWN)
        )
        text = format_receipt_text(
            Receipt(
                delivery.sms_id,
                stat,
                err=err,
                dlvrd=dlvrd,
                sub="001",
                submit_date=_receipt_date(delivery.submitted_at),
                done_date=_receipt_date(delivery.created_at),
                text=delivery.text,
            )
        )
        return DeliverSm(
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr=delivery.source,
            destination_addr=delivery.destination,
            esm_class=0x04,
            data_coding=0x03,
            short_message=text.encode("latin-1", "replace")[:254],
            receipted_message_id=delivery.sms_id,
            message_state=int(state),
            network_error_code=(3, int(err)) if err != "000" else None,
        )
    # A reply: one deliver_sm, the text in message_payload when it needs more than one part.
    long = len(split_text(delivery.text, choose_data_coding(delivery.text), "udh8")) > 1
    options = MessageOptions(concatenation="payload" if long else "udh8")
    (pdu,) = build_messages(
        DeliverSm, delivery.text, delivery.source, delivery.destination, options
    )
    return pdu


class Receiver(Protocol):
    """What the outbox needs of a bind."""

    @property
    def room(self) -> int:
        """deliver_sm it may take now (its window's free slots)."""
        ...

    def deliver(self, delivery: Delivery) -> bool: ...


@dataclass
class _Account:
    cursor: int = 0
    inflight: set[int] = field(default_factory=set)
    drained: bool = False
    retry_at: float = 0.0


class Outbox:
    """See the module docstring. `receivers(account_id)` lists the account's receiver binds."""

    def __init__(self, ctx: Context, receivers: Callable[[int], Sequence[Receiver]]) -> None:
        self.ctx = ctx
        self.receivers = receivers
        self.accounts: dict[int, _Account] = {}
        self._acked: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_rescan = 0.0
        self._last_expiry = 0.0
        self.delivered = 0  # rows acknowledged (tests and bench read it)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self._flush_acks()

    def wake(self) -> None:
        self._wake.set()

    def bound(self, account_id: int) -> None:
        """A receiver of `account_id` bound: everything of the account goes again."""
        state = self.accounts.setdefault(account_id, _Account())
        state.cursor, state.drained, state.retry_at = 0, False, 0.0
        self.wake()

    # -- the binds report -------------------------------------------------------------------------

    def answered(self, delivery: Delivery, status: int) -> None:
        state = self.accounts.setdefault(delivery.account_id, _Account())
        state.inflight.discard(delivery.id)
        if status in FINAL_ANSWERS:
            self._acked.add(delivery.id)
            self.delivered += 1
            if status != S.ESME_ROK:
                log.info(
                    "smpp server: %s %d refused for good (%#x)", delivery.kind, delivery.id, status
                )
        else:
            state.cursor, state.retry_at = 0, time.monotonic() + RETRY
        state.drained = False
        self.wake()

    def returned(self, deliveries: Sequence[Delivery]) -> None:
        """In flight on a bind that ended: they go again."""
        for delivery in deliveries:
            state = self.accounts.setdefault(delivery.account_id, _Account())
            state.inflight.discard(delivery.id)
            state.cursor, state.drained = 0, False
        self.wake()

    # -- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("smpp server: the outbox pass failed; trying again")
                await asyncio.sleep(POLL)

    async def run_once(self) -> None:
        now = time.monotonic()
        rescan = now - self._last_rescan >= RESCAN
        if rescan:
            self._last_rescan = now
        if now - self._last_expiry >= EXPIRY_EVERY:
            self._last_expiry = now
            dropped = await smpp_customers.drop_expired(self.ctx)
            if dropped:
                log.warning("smpp server: dropped %d receipts/replies never taken", dropped)
        await self._flush_acks()
        for account_id, state in list(self.accounts.items()):
            if not self.receivers(account_id):
                state.cursor = 0
                continue
            if rescan:
                state.cursor, state.drained = 0, False
            if not state.drained and state.retry_at <= now:
                await self._fill(account_id, state)

    async def _flush_acks(self) -> None:
        if self._acked:
            acked = list(self._acked)
            await smpp_customers.acknowledge(self.ctx, acked)
            self._acked.difference_update(acked)

    async def _fill(self, account_id: int, state: _Account) -> None:
        room = sum(bind.room for bind in self.receivers(account_id))
        if room <= 0:
            return
        limit = min(MAX_READ, room + len(state.inflight))
        rows = await smpp_customers.pending_deliveries(self.ctx, account_id, state.cursor, limit)
        state.drained = len(rows) < limit
        binds = list(self.receivers(account_id))
        for row in rows:
            if row.id in state.inflight or row.id in self._acked:
                state.cursor = row.id
                continue
            if not any(bind.deliver(row) for bind in _rotate(binds, row.id)):
                state.drained = False  # windows full: the rest waits for an answer
                return
            state.inflight.add(row.id)
            state.cursor = row.id


def _rotate(binds: list[Receiver], key: int) -> list[Receiver]:
    """The binds starting at a different one for each row: load spread over the binds."""
    if len(binds) < 2:
        return binds
    start = key % len(binds)
    return binds[start:] + binds[:start]
