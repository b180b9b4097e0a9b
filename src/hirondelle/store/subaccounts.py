"""Queries about sub-accounts: the master's locked view, soft deletion and pending emails."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.schema import accounts, messages, pending_emails


def lock_accounts(conn: Connection, *account_ids: int) -> dict[int, RowMapping]:
    """The live rows of `account_ids`, locked (PostgreSQL) in id order so that two transfers in
    opposite directions between the same accounts queue up instead of deadlocking."""
    query = (
        sa.select(accounts)
        .where(accounts.c.id.in_(sorted(set(account_ids))), accounts.c.deleted_at.is_(None))
        .order_by(accounts.c.id)
        .with_for_update()
    )
    return {row["id"]: row for row in conn.execute(query).mappings()}


def child_of(conn: Connection, master_id: int, login: str) -> RowMapping | None:
    """The live sub-account `login` of `master_id`, or None."""
    query = sa.select(accounts).where(
        accounts.c.login == login,
        accounts.c.parent_id == master_id,
        accounts.c.deleted_at.is_(None),
    )
    return conn.execute(query).mappings().first()


def has_children(conn: Connection, account_id: int) -> bool:
    query = sa.select(accounts.c.id).where(
        accounts.c.parent_id == account_id, accounts.c.deleted_at.is_(None)
    )
    return conn.execute(query.limit(1)).first() is not None


def soft_delete(conn: Connection, account_id: int) -> None:
    """Close an account for good: its rows stay for statistics, its login stays taken."""
    conn.execute(
        sa.update(accounts)
        .where(accounts.c.id == account_id)
        .values(active=False, deleted_at=datetime.now(UTC))
    )


def record_email(
    conn: Connection,
    account_id: int,
    kind: str,
    to_address: str,
    state: str = "pending",
    sent_at: datetime | None = None,
) -> None:
    """Record a summary email asked by createSubAccount (`sent`: queued for the email sender)."""
    conn.execute(
        sa.insert(pending_emails).values(
            account_id=account_id,
            kind=kind,
            to_address=to_address,
            state=state,
            created_at=datetime.now(UTC),
            sent_at=sent_at,
        )
    )


def children_page(
    conn: Connection, master_id: int, *, after: int | None, limit: int
) -> list[RowMapping]:
    """Up to `limit` live sub-accounts of `master_id` after the account `after`, oldest first,
    each with the time of its last message (`last_message_at`, None if it sent none): a
    correlated max() that the index (account_id, created_at) answers with one index probe."""
    last_message = (
        sa.select(sa.func.max(messages.c.created_at))
        .where(messages.c.account_id == accounts.c.id)
        .scalar_subquery()
        .label("last_message_at")
    )
    query = (
        sa.select(accounts, last_message)
        .where(
            accounts.c.parent_id == master_id,
            accounts.c.deleted_at.is_(None),
            accounts.c.id > after if after is not None else sa.true(),
        )
        .order_by(accounts.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())
