"""The SMPP server in the test's event loop: its outbox is durable (a reply a receiver did not
take is still in the store after the server stops, and reaches the receiver that binds to the
next server), and it serves SMPP over TLS with the HTTPS certificate."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest
import smpplib.client
import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.services import accounts, smpp_customers
from hirondelle.smpp.codec import encode_pdu
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.errors import SubmitRejected
from hirondelle.smpp.messages import MessageOptions, build_submits
from hirondelle.smpp.pdu import (
    BindTransceiver,
    BindTransmitter,
    DataSm,
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    Pdu,
    SubmitSmResp,
)
from hirondelle.smpp.session import SessionConfig, SmppSession
from hirondelle.store import smpp_deliveries
from hirondelle.store.schema import messages
from tests.helpers import make_account
from tests.integration.esme import PASSWORD, RawEsme, port_of, serving, smpp_account
from tests.unit.test_server import self_signed

pytestmark = pytest.mark.anyio


async def until(predicate: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.01)


class Receiver:
    def __init__(self, status: int) -> None:
        self.status = status
        self.pdus: list[DeliverSm | DataSm] = []

    async def __call__(self, pdu: DeliverSm | DataSm) -> int:
        self.pdus.append(pdu)
        return self.status


async def receive(ctx: Context, status: int) -> Receiver:
    """A server, a receiver that answers `status` to the first deliver_sm, then both stop."""
    receiver = Receiver(status)
    async with serving(ctx) as server:
        config = SessionConfig("127.0.0.1", port_of(server), "shop", "s3cret", bind_mode="rx")
        async with SmppSession(config, receiver):
            await until(lambda: receiver.pdus)
    return receiver


async def test_pending_replies_survive_a_restart(ctx: Context) -> None:
    await smpp_account(ctx)
    account_id = (await smpp_customers.authenticate(ctx, "shop", "s3cret", None)).account.id
    now = datetime.now(UTC)
    await ctx.store.write(
        lambda conn: smpp_deliveries.queue_reply(
            conn, account_id, "33612345678", "36180", "Oui", now
        )
    )
    first = await receive(ctx, S.ESME_RX_T_APPN)  # not taken: it stays
    assert first.pdus[0].short_message == b"Oui"
    assert await ctx.store.read(smpp_deliveries.count) == 1
    second = await receive(ctx, S.ESME_ROK)
    assert second.pdus[0].short_message == b"Oui"
    # the acknowledgement is written when the outbox stops at the latest
    assert await ctx.store.read(smpp_deliveries.count) == 0


def submit_over_tls(port: int, cafile: Path) -> tuple[int, str]:
    """smpplib over TLS, checking the certificate: bind, one submit, its answer."""
    context = ssl.create_default_context(cafile=str(cafile))
    context.check_hostname = False  # smpplib wraps without a server name; the chain is checked
    client = smpplib.client.Client(
        "127.0.0.1", port, timeout=10, ssl_context=context, allow_unknown_opt_params=True
    )
    answers: list[object] = []
    client.set_message_sent_handler(lambda pdu: answers.append(pdu))
    client.connect()
    try:
        client.bind_transmitter(system_id="shop", password="s3cret")
        client.send_message(destination_addr="33612345678", dest_addr_ton=1, short_message=b"Hi")
        while not answers:
            client.read_once()
        pdu = answers[0]
        return int(pdu.status), pdu.message_id.decode()  # type: ignore[attr-defined]
    finally:
        client.unbind()
        client.disconnect()


async def test_smpp_over_tls(ctx: Context, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    ctx.settings.tls_cert, ctx.settings.tls_key = str(cert), str(key)
    await smpp_account(ctx)
    ctx.settings.smpp_server_port, ctx.settings.smpp_server_tls_port = None, 0
    async with serving(ctx) as server:
        assert server.port is None and server.tls_port is not None
        status, sms_id = await asyncio.to_thread(submit_over_tls, server.tls_port, cert)
    assert status == 0 and len(sms_id) == 36


async def test_enquire_link_both_ways_and_silent_peers_are_dropped(ctx: Context) -> None:
    await smpp_account(ctx)
    ctx.settings.smpp_server_enquire_link = 0.2
    async with serving(ctx) as server, asyncio.timeout(10):
        idle = await RawEsme.connect(port_of(server))
        assert await idle.next() is None  # never bound: closed
        esme = await RawEsme.connect(port_of(server))
        esme.send(BindTransceiver(system_id="shop", password="s3cret", sequence_number=1))
        assert (await esme.next()).command_status == S.ESME_ROK  # type: ignore[union-attr]
        esme.send(EnquireLink(sequence_number=2))
        seen: list[Pdu] = []
        while not {EnquireLinkResp, EnquireLink} <= {type(p) for p in seen}:
            pdu = await esme.next()  # our answer, and the server's probe of the idle bind
            assert pdu is not None
            seen.append(pdu)
            if isinstance(pdu, EnquireLink):
                esme.send(EnquireLinkResp(sequence_number=pdu.sequence_number))
        assert isinstance(await esme.next(), EnquireLink)  # still alive: probed again
        assert await esme.next() is None  # not answered: the server closed the bind


LONG = "Une réponse longue, découpée en plusieurs parties 😀. " * 5


@pytest.mark.parametrize("concatenation", ["sar", "payload", "udh16"])
async def test_long_messages_become_one_message(ctx: Context, concatenation: str) -> None:
    await smpp_account(ctx, credits=100)
    pdus = build_submits(LONG, "", "33612345678", MessageOptions(concatenation=concatenation))  # type: ignore[arg-type]
    async with serving(ctx) as server:
        config = SessionConfig("127.0.0.1", port_of(server), "shop", "s3cret", bind_mode="tx")
        async with SmppSession(config) as session:
            await session.wait_bound(10)
            answers = await asyncio.gather(*(session.submit(pdu) for pdu in pdus))
    assert len({a.message_id for a in answers}) == 1
    stored = await ctx.store.read(
        lambda conn: conn.execute(sa.select(messages.c.text, messages.c.parts)).all()
    )
    assert [(text, parts) for text, parts in stored] == [(LONG, 5)]


async def test_parts_that_never_complete_are_refused(ctx: Context) -> None:
    await smpp_account(ctx, credits=100)
    ctx.settings.smpp_server_part_timeout = 0.2
    first = build_submits(LONG, "", "33612345678")[0]
    async with serving(ctx) as server:
        config = SessionConfig("127.0.0.1", port_of(server), "shop", "s3cret", bind_mode="tx")
        async with SmppSession(config) as session:
            await session.wait_bound(10)
            with pytest.raises(SubmitRejected) as refused:
                await session.submit(first)
    assert refused.value.command_status == S.ESME_RSUBMITFAIL
    assert await ctx.store.read(lambda conn: conn.execute(sa.select(messages.c.id)).all()) == []


async def test_a_sub_account_binds_with_its_own_login(ctx: Context) -> None:
    make_account(ctx, "reseller")
    found = await accounts.find_account(ctx, "reseller")
    assert found is not None
    await smpp_account(ctx, "customer", parent_id=found.id)
    async with serving(ctx) as server, asyncio.timeout(10):
        esme = await RawEsme.connect(port_of(server))
        esme.send(BindTransceiver(system_id="customer", password="s3cret", sequence_number=1))
        assert (await esme.next()).command_status == S.ESME_ROK  # type: ignore[union-attr]
        again = BindTransceiver(system_id="reseller", password="s3cret", sequence_number=2)
        esme.writer.write(encode_pdu(again))  # past our own Connection, which refuses it
        answer = await esme.next()  # a generic_nack: already bound on this connection
        assert answer is not None and answer.command_status == S.ESME_RALYBND


LONG_UCS2 = "Привет! " * 24  # 192 characters: 3 UCS-2 parts


async def test_a_long_message_takes_one_token_and_is_throttled_whole(ctx: Context) -> None:
    """A 3-part message is one message for the messages/s limit: 30 a second (burst 0.1 s)
    holds 3 tokens while the clock stands still, so three 3-part messages pass and the fourth
    is refused, every one of its parts with ESME_RTHROTTLED, and writes no row."""
    await smpp_account(ctx, credits=10_000, messages_per_second=30)
    ctx.ticks = lambda: 100.0
    async with serving(ctx) as server, asyncio.timeout(20):
        esme = await RawEsme.connect(port_of(server))
        esme.request(BindTransmitter(system_id="shop", password=PASSWORD))
        assert (await esme.next()).command_status == S.ESME_ROK  # type: ignore[union-attr]
        answers: list[list[SubmitSmResp]] = []
        for reference in range(4):
            parts = build_submits(LONG_UCS2, "", "33612345678", reference=reference)
            assert len(parts) == 3 and {p.data_coding for p in parts} == {8}
            sent = [esme.request(part) for part in parts]
            got = [await esme.next() for _ in parts]
            assert all(isinstance(a, SubmitSmResp) for a in got)
            assert sorted(a.sequence_number for a in got) == sorted(sent)  # type: ignore[union-attr]
            answers.append(got)  # type: ignore[arg-type]
        esme.close()
    accepted, throttled = answers[:3], answers[3]
    for parts in accepted:
        assert {(a.command_status, a.message_id) for a in parts} == {
            (S.ESME_ROK, parts[0].message_id)
        }
    assert [a.command_status for a in throttled] == [S.ESME_RTHROTTLED] * 3
    assert all(a.message_id == "" for a in throttled)
    stored = await ctx.store.read(
        lambda conn: conn.execute(sa.select(messages.c.text, messages.c.parts)).all()
    )
    assert [(text, parts) for text, parts in stored] == [(LONG_UCS2, 3)] * 3
