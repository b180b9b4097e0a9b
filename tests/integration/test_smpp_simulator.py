"""The simulator's rules, driven by a bare `Connection(role=ESME)` over a socket (no session),
so that what is tested is the SMSC side alone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import uvloop

from hirondelle.batched_writer import BatchedWriter
from hirondelle.smpp.codec import encode_pdu
from hirondelle.smpp.connection import Connection, Role, events
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.constants import MessageState
from hirondelle.smpp.messages import build_submits
from hirondelle.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DataSm,
    DataSmResp,
    DeliverSm,
    EnquireLink,
    GenericNack,
    Pdu,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    response_to,
)
from hirondelle.smpp.receipts import ReceiptStat, receipt_from_deliver_sm
from hirondelle.smpp.simulator import SmscSimulator, write_counts

pytestmark = pytest.mark.anyio


class Esme:
    """A minimal client: send a PDU, read PDUs until one matches."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = Connection(Role.ESME, window=100)
        self.inbox: list[Pdu] = []

    def send(self, pdu: Pdu) -> Pdu:
        if not pdu.is_response():
            pdu = replace(pdu, sequence_number=self.conn.next_sequence_number())
        self.writer.write(self.conn.send(pdu))
        return pdu

    async def next(self, kind: type[Pdu], timeout: float = 5.0) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                for i, pdu in enumerate(self.inbox):
                    if isinstance(pdu, kind):
                        return self.inbox.pop(i)
                data = await self.reader.read(65536)
                self.conn.receive_data(data)
                self.inbox += [e for e in events(self.conn) if isinstance(e, Pdu)]
                if not data:
                    raise EOFError

    async def request(self, pdu: Pdu, kind: type[Pdu]) -> Any:
        sent = self.send(pdu)
        resp = await self.next(kind)
        assert resp.sequence_number == sent.sequence_number
        return resp

    async def submit(self, **fields: Any) -> SubmitSmResp:
        fields.setdefault("registered_delivery", 1)
        resp: SubmitSmResp = await self.request(SubmitSm(**fields), SubmitSmResp)
        return resp


PORTS: dict[int, int] = {}


@asynccontextmanager
async def simulator(**options: Any) -> AsyncIterator[SmscSimulator]:
    sim = SmscSimulator(**options)
    PORTS[id(sim)] = await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


async def after_timers(sim: SmscSimulator, delay: float) -> None:
    """Return once every callback the simulator set `delay` seconds for so far has run: its
    timers of one delay run in the order they were set (FifoTimer), so a marker set now runs
    after them — no sleeping for a timer."""
    ran = asyncio.Event()
    sim.later(delay, ran.set)
    async with asyncio.timeout(5):
        await ran.wait()


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def open_esme(sim: SmscSimulator) -> Esme:
    return Esme(*await asyncio.open_connection("127.0.0.1", PORTS[id(sim)]))


async def connect(sim: SmscSimulator, bind: type[Pdu] = BindTransceiver, **fields: Any) -> Esme:
    esme = await open_esme(sim)
    resp = await esme.request(bind(system_id="esme", **fields), Pdu)
    assert resp.command_status == S.ESME_ROK, resp
    return esme


async def test_credentials_are_checked_when_configured() -> None:
    async with simulator(system_id="esme", password="secret") as sim:
        esme = await open_esme(sim)
        resp = await esme.request(BindTransceiver(system_id="esme", password="nope"), Pdu)
        assert resp.command_status == S.ESME_RINVPASWD
        await connect(sim, password="secret")
        assert sim.records.binds == 1


async def test_receipt_fields_and_rules() -> None:
    async with simulator() as sim:
        esme = await connect(sim)
        for destination, stat, err in [
            ("33611111111", ReceiptStat.DELIVRD, "000"),
            ("33600000000", ReceiptStat.UNDELIV, "000"),
            ("33688888888", ReceiptStat.UNDELIV, "001"),
        ]:
            resp = await esme.submit(source_addr="Hirondelle", destination_addr=destination)
            deliver: DeliverSm = await esme.next(DeliverSm)
            esme.send(response_to(deliver))
            receipt = receipt_from_deliver_sm(deliver)
            assert receipt is not None
            assert (receipt.message_id, receipt.stat, receipt.err) == (resp.message_id, stat, err)
            assert (deliver.source_addr, deliver.destination_addr) == (destination, "Hirondelle")
            assert deliver.esm_class == 0x04
            expected_state = MessageState.DELIVERED if stat is ReceiptStat.DELIVRD else 5
            assert deliver.message_state == expected_state
        rejected = await esme.submit(destination_addr="33699999999")
        assert rejected.command_status == S.ESME_RINVDSTADR
        await sim.wait_for(lambda: len(sim.records.acknowledged) == 3)


