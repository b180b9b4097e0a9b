"""Dispatcher with fake connectors over a real store: claims, failover, outcomes, stopping."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.dispatch.connectors import Connector
from hirondelle.dispatch.dispatcher import NO_ROUTE_RETRY, Dispatcher
from hirondelle.dispatch.routing import Route, Router
from hirondelle.services import delivery, dispatching
from hirondelle.services.delivery import Outcome, SubmitResult
from hirondelle.store.delivery import ClaimedMessage
from hirondelle.store.schema import ledger, message_parts, messages, submit_journal
from tests.unit.delivery_helpers import claim, message, new_account, queue, select, utc

pytestmark = pytest.mark.anyio

PHONES = ("0612000001", "0612000002")
DEADLINE = 5.0  # seconds; the store is reached within milliseconds


class FakeConnector:
    """A connector that answers every submit with `outcome`, once `gate` (if any) is open."""

    def __init__(self, name: str, outcome: Outcome = "accepted", *, bound: bool = True) -> None:
        self.name = name
        self.outcome = outcome
        self.bound = bound
        self.slots = asyncio.Semaphore(4)
        self.gate: asyncio.Event | None = None
        self.submitted: list[int] = []
        self.stored_ids: list[str] = []

    def stored(self, smsc_ids: Sequence[str]) -> None:
        self.stored_ids.extend(smsc_ids)

    async def submit_message(self, message: ClaimedMessage) -> SubmitResult:
        self.submitted.append(message.id)
        if self.gate is not None:
            await self.gate.wait()
        if self.outcome == "accepted":
            return SubmitResult(message.id, "accepted", self.name, [f"{self.name}{message.id}"])
        return SubmitResult(message.id, self.outcome, self.name, detail=f"{self.name} said no")


def dispatcher(
    ctx: Context, *routes: tuple[FakeConnector, tuple[str, ...]], **options: Any
) -> Dispatcher:
    connectors = {c.name: cast(Connector, c) for c, _ in routes}
    router = Router([Route(c.name, prefixes) for c, prefixes in routes])
    return Dispatcher(ctx, connectors, router, **{"batch_size": 10, "idle_tick": 0.01, **options})


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "the store never got there"
        await asyncio.sleep(0.01)


@asynccontextmanager
async def running(worker: Dispatcher) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        worker.stop()
        await asyncio.wait_for(task, DEADLINE)


async def settled(ctx: Context, message_id: int, **expected: Any) -> None:
    """Wait until the message row has these values."""

    async def check() -> bool:
        row = await message(ctx, message_id)
        return all(row[k] == v for k, v in expected.items())

    await until(check)


async def test_due_messages_are_claimed_and_accepted(ctx: Context, anyio_backend: str) -> None:
    ids = await queue(ctx, await new_account(ctx), *PHONES)
    smsc = FakeConnector("a")
    async with running(dispatcher(ctx, (smsc, ()))):
        for message_id in ids:
            await settled(ctx, message_id, state="submitted")
    assert sorted(smsc.submitted) == ids
    for message_id in ids:
        row = await message(ctx, message_id)
        assert (row["status"], row["connector"], row["attempts"]) == (3, "a", 0)
    parts = await select(ctx, message_parts)
    assert sorted((p["message_id"], p["smsc_id"], p["connector"]) for p in parts) == [
        (m, f"a{m}", "a") for m in ids
    ]
    # the connector was told, so their receipts may be written (Connector.receipts_may_go)
    assert sorted(smsc.stored_ids) == [f"a{m}" for m in ids]


async def test_unbound_and_retrying_connectors_fail_over(ctx: Context, anyio_backend: str) -> None:
    (message_id,) = await queue(ctx, await new_account(ctx), PHONES[0])
    down = FakeConnector("down", bound=False)
    busy = FakeConnector("busy", "retry")
    spare = FakeConnector("spare")
    worker = dispatcher(ctx, (down, ("336",)), (busy, ("33",)), (spare, ()))
    async with running(worker):
        await settled(ctx, message_id, state="submitted")
    assert (down.submitted, busy.submitted, spare.submitted) == ([], [message_id], [message_id])
    row = await message(ctx, message_id)
    assert (row["connector"], row["attempts"]) == ("spare", 0)


@pytest.mark.parametrize(
    ("outcome", "prefixes", "tried"),
    [("retry", (), True), ("accepted", ("44",), False)],  # a temporary refusal; no route
)
async def test_a_message_nobody_takes_is_put_back(
    ctx: Context, anyio_backend: str, outcome: Outcome, prefixes: tuple[str, ...], tried: bool
) -> None:
    (message_id,) = await queue(ctx, await new_account(ctx), PHONES[0])
    before = datetime.now(UTC)
    smsc = FakeConnector("a", outcome)
    async with running(dispatcher(ctx, (smsc, prefixes))):
        await settled(ctx, message_id, attempts=1)
    row = await message(ctx, message_id)
    assert (row["state"], row["status"], row["claimed_by"]) == ("queued", 0, None)
    assert before + NO_ROUTE_RETRY <= utc(row["due_at"]) <= datetime.now(UTC) + NO_ROUTE_RETRY
    assert smsc.submitted == ([message_id] if tried else [])


async def test_a_rejected_message_is_refunded(ctx: Context, anyio_backend: str) -> None:
    (message_id,) = await queue(ctx, await new_account(ctx), PHONES[0])
    async with running(dispatcher(ctx, (FakeConnector("a", "rejected"), ()))):
        await settled(ctx, message_id, state="final")
    row = await message(ctx, message_id)
    assert row["status"] == 4
    refunds = await select(ctx, ledger, ledger.c.kind == "refund")
    assert [(r["delta"], r["reference"]) for r in refunds] == [(row["credits"], row["sms_id"])]
    assert await select(ctx, message_parts) == []


async def test_scheduled_messages_are_not_claimed(ctx: Context, anyio_backend: str) -> None:
    account = await new_account(ctx)
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    (scheduled,) = await queue(ctx, account, PHONES[0], date=later)
    (now,) = await queue(ctx, account, PHONES[1])
    smsc = FakeConnector("a")
    async with running(dispatcher(ctx, (smsc, ()))):
        await settled(ctx, now, state="submitted")
    assert smsc.submitted == [now]
    row = await message(ctx, scheduled)
    assert (row["state"], row["claimed_by"], row["attempts"]) == ("queued", None, 0)


async def test_recover_releases_the_claims_of_another_owner(
    ctx: Context, anyio_backend: str
) -> None:
    ids = await queue(ctx, await new_account(ctx), *PHONES)
    await claim(ctx, "crashed")
    worker = dispatcher(ctx, (FakeConnector("a"), ()))
    assert await worker.recover() == 2
    for message_id in ids:
        row = await message(ctx, message_id)
        assert (row["state"], row["claimed_by"]) == ("queued", None)
    assert await worker.recover() == 0


async def test_stop_lets_submits_in_flight_finish(ctx: Context, anyio_backend: str) -> None:
    (message_id,) = await queue(ctx, await new_account(ctx), PHONES[0])
    smsc = FakeConnector("a")
    smsc.gate = asyncio.Event()
    worker = dispatcher(ctx, (smsc, ()))
    task = asyncio.create_task(worker.run())

    async def submitting() -> bool:
        return smsc.submitted == [message_id]

    await until(submitting)
    worker.stop()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    assert worker.in_flight == 1
    smsc.gate.set()
    await asyncio.wait_for(task, DEADLINE)
    row = await message(ctx, message_id)
    assert (row["state"], row["status"]) == ("submitted", 3)


@pytest.mark.parametrize("bound", [True, False])
async def test_a_message_past_its_validity_fails_instead_of_being_sent(
    ctx: Context, anyio_backend: str, bound: bool
) -> None:
    old, fresh = await queue(ctx, await new_account(ctx), *PHONES)
    past = datetime.now(UTC) - timedelta(seconds=1)
    await ctx.store.write(
        lambda conn: conn.execute(
            sa.update(messages).where(messages.c.id == old).values(expires_at=past)
        )
    )
    smsc = FakeConnector("a", bound=bound)  # expiry does not wait for a connector
    async with running(dispatcher(ctx, (smsc, ()))):
        await settled(ctx, old, state="final", status=4)
        if bound:
            await settled(ctx, fresh, state="submitted")
    assert smsc.submitted == ([fresh] if bound else [])
    refunds = await select(ctx, ledger, ledger.c.kind == "refund")
    assert [r["reference"] for r in refunds] == [(await message(ctx, old))["sms_id"]]


async def test_only_the_claims_in_hand_have_their_leases_renewed(
    ctx: Context, anyio_backend: str
) -> None:
    """A live dispatcher renews the leases of the messages it is submitting, not of one whose
    outcome it could not store: that one comes back when its lease runs out (on PostgreSQL,
    stored from the submit journal instead: see the last test)."""
    unstored, submitting = await queue(ctx, await new_account(ctx), *PHONES)
    hold = asyncio.Event()

    class Holding(FakeConnector):
        async def submit_message(self, message: ClaimedMessage) -> SubmitResult:
            if message.id == submitting:
                await hold.wait()
            return await super().submit_message(message)

    smsc = Holding("a")
    worker = dispatcher(ctx, (smsc, ()), lease=timedelta(seconds=1.5))  # renewed every 0.5 s
    write = worker.results.write

    async def store_is_down_for_one(batch: list[SubmitResult]) -> None:
        if any(result.message_id == unstored for result in batch):
            raise RuntimeError("the database is down")
        await write(batch)

    worker.results.write = store_is_down_for_one
    async with running(worker):
        await until(lambda: asyncio.sleep(0, unstored in smsc.submitted))
        leases = {m: utc((await message(ctx, m))["lease_until"]) for m in (unstored, submitting)}

        async def renewed() -> bool:
            return utc((await message(ctx, submitting))["lease_until"]) > leases[submitting]

        await until(renewed)
        row = await message(ctx, unstored)
        assert (row["state"], utc(row["lease_until"])) == ("claimed", leases[unstored])
        hold.set()
        await settled(ctx, submitting, state="submitted")


async def test_a_window_slot_is_freed_once_what_the_smsc_took_is_durable(
    ctx: Context, anyio_backend: str
) -> None:
    """On PostgreSQL, in the submit journal: the next submit need not wait for the full write
    of the last one's result. On SQLite (one writer) the slot waits for the full write."""
    first, second = await queue(ctx, await new_account(ctx), *PHONES)
    smsc = FakeConnector("a")
    smsc.slots = asyncio.Semaphore(1)  # a window of one
    worker = dispatcher(ctx, (smsc, ()))
    write, release = worker.results.write, asyncio.Event()

    async def slow_store(batch: list[SubmitResult]) -> None:
        await release.wait()
        await write(batch)

    worker.results.write = slow_store
    async with running(worker):
        await until(lambda: asyncio.sleep(0, len(smsc.submitted) >= 1))
        if ctx.store.is_sqlite:
            assert worker.journal is None
            assert smsc.submitted == [first]
        else:
            await until(lambda: asyncio.sleep(0, len(smsc.submitted) == 2))
            rows = await select(ctx, submit_journal)
            assert sorted(json.loads(row["results"])[0][0] for row in rows) == [first, second]
            assert (await message(ctx, first))["state"] == "claimed"  # the full write waits
        release.set()
        for message_id in (first, second):
            await settled(ctx, message_id, state="submitted")
    assert smsc.submitted == [first, second]
    assert await select(ctx, submit_journal) == []


