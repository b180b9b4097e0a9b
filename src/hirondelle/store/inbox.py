"""The customer area's pages of replies and of the blacklist: one account's rows, newest first,
a page at a time by keyset (`id < before`), on the indexes (account_id, id) and
(account_id, phone, id). Every query is scoped to one account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.campaigns import blacklisted_among
from hirondelle.store.engine import chunks
from hirondelle.store.schema import blacklist, campaigns, messages, replies


def _scope(
    table: sa.Table, account_id: int, before: int | None, phone: str | None, prefix: bool
) -> list[Any]:
    """The WHERE of a page: the account's rows before the cursor, of a number if given."""
    where = [table.c.account_id == account_id]
    if before is not None:
        where.append(table.c.id < before)
    if phone:
        column = table.c.phone
        where.append(column.startswith(phone, autoescape=True) if prefix else column == phone)
    return where


def replies_page(
    conn: Connection,
    account_id: int,
    *,
    before: int | None,
    limit: int,
    phone: str | None = None,
    prefix: bool = False,
) -> list[RowMapping]:
    """Up to `limit` replies of the account older than the reply `before`, newest first, with
    the message and campaign they answer (None when they answer none); only `phone`'s when
    given (its numbers starting with `phone` when `prefix`)."""
    query = (
        sa.select(
            replies.c.id,
            replies.c.public_id,
            replies.c.phone,
            replies.c.short_code,
            replies.c.text,
            replies.c.keyword,
            replies.c.received_at,
            messages.c.sms_id,
            messages.c.text.label("message_text"),
            campaigns.c.public_id.label("campaign_id"),
            campaigns.c.name.label("campaign_name"),
        )
        .select_from(replies)
        .outerjoin(messages, messages.c.id == replies.c.message_id)
        .outerjoin(campaigns, campaigns.c.id == replies.c.campaign_id)
        .where(*_scope(replies, account_id, before, phone, prefix))
        .order_by(replies.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def blacklist_page(
    conn: Connection,
    account_id: int,
    *,
    before: int | None,
    limit: int,
    phone: str | None = None,
    prefix: bool = False,
) -> list[RowMapping]:
    """Up to `limit` blacklist entries of the account older than the entry `before`, newest
    first; only `phone` (or the numbers starting with it, `prefix`) when given."""
    query = (
        sa.select(blacklist.c.id, blacklist.c.phone, blacklist.c.comment, blacklist.c.created_at)
        .where(*_scope(blacklist, account_id, before, phone, prefix))
        .order_by(blacklist.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def blacklist_add_many(
    conn: Connection, account_id: int, phones: Sequence[str], comment: str, now: datetime
) -> int:
    """Put numbers on the account's blacklist set-wise (an import); those already there keep
    their entry, even one a concurrent STOP adds meanwhile. Returns how many were added."""
    listed = blacklisted_among(conn, account_id, phones)
    rows = [
        {"account_id": account_id, "phone": phone, "comment": comment, "created_at": now}
        for phone in dict.fromkeys(phones)
        if phone not in listed
    ]
    if not rows:
        return 0
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(blacklist)
        .on_conflict_do_nothing(index_elements=["account_id", "phone"])
        .returning(blacklist.c.id)
    )
    # RETURNING counts the rows really inserted (executemany's rowcount is not reliable).
    return sum(len(conn.execute(statement, chunk).all()) for chunk in chunks(rows))
