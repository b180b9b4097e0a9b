"""What comes back from operators, and what the dispatcher learnt: one transaction each.

- `record_submit_results`: a batch of submit outcomes (accepted with SMSC ids, rejected and
  refunded, or to retry later), with any receipt that arrived before its submit_sm_resp.
- `record_receipt`: a delivery receipt, matched by SMSC message id in its hex or decimal form;
  an unknown number (status 5) blacklists the number as `refused`.
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
    retry: dict[timedelta, list[int]] = {}
    for result in results:
        if result.outcome == "accepted":
            smsc_ids = [normalize_message_id(i) for i in result.smsc_ids]
            if rows.record_submitted(conn, result.message_id, result.connector, smsc_ids, now):
                _status_changed(conn, result.message_id, AckStatus.TRANSMITTED, now)
                for smsc_id in smsc_ids:
                    for early in rows.take_pending_receipts(
                        conn, result.connector, message_id_forms(smsc_id)
                    ):
                        apply_receipt(
                            conn, result.connector, early["smsc_id"], early["status"],
                            early["detail"], now,
                        )  # fmt: skip
        elif result.outcome == "rejected":
            refund = rows.record_rejected(conn, result.message_id, result.detail, now)
            if refund is not None:
                info = rows.message_info(conn, result.message_id)
                if refund:
                    ledger.move(conn, info.account_id, refund, "refund", info.sms_id)
                _queue_receipt_webhook(conn, info, AckStatus.REJECTED, now)
        else:
            retry.setdefault(result.retry_in, []).append(result.message_id)
    for delay, ids in retry.items():
        rows.retry_later(conn, ids, now + delay)


# -- receipts ------------------------------------------------------------------------------------


async def record_receipt(
    ctx: Context, connector: str, smsc_id: str, status: int, detail: str = ""
) -> None:
    """Store a delivery receipt (annex 6 `status`) for the part the SMSC knows as `smsc_id`."""
    if status == AckStatus.TRANSMITTED:
        return  # an intermediate notification (ENROUTE): nothing changes
    await ctx.store.write(
        lambda conn: apply_receipt(conn, connector, smsc_id, status, detail, datetime.now(UTC))
    )


def apply_receipt(
    conn: Connection, connector: str, smsc_id: str, status: int, detail: str, now: datetime
) -> None:
    part = rows.find_part(conn, connector, message_id_forms(smsc_id))
    if part is None:
        rows.add_pending_receipt(
            conn, connector, normalize_message_id(smsc_id), status, detail, now
        )
        return
    rows.set_part_status(conn, part.part_id, status)
    new_status = message_status(rows.part_statuses(conn, part.message_id))
    if new_status == part.message_status:
        return
    rows.set_message_status(conn, part.message_id, new_status, new_status != 3, now)
    _status_changed(conn, part.message_id, AckStatus(new_status), now, detail)
    if new_status == AckStatus.UNKNOWN_NUMBER:
        info = rows.message_info(conn, part.message_id)
        rows.blacklist_add(conn, info.account_id, info.phone, "refused", now)


def message_status(part_statuses: Sequence[int]) -> int:
    """One status for a message of several parts: delivered only when every part is; a failed
    part decides at once (unknown number before rejected before not delivered)."""
    for failure in (AckStatus.UNKNOWN_NUMBER, AckStatus.REJECTED, AckStatus.NOT_DELIVERED):
        if failure in part_statuses:
            return int(failure)
    if part_statuses and all(s == AckStatus.DELIVERED for s in part_statuses):
        return int(AckStatus.DELIVERED)
    return int(AckStatus.TRANSMITTED)


def _status_changed(
    conn: Connection, message_id: int, status: AckStatus, now: datetime, detail: str = ""
) -> None:
    if status != AckStatus.TRANSMITTED:
        rows.add_event(conn, message_id, int(status), detail or ACK_STATUS_TEXTS[status], now)
    _queue_receipt_webhook(conn, rows.message_info(conn, message_id), status, now)


def _queue_receipt_webhook(
    conn: Connection, info: rows.MessageInfo, status: AckStatus, now: datetime
) -> None:
    if not info.receipt_url:
        return
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
    outbox.queue_event(conn, info.account_id, "receipt", info.sms_id, info.receipt_url, params, now)


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
