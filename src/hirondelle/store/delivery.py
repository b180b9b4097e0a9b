"""Queries of the delivery path: claiming due messages, recording submits, receipts and replies.

A message moves `queued` → `claimed` (a lease, by one dispatcher) → `submitted` (status 3, its
parts' SMSC ids stored) → `final` (status 1, 2 or 5), or → `final` with status 4 when the SMSC
rejects it (its credits refunded). A claim whose lease ran out goes back to the pool, so the
messages of a crashed dispatcher are retried.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.schema import (
    accounts,
    blacklist,
    campaigns,
    inbound_parts,
    message_events,
    message_parts,
    messages,
    pending_receipts,
    replies,
)

FINAL_FAILURES = (2, 4, 5)


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    id: int
    account_id: int
    phone: str
    text: str
    sender: str
    parts: int
    attempts: int


# -- claiming ------------------------------------------------------------------------------------


def claim_due(
    conn: Connection, owner: str, now: datetime, lease: timedelta, limit: int
) -> list[ClaimedMessage]:
    """Claim up to `limit` due messages (queued, or claimed with an expired lease)."""
    due = sa.or_(
        sa.and_(messages.c.state == "queued", messages.c.due_at <= now),
        sa.and_(messages.c.state == "claimed", messages.c.lease_until < now),
    )
    candidates = sa.select(messages.c.id).where(due).order_by(messages.c.due_at, messages.c.id)
    candidates = candidates.limit(limit)
    if conn.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(conn.execute(candidates).scalars())
    if not ids:
        return []
    rows = conn.execute(
        sa.update(messages)
        .where(messages.c.id.in_(ids))
        .values(state="claimed", lease_until=now + lease, claimed_by=owner)
        .returning(
            messages.c.id,
            messages.c.account_id,
            messages.c.phone,
            messages.c.text,
            messages.c.sender,
            messages.c.parts,
            messages.c.attempts,
        )
    )
    claimed = [ClaimedMessage(*row) for row in rows]
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


def next_due_at(conn: Connection) -> datetime | None:
    query = sa.select(sa.func.min(messages.c.due_at)).where(messages.c.state == "queued")
    return conn.execute(query).scalar()


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


def record_submitted(
    conn: Connection,
    message_id: int,
    connector: str,
    smsc_ids: Sequence[str],
    now: datetime,
) -> bool:
    """Store the SMSC ids of a submitted message (status 3); False if it was not ours anymore."""
    updated = conn.execute(
        sa.update(messages)
        .where(messages.c.id == message_id, messages.c.state == "claimed")
        .values(state="submitted", status=3, connector=connector, status_at=now, lease_until=None)
    ).rowcount
    if not updated:
        return False
    conn.execute(
        sa.insert(message_parts),
        [
            {
                "message_id": message_id,
                "part": index,
                "smsc_id": smsc_id,
                "connector": connector,
                "status": 3,
                "created_at": now,
            }
            for index, smsc_id in enumerate(smsc_ids, start=1)
        ],
    )
    add_event(conn, message_id, 3, "submitted", now)
    return True


def record_rejected(conn: Connection, message_id: int, detail: str, now: datetime) -> int | None:
    """Mark a message rejected (status 4); return its credits to refund, None if not claimed."""
    row = conn.execute(
        sa.update(messages)
        .where(messages.c.id == message_id, messages.c.state == "claimed")
        .values(state="final", status=4, status_at=now, lease_until=None)
        .returning(messages.c.credits)
    ).first()
    if row is None:
        return None
    add_event(conn, message_id, 4, detail, now)
    return int(row[0])


def add_event(conn: Connection, message_id: int, status: int, detail: str, at: datetime) -> None:
    conn.execute(
        sa.insert(message_events).values(
            message_id=message_id, status=status, detail=detail[:255], at=at
        )
    )


# -- receipts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartMatch:
    part_id: int
    message_id: int
    parts: int
    message_status: int


def find_part(conn: Connection, connector: str, smsc_ids: Iterable[str]) -> PartMatch | None:
    """The message part with one of these id forms on this connector (hex/decimal variants)."""
    query = (
        sa.select(message_parts.c.id, messages.c.id, messages.c.parts, messages.c.status)
        .join(messages, messages.c.id == message_parts.c.message_id)
        .where(message_parts.c.connector == connector, message_parts.c.smsc_id.in_(list(smsc_ids)))
        .limit(1)
    )
    row = conn.execute(query).first()
    return PartMatch(*row) if row is not None else None


def set_part_status(conn: Connection, part_id: int, status: int) -> None:
    conn.execute(
        sa.update(message_parts).where(message_parts.c.id == part_id).values(status=status)
    )


def part_statuses(conn: Connection, message_id: int) -> list[int]:
    query = sa.select(message_parts.c.status).where(message_parts.c.message_id == message_id)
    return list(conn.execute(query).scalars())


def set_message_status(
    conn: Connection, message_id: int, status: int, final: bool, now: datetime
) -> None:
    conn.execute(
        sa.update(messages)
        .where(messages.c.id == message_id)
        .values(status=status, status_at=now, state="final" if final else messages.c.state)
    )


def add_pending_receipt(
    conn: Connection, connector: str, smsc_id: str, status: int, detail: str, now: datetime
) -> None:
    conn.execute(
        sa.insert(pending_receipts).values(
            connector=connector, smsc_id=smsc_id, status=status, detail=detail, received_at=now
        )
    )


def take_pending_receipts(
    conn: Connection, connector: str, smsc_id_forms: Iterable[str]
) -> list[RowMapping]:
    """Remove and return the receipts that waited for one of these SMSC ids."""
    forms = list(smsc_id_forms)
    where = sa.and_(
        pending_receipts.c.connector == connector, pending_receipts.c.smsc_id.in_(forms)
    )
    rows = list(
        conn.execute(sa.select(pending_receipts).where(where).order_by(pending_receipts.c.id))
        .mappings()
        .all()
    )
    if rows:
        conn.execute(sa.delete(pending_receipts).where(where))
    return rows


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


def message_info(conn: Connection, message_id: int) -> MessageInfo:
    query = (
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
        .where(messages.c.id == message_id)
    )
    return MessageInfo(*conn.execute(query).one())


def last_message_to(conn: Connection, phone: str) -> int | None:
    """The most recent message sent (submitted or final) to this number, any account."""
    query = (
        sa.select(messages.c.id)
        .where(messages.c.phone == phone, messages.c.state.in_(("submitted", "final")))
        .order_by(messages.c.id.desc())
        .limit(1)
    )
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
