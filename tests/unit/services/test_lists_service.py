"""The list service under concurrency, on both engines, and list_recipients hands sendSms what
it needs (the lists at scale: tests/volume/test_lists_at_scale.py)."""

from __future__ import annotations

import asyncio

import pytest

from hirondelle.context import Context
from hirondelle.services import lists
from hirondelle.services.lists import FieldSpec, UnknownList
from hirondelle.store.accounts import find_by_login
from tests.helpers import make_account

pytestmark = pytest.mark.anyio


def account(ctx: Context, login: str = "alice") -> int:
    make_account(ctx, login)
    return int(ctx.store.read_sync(lambda conn: find_by_login(conn, login)["id"]))


async def test_concurrent_populates_of_one_list_never_store_a_number_twice(ctx: Context) -> None:
    alice = account(ctx)
    await lists.create_list(ctx, alice, "l", locked=False, fields=[])
    batch = [f"06{i:08d}" for i in range(200)]
    results = await asyncio.gather(*(lists.populate_list(ctx, alice, "l", batch) for _ in range(8)))
    assert sum(r.success for r in results) == 200
    assert sum(r.duplicated for r in results) == 7 * 200
    assert len(await lists.list_recipients(ctx, alice, "l")) == 200


async def test_recipients_fill_unset_fields_and_lists_are_per_account(ctx: Context) -> None:
    alice, bob = account(ctx, "alice"), account(ctx, "bob")
    fields = [FieldSpec("FirstName", mailing=True), FieldSpec("City", filter=True)]
    await lists.create_list(ctx, alice, "vip", locked=False, fields=fields)
    await lists.create_list(ctx, bob, "vip", locked=False, fields=[])
    await lists.populate_list(
        ctx, alice, "vip", [{"mobilephone": "0611111111", "firstname": "Zoé"}]
    )
    assert await lists.list_recipients(ctx, alice, "vip") == [
        ("33611111111", {"FirstName": "Zoé", "City": ""})
    ]
    assert await lists.list_recipients(ctx, bob, "vip") == []
    with pytest.raises(UnknownList, match="Unknown list: nope"):
        await lists.list_recipients(ctx, alice, "nope")
    assert await lists.delete_list(ctx, alice, "vip") == 1
    with pytest.raises(UnknownList):
        await lists.populate_list(ctx, alice, "vip", ["0611111111"])
