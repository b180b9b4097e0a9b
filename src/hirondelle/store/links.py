"""Queries on short links and their clicks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.schema import link_clicks, short_links

#: Fresh codes tried before giving up (a collision is already a one-in-10**13 event).
CODE_ATTEMPTS = 5


class CodeSpaceExhausted(RuntimeError):
    pass


def insert_link(
    conn: Connection,
    new_code: Callable[[], str],
    account_id: int,
    target: str,
    now: datetime,
    campaign_public_id: str | None = None,
    phone: str | None = None,
) -> str:
    """Insert a link under a fresh code from `new_code()`; return the code.

    `INSERT ... ON CONFLICT DO NOTHING` keeps a collision from aborting the caller's transaction.
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for _ in range(CODE_ATTEMPTS):
        code = new_code()
        query = (
            insert(short_links)
            .values(
                code=code,
                account_id=account_id,
                target=target,
                campaign_public_id=campaign_public_id,
                phone=phone,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(short_links.c.id)
        )
        if conn.execute(query).first() is not None:
            return code
    raise CodeSpaceExhausted("no free short-link code after several attempts")


def record_click(conn: Connection, code: str, agent_class: str, now: datetime) -> str | None:
    """Count a click on `code` and return the link's target, or None for an unknown code."""
    query = (
        sa.update(short_links)
        .where(short_links.c.code == code)
        .values(clicks=short_links.c.clicks + 1, last_click_at=now)
        .returning(short_links.c.id, short_links.c.target)
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    conn.execute(
        sa.insert(link_clicks).values(link_id=row.id, agent_class=agent_class, clicked_at=now)
    )
    return str(row.target)


def find_link(conn: Connection, code: str) -> RowMapping | None:
    return conn.execute(sa.select(short_links).where(short_links.c.code == code)).mappings().first()


def clicks_by_class(conn: Connection, link_id: int) -> dict[str, int]:
    query = (
        sa.select(link_clicks.c.agent_class, sa.func.count())
        .where(link_clicks.c.link_id == link_id)
        .group_by(link_clicks.c.agent_class)
    )
    return {str(name): int(count) for name, count in conn.execute(query)}
