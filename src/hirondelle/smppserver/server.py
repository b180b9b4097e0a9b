"""The SMPP server for customers: an asyncio listener (TCP, and TLS with the HTTPS certificate)
and one `BindHandler` per connection on the sans-I/O `Connection` (role SMSC), as the
simulator. docs/smpp-server.md is the customer's side of this file.

A bind is checked in this order: the credentials (login as system_id, the SMPP password;
ESME_RINVPASWD), the account active (ESME_RBINDFAIL), the peer address against the account's IP
allow-list (ESME_RINVSYSID), the account's bind count (`max_binds`, ESME_RBINDFAIL). A submit_sm
goes through `submits` (parts, decoding, fields), then the send service, which takes the
account's message tokens (ESME_RTHROTTLED over its limit) and writes the concurrent submits of
all the binds of the process (and its HTTP sends) as a few set-wise transactions
(services/send_coalescer.py). A submit is answered once its send is committed, with the smsId
as message_id. Receipts and replies leave through `outbox.Outbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hirondelle.batched_writer import BatchedWriter
from hirondelle.context import Context
from hirondelle.services import access, send_coalescer, sending, smpp_customers
from hirondelle.services.accounts import Account
from hirondelle.services.sending import Recipient, SendRefused, SmsOrder
from hirondelle.services.smpp_customers import BindRefused, Delivery, SmppAccount
from hirondelle.smpp.connection import Connection, Refused, Role, State, events
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.errors import ProtocolError
from hirondelle.smpp.pdu import (
    Bind,
    BindTransmitter,
    DataSm,
    DeliverSmResp,
    EnquireLink,
    GenericNack,
    Pdu,
    QuerySm,
    SubmitSm,
    Unbind,
    UnbindResp,
    response_to,
    with_sequence_number,
)

from .outbox import Outbox, deliver_sm_for
from .submits import (
    PartCollector,
    SubmitRefused,
    WholeMessage,
    recipient_of,
    send_date_of,
    sender_of,
    status_for_refusal,
)

log = logging.getLogger(__name__)

SYSTEM_ID = "hirondelle"


class BindHandler:
    """One customer connection: see the module docstring."""

    def __init__(
        self, server: SmppServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.ctx = server.ctx
        self.reader = reader
        self.writer = writer
        settings = self.ctx.settings
        self.window = settings.smpp_server_window
        self.conn = Connection(Role.SMSC, window=self.window)
        self.out = BatchedWriter(writer.transport, on_error=self._write_failed)
        peer = writer.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) else ""
        self.account: SmppAccount | None = None
        self.receiver = False
        self.binding = False
        self.parts = PartCollector(timedelta(seconds=settings.smpp_server_part_timeout))
        self.sent: dict[int, tuple[Delivery, float]] = {}  # our deliver_sm: seq -> (row, when)
        self.tasks: set[asyncio.Task[None]] = set()
        self.last_heard = asyncio.get_running_loop().time()

    # -- writing -----------------------------------------------------------------------------------

    def write(self, pdu: Pdu) -> None:
        if self.conn.state in (State.CLOSED, State.ERROR) or self.out.closing:
            return
        try:
            self.out.write(self.conn.send(pdu))
        except ProtocolError as exc:  # e.g. an answer after the peer unbound: nothing to do
            log.debug("smpp server: not sent to %s: %s", self.peer, exc)

    def _write_failed(self) -> None:
        self.conn.send_failed()
        self.writer.transport.abort()

    # -- reading -----------------------------------------------------------------------------------

    async def run(self) -> None:
        ticker = asyncio.create_task(self._tick())
        try:
            while True:
                data = await self.reader.read(65536)
                self.last_heard = asyncio.get_running_loop().time()
                self.conn.receive_data(data)
                for event in events(self.conn):
                    if isinstance(event, Refused):
                        if event.answer is not None:
                            self.write(event.answer)
                    else:
                        self.handle(event)
                if not data or self.conn.state is State.CLOSED:
                    return
        except (OSError, ProtocolError, RuntimeError) as exc:
            log.info("smpp server: connection from %s lost: %s", self.peer, exc)
        finally:
            ticker.cancel()
            self.out.flush()
            self.writer.close()
            # Submits being sent finish (their answers are lost), and a bind being checked
            # registers, before the bind is forgotten: it must not keep counting in max_binds.
            for task in list(self.tasks):
                with contextlib.suppress(Exception):
                    await task
            self.server.forget(self)
            returned = [delivery for delivery, _ in self.sent.values()]
            self.sent.clear()
            self.server.outbox.returned(returned)
            self.parts.drain()

    def handle(self, pdu: Pdu) -> None:
        if isinstance(pdu, SubmitSm):
            self._submit(pdu)
        elif isinstance(pdu, DeliverSmResp | GenericNack):
            entry = self.sent.pop(pdu.sequence_number, None)
            if entry is not None:
                self.server.outbox.answered(entry[0], pdu.command_status)
        elif isinstance(pdu, Bind):
            if self.binding:
                self.write(response_to(pdu, S.ESME_RALYBND))
            else:
                self.binding = True
                self._spawn(self._bind(pdu))
        elif isinstance(pdu, EnquireLink):
            self.write(response_to(pdu))
        elif isinstance(pdu, Unbind):
            self.write(UnbindResp(sequence_number=pdu.sequence_number))
        elif isinstance(pdu, DataSm):
            self.write(response_to(pdu, S.ESME_RINVCMDID))  # submit_sm only (documented)
        elif isinstance(pdu, QuerySm):
            self.write(response_to(pdu, S.ESME_RQUERYFAIL, message_id=pdu.message_id))
        # other responses (enquire_link_resp, unbind_resp): the Connection took note

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- binding -----------------------------------------------------------------------------------

    async def _bind(self, pdu: Bind) -> None:
        status = await self._check_bind(pdu)
        if status != S.ESME_ROK:
            self.binding = False
            log.info(
                "smpp server: bind of %r from %s refused (%s)",
                pdu.system_id,
                self.peer,
                S(status).name,
            )
            self.write(response_to(pdu, status))
            return
        assert self.account is not None
        self.receiver = not isinstance(pdu, BindTransmitter)
        self.write(response_to(pdu, system_id=SYSTEM_ID))
        if self.receiver:
            self.server.outbox.bound(self.account.account.id)

    async def _check_bind(self, pdu: Bind) -> int:
        try:
            found = await smpp_customers.authenticate(
                self.ctx, pdu.system_id, pdu.password, self.peer
            )
        except BindRefused as refused:
            return S.ESME_RINVPASWD if refused.reason == "credentials" else S.ESME_RBINDFAIL
        except Exception:
            log.exception("smpp server: bind of %r failed", pdu.system_id)
            return S.ESME_RSYSERR
        try:
            await access.check_address(self.ctx, found.account, self.peer)  # logs a refusal
        except access.AddressRefused:
            return S.ESME_RINVSYSID
        if self.server.bind_count(found.account.id) >= found.max_binds:
            return S.ESME_RBINDFAIL
        self.account = found
        self.server.register(self)
        return S.ESME_ROK

    # -- submitting --------------------------------------------------------------------------------

    def _submit(self, pdu: SubmitSm) -> None:
        if len(self.conn.their_outstanding) > self.window:
            self.write(response_to(pdu, S.ESME_RTHROTTLED))
            return
        now = datetime.now(UTC)
        self._expire_parts(now)
        try:
            whole = self.parts.feed(pdu, now)
        except SubmitRefused as refused:
            self.write(response_to(pdu, refused.command_status))
            return
        if whole is not None:
            self._spawn(self._send(whole))

    def _expire_parts(self, now: datetime) -> None:
        for parts in self.parts.expired(now):
            self._answer(parts, S.ESME_RSUBMITFAIL)

    def _answer(self, pdus: Sequence[SubmitSm], status: int, message_id: str = "") -> None:
        for part in pdus:
            self.write(response_to(part, status, message_id=message_id))

    async def _send(self, whole: WholeMessage) -> None:
        assert self.account is not None
        account = self.account.account
        try:
            status, sms_id = await self._send_whole(whole, account)
        except Exception:
            log.exception("smpp server: submit of %s failed", account.login)
            status, sms_id = S.ESME_RSYSERR, ""
        self._answer(whole.pdus, status, sms_id)

    async def _send_whole(self, whole: WholeMessage, account: Account) -> tuple[int, str]:
        pdu = whole.first
        try:
            order = self._order(whole, account)
        except SubmitRefused as refused:
            return refused.command_status, ""
        try:  # send takes the account's message tokens (services/access.py)
            outcome = await sending.send(self.ctx, account, order, method="submit_sm")
        except access.Throttled:
            return S.ESME_RTHROTTLED, ""
        except SendRefused as refused:
            return status_for_refusal(refused.status), ""
        log.debug("smpp server: %s submitted %s", account.login, pdu.destination_addr)
        return S.ESME_ROK, outcome.sms_ids[0][1]

    def _order(self, whole: WholeMessage, account: Account) -> SmsOrder:
        pdu = whole.first
        own = {n for n in (account.reply_number, self.ctx.settings.default_sender) if n}
        return SmsOrder(
            message=whole.text,
            recipients=[Recipient(mobile=recipient_of(pdu.destination_addr, pdu.dest_addr_ton))],
            tpoa=sender_of(pdu.source_addr, own),
            date=send_date_of(pdu.schedule_delivery_time, datetime.now(UTC), account.timezone),
            campaign_name="SMPP",
            smpp_receipts=bool(pdu.registered_delivery & 0x03),
        )

    # -- receipts and replies ----------------------------------------------------------------------

    @property
    def room(self) -> int:
        if not (self.receiver and self.conn.bound):
            return 0
        return max(0, self.window - len(self.conn.our_outstanding))

    def deliver(self, delivery: Delivery) -> bool:
        if self.room <= 0:
            return False
        seq = self.conn.next_sequence_number()
        self.sent[seq] = (delivery, asyncio.get_running_loop().time())
        self.write(with_sequence_number(deliver_sm_for(delivery), seq))
        return True

    async def _tick(self) -> None:
        """enquire_link on an idle bind; a bind whose peer stopped answering is closed (its
        deliveries go again, to another bind), and so is a connection still not bound after
        the same interval."""
        interval = self.ctx.settings.smpp_server_enquire_link
        loop = asyncio.get_running_loop()
        opened = loop.time()
        period = min(interval, self.parts.timeout.total_seconds()) / 2
        while True:
            await asyncio.sleep(period)
            if self.parts.pending:
                self._expire_parts(datetime.now(UTC))
            now = loop.time()
            stale = any(now - sent > interval for _, sent in self.sent.values())
            probing = EnquireLink in self.conn.our_outstanding.values()
            unbound = not (self.conn.bound or self.binding) and now - opened > interval
            if stale or unbound or (probing and now - self.last_heard > interval):
                log.warning("smpp server: %s stopped answering; closing", self.peer)
                self.writer.transport.abort()
                return
            if self.conn.bound and not probing and now - self.last_heard >= interval:
                self.write(EnquireLink(sequence_number=self.conn.next_sequence_number()))


class SmppServer:
    """`await server.start()`, then customers bind to `server.port` (and `server.tls_port`)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.binds: dict[int, list[BindHandler]] = {}  # account id -> its bound handlers
        self.handlers: set[BindHandler] = set()
        self.outbox = Outbox(ctx, self.receivers)
        self._servers: list[asyncio.Server] = []
        self.port: int | None = None
        self.tls_port: int | None = None

    async def start(self) -> None:
        settings = self.ctx.settings
        host = settings.smpp_server_host
        if settings.smpp_server_port is not None:
            self.port = await self._listen(host, settings.smpp_server_port, None)
        if settings.smpp_server_tls_port is not None:
            if not (settings.tls_cert and settings.tls_key):
                raise RuntimeError("smpp_server_tls_port needs tls_cert and tls_key")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(settings.tls_cert, settings.tls_key)
            self.tls_port = await self._listen(host, settings.smpp_server_tls_port, context)
        self.outbox.start()
        log.info("smpp server listening on %s port %s (TLS %s)", host, self.port, self.tls_port)

    async def _listen(self, host: str, port: int, context: ssl.SSLContext | None) -> int:
        server = await asyncio.start_server(self._accept, host, port, ssl=context)
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = BindHandler(self, reader, writer)
        self.handlers.add(handler)
        try:
            await handler.run()
        finally:
            self.handlers.discard(handler)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for handler in list(self.handlers):
            handler.writer.transport.abort()
        # Submits being sent finish (committed or not) before the store may close under them.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while self.handlers:
                    await asyncio.sleep(0.01)
                await send_coalescer.drain(self.ctx)
        for server in self._servers:
            await server.wait_closed()
        await self.outbox.stop()

    # -- the bind registry -------------------------------------------------------------------------

    def register(self, handler: BindHandler) -> None:
        assert handler.account is not None
        self.binds.setdefault(handler.account.account.id, []).append(handler)

    def forget(self, handler: BindHandler) -> None:
        if handler.account is not None:
            binds = self.binds.get(handler.account.account.id, [])
            if handler in binds:
                binds.remove(handler)

    def bind_count(self, account_id: int) -> int:
        return len(self.binds.get(account_id, ()))

    def receivers(self, account_id: int) -> list[BindHandler]:
        return [h for h in self.binds.get(account_id, ()) if h.receiver and h.conn.bound]


async def start_smpp_server(ctx: Context) -> SmppServer | None:
    """The SMPP server when `smpp_server_port` or `smpp_server_tls_port` is set, started; None
    otherwise. Stop it with `await server.close()`. Whichever process role runs the workers
    calls this."""
    settings = ctx.settings
    if settings.smpp_server_port is None and settings.smpp_server_tls_port is None:
        return None
    server = SmppServer(ctx)
    await server.start()
    return server
