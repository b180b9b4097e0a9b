"""The webhook outbox: events written with what they report, delivered later by notify/."""

from __future__ import annotations

from datetime import datetime

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.store.schema import webhook_events


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
