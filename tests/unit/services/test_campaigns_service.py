"""Deleting a scheduled campaign under concurrency: one refund, never two (both engines; the
race showed on PostgreSQL, where concurrent deletes run in parallel transactions)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.domain.statuses import DeleteCampaignStatus as Status
from hirondelle.services import accounts, sending
from hirondelle.services.campaigns import delete_campaign
from hirondelle.services.planning import Recipient, SmsOrder
from hirondelle.store import ledger
from hirondelle.store.schema import ledger as ledger_table
from tests.api.sending_helpers import balance, ledger_rows_of, mobiles
from tests.helpers import make_account

pytestmark = pytest.mark.anyio

RUNS = 30
DELETES = 40


@pytest.mark.postgres  # SQLite has one writer: the race needs parallel transactions
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_concurrent_deletes_refund_a_campaign_once(ctx: Context) -> None:
    creds = make_account(ctx, credits=100_000)
    account = await accounts.find_account(ctx, creds.login)
    assert account is not None
    order = SmsOrder(
        message="Later", recipients=[Recipient(n) for n in mobiles(2)], date="2099-01-01 10:00:00"
    )
    deleted = []
    for _ in range(RUNS):
        sent = await sending.send(ctx, account, order)
        assert sent.credits == 100_000 - 30
        statuses = await asyncio.gather(
            *(delete_campaign(ctx, account, sent.campaign_id) for _ in range(DELETES))
        )
        assert sorted(statuses) == [Status.ALREADY_DELETED] * (DELETES - 1) + [Status.OK]
        assert balance(ctx, creds.login) == 100_000
        deleted.append(sent.campaign_id)
    cancels = [row for row in ledger_rows_of(ctx, creds.login) if row[0] == "cancel"]
    assert cancels == [("cancel", 30, campaign_id) for campaign_id in deleted]


async def test_the_ledger_refuses_a_second_cancellation_of_one_campaign(ctx: Context) -> None:
    creds = make_account(ctx)
    account = await accounts.find_account(ctx, creds.login)
    assert account is not None

    def cancel_twice(conn: sa.Connection) -> None:
        ledger.move(conn, account.id, 30, "cancel", "camp-1")
        ledger.move(conn, account.id, 30, "cancel", "camp-1")

    with pytest.raises(sa.exc.IntegrityError):
        await ctx.store.write(cancel_twice)
    # Other kinds may repeat a reference: per-message refunds of one email campaign, say.
    await ctx.store.write(lambda conn: ledger.move(conn, account.id, 5, "refund", "email:x"))
    await ctx.store.write(lambda conn: ledger.move(conn, account.id, 5, "refund", "email:x"))
    count = sa.select(sa.func.count()).where(ledger_table.c.reference == "email:x")
    assert ctx.store.read_sync(lambda conn: conn.execute(count).scalar_one()) == 2
