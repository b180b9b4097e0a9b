"""Queries of the retention purge: old messages, their parts, events and replies, in batches.

Messages are walked by id (keyset), never by a scan of `created_at` (which has no index of its
own, to keep every insert cheap): ids are given in the order messages are created, so the
messages created before a moment are those up to one id, found by a binary search on the primary
key (`last_id_before`). Each batch is one short transaction that touches at most `limit`
messages and the rows that hang off them, through their indexes.

Before a batch of messages goes, its counts are added to `purged_counts` (campaign, UTC day of
creation, state and status): a campaign's statistics add them to what is left
(`store.campaigns.message_states`), and per-day figures can be read from them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from hirondelle.store.engine import driver_sql, marks
from hirondelle.store.schema import WAITING, as_utc

#: On SQLite, ms the purge's writer waits for the write lock before it tries again itself.
SQLITE_LOCK_POLL_MS = 20


def poll_for_the_lock(conn: Connection) -> None:
    """On SQLite, make this process's writer give up waiting for the write lock after a few
    ms (the purge then tries again at once): SQLite's own busy handler sleeps up to 100 ms
    between tries and, against a server that commits back to back, almost never finds the
    lock free. No-op on PostgreSQL."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_LOCK_POLL_MS}")


def lock_was_busy(exc: BaseException) -> bool:
    """Whether `exc` is SQLite's "database is locked" (the write lock was taken)."""
    return isinstance(exc, OperationalError) and "locked" in str(exc)


def _first_at_or_after(conn: Connection, table: str, column: str, id_: int) -> datetime | None:
    sql = f"SELECT {column} FROM {table} WHERE id >= ? ORDER BY id LIMIT 1"
    row = conn.exec_driver_sql(driver_sql(conn, sql), (id_,)).first()
    return None if row is None else as_utc(row[0])


def last_id_before(conn: Connection, table: str, column: str, before: datetime) -> int:
    """The highest id of `table` whose row's `column` (its creation time) is before `before`,
    by a binary search on the primary key (0 if none): O(log n) indexed lookups."""
    row = conn.exec_driver_sql(f"SELECT min(id), max(id) FROM {table}").first()
    if row is None or row[0] is None:
        return 0
    low, high = int(row[0]) - 1, int(row[1])  # low: known before (or none); high: unknown
    first = _first_at_or_after(conn, table, column, high)
    if first is not None and first < before:
        return high
    while high - low > 1:  # invariant: rows <= low are before, the row at or after high is not
        middle = (low + high) // 2
        at = _first_at_or_after(conn, table, column, middle)
        if at is not None and at < before:
            low = middle
        else:
            high = middle
    return low


@dataclass(frozen=True, slots=True)
class Batch:
    """What one batch removed, and where the next one starts."""

    last_id: int
    messages: int
    events: int
    parts: int
    replies: int


def _delete_in(conn: Connection, table: str, column: str, ids: Sequence[int]) -> int:
    sql = f"DELETE FROM {table} WHERE {column} IN ({marks(len(ids))})"
    return conn.exec_driver_sql(driver_sql(conn, sql), tuple(ids)).rowcount or 0


def _count_in(conn: Connection, table: str, column: str, ids: Sequence[int]) -> int:
    sql = f"SELECT count(*) FROM {table} WHERE {column} IN ({marks(len(ids))})"
    return int(conn.exec_driver_sql(driver_sql(conn, sql), tuple(ids)).scalar() or 0)


def purge_messages(
    conn: Connection, after_id: int, up_to_id: int, before: datetime, limit: int, *, dry_run: bool
) -> Batch | None:
    """Delete (or, dry, count) up to `limit` messages with ids in (after_id, up_to_id] created
    before `before` and not waiting to be sent, with their parts, events and replies; keep their
    counts in `purged_counts`. None when no message is left in that range."""
    sql = (
        "SELECT id, campaign_id, created_at, state, status FROM messages"
        f" WHERE id > ? AND id <= ? AND created_at < ? AND NOT ({WAITING})"
        " ORDER BY id LIMIT ?"
    )
    found = list(conn.exec_driver_sql(driver_sql(conn, sql), (after_id, up_to_id, before, limit)))
    if not found:
        return None
    ids = [int(row[0]) for row in found]
    remove: Callable[[Connection, str, str, Sequence[int]], int] = (
        _count_in if dry_run else _delete_in
    )
    replies = remove(conn, "replies", "message_id", ids)
    events = remove(conn, "message_events", "message_id", ids)
    parts = remove(conn, "message_parts", "message_id", ids)
    if not dry_run:
        counts = Counter(
            (int(campaign), as_utc(created).date(), str(state), int(status))
            for _id, campaign, created, state, status in found
        )
        _add_counts(conn, counts)
        _delete_in(conn, "messages", "id", ids)
    return Batch(ids[-1], len(ids), events, parts, replies)


def _add_counts(conn: Connection, counts: Counter[tuple[int, date, str, int]]) -> None:
    sql = (
        "INSERT INTO purged_counts (campaign_id, day, state, status, count) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (campaign_id, day, state, status)"
        " DO UPDATE SET count = purged_counts.count + excluded.count"
    )
    rows = [(*key, count) for key, count in sorted(counts.items())]
    conn.exec_driver_sql(driver_sql(conn, sql), rows)


def purge_replies(
    conn: Connection, after_id: int, up_to_id: int, before: datetime, limit: int, *, dry_run: bool
) -> tuple[int, int] | None:
    """Delete (or count) up to `limit` replies with ids in (after_id, up_to_id] received before
    `before` — those of no message, or of one kept; return (last id, how many), None if none.
    Dry, only those of no message are counted: `purge_messages` counted the others."""
    sql = (
        "SELECT id FROM replies WHERE id > ? AND id <= ? AND received_at < ?"
        + (" AND message_id IS NULL" if dry_run else "")
        + " ORDER BY id LIMIT ?"
    )
    params = (after_id, up_to_id, before, limit)
    ids = [int(row[0]) for row in conn.exec_driver_sql(driver_sql(conn, sql), params)]
    if not ids:
        return None
    if not dry_run:
        _delete_in(conn, "replies", "id", ids)
    return ids[-1], len(ids)
