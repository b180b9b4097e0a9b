"""Credits: every movement is a ledger row, and a prepaid balance never goes below zero."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.services import accounts
from hirondelle.store import ledger
from hirondelle.store.accounts import find_by_login
from hirondelle.store.schema import ledger as ledger_table
from tests.helpers import make_account

pytestmark = pytest.mark.anyio


def account_id(ctx: Context, login: str) -> int:
    return ctx.store.read_sync(lambda conn: find_by_login(conn, login)["id"])


async def debit(ctx: Context, account_id: int, credits: int, reference: str = "") -> int:
    """Take credits the way a send does: a ledger move in a transaction of its own."""
    return await ctx.store.write(
        lambda conn: ledger.move(conn, account_id, -credits, "debit", reference)
    )


async def test_200_concurrent_debits_against_150_credits(ctx: Context) -> None:
    make_account(ctx, "alice", credits=150)
    alice = account_id(ctx, "alice")

    async def one_debit() -> bool:
        try:
            await debit(ctx, alice, 1, "test")
        except accounts.InsufficientCredits:
            return False
        return True

    outcomes = await asyncio.gather(*(one_debit() for _ in range(200)))
    assert outcomes.count(True) == 150
    assert outcomes.count(False) == 50
    assert ctx.store.read_sync(lambda conn: ledger.balance_of(conn, alice)) == 0
    debits = ctx.store.read_sync(
        lambda conn: conn.execute(
            sa.select(sa.func.count()).where(
                ledger_table.c.account_id == alice, ledger_table.c.kind == "debit"
            )
        ).scalar_one()
    )
    assert debits == 150


async def test_postpaid_may_go_negative(ctx: Context) -> None:
    make_account(ctx, "bob", credits=1, postpaid=True)
    bob = account_id(ctx, "bob")
    assert await debit(ctx, bob, 5) == -4


async def test_refused_debit_changes_nothing(ctx: Context) -> None:
    make_account(ctx, "carol", credits=3)
    carol = account_id(ctx, "carol")
    with pytest.raises(accounts.InsufficientCredits) as info:
        await debit(ctx, carol, 4)
    assert (info.value.needed, info.value.available) == (4, 3)
    rows = ctx.store.read_sync(lambda conn: ledger.entries(conn, carol))
    assert [(r["kind"], r["delta"], r["balance_after"]) for r in rows] == [("topup", 3, 3)]


async def test_top_up_and_ledger_balance_agree(ctx: Context) -> None:
    make_account(ctx, "dave", credits=10)
    dave = account_id(ctx, "dave")
    assert await accounts.top_up(ctx, "dave", 5) == 15
    await debit(ctx, dave, 2)
    rows = ctx.store.read_sync(lambda conn: ledger.entries(conn, dave))
    assert sum(r["delta"] for r in rows) == 13
    assert rows[0]["balance_after"] == 13
    with pytest.raises(accounts.AccountError):
        await accounts.top_up(ctx, "dave", 0)
    with pytest.raises(accounts.AccountError):
        await accounts.top_up(ctx, "nobody", 5)
