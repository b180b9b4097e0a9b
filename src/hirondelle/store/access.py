"""Queries on the IP allow-lists (`allowed_networks`) and the throughput limits of accounts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.store.schema import accounts, allowed_networks


def networks_of(conn: Connection, account_id: int) -> list[str]:
    query = (
        sa.select(allowed_networks.c.network)
        .where(allowed_networks.c.account_id == account_id)
        .order_by(allowed_networks.c.network)
    )
    return list(conn.execute(query).scalars())


def replace_networks(conn: Connection, account_id: int, networks: Sequence[str]) -> None:
    """Make `networks` the account's whole list and raise its
    `allowlist_version`, in the caller's transaction. The account row is updated first: two
    concurrent changes of one list wait for each other on it."""
    conn.execute(
        sa.update(accounts)
        .where(accounts.c.id == account_id)
        .values(allowlist_version=accounts.c.allowlist_version + 1)
    )
    conn.execute(sa.delete(allowed_networks).where(allowed_networks.c.account_id == account_id))
    if networks:
        now = datetime.now(UTC)
        rows = [{"account_id": account_id, "network": n, "created_at": now} for n in networks]
        conn.execute(sa.insert(allowed_networks), rows)


def set_limits(
    conn: Connection,
    account_id: int,
    messages_per_second: int | None,
    requests_per_second: int | None,
) -> None:
    conn.execute(
        sa.update(accounts)
        .where(accounts.c.id == account_id)
        .values(messages_per_second=messages_per_second, requests_per_second=requests_per_second)
    )


def allowlist_of(conn: Connection, account_id: int) -> tuple[int, list[str]]:
    """The account's `allowlist_version` and its networks, read together."""
    query = sa.select(accounts.c.allowlist_version).where(accounts.c.id == account_id)
    version = conn.execute(query).scalar_one_or_none()
    return int(version or 0), networks_of(conn, account_id)
