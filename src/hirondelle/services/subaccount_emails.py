"""The summary emails of createSubAccount (SENDEMAILTOCUSTOMER, SENDEMAILTOMASTERACCOUNT).

Both are queued with `add_notification` inside the transaction that creates the sub-account, so
they exist exactly when the account does; the email sender delivers them afterwards. The
customer's email carries a single-use set-password link; neither carries a password, an API key
or a token digest. Each request also leaves a `pending_emails` row (state `sent` once queued,
`failed` when the address cannot receive mail) so a master's support can see what was asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain.email import normalize_address
from hirondelle.services.accounts import Account
from hirondelle.services.email import add_notification
from hirondelle.services.passwords import issue_token, set_password_link
from hirondelle.store import subaccounts as sub_rows

API_PATH = "/http/9.0/"


def _name(row: Mapping[Any, Any] | Account) -> str:
    """A person's name as the account gives it: first and last name, else company, else login."""
    if isinstance(row, Account):
        row = {name: getattr(row, name) for name in ("first_name", "last_name", "society", "login")}
    full = " ".join(part for part in (row["first_name"], row["last_name"]) if part)
    return str(full or row["society"] or row["login"])


def _yes(flag: object) -> str:
    return "yes" if flag else "no"


def customer_text(
    sub: Account, company: str, master: Mapping[Any, Any], base_url: str, link: str, hours: float
) -> str:
    return (
        f"Hello {_name(sub)},\n\n"
        f"{_name(master)} has opened an SMS account for you.\n\n"
        f"  Login:        {sub.login}\n"
        f"  Company:      {company or '-'}\n"
        f"  Managed by:   {_name(master)}\n"
        f"  API endpoint: {base_url}{API_PATH}\n\n"
        "Choose your password here (the link works once, for "
        f"{hours:g} hours):\n\n  {link}\n\n"
        "No password is sent by email. Your API key is not either: ask "
        f"{_name(master)} for it.\n"
    )


def master_text(sub: Account, master: Mapping[Any, Any]) -> str:
    return (
        f"Hello {_name(master)},\n\n"
        "A sub-account has been created under your account.\n\n"
        f"  Login:    {sub.login}\n"
        f"  Name:     {_name(sub)}\n"
        f"  Credits:  {sub.balance}\n"
        f"  Active:   {_yes(sub.active)}\n"
        f"  Postpaid: {_yes(sub.postpaid)}\n\n"
        "Its owner received no password: if a summary was sent to them, it holds a link to "
        "choose one.\n"
    )


def queue_summaries(
    conn: Connection,
    ctx: Context,
    sub: Account,
    master: Mapping[Any, Any],
    *,
    to_customer: bool,
    to_master: bool,
) -> None:
    """Queue the summaries asked for, inside the caller's (account-creating) transaction."""
    now = datetime.now(UTC)
    if to_customer and sub.email:
        hours = ctx.settings.set_password_token_hours
        token = issue_token(conn, ctx.secret, sub.id, hours, now)
        link = set_password_link(ctx.settings.base_url, token)
        text = customer_text(sub, sub.society or "", master, ctx.settings.base_url, link, hours)
        subject = f"Your SMS account {sub.login}: choose your password"
        add_notification(conn, ctx.settings, sub.email, subject, text)
        sub_rows.record_email(conn, sub.id, "subaccount_to_customer", sub.email, "sent", now)
    if to_master and master["email"]:
        if normalize_address(master["email"]) is None:  # an old, invalid address: say so
            sub_rows.record_email(conn, sub.id, "subaccount_to_master", master["email"], "failed")
            return
        subject = f"New sub-account {sub.login}"
        add_notification(conn, ctx.settings, master["email"], subject, master_text(sub, master))
        sub_rows.record_email(conn, sub.id, "subaccount_to_master", master["email"], "sent", now)
