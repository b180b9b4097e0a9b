"""Sub-accounts (manual §16–§20): a master creates, edits, lists, credits and deletes its own.

Rules kept here, whoever calls (API 9.0, customer area, CLI):

* one level only: a master is an account without a parent; a sub-account has no sub-accounts;
* logins are unique across the platform, deleted accounts included (their history keeps them);
* POSTPAID only under a postpaid master; ACTIVE=0 keeps the sub-account out of the API;
* credits move between a master and its sub-account only as a pair of ledger rows
  (`transfer_out` on one side, `transfer_in` on the other, one shared reference) in one
  transaction, with both rows locked in id order so concurrent opposite transfers cannot deadlock;
* deleting a sub-account is a soft delete that hands its remaining credits back to the master.

Values come in keyed by `accounts` column (`first_name`, `bill_email`, ...) as raw text, plus
`login`, `password`, `postpaid`, `active`, `profile` and the two `send_email_to_*` flags;
`clean_values` validates them. Every function checks everything before writing anything.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from hirondelle.context import Context
from hirondelle.domain.numbers import InvalidNumber, parse_mobile
from hirondelle.services.accounts import (
    Account,
    AccountError,
    LoginTaken,
    check_password_rules,
    hash_password,
    insert_with_key,
)
from hirondelle.services.subaccount_emails import queue_summaries
from hirondelle.store import accounts as account_rows
from hirondelle.store import ledger
from hirondelle.store import subaccounts as sub_rows
from hirondelle.store.ledger import InsufficientCredits

__all__ = [
    "BindRefused",
    "LoginTaken",
    "SubAccountDetails",
    "SubAccountError",
    "TransferRefused",
    "bind_to_master",
    "create_subaccount",
    "delete_subaccount",
    "list_subaccounts",
    "transfer_credits",
    "update_subaccount",
]

#: Columns of manual §16: checked as email addresses, as mobile numbers, or free text.
EMAIL_FIELDS = ("email", "bill_email")
MOBILE_FIELDS = ("mobile", "bill_mobile")
#: An allow-list on purpose (not derived from the schema): a column added to `accounts` later
#: must not become something a master can set through accountData without a decision.
TEXT_FIELDS = (
    *("first_name", "last_name", "society", "phone", "website", "address", "zip", "city"),
    *("country", "bill_first_name", "bill_last_name", "bill_society", "bill_address"),
    *("bill_zip", "bill_city", "bill_country", "bill_phone", "profile"),
)
EMAIL_FLAGS = ("send_email_to_customer", "send_email_to_master_account")
BOOLEAN_FIELDS = ("postpaid", "active", *EMAIL_FLAGS)
REQUIRED_ON_CREATE = ("first_name", "last_name", "email", "login", "password")
KNOWN_FIELDS = frozenset(
    (*TEXT_FIELDS, *EMAIL_FIELDS, *MOBILE_FIELDS, *BOOLEAN_FIELDS, "login", "password")
)

MAX_TEXT = 255
MAX_TRANSFER = 10**12
_LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# The WHATWG "valid e-mail address", with at least one dot in the domain.
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
_BOOLEANS = {"1": True, "0": False, "true": True, "false": False}


class SubAccountError(AccountError):
    """A sub-account request refused; the message says why (annex 10 status 0)."""


class TransferRefused(AccountError):
    """A credit transfer refused for one of the reasons of manual §19's table."""

    def __init__(self, reason: Literal["not_linked", "postpaid", "sub_short", "master_short"]):
        super().__init__(reason)
        self.reason = reason


class BindRefused(AccountError):
    """MASTERACCOUNT named no valid master for this account; the message says why."""


@dataclass(frozen=True)
class SubAccountDetails:
    """What getSubAccounts shows of one sub-account."""

    login: str
    balance: int
    active: bool
    postpaid: bool
    created_at: datetime
    timezone: str
    fields: dict[str, str]  # the TEXT/EMAIL/MOBILE columns

    @classmethod
    def from_row(cls, row: RowMapping) -> SubAccountDetails:
        return cls(
            login=row["login"],
            balance=int(row["balance"]),
            active=bool(row["active"]),
            postpaid=bool(row["postpaid"]),
            created_at=row["created_at"],
            timezone=row["timezone"],
            fields={name: row[name] for name in (*TEXT_FIELDS, *EMAIL_FIELDS, *MOBILE_FIELDS)},
        )


# -- validation --------------------------------------------------------------------------------


