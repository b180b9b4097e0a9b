"""The SMPP server in the test's event loop, and a bare ESME on our sans-I/O Connection that
sees each PDU the server sends (shared by the SMPP server and access tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from hirondelle.context import Context
from hirondelle.services import smpp_customers
from hirondelle.smpp.connection import CONNECTION_CLOSED, Connection, Role
from hirondelle.smpp.pdu import Pdu, with_sequence_number
from hirondelle.smppserver.server import SmppServer
from tests.helpers import make_account

PASSWORD = "s3cret"


async def smpp_account(ctx: Context, login: str = "shop", **fields: Any) -> None:
    """An account with the SMPP password `s3cret`; the SMPP server on a free port."""
    ctx.settings.smpp_server_port = 0
    make_account(ctx, login, **fields)
    await smpp_customers.set_smpp_password(ctx, login, PASSWORD)


@asynccontextmanager
async def serving(ctx: Context) -> AsyncIterator[SmppServer]:
    server = SmppServer(ctx)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def port_of(server: SmppServer) -> int:
    assert server.port is not None
    return server.port


class RawEsme:
    """A bare ESME on our sans-I/O Connection, to see each PDU the server sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = Connection(Role.ESME)

    @classmethod
    async def connect(cls, port: int, source: str = "127.0.0.1") -> RawEsme:
        """Connected to the server on 127.0.0.1 from the address `source` (127.0.0.2 is
        loopback too on Linux)."""
        return cls(*await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)))

    def send(self, pdu: Pdu) -> None:
        self.writer.write(self.conn.send(pdu))

    def request(self, pdu: Pdu) -> int:
        """Send `pdu` with the next sequence number, and return that number."""
        seq = self.conn.next_sequence_number()
        self.send(with_sequence_number(pdu, seq))
        return seq

    async def next(self) -> Pdu | None:
        """The next PDU from the server, None once it closed the connection."""
        while True:
            event = self.conn.next_event()
            if isinstance(event, Pdu):
                return event
            if event is CONNECTION_CLOSED:
                return None
            self.conn.receive_data(await self.reader.read(65536))

    def close(self) -> None:
        self.writer.close()
