"""The webhook outbox: events written with what they report, delivered later by notify/."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.store.schema import accounts, webhook_events


def queue_event(
    conn: Connection,
    account_id: int,
    kind: str,
    ordering_key: str,
    url: str,
    params: dict[str, str],
    now: datetime,
) -> None:
    """Add an event to the outbox; events with the same ordering key go out in this order."""
    conn.execute(
        sa.insert(webhook_events).values(
            account_id=account_id,
            kind=kind,
            ordering_key=ordering_key,
            url=url,
            params=orjson.dumps(params).decode(),
            state="pending",
            next_attempt_at=now,
            created_at=now,
        )
    )


# -- the sender's side ---------------------------------------------------------------------------

#: Due events looked at per claim; the busiest accounts are filtered out before this limit.
CANDIDATES = 500


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: int
    account_id: int
    kind: str
    url: str
    params: dict[str, str]
    attempts: int  # including the attempt being claimed
    created_at: datetime
    secret: str  # the account's webhook secret, sealed (notify/ unseals it)


def any_due(conn: Connection, now: datetime) -> bool:
    """Whether some pending event is due (a cheap read before claiming in a write)."""
    query = sa.select(webhook_events.c.id).where(
        webhook_events.c.state == "pending", webhook_events.c.next_attempt_at <= now
    )
    return conn.execute(query.limit(1)).first() is not None


def claim_due_events(
    conn: Connection,
    now: datetime,
    lease_until: datetime,
    free_slots: Mapping[int, int],
    default_slots: int,
    limit: int,
) -> list[OutboxEvent]:
    """Lease due events, oldest first, at most `limit` and per account at most its free slots
    (`free_slots`, else `default_slots`). An event whose message has an earlier event still
    pending waits for it. The lease (next_attempt_at = lease_until) keeps other senders off it
    while it is in flight; a sender that dies lets it become due again."""
    earlier = webhook_events.alias("earlier")
    waiting_for_earlier = sa.exists().where(
        earlier.c.ordering_key == webhook_events.c.ordering_key,
        earlier.c.state == "pending",
        earlier.c.id < webhook_events.c.id,
    )
    query = (
        sa.select(webhook_events.c.id, webhook_events.c.account_id)
        .where(
            webhook_events.c.state == "pending",
            webhook_events.c.next_attempt_at <= now,
            ~waiting_for_earlier,
        )
        .order_by(webhook_events.c.id)
        .limit(CANDIDATES)
    )
    full = [account for account, slots in free_slots.items() if slots <= 0]
    if full:
        query = query.where(webhook_events.c.account_id.not_in(full))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=webhook_events)
    slots = dict(free_slots)
    chosen: list[int] = []
    for event_id, account_id in conn.execute(query):
        left = slots.get(account_id, default_slots)
        if left > 0 and len(chosen) < limit:
            chosen.append(event_id)
            slots[account_id] = left - 1
    if not chosen:
        return []
    claimed = conn.execute(
        sa.update(webhook_events)
        .where(
            webhook_events.c.id.in_(chosen),
            webhook_events.c.state == "pending",
            webhook_events.c.next_attempt_at <= now,
        )
        .values(next_attempt_at=lease_until, attempts=webhook_events.c.attempts + 1)
        .returning(
            webhook_events.c.id,
            webhook_events.c.account_id,
            webhook_events.c.kind,
            webhook_events.c.url,
            webhook_events.c.params,
            webhook_events.c.attempts,
            webhook_events.c.created_at,
        )
    ).all()
    secrets = dict(
        conn.execute(
            sa.select(accounts.c.id, accounts.c.webhook_secret).where(
                accounts.c.id.in_({row.account_id for row in claimed})
            )
        ).all()
    )
    events = [
        OutboxEvent(
            row.id,
            row.account_id,
            row.kind,
            row.url,
            orjson.loads(row.params),
            row.attempts,
            row.created_at,
            secrets.get(row.account_id) or "",
        )
        for row in claimed
    ]
    events.sort(key=lambda event: event.id)
    return events


def finish_event(
    conn: Connection,
    event_id: int,
    state: str,
    next_attempt_at: datetime | None = None,
    last_error: str = "",
) -> None:
    """Record the outcome of an attempt: `done`, `dead`, or `pending` again at next_attempt_at."""
    values: dict[str, object] = {"state": state, "last_error": last_error[:255]}
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    conn.execute(sa.update(webhook_events).where(webhook_events.c.id == event_id).values(values))
