"""A connector with several binds: N sessions to one SMSC, one window each, one TPS for all."""

from __future__ import annotations

import asyncio

import pytest

from hirondelle.context import Context
from hirondelle.dispatch.connectors import Connector
from hirondelle.smpp.messages import MessageOptions
from hirondelle.smpp.session import SessionConfig
from hirondelle.smpp.simulator import SmscSimulator
from tests.unit.delivery_helpers import claim, new_account, queue

pytestmark = pytest.mark.anyio

NUMBERS = [f"06120000{i:02d}" for i in range(12)]


async def test_submits_spread_over_the_binds_under_one_token_bucket(
    ctx: Context, anyio_backend: str
) -> None:
    simulator = SmscSimulator(submit_delay=0.02)  # answers late: submits overlap
    port = await simulator.start()
    config = SessionConfig(host="127.0.0.1", port=port, system_id="esme", window=4, tps=1000)
    connector = Connector(ctx, "smsc", config, MessageOptions(), binds=3)
    await connector.start()
    try:
        for session in connector.sessions:
            await session.wait_bound(5)
        assert simulator.bound_clients == 3
        buckets = {id(session._bucket) for session in connector.sessions}
        assert len(buckets) == 1 and None not in {s._bucket for s in connector.sessions}
        await queue(ctx, await new_account(ctx), *NUMBERS)
        messages = await claim(ctx)

        async def submit_one(message: object) -> str:
            async with connector.slots:
                result = await connector.submit_message(message)  # type: ignore[arg-type]
                return result.outcome

        outcomes = await asyncio.gather(*(submit_one(m) for m in messages))
        assert outcomes == ["accepted"] * len(NUMBERS)
        per_bind = [session.stats.acknowledged for session in connector.sessions]
        assert sum(per_bind) == len(NUMBERS)
        assert all(count > 0 for count in per_bind)  # 12 overlapping submits, 3 binds of 4
        assert simulator.records.message_count == len(NUMBERS)
    finally:
        await connector.close()
        await simulator.close()


async def test_one_bind_is_the_default(ctx: Context, anyio_backend: str) -> None:
    config = SessionConfig(host="127.0.0.1", port=1, system_id="esme", tps=50)
    connector = Connector(ctx, "smsc", config, MessageOptions())
    assert connector.sessions == [connector.session]
    assert connector.slots._value == config.window