async def test_no_receipt_unless_requested_and_counting() -> None:
    async with simulator() as sim:
        esme = await connect(sim, BindTransmitter)
        for _ in range(2):
            await esme.submit(destination_addr="1", short_message=b"same", registered_delivery=0,
                              user_message_reference=42)  # fmt: skip
        assert sim.records.duplicates() == {("1", "same"): 2}
        assert sim.records.references[42] == 2
        assert sim.records.deliveries_sent == 0


async def test_receipts_wait_for_a_receiver() -> None:
    async with simulator() as sim:
        transmitter = await connect(sim, BindTransmitter)
        await transmitter.submit(destination_addr="1")
        await asyncio.sleep(0)
        assert sim.records.deliveries_sent == 0  # a transmitter gets no deliver_sm
        receiver = await connect(sim, BindReceiver)
        deliver = await receiver.next(DeliverSm)
        assert receipt_from_deliver_sm(deliver) is not None


async def test_permanent_error_is_not_resent_and_temporary_is() -> None:
    async with simulator(resend_timeout=0.01) as sim:
        esme = await connect(sim)
        await esme.submit(destination_addr="1")
        first = await esme.next(DeliverSm)
        esme.send(response_to(first, S.ESME_RX_T_APPN))
        second = await esme.next(DeliverSm)
        assert second.receipted_message_id == first.receipted_message_id
        esme.send(response_to(second, S.ESME_RX_P_APPN))
        await until(lambda: not any(client.sent for client in sim.clients))
        await after_timers(sim, sim.resend_timeout)  # a resend would have been due by then
        assert sim.records.deliveries_sent == 2 and not sim.records.acknowledged


async def test_unanswered_deliveries_go_to_the_next_connection() -> None:
    async with simulator() as sim:
        esme = await connect(sim)
        await esme.submit(destination_addr="1")
        await esme.next(DeliverSm)  # and never answered
        esme.writer.transport.abort()
        other = await connect(sim)
        again = await other.next(DeliverSm)
        other.send(response_to(again))
        await sim.wait_for(lambda: len(sim.records.acknowledged) == 1)


async def test_other_requests_and_unbind() -> None:
    async with simulator() as sim:
        esme = await connect(sim)
        data_resp = await esme.request(
            DataSm(destination_addr="1", message_payload=b"x"), DataSmResp
        )
        assert data_resp.message_id
        query = await esme.request(QuerySm(message_id=data_resp.message_id), QuerySmResp)
        assert query.message_state == MessageState.DELIVERED
        await esme.request(EnquireLink(), Pdu)
        await esme.request(Unbind(), UnbindResp)
        assert sim.records.unbinds == 1 and sim.records.enquire_links == 1


async def test_submit_before_bind_is_refused() -> None:
    async with simulator() as sim:
        esme = await open_esme(sim)
        # past our own state check: write the octets of a submit_sm directly
        esme.writer.write(encode_pdu(SubmitSm(sequence_number=1, destination_addr="1")))
        nack = await esme.next(GenericNack)
        assert (nack.command_status, nack.sequence_number) == (S.ESME_RINVBNDSTS, 1)


async def test_inject_mo_is_split_and_encoded() -> None:
    async with simulator() as sim:
        esme = await connect(sim, BindReceiver)
        await sim.inject_mo("33611111111", "36180", "Ж " * 40)  # UCS-2, 80 units: 2 parts
        parts = [await esme.next(DeliverSm), await esme.next(DeliverSm)]
        assert {p.data_coding for p in parts} == {8} and all(p.esm_class == 0x40 for p in parts)
        for part in parts:
            esme.send(response_to(part))


