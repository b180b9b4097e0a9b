"""SmppSession against the simulator over real sockets on 127.0.0.1 (port 0)."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from hirondelle.domain.smsc_ids import message_id_forms, normalize_message_id
from hirondelle.domain.statuses import AckStatus
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.errors import SubmitRejected, SubmitRetryLater, SubmitThrottled, SubmitTimedOut
from hirondelle.smpp.messages import MessageOptions, Reassembler, build_submits
from hirondelle.smpp.pdu import DataSm, DeliverSm, EnquireLink, SubmitSmResp
from hirondelle.smpp.receipts import Receipt, receipt_from_deliver_sm, receipt_outcome
from hirondelle.smpp.session import SessionConfig, SmppSession
from hirondelle.smpp.simulator import SmscSimulator

pytestmark = pytest.mark.anyio

FAST = {
    "response_timeout": 2.0,
    "reconnect_delay": 0.01,
    "reconnect_max_delay": 0.05,
    "throttle_delay": 0.01,
    "enquire_link_interval": 5.0,
    "unbind_timeout": 0.5,
}


class Inbox:
    """An on_deliver handler that records what it acknowledged."""

    def __init__(self) -> None:
        self.pdus: list[DeliverSm | DataSm] = []
        self.changed = asyncio.Event()
        self.fail_next = 0

    async def __call__(self, pdu: DeliverSm | DataSm) -> int:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("database is down")
        self.pdus.append(pdu)
        self.changed.set()
        return S.ESME_ROK

    @property
    def receipts(self) -> list[Receipt]:
        found = (receipt_from_deliver_sm(pdu) for pdu in self.pdus)
        return [receipt for receipt in found if receipt is not None]

    async def wait(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@asynccontextmanager
async def running(
    sim_options: dict[str, Any] | None = None, **config: Any
) -> AsyncIterator[tuple[SmscSimulator, SmppSession, Inbox]]:
    sim = SmscSimulator(**(sim_options or {}))
    port = await sim.start()
    inbox = Inbox()
    session = SmppSession(
        SessionConfig(host="127.0.0.1", port=port, system_id="esme", **(FAST | config)), inbox
    )
    await session.start()
    try:
        await session.wait_bound(5)
        yield sim, session, inbox
    finally:
        await session.close()
        await sim.close()


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """For conditions on the session side, which has no event to wait on: poll every 5 ms."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def send_text(session: SmppSession, text: str, to: str = "33611111111") -> list[str]:
    ids = []
    for pdu in build_submits(text, "Hirondelle", to):
        resp = await session.submit(pdu)
        ids.append(resp.message_id)
    return ids


@pytest.mark.parametrize("bind_mode", ["trx", "tx+rx"])
async def test_submit_and_receipt(bind_mode: str) -> None:
    async with running(bind_mode=bind_mode) as (sim, session, inbox):
        assert sim.bound_clients == len(session.links) and session.stats.bound
        [message_id] = await send_text(session, "Hello")
        assert sim.records.messages[0].text == "Hello"
        await inbox.wait(lambda: len(inbox.receipts) == 1)
        receipt = inbox.receipts[0]
        assert receipt.message_id == message_id
        assert receipt_outcome(receipt) == AckStatus.DELIVERED
        assert session.stats.acknowledged == session.stats.submitted == 1
        assert session.stats.receipts == 1 and session.stats.in_flight == 0


EMOJI_ON_BOUNDARY = "é" * 66 + "😀" + "ü" * 70 + "😀" + "x" * 5  # the pair starts at unit 67


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Bonjour, votre code est 1234", 1),
        ("Привет, как дела?", 1),
        ("Long GSM message with € and [brackets]. " * 17, 5),
        (EMOJI_ON_BOUNDARY, 3),
    ],
)
async def test_texts_reach_the_smsc_exactly(text: str, parts: int) -> None:
    async with running() as (sim, session, inbox):
        ids = await send_text(session, text)
        assert len(ids) == parts == len(set(ids))
        assert [(m.text, m.parts) for m in sim.records.messages] == [(text, parts)]
        await inbox.wait(lambda: len(inbox.receipts) == parts)  # one receipt per part
        assert {r.message_id for r in inbox.receipts} == set(ids)


