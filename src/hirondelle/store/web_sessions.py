"""Queries on sessions (customers' and administrators') and the password check that opens one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.schema import accounts, admins, web_sessions


def password_of(conn: Connection, login: str) -> RowMapping | None:
    """The id, password hash and active flag of the live account `login`, or None."""
    query = sa.select(accounts.c.id, accounts.c.password_hash, accounts.c.active).where(
        accounts.c.login == login, accounts.c.deleted_at.is_(None)
    )
    return conn.execute(query).mappings().first()


def insert_session(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(sa.insert(web_sessions).values(**values))


def _live(kind: str, digest: str, idle_since: datetime) -> list[sa.ColumnElement[bool]]:
    return [
        web_sessions.c.id_digest == digest,
        web_sessions.c.kind == kind,
        web_sessions.c.last_seen_at >= idle_since,
    ]


SESSION_COLUMNS = (
    web_sessions.c.id.label("session_id"),
    web_sessions.c.csrf_secret,
    web_sessions.c.last_seen_at,
)


def find_session(conn: Connection, digest: str, idle_since: datetime) -> RowMapping | None:
    """The customer's session and its live, active account, unless idle since `idle_since`."""
    query = (
        sa.select(*SESSION_COLUMNS, accounts)
        .join(accounts, accounts.c.id == web_sessions.c.account_id)
        .where(
            *_live("customer", digest, idle_since),
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


def find_admin_session(conn: Connection, digest: str, idle_since: datetime) -> RowMapping | None:
    """The administrator's session and its active administrator, unless idle too long."""
    query = (
        sa.select(*SESSION_COLUMNS, admins.c.id, admins.c.login)
        .join(admins, admins.c.id == web_sessions.c.admin_id)
        .where(*_live("admin", digest, idle_since), admins.c.active.is_(True))
    )
    return conn.execute(query).mappings().first()
