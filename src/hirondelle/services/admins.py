"""Platform administrators: the operators of the platform, who sign in at /admin/. They are
not customer accounts (their own table, no API key, no credits); `hirondelle admins create`
makes one. Their sessions are kept with the customers' (services/web_sessions.py) under the
kind `admin`: a customer's session never opens /admin/ and an administrator's opens no
customer page. Wrong passwords go through the same brake as the customers' (login keys are
prefixed, so an administrator and a customer of the same login do not share a count).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from hirondelle.context import Context
from hirondelle.domain.controls import has_control_chars
from hirondelle.services import web_sessions
from hirondelle.services.accounts import AccountError, hash_password
from hirondelle.store import admins as admin_rows
from hirondelle.store import web_sessions as session_rows

BRAKE_PREFIX = "admin:"


@dataclass(frozen=True)
class Admin:
    id: int
    login: str


@dataclass(frozen=True)
class AdminSession:
    admin: Admin
    csrf_secret: bytes


def _check_login(login: str) -> str:
    login = login.strip()
    if not login or len(login) > 64 or has_control_chars(login) or " " in login:
        raise AccountError("An administrator's login is 1 to 64 characters, without spaces")
    return login


async def create_admin(ctx: Context, login: str, password: str) -> Admin:
    """A new administrator (AccountError: bad login, short password, login taken)."""
    login = _check_login(login)
    password_hash = await hash_password(password)
    now = datetime.now(UTC)
    try:
        admin_id = await ctx.store.write(
            lambda conn: admin_rows.insert_admin(conn, login, password_hash, now)
        )
    except IntegrityError:
        raise AccountError(f"The administrator {login!r} exists already") from None
    return Admin(admin_id, login)


async def list_admins(ctx: Context) -> list[Admin]:
    rows = await ctx.store.read(admin_rows.list_admins)
    return [Admin(int(row["id"]), str(row["login"])) for row in rows]


async def sign_in(
    ctx: Context, login: str, password: str, address: str | None, *, replacing: str | None
) -> str | None:
    """Open an administrator's session (its id), or None after the brute-force delay."""
    login = login.strip()
    row = None
    if login and len(login) <= 64 and not has_control_chars(login):
        row = await ctx.store.read(lambda conn: admin_rows.admin_password_of(conn, login))
    brake_key = BRAKE_PREFIX + login
    if not await web_sessions.check_password(ctx, row, password, brake_key, address):
        return None
    assert row is not None
    owner = {"kind": "admin", "admin_id": int(row["id"])}
    return await web_sessions.open_session(ctx, owner, replacing)


async def current(ctx: Context, session_id: str | None) -> AdminSession | None:
    row = await web_sessions.live_row(ctx, session_id, session_rows.find_admin_session)
    if row is None:
        return None
    return AdminSession(Admin(int(row["id"]), str(row["login"])), web_sessions.csrf_secret(row))
