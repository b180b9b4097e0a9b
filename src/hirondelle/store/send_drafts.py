"""The send page's drafts: an order imported and previewed, waiting for its confirmation."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.store.schema import send_drafts


def save(
    conn: Connection, account_id: int, token: str, payload: bytes, now: datetime, since: datetime
) -> None:
    """Keep a draft; drop the account's drafts created before `since`."""
    conn.execute(
        sa.delete(send_drafts).where(
            send_drafts.c.account_id == account_id, send_drafts.c.created_at < since
        )
    )
    conn.execute(
        sa.insert(send_drafts).values(
            account_id=account_id, token=token, payload=payload, created_at=now
        )
    )


def load(conn: Connection, account_id: int, token: str, since: datetime) -> bytes | None:
    """The account's draft of that token, if it is not older than `since`."""
    query = sa.select(send_drafts.c.payload).where(
        send_drafts.c.token == token,
        send_drafts.c.account_id == account_id,
        send_drafts.c.created_at >= since,
    )
    payload = conn.execute(query).scalar()
    return bytes(payload) if payload is not None else None
