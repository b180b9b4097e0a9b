"""Credit movements. The balance on `accounts` changes only here, always with a ledger row.

A debit is one conditional UPDATE (`balance >= n` unless postpaid): atomic on both engines, so
concurrent debits can never take a prepaid balance below zero.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.store.schema import accounts, ledger


class InsufficientCredits(Exception):
    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"needs {needed} credits, {available} available")
        self.needed = needed
        self.available = available


def balance_of(conn: Connection, account_id: int) -> int:
    return int(
        conn.execute(sa.select(accounts.c.balance).where(accounts.c.id == account_id)).scalar_one()
    )


def move(conn: Connection, account_id: int, delta: int, kind: str, reference: str = "") -> int:
    """Change a balance by `delta` and record it; return the new balance.

    A negative delta on a prepaid account that would go below zero raises InsufficientCredits
    and changes nothing.
    """
    query = (
        sa.update(accounts)
        .where(accounts.c.id == account_id)
        .values(balance=accounts.c.balance + delta)
        .returning(accounts.c.balance)
    )
    if delta < 0:
        query = query.where(sa.or_(accounts.c.postpaid, accounts.c.balance >= -delta))
    new_balance = conn.execute(query).scalar()
    if new_balance is None:
        raise InsufficientCredits(-delta, balance_of(conn, account_id))
    conn.execute(
        sa.insert(ledger).values(
            account_id=account_id,
            delta=delta,
            balance_after=new_balance,
            kind=kind,
            reference=reference,
            created_at=datetime.now(UTC),
        )
    )
    return int(new_balance)


def entries(conn: Connection, account_id: int, limit: int = 100) -> list[sa.RowMapping]:
    query = (
        sa.select(ledger)
        .where(ledger.c.account_id == account_id)
        .order_by(ledger.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())
