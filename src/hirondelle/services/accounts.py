"""Accounts: creation, API-key authentication, key rotation, passwords and credits."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from hirondelle.context import Context
from hirondelle.domain.sender import parse_reply_number, reply_address
from hirondelle.domain.sending_hours import BadWindow, parse_window
from hirondelle.store import accounts as account_rows
from hirondelle.store import ledger
from hirondelle.store.accounts import LoginTaken
from hirondelle.store.ledger import InsufficientCredits

__all__ = [
    "Account",
    "AccountError",
    "InsufficientCredits",
    "LoginTaken",
    "authenticate",
    "create_account",
    "rotate_api_key",
]

MIN_PASSWORD_LENGTH = 6
_hasher = PasswordHasher()


class AccountError(ValueError):
    """A request about an account that cannot be honoured; the message says why."""


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    login: str
    role: str
    active: bool
    postpaid: bool
    parent_id: int | None
    timezone: str
    balance: int
    first_name: str
    last_name: str
    society: str
    email: str
    reply_number: str | None
    accepts_masteraccount: bool
    commercial_hours: bool
    sending_window: str
    #: throughput limits (services/access.py); None: unlimited
    messages_per_second: int | None
    requests_per_second: int | None
    #: raised by every change of the IP allow-list; 0: the account never had one
    allowlist_version: int

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Account:
        return cls(**{name: row[name] for name in cls.__slots__})


@dataclass(frozen=True)
class NewAccount:
    account: Account
    api_key: str


def api_key_digest(secret: bytes, api_key: str) -> str:
    return hmac.new(secret, api_key.encode(), hashlib.sha256).hexdigest()


def new_api_key() -> str:
    return secrets.token_hex(16)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters")


async def hash_password(password: str) -> str:
    check_password_rules(password)
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches the argon2 `password_hash` (in a thread: argon2 is slow on
    purpose). The customer area's sign-in calls it."""
    if not password_hash:
        return False
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except VerificationError:
        return False


def insert_with_key(
    conn: Connection, secret: bytes, values: Mapping[str, Any], credits: int = 0
) -> NewAccount:
    """Insert an account with a fresh API key (and opening credits) inside a transaction."""
    api_key = new_api_key()
    account_id = account_rows.insert_account(
        conn, {**values, "api_key_digest": api_key_digest(secret, api_key)}
    )
    if credits:
        ledger.move(conn, account_id, credits, "topup", "opening balance")
    row = account_rows.find_by_id(conn, account_id)
    assert row is not None
    return NewAccount(Account.from_row(row), api_key)


async def create_account(
    ctx: Context,
    login: str,
    *,
    password: str | None = None,
    credits: int = 0,
    role: str = "customer",
    **fields: Any,
) -> NewAccount:
    """Create an account; the returned API key is shown once and never stored in clear."""
    login = login.strip()
    if not login or len(login) > 64:
        raise AccountError("The login must have 1 to 64 characters")
    if credits < 0:
        raise AccountError("Opening credits cannot be negative")
    values: dict[str, Any] = {"login": login, "role": role, **fields}
    values.setdefault("timezone", ctx.settings.timezone)
    if password is not None:
        values["password_hash"] = await hash_password(password)
    return await ctx.store.write(lambda conn: insert_with_key(conn, ctx.secret, values, credits))


#: How long a process may answer a send from an authentication it made (`recent=True`): an API
#: key rotated, an account deactivated or deleted is refused by every process at most this long
#: after. Only successes are kept, and only for the sends.
RECENT_AUTH_SECONDS = 1.0
#: Authentications kept at most per process (past this the copy starts again empty).
MAX_RECENT_AUTH = 10_000


