"""The submit journal: what an SMSC accepted, durable before the full submit results are.

On PostgreSQL, a batch of accepted submits is first one row here (its results as JSON), written
and committed alone, so that the window slots it held are freed after a small write rather than
after the whole of `services.delivery.apply_submit_results` (dispatch/journal.py); the full
write removes the row in its transaction. A row left behind (its process died, or the full
write failed) is applied by a sweep, and until then its messages are never claimed again nor
failed for their validity (`NOT_JOURNALED`): the SMSC has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson
from sqlalchemy.engine import Connection

from hirondelle.store.engine import Sql, moment, one_of, together

#: (message_id, connector, smsc_ids) of one accepted submit
Entry = tuple[int, str, Sequence[str]]

#: On PostgreSQL, the condition keeping out of a claim (or an expiry) the messages of journal
#: rows not applied yet: an array made once per statement (an InitPlan) from the few rows in
#: flight.
NOT_JOURNALED = (
    " AND id <> ALL(ARRAY(SELECT (r ->> 0)::int"
    " FROM submit_journal, json_array_elements(results::json) AS r))"
)


def not_journaled(conn: Connection) -> str:
    """`NOT_JOURNALED` on PostgreSQL; nothing on SQLite, which has no journal: its one writer
    would queue the journal's commit with the full writes (B3 3,500 messages/s with it against
    3,840 without, bench/README.md)."""
    return NOT_JOURNALED if conn.dialect.name == "postgresql" else ""


def append(conn: Connection, entry_id: str, entries: Sequence[Entry], now: datetime) -> None:
    """Write one journal row and commit, in one round trip on PostgreSQL."""
    sql = "INSERT INTO submit_journal (id, written_at, results) VALUES (?, ?, ?)"
    results = orjson.dumps([[m, c, list(s)] for m, c, s in entries]).decode()
    together(conn, [Sql(sql, (entry_id, moment(conn, now), results))], commit=True)


def remove_sql(conn: Connection, entry_ids: Sequence[str]) -> list[Sql]:
    """The statement removing these rows (none when there are none)."""
    if not entry_ids:
        return []
    where, params = one_of(conn, entry_ids, "text")
    return [Sql(f"DELETE FROM submit_journal WHERE id {where}", params)]


def left_behind(conn: Connection, before: datetime, limit: int) -> list[tuple[str, list[Entry]]]:
    """Up to `limit` rows written before `before`, oldest first, locked (PostgreSQL: those
    another transaction holds are skipped, it is applying or removing them)."""
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    sql = (
        "SELECT id, results FROM submit_journal WHERE written_at < ?"
        f" ORDER BY written_at LIMIT ?{lock}"
    )
    (rows,) = together(conn, [Sql(sql, (moment(conn, before), limit))])
    return [(row[0], [(m, c, tuple(s)) for m, c, s in orjson.loads(row[1])]) for row in rows]
