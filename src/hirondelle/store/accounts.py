"""Queries on accounts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.engine import fetch_one
from hirondelle.store.schema import accounts

#: Columns a caller may set through `insert_account` / `update_account`.
PROFILE_COLUMNS = tuple(
    c.name
    for c in accounts.columns
    if c.name not in {"id", "api_key_digest", "balance", "created_at", "deleted_at"}
)


class LoginTaken(Exception):
    pass


def insert_account(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert an account; raise LoginTaken if the login exists (deleted accounts included)."""
    if find_by_login(conn, values["login"], include_deleted=True) is not None:
        raise LoginTaken(values["login"])
    unknown = set(values) - set(PROFILE_COLUMNS) - {"api_key_digest"}
    if unknown:
        raise ValueError(f"unknown account fields: {sorted(unknown)}")
    row = {**values, "balance": 0, "created_at": datetime.now(UTC)}
    try:
        result = conn.execute(sa.insert(accounts).values(row).returning(accounts.c.id))
    except sa.exc.IntegrityError as exc:
        raise LoginTaken(values["login"]) from exc
    return int(result.scalar_one())


def update_account(conn: Connection, account_id: int, values: Mapping[str, Any]) -> None:
    if values:
        conn.execute(sa.update(accounts).where(accounts.c.id == account_id).values(**values))


def find_by_login(
    conn: Connection, login: str, *, include_deleted: bool = False
) -> RowMapping | None:
    query = sa.select(accounts).where(accounts.c.login == login)
    if not include_deleted:
        query = query.where(accounts.c.deleted_at.is_(None))
    return conn.execute(query).mappings().first()


#: The columns `services.accounts.Account` is made of, plus the key digest.
AUTH_COLUMNS = (
    "id",
    "login",
    "role",
    "active",
    "postpaid",
    "parent_id",
    "timezone",
    "balance",
    "first_name",
    "last_name",
    "society",
    "email",
    "reply_number",
    "accepts_masteraccount",
    "commercial_hours",
    "sending_window",
    "messages_per_second",
    "requests_per_second",
    "allowlist_version",
    "api_key_digest",
)


def find_for_auth(conn: Connection, login: str) -> dict[str, Any] | None:
    """The columns authentication needs, for a live account: the hot lookup of every request,
    so in driver-level SQL (a tenth of the cost of a SELECT * through SQLAlchemy)."""
    sql = f"SELECT {', '.join(AUTH_COLUMNS)} FROM accounts WHERE login = ? AND deleted_at IS NULL"
    row = fetch_one(conn, sql, (login,))
    if row is None:
        return None
    values = dict(zip(AUTH_COLUMNS, row, strict=True))
    values["active"] = bool(values["active"])
    values["postpaid"] = bool(values["postpaid"])
    values["accepts_masteraccount"] = bool(values["accepts_masteraccount"])
    return values


def find_by_id(conn: Connection, account_id: int) -> RowMapping | None:
    return conn.execute(sa.select(accounts).where(accounts.c.id == account_id)).mappings().first()


def find_by_reply_number(conn: Connection, number: str) -> RowMapping | None:
    query = sa.select(accounts).where(accounts.c.reply_number == number)
    return conn.execute(query).mappings().first()


def list_accounts(conn: Connection, parent_id: int | None = None) -> list[RowMapping]:
    query = sa.select(accounts).where(accounts.c.deleted_at.is_(None)).order_by(accounts.c.id)
    if parent_id is not None:
        query = query.where(accounts.c.parent_id == parent_id)
    return list(conn.execute(query).mappings())


def count_accounts(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(accounts)).scalar_one())


def set_api_key_digest(conn: Connection, account_id: int, digest: str) -> None:
    conn.execute(
        sa.update(accounts).where(accounts.c.id == account_id).values(api_key_digest=digest)
    )
