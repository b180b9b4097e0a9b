"""Queries on customer-area sessions and the password check that opens one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.schema import accounts, web_sessions


def password_of(conn: Connection, login: str) -> RowMapping | None:
    """The id, password hash and active flag of the live account `login`, or None."""
    query = sa.select(accounts.c.id, accounts.c.password_hash, accounts.c.active).where(
        accounts.c.login == login, accounts.c.deleted_at.is_(None)
    )
    return conn.execute(query).mappings().first()


def insert_session(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(sa.insert(web_sessions).values(**values))


def find_session(conn: Connection, digest: str, idle_since: datetime) -> RowMapping | None:
    """The session and its live, active account, unless idle since before `idle_since`."""
    query = (
        sa.select(
            web_sessions.c.id.label("session_id"),
            web_sessions.c.csrf_secret,
            web_sessions.c.last_seen_at,
            accounts,
        )
        .join(accounts, accounts.c.id == web_sessions.c.account_id)
        .where(
            web_sessions.c.id_digest == digest,
            web_sessions.c.last_seen_at >= idle_since,
            accounts.c.deleted_at.is_(None),
            accounts.c.active.is_(True),
        )
    )
    return conn.execute(query).mappings().first()


def touch_session(conn: Connection, session_id: int, now: datetime) -> None:
    conn.execute(
        sa.update(web_sessions).where(web_sessions.c.id == session_id).values(last_seen_at=now)
    )


def delete_session(conn: Connection, digest: str) -> None:
    conn.execute(sa.delete(web_sessions).where(web_sessions.c.id_digest == digest))


def delete_idle_sessions(conn: Connection, idle_since: datetime) -> int:
    result = conn.execute(sa.delete(web_sessions).where(web_sessions.c.last_seen_at < idle_since))
    return int(result.rowcount)
