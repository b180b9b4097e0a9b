"""A connector against an SMSC that throttles for ever or never answers: each message is given
back to retry, with its validity on the submit_sm, one warning per minute, and counters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.core import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hirondelle.config import ValidityFormat
from hirondelle.context import Context
from hirondelle.dispatch.connectors import Connector
from hirondelle.smpp.messages import MessageOptions
from hirondelle.smpp.session import SessionConfig
from hirondelle.smpp.simulator import SmscSimulator
from hirondelle.smpp.times import absolute_time, parse_time
from hirondelle.store.delivery import ClaimedMessage
from hirondelle.web.control import ConnectorCollector
from hirondelle.workers import Workers
from tests.unit.delivery_helpers import claim, new_account, queue

pytestmark = pytest.mark.anyio

FAST = {
    "response_timeout": 0.05,
    "reconnect_delay": 0.01,
    "reconnect_max_delay": 0.05,
    "throttle_delay": 0.001,
    "throttle_retries": 1,
}
THROTTLED = "0612346666"  # the simulator below throttles ...6666 for ever


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def connected(
    ctx: Context, clock: Clock, validity: ValidityFormat = "relative", **sim: Any
) -> AsyncIterator[tuple[SmscSimulator, Connector]]:
    simulator = SmscSimulator(always_throttled=("6666",), **sim)
    port = await simulator.start()
    config = SessionConfig(host="127.0.0.1", port=port, system_id="esme", **FAST)  # type: ignore[arg-type]
    connector = Connector(ctx, "smsc", config, MessageOptions(), validity=validity, clock=clock)
    await connector.start()
    try:
        await connector.session.wait_bound(5)
        yield simulator, connector
    finally:
        await connector.close()
        await simulator.close()


async def rebound(connector: Connector) -> None:
    async with asyncio.timeout(5):
        while not (connector.session.stats.binds == 2 and connector.bound):
            await asyncio.sleep(0.005)


async def claimed(ctx: Context, *numbers: str) -> list[ClaimedMessage]:
    await queue(ctx, await new_account(ctx), *numbers)
    return await claim(ctx)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The connector's own warnings (the session logs its link events apart)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == "hirondelle.dispatch.connectors"
    ]


def connector_metrics(ctx: Context, connector: Connector) -> dict[str, float]:
    workers = Workers(ctx)
    workers.connectors[connector.name] = connector
    registry = CollectorRegistry()
    registry.register(ConnectorCollector(workers))
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }


async def test_throttled_for_ever_is_retried_with_one_warning_a_minute(
    ctx: Context, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    caplog.set_level(logging.WARNING, "hirondelle.dispatch.connectors")
    (message,) = await claimed(ctx, THROTTLED)
    async with connected(ctx, clock) as (simulator, connector):
        for _ in range(3):
            result = await connector.submit_message(message)
            assert (result.outcome, result.connector) == ("retry", "smsc")
            assert "ESME_RTHROTTLED" in result.detail
        assert simulator.records.submit_count == 6  # each: the first try and one retry
        [warned] = warnings(caplog)
        assert "smsc" in warned and "ESME_RTHROTTLED" in warned
        clock.now += 59
        await connector.submit_message(message)
        assert len(warnings(caplog)) == 1
        clock.now += 1
        await connector.submit_message(message)
        assert len(warnings(caplog)) == 2
        assert "3 more since" in warnings(caplog)[-1]
        metrics = connector_metrics(ctx, connector)
        assert metrics["hirondelle_smpp_throttled_total"] == 10
        assert metrics["hirondelle_smpp_timeouts_total"] == 0


async def test_a_submit_never_answered_is_retried_warned_and_counted(
    ctx: Context, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    caplog.set_level(logging.WARNING, "hirondelle.dispatch.connectors")
    (message,) = await claimed(ctx, "0612340001")
    async with connected(ctx, clock, submit_delay=3600) as (simulator, connector):
        result = await connector.submit_message(message)
        assert result.outcome == "retry" and "no answer" in result.detail
        [warned] = warnings(caplog)
        assert "smsc" in warned and "no answer" in warned
        await rebound(connector)  # the link was dropped
        assert (await connector.submit_message(message)).outcome == "retry"
        assert len(warnings(caplog)) == 1  # the same minute
        assert simulator.records.submit_count == 2
        metrics = connector_metrics(ctx, connector)
        assert metrics["hirondelle_smpp_timeouts_total"] == 2


async def test_the_submit_sm_carries_the_validity_left(ctx: Context, anyio_backend: str) -> None:
    (message,) = await claimed(ctx, "0612340001")
    async with connected(ctx, Clock()) as (simulator, connector):
        before = datetime.now(UTC)
        assert (await connector.submit_message(message)).outcome == "accepted"
        after = datetime.now(UTC)
    [submit] = simulator.records.submits
    assert submit.validity_period.endswith("R")  # relative: the SMSC's clock does not matter
    # what was left of it when sent, rounded up to the second
    earliest, latest = (parse_time(submit.validity_period, t) for t in (before, after))
    assert earliest is not None and latest is not None
    assert earliest - timedelta(seconds=1) <= message.expires_at <= latest
    assert timedelta(hours=47) < message.expires_at - before <= timedelta(hours=48)


async def test_the_validity_may_be_absolute_or_left_out(ctx: Context, anyio_backend: str) -> None:
    (message,) = await claimed(ctx, "0612340001")
    cases: list[tuple[ValidityFormat, str]] = [
        ("absolute", absolute_time(message.expires_at)),
        ("none", ""),
    ]
    for validity, expected in cases:
        async with connected(ctx, Clock(), validity) as (simulator, connector):
            assert (await connector.submit_message(message)).outcome == "accepted"
        assert simulator.records.submits[-1].validity_period == expected


async def test_a_message_past_its_validity_is_not_submitted(
    ctx: Context, anyio_backend: str
) -> None:
    (message,) = await claimed(ctx, "0612340001")
    late = replace(message, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    async with connected(ctx, Clock()) as (simulator, connector):
        result = await connector.submit_message(late)
    assert result.outcome == "retry" and result.retry_in == timedelta(0)
    assert simulator.records.submit_count == 0
