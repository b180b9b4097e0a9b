"""Accounts on the SMPP server for customers: SMPP passwords, binds, and the receipts and
replies waiting for their receivers (docs/smpp-server.md).

The SMPP password is separate from the web password and the API key: SMPP 3.4 carries it in clear
in a 9-octet field (8 characters at most), so it opens SMPP binds and nothing else. Only its
argon2 hash is stored; verifying it runs in a thread, as for the web password, and failures count
in the same brute-force delays (`ctx.auth_failures`).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.services.accounts import Account, AccountError, hash_password, verify_password
from hirondelle.store import smpp_deliveries as rows
from hirondelle.store.smpp_deliveries import Delivery

__all__ = ["BindRefused", "Delivery", "SmppAccount", "authenticate"]

#: SMPP 3.4 §4.1.1: password is a C-octet string of 9 octets, NUL included.
MAX_SMPP_PASSWORD = 8
MIN_SMPP_PASSWORD = 6
_ALPHABET = string.ascii_letters + string.digits


class BindRefused(Exception):
    """Why a bind is refused: `credentials` (unknown login, no SMPP password or a wrong one:
    not told apart, so binds cannot probe logins) or `inactive`."""

    def __init__(self, reason: Literal["credentials", "inactive"]) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SmppAccount:
    account: Account
    max_binds: int


async def authenticate(
    ctx: Context, system_id: str, password: str, address: str | None
) -> SmppAccount:
    """The account a bind opens; BindRefused otherwise (after the growing failure delay)."""
    row = await ctx.store.read(lambda conn: rows.find_for_bind(conn, system_id))
    password_hash = row["smpp_password_hash"] if row is not None else None
    if not await verify_password(password_hash, password) or row is None:
        await ctx.auth_failures.failed(system_id, address)
        raise BindRefused("credentials")
    if not row["active"]:
        raise BindRefused("inactive")
    await ctx.auth_failures.succeeded(address)
    max_binds = row["smpp_max_binds"] or ctx.settings.smpp_server_max_binds
    return SmppAccount(Account.from_row(row), max_binds)


def new_smpp_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(MAX_SMPP_PASSWORD))


async def set_smpp_password(ctx: Context, login: str, password: str | None = None) -> str:
    """Set (or generate) the account's SMPP password and return it: shown once, only its hash
    is kept. Setting one enables SMPP for the account."""
    if password is None:
        password = new_smpp_password()
    if not MIN_SMPP_PASSWORD <= len(password) <= MAX_SMPP_PASSWORD or not password.isascii():
        raise AccountError(
            f"An SMPP password has {MIN_SMPP_PASSWORD} to {MAX_SMPP_PASSWORD} ASCII characters "
            "(SMPP 3.4 carries 8 at most)"
        )
    password_hash = await hash_password(password)
    await _update(ctx, login, {"smpp_password_hash": password_hash})
    return password


async def disable_smpp(ctx: Context, login: str) -> None:
    """Remove the SMPP password: binds are refused from now on."""
    await _update(ctx, login, {"smpp_password_hash": None})


async def set_max_binds(ctx: Context, login: str, max_binds: int | None) -> None:
    """The account's own bind limit; None goes back to the smpp_server_max_binds setting."""
    if max_binds is not None and not 1 <= max_binds <= 1000:
        raise AccountError("max_binds must be between 1 and 1000")
    await _update(ctx, login, {"smpp_max_binds": max_binds})


async def _update(ctx: Context, login: str, values: dict[str, object]) -> None:
    def change(conn: Connection) -> None:
        if not rows.set_smpp_columns(conn, login, values):
            raise AccountError(f"No account with login {login!r}")

    await ctx.store.write(change)


# -- the outbox ------------------------------------------------------------------------------------


async def pending_deliveries(
    ctx: Context, account_id: int, after: int, limit: int
) -> list[Delivery]:
    return await ctx.store.read(lambda conn: rows.pending(conn, account_id, after, limit))


async def acknowledge(ctx: Context, ids: Sequence[int]) -> None:
    """The customer answered these deliver_sm: they are done."""
    if ids:
        await ctx.store.write(lambda conn: rows.delete(conn, ids))


async def drop_expired(ctx: Context, now: datetime | None = None) -> int:
    """Drop receipts and replies older than smpp_server_delivery_hours; return how many."""
    before = (now or datetime.now(UTC)) - timedelta(hours=ctx.settings.smpp_server_delivery_hours)
    return await ctx.store.write(lambda conn: rows.drop_older_than(conn, before))
