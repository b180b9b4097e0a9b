"""A worker's dispatcher that fails is started again: the worker still holds its connectors'
locks, so a dispatcher that silently ended would stall them for the whole cluster."""

from __future__ import annotations

import asyncio

import pytest

from hirondelle import workers as workers_module
from hirondelle.context import Context
from hirondelle.dispatch.dispatcher import Dispatcher
from hirondelle.workers import Workers
from tests.unit.delivery_helpers import message, new_account, queue

pytestmark = pytest.mark.anyio

DEADLINE = 20.0  # seconds; a start and one submit take well under one


async def test_a_dispatcher_that_fails_is_started_again(
    ctx: Context,
    anyio_backend: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sweep, failures = Dispatcher._sweep, [1]

    async def fails_once(self: Dispatcher) -> None:
        if failures[0]:
            failures[0] -= 1
            raise RuntimeError("what nobody foresaw")
        await sweep(self)

    monkeypatch.setattr(Dispatcher, "_sweep", fails_once)
    monkeypatch.setattr(workers_module, "DISPATCHER_RESTART", 0.05)
    workers = Workers(ctx)
    await workers.start()
    try:
        (message_id,) = await queue(ctx, await new_account(ctx), "0612000001")
        async with asyncio.timeout(DEADLINE):
            while (await message(ctx, message_id))["state"] not in ("submitted", "final"):
                await asyncio.sleep(0.05)
    finally:
        await workers.stop()
    assert failures == [0]
    failed = [r for r in caplog.records if "the dispatcher failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is not None
