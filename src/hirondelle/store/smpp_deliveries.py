"""The SMPP server's outbox and its accounts' SMPP columns (docs/smpp-server.md).

Receipts and replies bound for a customer's SMPP receiver are rows of `smpp_deliveries`, inserted
in the transaction that records the status or the reply (like the webhook outbox), read by the
SMPP server while a receiver of the account is bound, and deleted once the customer answered
their deliver_sm. Only messages sent by a submit_sm that asked for a receipt
(`campaigns.smpp_receipts`) and replies of accounts with an SMPP password make rows: HTTP-only
accounts never accumulate any.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.store.engine import Sql, chunks, one_of, together
from hirondelle.store.schema import accounts, smpp_deliveries
from hirondelle.store.webhooks import stored_moment

#: Characters of the message a receipt's `text:` field repeats (SMPP 3.4 Appendix B).
RECEIPT_TEXT_LENGTH = 20
_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class Delivery:
    """One receipt or reply waiting for a receiver of its account."""

    id: int
    account_id: int
    kind: str  # receipt | reply
    sms_id: str
    source: str
    destination: str
    text: str
    status: int
    submitted_at: datetime | None
    created_at: datetime


def queue_receipts(conn: Connection, statuses: dict[int, int], now: datetime) -> None:
    """A row per message among `statuses` (message id -> final annex 6 status) whose campaign
    asked for SMPP receipts: one INSERT ... SELECT per status (there are few)."""
    together(conn, receipts_sql(conn, statuses, now))


_QUEUE_RECEIPTS = (
    "INSERT INTO smpp_deliveries (account_id, kind, sms_id, source, destination, text, status,"
    " submitted_at, created_at)"
    f" SELECT m.account_id, 'receipt', m.sms_id, m.phone, m.sender,"
    f" substr(m.text, 1, {RECEIPT_TEXT_LENGTH:d}), ?, m.created_at, ?"
    " FROM messages m JOIN campaigns c ON c.id = m.campaign_id"
    " WHERE c.smpp_receipts AND m.id {}"
)


def receipts_sql(conn: Connection, statuses: dict[int, int], now: datetime) -> list[Sql]:
    """The statements of `queue_receipts`, for a caller to run with others (`together`): on
    PostgreSQL they cost no round trip of their own, which matters as campaigns asking for
    SMPP receipts are few and the statements usually insert nothing."""
    by_status: dict[int, list[int]] = {}
    for message_id, status in statuses.items():
        by_status.setdefault(int(status), []).append(message_id)
    at = stored_moment(conn, now)
    statements = []
    for status, ids in sorted(by_status.items()):
        for chunk in chunks(ids, _CHUNK):
            where, params = one_of(conn, chunk, "int")
            statements.append(Sql(_QUEUE_RECEIPTS.format(where), (status, at, *params)))
    return statements


def queue_reply(
    conn: Connection, account_id: int, phone: str, short_code: str, text: str, now: datetime
) -> None:
    """A reply for the account's SMPP receivers, when the account has SMPP enabled."""
    enabled = conn.execute(
        sa.select(accounts.c.id).where(
            accounts.c.id == account_id, accounts.c.smpp_password_hash.is_not(None)
        )
    ).first()
    if enabled is None:
        return
    conn.execute(
        smpp_deliveries.insert().values(
            account_id=account_id,
            kind="reply",
            source=phone[:21],
            destination=short_code[:21],
            text=text,
            created_at=now,
        )
    )


def pending(conn: Connection, account_id: int, after: int, limit: int) -> list[Delivery]:
    """The account's rows with an id above `after`, oldest first."""
    query = (
        sa.select(*(smpp_deliveries.c[name] for name in Delivery.__slots__))
        .where(smpp_deliveries.c.account_id == account_id, smpp_deliveries.c.id > after)
        .order_by(smpp_deliveries.c.id)
        .limit(limit)
    )
    return [Delivery(*row) for row in conn.execute(query)]


def delete(conn: Connection, ids: Iterable[int]) -> None:
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        conn.execute(
            smpp_deliveries.delete().where(smpp_deliveries.c.id.in_(ids[start : start + _CHUNK]))
        )


def drop_older_than(conn: Connection, before: datetime) -> int:
    result = conn.execute(smpp_deliveries.delete().where(smpp_deliveries.c.created_at < before))
    return int(result.rowcount or 0)


def count(conn: Connection, account_id: int | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(smpp_deliveries)
    if account_id is not None:
        query = query.where(smpp_deliveries.c.account_id == account_id)
    return int(conn.execute(query).scalar_one())


# -- the accounts' SMPP columns -------------------------------------------------------------------


def find_for_bind(conn: Connection, login: str) -> sa.RowMapping | None:
    """A live account by login, with its SMPP password hash and max_binds."""
    query = sa.select(accounts).where(accounts.c.login == login, accounts.c.deleted_at.is_(None))
    return conn.execute(query).mappings().first()


def set_smpp_columns(conn: Connection, login: str, values: dict[str, object]) -> bool:
    """Update SMPP columns of a live account; False when there is no such account."""
    result = conn.execute(
        sa.update(accounts)
        .where(accounts.c.login == login, accounts.c.deleted_at.is_(None))
        .values(**values)
    )
    return bool(result.rowcount)
