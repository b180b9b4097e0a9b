"""The counts of store/traffic.py, kept in the writing transactions, match a recount of the
messages after sends, submits, rejections, expiry, receipts (long messages too), replies and a
cancellation — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain.statuses import AckStatus
from hirondelle.domain.statuses import DeleteCampaignStatus as Status
from hirondelle.services import delivery
from hirondelle.services.campaigns import delete_campaign
from hirondelle.services.delivery import ReceiptIn, SubmitResult
from hirondelle.store import traffic
from hirondelle.store.schema import campaigns, messages
from tests.api.sending_helpers import update_rows
from tests.unit.delivery_helpers import accept, apply, claim, new_account, queue, select, submit
from tests.unit.services.test_reply_routing import reply

pytestmark = pytest.mark.anyio

LONG = "Bonjour " * 40  # 3 parts


async def counted(ctx: Context) -> dict[int, tuple[dict[str, int], dict[str, int]]]:
    """Per campaign: (its counters, less credits; its recount)."""

    def read(conn: Connection) -> dict[int, tuple[dict[str, int], dict[str, int]]]:
        ids = [row[0] for row in conn.exec_driver_sql("SELECT id FROM campaigns")]
        totals = traffic.campaign_totals(conn, ids)
        found = {}
        for campaign_id in ids:
            kept = dict(totals.get(campaign_id, dict.fromkeys(traffic.COUNTS, 0)))
            kept.pop("credits")
            found[campaign_id] = (kept, traffic.recount_campaign(conn, campaign_id))
        return found

    return await ctx.store.read(read)


async def test_counters_match_a_recount_of_the_messages(ctx: Context) -> None:
    alice = await new_account(ctx)
    ids = await queue(ctx, alice, "0612000001", "0612000002", "0612000003", "0612000004")
    (long_id,) = await queue(ctx, alice, "0612000005", text=LONG)
    (expiring,) = await queue(ctx, alice, "0612000006")
    await queue(ctx, alice, "0612000007", date="2099-01-01 10:00:00")
    await claim(ctx)
    await submit(
        ctx,
        SubmitResult(ids[0], "accepted", "smsc", ["a1"]),
        SubmitResult(ids[1], "accepted", "smsc", ["a2"]),
        SubmitResult(ids[2], "accepted", "smsc", ["a3"]),
        SubmitResult(ids[3], "rejected", detail="refused by the SMSC"),
        SubmitResult(long_id, "accepted", "smsc", ["l1", "l2", "l3"]),
        SubmitResult(expiring, "retry"),
    )
    receipts = [
        ReceiptIn("a1", AckStatus.DELIVERED, ""),
        ReceiptIn("a2", AckStatus.NOT_DELIVERED, ""),
        ReceiptIn("l1", AckStatus.DELIVERED, ""),
        ReceiptIn("l2", AckStatus.NOT_DELIVERED, ""),
    ]
    await apply(ctx, lambda conn, at: delivery.apply_receipts(conn, "smsc", receipts, at))
    # A later part of the long message fails differently: the message moves from 2 to 5.
    later = [ReceiptIn("l3", AckStatus.UNKNOWN_NUMBER, ""), ReceiptIn("a3", AckStatus.REJECTED, "")]
    await apply(ctx, lambda conn, at: delivery.apply_receipts(conn, "smsc", later, at))
    update_rows(ctx, messages, messages.c.id == expiring, expires_at=datetime.now(UTC))
    await delivery.expire_messages(ctx, datetime.now(UTC) + timedelta(seconds=1))
    scheduled = (await select(ctx, campaigns))[-1]
    assert await delete_campaign(ctx, alice, scheduled["public_id"]) == Status.OK
    await reply(ctx, "Merci")

    found = await counted(ctx)
    for kept, recount in found.values():
        assert kept == recount
    first = found[min(found)][0]
    assert first["accepted"] == 4 and first["submitted"] == 3
    assert (first["delivered"], first["not_delivered"], first["rejected"]) == (1, 1, 1)
    assert first["refused"] == 1
    assert sum(kept["unknown"] for kept, _ in found.values()) == 1
    assert sum(kept["cancelled"] for kept, _ in found.values()) == 1
    assert sum(kept["replies"] for kept, _ in found.values()) == 1

    def account_sums(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
        hours = traffic.account_hours(conn, alice.id, 0, 10**9)
        own = {name: sum(h[name] for h in hours.values()) for name in traffic.COUNTS}
        sql = f"SELECT {', '.join(f'sum({n})' for n in traffic.COUNTS)} FROM traffic_counts"
        row = conn.exec_driver_sql(sql + " WHERE campaign_id >= 0").one()
        return own, dict(zip(traffic.COUNTS, (int(v) for v in row), strict=True))

    own, campaigns_sum = await ctx.store.read(account_sums)
    assert own == campaigns_sum  # the account's rows are the sums of its campaigns'


async def test_credits_spent_are_debits_less_refunds(ctx: Context) -> None:
    alice = await new_account(ctx)
    ids = await queue(ctx, alice, "0612000001", "0612000002")
    await claim(ctx)
    await submit(ctx, SubmitResult(ids[0], "rejected", detail="no"))
    await accept(ctx, "smsc", {ids[1]: ["x"]})

    def read(conn: Connection) -> int:
        hours = traffic.account_hours(conn, alice.id, 0, 10**9)
        return sum(counts["credits"] for counts in hours.values())

    spent = await ctx.store.read(read)
    (row,) = await select(ctx, messages, messages.c.id == ids[1])
    assert spent == row["credits"]
