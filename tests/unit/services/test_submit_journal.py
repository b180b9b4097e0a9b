"""The submit journal (PostgreSQL): what an SMSC took is never sent again nor failed, and a row
left behind by a dead worker or a failed write is stored in full by the sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.services import delivery
from hirondelle.services.delivery import ReceiptIn, SubmitResult
from hirondelle.store import submit_journal
from hirondelle.store.schema import message_events, message_parts, messages
from hirondelle.store.schema import submit_journal as journal_table
from tests.unit.delivery_helpers import claim, message, new_account, queue, select, soon

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def lease_ran_out(ctx: Context, *message_ids: int, expired: bool = False) -> None:
    """The claims of a worker that died: leases over (and validity too, with `expired`)."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    values = {"lease_until": past, **({"expires_at": past} if expired else {})}
    await ctx.store.write(
        lambda conn: conn.execute(
            sa.update(messages).where(messages.c.id.in_(message_ids)).values(**values)
        )
    )


async def test_a_journaled_submit_is_not_claimed_again_nor_expired_but_stored(
    pg_ctx: Context, anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken, lost = await queue(pg_ctx, await new_account(pg_ctx), "0612000001", "0612000002")
    await claim(pg_ctx, "dead")
    await delivery.journal_submits(
        pg_ctx, "dead:1", [SubmitResult(taken, "accepted", "smsc", ["AB1", "AB2"])]
    )
    await lease_ran_out(pg_ctx, taken, lost)
    assert [m.id for m in await claim(pg_ctx, "live")] == [lost]  # only what no SMSC took
    await lease_ran_out(pg_ctx, taken, expired=True)
    assert await delivery.expire_messages(pg_ctx) == 0
    # Its receipts reach the connector's new owner before the journal is applied: they wait.
    receipts = [ReceiptIn("AB1", 1, "stat:DELIVRD"), ReceiptIn("AB2", 1, "stat:DELIVRD")]
    assert await delivery.record_receipts(pg_ctx, "smsc", receipts) == ["ab1", "ab2"]
    assert await delivery.record_left_behind(pg_ctx) == 0  # too young: its full write may come

    monkeypatch.setattr(delivery, "JOURNAL_GRACE", timedelta(0))
    assert await delivery.record_left_behind(pg_ctx) == 1
    row = await message(pg_ctx, taken)
    assert (row["state"], row["status"], row["connector"]) == ("final", 1, "smsc")
    parts = await select(pg_ctx, message_parts, message_parts.c.message_id == taken)
    assert [(p["part"], p["smsc_id"], p["status"]) for p in parts] == [(1, "ab1", 1), (2, "ab2", 1)]
    events = await select(pg_ctx, message_events, message_events.c.message_id == taken)
    assert [e["status"] for e in events] == [3, 1]
    assert await select(pg_ctx, journal_table) == []
    assert await delivery.record_left_behind(pg_ctx) == 0


async def test_a_row_is_stored_once_by_its_full_write_or_by_the_sweep(
    pg_ctx: Context, anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = await queue(pg_ctx, await new_account(pg_ctx), "0612000001", "0612000002")
    await claim(pg_ctx)
    monkeypatch.setattr(delivery, "JOURNAL_GRACE", timedelta(0))
    for entry, message_id in (("w:1", first), ("w:2", second)):
        result = SubmitResult(message_id, "accepted", "smsc", [f"id{message_id}"])
        await delivery.journal_submits(pg_ctx, entry, [result])
    # The sweep holds w:1 while its full write comes: the write waits, then finds it stored.
    engine = pg_ctx.store.engine
    with engine.connect() as sweep, sweep.begin():
        held = submit_journal.left_behind(sweep, soon(), limit=1)
        assert [entry for entry, _ in held] == ["w:1"]
        with engine.connect() as other, other.begin():  # another worker's sweep skips it
            assert [e for e, _ in submit_journal.left_behind(other, soon(), 10)] == ["w:2"]
        now = datetime.now(UTC)
        results = [SubmitResult(first, "accepted", "smsc", [f"id{first}"], journal="w:1")]
        delivery.apply_submit_results(sweep, results, now)
    await delivery.record_submit_results(
        pg_ctx, [SubmitResult(first, "accepted", "smsc", [f"id{first}"], journal="w:1")]
    )
    # w:2's full write came first: the sweep finds nothing left.
    await delivery.record_submit_results(
        pg_ctx, [SubmitResult(second, "accepted", "smsc", [f"id{second}"], journal="w:2")]
    )
    assert await delivery.record_left_behind(pg_ctx) == 0
    parts = await select(pg_ctx, message_parts)
    assert sorted((p["message_id"], p["smsc_id"]) for p in parts) == [
        (first, f"id{first}"),
        (second, f"id{second}"),
    ]
    events = await select(pg_ctx, message_events, message_events.c.status == 3)
    assert sorted(e["message_id"] for e in events) == [first, second]
    assert await select(pg_ctx, journal_table) == []


def test_not_journaled_is_nothing_on_sqlite(ctx: Context) -> None:
    """SQLite has one writer: a journal's commit would cost as much as the full write."""

    def condition(conn: Connection) -> str:
        return submit_journal.not_journaled(conn)

    expected = "" if ctx.store.is_sqlite else submit_journal.NOT_JOURNALED
    assert ctx.store.read_sync(condition) == expected