async def authenticate(
    ctx: Context,
    login: str | None,
    api_key: str | None,
    address: str | None = None,
    *,
    recent: bool = False,
) -> Account | None:
    """The active account with this login and API key, or None (constant-time comparison).

    A failure from `address` (the client's IP address) is answered after the growing delay of
    `services.authfailures`; a request without any credential is not counted.

    `recent`: the same login and key authenticated by this process less than
    RECENT_AUTH_SECONDS ago is not looked up again. The sends ask for it: the lookup was a
    round trip to PostgreSQL and a thread hop for every small send, and what a send takes from
    the account (its limits, sender, time zone) may lag that long; its credits never do (the
    debit reads the balance row).
    """
    if not login or not api_key:
        if login or api_key:
            await ctx.auth_failures.failed(login, address)
        return None
    digest = api_key_digest(ctx.secret, api_key)
    if recent:
        kept = ctx.recent_auth.get(login)
        if (
            kept is not None
            and ctx.ticks() - kept[0] < RECENT_AUTH_SECONDS
            and hmac.compare_digest(kept[1], digest)
            and isinstance(kept[2], Account)
        ):
            await ctx.auth_failures.succeeded(address)
            return kept[2]
    read_at = ctx.ticks()
    row = await ctx.store.read_inline(lambda conn: account_rows.find_for_auth(conn, login))
    expected = row["api_key_digest"] if row is not None else "0" * 64
    matches = hmac.compare_digest(expected, digest)
    if row is None or not matches or not row["active"]:
        ctx.recent_auth.pop(login, None)
        await ctx.auth_failures.failed(login, address)
        return None
    await ctx.auth_failures.succeeded(address)
    account = Account.from_row(row)
    if recent:
        if len(ctx.recent_auth) >= MAX_RECENT_AUTH:
            ctx.recent_auth.clear()
        ctx.recent_auth[login] = (read_at, digest, account)
    return account


async def find_account(ctx: Context, login: str) -> Account | None:
    row = await ctx.store.read(lambda conn: account_rows.find_by_login(conn, login))
    return Account.from_row(row) if row is not None else None


async def rotate_api_key(ctx: Context, login: str) -> str:
    """Give the account a new API key and return it: the old one stops working at once in this
    process, within RECENT_AUTH_SECONDS in the others (their recent authentications)."""
    api_key = new_api_key()

    def rotate(conn: Connection) -> None:
        row = account_rows.find_by_login(conn, login)
        if row is None:
            raise AccountError(f"No account with login {login!r}")
        account_rows.set_api_key_digest(conn, row["id"], api_key_digest(ctx.secret, api_key))

    await ctx.store.write(rotate)
    ctx.recent_auth.pop(login, None)  # at once in this process; in others, as the docstring says
    return api_key


async def configure(
    ctx: Context,
    login: str,
    *,
    reply_number: str | None = None,
    accepts_masteraccount: bool | None = None,
    commercial_hours: bool | None = None,
    sending_window: str | None = None,
) -> Account:
    """Change what the operator decides for an account: its own reply number (`none` removes
    it), whether other accounts may bind themselves under it with MASTERACCOUNT, and its French
    sending hours (every campaign commercial or not, and the window, "Mon-Sat 08:00-20:00")."""
    values: dict[str, Any] = {}
    if commercial_hours is not None:
        values["commercial_hours"] = commercial_hours
    if sending_window is not None:
        try:
            values["sending_window"] = str(parse_window(sending_window))
        except BadWindow as exc:
            raise AccountError(f"Bad sending window: {exc}") from None
    if reply_number is not None:
        values["reply_number"] = _reply_number(ctx, reply_number)
    if accepts_masteraccount is not None:
        values["accepts_masteraccount"] = accepts_masteraccount

    def change(conn: Connection) -> Account:
        row = account_rows.find_by_login(conn, login)
        if row is None:
            raise AccountError(f"No account with login {login!r}")
        number = values.get("reply_number")
        owner = account_rows.find_by_reply_number(conn, number) if number else None
        if owner is not None and owner["id"] != row["id"]:
            raise AccountError(f"{number} is already the reply number of {owner['login']}")
        account_rows.update_account(conn, row["id"], values)
        changed = account_rows.find_by_id(conn, row["id"])
        assert changed is not None
        return Account.from_row(changed)

    try:
        return await ctx.store.write(change)
    except IntegrityError as exc:  # a concurrent change took the number first
        raise AccountError(f"{values.get('reply_number')} is already a reply number") from exc


def _reply_number(ctx: Context, text: str) -> str | None:
    if text.strip().lower() == "none":
        return None
    try:
        number = parse_reply_number(text)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    if number == reply_address(ctx.settings.default_sender):
        raise AccountError(f"{number} is the platform's shared sender (default_sender)")
    return number


async def top_up(ctx: Context, login: str, credits: int, reference: str = "top-up") -> int:
    """Add credits to an account; return its new balance."""
    if credits <= 0:
        raise AccountError("A top-up must be a positive number of credits")

    def credit(conn: Connection) -> int:
        row = account_rows.find_by_login(conn, login)
        if row is None:
            raise AccountError(f"No account with login {login!r}")
        return ledger.move(conn, row["id"], credits, "topup", reference)

    return await ctx.store.write(credit)


async def list_all(ctx: Context) -> list[Account]:
    rows = await ctx.store.read(account_rows.list_accounts)
    return [Account.from_row(row) for row in rows]
