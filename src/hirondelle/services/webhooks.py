"""Webhook settings of an account: its receipt URL, its reply URL and the secret that signs calls.

A URL is checked when it is set: http or https, a host, and — through the SSRF guard — a host
that resolves only to public addresses, unless the operator allows private ones
(`allow_private_addresses`). The sender checks again before each call, since DNS can change.

Setting a URL on an account without a secret generates one (shown once, in the answer); the
secret can also be given (16 to 128 printable ASCII characters) or regenerated. It is stored
sealed under the instance's `secret_key` (`domain/sealed.py`), bound to the account: the
database alone does not give it away; the sender unseals it to sign each call.

Two choices of the account shape what is pushed: `receipt_events` — `all` status changes (the
manual: 3 "transmitted", then the final one) or `final` ones only (as Kannel's dlr-mask 3) — and
`batch` — 0, one GET per event (the manual), or up to that many events per JSON POST.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import orjson
from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain.dates import format_local
from hirondelle.domain.sealed import seal, webhook_secret_context
from hirondelle.domain.statuses import AckStatus
from hirondelle.notify import netguard
from hirondelle.notify.payloads import receipt_params, reply_params
from hirondelle.store import accounts as account_rows
from hirondelle.store import webhooks as outbox

#: The value that clears a URL (API parameters cannot be empty: empty means absent).
CLEAR = "none"
#: The value of `secret` that asks for a new random secret.
GENERATE = "generate"

MAX_URL_LENGTH = 2048
RECEIPT_EVENTS = ("all", "final")
MAX_BATCH = 500
_SECRET = re.compile(r"[\x21-\x7e]{16,128}")


class WebhookError(ValueError):
    """A webhook setting refused; the message says why and is safe to show."""


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    receipt_url: str
    reply_url: str
    has_secret: bool
    receipt_events: str = "all"
    batch: int = 0
    #: the secret, when this call generated it (it is shown this once)
    new_secret: str | None = None


async def check_url(ctx: Context, url: str) -> str:
    """The URL, stripped, if webhooks may call it; WebhookError otherwise."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise WebhookError(f"The URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise WebhookError(f"The URL is malformed: {exc}") from None
    if parsed.scheme not in netguard.DEFAULT_PORTS or not parsed.host:
        raise WebhookError("A webhook URL must be an http or https URL with a host")
    if parsed.fragment:
        raise WebhookError("A webhook URL cannot have a #fragment")
    allow = ctx.settings.allow_private_addresses
    try:
        netguard.check_host_statically(parsed.host, allow_private=allow)
        await netguard.resolve_checked(
            parsed.host,
            parsed.port or netguard.DEFAULT_PORTS[parsed.scheme],
            allow_private=allow,
            timeout=ctx.settings.webhook_timeout,
        )
    except netguard.NetGuardError as exc:
        raise WebhookError(str(exc)) from None
    return url


async def _url_value(ctx: Context, value: str | None) -> str | None:
    if value is None:
        return None
    if value.strip().lower() == CLEAR:
        return ""
    return await check_url(ctx, value)


def _secret_value(value: str | None) -> str | None:
    if value is None:
        return None
    if value.strip().lower() == GENERATE:
        return secrets.token_hex(24)
    if not _SECRET.fullmatch(value):
        raise WebhookError("The secret must have 16 to 128 printable ASCII characters, no spaces")
    return value


def _choice_values(receipt_events: str | None, batch: str | int | None) -> dict[str, str | int]:
    values: dict[str, str | int] = {}
    if receipt_events is not None:
        choice = receipt_events.strip().lower()
        if choice not in RECEIPT_EVENTS:
            raise WebhookError("receiptEvents must be all (every status change) or final")
        values["receipt_events"] = choice
    if batch is not None:
        try:
            size = int(batch)
        except ValueError:
            size = -1
        if not 0 <= size <= MAX_BATCH:
            raise WebhookError(f"batch must be a number from 0 (one GET per event) to {MAX_BATCH}")
        values["webhook_batch"] = size
    return values


