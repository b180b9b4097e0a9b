"""A receipt that arrives before its submit result is stored waits for it (in the process that
holds the bind), so both are never written in parallel transactions that miss each other."""

from __future__ import annotations

import asyncio

import pytest

from hirondelle.context import Context
from hirondelle.dispatch import connectors
from hirondelle.dispatch.connectors import Connector
from hirondelle.smpp.messages import MessageOptions
from hirondelle.smpp.session import SessionConfig

pytestmark = pytest.mark.anyio

DEADLINE = 5.0


def connector(ctx: Context) -> Connector:
    return Connector(ctx, "smsc", SessionConfig("127.0.0.1", 1, "test"), MessageOptions())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_receipt_waits_until_its_submit_result_is_stored(ctx: Context) -> None:
    smsc = connector(ctx)
    smsc.storing("AB12")
    waiting = asyncio.create_task(smsc.receipt_may_go("00AB12"))  # another form of the same id
    other = asyncio.create_task(smsc.receipt_may_go("cd34"))
    await asyncio.wait_for(other, DEADLINE)  # an id nobody is storing goes at once
    await asyncio.sleep(0)
    assert not waiting.done()
    smsc.stored(["AB12"])
    await asyncio.wait_for(waiting, DEADLINE)
    assert smsc.unstored == {}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_result_never_stored_holds_its_receipt_a_bounded_time(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connectors, "UNSTORED_WAIT", 0.01)
    smsc = connector(ctx)
    smsc.storing("AB12")
    await asyncio.wait_for(smsc.receipt_may_go("ab12"), DEADLINE)
    assert smsc.unstored == {}