def clean_values(values: Mapping[str, str], *, creating: bool) -> dict[str, Any]:
    """Validated, normalised values (empty ones count as absent); SubAccountError otherwise."""
    present = {k: v.strip() for k, v in values.items() if v is not None and v.strip()}
    unknown = sorted(set(present) - KNOWN_FIELDS)
    if unknown:
        raise SubAccountError(f"Unknown fields: {', '.join(unknown)}")
    if creating:
        missing = [name for name in REQUIRED_ON_CREATE if name not in present]
        if missing:
            raise SubAccountError(f"Missing required fields: {', '.join(_tags(missing))}")
    clean: dict[str, Any] = {}
    for name, value in present.items():
        if name in BOOLEAN_FIELDS:
            if value.lower() not in _BOOLEANS:
                raise SubAccountError(f"{_tag(name)} must be 0 or 1, not {value!r}")
            clean[name] = _BOOLEANS[value.lower()]
            continue
        if len(value) > MAX_TEXT:
            raise SubAccountError(f"{_tag(name)} is longer than {MAX_TEXT} characters")
        if name in EMAIL_FIELDS and _EMAIL.fullmatch(value) is None:
            raise SubAccountError(f"{_tag(name)} is not a valid email address: {value!r}")
        if name in MOBILE_FIELDS:
            try:
                value = parse_mobile(value).digits
            except InvalidNumber as exc:
                raise SubAccountError(f"{_tag(name)} is not a valid mobile number") from exc
        if name == "login" and _LOGIN.fullmatch(value) is None:
            raise SubAccountError(
                "LOGIN must be 1 to 64 letters, digits or . _ @ -, starting with a letter or digit"
            )
        if name == "password":
            try:
                check_password_rules(value)
            except AccountError as exc:
                raise SubAccountError(str(exc)) from exc
        clean[name] = value
    return clean


def _tag(name: str) -> str:
    return name.replace("_", "").upper()


def _tags(names: list[str]) -> list[str]:
    return [_tag(name) for name in names]


def _check_master(row: RowMapping | None) -> RowMapping:
    if row is None or not row["active"] or row["deleted_at"] is not None:
        raise SubAccountError("The master account is not active")
    if row["parent_id"] is not None:
        raise SubAccountError("A sub-account cannot have sub-accounts of its own")
    return row


def _check_postpaid(master: RowMapping, values: Mapping[str, Any]) -> None:
    if values.get("postpaid") and not master["postpaid"]:
        raise SubAccountError("POSTPAID is only possible when the master account is postpaid")


# -- use cases ---------------------------------------------------------------------------------


async def create_subaccount(ctx: Context, master: Account, values: Mapping[str, str]) -> Account:
    """Create a sub-account of `master` from §16's fields; its password is stored argon2-hashed.

    Raises SubAccountError (invalid values, POSTPAID under a prepaid master, a sub-account as
    master) or LoginTaken. The summary emails asked for are queued in the same transaction
    (`subaccount_emails`): the customer's carries a set-password link, never a password.
    """
    clean = clean_values(values, creating=True)
    password_hash = await hash_password(clean.pop("password"))
    emails = {k: clean.pop(k, False) for k in EMAIL_FLAGS}

    def create(conn: Connection) -> Account:
        row = _check_master(sub_rows.lock_accounts(conn, master.id).get(master.id))
        _check_postpaid(row, clean)
        fields = {
            **clean,
            "password_hash": password_hash,
            "parent_id": row["id"],
            "timezone": row["timezone"],
            "role": "customer",
        }
        account = insert_with_key(conn, ctx.secret, fields).account
        queue_summaries(
            conn,
            ctx,
            account,
            row,
            to_customer=emails["send_email_to_customer"],
            to_master=emails["send_email_to_master_account"],
        )
        return account

    return await ctx.store.write(create)


async def update_subaccount(
    ctx: Context, master: Account, login: str, values: Mapping[str, str]
) -> Account:
    """Change the §17 fields given (absent ones keep their value) of `master`'s sub-account."""
    clean = clean_values(values, creating=False)
    for flag in EMAIL_FLAGS:
        clean.pop(flag, None)
    if "password" in clean:
        clean["password_hash"] = await hash_password(clean.pop("password"))

    def update(conn: Connection) -> Account:
        master_row = _check_master(sub_rows.lock_accounts(conn, master.id).get(master.id))
        sub = sub_rows.child_of(conn, master.id, login)
        if sub is None:
            raise SubAccountError(f"Unknown sub-account: {login}")
        _check_postpaid(master_row, clean)
        if clean.get("postpaid") is False and sub["balance"] < 0:
            raise SubAccountError("A sub-account with a negative balance cannot become prepaid")
        new_login = clean.get("login", login)
        if new_login != login and account_rows.find_by_login(conn, new_login, include_deleted=True):
            raise LoginTaken(new_login)
        try:
            account_rows.update_account(conn, sub["id"], clean)
        except IntegrityError as exc:  # a concurrent request took the new login first
            raise LoginTaken(new_login) from exc
        return _reread(conn, sub["id"])

    return await ctx.store.write(update)


async def list_subaccounts(ctx: Context, master_id: int) -> list[SubAccountDetails]:
    """The live sub-accounts of `master_id`, oldest first."""
    rows = await ctx.store.read(lambda conn: account_rows.list_accounts(conn, master_id))
    return [SubAccountDetails.from_row(row) for row in rows]


