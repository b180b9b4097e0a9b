"""A receipt that arrives before its submit result is stored waits for it (in the process that
holds the bind), so both are never written in parallel transactions that miss each other."""

from __future__ import annotations

import asyncio

import pytest

from hirondelle.context import Context
from hirondelle.dispatch import connectors
from hirondelle.dispatch.connectors import Connector
from hirondelle.services import delivery, replies
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.messages import MessageOptions
from hirondelle.smpp.pdu import DataSm, DeliverSm
from hirondelle.smpp.session import HANDLER_FAILED, SessionConfig
from hirondelle.store.schema import pending_receipts
from tests.unit.delivery_helpers import select

pytestmark = pytest.mark.anyio

DEADLINE = 5.0


def connector(ctx: Context) -> Connector:
    return Connector(ctx, "smsc", SessionConfig("127.0.0.1", 1, "test"), MessageOptions())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_receipt_waits_until_its_submit_result_is_stored(ctx: Context) -> None:
    smsc = connector(ctx)
    smsc.storing("AB12")
    waiting = asyncio.create_task(smsc.receipts_may_go(["00AB12"]))  # another form of the id
    other = asyncio.create_task(smsc.receipts_may_go(["cd34"]))
    await asyncio.wait_for(other, DEADLINE)  # an id nobody is storing goes at once
    await asyncio.sleep(0)
    assert not waiting.done()
    smsc.stored(["AB12"])
    await asyncio.wait_for(waiting, DEADLINE)
    assert smsc.unstored == {}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_receipts_of_one_read_wait_for_every_result_they_need(ctx: Context) -> None:
    smsc = connector(ctx)
    smsc.storing("AB12")
    smsc.storing("CD34")
    waiting = asyncio.create_task(smsc.receipts_may_go(["cd34", "ef56", "ab12"]))
    smsc.stored(["CD34"])
    for _ in range(3):
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
    smsc.storing("CD34")
    await asyncio.wait_for(smsc.receipts_may_go(["ab12", "cd34"]), DEADLINE)
    assert smsc.unstored == {}


def receipt(smsc_id: str) -> DeliverSm:
    text = f"id:{smsc_id} sub:001 dlvrd:001 submit date:2612041200 done date:2612041200"
    return DeliverSm(
        source_addr="33611111111",
        destination_addr="Hirondelle",
        esm_class=0x04,
        short_message=f"{text} stat:DELIVRD err:000 text:".encode(),
        receipted_message_id=smsc_id,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_reply_that_cannot_be_stored_is_refused_alone(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receipts of a read are stored in one batch; a reply among them that fails is
    refused (the SMSC delivers it again), the others acknowledged."""

    async def store_is_down(*args: object) -> None:
        raise RuntimeError("the database is down")

    monkeypatch.setattr(replies, "record_inbound", store_is_down)
    reply = DeliverSm(source_addr="33611111111", destination_addr="36180", short_message=b"STOP")
    pdus: list[DeliverSm | DataSm] = [receipt("ab12"), reply, receipt("cd34")]
    statuses = await connector(ctx).on_deliveries(pdus)
    assert statuses == [S.ESME_ROK, HANDLER_FAILED, S.ESME_ROK]
    # Matching no message part yet, both receipts wait for one.
    waiting = await select(ctx, pending_receipts)
    assert sorted(row["smsc_id"] for row in waiting) == ["ab12", "cd34"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_replies_of_a_read_are_stored_side_by_side(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not one after the other: a burst of STOPs commits together. Each reply here waits until
    the other has started; stored in turn, the first would wait for ever."""
    started: list[str] = []
    both = asyncio.Event()

    async def record_inbound(ctx: Context, connector: str, part: object) -> None:
        started.append(connector)
        if len(started) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), DEADLINE)

    monkeypatch.setattr(replies, "record_inbound", record_inbound)
    pdus: list[DeliverSm | DataSm] = [
        DeliverSm(source_addr=f"3361111111{i}", destination_addr="36180", short_message=b"STOP")
        for i in range(2)
    ]
    assert await connector(ctx).on_deliveries([*pdus, receipt("ab12")]) == [S.ESME_ROK] * 3


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_receipts_left_waiting_are_looked_at_again_once_the_results_are_stored(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receipt of one bind can be written beside the submit result of another, each missing
    the other (delivery.match_waiting): those left waiting are looked at again as soon as the
    results being stored are."""
    looked: list[tuple[str, list[str]]] = []
    done = asyncio.Event()

    async def match_waiting(ctx: Context, connector: str, smsc_ids: list[str]) -> int:
        looked.append((connector, smsc_ids))
        done.set()
        return 0

    monkeypatch.setattr(delivery, "match_waiting", match_waiting)
    smsc = connector(ctx)
    results_stored = asyncio.Event()
    smsc.results_stored = results_stored.wait
    assert await smsc.on_deliveries([receipt("ab12")]) == [S.ESME_ROK]  # no part: it waits
    await asyncio.sleep(0)
    assert looked == []
    results_stored.set()
    await asyncio.wait_for(done.wait(), DEADLINE)
    assert looked == [("smsc", ["ab12"])]
