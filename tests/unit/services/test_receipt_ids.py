"""SMSC ids that come back: the latest submit holding an id gets its receipts, a message final
from its own receipt is never changed by another, and unmatched receipts are kept a bounded time
and looked at in bounded, indexed slices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.services import delivery
from hirondelle.store import receipts as waiting
from hirondelle.store.schema import pending_receipts
from tests.unit.delivery_helpers import accept, apply, message, queue, select, utc
from tests.unit.services.test_delivery_service import (
    PHONE_1,
    PHONE_2,
    PHONE_3,
    events,
    hooked,
    hooks,
    state,
)

pytestmark = pytest.mark.anyio


async def receive_at(ctx: Context, moment: datetime, *receipts: delivery.ReceiptIn) -> None:
    batch = [delivery.ReceiptIn(*r) for r in receipts]
    await apply(ctx, lambda conn, at: delivery.apply_receipts(conn, "smsc", batch, at), moment)


async def pending(ctx: Context) -> list[tuple[str, int]]:
    return [(r["smsc_id"], r["status"]) for r in await select(ctx, pending_receipts)]


async def test_a_reused_id_goes_to_its_latest_holder(ctx: Context, anyio_backend: str) -> None:
    old, new = await queue(ctx, await hooked(ctx), PHONE_1, PHONE_2)
    now = datetime.now(UTC)
    await accept(ctx, "smsc", {old: ["1000"]}, now)
    await receive_at(ctx, now, ("1000", 2, "stat:UNDELIV err:000"))
    assert await state(ctx, old) == ("final", 2)
    await accept(ctx, "smsc", {new: ["1000"]}, now)  # the SMSC restarted: same id again
    assert await state(ctx, new) == ("submitted", 3)
    await receive_at(ctx, now, ("1000", 1, "stat:DELIVRD err:000"))
    assert await state(ctx, new) == ("final", 1)
    assert await state(ctx, old) == ("final", 2)
    assert await events(ctx, old) == [(3, "submitted"), (2, "stat:UNDELIV err:000")]
    finals = {(hook["smsId"], hook["status"]) for hook in await hooks(ctx, "receipt")}
    sms_ids = [(await message(ctx, m))["sms_id"] for m in (old, new)]
    assert {f for f in finals if f[1] != "3"} == {(sms_ids[0], "2"), (sms_ids[1], "1")}


async def test_a_final_message_keeps_its_status_and_the_receipt_waits_for_its_submit(
    ctx: Context, anyio_backend: str
) -> None:
    old, new = await queue(ctx, await hooked(ctx), PHONE_1, PHONE_2)
    now = datetime.now(UTC)
    await accept(ctx, "smsc", {old: ["abc"]}, now)
    await receive_at(ctx, now, ("abc", 2, "old"))
    # the new message's receipt beats its submit_sm_resp: the old message is final, it waits
    await receive_at(ctx, now, ("ABC", 1, "new"))
    assert await state(ctx, old) == ("final", 2)
    assert await pending(ctx) == [("abc", 1)]
    await accept(ctx, "smsc", {new: ["0abc"]}, now)
    assert await state(ctx, new) == ("final", 1)
    assert await state(ctx, old) == ("final", 2)
    assert await events(ctx, new) == [(3, "submitted"), (1, "new")]
    assert await pending(ctx) == []


async def test_a_late_duplicate_is_not_given_to_a_later_holder(
    ctx: Context, anyio_backend: str
) -> None:
    old, new = await queue(ctx, await hooked(ctx), PHONE_1, PHONE_2)
    then = datetime.now(UTC) - timedelta(hours=1)
    await accept(ctx, "smsc", {old: ["77"]}, then)
    await receive_at(ctx, then, ("77", 2, ""))
    await receive_at(ctx, then, ("77", 2, ""))  # sent again by the SMSC: waits
    assert await pending(ctx) == [("77", 2)]
    await accept(ctx, "smsc", {new: ["77"]})  # an hour later the id comes back
    assert await state(ctx, new) == ("submitted", 3)  # an hour-old receipt is not its own
    await receive_at(ctx, datetime.now(UTC), ("77", 1, ""))
    assert await state(ctx, new) == ("final", 1)
    assert await state(ctx, old) == ("final", 2)


async def test_two_receipts_for_one_id_in_one_batch(ctx: Context, anyio_backend: str) -> None:
    (message_id,) = await queue(ctx, await hooked(ctx), PHONE_1)
    now = datetime.now(UTC)
    await accept(ctx, "smsc", {message_id: ["5"]}, now)
    await receive_at(ctx, now, ("5", 1, "first"), ("5", 2, "second"))
    assert await state(ctx, message_id) == ("final", 1)
    assert await pending(ctx) == [("5", 2)]


# -- unmatched receipts: bounded time, bounded slices -----------------------------------------


async def test_unmatched_receipts_older_than_the_retention_are_dropped(
    ctx: Context, anyio_backend: str
) -> None:
    now = datetime.now(UTC)
    retention = timedelta(hours=ctx.settings.receipt_retention_hours)
    for age, smsc_id in ((retention + timedelta(minutes=1), "old"), (timedelta(hours=1), "new")):
        await receive_at(ctx, now - age, (smsc_id, 1, ""))
    await delivery.resolve_stale_receipts(ctx)
    assert await pending(ctx) == [("new", 1)]


async def test_the_sweep_takes_a_bounded_slice_and_backs_off(
    ctx: Context, anyio_backend: str
) -> None:
    (message_id,) = await queue(ctx, await hooked(ctx), PHONE_3)
    then = datetime.now(UTC) - timedelta(minutes=10)
    await accept(ctx, "smsc", {message_id: ["1000"]}, then)
    unknown = [(f"f{n:03x}", 2, "") for n in range(25)]
    await receive_at(ctx, then, ("4096", 1, "decimal of 0x1000"), *unknown)

    def due() -> int:
        now = datetime.now(UTC)
        return sum(1 for r in rows_now if utc(r["retry_at"]) <= now)

    assert await delivery.resolve_stale_receipts(ctx, limit=10) == 1  # the oldest first
    assert await state(ctx, message_id) == ("final", 1)
    rows_now = await select(ctx, pending_receipts)
    assert len(rows_now) == 25
    assert due() == 16  # 9 tried and put off, 16 not looked at yet
    assert await delivery.resolve_stale_receipts(ctx, limit=10) == 0
    rows_now = await select(ctx, pending_receipts)
    assert due() == 6
    for row in rows_now:  # put off by at least as long as they waited: a geometric back-off
        if utc(row["retry_at"]) > datetime.now(UTC):
            assert utc(row["retry_at"]) - utc(row["received_at"]) >= timedelta(minutes=20)


async def test_the_sweep_reads_pending_receipts_through_indexes(
    ctx: Context, anyio_backend: str
) -> None:
    if not ctx.store.is_sqlite:
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    now = datetime.now(UTC)
    plans: list[str] = []
    for sql in (waiting.DUE_PENDING_SQL, waiting.EXPIRED_PENDING_SQL):

        def explain(conn: sa.Connection, sql: str = sql) -> list[str]:
            found = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, (now, 10))
            return [str(row[-1]) for row in found]

        plans.extend(await ctx.store.read(explain))
    steps = [step for step in plans if "pending_receipts" in step]
    assert steps and all("USING" in step for step in steps), plans
