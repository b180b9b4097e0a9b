"""The retention purge: old messages go with their parts, events and replies, in batches; what
waits to be sent stays; campaigns keep their counts (both engines)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain.statuses import AckStatus
from hirondelle.services import delivery, retention
from hirondelle.services.delivery import ReceiptIn
from hirondelle.store import campaigns as campaign_rows
from hirondelle.store import retention as store_retention
from hirondelle.store.retention import last_id_before
from hirondelle.store.schema import (
    message_events,
    message_parts,
    messages,
    purged_counts,
    replies,
)
from tests.unit.delivery_helpers import accept, apply, new_account, queue, select

pytestmark = pytest.mark.anyio

NUMBERS = ("0612000001", "0612000002", "0612000003", "0612000004", "0612000005")
OLD = datetime.now(UTC) - timedelta(days=500)


async def all_counts(ctx: Context) -> list[tuple[object, ...]]:
    query = sa.select(purged_counts).order_by(purged_counts.c.campaign_id, purged_counts.c.day)
    return await ctx.store.read(lambda conn: [tuple(row) for row in conn.execute(query)])


def add_reply(conn: Connection, message_id: int | None, at: datetime) -> None:
    conn.execute(
        sa.insert(replies).values(
            public_id=str(uuid.uuid4()), message_id=message_id, phone="33612000001",
            text="STOP", received_at=at,
        )
    )  # fmt: skip


async def old_store(ctx: Context) -> tuple[list[int], int]:
    """Five messages of one campaign, four sent with receipts and one still queued; the first
    three and the queued one created 500 days ago, each sent one with a reply; and a reply that
    reached no message, as old. Return the message ids and the campaign's row id."""
    ids = await queue(ctx, await new_account(ctx), *NUMBERS)
    await accept(ctx, "smsc", {m: [f"id{m}"] for m in ids[:4]})
    receipts = [ReceiptIn(f"id{m}", AckStatus.DELIVERED, "") for m in ids[:4]]
    await apply(ctx, lambda conn, at: delivery.apply_receipts(conn, "smsc", receipts, at))

    def age(conn: Connection) -> int:
        old = [*ids[:3], ids[4]]
        conn.execute(sa.update(messages).where(messages.c.id.in_(old)).values(created_at=OLD))
        conn.execute(sa.update(messages).where(messages.c.id == ids[4]).values(state="queued"))
        for message_id in ids[:4]:
            add_reply(conn, message_id, OLD if message_id in old else datetime.now(UTC))
        add_reply(conn, None, OLD)
        return int(
            conn.execute(sa.select(messages.c.campaign_id).where(messages.c.id == ids[0])).scalar()
        )

    return ids, await ctx.store.write(age)


async def test_purge_deletes_old_messages_with_what_hangs_off_them(ctx: Context) -> None:
    ids, campaign = await old_store(ctx)
    states_before = await ctx.store.read(lambda conn: campaign_rows.message_states(conn, campaign))

    dry = await retention.purge(ctx, dry_run=True, batch=2)
    assert (dry.messages, dry.parts, dry.replies) == (3, 3, 4)
    assert dry.events == 6  # submitted and delivered, for each
    assert len(await select(ctx, messages)) == 5

    seen: list[int] = []
    done = await retention.purge(ctx, batch=2, progress=lambda r: seen.append(r.messages))
    assert (done.messages, done.events, done.parts, done.replies) == (3, 6, 3, 4)
    assert seen[:2] == [2, 3]
    assert [m["id"] for m in await select(ctx, messages)] == ids[3:]  # the queued one stays
    assert {p["message_id"] for p in await select(ctx, message_parts)} == {ids[3]}
    assert {e["message_id"] for e in await select(ctx, message_events)} == {ids[3]}
    assert [r["message_id"] for r in await select(ctx, replies)] == [ids[3]]

    assert await all_counts(ctx) == [(campaign, OLD.date(), "final", int(AckStatus.DELIVERED), 3)]
    states = await ctx.store.read(lambda conn: campaign_rows.message_states(conn, campaign))
    assert states == states_before == {"final": 4, "queued": 1}

    again = await retention.purge(ctx)
    assert (again.messages, again.replies, again.batches) == (0, 0, 0)


