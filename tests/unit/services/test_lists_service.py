"""The list service at scale and under concurrency, on both engines: populateList is one
transaction with no query per contact, a 100,000-contact list is read back whole, and
list_recipients hands sendSms what it needs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.services import lists
from hirondelle.services.lists import FieldSpec, UnknownList
from hirondelle.store.accounts import find_by_login
from tests.helpers import make_account

pytestmark = pytest.mark.anyio


def account(ctx: Context, login: str = "alice") -> int:
    make_account(ctx, login)
    return int(ctx.store.read_sync(lambda conn: find_by_login(conn, login)["id"]))


@contextmanager
def statements(ctx: Context) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa.event.listen(ctx.store.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(ctx.store.engine, "before_cursor_execute", count)


async def test_populate_runs_a_handful_of_queries_whatever_the_size(ctx: Context) -> None:
    alice = account(ctx)
    await lists.create_list(ctx, alice, "big", locked=False, fields=[FieldSpec("City")])
    items = [{"MOBILEPHONE": f"0612{i:06d}", "CITY": "Nice"} for i in range(10_000)]
    with statements(ctx) as seen:
        counts = await lists.populate_list(ctx, alice, "big", items)
    assert (counts.success, counts.ignored, counts.duplicated) == (10_000, 0, 0)
    assert len(seen) < 30, seen[:40]
    with statements(ctx) as seen:
        counts = await lists.populate_list(ctx, alice, "big", items)
    assert (counts.success, counts.duplicated) == (0, 10_000)
    assert len(seen) < 30


async def test_a_list_of_100000_contacts(ctx: Context) -> None:
    alice = account(ctx)
    await lists.create_list(ctx, alice, "huge", locked=True, fields=[FieldSpec("Name")])
    items = [{"MOBILEPHONE": f"336{i:08d}", "NAME": f"n{i}"} for i in range(100_000)]
    counts = await lists.populate_list(ctx, alice, "huge", items)
    assert counts.success == 100_000
    [listed] = await lists.get_lists(ctx, alice)
    assert (listed.name, listed.contacts, listed.locked) == ("huge", 100_000, True)
    recipients = await lists.list_recipients(ctx, alice, "huge")
    assert len(recipients) == 100_000
    assert recipients[0] == ("33600000000", {"Name": "n0"})
    assert recipients[-1] == ("33600099999", {"Name": "n99999"})


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
