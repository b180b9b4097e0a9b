"""Credit transfers between a master and its sub-accounts: atomic ledger pairs, under concurrency,
on both engines (the `ctx` fixture runs each test on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict

import pytest
import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.services import subaccounts
from hirondelle.services.accounts import Account, AccountError
from hirondelle.services.subaccounts import TransferRefused
from hirondelle.store.accounts import find_by_login
from hirondelle.store.schema import accounts, ledger
from tests.helpers import make_account

pytestmark = pytest.mark.anyio


def load(ctx: Context, login: str) -> Account:
    return Account.from_row(ctx.store.read_sync(lambda conn: find_by_login(conn, login)))


def family(ctx: Context, master_credits: int, *subs: tuple[str, int]) -> Account:
    make_account(ctx, "master", credits=master_credits)
    master = load(ctx, "master")
    for login, credits in subs:
        make_account(ctx, login, credits=credits, parent_id=master.id)
    return master


def balances(ctx: Context) -> dict[str, int]:
    rows = ctx.store.read_sync(
        lambda conn: conn.execute(sa.select(accounts.c.login, accounts.c.balance)).all()
    )
    return dict(rows)  # type: ignore[arg-type]


def transfer_rows(ctx: Context) -> list[sa.Row[tuple[int, int, str, str]]]:
    query = sa.select(ledger.c.account_id, ledger.c.delta, ledger.c.kind, ledger.c.reference)
    return ctx.store.read_sync(
        lambda conn: list(conn.execute(query.where(ledger.c.kind.like("transfer%"))))
    )


async def test_concurrent_transfers_neither_create_nor_destroy_credits(ctx: Context) -> None:
    master = family(ctx, 1000, ("sub1", 100), ("sub2", 100))
    rng = random.Random(6)
    orders = [
        (rng.choice(["sub1", "sub2"]), rng.choice([-1, 1]) * rng.randint(1, 60)) for _ in range(100)
    ]

    async def one(login: str, credits: int) -> bool:
        try:
            await subaccounts.transfer_credits(ctx, master, login, credits)
        except TransferRefused as exc:
            assert exc.reason == "sub_short"  # the master (1000) can always give 60
            return False
        return True

    outcomes = await asyncio.gather(*(one(login, credits) for login, credits in orders))
    after = balances(ctx)
    assert sum(after.values()) == 1200
    assert min(after.values()) >= 0
    rows = transfer_rows(ctx)
    assert len(rows) == 2 * outcomes.count(True)
    pairs: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        pairs[row.reference].append(row.delta)
    assert all(len(deltas) == 2 and sum(deltas) == 0 for deltas in pairs.values())
    # The ledger explains every balance.
    moved: dict[int, int] = defaultdict(int)
    for row in rows:
        moved[row.account_id] += row.delta
    assert after["master"] == 1000 + moved[master.id]
    assert after["sub1"] == 100 + moved[load(ctx, "sub1").id]


async def test_a_refused_transfer_writes_nothing(ctx: Context) -> None:
    master = family(ctx, 50, ("sub1", 20))
    with pytest.raises(TransferRefused) as info:
        await subaccounts.transfer_credits(ctx, master, "sub1", 51)
    assert info.value.reason == "master_short"
    with pytest.raises(TransferRefused) as info:
        await subaccounts.transfer_credits(ctx, master, "sub1", -21)
    assert info.value.reason == "sub_short"
    with pytest.raises(AccountError):
        await subaccounts.transfer_credits(ctx, master, "sub1", 0)
    assert balances(ctx) == {"master": 50, "sub1": 20}
    assert transfer_rows(ctx) == []


async def test_a_postpaid_master_may_fund_beyond_its_balance(ctx: Context) -> None:
    make_account(ctx, "master", credits=0, postpaid=True)
    master = load(ctx, "master")
    make_account(ctx, "sub1", credits=0, parent_id=master.id)
    assert await subaccounts.transfer_credits(ctx, master, "sub1", 40) == 40
    assert balances(ctx) == {"master": -40, "sub1": 40}


async def test_only_the_own_master_transfers(ctx: Context) -> None:
    family(ctx, 100, ("sub1", 10))
    make_account(ctx, "other", credits=100)
    other = load(ctx, "other")
    sub = load(ctx, "sub1")
    for actor, login in [(other, "sub1"), (sub, "sub1"), (sub, "master"), (other, "other")]:
        with pytest.raises(TransferRefused) as info:
            await subaccounts.transfer_credits(ctx, actor, login, 1)
        assert info.value.reason == "not_linked"
    assert balances(ctx) == {"master": 100, "sub1": 10, "other": 100}


async def test_delete_hands_back_the_balance_under_concurrent_transfers(ctx: Context) -> None:
    master = family(ctx, 500, ("sub1", 100))

    async def transfer(credits: int) -> None:
        with contextlib.suppress(TransferRefused):
            await subaccounts.transfer_credits(ctx, master, "sub1", credits)

    jobs = [transfer(5 if i % 2 else -5) for i in range(20)]
    jobs.insert(10, subaccounts.delete_subaccount(ctx, master, "sub1"))  # type: ignore[arg-type]
    await asyncio.gather(*jobs)
    after = balances(ctx)
    assert after["sub1"] == 0
    assert after["master"] == 600
