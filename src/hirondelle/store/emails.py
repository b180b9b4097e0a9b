"""Queries on email campaigns and their per-recipient emails."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.schema import email_campaigns, emails


def insert_campaign(
    conn: Connection,
    values: Mapping[str, Any],
    recipients: Sequence[str],
    credits_each: int,
    now: datetime,
) -> int:
    """Insert a campaign and one queued email per recipient; return the campaign's id."""
    campaign_id = int(
        conn.execute(
            sa.insert(email_campaigns)
            .values(**values, created_at=now)
            .returning(email_campaigns.c.id)
        ).scalar_one()
    )
    conn.execute(
        sa.insert(emails),
        [
            {
                "campaign_id": campaign_id,
                "recipient": recipient,
                "credits": credits_each,
                "state": "queued",
                "due_at": values["due_at"],
                "created_at": now,
            }
            for recipient in recipients
        ],
    )
    return campaign_id


_DELIVERY_COLUMNS = (
    emails.c.id,
    emails.c.recipient,
    emails.c.credits,
    emails.c.attempts,
    email_campaigns.c.public_id.label("campaign"),
    email_campaigns.c.account_id,
    email_campaigns.c.sender,
    email_campaigns.c.alias,
    email_campaigns.c.reply_to,
    email_campaigns.c.subject,
    email_campaigns.c.html,
    email_campaigns.c.text,
)


def claim_due(
    conn: Connection, now: datetime, limit: int, lease_until: datetime
) -> list[RowMapping]:
    """Claim up to `limit` due emails (and those whose lease expired) until `lease_until`.

    PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent senders never claim the same email.
    SQLite: the single writer serializes claims.
    """
    due = sa.or_(
        sa.and_(emails.c.state == "queued", emails.c.due_at <= now),
        sa.and_(emails.c.state == "claimed", emails.c.lease_until < now),
    )
    query = (
        sa.select(emails.c.id)
        .where(due)
        .order_by(emails.c.due_at, emails.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(conn.execute(query).scalars())
    if not ids:
        return []
    conn.execute(
        sa.update(emails)
        .where(emails.c.id.in_(ids))
        .values(state="claimed", lease_until=lease_until, attempts=emails.c.attempts + 1)
    )
    rows = conn.execute(
        sa.select(*_DELIVERY_COLUMNS)
        .join(email_campaigns, email_campaigns.c.id == emails.c.campaign_id)
        .where(emails.c.id.in_(ids))
        .order_by(emails.c.id)
    )
    return list(rows.mappings())


def finish(
    conn: Connection,
    email_id: int,
    state: str,
    detail: str,
    now: datetime,
    due_at: datetime | None = None,
) -> bool:
    """Record the outcome of a claimed email; False if it was no longer claimed (lease lost)."""
    values: dict[str, Any] = {"state": state, "detail": detail[:512], "lease_until": None}
    if state == "sent":
        values["sent_at"] = now
    if due_at is not None:
        values["due_at"] = due_at
    result = conn.execute(
        sa.update(emails)
        .where(emails.c.id == email_id, emails.c.state == "claimed")
        .values(**values)
    )
    return result.rowcount == 1


def find_campaign(conn: Connection, public_id: str) -> RowMapping | None:
    query = sa.select(email_campaigns).where(email_campaigns.c.public_id == public_id)
    return conn.execute(query).mappings().first()


def emails_of_campaign(conn: Connection, public_id: str) -> list[RowMapping]:
    query = (
        sa.select(emails)
        .join(email_campaigns, email_campaigns.c.id == emails.c.campaign_id)
        .where(email_campaigns.c.public_id == public_id)
        .order_by(emails.c.id)
    )
    return list(conn.execute(query).mappings())
