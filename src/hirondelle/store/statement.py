"""An account's credit statement: its ledger rows, newest first, a page at a time by keyset
(`id < before`) on the index (account_id, id)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.schema import ledger


def ledger_page(
    conn: Connection, account_id: int, *, before: int | None, limit: int
) -> list[RowMapping]:
    """Up to `limit` ledger rows of the account older than the row `before`, newest first."""
    query = (
        sa.select(
            ledger.c.id,
            ledger.c.delta,
            ledger.c.balance_after,
            ledger.c.kind,
            ledger.c.reference,
            ledger.c.created_at,
        )
        .where(
            ledger.c.account_id == account_id,
            ledger.c.id < before if before is not None else sa.true(),
        )
        .order_by(ledger.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())
