"""Messages past their validity: what no SMSC took in time fails, set-wise, for a refund.

A message is valid from its due time for `message_validity_hours` (its `expires_at`, set when
it is accepted and not moved by retries). `claim_due` never claims one past it; this fails them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection

from hirondelle.domain.statuses import AckStatus
from hirondelle.store import submit_journal
from hirondelle.store.engine import driver_sql, marks
from hirondelle.store.schema import WAITING


@dataclass(frozen=True, slots=True)
class ExpiredMessage:
    id: int
    account_id: int
    sms_id: str
    credits: int


def expire_waiting(conn: Connection, now: datetime, limit: int) -> list[ExpiredMessage]:
    """Fail (status 4) up to `limit` messages past their validity that no SMSC took: queued,
    or claimed under a lease that ran out and not in the submit journal. Return them, to
    refund."""
    postgresql = conn.dialect.name == "postgresql"
    lock = " FOR UPDATE SKIP LOCKED" if postgresql else ""
    # Without statistics SQLite would rather scan every queued row by ix_messages_due.
    index = "" if postgresql else " INDEXED BY ix_messages_expiry"
    abandoned = "(state = 'queued' OR lease_until < ?)"
    journaled = submit_journal.not_journaled(conn)
    sql = (
        f"SELECT id FROM messages{index} WHERE {WAITING} AND expires_at <= ? AND {abandoned}"
        f"{journaled} ORDER BY expires_at LIMIT ?{lock}"
    )
    ids = [row[0] for row in conn.exec_driver_sql(driver_sql(conn, sql), (now, now, limit))]
    if not ids:
        return []
    sql = (
        f"UPDATE messages SET state = 'final', status = {AckStatus.REJECTED:d}, status_at = ?,"
        " lease_until = NULL,"
        f" claimed_by = NULL WHERE id IN ({marks(len(ids))}) AND {WAITING} AND {abandoned}"
        " RETURNING id, account_id, sms_id, credits"
    )
    rows = conn.exec_driver_sql(driver_sql(conn, sql), (now, *ids, now))
    return sorted((ExpiredMessage(*row) for row in rows), key=lambda m: m.id)
