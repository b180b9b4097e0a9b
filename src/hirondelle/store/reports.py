"""Queries of what comes back to the customer: acks (latest status), replies and the blacklist.
Every query is scoped to one account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.engine import chunks
from hirondelle.store.schema import blacklist, campaigns, messages, replies

# -- acks ----------------------------------------------------------------------------------------

_ACK_COLUMNS = (
    messages.c.id,
    messages.c.sms_id,
    messages.c.phone,
    messages.c.status,
    messages.c.state,
    messages.c.status_at,
    messages.c.cli_msg_id,
    messages.c.created_at,
)


def campaign_db_id(conn: Connection, account_id: int, public_id: str) -> int | None:
    query = sa.select(campaigns.c.id).where(
        campaigns.c.public_id == public_id, campaigns.c.account_id == account_id
    )
    return conn.execute(query).scalar()


def acks_of_campaign(conn: Connection, campaign_id: int) -> list[RowMapping]:
    """Every message of a campaign, in the order it was accepted."""
    query = (
        sa.select(*_ACK_COLUMNS)
        .where(messages.c.campaign_id == campaign_id)
        .order_by(messages.c.id)
    )
    return list(conn.execute(query).mappings())


def acks_by_sms_ids(conn: Connection, account_id: int, sms_ids: Sequence[str]) -> list[RowMapping]:
    """The account's messages among `sms_ids` (others are left out), by smsId."""
    found: list[RowMapping] = []
    for chunk in chunks(sms_ids):
        query = sa.select(*_ACK_COLUMNS).where(
            messages.c.account_id == account_id, messages.c.sms_id.in_(chunk)
        )
        found.extend(conn.execute(query).mappings())
    return found


# -- replies -------------------------------------------------------------------------------------


def _reply_query() -> sa.Select[Any]:
    return (
        sa.select(
            replies.c.id.label("row_id"),
            replies.c.public_id,
            replies.c.phone,
            replies.c.text,
            replies.c.received_at,
            messages.c.sms_id,
            messages.c.cli_msg_id,
            campaigns.c.public_id.label("campaign_id"),
        )
        .select_from(replies)
        .outerjoin(messages, messages.c.id == replies.c.message_id)
        .outerjoin(campaigns, campaigns.c.id == replies.c.campaign_id)
        .order_by(replies.c.id.desc())
    )


def claim_replies(conn: Connection, account_id: int, limit: int, now: datetime) -> list[RowMapping]:
    """Hand out up to `limit` replies never pulled before (newest first), marking them pulled.

    Two callers never get the same reply: the UPDATE only takes rows still unpulled, and on
    PostgreSQL the candidates are locked (rows another caller holds are skipped).
    """
    candidates = (
        sa.select(replies.c.id)
        .where(replies.c.account_id == account_id, replies.c.pulled_at.is_(None))
        .order_by(replies.c.id.desc())
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(conn.execute(candidates).scalars())
    if not ids:
        return []
    claimed = list(
        conn.execute(
            sa.update(replies)
            .where(replies.c.id.in_(ids), replies.c.pulled_at.is_(None))
            .values(pulled_at=now)
            .returning(replies.c.id)
        ).scalars()
    )
    if not claimed:
        return []
    return list(conn.execute(_reply_query().where(replies.c.id.in_(claimed))).mappings())


def replies_of_campaign(conn: Connection, account_id: int, campaign_id: int) -> list[RowMapping]:
    query = _reply_query().where(
        replies.c.account_id == account_id, replies.c.campaign_id == campaign_id
    )
    return list(conn.execute(query).mappings())


def replies_to_sms_ids(
    conn: Connection, account_id: int, sms_ids: Sequence[str]
) -> list[RowMapping]:
    found: list[RowMapping] = []
    for chunk in chunks(sms_ids):
        query = _reply_query().where(
            replies.c.account_id == account_id, messages.c.sms_id.in_(chunk)
        )
        found.extend(conn.execute(query).mappings())
    found.sort(key=lambda row: row["row_id"], reverse=True)
    return found


# -- blacklist -----------------------------------------------------------------------------------


def unassigned_replies(conn: Connection, limit: int) -> list[RowMapping]:
    """Replies that reached no account (the operator's to look at), newest first."""
    query = (
        sa.select(replies.c.phone, replies.c.short_code, replies.c.text, replies.c.received_at)
        .where(replies.c.account_id.is_(None))
        .order_by(replies.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def blacklist_of(conn: Connection, account_id: int) -> list[RowMapping]:
    """The account's blacklist, most recent first."""
    query = (
        sa.select(blacklist.c.phone, blacklist.c.comment, blacklist.c.created_at)
        .where(blacklist.c.account_id == account_id)
        .order_by(blacklist.c.created_at.desc(), blacklist.c.id.desc())
    )
    return list(conn.execute(query).mappings())
