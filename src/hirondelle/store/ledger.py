"""Credit movements. The balance on `accounts` changes only here, always with a ledger row.

A debit is one conditional UPDATE (`balance >= n` unless postpaid): atomic on both engines, so
concurrent debits can never take a prepaid balance below zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.store.engine import Sql, driver_sql
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


_INSERT = (
    "INSERT INTO ledger (account_id, delta, balance_after, kind, reference, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def _change(conn: Connection, account_id: int, delta: int) -> int | None:
    """Add `delta` to a balance; None (nothing changed) when a debit would take a prepaid
    balance below zero."""
    # Driver-level SQL: this runs in every send, and SQLAlchemy's statement handling cost more
    # than the statements themselves.
    if delta < 0:
        update = (
            "UPDATE accounts SET balance = balance + ? WHERE id = ? AND (postpaid OR balance >= ?)"
            " RETURNING balance"
        )
        params: tuple[int, ...] = (delta, account_id, -delta)
    else:
        update = "UPDATE accounts SET balance = balance + ? WHERE id = ? RETURNING balance"
        params = (delta, account_id)
    new_balance = conn.exec_driver_sql(driver_sql(conn, update), params).scalar()
    return None if new_balance is None else int(new_balance)


def move(conn: Connection, account_id: int, delta: int, kind: str, reference: str = "") -> int:
    """Change a balance by `delta` and record it; return the new balance.

    A negative delta on a prepaid account that would go below zero raises InsufficientCredits
    and changes nothing.
    """
    new_balance = _change(conn, account_id, delta)
    if new_balance is None:
        raise InsufficientCredits(-delta, balance_of(conn, account_id))
    conn.exec_driver_sql(
        driver_sql(conn, _INSERT),
        (account_id, delta, new_balance, kind, reference, datetime.now(UTC)),
    )
    return new_balance


def debit_each(
    conn: Connection, account_id: int, debits: Sequence[tuple[int, str]]
) -> list[int | InsufficientCredits]:
    """Debit (credits, reference) pairs from one account, in order, each exactly as `move`
    would one after the other: the new balance after each, or InsufficientCredits for a debit
    that did not fit (it alone changes nothing; later, smaller ones may still fit).

    Set-wise when the balance covers them all (the usual case): one conditional UPDATE for
    the total and one INSERT for every ledger row. Otherwise one conditional UPDATE each.
    """
    total = sum(credits for credits, _ in debits)
    after = _change(conn, account_id, -total) if total > 0 else None
    results: list[int | InsufficientCredits] = []
    if after is not None:
        balance = after + total
        for credits, _ in debits:
            balance -= credits
            results.append(balance)
    else:
        for credits, _ in debits:
            new_balance = _change(conn, account_id, -credits)
            results.append(
                InsufficientCredits(credits, balance_of(conn, account_id))
                if new_balance is None
                else new_balance
            )
    now = datetime.now(UTC)
    rows = [
        (account_id, -credits, balance, "debit", reference, now)
        for (credits, reference), balance in zip(debits, results, strict=True)
        if isinstance(balance, int)
    ]
    if rows:
        conn.exec_driver_sql(driver_sql(conn, _INSERT), rows)
    return results


class NotCovered(Exception):
    """A `debit_sql` statement found the balance short: its transaction is aborted, and the
    caller starts again with `debit_each`, which refuses the debits that do not fit one by one."""


#: The PostgreSQL statement of `debit_sql`: the conditional UPDATE and the ledger rows in one
#: statement. The new balance of a debit that did not fit is NULL: the NOT NULL constraint of
#: `balance_after` aborts the transaction, COMMIT included when it is in the same pipeline.
_DEBIT_ALL = (
    "WITH debit AS (UPDATE accounts SET balance = balance - ?"
    " WHERE id = ? AND (postpaid OR balance >= ?) RETURNING balance)"
    " INSERT INTO ledger (account_id, delta, balance_after, kind, reference, created_at)"
    " SELECT ?, -d.credits, (SELECT balance FROM debit) + d.later, 'debit', d.reference, ?"
    " FROM unnest(?::bigint[], ?::bigint[], ?::text[]) AS d(credits, later, reference)"
    " RETURNING reference, balance_after"
)


def debit_sql(account_id: int, debits: Sequence[tuple[int, str]], at: datetime) -> Sql:
    """PostgreSQL only: `debit_each` when the balance covers all the (credits, reference)
    debits, as one statement for a pipeline (`together`); its rows are (reference, balance
    after that debit). When the balance does not cover them all, the statement fails and
    `is_not_covered` recognises the error."""
    total = sum(credits for credits, _ in debits)
    later: list[int] = []  # what the debits after each take: its balance is the final + that
    remaining = total
    for credits, _ in debits:
        remaining -= credits
        later.append(remaining)
    amounts = [credits for credits, _ in debits]
    references = [reference for _, reference in debits]
    params = (total, account_id, total, account_id, at, amounts, later, references)
    return Sql(_DEBIT_ALL, params)


def is_not_covered(exc: BaseException) -> bool:
    """Whether `exc` is the failure of a `debit_sql` statement whose balance fell short."""
    error = getattr(exc, "orig", None) or exc
    diag = getattr(error, "diag", None)
    return (
        getattr(error, "sqlstate", None) == "23502"  # not_null_violation
        and getattr(diag, "table_name", None) == "ledger"
        and getattr(diag, "column_name", None) == "balance_after"
    )


def credit_each(conn: Connection, kind: str, credits: Sequence[tuple[int, int, str]]) -> None:
    """Add (account_id, credits, reference) back, one ledger row each, set-wise: one UPDATE per
    account and one INSERT for all (a batch of expired messages is refunded at once)."""
    by_account: dict[int, list[tuple[int, str]]] = {}
    for account_id, delta, reference in credits:
        by_account.setdefault(account_id, []).append((delta, reference))
    rows: list[tuple[object, ...]] = []
    now = datetime.now(UTC)
    for account_id in sorted(by_account):  # one order for every writer: no deadlock
        items = by_account[account_id]
        total = sum(delta for delta, _ in items)
        update = "UPDATE accounts SET balance = balance + ? WHERE id = ? RETURNING balance"
        balance = conn.exec_driver_sql(driver_sql(conn, update), (total, account_id)).scalar_one()
        balance -= total
        for delta, reference in items:
            balance += delta
            rows.append((account_id, delta, balance, kind, reference, now))
    if rows:
        conn.exec_driver_sql(driver_sql(conn, _INSERT), rows)


def entries(conn: Connection, account_id: int, limit: int = 100) -> list[sa.RowMapping]:
    query = (
        sa.select(ledger)
        .where(ledger.c.account_id == account_id)
        .order_by(ledger.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())