@pytest.mark.parametrize("concatenation", ["udh16", "sar", "payload"])
async def test_other_concatenations(concatenation: str) -> None:
    text = "Ceci est un long message. " * 12
    options = MessageOptions(concatenation=concatenation)  # type: ignore[arg-type]
    async with running() as (sim, session, _):
        for pdu in build_submits(text, "36180", "33622222222", options):
            await session.submit(pdu)
        assert [m.text for m in sim.records.messages] == [text]


async def test_outcomes_by_destination() -> None:
    async with running() as (_, session, inbox):
        await send_text(session, "a", to="33600000000")
        await send_text(session, "b", to="33688888888")
        with pytest.raises(SubmitRejected) as rejected:
            await send_text(session, "c", to="33699999999")
        assert rejected.value.command_status == S.ESME_RINVDSTADR
        assert not rejected.value.temporary
        await inbox.wait(lambda: len(inbox.receipts) == 2)
        outcomes = sorted(receipt_outcome(r) for r in inbox.receipts)
        assert outcomes == [AckStatus.NOT_DELIVERED, AckStatus.UNKNOWN_NUMBER]
        assert session.stats.rejected == 1


async def test_throttle_is_retried_and_told_apart() -> None:
    async with running() as (sim, session, _):
        [message_id] = await send_text(session, "throttled once", to="33677777777")
        assert message_id and session.stats.throttled == 1 and session.stats.submitted == 2
        assert len(sim.records.messages) == 1
    async with running(throttle_retries=0) as (_, session, _):
        with pytest.raises(SubmitThrottled) as later:
            await send_text(session, "throttled once", to="33677777777")
        assert later.value.temporary and later.value.command_status == S.ESME_RTHROTTLED


async def test_decimal_receipt_ids_still_match() -> None:
    async with running({"decimal_receipt_ids": True}) as (_, session, inbox):
        [message_id] = await send_text(session, "x")
        await inbox.wait(lambda: len(inbox.receipts) == 1)
        assert inbox.receipts[0].message_id != message_id
        assert normalize_message_id(inbox.receipts[0].message_id) in message_id_forms(message_id)


@pytest.mark.parametrize("bind_mode", ["trx", "tx+rx"])
async def test_mobile_originated_replies(bind_mode: str) -> None:
    long_reply = "Réponse très longue avec un emoji 🙂 " * 6
    async with running(bind_mode=bind_mode) as (sim, session, inbox):
        await sim.inject_mo("33611111111", "36180", "STOP")
        await sim.inject_mo("33611111111", "36180", long_reply)
        await inbox.wait(lambda: len(inbox.pdus) == 1 + 4)
        reassembler = Reassembler()
        whole = [m for m in map(reassembler.feed, inbox.pdus) if m is not None]
        assert [m.text for m in whole] == ["STOP", long_reply]
        assert session.stats.replies == 5


async def test_window_is_respected() -> None:
    async with running({"submit_delay": 0.02}, window=3) as (sim, session, _):
        pdus = [build_submits(f"m{i}", "36180", "33611111111")[0] for i in range(12)]
        resps = await asyncio.gather(*(session.submit(pdu) for pdu in pdus))
        assert all(isinstance(resp, SubmitSmResp) for resp in resps)
        assert sim.records.max_in_flight == 3


async def test_tps_limit() -> None:
    async with running(tps=200) as (_, session, _):
        loop = asyncio.get_running_loop()
        start = loop.time()
        pdu = build_submits("x", "36180", "33611111111")[0]
        await asyncio.gather(*(session.submit(pdu) for _ in range(61)))
        assert loop.time() - start >= 0.2  # a burst of 20, then 41 at 200 per second


async def test_drop_then_reconnect_and_continue() -> None:
    async with running(bind_mode="tx+rx") as (sim, session, inbox):
        await send_text(session, "before")
        await inbox.wait(lambda: len(inbox.receipts) == 1)
        await sim.drop()
        await until(lambda: session.stats.binds == 4 and session.bound)
        assert session.stats.disconnects == 2 and sim.bound_clients == 2
        await send_text(session, "after")
        await inbox.wait(lambda: len(inbox.receipts) == 2)
        assert [m.text for m in sim.records.messages] == ["before", "after"]


