"""Queries of receipt matching: the latest holder of an SMSC id, and the receipts that wait.

SMSCs reuse their message ids (counters that wrap, restarts), so `message_parts` may hold an id
more than once per connector: the part inserted last holds it. A receipt that matches no part it
may change waits in `pending_receipts` until a submit brings its id, a sweep matches another form
of it, or the retention drops it. Every query here reads through an index and, for the sweep,
at most `limit` rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from hirondelle.store.engine import Sql, chunks, driver_sql, marks, one_of, together
from hirondelle.store.schema import as_utc


@dataclass(frozen=True, slots=True)
class PartMatch:
    part_id: int
    message_id: int
    parts: int
    message_status: int
    smsc_id: str
    part_status: int
    created_at: datetime
    #: when the message's account has a receipt URL, what its webhook needs: the columns of
    #: `delivery.MessageInfo`, read here so that no other round trip looks them up
    webhook: tuple[Any, ...] | None = None


#: What a receipt webhook needs of a message `m` (the fields of `delivery.MessageInfo`, in
#: order), with the joins that bring its campaign `c` and account `a`.
MESSAGE_INFO = (
    "m.id, m.sms_id, m.account_id, m.phone, m.cli_msg_id, c.id, c.public_id, a.receipt_url,"
    " a.timezone"
)
MESSAGE_INFO_JOINS = (
    " JOIN campaigns c ON c.id = m.campaign_id JOIN accounts a ON a.id = m.account_id"
)
#: The columns of a holder: its part, then its message's `MESSAGE_INFO`.
_HOLDER = f"p.id, m.parts, m.status, p.smsc_id, p.status, p.created_at, {MESSAGE_INFO}"
_OF_MESSAGE = f" JOIN messages m ON m.id = p.message_id{MESSAGE_INFO_JOINS}"


def _holder(row: Sequence[Any]) -> PartMatch:
    info = tuple(row[6:])
    webhook = info if info[7] else None  # a receipt URL
    return PartMatch(row[0], info[0], row[1], row[2], row[3], row[4], as_utc(row[5]), webhook)


def latest_holders(conn: Connection, connector: str, smsc_ids: Iterable[str]) -> list[PartMatch]:
    """For each of these SMSC ids on this connector, the part that holds it last."""
    sql = (
        f"SELECT {_HOLDER} FROM message_parts p{_OF_MESSAGE}"
        " WHERE p.id IN (SELECT max(id) FROM message_parts"
        " WHERE connector = ? AND smsc_id IN ({}) GROUP BY smsc_id)"
    )
    statements = [Sql(sql.format(marks(len(c))), (connector, *c)) for c in chunks(list(smsc_ids))]
    if conn.dialect.name == "postgresql" and statements:
        # One index lookup per id. Given the list, PostgreSQL's planner, whose statistics lag
        # a table growing by thousands of parts a second, scanned every part of the connector
        # and filtered the ids (6 ms for 100 receipts at 20,000 parts, growing with the table).
        sql = (
            f"SELECT {_HOLDER} FROM unnest(?::text[]) AS wanted(smsc_id) JOIN LATERAL"
            " (SELECT max(id) AS id FROM message_parts"
            " WHERE connector = ? AND smsc_id = wanted.smsc_id) AS last ON true"
            f" JOIN message_parts p ON p.id = last.id{_OF_MESSAGE}"
        )
        statements = [Sql(sql, (list(smsc_ids), connector))]
    # In a pipeline: on PostgreSQL the transaction's BEGIN goes with it, not a round trip before.
    return [_holder(row) for result in together(conn, statements) for row in result]


@dataclass(frozen=True, slots=True)
class Pending:
    """A receipt waiting in pending_receipts."""

    id: int
    connector: str
    smsc_id: str
    status: int
    detail: str
    received_at: datetime


_COLUMNS = "id, connector, smsc_id, status, detail, received_at"


def _pending(rows: Iterable[Sequence[Any]]) -> list[Pending]:
    return [Pending(row[0], row[1], row[2], row[3], row[4], as_utc(row[5])) for row in rows]


def add_pending(
    conn: Connection,
    connector: str,
    receipts: Sequence[tuple[str, int, str]],
    received_at: datetime,
    retry_at: datetime,
) -> None:
    """Keep (smsc_id, status, detail) receipts that matched no part they may change."""
    if receipts:
        sql = (
            "INSERT INTO pending_receipts (connector, smsc_id, status, detail, received_at,"
            " retry_at) VALUES (?, ?, ?, ?, ?, ?)"
        )
        rows = [(connector, i, status, d, received_at, retry_at) for i, status, d in receipts]
        together(conn, [Sql(sql, rows, many=True)])


def pending_for_sql(conn: Connection, connector: str, smsc_ids: Sequence[str]) -> list[Sql]:
    """The statements of `pending_for` (rows for `pending_of`)."""
    lock = " ORDER BY id FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    statements = []
    for chunk in chunks(smsc_ids):
        where, params = one_of(conn, chunk, "text")
        sql = f"SELECT {_COLUMNS} FROM pending_receipts WHERE connector = ? AND smsc_id {where}"
        statements.append(Sql(sql + lock, (connector, *params)))
    return statements


def pending_of(rows: Iterable[Sequence[Any]]) -> list[Pending]:
    """Waiting receipts from rows of `pending_for_sql`, oldest first."""
    return sorted(_pending(rows), key=lambda pending: pending.id)


def pending_for(conn: Connection, connector: str, smsc_ids: Iterable[str]) -> list[Pending]:
    """The receipts waiting for one of these exact SMSC ids on this connector, oldest first.

    On PostgreSQL they are locked until the transaction ends, and one that another transaction
    (the sweep) applied and deleted meanwhile is not returned: a receipt is applied once.
    """
    results = together(conn, pending_for_sql(conn, connector, list(smsc_ids)))
    return pending_of(row for result in results for row in result)


#: The sweep's slice: receipts due for another look, by the index on retry_at.
DUE_PENDING_SQL = (
    f"SELECT {_COLUMNS} FROM pending_receipts WHERE retry_at <= ? ORDER BY retry_at, id LIMIT ?"
)
#: Receipts kept longer than the retention, by the index on received_at.
EXPIRED_PENDING_SQL = (
    "SELECT id FROM pending_receipts WHERE received_at < ? ORDER BY received_at LIMIT ?"
)


def due_pending(conn: Connection, now: datetime, limit: int) -> list[Pending]:
    """At most `limit` waiting receipts due for another look, the longest due first.

    On PostgreSQL, locked until the transaction ends; those a submit result is applying now
    are skipped (the sweep never waits, so it never deadlocks with one).
    """
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    sql = driver_sql(conn, DUE_PENDING_SQL + lock)
    return _pending(conn.exec_driver_sql(sql, (now, limit)))


def delete_pending(conn: Connection, ids: Sequence[int]) -> None:
    statements = []
    for chunk in chunks(ids):
        where, params = one_of(conn, chunk, "int")
        statements.append(Sql(f"DELETE FROM pending_receipts WHERE id {where}", params))
    together(conn, statements)


def put_off(conn: Connection, retry_at: Sequence[tuple[int, datetime]]) -> None:
    """Set (id, retry_at) pairs: when the sweep looks at those receipts again."""
    if retry_at:
        sql = "UPDATE pending_receipts SET retry_at = ? WHERE id = ?"
        conn.exec_driver_sql(driver_sql(conn, sql), [(at, i) for i, at in retry_at])


def drop_expired(conn: Connection, before: datetime, limit: int) -> int:
    """Delete at most `limit` waiting receipts received before `before`; return how many."""
    found = conn.exec_driver_sql(driver_sql(conn, EXPIRED_PENDING_SQL), (before, limit))
    ids = [row[0] for row in found]
    delete_pending(conn, ids)
    return len(ids)
