"""Writing accepted campaigns: their rows, their messages and their counts, for one send
(`sending.send`) or a batch of them (`sending.send_many`) alike: one INSERT per table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.services.accounts import Account
from hirondelle.services.links import shorten_message_urls
from hirondelle.services.planning import Plan, SmsOrder
from hirondelle.store import campaigns as campaign_rows
from hirondelle.store import traffic


def expiry(due_at: datetime, validity_hours: float) -> datetime:
    """When a message due at `due_at` stops being valid (a date the calendar can hold: the manual
    lets DATE go up to 9999-12-31)."""
    try:
        return due_at + timedelta(hours=validity_hours)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


@dataclass
class Accepted:
    """An order planned and paid for, to be written with its campaign id."""

    account: Account
    order: SmsOrder
    plan: Plan
    campaign_id: str


def write_campaigns(
    conn: Connection, ctx: Context, accepted: Sequence[Accepted], now: datetime
) -> list[int]:
    """Write the campaigns and messages of paid orders: one INSERT for the campaigns and one for
    all their messages, whether one send (`send`) or a batch of them (`send_many`)."""
    base_url = ctx.settings.base_url
    validity = ctx.settings.message_validity_hours
    db_ids = campaign_rows.insert_campaigns(
        conn,
        [
            {
                "public_id": a.campaign_id,
                "account_id": a.account.id,
                "name": a.order.campaign_name[:255],
                "message": a.order.message,
                "sender": a.plan.messages[0].sender,
                "state": "scheduled" if a.plan.scheduled else "queued",
                "due_at": a.plan.due_at,
                "nb_contacts": len(a.plan.messages),
                "nb_sms": a.plan.nb_sms,
                "credits": a.plan.credits,
                "mail_notif": a.order.mail_notif,
                "smpp_receipts": a.order.smpp_receipts,
                "created_at": now,
            }
            for a in accepted
        ],
    )
    rows: list[tuple[object, ...]] = []
    for a, db_id in zip(accepted, db_ids, strict=True):
        texts = [m.text for m in a.plan.messages]
        if a.order.shorten:  # one short link per URL and recipient, counted as planned
            texts = [
                shorten_message_urls(conn, a.account.id, a.campaign_id, m.text, m.phone, base_url)
                for m in a.plan.messages
            ]
        rows.extend(
            (  # in campaign_rows.MESSAGE_COLUMNS order
                m.sms_id,
                db_id,
                a.account.id,
                m.phone,
                m.country,
                text,
                m.sender,
                m.parts,
                m.credits,
                m.cli_msg_id,
                0,
                "queued",
                m.due_at,
                expiry(m.due_at, validity),
                now,
            )
            for m, text in zip(a.plan.messages, texts, strict=True)
        )
    campaign_rows.insert_messages(conn, rows)
    return db_ids


def count_sends(
    conn: Connection, accepted: Sequence[Accepted], db_ids: Sequence[int], now: datetime
) -> None:
    """The accepted campaigns in the counts (store/traffic.py), after their debits."""
    traffic.add_sends(
        conn,
        now,
        [
            (a.account.id, db_id, len(a.plan.messages), a.plan.credits)
            for a, db_id in zip(accepted, db_ids, strict=True)
        ],
    )