@pytest.mark.postgres
async def test_a_submit_whose_full_write_failed_is_stored_from_the_journal(
    pg_ctx: Context, anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its lease runs out, but the SMSC has it: never claimed again, the sweep stores it."""
    (message_id,) = await queue(pg_ctx, await new_account(pg_ctx), PHONES[0])
    smsc = FakeConnector("a")
    worker = dispatcher(pg_ctx, (smsc, ()), sweep_interval=0.05, lease=timedelta(seconds=0.5))

    async def store_is_down(batch: list[SubmitResult]) -> None:
        raise RuntimeError("the database is down")

    worker.results.write = store_is_down
    claims: list[datetime] = []  # when the dispatcher looked for messages to claim
    claim_due = worker._claim

    async def claim_noted(limit: int) -> list[ClaimedMessage]:
        claims.append(datetime.now(UTC))
        return await claim_due(limit)

    worker._claim = claim_noted
    async with running(worker):
        await until(lambda: asyncio.sleep(0, smsc.submitted == [message_id]))
        lease_until = utc((await message(pg_ctx, message_id))["lease_until"])
        await until(lambda: asyncio.sleep(0, claims[-1] > lease_until))  # the lease ran out
        row = await message(pg_ctx, message_id)
        assert (row["state"], smsc.submitted) == ("claimed", [message_id])
        monkeypatch.setattr(delivery, "JOURNAL_GRACE", timedelta(0))
        await settled(pg_ctx, message_id, state="submitted", status=3)
    assert smsc.submitted == [message_id]
    parts = await select(pg_ctx, message_parts)
    assert [(p["message_id"], p["smsc_id"]) for p in parts] == [(message_id, f"a{message_id}")]


@pytest.mark.postgres
async def test_a_journal_that_cannot_be_written_leaves_the_full_write_in_the_slot(
    pg_ctx: Context, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Logged once a failed write, not once a message (a hundred tracebacks a window)."""
    ids = await queue(pg_ctx, await new_account(pg_ctx), *(f"06120000{n:02d}" for n in range(5)))
    smsc = FakeConnector("a")
    worker = dispatcher(pg_ctx, (smsc, ()))
    assert worker.journal is not None
    failed_writes = 0

    async def journal_is_down(batch: list[SubmitResult]) -> None:
        nonlocal failed_writes
        failed_writes += 1
        raise RuntimeError("the journal's table is locked")

    worker.journal._batcher.write = journal_is_down
    async with running(worker):
        for message_id in ids:
            await settled(pg_ctx, message_id, state="submitted", status=3)
    assert sorted(smsc.submitted) == ids
    assert await select(pg_ctx, submit_journal) == []
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert 0 < failed_writes < len(ids)  # the messages' entries were batched
    assert len(logged) == failed_writes
    assert all(m.endswith("submit journal entries failed") for m in logged), logged


async def test_a_claim_that_fails_is_tried_again(
    ctx: Context,
    anyio_backend: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The store down for a few claims (a PostgreSQL failover): a claim that raised ended the
    dispatcher, its sweeps with it, until the worker was restarted."""
    (message_id,) = await queue(ctx, await new_account(ctx), PHONES[0])
    claim_due, failures = dispatching.claim_due, [3]

    async def down_for_a_while(*args: Any, **kwargs: Any) -> list[ClaimedMessage]:
        if failures[0]:
            failures[0] -= 1
            raise RuntimeError("consuming input failed: server closed the connection\nmore")
        return await claim_due(*args, **kwargs)

    monkeypatch.setattr(dispatching, "claim_due", down_for_a_while)
    smsc = FakeConnector("a")
    async with running(dispatcher(ctx, (smsc, ()))) as task:
        await settled(ctx, message_id, state="submitted")
        assert not task.done()
    assert smsc.submitted == [message_id]
    warnings = [r.getMessage() for r in caplog.records if "could not claim" in r.getMessage()]
    assert warnings == [  # one line, a minute apart at most
        "could not claim due messages, trying again: consuming input failed: server closed the"
        " connection"
    ]