async def test_smsc_unbind_then_rebind() -> None:
    async with running() as (sim, session, _):
        await sim.unbind_clients()
        await until(lambda: session.stats.binds == 2 and session.bound)
        await send_text(session, "still here")


async def test_receipts_queued_while_down_arrive_after_rebind() -> None:
    async with running({"receipt_delay": 0.05}) as (sim, session, inbox):
        await send_text(session, "x")
        await sim.drop()
        await inbox.wait(lambda: len(inbox.receipts) == 1)


@pytest.mark.parametrize("answer", [False, True])
async def test_handler_failure_means_no_ack_and_a_resend(answer: bool) -> None:
    sim_options = {"resend_timeout": 0.05}
    async with running(sim_options, answer_handler_errors=answer) as (sim, session, inbox):
        inbox.fail_next = 1
        await send_text(session, "x")
        await inbox.wait(lambda: len(inbox.receipts) == 1)
        await sim.wait_for(lambda: len(sim.records.acknowledged) == 1)
        assert sim.records.deliveries_sent == 2
        assert session.stats.receipts == 1


async def test_the_deliver_sm_of_one_read_are_handled_together() -> None:
    """`on_deliveries` gets the deliver_sm of a read in one call (one task, one batch to
    store); a batch whose handler raised is refused whole and delivered again."""
    batches: list[list[DeliverSm | DataSm]] = []

    async def on_deliveries(pdus: list[DeliverSm | DataSm]) -> list[int]:
        batches.append(pdus)
        if len(batches) == 1:
            raise RuntimeError("the database is down")
        return [S.ESME_ROK] * len(pdus)

    sim = SmscSimulator(receipt_delay=0.2, resend_timeout=0.05)  # five receipts in one write
    config = SessionConfig("127.0.0.1", await sim.start(), "esme", **FAST)
    async with SmppSession(config, on_deliveries=on_deliveries) as session:
        await session.wait_bound(5)
        await asyncio.gather(*(send_text(session, "x", f"3361111111{i}") for i in range(5)))
        await sim.wait_for(lambda: sim.records.acknowledged_count == 5)
        assert len(batches[0]) > 1
        assert sim.records.deliveries_sent == 5 + len(batches[0])
        assert session.stats.receipts == 5
    await sim.close()


async def test_malformed_pdu_gets_generic_nack_and_session_goes_on() -> None:
    async with running() as (sim, session, _):
        [client] = sim.clients
        client.writer.write(
            bytes.fromhex("00000011 00000015 00000000 00000077 00".replace(" ", ""))
        )
        await sim.wait_for(lambda: list(sim.records.nacks) == [S.ESME_RINVCMDLEN])
        await send_text(session, "fine")
        assert session.stats.disconnects == 0


