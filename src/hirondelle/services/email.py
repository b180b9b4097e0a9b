"""Email: sendEmail (manual §29), the platform's own notifications, and the background sender.

Accepting is one transaction: the campaign, one queued row per recipient and the credit debit are
written together, and the API answers only once they are durable. Delivery happens afterwards in
`run_email_sender`, which claims due emails in batches, hands each batch to the mailer (one SMTP
connection, or the local maildir) and records every recipient's outcome. An email the relay
refuses for good, or that still fails after `MAX_ATTEMPTS`, has its credits refunded.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.config import Settings
from hirondelle.context import Context
from hirondelle.domain.dates import format_local
from hirondelle.domain.email import (
    EmailDraft,
    EmailRejected,
    EmailStatus,
    check_draft,
    email_status_text,
    header_value,
    html_to_text,
    normalize_address,
)
from hirondelle.notify.mailer import Mailer, Outcome, OutgoingEmail, mailer_for
from hirondelle.services.accounts import Account
from hirondelle.store import emails as email_rows
from hirondelle.store import ledger
from hirondelle.store.ledger import InsufficientCredits

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
POLL_SECONDS = 1.0
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class EmailOutcome:
    """What became of a sendEmail request (§29.3): accepted with a campaign id, or refused;
    `api/v9` writes it as the answer."""

    status: EmailStatus
    text: str
    campaign_id: str = ""
    invalid: tuple[str, ...] = ()
    credits: int | None = None

    @classmethod
    def refused(cls, status: EmailStatus, detail: str = "") -> EmailOutcome:
        return cls(status, EmailRejected(status, detail).text)


async def send_email(ctx: Context, account: Account, draft: EmailDraft) -> EmailOutcome:
    """Accept an email campaign for `account`: check it, debit it, store it; send it later.

    Every refusal is an EmailOutcome with an annex 21 status, and changes nothing.
    """
    now = datetime.now(UTC)
    try:
        email = check_draft(draft, account.timezone, now)
    except EmailRejected as exc:
        return EmailOutcome(exc.status, exc.text)
    credits_each = ctx.settings.email_credits
    total = credits_each * len(email.recipients)
    due_at = email.due_at or now
    scheduled = due_at > now
    public_id = str(uuid.uuid4())
    values = {
        "public_id": public_id,
        "account_id": account.id,
        "kind": "api",
        "name": email.campaign_name,
        "sender": email.sender,
        "alias": email.alias,
        "reply_to": email.reply_to,
        "subject": email.subject,
        "html": email.html,
        "text": email.text,
        "state": "scheduled" if scheduled else "queued",
        "due_at": due_at,
        "nb_emails": len(email.recipients),
        "credits": total,
    }

    def accept(conn: Connection) -> int:
        if total:
            balance = ledger.move(conn, account.id, -total, "debit", f"email:{public_id}")
        else:
            balance = ledger.balance_of(conn, account.id)
        email_rows.insert_campaign(conn, values, email.recipients, credits_each, now)
        return balance

    try:
        balance = await ctx.store.write(accept)
    except InsufficientCredits as exc:
        text = email_status_text(
            EmailStatus.INSUFFICIENT_CREDITS, used=exc.needed, available=exc.available
        )
        return EmailOutcome(EmailStatus.INSUFFICIENT_CREDITS, text)
    if scheduled:
        date = format_local(due_at, account.timezone)
        status, text = EmailStatus.SCHEDULED, email_status_text(EmailStatus.SCHEDULED, date=date)
    else:
        status, text = EmailStatus.SENT, email_status_text(EmailStatus.SENT)
    return EmailOutcome(status, text, public_id, tuple(email.invalid), balance)


# -- the platform's own emails -----------------------------------------------------------------


def add_notification(
    conn: Connection,
    settings: Settings,
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
) -> str:
    """Queue a platform email (no credits) inside the caller's transaction; return its id.

    For MAIL_NOTIF error copies, sub-account summaries, low-credit warnings. Raises ValueError
    for an invalid address or a subject with a line break: these are the caller's bugs.
    """
    targets = [to] if isinstance(to, str) else list(to)
    recipients = [normalize_address(target) for target in targets]
    if not recipients or None in recipients:
        raise ValueError(f"invalid notification recipient in {targets!r}")
    try:
        subject = header_value(subject)
    except ValueError as exc:
        raise ValueError(f"a notification subject must be one line: {exc}") from None
    if not subject:
        raise ValueError("a notification subject must be one non-empty line")
    now = datetime.now(UTC)
    public_id = str(uuid.uuid4())
    values = {
        "public_id": public_id,
        "account_id": None,
        "kind": "notification",
        "sender": settings.mail_from,
        "subject": subject,
        "html": html or "",
        "text": text if text.strip() or not html else html_to_text(html),
        "state": "queued",
        "due_at": now,
        "nb_emails": len(recipients),
        "credits": 0,
    }
    email_rows.insert_campaign(conn, values, [r for r in recipients if r], 0, now)
    return public_id


async def queue_notification(
    ctx: Context, to: str | Sequence[str], subject: str, text: str, html: str | None = None
) -> str:
    """Queue a platform email (see `add_notification`) in a transaction of its own."""
    return await ctx.store.write(
        lambda conn: add_notification(conn, ctx.settings, to, subject, text, html)
    )


# -- the sender --------------------------------------------------------------------------------


def _outgoing(row: Mapping[str, Any]) -> OutgoingEmail:
    return OutgoingEmail(
        id=row["id"],
        sender=row["sender"],
        alias=row["alias"],
        recipient=row["recipient"],
        reply_to=row["reply_to"],
        subject=row["subject"],
        html=row["html"],
        text=row["text"],
        campaign=row["campaign"],
    )


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _record(
    conn: Connection, rows: Sequence[RowMapping], outcomes: Mapping[int, Outcome], now: datetime
) -> None:
    for row in rows:
        outcome = outcomes.get(row["id"], Outcome("retry", "no outcome from the mailer"))
        if outcome.state == "retry" and row["attempts"] < MAX_ATTEMPTS:
            later = now + _backoff(row["attempts"])
            email_rows.finish(conn, row["id"], "queued", outcome.detail, now, due_at=later)
            continue
        state = "failed" if outcome.state == "retry" else outcome.state
        recorded = email_rows.finish(conn, row["id"], state, outcome.detail, now)
        if recorded and state != "sent" and row["account_id"] and row["credits"]:
            ledger.move(
                conn, row["account_id"], row["credits"], "refund", f"email:{row['campaign']}"
            )


async def send_due_emails(
    ctx: Context, *, mailer: Mailer | None = None, now: datetime | None = None
) -> int:
    """One round of the sender: claim a batch of due emails, deliver it, record the outcomes.

    Returns how many emails were handled (0: nothing was due). Tests call this directly.
    """
    now = now or datetime.now(UTC)
    batch_size = ctx.settings.email_batch_size
    rows = await ctx.store.write(
        lambda conn: email_rows.claim_due(conn, now, batch_size, now + LEASE)
    )
    if not rows:
        return 0
    mailer = mailer or mailer_for(ctx.settings)
    try:
        outcomes = await mailer.deliver([_outgoing(dict(row)) for row in rows])
    except Exception as exc:  # a bug or an unexpected failure: retry later, keep the loop alive
        log.exception("email delivery failed", error=str(exc))
        outcomes = {row["id"]: Outcome("retry", f"internal error: {exc}") for row in rows}
    finished = datetime.now(UTC)
    await ctx.store.write(lambda conn: _record(conn, rows, outcomes, finished))
    return len(rows)


async def run_email_sender(
    ctx: Context,
    stop_event: asyncio.Event,
    *,
    mailer: Mailer | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> None:
    """Send due emails until `stop_event` is set; start it as a task beside the server.

    A full batch is followed at once by the next; otherwise the loop waits `poll_seconds` (or
    until stopped). A round that fails is logged and retried: the loop never dies of it.
    """
    mailer = mailer or mailer_for(ctx.settings)
    while not stop_event.is_set():
        try:
            handled = await send_due_emails(ctx, mailer=mailer)
        except Exception:
            log.exception("email sender round failed")
            handled = 0
        if handled < ctx.settings.email_batch_size:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), poll_seconds)
