"""Queries of the delivery path: claiming due messages, recording submits, receipts and replies.

A message moves `queued` → `claimed` (a lease, by one dispatcher) → `submitted` (status 3, its
parts' SMSC ids stored) → `final` (status 1, 2 or 5), or → `final` with status 4 when the SMSC
rejects it or its validity ends before it was submitted (its credits refunded). A claim whose
lease ran out goes back to the pool, so the messages of a crashed dispatcher are retried.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.domain.statuses import AckStatus
from hirondelle.store import receipts as receipt_rows
from hirondelle.store import submit_journal
from hirondelle.store.engine import (
    Sql,
    chunks,
    driver_sql,
    in_index_order,
    marks,
    moment,
    one_of,
    together,
)
from hirondelle.store.receipts import Pending
from hirondelle.store.schema import (
    accounts,
    as_utc,
    blacklist,
    campaigns,
    inbound_parts,
    messages,
    replies,
)


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    id: int
    account_id: int
    phone: str
    text: str
    sender: str
    parts: int
    attempts: int
    expires_at: datetime


# The statements of this module run for every message: they are written at driver level, as
# SQLAlchemy's statement handling cost more than SQLite executing them.


# -- claiming ------------------------------------------------------------------------------------


#: Numbers by prefix: (prefix, prefixes excluded from it); see `claim_due`.
NumberFilter = Sequence[tuple[str, Sequence[str]]]


def _numbers_sql(numbers: NumberFilter | None) -> tuple[str, tuple[str, ...]]:
    """` AND (…)` keeping the phones of `numbers` (None: every phone), and its parameters."""
    if numbers is None:
        return "", ()
    terms: list[str] = []
    params: list[str] = []
    for prefix, excluded in numbers:
        term = ["phone LIKE ?"] + ["phone NOT LIKE ?"] * len(excluded)
        terms.append("(" + " AND ".join(term) + ")")
        params.extend(f"{p}%" for p in (prefix, *excluded))
    return f" AND ({' OR '.join(terms) or 'FALSE'})", tuple(params)


#: The claim's two passes (each with its moment twice): queued messages, then claims whose lease
#: ran out (but for those the SMSC took, in the submit journal); never one past its validity
#: (`validity.expire_waiting` fails those).
DUE = (
    "state = 'queued' AND due_at <= ? AND expires_at > ?",
    "state = 'claimed' AND lease_until < ? AND expires_at > ?",
)


def due_sql(condition: str, only: str = "", lock: str = "") -> str:
    """The ids of due messages (one of `DUE`), the longest due first, at most a `?` number: a
    walk of ix_messages_due (state, due_at, id) that stops at the limit."""
    return f"SELECT id FROM messages WHERE {condition}{only} ORDER BY due_at, id LIMIT ?{lock}"


def claim_due(
    conn: Connection,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    numbers: NumberFilter | None = None,
) -> list[ClaimedMessage]:
    """Claim up to `limit` due messages: queued ones first, then claims whose lease ran out.

    `numbers` keeps only the phones a worker's connectors serve (scale-out: the others are left
    to the workers owning their connectors); None claims any.
    """
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    only, only_params = _numbers_sql(numbers)
    plan = in_index_order(conn)
    ids: list[int] = []
    for condition in (DUE[0], DUE[1] + submit_journal.not_journaled(conn)):
        if len(ids) < limit:
            sql = due_sql(condition, only, lock)
            params = (now, now, *only_params, limit - len(ids))
            found = together(conn, [*plan, Sql(sql, params)])[-1]
            plan = []  # set for the transaction
            ids.extend(row[0] for row in found)
    if not ids:
        return []
    claimed_ids, id_params = one_of(conn, ids, "int")
    sql = (
        "UPDATE messages SET state = 'claimed', lease_until = ?, claimed_by = ?"
        f" WHERE id {claimed_ids}"
        " RETURNING id, account_id, phone, text, sender, parts, attempts, expires_at"
    )
    (rows,) = together(conn, [Sql(sql, (now + lease, owner, *id_params))])
    claimed = [
        ClaimedMessage(m, account, phone, text, sender, parts, attempts, as_utc(expires))
        for m, account, phone, text, sender, parts, attempts, expires in rows
    ]
    claimed.sort(key=lambda m: m.id)
    return claimed


def release_claims_of_others(conn: Connection, owner: str) -> int:
    """Put back every claim not held by `owner` (single-dispatcher start-up after a crash)."""
    result = conn.execute(
        sa.update(messages)
        .where(messages.c.state == "claimed", messages.c.claimed_by != owner)
        .values(state="queued", lease_until=None, claimed_by=None)
    )
    return result.rowcount or 0


def renew_claims(
    conn: Connection, owner: str, message_ids: Sequence[int], lease_until: datetime
) -> int:
    """Extend the leases of those of `message_ids` that `owner` still holds: a live worker's
    claims in hand never run out, so only a dead one's come back (scale-out).

    By primary key, the ids the dispatcher has in hand: "every claim of `owner`" walked the
    claimed state of the due index, dead entries included (280 ms a renewal in B3, its rows
    locked all along, the submit results waiting for them), and kept alive a claim whose
    result could not be stored, which the lease is there to bring back."""
    claimed = "state || '' = 'claimed'" if _postgres(conn) else "state = 'claimed'"
    renewed = 0
    for chunk in chunks(sorted(message_ids)):
        ids, id_params = one_of(conn, chunk, "int")
        sql = f"UPDATE messages SET lease_until = ? WHERE {claimed} AND claimed_by = ? AND id {ids}"
        renewed += conn.exec_driver_sql(
            driver_sql(conn, sql), (moment(conn, lease_until), owner, *id_params)
        ).rowcount
    return renewed


def retry_later(conn: Connection, message_ids: Sequence[int], due_at: datetime) -> None:
    """Give claimed messages back to the pool, due again at `due_at`."""
    if message_ids:
        conn.execute(
            sa.update(messages)
            .where(messages.c.id.in_(message_ids), messages.c.state == "claimed")
            .values(
                state="queued",
                due_at=due_at,
                lease_until=None,
                claimed_by=None,
                attempts=messages.c.attempts + 1,
            )
        )


# -- submit results ------------------------------------------------------------------------------


def mark_submitted(
    conn: Connection,
    connector: str,
    message_ids: Sequence[int],
    now: datetime,
    first: Sequence[Sql] = (),
) -> list[int]:
    """Mark claimed messages submitted (status 3) by `connector`; return those still ours.
    `first`: statements to run before, in the same round trip."""
    if not message_ids:
        return []
    ids, id_params = one_of(conn, message_ids, "int")
    # By primary key: PostgreSQL's statistics lag the claims of a busy minute, and with
    # `state = 'claimed'` its planner scanned every index entry of the claimed state instead
    # (the dead ones too), reading hundreds of pages for 100 rows.
    claimed = "state || '' = 'claimed'" if _postgres(conn) else "state = 'claimed'"
    sql = (
        f"UPDATE messages SET state = 'submitted', status = {AckStatus.TRANSMITTED:d},"
        " connector = ?, status_at = ?,"
        f" lease_until = NULL WHERE {claimed} AND id {ids}"
        " RETURNING id"
    )
    # In a pipeline: on PostgreSQL the transaction's BEGIN goes with it, not a round trip before.
    rows = together(conn, [*first, Sql(sql, (connector, now, *id_params))])[-1]
    return [row[0] for row in rows]


def store_submitted(
    conn: Connection,
    connector: str,
    parts: Sequence[dict[str, object]],
    message_ids: Sequence[int],
    now: datetime,
    then: Sequence[Sql] = (),
) -> tuple[dict[int, MessageInfo], list[Pending]]:
    """For messages just marked submitted: insert their parts and "submitted" events, and read
    which of them have a webhook wanting every status (a "submitted" event is queued for no
    other) and which receipts wait for their parts' SMSC ids (locked, see
    `receipts.pending_for`), then run `then` — all in one round trip on PostgreSQL."""
    statements: list[Sql] = []
    if parts and _postgres(conn):
        sql = (
            "INSERT INTO message_parts (message_id, part, smsc_id, connector, status, created_at)"
            " SELECT m, p, s, ?, ?, ? FROM unnest(?::int[], ?::int[], ?::text[]) AS u(m, p, s)"
        )
        columns = [[p[n] for p in parts] for n in ("message_id", "part", "smsc_id")]
        statements.append(Sql(sql, (connector, int(AckStatus.TRANSMITTED), now, *columns)))
    elif parts:
        names = list(parts[0])
        sql = f"INSERT INTO message_parts ({', '.join(names)}) VALUES ({marks(len(names))})"
        # Parts made now (their created_at): the moment adapted once, not once per row.
        at = moment(conn, now)
        rows = [tuple(at if p[n] is now else p[n] for n in names) for p in parts]
        statements.append(Sql(sql, rows, many=True))
    events = [(m, int(AckStatus.TRANSMITTED), "submitted") for m in message_ids]
    statements += _events_sql(conn, events, moment(conn, now)) + _targets_sql(
        conn, message_ids, every_status=True
    )
    targets = len(statements)
    statements += receipt_rows.pending_for_sql(
        conn, connector, sorted({str(p["smsc_id"]) for p in parts})
    )
    waits = len(statements)
    results = together(conn, [*statements, *then])
    found = _targets(row for result in results[:targets] for row in result)
    waiting = receipt_rows.pending_of(row for result in results[targets:waits] for row in result)
    return found, waiting


def record_rejected(conn: Connection, message_id: int, detail: str, now: datetime) -> int | None:
    """Mark a message rejected (status 4); return its credits to refund, None if not claimed."""
    row = conn.execute(
        sa.update(messages)
        .where(messages.c.id == message_id, messages.c.state == "claimed")
        .values(state="final", status=int(AckStatus.REJECTED), status_at=now, lease_until=None)
        .returning(messages.c.credits)
    ).first()
    if row is None:
        return None
    add_events(conn, [(message_id, int(AckStatus.REJECTED), detail)], now)
    return int(row[0])


def _postgres(conn: Connection) -> bool:
    """Whether rows of a batch go in one statement of arrays (`unnest`): on PostgreSQL a row
    per statement of an executemany costs its own parse, plan and execution, twice the time of
    the rows themselves; SQLite, in-process, runs the executemany as fast."""
    return conn.dialect.name == "postgresql"


def _events_sql(
    conn: Connection, events: Sequence[tuple[int, int, str]], at: datetime | str
) -> list[Sql]:
    """`at`: the moment as `moment` gives it."""
    if not events:
        return []
    if _postgres(conn):
        sql = (
            "INSERT INTO message_events (message_id, status, detail, at)"
            " SELECT m, s, d, ? FROM unnest(?::int[], ?::int[], ?::text[]) AS u(m, s, d)"
        )
        columns = ([m for m, _s, _d in events], [s for _m, s, _d in events])
        return [Sql(sql, (at, *columns, [d[:255] for _m, _s, d in events]))]
    sql = "INSERT INTO message_events (message_id, status, detail, at) VALUES (?, ?, ?, ?)"
    return [Sql(sql, [(m, status, d[:255], at) for m, status, d in events], many=True)]


def add_events(conn: Connection, events: Sequence[tuple[int, int, str]], at: datetime) -> None:
    """Add (message_id, status, detail) rows to the status history."""
    together(conn, _events_sql(conn, events, moment(conn, at)))


# -- receipts ------------------------------------------------------------------------------------


def _parts_sql(conn: Connection, updates: Sequence[tuple[int, int]]) -> list[Sql]:
    if not updates:
        return []
    if _postgres(conn):
        sql = (
            "UPDATE message_parts SET status = u.s"
            " FROM unnest(?::int[], ?::int[]) AS u(p, s) WHERE id = u.p"
        )
        return [Sql(sql, ([p for p, _s in updates], [s for _p, s in updates]))]
    sql = "UPDATE message_parts SET status = ? WHERE id = ?"
    return [Sql(sql, [(status, p) for p, status in updates], many=True)]


def set_parts_status(
    conn: Connection, updates: Sequence[tuple[int, int]], of_messages: Sequence[int] = ()
) -> dict[int, list[int]]:
    """Set (part_id, status) pairs; return the part statuses, after, of `of_messages` (the
    messages of several parts, whose status follows all of theirs)."""
    reads = []
    for chunk in chunks(of_messages):
        where, params = one_of(conn, chunk, "int")
        sql = f"SELECT message_id, status FROM message_parts WHERE message_id {where}"
        reads.append(Sql(sql, params))
    results = together(conn, _parts_sql(conn, updates) + reads)
    statuses: dict[int, list[int]] = {m: [] for m in of_messages}
    for result in results:
        for message_id, status in result:
            statuses[message_id].append(int(status))
    return statuses


def store_statuses(
    conn: Connection,
    parts: Sequence[tuple[int, int]],
    updates: Sequence[tuple[int, int]],
    events: Sequence[tuple[int, int, str]],
    now: datetime,
    then: Sequence[Sql] = (),
    *,
    commit: bool = False,
) -> None:
    """Set (part_id, status) pairs, then (message_id, status) pairs (a status other than
    transmitted makes a message final), add the events, then run `then` — in one round trip on
    PostgreSQL, with the COMMIT when `commit` (see `together`)."""
    sql = (
        "UPDATE messages SET status = ?, status_at = ?,"
        f" state = CASE WHEN ? = {AckStatus.TRANSMITTED:d} THEN state ELSE 'final' END"
        " WHERE id = ?"
    )
    statements = _parts_sql(conn, parts)
    at = moment(conn, now)
    if updates and _postgres(conn):
        sql = (
            "UPDATE messages SET status = u.s, status_at = ?,"
            f" state = CASE WHEN u.s = {AckStatus.TRANSMITTED:d} THEN state ELSE 'final' END"
            " FROM unnest(?::int[], ?::int[]) AS u(m, s) WHERE id = u.m"
        )
        columns = ([m for m, _s in updates], [s for _m, s in updates])
        statements.append(Sql(sql, (at, *columns)))
    elif updates:
        rows = [(status, at, status, m) for m, status in updates]
        statements.append(Sql(sql, rows, many=True))
    statements += _events_sql(conn, events, at)
    together(conn, [*statements, *then], commit=commit)


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """What a receipt webhook or a reply needs to know about a message."""

    id: int
    sms_id: str
    account_id: int
    phone: str
    cli_msg_id: str | None
    campaign_db_id: int
    campaign_id: str
    receipt_url: str
    timezone: str


def _info_query() -> sa.Select[tuple[object, ...]]:
    return (
        sa.select(
            messages.c.id,
            messages.c.sms_id,
            messages.c.account_id,
            messages.c.phone,
            messages.c.cli_msg_id,
            campaigns.c.id,
            campaigns.c.public_id,
            accounts.c.receipt_url,
            accounts.c.timezone,
        )
        .join(campaigns, campaigns.c.id == messages.c.campaign_id)
        .join(accounts, accounts.c.id == messages.c.account_id)
    )


def message_info(conn: Connection, message_id: int) -> MessageInfo:
    return MessageInfo(*conn.execute(_info_query().where(messages.c.id == message_id)).one())  # type: ignore[arg-type, call-arg]


_TARGETS_SQL = (
    f"SELECT {receipt_rows.MESSAGE_INFO} FROM messages m{receipt_rows.MESSAGE_INFO_JOINS}"
    " WHERE a.receipt_url <> '' AND m.id {}"
)


def _targets_sql(
    conn: Connection, message_ids: Sequence[int], *, every_status: bool = False
) -> list[Sql]:
    """With `every_status`, only the messages of accounts wanting every status change."""
    sql = _TARGETS_SQL + (" AND a.receipt_events = 'all'" if every_status else "")
    statements = []
    for chunk in chunks(message_ids):
        where, params = one_of(conn, chunk, "int")
        statements.append(Sql(sql.format(where), params))
    return statements


def _targets(rows: Iterable[Sequence[Any]]) -> dict[int, MessageInfo]:
    return {int(row[0]): MessageInfo(*row) for row in rows}


def webhook_targets(conn: Connection, message_ids: Sequence[int]) -> dict[int, MessageInfo]:
    """Info on those messages whose account has a receipt webhook (usually few or none)."""
    results = together(conn, _targets_sql(conn, list(message_ids)))
    return _targets(row for result in results for row in result)


def recent_messages_to(conn: Connection, phone: str, since: datetime) -> list[RowMapping]:
    """The messages sent (submitted or final) to `phone` since `since` — id, account_id, sender
    and text — most recently sent first (`due_at` is when a message was last sent)."""
    query = (
        sa.select(messages.c.id, messages.c.account_id, messages.c.sender, messages.c.text)
        .where(
            messages.c.phone == phone,
            messages.c.state.in_(("submitted", "final")),
            messages.c.due_at >= since,
        )
        .order_by(messages.c.due_at.desc(), messages.c.id.desc())
    )
    return list(conn.execute(query).mappings())


def reply_number_owner(conn: Connection, number: str) -> int | None:
    """The account whose own reply number this is, if any."""
    query = sa.select(accounts.c.id).where(accounts.c.reply_number == number)
    return conn.execute(query).scalar()


# -- blacklist -----------------------------------------------------------------------------------


def blacklist_add(
    conn: Connection, account_id: int, phone: str, comment: str, now: datetime
) -> bool:
    """Put a number on an account's blacklist; False if it was already there."""
    exists = conn.execute(
        sa.select(blacklist.c.id).where(
            blacklist.c.account_id == account_id, blacklist.c.phone == phone
        )
    ).first()
    if exists is not None:
        return False
    conn.execute(
        sa.insert(blacklist).values(
            account_id=account_id, phone=phone, comment=comment, created_at=now
        )
    )
    return True


