"""Forgotten passwords: "forgot your password?" on the sign-in form emails a single-use link to
the set-password page (the tokens of services/passwords.py, which retire every other open link
once a password is set).

Whoever asks gets the same answer whether or not the login exists, has an email address, or was
sent a link: nothing tells an attacker which logins exist. Two brakes hold back email bombing:
in the store, at most `RESETS_PER_HOUR` links per account and hour (any process, any address);
in each process, every request counts against its login and its client address in a brake of
its own, which answers after a growing delay, as wrong passwords are (`Context.reset_brake`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain.controls import has_control_chars
from hirondelle.domain.email import normalize_address
from hirondelle.services.email import add_notification
from hirondelle.services.passwords import issue_token, set_password_link
from hirondelle.store import passwords as token_rows

RESETS_PER_HOUR = 3
SUBJECT = "Choose a new password for {login}"


def reset_text(login: str, link: str, minutes: float) -> str:
    return (
        f"Hello,\n\nSomeone (you, we hope) asked to choose a new password for the SMS account "
        f"{login}.\n\nChoose it here (the link works once, for {minutes:g} minutes):\n\n"
        f"  {link}\n\nIf you did not ask, ignore this email: your password has not changed.\n"
    )


async def request_reset(
    ctx: Context, login: str, address: str | None, now: datetime | None = None
) -> bool:
    """Email a link to choose a new password to the account `login` when it is live, active,
    has an email address and was given fewer than `RESETS_PER_HOUR` links in the last hour.

    Returns whether an email was queued — for tests and logs only: the page never says.
    """
    login = login.strip()
    await ctx.reset_brake.failed(login or None, address)
    if not login or len(login) > 64 or has_control_chars(login):
        return False
    moment = now or datetime.now(UTC)
    minutes = ctx.settings.password_reset_minutes

    def issue(conn: Connection) -> bool:
        row = token_rows.reset_target(conn, login)
        if row is None or not row["active"] or not row["email"]:
            return False
        email = normalize_address(row["email"])
        account_id = int(row["id"])
        recent = token_rows.tokens_since(conn, account_id, moment - timedelta(hours=1))
        if email is None or recent >= RESETS_PER_HOUR:
            return False
        token = issue_token(conn, ctx.secret, account_id, minutes / 60, moment)
        link = set_password_link(ctx.settings.base_url, token)
        subject = SUBJECT.format(login=login)
        add_notification(conn, ctx.settings, email, subject, reset_text(login, link, minutes))
        return True

    return await ctx.store.write(issue)
