"""Writing accepted campaigns: their rows, their messages and their counts, for one send
(`sending.send`) or a batch of them (`sending.send_many`) alike: one INSERT per table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.services.accounts import Account
from hirondelle.services.links import shorten_message_urls
from hirondelle.services.planning import Plan, SmsOrder
from hirondelle.store import campaigns as campaign_rows
from hirondelle.store import ledger, traffic
from hirondelle.store.engine import together


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
    db_ids = campaign_rows.insert_campaigns(conn, _campaign_rows(accepted, now))
    campaign_rows.insert_messages(conn, _message_rows(conn, ctx, accepted, db_ids, now))
    return db_ids


def write_paid_together(
    conn: Connection,
    ctx: Context,
    accepted: Sequence[Accepted],
    db_ids: Sequence[int],
    now: datetime,
) -> dict[str, int]:
    """PostgreSQL: write the campaigns of `accepted` (with their ids, `db_ids`, taken
    beforehand), their messages, the debits and the counts, and COMMIT, in one pipeline: one
    round trip, the accounts' balance rows locked for no round trip to us. The balance after
    each debit, by campaign id. Raises `ledger.NotCovered` (nothing written, the transaction
    aborted) when an account's balance does not cover all of its debits."""
    campaigns = _campaign_rows(accepted, now)
    rows = [{"id": db_id, **row} for db_id, row in zip(db_ids, campaigns, strict=True)]
    debits: dict[int, list[tuple[int, str]]] = {}
    for a in accepted:
        debits.setdefault(a.account.id, []).append((a.plan.credits, a.campaign_id))
    # The balance rows in account id order, then the counts (store/traffic.py), as `send` does.
    debit_statements = [ledger.debit_sql(n, debits[n], now) for n in sorted(debits)]
    statements = [
        *debit_statements,
        *traffic.sends_sql(conn, now, _sends(accepted, db_ids)),
    ]
    writes = [
        *campaign_rows.insert_campaigns_sql(conn, rows),
        *campaign_rows.insert_messages_sql(conn, _message_rows(conn, ctx, accepted, db_ids, now)),
    ]
    try:
        results = together(conn, [*writes, *statements], commit=True)
    except Exception as exc:
        if ledger.is_not_covered(exc):
            raise ledger.NotCovered() from exc
        raise
    debited = results[len(writes) : len(writes) + len(debit_statements)]
    return {str(ref): int(balance) for rows_of in debited for ref, balance in rows_of}


def _campaign_rows(accepted: Sequence[Accepted], now: datetime) -> list[dict[str, Any]]:
    return [
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
    ]


def _message_rows(
    conn: Connection,
    ctx: Context,
    accepted: Sequence[Accepted],
    db_ids: Sequence[int],
    now: datetime,
) -> list[tuple[object, ...]]:
    base_url = ctx.settings.base_url
    validity = ctx.settings.message_validity_hours
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
    return rows


def count_sends(
    conn: Connection, accepted: Sequence[Accepted], db_ids: Sequence[int], now: datetime
) -> None:
    """The accepted campaigns in the counts (store/traffic.py), after their debits."""
    traffic.add_sends(conn, now, _sends(accepted, db_ids))


def _sends(accepted: Sequence[Accepted], db_ids: Sequence[int]) -> list[tuple[int, int, int, int]]:
    return [
        (a.account.id, db_id, len(a.plan.messages), a.plan.credits)
        for a, db_id in zip(accepted, db_ids, strict=True)
    ]
