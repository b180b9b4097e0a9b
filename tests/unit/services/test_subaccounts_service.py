"""bind_to_master (sendSms's MASTERACCOUNT) and the validation of sub-account values."""

from __future__ import annotations

import pytest

from hirondelle.context import Context
from hirondelle.services import subaccounts
from hirondelle.services.accounts import Account
from hirondelle.services.subaccounts import BindRefused, SubAccountError, clean_values
from hirondelle.store.accounts import find_by_login, update_account
from tests.helpers import make_account

pytestmark = pytest.mark.anyio


def load(ctx: Context, login: str) -> Account:
    return Account.from_row(ctx.store.read_sync(lambda conn: find_by_login(conn, login)))


async def bind(ctx: Context, login: str, master_login: str) -> Account:
    account_id = load(ctx, login).id
    await ctx.store.write(lambda conn: subaccounts.bind_to_master(conn, account_id, master_login))
    return load(ctx, login)


async def test_bind_a_parentless_account(ctx: Context) -> None:
    make_account(ctx, "master", accepts_masteraccount=True)
    make_account(ctx, "seller")
    bound = await bind(ctx, "seller", " master ")
    assert bound.parent_id == load(ctx, "master").id == load(ctx, "seller").parent_id
    again = await bind(ctx, "seller", "master")
    assert again.parent_id == bound.parent_id


@pytest.mark.parametrize(
    ("master_login", "reason"),
    [
        ("nobody", "no account with login 'nobody'"),
        ("sleeping", "is not active"),
        ("seller", "cannot be its own master"),
        ("child", "is itself a sub-account"),
        ("other", "already has another master"),
        ("shy", "'shy' does not accept MASTERACCOUNT"),
    ],
)
async def test_bind_refusals(ctx: Context, master_login: str, reason: str) -> None:
    make_account(ctx, "master", accepts_masteraccount=True)
    make_account(ctx, "sleeping", active=False)
    make_account(ctx, "child", parent_id=load(ctx, "master").id)
    make_account(ctx, "other", accepts_masteraccount=True)
    make_account(ctx, "shy")
    make_account(ctx, "seller")
    if master_login == "other":
        await bind(ctx, "seller", "master")
    with pytest.raises(BindRefused, match=reason):
        await bind(ctx, "seller", master_login)
    expected = load(ctx, "master").id if master_login == "other" else None
    assert load(ctx, "seller").parent_id == expected


async def test_bind_refuses_a_master_of_its_own_or_a_postpaid_under_prepaid(ctx: Context) -> None:
    make_account(ctx, "master", accepts_masteraccount=True)
    make_account(ctx, "reseller")
    make_account(ctx, "client", parent_id=load(ctx, "reseller").id)
    with pytest.raises(BindRefused, match="has sub-accounts of its own"):
        await bind(ctx, "reseller", "master")
    make_account(ctx, "big", postpaid=True)
    with pytest.raises(BindRefused, match="postpaid account needs a postpaid master"):
        await bind(ctx, "big", "master")
    master_id = load(ctx, "master").id
    ctx.store.write_sync(lambda conn: update_account(conn, master_id, {"postpaid": True}))
    assert (await bind(ctx, "big", "master")).parent_id


def test_clean_values_normalises() -> None:
    clean = clean_values(
        {"mobile": "06 12 34 56 78", "active": "TRUE", "city": "  ", "email": " a@b.fr "},
        creating=False,
    )
    assert clean == {"mobile": "33612345678", "active": True, "email": "a@b.fr"}
    with pytest.raises(SubAccountError, match="Unknown fields: colour"):
        clean_values({"colour": "red"}, creating=False)
