"""The customer area's reads of campaigns and their messages, every one paged by keyset on an
index: campaigns newest first by `ix_campaigns_account` (account_id, id), a campaign's messages
by `ix_messages_campaign` (campaign_id, id), their replies by `ix_replies_message`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.schema import accounts, campaigns, messages, replies

_LIST_COLUMNS = (
    campaigns.c.id,
    campaigns.c.public_id,
    campaigns.c.account_id,
    campaigns.c.name,
    campaigns.c.state,
    campaigns.c.nb_contacts,
    campaigns.c.nb_sms,
    campaigns.c.credits,
    campaigns.c.due_at,
    campaigns.c.created_at,
)


def page(
    conn: Connection,
    account_ids: Sequence[int],
    *,
    limit: int,
    before: int | None = None,
    name: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    state: str = "",
) -> list[RowMapping]:
    """Up to `limit` SMS campaigns of these accounts, newest first, older than campaign row id
    `before`; `name` is a case-insensitive substring."""
    query = sa.select(*_LIST_COLUMNS).where(campaigns.c.account_id.in_(list(account_ids)))
    if before is not None:
        query = query.where(campaigns.c.id < before)
    if name:
        escaped = name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(sa.func.lower(campaigns.c.name).like(f"%{escaped}%", escape="\\"))
    if since is not None:
        query = query.where(campaigns.c.created_at >= since)
    if until is not None:
        query = query.where(campaigns.c.created_at < until)
    if state:
        query = query.where(campaigns.c.state == state)
    query = query.order_by(campaigns.c.id.desc()).limit(limit)
    return list(conn.execute(query).mappings())


def visible_campaign(conn: Connection, viewer_id: int, public_id: str) -> RowMapping | None:
    """The campaign if it is the viewer's or one of its sub-accounts', else None."""
    query = (
        sa.select(campaigns, accounts.c.login)
        .join(accounts, accounts.c.id == campaigns.c.account_id)
        .where(
            campaigns.c.public_id == public_id,
            sa.or_(campaigns.c.account_id == viewer_id, accounts.c.parent_id == viewer_id),
        )
    )
    return conn.execute(query).mappings().first()


def _latest_reply() -> sa.ScalarSelect[str]:
    return (
        sa.select(replies.c.text)
        .where(replies.c.message_id == messages.c.id)
        .order_by(replies.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def messages_page(
    conn: Connection, campaign_id: int, *, after: int = 0, limit: int
) -> list[RowMapping]:
    """Up to `limit` messages of a campaign after message row id `after`, with the text of the
    latest reply to each."""
    query = (
        sa.select(
            messages.c.id,
            messages.c.sms_id,
            messages.c.phone,
            messages.c.text,
            messages.c.parts,
            messages.c.credits,
            messages.c.cli_msg_id,
            messages.c.status,
            messages.c.state,
            messages.c.status_at,
            _latest_reply().label("reply"),
        )
        .where(messages.c.campaign_id == campaign_id, messages.c.id > after)
        .order_by(messages.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())