async def test_window_of_the_simulator_holds_deliveries() -> None:
    async with simulator(window=1) as sim:
        esme = await connect(sim)
        for pdu in build_submits("x", "36180", "1") * 2:
            await esme.request(pdu, SubmitSmResp)
        first = await esme.next(DeliverSm)
        await after_timers(sim, sim.receipt_delay)  # both receipts were due by then
        assert sim.records.deliveries_sent == 1  # the second waits for a free slot
        esme.send(response_to(first))
        second = await esme.next(DeliverSm)
        assert second.receipted_message_id != first.receipted_message_id


async def test_history_is_bounded_and_counts_stay_exact() -> None:
    async with simulator(history=5) as sim:
        esme = await connect(sim)
        for n in [*range(12), 11]:  # the last one twice
            await esme.submit(destination_addr=f"3361234{n:04d}", short_message=b"hi")
            esme.send(response_to(await esme.next(DeliverSm)))
        await sim.wait_for(lambda: sim.records.acknowledged_count == 13)
        records = sim.records
        counts = (records.submit_count, records.message_count, records.deliveries_sent)
        assert counts == (13, 13, 13)
        kept = (len(records.submits), len(records.messages), len(records.acknowledged))
        assert kept == (5, 5, 5)
        assert [m.destination for m in records.messages][-3:] == [
            "33612340010",
            "33612340011",
            "33612340011",
        ]
        # the tallies keep the `history` keys seen last: a recent duplicate is still one
        assert len(records.texts) == 5 and records.duplicates() == {("33612340011", "hi"): 2}
        assert records.texts[("33612340000", "hi")] == 0  # forgotten


async def test_history_default_is_bounded() -> None:
    records = SmscSimulator().records
    assert records.submits.maxlen == records.messages.maxlen == records.acknowledged.maxlen
    assert records.submits.maxlen is not None and 100 <= records.submits.maxlen <= 100_000


async def test_a_message_received_again_is_counted_as_a_duplicate(tmp_path: Path) -> None:
    async with simulator() as sim:
        esme = await connect(sim)
        for text in (b"once", b"twice", b"twice"):
            resp = await esme.submit(destination_addr="33612345678", short_message=text)
            assert resp.command_status == S.ESME_ROK
        assert sim.records.duplicate_count == 1
        path = tmp_path / "counts.json"
        write_counts(sim, str(path))
        counts = json.loads(path.read_text())
        assert (counts["submits"], counts["messages"], counts["duplicates"]) == (3, 3, 1)


class RecordingTransport:
    """A transport that keeps what each `write` carried, then passes it on."""

    def __init__(self, transport: asyncio.WriteTransport) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.transport.write(data)

    def is_closing(self) -> bool:
        return self.transport.is_closing()


def test_the_answers_of_a_read_leave_before_their_receipts() -> None:
    """On uvloop (the loop of `hirondelle smsc-sim`), a timer due at once runs before the
    flush at the end of an iteration: the submit_sm_resp of a read went out in one write with
    the receipts due at once. They now leave alone, when the read is handled."""

    async def scenario() -> list[bytes]:
        async with simulator(receipt_delay=0.0) as sim:
            esme = await connect(sim)
            (client,) = sim.clients
            recording = RecordingTransport(client.writer.transport)  # type: ignore[arg-type]
            client._out = BatchedWriter(recording)
            submits = [
                replace(build_submits("x", "36180", f"3361111111{i}")[0], registered_delivery=1)
                for i in range(3)
            ]
            numbered = [
                replace(pdu, sequence_number=esme.conn.next_sequence_number()) for pdu in submits
            ]
            esme.writer.write(b"".join(esme.conn.send(pdu) for pdu in numbered))  # one read
            for _ in submits:
                await esme.next(DeliverSm)
            return recording.writes

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        writes = runner.run(scenario())
    kinds = [
        {int.from_bytes(data[at + 4 : at + 8], "big") for at in pdu_offsets(data)}
        for data in writes
    ]
    assert kinds[0] == {SubmitSmResp.command_id}
    assert {DeliverSm.command_id} in kinds[1:]


def pdu_offsets(data: bytes) -> list[int]:
    """Where each PDU of `data` starts (by command_length)."""
    offsets, at = [], 0
    while at < len(data):
        offsets.append(at)
        at += int.from_bytes(data[at : at + 4], "big")
    return offsets
