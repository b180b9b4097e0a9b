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
from hirondelle.smpp.connection import CONNECTION_CLOSED, Connection, Role
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.errors import SubmitRejected
from hirondelle.smpp.messages import MessageOptions, build_submits
from hirondelle.smpp.pdu import (
    BindTransceiver,
    DataSm,
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    Pdu,
)
from hirondelle.smpp.session import SessionConfig, SmppSession
from hirondelle.smppserver.server import SmppServer
from hirondelle.store import smpp_deliveries
from hirondelle.store.schema import messages
from tests.helpers import make_account
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
    server = SmppServer(ctx)
    await server.start()
    assert server.port is not None
    receiver = Receiver(status)
    config = SessionConfig("127.0.0.1", server.port, "shop", "s3cret", bind_mode="rx")
    session = SmppSession(config, receiver)
    await session.start()
    try:
        await until(lambda: receiver.pdus)
    finally:
        await session.close()
        await server.close()
    return receiver


async def test_pending_replies_survive_a_restart(ctx: Context) -> None:
    ctx.settings.smpp_server_port = 0
    make_account(ctx, "shop")
    await smpp_customers.set_smpp_password(ctx, "shop", "s3cret")
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
    ctx.settings.smpp_server_tls_port = 0
    make_account(ctx, "shop")
    await smpp_customers.set_smpp_password(ctx, "shop", "s3cret")
    server = SmppServer(ctx)
    await server.start()
    try:
        assert server.port is None and server.tls_port is not None
        status, sms_id = await asyncio.to_thread(submit_over_tls, server.tls_port, cert)
    finally:
        await server.close()
    assert status == 0 and len(sms_id) == 36


class RawEsme:
    """A bare ESME on our sans-I/O Connection, to see each PDU the server sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = Connection(Role.ESME)

    def send(self, pdu: Pdu) -> None:
        self.writer.write(self.conn.send(pdu))

    async def next(self) -> Pdu | None:
        """The next PDU from the server, None once it closed the connection."""
        while True:
            event = self.conn.next_event()
            if isinstance(event, Pdu):
                return event
            if event is CONNECTION_CLOSED:
                return None
            self.conn.receive_data(await self.reader.read(65536))


async def test_enquire_link_both_ways_and_silent_peers_are_dropped(ctx: Context) -> None:
    ctx.settings.smpp_server_port = 0
    ctx.settings.smpp_server_enquire_link = 0.2
    make_account(ctx, "shop")
    await smpp_customers.set_smpp_password(ctx, "shop", "s3cret")
    server = SmppServer(ctx)
    await server.start()
    assert server.port is not None
    try:
        async with asyncio.timeout(10):
            idle = RawEsme(*await asyncio.open_connection("127.0.0.1", server.port))
            assert await idle.next() is None  # never bound: closed

            esme = RawEsme(*await asyncio.open_connection("127.0.0.1", server.port))
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
    finally:
        await server.close()


LONG = "Une réponse longue, découpée en plusieurs parties 😀. " * 5


@pytest.mark.parametrize("concatenation", ["sar", "payload", "udh16"])
async def test_long_messages_become_one_message(ctx: Context, concatenation: str) -> None:
    ctx.settings.smpp_server_port = 0
    make_account(ctx, "shop", credits=100)
    await smpp_customers.set_smpp_password(ctx, "shop", "s3cret")
    server = SmppServer(ctx)
    await server.start()
    assert server.port is not None
    config = SessionConfig("127.0.0.1", server.port, "shop", "s3cret", bind_mode="tx")
    pdus = build_submits(LONG, "", "33612345678", MessageOptions(concatenation=concatenation))  # type: ignore[arg-type]
    try:
        async with SmppSession(config) as session:
            await session.wait_bound(10)
            answers = await asyncio.gather(*(session.submit(pdu) for pdu in pdus))
    finally:
        await server.close()
    assert len({a.message_id for a in answers}) == 1
    stored = await ctx.store.read(
        lambda conn: conn.execute(sa.select(messages.c.text, messages.c.parts)).all()
    )
    assert [(text, parts) for text, parts in stored] == [(LONG, 5)]


async def test_parts_that_never_complete_are_refused(ctx: Context) -> None:
    ctx.settings.smpp_server_port = 0
    ctx.settings.smpp_server_part_timeout = 0.2
    make_account(ctx, "shop", credits=100)
    await smpp_customers.set_smpp_password(ctx, "shop", "s3cret")
    server = SmppServer(ctx)
    await server.start()
    assert server.port is not None
    config = SessionConfig("127.0.0.1", server.port, "shop", "s3cret", bind_mode="tx")
    first = build_submits(LONG, "", "33612345678")[0]
    try:
        async with SmppSession(config) as session:
            await session.wait_bound(10)
            with pytest.raises(SubmitRejected) as refused:
                await session.submit(first)
    finally:
        await server.close()
    assert refused.value.command_status == S.ESME_RSUBMITFAIL
    assert await ctx.store.read(lambda conn: conn.execute(sa.select(messages.c.id)).all()) == []


async def test_a_sub_account_binds_with_its_own_login(ctx: Context) -> None:
    ctx.settings.smpp_server_port = 0
    make_account(ctx, "reseller")
    found = await accounts.find_account(ctx, "reseller")
    assert found is not None
    parent = found.id
    make_account(ctx, "customer", parent_id=parent)
    await smpp_customers.set_smpp_password(ctx, "customer", "s3cret")
    server = SmppServer(ctx)
    await server.start()
    assert server.port is not None
    try:
        async with asyncio.timeout(10):
            esme = RawEsme(*await asyncio.open_connection("127.0.0.1", server.port))
            esme.send(BindTransceiver(system_id="customer", password="s3cret", sequence_number=1))
            assert (await esme.next()).command_status == S.ESME_ROK  # type: ignore[union-attr]
            again = BindTransceiver(system_id="reseller", password="s3cret", sequence_number=2)
            esme.writer.write(encode_pdu(again))  # past our own Connection, which refuses it
            answer = await esme.next()  # a generic_nack: already bound on this connection
            assert answer is not None and answer.command_status == S.ESME_RALYBND
    finally:
        await server.close()
