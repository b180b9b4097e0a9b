"""The customer area's first figures: one account's messages of a day and its latest campaigns.

The day's counts read `ix_messages_account_created` (one account, one day): bounded by what the
account sent that day. Per-day counters kept in the sending and receipt transactions (DESIGN.md
§7 "Figures fast at any size") are the next step.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.schema import campaigns, messages


def status_counts(
    conn: Connection, account_id: int, since: datetime, until: datetime
) -> dict[int, int]:
    """Messages of the account created in [since, until), counted per annex-6 status."""
    query = (
        sa.select(messages.c.status, sa.func.count())
        .where(
            messages.c.account_id == account_id,
            messages.c.created_at >= since,
            messages.c.created_at < until,
        )
        .group_by(messages.c.status)
    )
    return {int(status): int(count) for status, count in conn.execute(query)}


def recent_campaigns(conn: Connection, account_id: int, limit: int) -> list[RowMapping]:
    """The account's latest SMS campaigns, newest first (deleted ones included, marked)."""
    query = (
        sa.select(
            campaigns.c.public_id,
            campaigns.c.name,
            campaigns.c.state,
            campaigns.c.nb_contacts,
            campaigns.c.credits,
            campaigns.c.created_at,
        )
        .where(campaigns.c.account_id == account_id)
        .order_by(campaigns.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())
