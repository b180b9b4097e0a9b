"""Queries on campaigns, their messages, the blacklist and idempotency keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store import notifications
from hirondelle.store.engine import Sql, chunks, driver_sql, insert_rows, marks, one_of, together
from hirondelle.store.schema import (
    blacklist,
    campaigns,
    idempotency_keys,
    messages,
    purged_counts,
)


def blacklisted_among(conn: Connection, account_id: int, phones: Sequence[str]) -> set[str]:
    """Those of `phones` that are on the account's blacklist (driver-level: every send)."""
    found: set[str] = set()
    for chunk in chunks(phones):
        listed, params = one_of(conn, chunk, "text")
        sql = f"SELECT phone FROM {blacklist.name} WHERE account_id = ? AND phone {listed}"
        found.update(
            row[0] for row in conn.exec_driver_sql(driver_sql(conn, sql), (account_id, *params))
        )
    return found


def blacklisted_pairs(
    conn: Connection, pairs: Sequence[tuple[int, str]], *, new_ids: int = 0
) -> tuple[set[tuple[int, str]], list[int]]:
    """Those (account_id, phone) pairs on their account's blacklist, for a batch of sends of
    several accounts: one query per chunk of numbers, whatever the number of accounts.

    With `new_ids` (PostgreSQL only), also that many new campaign ids, taken in the same round
    trip: the batch's rows can then be written in one pipeline, messages with their campaign
    id, without waiting for an INSERT … RETURNING."""
    accounts = sorted({account_id for account_id, _ in pairs})
    statements: list[Sql] = []
    of_accounts, account_params = one_of(conn, accounts, "int")
    for chunk in chunks(sorted({phone for _, phone in pairs})) if accounts else []:
        listed, phone_params = one_of(conn, chunk, "text")
        sql = (
            f"SELECT account_id, phone FROM {blacklist.name}"
            f" WHERE account_id {of_accounts} AND phone {listed}"
        )
        statements.append(Sql(sql, (*account_params, *phone_params)))
    if new_ids:
        sequence = f"{campaigns.name}_id_seq"
        statements.append(
            Sql(f"SELECT nextval('{sequence}') FROM generate_series(1, ?)", (new_ids,))
        )
    results = together(conn, statements)
    wanted = set(pairs)
    found = {
        pair
        for rows in results[: len(results) - bool(new_ids)]
        for pair in ((int(r[0]), str(r[1])) for r in rows)
        if pair in wanted
    }
    return found, [int(r[0]) for r in results[-1]] if new_ids else []


#: Columns of `insert_campaigns_sql` rows, with their PostgreSQL types (see `insert_rows`).
CAMPAIGN_COLUMNS = (
    ("id", "int"),
    ("public_id", "varchar"),
    ("account_id", "int"),
    ("name", "varchar"),
    ("message", "text"),
    ("sender", "varchar"),
    ("state", "varchar"),
    ("due_at", "timestamptz"),
    ("nb_contacts", "int"),
    ("nb_sms", "int"),
    ("credits", "bigint"),
    ("mail_notif", "bool"),
    ("smpp_receipts", "bool"),
    ("created_at", "timestamptz"),
)


