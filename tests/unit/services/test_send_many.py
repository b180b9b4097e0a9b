"""The set-wise send (`send_many`, and the SMPP server's `SendCoalescer` over it) gives every
order exactly what `send` gives it one after the other: the same answers, rows and ledger, on
both engines (the `ctx` fixture runs each test on SQLite and PostgreSQL); a failed transaction
writes nothing."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.services import access, sending
from hirondelle.services.accounts import Account
from hirondelle.services.send_coalescer import OVERLAP_FROM, SendCoalescer, coalescer_of, drain
from hirondelle.services.sending import Recipient, SendOutcome, SendRefused, SmsOrder
from hirondelle.store import campaigns as campaign_rows
from hirondelle.store import engine as engine_module
from hirondelle.store import traffic
from hirondelle.store.accounts import find_by_login
from hirondelle.store.engine import Sql
from hirondelle.store.schema import accounts, blacklist, campaigns, ledger, messages
from tests.helpers import make_account, server_waits

pytestmark = pytest.mark.anyio

#: Saturday 23 May 2026, 21:30 in Paris: commercial messages to France wait for Tuesday 08:00
#: (Monday 25 is Whit Monday).
SATURDAY_NIGHT = datetime(2026, 5, 23, 19, 30, tzinfo=UTC)
BLACKLISTED = "33611111111"
LONG = "Lorem ipsum dolor sit amet " * 15  # 3 parts


def order(message: str, *numbers: str, **fields: Any) -> SmsOrder:
    return SmsOrder(message=message, recipients=[Recipient(mobile=n) for n in numbers], **fields)


#: A mix (15 credits a French SMS, 18 a British one): credit for some only (a 3-part order
#: refused, a later 1-part one accepted), a blacklisted number, an invalid one, a bad sender,
#: a sender without the French STOP mention, commercial hours (deferred), a scheduled date,
#: an empty text, two accounts.
ORDERS: list[tuple[str, SmsOrder]] = [
    ("a", order("Hello", "33612345601", tpoa="Shop")),  # no STOP au: default sender
    ("a", order("Promo STOP au 36180", "33612345602", tpoa="Shop", commercial=True)),
    ("b", order("Other account", "33612345610")),
    ("a", order("Nobody", BLACKLISTED)),
    ("a", order("Half", BLACKLISTED, "33612345603", "123")),
    ("a", order("Bad", "123")),
    ("a", order("Sender", "447700900123", tpoa="!!bad sender that is far too long!!")),
    ("a", order(LONG, "33612345604")),
    ("a", order(LONG, "33612345605")),  # no credit left for 3
    ("a", order("Later", "33612345606", date="2026-06-01 10:00:00")),
    ("a", order("", "33612345607")),
    ("a", order("Last one", "33612345608")),  # no credit left at all
    ("b", order("Other again", "33612345611", tpoa="Bank", commercial=True)),
]


def setup_accounts(ctx: Context, prefix: str, *, plenty: bool = False) -> dict[str, Account]:
    """Accounts `a` and `b` with a blacklisted number; credits for some of ORDERS only, or for
    all of them (`plenty`)."""
    found: dict[str, Account] = {}
    for name, credits in (("a", 10_000), ("b", 10_000)) if plenty else (("a", 130), ("b", 30)):
        login = prefix + name
        make_account(ctx, login, credits=credits)
        row = ctx.store.read_sync(lambda conn, login=login: find_by_login(conn, login))
        account = Account.from_row(row)
        ctx.store.write_sync(
            lambda conn, account_id=account.id: conn.execute(
                sa.insert(blacklist).values(
                    account_id=account_id,
                    phone=BLACKLISTED,
                    comment="stop",
                    created_at=SATURDAY_NIGHT,
                )
            )
        )
        found[name] = account
    return found


def answer(result: SendOutcome | SendRefused) -> tuple[object, ...]:
    """What the caller sees, the generated ids aside."""
    if isinstance(result, SendRefused):
        return ("refused", result.status, result.text, result.invalid_numbers, result.credits)
    fields = vars(result) | {
        "campaign_id": bool(result.campaign_id),
        "sms_ids": len(result.sms_ids),
    }
    return ("sent", tuple(sorted(fields.items())))


def stored(ctx: Context, ids: list[int]) -> dict[str, list[tuple[object, ...]]]:
    """The rows the sends left, per table, without ids."""

    def read(conn: sa.Connection) -> dict[str, list[tuple[object, ...]]]:
        camp = sa.select(
            campaigns.c.name,
            campaigns.c.message,
            campaigns.c.sender,
            campaigns.c.state,
            campaigns.c.due_at,
            campaigns.c.nb_contacts,
            campaigns.c.nb_sms,
            campaigns.c.credits,
            campaigns.c.smpp_receipts,
        )
        msg = sa.select(
            messages.c.phone,
            messages.c.country,
            messages.c.text,
            messages.c.sender,
            messages.c.parts,
            messages.c.credits,
            messages.c.state,
            messages.c.due_at,
            messages.c.expires_at,
        )
        led = sa.select(ledger.c.delta, ledger.c.balance_after, ledger.c.kind)
        queries = {
            "campaigns": camp.where(campaigns.c.account_id == sa.bindparam("a")).order_by(
                campaigns.c.id
            ),
            "messages": msg.where(messages.c.account_id == sa.bindparam("a")).order_by(
                messages.c.id
            ),
            "ledger": led.where(ledger.c.account_id == sa.bindparam("a")).order_by(ledger.c.id),
            "balance": sa.select(accounts.c.balance).where(accounts.c.id == sa.bindparam("a")),
        }
        rows: dict[str, list[tuple[object, ...]]] = {}
        for index, account_id in enumerate(ids):
            for name, query in queries.items():
                rows[f"{name}{index}"] = [tuple(r) for r in conn.execute(query, {"a": account_id})]
        return rows

    return ctx.store.read_sync(read)


async def one_by_one(
    ctx: Context, orders: list[tuple[Account, SmsOrder]]
) -> list[SendOutcome | SendRefused]:
    results: list[SendOutcome | SendRefused] = []
    for account, each in orders:
        try:
            results.append(await sending.send(ctx, account, each, coalesce=False))
        except SendRefused as refused:
            results.append(refused)
    return results


async def test_a_batch_answers_and_writes_as_one_by_one_sends(ctx: Context) -> None:
    ctx.clock = lambda: SATURDAY_NIGHT
    single, batch = setup_accounts(ctx, "one"), setup_accounts(ctx, "many")
    alone = await one_by_one(ctx, [(single[name], each) for name, each in ORDERS])
    together = await sending.send_many(ctx, [(batch[name], each) for name, each in ORDERS])
    assert [answer(r) for r in together] == [answer(r) for r in alone]
    kinds = [type(r).__name__ for r in together]
    assert kinds.count("SendOutcome") >= 5 and kinds.count("SendRefused") >= 4
    assert any(isinstance(r, SendRefused) and r.credits is not None for r in together)
    assert [kinds[i] for i in (7, 8, 9, 11)] == ["SendOutcome", "SendRefused"] * 2
    assert stored(ctx, [batch["a"].id, batch["b"].id]) == stored(
        ctx, [single["a"].id, single["b"].id]
    )
    deferred = together[1]
    assert isinstance(deferred, SendOutcome) and deferred.deferred_to.startswith("2026-05-26 08:00")


async def test_a_batch_the_balances_cover_answers_and_writes_as_one_by_one_sends(
    ctx: Context,
) -> None:
    """On PostgreSQL such a batch is written in one pipeline with its COMMIT (the other test
    has balances that fall short: it is written again, debit by debit)."""
    ctx.clock = lambda: SATURDAY_NIGHT
    single, batch = (
        setup_accounts(ctx, "one", plenty=True),
        setup_accounts(ctx, "many", plenty=True),
    )
    alone = await one_by_one(ctx, [(single[name], each) for name, each in ORDERS])
    together = await sending.send_many(ctx, [(batch[name], each) for name, each in ORDERS])
    assert [answer(r) for r in together] == [answer(r) for r in alone]
    assert [type(r).__name__ for r in together].count("SendOutcome") == 10
    assert stored(ctx, [batch["a"].id, batch["b"].id]) == stored(
        ctx, [single["a"].id, single["b"].id]
    )


async def test_concurrent_batches_never_overdraw_and_the_ledger_holds(ctx: Context) -> None:
    """Batches racing for one balance (several processes, or two batches in flight): each
    order is accepted only while the balance covers it, whichever batch wins the row lock."""
    account = setup_accounts(ctx, "race")["a"]  # 130 credits: 8 French messages of 15
    batches = [[(account, order("Hi", f"336123457{b}{i}")) for i in range(5)] for b in range(4)]
    answers = await asyncio.gather(*(sending.send_many(ctx, batch) for batch in batches))
    accepted = [r for batch in answers for r in batch if isinstance(r, SendOutcome)]
    refused = [r for batch in answers for r in batch if isinstance(r, SendRefused)]
    assert len(accepted) == 8 and len(refused) == 12
    assert sorted(r.credits for r in accepted) == [130 - 15 * n for n in range(8, 0, -1)]
    rows = stored(ctx, [account.id])
    assert rows["balance0"] == [(10,)]
    top_up, *debits = rows["ledger0"]
    assert top_up[:2] == (130, 130) and sum(delta for delta, _, _ in rows["ledger0"]) == 10
    assert [delta for delta, _, _ in debits] == [-15] * 8
    assert [after for _, after, _ in debits] == [130 - 15 * n for n in range(1, 9)]
    assert len(rows["messages0"]) == 8


async def test_a_covered_batch_waits_for_postgresql_three_times(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BEGIN, the reads (blacklist, new campaign ids), then every write with the COMMIT: the
    balance rows are locked for no round trip to the web process, whatever the batch's size."""
    if ctx.store.is_sqlite:
        pytest.skip("PostgreSQL's round trips (SQLite runs in-process)")
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 3600.0)  # no ping in the count
    accounts_ = setup_accounts(ctx, "trips", plenty=True)
    batch = [(accounts_[name], each) for name, each in ORDERS]
    with server_waits(ctx) as waits:
        answers = await sending.send_many(ctx, batch)
    assert [type(r).__name__ for r in answers].count("SendOutcome") == 10
    assert len(waits) == 3, waits