def blacklist_remove(conn: Connection, account_id: int, phone: str, comments: Sequence[str]) -> int:
    result = conn.execute(
        sa.delete(blacklist).where(
            blacklist.c.account_id == account_id,
            blacklist.c.phone == phone,
            blacklist.c.comment.in_(list(comments)),
        )
    )
    return result.rowcount or 0


# -- replies -------------------------------------------------------------------------------------


def add_inbound_part(
    conn: Connection,
    *,
    connector: str,
    source: str,
    destination: str,
    reference: int,
    total: int,
    seqnum: int,
    data_coding: int,
    data: bytes,
    now: datetime,
) -> list[RowMapping] | None:
    """Store one part of a concatenated reply; return all its parts once the last one is in."""
    key = sa.and_(
        inbound_parts.c.connector == connector,
        inbound_parts.c.source == source,
        inbound_parts.c.reference == reference,
        inbound_parts.c.total == total,
    )
    already = conn.execute(
        sa.select(inbound_parts.c.id).where(key, inbound_parts.c.seqnum == seqnum)
    ).first()
    if already is None:
        conn.execute(
            sa.insert(inbound_parts).values(
                connector=connector,
                source=source,
                destination=destination,
                reference=reference,
                total=total,
                seqnum=seqnum,
                data_coding=data_coding,
                data=data,
                received_at=now,
            )
        )
    rows = list(
        conn.execute(
            sa.select(inbound_parts).where(key).order_by(inbound_parts.c.seqnum)
        ).mappings()
    )
    if len({row["seqnum"] for row in rows}) < total:
        return None
    conn.execute(sa.delete(inbound_parts).where(key))
    return rows


def insert_reply(conn: Connection, values: dict[str, object]) -> int:
    return int(conn.execute(sa.insert(replies).values(values).returning(replies.c.id)).scalar_one())


def account_reply_settings(conn: Connection, account_id: int) -> tuple[str, str]:
    row = conn.execute(
        sa.select(accounts.c.reply_url, accounts.c.timezone).where(accounts.c.id == account_id)
    ).one()
    return row[0], row[1]
