"""What comes back from operators, and what the dispatcher learnt: one transaction each.

- `record_submit_results`: a batch of submit outcomes (accepted with SMSC ids, rejected and
  refunded, or to retry later), with any receipt that arrived before its submit_sm_resp.
- `record_receipts`: delivery receipts, matched by SMSC message id (see `apply_receipts` for
  hex and decimal forms); an unknown number (status 5) blacklists the number as `refused`.
- `record_inbound`: a reply from a handset (or one part of it), linked to the last message sent
  to that number, with STOP / START handled.

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

from hirondelle.domain.dates import format_local
from hirondelle.domain.keywords import keyword_of
from hirondelle.domain.numbers import InvalidNumber, parse_mobile
from hirondelle.domain.statuses import ACK_STATUS_TEXTS, AckStatus
from hirondelle.services.context import Context
from hirondelle.smpp.messages import decode_text, segment_of
from hirondelle.smpp.pdu import DataSm, DeliverSm
from hirondelle.smpp.receipts import message_id_forms, normalize_message_id
from hirondelle.store import delivery as rows
from hirondelle.store import ledger
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
    early = rows.take_pending_receipts(conn, connector, [str(p["smsc_id"]) for p in parts])
    if early:
        store_receipts(
            conn, connector, [(r["smsc_id"], r["status"], r["detail"]) for r in early], now
        )


def _reject(conn: Connection, result: SubmitResult, now: datetime) -> None:
    refund = rows.record_rejected(conn, result.message_id, result.detail, now)
    if refund is None:
        return
    info = rows.message_info(conn, result.message_id)
    if refund:
        ledger.move(conn, info.account_id, refund, "refund", info.sms_id)
    _queue_receipt_webhooks(conn, {info.id: AckStatus.REJECTED}, now)


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
    other_forms: bool = False,
) -> list[ReceiptIn]:
    """Match receipts to message parts and apply them; return those that matched no part.

    Some SMSCs report in decimal the id they gave in hex (or the reverse). A receipt matches its
    exact id; with `other_forms` (only for receipts that waited long enough for their message's
    id to be stored, see `resolve_stale_receipts`), another form of it matches when exactly one
    part has it — before that, another message's id could be taken for it.
    """
    if other_forms:
        wanted = {form for receipt in receipts for form in message_id_forms(receipt[0])}
    else:
        wanted = {normalize_message_id(receipt[0]) for receipt in receipts}
    parts_by_id = {part.smsc_id: part for part in rows.find_parts(conn, connector, wanted)}
    matches: list[rows.PartMatch] = []
    receipt_of: dict[int, ReceiptIn] = {}  # part id -> its receipt
    unmatched: list[ReceiptIn] = []
    for receipt in receipts:
        exact = normalize_message_id(receipt[0])
        part = parts_by_id.get(exact)
        if part is None and other_forms:
            others = [parts_by_id[f] for f in message_id_forms(receipt[0]) if f in parts_by_id]
            part = others[0] if len(others) == 1 else None
        if part is None:
            unmatched.append((exact, receipt[1], receipt[2]))
        else:
            matches.append(part)
            receipt_of[part.part_id] = receipt
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
    return unmatched


def store_receipts(
    conn: Connection, connector: str, receipts: Sequence[ReceiptIn], now: datetime
) -> None:
    """Apply receipts; keep those whose message id is not known yet in pending_receipts."""
    rows.lock_connector(conn, connector)
    rows.add_pending_receipts(conn, connector, apply_receipts(conn, connector, receipts, now), now)


def apply_receipt(
    conn: Connection, connector: str, smsc_id: str, status: int, detail: str, now: datetime
) -> None:
    """One receipt (see `store_receipts`)."""
    store_receipts(conn, connector, [(smsc_id, status, detail)], now)


#: A receipt still unmatched after this long is tried against the other forms of its id.
STALE_RECEIPT = timedelta(seconds=30)


async def resolve_stale_receipts(ctx: Context) -> int:
    """Apply the receipts that waited long enough, trying the other forms of their ids."""
    now = datetime.now(UTC)

    def resolve(conn: Connection) -> int:
        resolved = 0
        for connector, waiting in rows.take_stale_pending(conn, now - STALE_RECEIPT).items():
            receipts = [(r["smsc_id"], r["status"], r["detail"]) for r in waiting]
            left = apply_receipts(conn, connector, receipts, now, other_forms=True)
            resolved += len(receipts) - len(left)
            kept = {r[0] for r in left}
            rows.restore_pending(conn, [r for r in waiting if r["smsc_id"] in kept])
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
    events: list[outbox.NewEvent] = []
    for message_id, info in rows.webhook_targets(conn, list(statuses)).items():
        status = statuses[message_id]
        params = {
            "smsId": info.sms_id,
            "status": str(int(status)),
            "statusText": ACK_STATUS_TEXTS[status],
            "receptionDate": format_local(now, info.timezone),
            "phoneNumber": info.phone,
            "campaignId": info.campaign_id,
        }
        if info.cli_msg_id:
            params["cliMsgId"] = info.cli_msg_id
        final = status != AckStatus.TRANSMITTED
        events.append(
            outbox.NewEvent(
                info.account_id, "receipt", info.sms_id, info.receipt_url, params, final
            )
        )
    outbox.queue_events(conn, events, now)


# -- replies -------------------------------------------------------------------------------------


async def record_inbound(ctx: Context, connector: str, pdu: DeliverSm | DataSm) -> None:
    """Store a reply from a handset, or one part of a concatenated reply."""
    await ctx.store.write(lambda conn: apply_inbound(conn, connector, pdu, datetime.now(UTC)))


def apply_inbound(conn: Connection, connector: str, pdu: DeliverSm | DataSm, now: datetime) -> None:
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
    store_reply(conn, pdu.source_addr, pdu.destination_addr, text, now)


def _phone_digits(address: str) -> str:
    try:
        return parse_mobile(address if address.startswith(("+", "0")) else "+" + address).digits
    except InvalidNumber:
        return "".join(ch for ch in address if ch.isdigit()) or address


def store_reply(conn: Connection, source: str, short_code: str, text: str, now: datetime) -> int:
    """Store a whole reply: link it, apply its keyword, queue its webhook; return its row id."""
    phone = _phone_digits(source)
    message_id = rows.last_message_to(conn, phone)
    info = rows.message_info(conn, message_id) if message_id is not None else None
    keyword = keyword_of(text)
    public_id = str(uuid.uuid4())
    reply_id = rows.insert_reply(
        conn,
        {
            "public_id": public_id,
            "account_id": info.account_id if info else None,
            "message_id": message_id,
            "campaign_id": info.campaign_db_id if info else None,
            "phone": phone,
            "short_code": short_code,
            "text": text,
            "keyword": keyword,
            "received_at": now,
        },
    )
    if info is None:
        return reply_id
    if keyword == "stop":
        rows.blacklist_add(conn, info.account_id, phone, "stop", now)
    elif keyword == "start":
        rows.blacklist_remove(conn, info.account_id, phone, ["stop"])
    reply_url, timezone = rows.account_reply_settings(conn, info.account_id)
    if reply_url:
        params = {
            "smsId": info.sms_id,
            "smsMoId": public_id,
            "receptionDate": format_local(now, timezone),
            "phoneNumber": phone,
            "campaignId": info.campaign_id,
            "message": text,
        }
        outbox.queue_event(conn, info.account_id, "reply", public_id, reply_url, params, now)
    return reply_id
