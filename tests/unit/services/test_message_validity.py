"""A message's validity: past it, a message still waiting to be submitted fails (status 4) and is
refunded; one the SMSC took keeps status 3, waiting for its receipt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from hirondelle.context import Context
from hirondelle.services import delivery
from hirondelle.services.delivery import SubmitResult
from hirondelle.store import delivery as rows
from hirondelle.store.ledger import balance_of
from hirondelle.store.schema import ledger, message_events, messages, webhook_events
from tests.unit.delivery_helpers import (
    LEASE,
    claim,
    message,
    new_account,
    queue,
    select,
    submit,
    utc,
)

pytestmark = pytest.mark.anyio

VALIDITY = timedelta(hours=48)
HOOKS = {"receipt_url": "https://hooks.example/receipt"}
PHONES = ("0612000001", "0612000002", "0612000003", "0612000004")


async def expire(ctx: Context, now: datetime, batch: int = 500) -> int:
    return await delivery.expire_messages(ctx, now, batch=batch)


async def balance(ctx: Context, account_id: int) -> int:
    return await ctx.store.read(lambda conn: balance_of(conn, account_id))


async def history(ctx: Context, message_id: int) -> list[tuple[int, str]]:
    found = await select(ctx, message_events, message_events.c.message_id == message_id)
    return [(row["status"], row["detail"]) for row in found]


async def receipt_hooks(ctx: Context) -> list[dict[str, Any]]:
    found = await select(ctx, webhook_events, webhook_events.c.kind == "receipt")
    return [orjson.loads(row["params"]) for row in found]


async def test_validity_is_48_hours_from_the_due_time(ctx: Context, anyio_backend: str) -> None:
    account = await new_account(ctx)
    (now,) = await queue(ctx, account, PHONES[0])
    later = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    (scheduled,) = await queue(ctx, account, PHONES[1], date=later)
    for message_id in (now, scheduled):
        row = await message(ctx, message_id)
        assert utc(row["expires_at"]) == utc(row["due_at"]) + VALIDITY
    # a scheduled message does not expire 48 hours after it was accepted
    assert await expire(ctx, datetime.now(UTC) + timedelta(hours=49)) == 1
    assert (await message(ctx, scheduled))["state"] == "queued"
    assert (await message(ctx, now))["status"] == 4


async def test_the_validity_is_a_setting(
    ctx: Context, anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ctx.settings, "message_validity_hours", 0.5)
    (message_id,) = await queue(ctx, await new_account(ctx), PHONES[0])
    row = await message(ctx, message_id)
    assert utc(row["expires_at"]) == utc(row["due_at"]) + timedelta(minutes=30)


async def test_expiry_refunds_each_message_fails_it_and_says_so(
    ctx: Context, anyio_backend: str
) -> None:
    account = await new_account(ctx, **HOOKS)
    throttled, abandoned, submitted, waiting = await queue(ctx, account, *PHONES)
    created = utc((await message(ctx, throttled))["created_at"])
    await claim(ctx, limit=3)  # three claimed: the fourth stays queued
    await submit(
        ctx,
        SubmitResult(throttled, "retry", "smsc", detail="throttled"),
        SubmitResult(submitted, "accepted", "smsc", ["abc"]),
    )  # `abandoned` stays claimed: its dispatcher died, its lease runs out
    before = await balance(ctx, account.id)

    assert await expire(ctx, created + VALIDITY - timedelta(seconds=5)) == 0
    end = created + VALIDITY + timedelta(seconds=5)
    assert end > created + LEASE
    assert await expire(ctx, end) == 3

    for message_id in (throttled, abandoned, waiting):
        row = await message(ctx, message_id)
        assert (row["state"], row["status"], utc(row["status_at"])) == ("final", 4, end)
        assert (await history(ctx, message_id))[-1] == (4, "validity period expired")
    refunds = await select(ctx, ledger, ledger.c.kind == "refund")
    expired_rows = [await message(ctx, m) for m in sorted((throttled, abandoned, waiting))]
    assert sorted((r["reference"], r["delta"]) for r in refunds) == sorted(
        (m["sms_id"], m["credits"]) for m in expired_rows
    )
    # one ledger row per message, each with the balance after it
    credits = sum(m["credits"] for m in expired_rows)
    assert [r["balance_after"] for r in refunds] == [
        before + sum(r["delta"] for r in refunds[: i + 1]) for i in range(3)
    ]
    assert await balance(ctx, account.id) == before + credits
    hooked = {h["smsId"]: h["status"] for h in await receipt_hooks(ctx) if h["status"] == "4"}
    assert hooked == {m["sms_id"]: "4" for m in expired_rows}

    # the message the SMSC took waits for its receipt: status 3, nothing refunded or retried
    row = await message(ctx, submitted)
    assert (row["state"], row["status"]) == ("submitted", 3)
    assert await history(ctx, submitted) == [(3, "submitted")]
    assert await expire(ctx, end + timedelta(days=30)) == 0
    assert len(await select(ctx, ledger, ledger.c.kind == "refund")) == 3


async def test_expiry_works_in_batches_across_accounts(ctx: Context, anyio_backend: str) -> None:
    alice, bob = await new_account(ctx, "alice"), await new_account(ctx, "bob")
    ids = [*await queue(ctx, alice, *PHONES), *await queue(ctx, bob, *PHONES[:3])]
    end = datetime.now(UTC) + VALIDITY + timedelta(minutes=1)
    assert await expire(ctx, end, batch=2) == len(ids)
    found = await select(ctx, messages, messages.c.id.in_(ids))
    assert {(m["state"], m["status"]) for m in found} == {("final", 4)}
    for account, count in ((alice, 4), (bob, 3)):
        refunds = await select(
            ctx, ledger, ledger.c.kind == "refund", ledger.c.account_id == account.id
        )
        assert len(refunds) == count
        assert refunds[-1]["balance_after"] == 1000  # every debit given back


async def test_a_message_past_its_validity_is_not_claimed(ctx: Context, anyio_backend: str) -> None:
    (message_id,) = await queue(ctx, await new_account(ctx), PHONES[0])
    end = datetime.now(UTC) + VALIDITY + timedelta(minutes=1)
    claimed = await ctx.store.write(lambda conn: rows.claim_due(conn, "me", end, LEASE, 10))
    assert claimed == []
    assert (await message(ctx, message_id))["state"] == "queued"
    (fresh,) = await claim(ctx)
    assert fresh.id == message_id
    assert fresh.expires_at == utc((await message(ctx, message_id))["expires_at"])
