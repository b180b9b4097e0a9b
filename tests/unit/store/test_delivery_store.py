"""store.delivery: claiming due messages and the pending-receipt queue, on each engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.services import accounts
from hirondelle.store import delivery as rows
from hirondelle.store import receipts as waiting
from hirondelle.store.engine import driver_sql, in_index_order
from hirondelle.store.schema import messages, pending_receipts
from tests.unit.delivery_helpers import LEASE, claim, message, new_account, queue, select, soon, utc

pytestmark = pytest.mark.anyio

NUMBERS = ("0612000001", "0612000002", "0612000003", "0612000004")


async def set_due(ctx: Context, due: dict[int, datetime]) -> None:
    def write(conn: Connection) -> None:
        for message_id, at in due.items():
            conn.execute(sa.update(messages).where(messages.c.id == message_id).values(due_at=at))

    await ctx.store.write(write)


async def test_claim_due_takes_at_most_limit_in_due_then_id_order(
    ctx: Context, anyio_backend: str
) -> None:
    ids = await queue(ctx, await new_account(ctx), *NUMBERS)
    base = datetime.now(UTC) - timedelta(minutes=5)
    late, middle = base + timedelta(days=2), base + timedelta(minutes=1)
    await set_due(ctx, {ids[0]: late, ids[1]: middle, ids[2]: base, ids[3]: base})
    first = await claim(ctx, "one", limit=2)
    assert [m.id for m in first] == [ids[2], ids[3]]
    assert [(m.phone, m.parts, m.attempts) for m in first] == [
        ("33612000003", 1, 0),
        ("33612000004", 1, 0),
    ]
    second = await claim(ctx, "two", limit=5)
    assert [m.id for m in second] == [ids[1]]  # ids[0] is due in two days
    row = await message(ctx, ids[2])
    assert (row["state"], row["claimed_by"]) == ("claimed", "one")
    assert await claim(ctx, "three") == []


async def test_expired_leases_are_reclaimed_after_queued_messages(
    ctx: Context, anyio_backend: str
) -> None:
    ids = await queue(ctx, await new_account(ctx), *NUMBERS[:2])
    now = soon()
    taken = await ctx.store.write(
        lambda conn: rows.claim_due(conn, "crashed", now, timedelta(seconds=-5), 1)
    )
    assert [m.id for m in taken] == [ids[0]]
    again = await claim(ctx, "alive", limit=10)
    assert [m.id for m in again] == [ids[0], ids[1]]
    assert {(await message(ctx, i))["claimed_by"] for i in ids} == {"alive"}
    assert await claim(ctx, "late") == []  # live leases stay with their owner


async def test_release_claims_of_others(ctx: Context, anyio_backend: str) -> None:
    ids = await queue(ctx, await new_account(ctx), *NUMBERS[:2])
    now = soon()
    await ctx.store.write(lambda conn: rows.claim_due(conn, "old", now, LEASE, 1))
    await ctx.store.write(lambda conn: rows.claim_due(conn, "me", now, LEASE, 1))
    assert await ctx.store.write(lambda conn: rows.release_claims_of_others(conn, "me")) == 1
    old, mine = [await message(ctx, i) for i in ids]
    assert (old["state"], old["claimed_by"], old["lease_until"]) == ("queued", None, None)
    assert (mine["state"], mine["claimed_by"]) == ("claimed", "me")


def add_pending(
    conn: Connection, connector: str, smsc_id: str, received_at: datetime, status: int = 1
) -> None:
    retry_at = received_at + timedelta(seconds=30)
    waiting.add_pending(conn, connector, [(smsc_id, status, f"d-{smsc_id}")], received_at, retry_at)


async def test_pending_for_by_connector_and_exact_id(ctx: Context, anyio_backend: str) -> None:
    now = datetime.now(UTC)

    def seed(conn: Connection) -> None:
        for connector, smsc_id in (("a", "ff"), ("a", "255"), ("b", "ff"), ("a", "10")):
            add_pending(conn, connector, smsc_id, now)

    await ctx.store.write(seed)
    found = await ctx.store.read(lambda conn: waiting.pending_for(conn, "a", ["ff", "10"]))
    assert [(r.connector, r.smsc_id, r.detail, r.received_at) for r in found] == [
        ("a", "ff", "d-ff", now),
        ("a", "10", "d-10", now),
    ]
    assert await ctx.store.read(lambda conn: waiting.pending_for(conn, "a", [])) == []
    await ctx.store.write(lambda conn: waiting.delete_pending(conn, [found[0].id]))
    left = await select(ctx, pending_receipts)
    assert [(r["connector"], r["smsc_id"]) for r in left] == [
        ("a", "255"),
        ("b", "ff"),
        ("a", "10"),
    ]


async def test_due_pending_put_off_and_drop_expired(ctx: Context, anyio_backend: str) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(minutes=5)

    def seed(conn: Connection) -> None:
        add_pending(conn, "a", "1", old, status=2)
        add_pending(conn, "b", "2", old)
        add_pending(conn, "a", "3", now)

    await ctx.store.write(seed)
    due = await ctx.store.read(lambda conn: waiting.due_pending(conn, now, 10))
    assert [(r.connector, r.smsc_id, r.status) for r in due] == [("a", "1", 2), ("b", "2", 1)]
    assert len(await ctx.store.read(lambda conn: waiting.due_pending(conn, now, 1))) == 1
    later = now + timedelta(minutes=10)
    await ctx.store.write(lambda conn: waiting.put_off(conn, [(due[0].id, later)]))
    due = await ctx.store.read(lambda conn: waiting.due_pending(conn, now, 10))
    assert [r.smsc_id for r in due] == ["2"]
    dropped = await ctx.store.write(lambda conn: waiting.drop_expired(conn, now, 10))
    assert dropped == 2
    left = await select(ctx, pending_receipts)
    assert [(r["smsc_id"], utc(r["received_at"])) for r in left] == [("3", now)]


# -- PostgreSQL only -----------------------------------------------------------------------------


@pytest.mark.postgres
async def test_concurrent_claims_get_disjoint_sets(pg_ctx: Context, anyio_backend: str) -> None:
    ids = await queue(pg_ctx, await new_account(pg_ctx), *NUMBERS)
    engine = pg_ctx.store.engine
    now = soon()
    with engine.connect() as first, engine.connect() as second, first.begin():
        mine = rows.claim_due(first, "first", now, LEASE, 3)
        with second.begin():  # would block on the first's row locks without SKIP LOCKED
            theirs = rows.claim_due(second, "second", now, LEASE, 10)
    assert [m.id for m in mine] == ids[:3]
    assert [m.id for m in theirs] == ids[3:]
    owners = {(await message(pg_ctx, i))["claimed_by"] for i in ids[:3]}
    assert owners == {"first"}


@pytest.mark.postgres
@pytest.mark.parametrize("statistics", ["fresh", "stale"])
async def test_the_claim_walks_the_due_index_without_sorting_the_backlog(
    pg_ctx: Context, anyio_backend: str, statistics: str
) -> None:
    """A campaign's messages share their due_at: ordered by (due_at, id), a claim that cannot
    read them in that order from the index sorts the whole backlog each time. "stale": the
    table was analyzed empty, as when a campaign queues faster than autovacuum analyzes (the
    planner then chose a bitmap scan of every queued message and a sort)."""
    numbers = [f"3361{n:07d}" for n in range(3000)]
    account = (await accounts.create_account(pg_ctx, "bulk", credits=100_000)).account
    if statistics == "stale":  # analyzed when none was queued: every one had been sent
        await queue(pg_ctx, account, *(n.replace("3361", "3362", 1) for n in numbers))

        def sent(conn: Connection) -> None:
            conn.exec_driver_sql("UPDATE messages SET state = 'final'")
            conn.exec_driver_sql("ANALYZE messages")

        await pg_ctx.store.write(sent)
    await queue(pg_ctx, account, *numbers)

    def plan(conn: Connection) -> list[str]:
        if statistics == "fresh":
            conn.exec_driver_sql("ANALYZE messages")
        for setting in in_index_order(conn):  # as claim_due runs it
            conn.exec_driver_sql(setting.sql)
        sql = driver_sql(conn, rows.due_sql(rows.DUE[0], lock=" FOR UPDATE SKIP LOCKED"))
        (found,) = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", (soon(), soon(), 500))
        nodes, kinds = [found[0][0]["Plan"]], []
        while nodes:
            node = nodes.pop()
            kinds.append(node["Node Type"])
            nodes.extend(node.get("Plans", []))
        return kinds

    kinds = await pg_ctx.store.write(plan)
    assert "Index Scan" in kinds and not any("Sort" in kind for kind in kinds), kinds


@pytest.mark.postgres
async def test_the_sweep_skips_receipts_a_submit_result_is_applying(
    pg_ctx: Context, anyio_backend: str
) -> None:
    now = datetime.now(UTC)
    receipts = [("ab", 2, ""), ("cd", 2, "")]
    await pg_ctx.store.write(lambda conn: waiting.add_pending(conn, "smsc", receipts, now, now))
    engine = pg_ctx.store.engine
    with engine.connect() as first, engine.connect() as second, first.begin():
        held = waiting.pending_for(first, "smsc", ["ab"])  # locked until `first` ends
        assert [p.smsc_id for p in held] == ["ab"]
        with second.begin():  # would block on the lock without SKIP LOCKED
            due = waiting.due_pending(second, now + timedelta(seconds=1), 10)
        assert [p.smsc_id for p in due] == ["cd"]
        waiting.delete_pending(first, [held[0].id])
    with engine.connect() as third, third.begin():
        assert waiting.pending_for(third, "smsc", ["ab", "cd"])[0].smsc_id == "cd"


async def test_claim_due_keeps_only_the_numbers_asked_for(ctx: Context, anyio_backend: str) -> None:
    # 0612… is 33612…; 0751… is 33751…
    ids = await queue(ctx, await new_account(ctx), "0612000001", "0751000002", "0612000003")
    assert len(ids) == 3
    now = soon()
    numbers = [("336", ("3361200000",))]  # 336… except 3361200000…: none of these
    assert await ctx.store.write(lambda c: rows.claim_due(c, "a", now, LEASE, 9, numbers)) == []
    numbers = [("337", ()), ("336", ("33612000003",))]
    taken = await ctx.store.write(lambda c: rows.claim_due(c, "a", now, LEASE, 9, numbers))
    assert [m.id for m in taken] == [ids[0], ids[1]]
    nothing: list[tuple[str, tuple[str, ...]]] = []
    assert await ctx.store.write(lambda c: rows.claim_due(c, "b", now, LEASE, 9, nothing)) == []
    rest = await ctx.store.write(lambda c: rows.claim_due(c, "b", now, LEASE, 9, None))
    assert [m.id for m in rest] == [ids[2]]


async def test_renew_claims_extends_only_the_owners_leases_of_the_ids_in_hand(
    ctx: Context, anyio_backend: str
) -> None:
    ids = await queue(ctx, await new_account(ctx), *NUMBERS[:3])
    now = soon()
    await ctx.store.write(lambda conn: rows.claim_due(conn, "alive", now, LEASE, 1))
    await ctx.store.write(lambda conn: rows.claim_due(conn, "dead", now, LEASE, 1))
    await ctx.store.write(lambda conn: rows.claim_due(conn, "alive", now, LEASE, 1))
    later = now + timedelta(hours=1)
    # The third is alive's too, but no longer in its hands (its result could not be stored).
    renewed = await ctx.store.write(lambda conn: rows.renew_claims(conn, "alive", ids[:2], later))
    assert renewed == 1
    alive, dead, dropped = [await message(ctx, i) for i in ids]
    assert utc(alive["lease_until"]) == later
    assert utc(dead["lease_until"]) == now + LEASE
    assert utc(dropped["lease_until"]) == now + LEASE
