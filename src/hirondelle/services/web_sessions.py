"""Customer-area sessions, kept in the store (DESIGN.md §7) so any `web` process serves any
request and signing out revokes at once.

The browser's cookie holds a random id (`secrets.token_urlsafe(32)`); the store keeps only its
SHA-256 digest. Each session has its own random CSRF secret, the key of its forms' tokens. A
session idle for `IDLE_SECONDS` is over; `last_seen_at` is written at most once a `TOUCH_SECONDS`
so that reading pages does not turn into one write each.

Wrong passwords go through the same brake as the APIs' wrong keys (`ctx.auth_failures`): counted
per login and per client address, answered after a growing delay.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from hirondelle.context import Context
from hirondelle.domain.controls import has_control_chars
from hirondelle.services.accounts import Account, verify_password
from hirondelle.store import web_sessions as session_rows

IDLE_SECONDS = 12 * 3600
TOUCH_SECONDS = 60
#: Longer than any id we issue; anything else is not worth a database lookup.
MAX_ID_LENGTH = 64
#: Verified when the login is unknown, so that a wrong login costs the same argon2 work.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$dtL3jBMSaQDlJqql4NhO1g$"
    "uQarSfniu+Wyb0ct7oeJoDKqXoaiqZ6uOQtwhrhgezU"
)


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: its account and the key of its forms' CSRF tokens."""

    account: Account
    csrf_secret: bytes


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def sign_in(
    ctx: Context,
    login: str,
    password: str,
    address: str | None,
    *,
    replacing: str | None = None,
) -> str | None:
    """Check the password and open a session; return its id (for the cookie), or None.

    `replacing` is the session id the browser held before, revoked here: a new id at every
    sign-in (no session fixation). A failure is answered after the brute-force delay.
    """
    login = login.strip()
    row = None
    if login and len(login) <= 64 and not has_control_chars(login):
        row = await ctx.store.read(lambda conn: session_rows.password_of(conn, login))
    if not await check_password(ctx, row, password, login, address):
        return None
    assert row is not None
    return await open_session(ctx, {"kind": "customer", "account_id": int(row["id"])}, replacing)


async def check_password(
    ctx: Context, row: RowMapping | None, password: str, login: str, address: str | None
) -> bool:
    """Whether `row` (id, password_hash, active; None for an unknown login) is active and
    `password` is its password: the same argon2 work either way, failures braked per `login`
    and `address`."""
    stored = row["password_hash"] if row is not None else None
    good = await verify_password(stored or _DUMMY_HASH, password) and stored is not None
    if row is None or not good or not row["active"]:
        await ctx.auth_failures.failed(login or None, address)
        return False
    await ctx.auth_failures.succeeded(address)
    return True


async def open_session(ctx: Context, owner: dict[str, Any], replacing: str | None) -> str:
    """A new session of `owner` (kind and account_id or admin_id); revokes `replacing`."""
    session_id = secrets.token_urlsafe(32)

    def write(conn: Connection) -> None:
        now = datetime.now(UTC)
        if replacing:
            session_rows.delete_session(conn, _digest(replacing))
        session_rows.delete_idle_sessions(conn, now - timedelta(seconds=IDLE_SECONDS))
        values = {
            "id_digest": _digest(session_id),
            "csrf_secret": secrets.token_hex(32),
            "created_at": now,
            "last_seen_at": now,
            **owner,
        }
        session_rows.insert_session(conn, values)

    await ctx.store.write(write)
    return session_id


async def current(ctx: Context, session_id: str | None) -> WebSession | None:
    """The live session behind the cookie's id, or None (unknown, idle too long, account gone)."""
    row = await live_row(ctx, session_id, session_rows.find_session)
    return None if row is None else WebSession(Account.from_row(row), csrf_secret(row))


def csrf_secret(row: RowMapping) -> bytes:
    return bytes.fromhex(row["csrf_secret"])


SessionFinder = Callable[[Connection, str, datetime], RowMapping | None]


async def live_row(ctx: Context, session_id: str | None, find: SessionFinder) -> RowMapping | None:
    """The row `find` gives for the cookie's id unless idle too long; its `last_seen_at` is
    written at most once a `TOUCH_SECONDS`."""
    if not session_id or len(session_id) > MAX_ID_LENGTH or not session_id.isascii():
        return None
    now = datetime.now(UTC)
    idle_since = now - timedelta(seconds=IDLE_SECONDS)
    digest = _digest(session_id)
    row = await ctx.store.read(lambda conn: find(conn, digest, idle_since))
    if row is None:
        return None
    if now - row["last_seen_at"] > timedelta(seconds=TOUCH_SECONDS):
        session = int(row["session_id"])
        await ctx.store.write(lambda conn: session_rows.touch_session(conn, session, now))
    return row


async def sign_out(ctx: Context, session_id: str) -> None:
    """Revoke the session at once: its cookie opens nothing from now on, on any process."""
    digest = _digest(session_id)
    await ctx.store.write(lambda conn: session_rows.delete_session(conn, digest))