def _reread(conn: Connection, account_id: int) -> Account:
    row = account_rows.find_by_id(conn, account_id)
    assert row is not None
    return Account.from_row(row)


def _move_pair(conn: Connection, giver: int, taker: int, credits: int, reference: str) -> None:
    # Both rows are locked already; the order of the two moves does not matter any more.
    ledger.move(conn, giver, -credits, "transfer_out", reference)
    ledger.move(conn, taker, credits, "transfer_in", reference)


async def transfer_credits(ctx: Context, master: Account, login: str, credits: int) -> int:
    """Move `credits` from `master` to its sub-account `login` (negative: back to the master).

    One transaction, two ledger rows sharing a `transfer <uuid>` reference. Returns the
    sub-account's new balance; raises TransferRefused with §19's reason otherwise.
    """
    if credits == 0 or abs(credits) > MAX_TRANSFER:
        raise AccountError(f"credits must be a non-zero whole number up to {MAX_TRANSFER}")
    reference = f"transfer {uuid.uuid4().hex}"

    def transfer(conn: Connection) -> int:
        sub = sub_rows.child_of(conn, master.id, login)
        if sub is None:
            raise TransferRefused("not_linked")
        rows = sub_rows.lock_accounts(conn, master.id, sub["id"])
        if sub["id"] not in rows or rows[sub["id"]]["parent_id"] != master.id:
            raise TransferRefused("not_linked")
        if rows[sub["id"]]["postpaid"]:
            raise TransferRefused("postpaid")
        giver, taker = (master.id, sub["id"]) if credits > 0 else (sub["id"], master.id)
        try:
            _move_pair(conn, giver, taker, abs(credits), reference)
        except InsufficientCredits as exc:
            raise TransferRefused("master_short" if credits > 0 else "sub_short") from exc
        return ledger.balance_of(conn, sub["id"])

    return await ctx.store.write(transfer)


async def delete_subaccount(ctx: Context, master: Account, login: str) -> int:
    """Soft-delete `master`'s sub-account `login`, handing its positive balance back to the master
    (a ledger pair); return the credits handed back. Its messages and ledger stay for statistics
    and its login stays taken. A postpaid sub-account's debt stays on its own record."""

    def delete(conn: Connection) -> int:
        sub = sub_rows.child_of(conn, master.id, login)
        if sub is None:
            raise SubAccountError(f"Unknown sub-account: {login}")
        if sub_rows.has_children(conn, sub["id"]):
            raise SubAccountError(f"{login} has sub-accounts of its own")
        rows = sub_rows.lock_accounts(conn, master.id, sub["id"])
        balance = int(rows[sub["id"]]["balance"])
        if balance > 0:
            _move_pair(conn, sub["id"], master.id, balance, f"delete {sub['login']}"[:64])
        sub_rows.soft_delete(conn, sub["id"])
        return max(balance, 0)

    return await ctx.store.write(delete)


def bind_to_master(conn: Connection, account_id: int, master_login: str) -> None:
    """Make the account a sub-account of `master_login` (sendSms's MASTERACCOUNT, manual §6).

    Runs inside the send's own transaction, before its debit, so a refused send binds nothing.
    Binds only when the master exists, is active, is itself no sub-account and has consented
    (`accepts_masteraccount`), and the account is not the master, has no master yet (already
    bound to this one: nothing to do), has no sub-accounts of its own and is not postpaid under a
    prepaid master; raises BindRefused with the reason otherwise. Rows locked in id order.
    """
    master = account_rows.find_by_login(conn, master_login.strip())
    if master is None:
        raise BindRefused(f"MASTERACCOUNT: no account with login {master_login!r}")
    rows = sub_rows.lock_accounts(conn, master["id"], account_id)
    master, own = rows.get(master["id"]), rows.get(account_id)
    if own is None:
        raise BindRefused("MASTERACCOUNT: the sending account no longer exists")
    if master is None or not master["active"]:
        raise BindRefused(f"MASTERACCOUNT: the account {master_login!r} is not active")
    if master["id"] == own["id"]:
        raise BindRefused("MASTERACCOUNT: an account cannot be its own master")
    if own["parent_id"] == master["id"]:
        return
    if own["parent_id"] is not None:
        raise BindRefused("MASTERACCOUNT: this account already has another master")
    if master["parent_id"] is not None:
        raise BindRefused(f"MASTERACCOUNT: {master_login!r} is itself a sub-account")
    if not master["accepts_masteraccount"]:
        raise BindRefused(f"MASTERACCOUNT: {master_login!r} does not accept MASTERACCOUNT")
    if sub_rows.has_children(conn, own["id"]):
        raise BindRefused("MASTERACCOUNT: this account has sub-accounts of its own")
    if own["postpaid"] and not master["postpaid"]:
        raise BindRefused("MASTERACCOUNT: a postpaid account needs a postpaid master")
    account_rows.update_account(conn, own["id"], {"parent_id": master["id"]})
