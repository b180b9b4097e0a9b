"""Queries on set-password tokens: issue one, look one up, consume it with the new password."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.schema import accounts, password_tokens


def insert_token(
    conn: Connection, account_id: int, digest: str, now: datetime, expires_at: datetime
) -> None:
    conn.execute(
        sa.insert(password_tokens).values(
            account_id=account_id, token_digest=digest, created_at=now, expires_at=expires_at
        )
    )


def find_token(conn: Connection, digest: str) -> RowMapping | None:
    """The token with this digest and its account's login and deletion date, or None."""
    query = (
        sa.select(password_tokens, accounts.c.login, accounts.c.deleted_at)
        .join(accounts, accounts.c.id == password_tokens.c.account_id)
        .where(password_tokens.c.token_digest == digest)
    )
    return conn.execute(query).mappings().first()


def consume_token(conn: Connection, digest: str, now: datetime) -> int | None:
    """Mark the token used if it is still unused and unexpired (one statement: two concurrent
    requests cannot both win); return its account id, or None if it was not usable."""
    result = conn.execute(
        sa.update(password_tokens)
        .where(
            password_tokens.c.token_digest == digest,
            password_tokens.c.used_at.is_(None),
            password_tokens.c.expires_at > now,
        )
        .values(used_at=now)
        .returning(password_tokens.c.account_id)
    )
    account_id = result.scalar_one_or_none()
    return None if account_id is None else int(account_id)


def retire_tokens(conn: Connection, account_id: int, now: datetime) -> None:
    """Mark every other unused token of the account used: a password once set closes them all."""
    conn.execute(
        sa.update(password_tokens)
        .where(password_tokens.c.account_id == account_id, password_tokens.c.used_at.is_(None))
        .values(used_at=now)
    )


def set_password_hash(conn: Connection, account_id: int, password_hash: str) -> bool:
    """Store the hash on the live account; False if the account was deleted meanwhile."""
    result = conn.execute(
        sa.update(accounts)
        .where(accounts.c.id == account_id, accounts.c.deleted_at.is_(None))
        .values(password_hash=password_hash)
    )
    return result.rowcount == 1


def reset_target(conn: Connection, login: str) -> RowMapping | None:
    """The id, email and active flag of the live account `login`, or None."""
    query = sa.select(accounts.c.id, accounts.c.email, accounts.c.active).where(
        accounts.c.login == login, accounts.c.deleted_at.is_(None)
    )
    return conn.execute(query).mappings().first()


def tokens_since(conn: Connection, account_id: int, since: datetime) -> int:
    """How many links the account was given since `since` (its index on account_id)."""
    query = sa.select(sa.func.count()).where(
        password_tokens.c.account_id == account_id, password_tokens.c.created_at >= since
    )
    return int(conn.execute(query).scalar_one())