def insert_campaigns_sql(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[Sql]:
    """The INSERT of campaign rows (dicts keyed by CAMPAIGN_COLUMNS: they carry their `id`,
    see `blacklisted_pairs(new_ids=…)`) for a pipeline (`together`): one statement over arrays
    on PostgreSQL, where an executemany ran once per campaign (B2's small sends: one each)."""
    names = [name for name, _ in CAMPAIGN_COLUMNS]
    values = [tuple(row[name] for name in names) for row in rows]
    return insert_rows(conn, campaigns.name, CAMPAIGN_COLUMNS, values)


def insert_campaigns(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert campaign rows (dicts with the same keys, `public_id` among them) and return their
    ids in the same order: one multi-row INSERT … RETURNING per chunk (driver-level: this runs
    in every send, and for a whole batch of sends at once)."""
    if not rows:
        return []
    names = list(rows[0])
    ids: dict[str, int] = {}
    for chunk in chunks(rows, max(1, 900 // len(names))):
        values = ", ".join([f"({marks(len(names))})"] * len(chunk))
        sql = (
            f"INSERT INTO {campaigns.name} ({', '.join(names)}) VALUES {values}"
            " RETURNING public_id, id"
        )
        params = tuple(row[name] for row in chunk for name in names)
        ids.update((str(p), int(i)) for p, i in conn.exec_driver_sql(driver_sql(conn, sql), params))
    return [ids[row["public_id"]] for row in rows]


#: Columns of `insert_messages` rows, in order, with their PostgreSQL types (see `insert_rows`).
MESSAGE_COLUMNS = (
    ("sms_id", "varchar"),
    ("campaign_id", "int"),
    ("account_id", "int"),
    ("phone", "varchar"),
    ("country", "varchar"),
    ("text", "text"),
    ("sender", "varchar"),
    ("parts", "int"),
    ("credits", "int"),
    ("cli_msg_id", "varchar"),
    ("status", "smallint"),
    ("state", "varchar"),
    ("due_at", "timestamptz"),
    ("expires_at", "timestamptz"),
    ("created_at", "timestamptz"),
)


def insert_messages(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert message rows (tuples in MESSAGE_COLUMNS order) at driver level.

    A campaign is thousands of rows: going around SQLAlchemy's per-row parameter processing
    (nothing to convert here) costs a third of the time of the same insert through Core.
    """
    together(conn, insert_messages_sql(conn, rows))


def insert_messages_sql(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> list[Sql]:
    """`insert_messages` as statements for a pipeline (`together`); on PostgreSQL with the
    NOTIFY that wakes the workers of other processes when the transaction commits
    (store/notifications.py)."""
    statements = insert_rows(conn, messages.name, MESSAGE_COLUMNS, rows)
    if statements and conn.dialect.name == "postgresql":
        statements.append(notifications.NOTIFY)
    return statements


def find_campaign(conn: Connection, account_id: int, public_id: str) -> RowMapping | None:
    query = sa.select(campaigns).where(
        campaigns.c.public_id == public_id, campaigns.c.account_id == account_id
    )
    return conn.execute(query).mappings().first()


def message_states(conn: Connection, campaign_id: int) -> dict[str, int]:
    """The campaign's messages per state, those the retention purge deleted included."""
    query = (
        sa.select(messages.c.state, sa.func.count())
        .where(messages.c.campaign_id == campaign_id)
        .group_by(messages.c.state)
    )
    states = {state: int(count) for state, count in conn.execute(query)}
    purged = (
        sa.select(purged_counts.c.state, sa.func.sum(purged_counts.c.count))
        .where(purged_counts.c.campaign_id == campaign_id)
        .group_by(purged_counts.c.state)
    )
    for state, count in conn.execute(purged):
        states[state] = states.get(state, 0) + int(count)
    return states


def cancel_queued_messages(conn: Connection, campaign_id: int, now: datetime) -> tuple[int, int]:
    """Cancel the campaign's messages still waiting; return how many it cancelled and their
    credits.

    One UPDATE ... RETURNING: only rows this statement moved out of `queued` are counted, so a
    concurrent cancellation or claim can never be counted twice.
    """
    waiting = sa.and_(messages.c.campaign_id == campaign_id, messages.c.state == "queued")
    cancelled = conn.execute(
        sa.update(messages)
        .where(waiting)
        .values(state="cancelled", status_at=now)
        .returning(messages.c.credits)
    )
    credits = [int(n) for (n,) in cancelled]
    return len(credits), sum(credits)


def mark_campaign_deleted(conn: Connection, campaign_id: int, now: datetime) -> bool:
    """Move a scheduled campaign to `deleted`; False if it was not scheduled any more.

    A conditional UPDATE: on PostgreSQL a concurrent deletion waits for the row lock, then finds
    the state changed and matches nothing, so exactly one deletion wins.
    """
    deleted = conn.execute(
        sa.update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.state == "scheduled")
        .values(state="deleted", deleted_at=now)
    )
    return deleted.rowcount == 1


def find_idempotent_answer(
    conn: Connection, account_id: int, key: str, since: datetime
) -> RowMapping | None:
    query = sa.select(idempotency_keys).where(
        idempotency_keys.c.account_id == account_id,
        idempotency_keys.c.key == key,
        idempotency_keys.c.created_at >= since,
    )
    return conn.execute(query).mappings().first()


def save_idempotent_answer(
    conn: Connection,
    account_id: int,
    key: str,
    method: str,
    answer: bytes,
    now: datetime,
    since: datetime,
) -> None:
    """Record an answer under its key, replacing an expired record of the same key."""
    conn.execute(
        sa.delete(idempotency_keys).where(
            idempotency_keys.c.account_id == account_id,
            idempotency_keys.c.key == key,
            idempotency_keys.c.created_at < since,
        )
    )
    conn.execute(
        sa.insert(idempotency_keys).values(
            account_id=account_id, key=key, method=method, answer=answer, created_at=now
        )
    )