async def test_counts_of_a_second_purge_add_up(ctx: Context) -> None:
    _ids, campaign = await old_store(ctx)
    await retention.purge(ctx, now=datetime.now(UTC) - timedelta(days=1000))  # nothing yet
    await retention.purge(ctx, batch=1)

    def age_the_rest(conn: Connection) -> None:
        conn.execute(sa.update(messages).values(created_at=OLD))

    await ctx.store.write(age_the_rest)
    assert (await retention.purge(ctx)).messages == 1  # the queued one still stays
    assert [(c[0], c[4]) for c in await all_counts(ctx)] == [(campaign, 4)]


async def test_last_id_before_finds_the_cut_by_binary_search(ctx: Context) -> None:
    ids = await queue(ctx, await new_account(ctx), *NUMBERS)
    now = datetime.now(UTC)

    def spread(conn: Connection) -> None:  # one a day, the first 5 days ago
        for age, message_id in zip(range(5, 0, -1), ids, strict=True):
            at = now - timedelta(days=age)
            conn.execute(
                sa.update(messages).where(messages.c.id == message_id).values(created_at=at)
            )

    await ctx.store.write(spread)

    def cut(days: float) -> int:
        before = now - timedelta(days=days)
        return ctx.store.read_sync(
            lambda conn: last_id_before(conn, "messages", "created_at", before)
        )

    assert cut(10) == ids[0] - 1
    assert cut(4.5) == ids[0]
    assert cut(2.5) == ids[2]
    assert cut(0) == ids[4]
    assert (
        ctx.store.read_sync(lambda conn: last_id_before(conn, "replies", "received_at", now)) == 0
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_on_sqlite_the_purge_waits_for_a_busy_write_lock(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process (here a connection) holding the write lock: the purge's batch finds it
    busy, tries again, and goes through once the lock is free."""
    await old_store(ctx)
    busy: list[BaseException] = []
    was_busy = store_retention.lock_was_busy

    def counted(exc: BaseException) -> bool:
        busy.append(exc)
        return was_busy(exc)

    monkeypatch.setattr(retention.rows, "lock_was_busy", counted)
    await ctx.store.write(store_retention.poll_for_the_lock)  # as a purge leaves its writer
    other = sa.create_engine(str(ctx.store.engine.url))
    try:
        with other.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            purging = asyncio.create_task(retention.purge(ctx))
            deadline = asyncio.get_running_loop().time() + 10
            while not busy:
                assert asyncio.get_running_loop().time() < deadline, "the purge never tried"
                await asyncio.sleep(0.01)
            assert not purging.done()
            conn.exec_driver_sql("COMMIT")
            done = await asyncio.wait_for(purging, 10)
    finally:
        other.dispose()
    assert done.messages == 3
    assert all(was_busy(exc) for exc in busy)


async def test_a_slow_batch_makes_the_next_one_smaller(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch whose transaction outlasts twice the target (a loaded machine) halves the next
    one, so that the purge holds the store (SQLite's one write lock) for less."""
    await old_store(ctx)
    sizes: list[int] = []
    purge_messages = store_retention.purge_messages
    now = [0.0]

    def slow(conn: Connection, *args: object, **kwargs: object) -> object:
        sizes.append(int(args[3]))  # type: ignore[call-overload]
        now[0] += 3 * retention.TARGET_SECONDS  # the batch's clock: it took that long
        return purge_messages(conn, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(retention.rows, "purge_messages", slow)
    monkeypatch.setattr(retention, "clock", lambda: now[0])
    done = await retention.purge(ctx, batch=100)
    assert done.messages == 3
    assert sizes == [100, 50]


async def test_pace_adapts_the_batch_and_pauses_at_least_as_long_as_a_batch_took() -> None:
    pace = retention.Pace(400)
    slow, quick = 3 * retention.TARGET_SECONDS, retention.TARGET_SECONDS / 4
    assert pace.after(slow, sqlite=False) == slow
    assert pace.size == 200
    for _ in range(10):
        pace.after(slow, sqlite=False)
    assert pace.size == retention.MIN_BATCH
    assert pace.after(quick, sqlite=True) == retention.SQLITE_PAUSE  # the busy handler's sleep
    assert pace.size == 2 * retention.MIN_BATCH
    for _ in range(10):
        pace.after(quick, sqlite=False)
    assert pace.size == 400  # never more than asked
    assert pace.after(retention.TARGET_SECONDS, sqlite=False) == retention.TARGET_SECONDS
    assert pace.size == 400
    small = retention.Pace(5)  # asked for fewer than MIN_BATCH: never more than asked
    small.after(slow, sqlite=False)
    assert small.size == 5
