"""Replies from handsets (MO): routed to an account by the number they were written to, with
STOP / START applied and a webhook event queued, in the transaction that stores them. The
connector hands each short message over as an `InboundPart`; concatenated replies wait in
inbound_parts until whole.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain.dates import format_local
from hirondelle.domain.keywords import keyword_of
from hirondelle.domain.numbers import InvalidNumber, parse_mobile
from hirondelle.domain.sender import answered_at, reply_address
from hirondelle.domain.text import decode_text
from hirondelle.notify.payloads import reply_params
from hirondelle.store import delivery as rows
from hirondelle.store import smpp_deliveries, traffic
from hirondelle.store import webhooks as outbox


@dataclass(frozen=True, slots=True)
class InboundPart:
    """A short message from a handset as the connector read it: a whole reply, or one part of
    a concatenated one (`total` > 1; `reference` and `seqnum` place it)."""

    source: str
    destination: str
    data_coding: int
    data: bytes  # the user data, without its header
    reference: int = 0
    total: int = 1
    seqnum: int = 1


async def record_inbound(ctx: Context, connector: str, part: InboundPart) -> None:
    """Store a reply from a handset, or one part of a concatenated reply."""
    window = timedelta(hours=ctx.settings.reply_window_hours)
    await ctx.store.write(
        lambda conn: apply_inbound(conn, connector, part, datetime.now(UTC), window)
    )


def apply_inbound(
    conn: Connection, connector: str, part: InboundPart, now: datetime, window: timedelta
) -> None:
    """Store one part; once a reply is whole, decode its text and apply it (`apply_reply`)."""
    data = part.data
    if part.total > 1:
        parts = rows.add_inbound_part(
            conn,
            connector=connector,
            source=part.source,
            destination=part.destination,
            reference=part.reference,
            total=part.total,
            seqnum=part.seqnum,
            data_coding=part.data_coding,
            data=data,
            now=now,
        )
        if parts is None:
            return
        # Join the octets before decoding: a surrogate or escape pair may straddle two parts.
        data = b"".join(row["data"] for row in parts)
    text = decode_text(data, part.data_coding)
    apply_reply(conn, part.source, part.destination, text, now, window)


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


def apply_reply(
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
    traffic.add(conn, account_id, info.campaign_db_id if info else 0, now, replies=1)
    for account in concerned:
        if keyword == "stop":
            rows.blacklist_add(conn, account, phone, "stop", now)
        elif keyword == "start":
            rows.blacklist_remove(conn, account, phone, ["stop"])
    smpp_deliveries.queue_reply(conn, account_id, phone, short_code, text, now)
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
