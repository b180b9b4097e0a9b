"""What comes back from operators, and what the dispatcher learnt: one transaction each.

- `record_submit_results`: a batch of submit outcomes (accepted with SMSC ids, rejected and
  refunded, or to retry later), with any receipt that arrived before its submit_sm_resp.
- `record_receipts`: delivery receipts, matched by SMSC message id (see `apply_receipts` for
  reused ids, hex and decimal forms); an unknown number (status 5) blacklists the number as
  `refused`. Receipts that match nothing wait, swept by `resolve_stale_receipts`.
- `record_inbound`: a reply from a handset (or one part of it), routed to an account by the
  number it was written to (see `store_reply`), with STOP / START handled.

Each writes the status history and the webhook events in the same transaction, and returns only
once durable: the SMPP session acknowledges a deliver_sm only after these return.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain.dates import format_local
from hirondelle.domain.keywords import keyword_of
from hirondelle.domain.numbers import InvalidNumber, parse_mobile
from hirondelle.domain.sender import answered_at, reply_address
from hirondelle.domain.statuses import ACK_STATUS_TEXTS, AckStatus
from hirondelle.notify.payloads import receipt_params, reply_params
from hirondelle.smpp.messages import decode_text, segment_of
from hirondelle.smpp.pdu import DataSm, DeliverSm
from hirondelle.smpp.receipts import message_id_forms, normalize_message_id
from hirondelle.store import delivery as rows
from hirondelle.store import ledger, validity
from hirondelle.store import receipts as receipt_rows
from hirondelle.store import webhooks as outbox

Outcome = Literal["accepted", "rejected", "retry"]


@dataclass(frozen=True, slots=True)
class SubmitResult:
    message_id: int
    outcome: Outcome
    connector: str = ""
    smsc_ids: Sequence[str] = ()
    detail: str = ""
    retry_in: timedelta = field(default=timedelta(seconds=30))


async def record_submit_results(ctx: Context, results: Sequence[SubmitResult]) -> None:
    """Store a batch of submit outcomes in one transaction."""
    if results:
        await ctx.store.write(lambda conn: apply_submit_results(conn, results, datetime.now(UTC)))


def apply_submit_results(conn: Connection, results: Sequence[SubmitResult], now: datetime) -> None:
    """Store submit outcomes set-wise: a few statements per batch, not per message."""
    accepted: dict[str, list[SubmitResult]] = {}
    retry: dict[timedelta, list[int]] = {}
    for result in results:
        if result.outcome == "accepted":
            accepted.setdefault(result.connector, []).append(result)
        elif result.outcome == "rejected":
            _reject(conn, result, now)
        else:
            retry.setdefault(result.retry_in, []).append(result.message_id)
    for connector, batch in sorted(accepted.items()):
        rows.lock_connector(conn, connector)
        _mark_submitted(conn, connector, batch, now)
    for delay, ids in retry.items():
        rows.retry_later(conn, ids, now + delay)


def _mark_submitted(
    conn: Connection, connector: str, batch: Sequence[SubmitResult], now: datetime
) -> None:
    ours = set(rows.mark_submitted(conn, connector, [r.message_id for r in batch], now))
    parts: list[dict[str, object]] = []
    for result in batch:
        if result.message_id in ours:
            for index, smsc_id in enumerate(result.smsc_ids, start=1):
                parts.append(
                    {
                        "message_id": result.message_id,
                        "part": index,
                        "smsc_id": normalize_message_id(smsc_id),
                        "connector": connector,
                        "status": int(AckStatus.TRANSMITTED),
                        "created_at": now,
                    }
                )
    rows.insert_parts(conn, parts)
    rows.add_events(conn, [(m, int(AckStatus.TRANSMITTED), "submitted") for m in ours], now)
    _queue_receipt_webhooks(conn, {m: AckStatus.TRANSMITTED for m in ours}, now)
    # Receipts that beat their submit_sm_resp, by exact id: another form could be another's.
    early = receipt_rows.pending_for(conn, connector, {str(p["smsc_id"]) for p in parts})
    _apply_waiting(conn, connector, early, now, other_forms=False)


def _reject(conn: Connection, result: SubmitResult, now: datetime) -> None:
    refund = rows.record_rejected(conn, result.message_id, result.detail, now)
    if refund is None:
        return
    info = rows.message_info(conn, result.message_id)
    if refund:
        ledger.move(conn, info.account_id, refund, "refund", info.sms_id)
    _queue_receipt_webhooks(conn, {info.id: AckStatus.REJECTED}, now)


#: The status history's detail for a message whose validity ended before it was submitted.
EXPIRED = "validity period expired"


async def expire_messages(ctx: Context, now: datetime | None = None, *, batch: int = 500) -> int:
    """Fail (status 4) and refund the messages past their validity that no SMSC took, a batch
    per transaction; return how many. One the SMSC took keeps status 3 (the manual's "sent to
    the operator") whether or not its receipt ever comes."""
    at = now or datetime.now(UTC)
    total = 0
    while True:
        count = await ctx.store.write(lambda conn: apply_expiry(conn, at, batch))
        total += count
        if count < batch:
            return total


def apply_expiry(conn: Connection, now: datetime, limit: int) -> int:
    """One batch of `expire_messages`, set-wise like a batch of rejections."""
    expired = validity.expire_waiting(conn, now, limit)
    if expired:
        rows.add_events(conn, [(m.id, int(AckStatus.REJECTED), EXPIRED) for m in expired], now)
        refunds = [(m.account_id, m.credits, m.sms_id) for m in expired if m.credits]
        ledger.credit_each(conn, "refund", refunds)
        _queue_receipt_webhooks(conn, {m.id: AckStatus.REJECTED for m in expired}, now)
    return len(expired)


# -- receipts ------------------------------------------------------------------------------------

#: (SMSC message id, annex 6 status, detail) as a connector reports a receipt.
ReceiptIn = tuple[str, int, str]


async def record_receipts(ctx: Context, connector: str, receipts: Sequence[ReceiptIn]) -> None:
    """Store delivery receipts of one connector in one transaction."""
    final = [r for r in receipts if r[1] != AckStatus.TRANSMITTED]  # ENROUTE changes nothing
    if final:
        await ctx.store.write(
            lambda conn: store_receipts(conn, connector, final, datetime.now(UTC))
        )


def apply_receipts(
    conn: Connection,
    connector: str,
    receipts: Sequence[ReceiptIn],
    now: datetime,
    *,
    arrived: Sequence[datetime] | None = None,
    other_forms: bool = False,
) -> list[int]:
    """Match receipts to message parts and apply them; return the positions of those left.

    SMSCs reuse their ids (counters that wrap, restarts): a receipt goes to the part that holds
    its id last, and only if that part has no final status from its own receipt yet (a second
    receipt for it waits, for the next submit its id comes back with) and, for receipts that
    waited, was recorded no later than `RECEIPT_LEAD` after the receipt `arrived`. So a message
    final from its own receipt is never changed, and a receipt that waited is never given to a
    later holder.

    Some SMSCs report in decimal the id they gave in hex (or the reverse). A receipt matches its
    exact id; with `other_forms` (only for receipts that waited long enough for their message's
    id to be stored, see `resolve_stale_receipts`), another form of it matches when no part
    holds the exact id and exactly one holds another form — before that, another message's id
    could be taken for it.
    """
    if other_forms:
        wanted = {form for receipt in receipts for form in message_id_forms(receipt[0])}
    else:
        wanted = {normalize_message_id(receipt[0]) for receipt in receipts}
    holders = {part.smsc_id: part for part in receipt_rows.latest_holders(conn, connector, wanted)}
    matches: list[receipt_rows.PartMatch] = []
    receipt_of: dict[int, ReceiptIn] = {}  # part id -> its receipt
    left: list[int] = []
    for index, receipt in enumerate(receipts):
        part = _holder(holders, receipt[0], other_forms)
        if (
            part is None
            or part.part_status != AckStatus.TRANSMITTED
            or part.part_id in receipt_of
            or (arrived is not None and part.created_at > arrived[index] + RECEIPT_LEAD)
        ):
            left.append(index)
        else:
            matches.append(part)
            receipt_of[part.part_id] = receipt
    _apply_matches(conn, matches, receipt_of, now)
    return left


def _holder(
    holders: dict[str, receipt_rows.PartMatch], smsc_id: str, other_forms: bool
) -> receipt_rows.PartMatch | None:
    part = holders.get(normalize_message_id(smsc_id))
    if part is None and other_forms:
        others = [holders[f] for f in message_id_forms(smsc_id) if f in holders]
        part = others[0] if len(others) == 1 else None
    return part


def _apply_matches(
    conn: Connection,
    matches: Sequence[receipt_rows.PartMatch],
    receipt_of: dict[int, ReceiptIn],
    now: datetime,
) -> None:
    part_updates = [(p.part_id, receipt_of[p.part_id][1]) for p in matches]
    status_of: dict[int, int] = {
        p.message_id: receipt_of[p.part_id][1] for p in matches if p.parts == 1
    }
    rows.set_parts_status(conn, part_updates)
    for part in matches:  # long messages: one status for all their parts
        if part.parts > 1:
            status_of[part.message_id] = message_status(rows.part_statuses(conn, part.message_id))
    current = {p.message_id: p.message_status for p in matches}
    changed = {m: s for m, s in status_of.items() if s != current[m]}
    rows.set_messages_status(conn, list(changed.items()), now)
    details = {p.message_id: receipt_of[p.part_id][2] for p in matches}
    rows.add_events(
        conn,
        [
            (m, s, details[m] or ACK_STATUS_TEXTS[AckStatus(s)])
            for m, s in changed.items()
            if s != 3
        ],
        now,
    )
    _queue_receipt_webhooks(conn, {m: AckStatus(s) for m, s in changed.items()}, now)
    for message_id, status in changed.items():
        if status == AckStatus.UNKNOWN_NUMBER:
            info = rows.message_info(conn, message_id)
            rows.blacklist_add(conn, info.account_id, info.phone, "refused", now)


def store_receipts(
    conn: Connection, connector: str, receipts: Sequence[ReceiptIn], now: datetime
) -> None:
    """Apply receipts; keep those that matched no part they may change in pending_receipts."""
    rows.lock_connector(conn, connector)
    left = [receipts[i] for i in apply_receipts(conn, connector, receipts, now)]
    receipt_rows.add_pending(
        conn,
        connector,
        [(normalize_message_id(smsc_id), status, detail) for smsc_id, status, detail in left],
        now,
        now + STALE_RECEIPT,
    )


def apply_receipt(
    conn: Connection, connector: str, smsc_id: str, status: int, detail: str, now: datetime
) -> None:
    """One receipt (see `store_receipts`)."""
    store_receipts(conn, connector, [(smsc_id, status, detail)], now)


def _apply_waiting(
    conn: Connection,
    connector: str,
    waiting: Sequence[receipt_rows.Pending],
    now: datetime,
    *,
    other_forms: bool,
) -> list[receipt_rows.Pending]:
    """Apply waiting receipts of one connector, each as of its arrival; delete those that
    matched and return the others, left as they were."""
    if not waiting:
        return []
    receipts = [(p.smsc_id, p.status, p.detail) for p in waiting]
    arrived = [p.received_at for p in waiting]
    left = apply_receipts(conn, connector, receipts, now, arrived=arrived, other_forms=other_forms)
    kept = set(left)
    receipt_rows.delete_pending(conn, [p.id for i, p in enumerate(waiting) if i not in kept])
    return [waiting[i] for i in left]


#: A receipt reaches us this long at most before its submit_sm_resp is stored (the dispatcher's
#: lease: a message whose outcome takes longer is submitted again). A part stored later than
#: that after a receipt arrived is a later holder of a reused id, not the receipt's message.
RECEIPT_LEAD = timedelta(minutes=2)
#: A receipt still unmatched after this long is tried against the other forms of its id; then
#: again after as long as it has waited (a geometric back-off), until the retention drops it.
STALE_RECEIPT = timedelta(seconds=30)
#: Waiting receipts one sweep looks at (and expired ones it drops): one short transaction.
SWEEP_LIMIT = 1000


async def resolve_stale_receipts(ctx: Context, *, limit: int = SWEEP_LIMIT) -> int:
    """Drop waiting receipts older than the retention; apply those due for another look,
    trying the other forms of their ids; return how many matched.

    Each call reads at most `limit` receipts through indexes, whatever the table holds.
    """
    now = datetime.now(UTC)
    retention = timedelta(hours=ctx.settings.receipt_retention_hours)

    def resolve(conn: Connection) -> int:
        receipt_rows.drop_expired(conn, now - retention, limit)
        by_connector: dict[str, list[receipt_rows.Pending]] = {}
        for pending in receipt_rows.due_pending(conn, now, limit):
            by_connector.setdefault(pending.connector, []).append(pending)
        resolved = 0
        for connector, waiting in sorted(by_connector.items()):
            rows.lock_connector(conn, connector)
            left = _apply_waiting(conn, connector, waiting, now, other_forms=True)
            resolved += len(waiting) - len(left)
            receipt_rows.put_off(
                conn, [(p.id, now + max(STALE_RECEIPT, now - p.received_at)) for p in left]
            )
        return resolved

    return await ctx.store.write(resolve)


def message_status(part_statuses: Sequence[int]) -> int:
    """One status for a message of several parts: delivered only when every part is; a failed
    part decides at once (unknown number before rejected before not delivered)."""
    for failure in (AckStatus.UNKNOWN_NUMBER, AckStatus.REJECTED, AckStatus.NOT_DELIVERED):
        if failure in part_statuses:
            return int(failure)
    if part_statuses and all(s == AckStatus.DELIVERED for s in part_statuses):
        return int(AckStatus.DELIVERED)
    return int(AckStatus.TRANSMITTED)


def _queue_receipt_webhooks(
    conn: Connection, statuses: dict[int, AckStatus], now: datetime
) -> None:
    for message_id, info in rows.webhook_targets(conn, list(statuses)).items():
        status = statuses[message_id]
        params = receipt_params(
            sms_id=info.sms_id,
            status=status,
            received=format_local(now, info.timezone),
            phone=info.phone,
            campaign_id=info.campaign_id,
            cli_msg_id=info.cli_msg_id,
        )
        outbox.queue_event(
            conn, info.account_id, "receipt", info.sms_id, info.receipt_url, params, now
        )


# -- replies -------------------------------------------------------------------------------------


async def record_inbound(ctx: Context, connector: str, pdu: DeliverSm | DataSm) -> None:
    """Store a reply from a handset, or one part of a concatenated reply."""
    window = timedelta(hours=ctx.settings.reply_window_hours)
    await ctx.store.write(
        lambda conn: apply_inbound(conn, connector, pdu, datetime.now(UTC), window)
    )


def apply_inbound(
    conn: Connection, connector: str, pdu: DeliverSm | DataSm, now: datetime, window: timedelta
) -> None:
    segment, body = segment_of(pdu)
    if segment is not None and segment.total > 1:
        parts = rows.add_inbound_part(
            conn,
            connector=connector,
            source=pdu.source_addr,
            destination=pdu.destination_addr,
            reference=segment.reference,
            total=segment.total,
            seqnum=segment.seqnum,
            data_coding=pdu.data_coding,
            data=body,
            now=now,
        )
        if parts is None:
            return
        body = b"".join(part["data"] for part in parts)
    text = decode_text(body, pdu.data_coding)
    store_reply(conn, pdu.source_addr, pdu.destination_addr, text, now, window)


def _phone_digits(address: str) -> str:
    try:
        return parse_mobile(address if address.startswith(("+", "0")) else "+" + address).digits
    except InvalidNumber:
        return "".join(ch for ch in address if ch.isdigit()) or address


def _route_reply(
    conn: Connection, phone: str, short_code: str, since: datetime
) -> tuple[int | None, int | None, list[int]]:
    """(account, message replied to, accounts its STOP / START applies to) of a reply."""
    to = reply_address(short_code)
    if not to:
        return None, None, []
    owner = rows.reply_number_owner(conn, to)
    recent = [
        (row["id"], row["account_id"])
        for row in rows.recent_messages_to(conn, phone, since)
        if answered_at(row["sender"], row["text"]) == to
        and (owner is None or row["account_id"] == owner)
    ]
    if owner is not None:
        return owner, recent[0][0] if recent else None, [owner]
    concerned = list(dict.fromkeys(account for _message_id, account in recent))  # newest first
    return (concerned[0], recent[0][0], concerned) if recent else (None, None, [])


def store_reply(
    conn: Connection, source: str, short_code: str, text: str, now: datetime, window: timedelta
) -> int:
    """Store a whole reply: route it, apply its keyword, queue its webhook; return its row id.

    Routing (docs/operations.md, "Reply routing"): a reply written to an account's own reply
    number is that account's; on a shared number it goes to the account that most recently sent
    to that person a message answered there (`answered_at`) within `window`, and a STOP / START
    applies to every account that did; a reply matching no message of the window has no account
    (the operator's unassigned replies).
    """
    phone = _phone_digits(source)
    account_id, message_id, concerned = _route_reply(conn, phone, short_code, now - window)
    info = rows.message_info(conn, message_id) if message_id is not None else None
    keyword = keyword_of(text)
    public_id = str(uuid.uuid4())
    reply_id = rows.insert_reply(
        conn,
        {
            "public_id": public_id,
            "account_id": account_id,
            "message_id": message_id,
            "campaign_id": info.campaign_db_id if info else None,
            "phone": phone,
            "short_code": short_code,
            "text": text,
            "keyword": keyword,
            "received_at": now,
        },
    )
    if account_id is None:
        return reply_id
    for account in concerned:
        if keyword == "stop":
            rows.blacklist_add(conn, account, phone, "stop", now)
        elif keyword == "start":
            rows.blacklist_remove(conn, account, phone, ["stop"])
    reply_url, timezone = rows.account_reply_settings(conn, account_id)
    if reply_url:
        params = reply_params(
            sms_id=info.sms_id if info else "",
            reply_id=public_id,
            received=format_local(now, timezone),
            phone=phone,
            campaign_id=info.campaign_id if info else "",
            text=text,
            cli_msg_id=info.cli_msg_id if info else None,
        )
        outbox.queue_event(conn, account_id, "reply", public_id, reply_url, params, now)
    return reply_id