async def test_the_refused_pdus_of_one_read_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A window of receipts crossing our unbind would otherwise be a hundred lines."""
    async with running() as (sim, session, _):
        [client] = sim.clients
        malformed = bytes.fromhex("00000011 00000015 00000000 00000077 00".replace(" ", ""))
        client.writer.write(malformed * 3)
        await sim.wait_for(lambda: list(sim.records.nacks) == [S.ESME_RINVCMDLEN] * 3)
        await send_text(session, "fine")
    lines = [r.getMessage() for r in caplog.records if "malformed or unexpected" in r.getMessage()]
    more = [re.search(r"\(and (\d+) more in the same read\)", m) for m in lines]
    assert len(lines) + sum(int(m[1]) for m in more if m) == 3 and len(lines) < 3, lines


async def test_enquire_link_both_ways() -> None:
    async with running(enquire_link_interval=0.02) as (sim, _session, _):
        await sim.wait_for(lambda: sim.records.enquire_links >= 2)
        [client] = sim.clients
        client.write(EnquireLink(sequence_number=client.conn.next_sequence_number()))
        await sim.wait_for(lambda: not client.conn.our_outstanding)


async def test_no_answer_in_time_is_temporary_and_reconnects() -> None:
    async with running({"submit_delay": 5}, response_timeout=0.05) as (_sim, session, _):
        with pytest.raises(SubmitTimedOut) as later:
            await send_text(session, "slow")
        assert later.value.temporary and session.stats.timeouts == 1
        await until(lambda: session.stats.binds == 2 and session.bound)


async def test_bad_password_is_not_bound() -> None:
    sim = SmscSimulator(system_id="esme", password="secret")
    port = await sim.start()
    options = FAST | {"response_timeout": 0.1}
    config = SessionConfig(
        host="127.0.0.1", port=port, system_id="esme", password="wrong", **options
    )
    session = SmppSession(config)
    await session.start()
    try:
        await until(lambda: session.last_error is not None)
        assert not session.bound and "ESME_RINVPASWD" in str(session.last_error)
        with pytest.raises(SubmitRetryLater):
            await asyncio.wait_for(session.submit(build_submits("x", "a", "1")[0]), 5)
    finally:
        await session.close()
        await sim.close()


async def test_close_unbinds_cleanly() -> None:
    async with running(bind_mode="tx+rx") as (sim, session, _):
        await send_text(session, "x")
    assert sim.records.unbinds == 2
    assert not session.stats.bound


async def test_simulator_command_line() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hirondelle.smpp.simulator", "--port", "0", "--receipt-delay", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        port = int(line.rsplit(":", 1)[1])
        inbox = Inbox()
        config = SessionConfig(host="127.0.0.1", port=port, system_id="esme", **FAST)
        async with SmppSession(config, inbox) as session:
            await session.wait_bound(5)
            await send_text(session, "via the command line")
            await inbox.wait(lambda: len(inbox.receipts) == 1)
    finally:
        process.terminate()
        await process.wait()


async def test_receiver_only_session_cannot_submit() -> None:
    async with running(bind_mode="rx") as (sim, session, inbox):
        with pytest.raises(SubmitRejected):
            await send_text(session, "x")
        await sim.inject_mo("33611111111", "36180", "hello")
        await inbox.wait(lambda: len(inbox.pdus) == 1)


async def test_data_sm_from_the_smsc_reaches_the_handler() -> None:
    async with running() as (sim, _, inbox):
        [client] = sim.clients
        data_sm = DataSm(
            sequence_number=client.conn.next_sequence_number(),
            source_addr="33611111111",
            destination_addr="36180",
            message_payload=b"payload",
        )
        client.write(data_sm)
        await inbox.wait(lambda: len(inbox.pdus) == 1)
        assert inbox.pdus[0] == data_sm
        await until(lambda: not client.conn.our_outstanding)  # the data_sm_resp came back


async def test_close_releases_submits_waiting_for_the_window() -> None:
    async with running({"submit_delay": 5}, window=1) as (_, session, _):
        pdu = build_submits("x", "36180", "33611111111")[0]
        waiting = [asyncio.create_task(session.submit(pdu)) for _ in range(3)]
        await until(lambda: session.stats.in_flight == 3)
        await session.close()
        for task in waiting:
            with pytest.raises(SubmitRetryLater):
                await task


async def test_link_log_lines_name_the_connector_its_address_and_the_next_try(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hirondelle.smpp.session")
    sim = SmscSimulator(system_id="esme", password="secret")
    port = await sim.start()
    options = FAST | {"reconnect_delay": 30.0, "reconnect_max_delay": 60.0}
    config = SessionConfig(
        name="op1", host="127.0.0.1", port=port, system_id="esme", password="wrong", **options
    )
    session = SmppSession(config)
    await session.start()
    try:
        await until(lambda: any(r.levelname == "WARNING" for r in caplog.records))
        assert caplog.messages == [
            f"connector op1 (127.0.0.1:{port}): bind refused: ESME_RINVPASWD; next try in 30 s"
        ]
    finally:
        await session.close()
        await sim.close()
    caplog.clear()
    async with running(name="op2") as (_sim, session, _):
        await until(lambda: bool(caplog.messages))
        address = f"127.0.0.1:{session.config.port}"
        assert caplog.messages == [f"connector op2 ({address}): bound as transceiver"]
