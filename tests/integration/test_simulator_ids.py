"""The simulator's message ids: unique across its restarts, or wrapping on request (tests)."""

from __future__ import annotations

from typing import Any

import pytest

from hirondelle.smpp.pdu import BindTransmitter
from tests.integration.test_smpp_simulator import connect, simulator

pytestmark = pytest.mark.anyio


async def submitted_ids(count: int, **options: Any) -> list[str]:
    async with simulator(**options) as sim:
        esme = await connect(sim, BindTransmitter)
        ids = []
        for _ in range(count):
            resp = await esme.submit(destination_addr="33611111111", registered_delivery=0)
            ids.append(resp.message_id)
        return ids


async def test_a_restarted_simulator_never_gives_an_id_again() -> None:
    first = await submitted_ids(20)
    second = await submitted_ids(20)  # the same simulator, started again
    numbers = [int(i, 16) for i in first + second]
    assert len(set(numbers)) == 40
    assert numbers == sorted(numbers)


async def test_ids_wrap_when_asked() -> None:
    ids = await submitted_ids(7, wrap_ids=3)
    assert len(set(ids[:3])) == 3
    assert ids[3:] == ids[:3] + ids[:1]
