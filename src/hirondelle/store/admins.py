"""Queries on platform administrators and what the operators' area (/admin/) reads: accounts
found by login, messages waiting, the webhook and email outboxes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.schema import (
    accounts,
    admins,
    connector_status,
    emails,
    messages,
    webhook_events,
)


def insert_admin(conn: Connection, login: str, password_hash: str, now: datetime) -> int:
    result = conn.execute(
        sa.insert(admins).values(login=login, password_hash=password_hash, created_at=now)
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def admin_password_of(conn: Connection, login: str) -> RowMapping | None:
    query = sa.select(admins.c.id, admins.c.password_hash, admins.c.active).where(
        admins.c.login == login
    )
    return conn.execute(query).mappings().first()


def list_admins(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(sa.select(admins).order_by(admins.c.login)).mappings())


def search_accounts(conn: Connection, text: str, after: str | None, limit: int) -> list[RowMapping]:
    """Live accounts whose login starts with `text`, by login, after `after` (keyset, on the
    unique index of the login)."""
    query = sa.select(accounts).where(accounts.c.deleted_at.is_(None))
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(accounts.c.login.like(escaped + "%", escape="\\"))
    if after is not None:
        query = query.where(accounts.c.login > after)
    return list(conn.execute(query.order_by(accounts.c.login).limit(limit)).mappings())


def set_active(conn: Connection, login: str, active: bool) -> bool:
    result = conn.execute(
        sa.update(accounts)
        .where(accounts.c.login == login, accounts.c.deleted_at.is_(None))
        .values(active=active)
    )
    return result.rowcount == 1


WAITING_STATES = ("queued", "claimed")


def waiting_messages(conn: Connection) -> list[RowMapping]:
    """Messages not submitted yet, counted by state, country and connector (the state's index
    holds the backlog only)."""
    query = (
        sa.select(
            messages.c.state,
            messages.c.country,
            messages.c.connector,
            sa.func.count().label("count"),
            sa.func.min(messages.c.due_at).label("oldest_due"),
        )
        .where(messages.c.state.in_(WAITING_STATES))
        .group_by(messages.c.state, messages.c.country, messages.c.connector)
        .order_by(sa.func.count().desc())
    )
    return list(conn.execute(query).mappings())


def outbox_counts(conn: Connection, table: sa.Table) -> dict[str, int]:
    query = sa.select(table.c.state, sa.func.count()).group_by(table.c.state)
    return {str(state): int(count) for state, count in conn.execute(query)}


def webhook_errors(conn: Connection, limit: int) -> list[RowMapping]:
    query = (
        sa.select(
            webhook_events.c.id,
            webhook_events.c.destination,
            webhook_events.c.state,
            webhook_events.c.attempts,
            webhook_events.c.next_attempt_at,
            webhook_events.c.last_error,
        )
        .where(webhook_events.c.last_error != "")
        .order_by(webhook_events.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def email_errors(conn: Connection, limit: int) -> list[RowMapping]:
    query = (
        sa.select(
            emails.c.id, emails.c.recipient, emails.c.state, emails.c.attempts, emails.c.detail
        )
        .where(emails.c.state.in_(("queued", "rejected", "failed")), emails.c.detail != "")
        .order_by(emails.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def save_connector_status(
    conn: Connection, process: str, statuses: Sequence[tuple[str, str]], now: datetime
) -> None:
    """Replace the rows of the connectors (name, JSON status) this process runs."""
    names = [name for name, _ in statuses]
    if not names:
        return
    conn.execute(sa.delete(connector_status).where(connector_status.c.name.in_(names)))
    conn.execute(
        sa.insert(connector_status),
        [
            {"name": name, "process": process, "status": status, "updated_at": now}
            for name, status in statuses
        ],
    )


def connector_statuses(conn: Connection) -> list[RowMapping]:
    query = sa.select(connector_status).order_by(connector_status.c.name)
    return list(conn.execute(query).mappings())
