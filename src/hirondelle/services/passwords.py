"""Set-password links: a new sub-account chooses its own password; no password is ever emailed.

A token is `secrets.token_urlsafe(32)`, shown once (in the link of the welcome email) and stored
only as an HMAC-SHA256 digest keyed with the platform secret. It is single use (consumed in the
same statement that checks it, in the transaction that stores the new password) and expires after
`set_password_token_hours`. Setting the password retires every other open token of the account.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.services.accounts import AccountError, check_password_rules, hash_password
from hirondelle.store import passwords as token_rows

SET_PASSWORD_PATH = "/account/set-password"
#: Longer than any token we issue; anything else is not worth a database lookup.
MAX_TOKEN_LENGTH = 128

Problem = Literal["unknown", "used", "expired"]


class TokenRefused(Exception):
    """The link cannot set a password: unknown (or malformed), already used, or expired."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        self.problem = problem


class PasswordRefused(ValueError):
    """The new password breaks a rule; the message says which, for the person typing it."""


def token_digest(secret: bytes, token: str) -> str:
    return hmac.new(secret, b"set-password\0" + token.encode(), hashlib.sha256).hexdigest()


def issue_token(
    conn: Connection, secret: bytes, account_id: int, hours: float, now: datetime | None = None
) -> str:
    """Store a new token of `account_id` inside the caller's transaction; return the token."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    digest = token_digest(secret, token)
    token_rows.insert_token(conn, account_id, digest, now, now + timedelta(hours=hours))
    return token


def set_password_link(base_url: str, token: str) -> str:
    return f"{base_url}{SET_PASSWORD_PATH}?token={token}"


@dataclass(frozen=True)
class OpenToken:
    """A token that can still set a password: whose account it opens, and until when."""

    digest: str
    login: str
    expires_at: datetime


def _well_formed(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN_LENGTH and token.isascii()


async def check_token(ctx: Context, token: str, now: datetime | None = None) -> OpenToken:
    """The open token behind `token`; TokenRefused says why it cannot be used."""
    now = now or datetime.now(UTC)
    if not _well_formed(token):
        raise TokenRefused("unknown")
    digest = token_digest(ctx.secret, token)
    row = await ctx.store.read(lambda conn: token_rows.find_token(conn, digest))
    if row is None or row["deleted_at"] is not None:
        raise TokenRefused("unknown")
    if row["used_at"] is not None:
        raise TokenRefused("used")
    expires_at = row["expires_at"]
    if expires_at <= now:
        raise TokenRefused("expired")
    return OpenToken(digest, row["login"], expires_at)


def check_new_password(password: str, confirmation: str) -> None:
    if password != confirmation:
        raise PasswordRefused("The two passwords are not the same")
    try:
        check_password_rules(password)
    except AccountError as exc:
        raise PasswordRefused(str(exc)) from exc


async def set_password(ctx: Context, token: str, password: str, confirmation: str) -> str:
    """Set the password of the account `token` opens and consume the token; return the login.

    Checks the token first (no argon2 work for a dead link), then the password rules; raises
    TokenRefused or PasswordRefused and changes nothing in either case. A token used by a
    concurrent request between the check and the write is refused as `used`.
    """
    open_token = await check_token(ctx, token)
    check_new_password(password, confirmation)
    password_hash = await hash_password(password)

    def store(conn: Connection) -> str:
        now = datetime.now(UTC)
        account_id = token_rows.consume_token(conn, open_token.digest, now)
        if account_id is None:
            row = token_rows.find_token(conn, open_token.digest)
            raise TokenRefused("expired" if row is not None and row["used_at"] is None else "used")
        if not token_rows.set_password_hash(conn, account_id, password_hash):
            raise TokenRefused("unknown")  # the account was deleted meanwhile
        token_rows.retire_tokens(conn, account_id, now)
        return open_token.login

    return await ctx.store.write(store)