async def test_a_failed_batch_writes_nothing(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts_ = setup_accounts(ctx, "crash")
    before = stored(ctx, [accounts_["a"].id, accounts_["b"].id])

    def broken(conn: sa.Connection, rows: Any) -> None:
        raise RuntimeError("disk on fire")  # after the debits and the campaign rows

    monkeypatch.setattr(campaign_rows, "insert_messages", broken)
    with pytest.raises(RuntimeError):
        await sending.send_many(ctx, [(accounts_[name], each) for name, each in ORDERS])
    assert stored(ctx, [accounts_["a"].id, accounts_["b"].id]) == before


async def test_the_coalescer_batches_concurrent_sends_and_answers_each(ctx: Context) -> None:
    single, batch = setup_accounts(ctx, "one"), setup_accounts(ctx, "many")
    alone = await one_by_one(ctx, [(single[name], each) for name, each in ORDERS])
    coalescer = SendCoalescer(lambda batch: sending.send_many(ctx, batch), max_batch=4)

    async def through(account: Account, each: SmsOrder) -> SendOutcome | SendRefused:
        try:
            return await coalescer.send(account, each)
        except SendRefused as refused:
            return refused

    # gather starts them in order: they queue in that order, so the debits come in that order
    together = await asyncio.gather(*(through(batch[name], each) for name, each in ORDERS))
    await coalescer.close()
    assert [answer(r) for r in together] == [answer(r) for r in alone]


async def test_the_orders_that_arrive_during_a_batch_wait_for_it_unless_many_wait() -> None:
    """One batch in flight, the next gathering what arrives meanwhile: a second starts beside it
    only from `overlap_from` waiting orders (a batch's fixed cost, see OVERLAP_FROM)."""
    batches: list[int] = []
    writing, most = 0, 0
    release = asyncio.Event()

    async def run(batch: list[Any]) -> list[str]:
        nonlocal writing, most
        batches.append(len(batch))
        writing += 1
        most = max(most, writing)
        await release.wait()
        writing -= 1
        return ["sent"] * len(batch)

    coalescer: SendCoalescer[str] = SendCoalescer(run, overlap_from=5)
    account: Any = object()  # the coalescer only hands it to `run`
    each = order("Hi", "33612345601")

    async def sends(count: int) -> list[asyncio.Task[str]]:
        started = [asyncio.create_task(coalescer.send(account, each)) for _ in range(count)]
        for _ in range(3):  # let them queue and the coalescer start what it will
            await asyncio.sleep(0)
        return started

    first = await sends(1)
    assert batches == [1]
    meanwhile = await sends(4)
    assert batches == [1], "4 waiting orders do not start a second transaction"
    many = await sends(1)
    assert batches == [1, 5], "the fifth does"
    later = await sends(2)
    release.set()
    assert await asyncio.gather(*first, *meanwhile, *many, *later) == ["sent"] * 8
    await coalescer.close()
    assert batches == [1, 5, 2] and most == 2


async def test_an_smpp_customers_sends_overlap_as_soon_as_one_waits(ctx: Context) -> None:
    """The process keeps a coalescer per kind of sender: an SMPP customer's windows wait on
    each answer, so its second batch starts with the first order waiting; HTTP's waits for
    OVERLAP_FROM["http"]."""
    starts: list[int] = []
    release = asyncio.Event()

    async def run(batch: list[Any]) -> list[str]:
        starts.append(len(batch))
        await release.wait()
        return ["sent"] * len(batch)

    http = coalescer_of(ctx, run, "http")
    smpp = coalescer_of(ctx, run, "smpp")
    assert coalescer_of(ctx, run, "http") is http and smpp is not http
    assert (http.overlap_from, smpp.overlap_from) == (OVERLAP_FROM["http"], 1)
    account: Any = object()
    each = order("Hi", "33612345601")
    sends = []
    for count in (1, 2):
        sends += [asyncio.create_task(smpp.send(account, each)) for _ in range(count)]
        for _ in range(3):  # let them queue and the coalescer start what it will
            await asyncio.sleep(0)
    assert starts == [1, 2], "the second batch started beside the first"
    release.set()
    assert await asyncio.gather(*sends) == ["sent"] * 3
    await drain(ctx)


async def test_a_failed_batch_fails_each_of_its_sends(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts_ = setup_accounts(ctx, "crash")
    before = stored(ctx, [accounts_["a"].id])

    def broken(conn: sa.Connection, at: datetime, sends: Any) -> list[Sql]:  # before COMMIT
        return [Sql("INSERT INTO no_such_table VALUES (1)")]

    monkeypatch.setattr(traffic, "sends_sql", broken)
    coalescer = SendCoalescer(lambda batch: sending.send_many(ctx, batch))
    sends = [coalescer.send(accounts_["a"], order("Hi", f"3361234570{i}")) for i in range(5)]
    results = await asyncio.gather(*sends, return_exceptions=True)
    assert isinstance(results[0], Exception) and not isinstance(results[0], SendRefused)
    assert all(r is results[0] for r in results)
    assert stored(ctx, [accounts_["a"].id]) == before


async def test_masteraccount_orders_stay_with_send(ctx: Context) -> None:
    """Their binding must roll back with their own refused debit: not in a batch."""
    accounts_ = setup_accounts(ctx, "m")
    with pytest.raises(ValueError, match="MASTERACCOUNT"):
        await sending.send_many(
            ctx, [(accounts_["a"], order("Hi", "33612345601", master_account="x"))]
        )


async def test_concurrent_sends_go_through_the_coalescer_as_one_by_one(ctx: Context) -> None:
    """`sending.send`, the entry point of the HTTP APIs and the SMPP server, batches small sends
    and answers each as its own transaction would."""
    single, batch = setup_accounts(ctx, "sone"), setup_accounts(ctx, "smany")
    alone = await one_by_one(ctx, [(single[name], each) for name, each in ORDERS])

    async def through(account: Account, each: SmsOrder) -> SendOutcome | SendRefused:
        try:
            return await sending.send(ctx, account, each)
        except SendRefused as refused:
            return refused

    together = await asyncio.gather(*(through(batch[name], each) for name, each in ORDERS))
    assert [answer(r) for r in together] == [answer(r) for r in alone]


async def test_a_batched_send_takes_its_message_tokens_once(ctx: Context) -> None:
    """As many concurrent sends pass the messages/s limit as one-by-one ones: the coalescer
    takes no tokens of its own."""
    ctx.ticks = lambda: 100.0  # no refill
    passed = []
    for login, coalesce in (("tok1", False), ("tok2", True)):
        make_account(ctx, login, credits=10_000)
        row = ctx.store.read_sync(lambda conn, login=login: find_by_login(conn, login))
        account = replace(Account.from_row(row), messages_per_second=5)

        async def one(account: Account = account, coalesce: bool = coalesce) -> bool:
            try:
                await sending.send(ctx, account, order("Hi", "33612345601"), coalesce=coalesce)
            except access.Throttled:
                return False
            return True

        if coalesce:
            results = await asyncio.gather(*(one() for _ in range(40)))
        else:
            results = [await one() for _ in range(40)]
        passed.append(sum(results))
    assert 0 < passed[0] < 40
    assert passed[1] == passed[0]
