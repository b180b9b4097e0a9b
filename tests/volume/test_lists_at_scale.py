"""The list service at scale, on both engines: populateList is one transaction with no query
per contact, and a 100,000-contact list is read back whole."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.services import lists
from hirondelle.services.lists import FieldSpec
from tests.api.sending_helpers import account_id
from tests.helpers import make_account

pytestmark = pytest.mark.anyio


def account(ctx: Context, login: str = "alice") -> int:
    make_account(ctx, login)
    return account_id(ctx, login)


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
