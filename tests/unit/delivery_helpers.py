"""Helpers of the delivery-path unit tests: queued messages, claims, and what the store holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.context import Context
from hirondelle.services import accounts, delivery
from hirondelle.services.accounts import Account
from hirondelle.services.delivery import SubmitResult
from hirondelle.services.sending import Recipient, SmsOrder, send
from hirondelle.store import delivery as delivery_rows
from hirondelle.store.delivery import ClaimedMessage
from hirondelle.store.schema import messages

LEASE = timedelta(minutes=2)


async def new_account(ctx: Context, login: str = "alice", **fields: Any) -> Account:
    return (await accounts.create_account(ctx, login, credits=1000, **fields)).account


async def queue(
    ctx: Context, account: Account, *numbers: str, text: str = "Hello", date: str | None = None
) -> list[int]:
    """Accept a campaign through `sending.send`; return its messages' row ids, in order."""
    recipients = [Recipient(mobile=n, cli_msg_id=f"cli-{n[-4:]}") for n in numbers]
    outcome = await send(ctx, account, SmsOrder(text, recipients, date=date))
    sms_ids = [sms_id for _phone, sms_id in outcome.sms_ids]
    found = dict(
        await ctx.store.read(
            lambda conn: conn.execute(
                sa.select(messages.c.sms_id, messages.c.id).where(messages.c.sms_id.in_(sms_ids))
            ).all()
        )
    )
    return [found[s] for s in sms_ids]


def soon() -> datetime:
    """A moment just after now: every message queued so far is due."""
    return datetime.now(UTC) + timedelta(seconds=1)


async def claim(ctx: Context, owner: str = "test", limit: int = 1000) -> list[ClaimedMessage]:
    return await ctx.store.write(
        lambda conn: delivery_rows.claim_due(conn, owner, soon(), LEASE, limit)
    )


async def apply(
    ctx: Context, fn: Callable[[Connection, datetime], object], now: datetime | None = None
) -> None:
    """Run `fn(conn, now)` in one write transaction."""
    at = now or datetime.now(UTC)
    await ctx.store.write(lambda conn: fn(conn, at))


async def submit(ctx: Context, *results: SubmitResult, now: datetime | None = None) -> None:
    await apply(ctx, lambda conn, at: delivery.apply_submit_results(conn, results, at), now)


async def accept(
    ctx: Context, connector: str, smsc_ids: dict[int, list[str]], now: datetime | None = None
) -> None:
    """Claim every due message and record those of `smsc_ids` accepted with those ids."""
    await claim(ctx)
    accepted = (SubmitResult(m, "accepted", connector, ids) for m, ids in smsc_ids.items())
    await submit(ctx, *accepted, now=now)


async def select(ctx: Context, table: sa.Table, *where: Any) -> list[RowMapping]:
    """The rows of `table` matching `where`, by id."""
    query = sa.select(table).where(*where).order_by(table.c.id)
    return await ctx.store.read(lambda conn: list(conn.execute(query).mappings()))


async def message(ctx: Context, message_id: int) -> RowMapping:
    (row,) = await select(ctx, messages, messages.c.id == message_id)
    return row


def utc(moment: datetime) -> datetime:
    """A stored moment as aware UTC (SQLite gives it back naive)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
