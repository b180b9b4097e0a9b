"""The SMPP server's outbox is durable: a reply a receiver did not take (it answered
ESME_RX_T_APPN) is still in the store after the server stops, and reaches the receiver that
binds to the next server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from hirondelle.context import Context
from hirondelle.services import smpp_customers
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.pdu import DataSm, DeliverSm
from hirondelle.smpp.session import SessionConfig, SmppSession
from hirondelle.smppserver.server import SmppServer
from hirondelle.store import smpp_deliveries
from tests.helpers import make_account

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