async def configure(
    ctx: Context,
    account_id: int,
    *,
    receipt_url: str | None = None,
    reply_url: str | None = None,
    secret: str | None = None,
    receipt_events: str | None = None,
    batch: str | int | None = None,
) -> WebhookSettings:
    """Change what is given (None keeps a value; CLEAR clears a URL; GENERATE makes a secret)."""
    values: dict[str, str | int] = _choice_values(receipt_events, batch)
    for column, given in (("receipt_url", receipt_url), ("reply_url", reply_url)):
        checked = await _url_value(ctx, given)
        if checked is not None:
            values[column] = checked
    new_secret = _secret_value(secret)
    generated = new_secret if secret is not None and secret.strip().lower() == GENERATE else None

    def apply(conn: Connection) -> WebhookSettings:
        nonlocal generated
        row = account_rows.find_by_id(conn, account_id)
        if row is None:
            raise WebhookError("No such account")
        current = {**row, **values}
        secret = new_secret
        has_url = current["receipt_url"] or current["reply_url"]
        if secret is None and has_url and not row["webhook_secret"]:
            secret = generated = secrets.token_hex(24)
        if secret is not None:
            values["webhook_secret"] = seal(ctx.secret, secret, webhook_secret_context(account_id))
        account_rows.update_account(conn, account_id, values)
        return WebhookSettings(
            str(current["receipt_url"]),
            str(current["reply_url"]),
            bool(values.get("webhook_secret") or row["webhook_secret"]),
            str(current["receipt_events"]),
            int(current["webhook_batch"]),
            generated,
        )

    return await ctx.store.write(apply)


async def webhook_settings(ctx: Context, account_id: int) -> WebhookSettings:
    row = await ctx.store.read(lambda conn: account_rows.find_by_id(conn, account_id))
    if row is None:
        raise WebhookError("No such account")
    return WebhookSettings(
        row["receipt_url"],
        row["reply_url"],
        bool(row["webhook_secret"]),
        row["receipt_events"],
        row["webhook_batch"],
    )


# -- the customer area: a test event, the last deliveries ----------------------------------------

TEST_KINDS = ("receipt", "reply")
TEST_PHONE = "33600000000"
RECENT_DELIVERIES = 20


@dataclass(frozen=True, slots=True)
class Delivery:
    """An event of the account's outbox, as the API page shows it."""

    id: int
    kind: str
    url: str  # without its query
    test: bool
    state: str  # pending | done | dead
    attempts: int
    next_attempt_at: datetime | None  # None once done or dead
    last_error: str
    created_at: datetime


async def send_test_event(ctx: Context, account_id: int, kind: str) -> int:
    """Queue a made-up receipt or reply to the account's URL for it, in the outbox like a real
    event: delivered, retried and signed the same way. Its variables are a real event's with
    `test=1` added and a made-up message ("test-..." smsId, number 33600000000). Returns the
    event's id; WebhookError if the account has no URL for that kind."""
    if kind not in TEST_KINDS:
        raise WebhookError("The test event is a receipt or a reply")
    event_id = f"test-{uuid.uuid4()}"

    def queue(conn: Connection) -> int:
        row = account_rows.find_by_id(conn, account_id)
        if row is None:
            raise WebhookError("No such account")
        url = row["receipt_url"] if kind == "receipt" else row["reply_url"]
        if not url:
            raise WebhookError(f"Set a {kind} URL before sending a test event")
        now = datetime.now(UTC)
        received = format_local(now, row["timezone"])
        if kind == "receipt":
            params = receipt_params(
                sms_id=event_id,
                status=AckStatus.DELIVERED,
                received=received,
                phone=TEST_PHONE,
                campaign_id="test",
                cli_msg_id=None,
            )
        else:
            params = reply_params(
                sms_id="",
                reply_id=event_id,
                received=received,
                phone=TEST_PHONE,
                campaign_id="",
                text="Test",
                cli_msg_id=None,
            )
        outbox.queue_event(conn, account_id, kind, event_id, url, {**params, "test": "1"}, now)
        return int(outbox.recent_events(conn, account_id, 1)[0]["id"])

    return await ctx.store.write(queue)


async def recent_deliveries(
    ctx: Context, account_id: int, limit: int = RECENT_DELIVERIES
) -> list[Delivery]:
    """The account's last webhook events, newest first."""
    found = await ctx.store.read(lambda conn: outbox.recent_events(conn, account_id, limit))
    return [
        Delivery(
            row["id"],
            row["kind"],
            row["url"].partition("?")[0],
            orjson.loads(row["params"]).get("test") == "1",
            row["state"],
            row["attempts"],
            row["next_attempt_at"] if row["state"] == "pending" else None,
            row["last_error"],
            row["created_at"],
        )
        for row in found
    ]
