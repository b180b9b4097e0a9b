"""The ESME side over asyncio: the only place in `smpp/` with sockets and clocks.

A session owns one link (bind_transceiver) or two (bind_transmitter + bind_receiver). Each link
is h11's TrioHTTPWrapper grown a little: `Connection.send()` then write, `send_failed()` when
the write fails, a reader task that loops on NEED_DATA, one Future per sequence number, and an
`asyncio.Condition` on `window_open`. Each link reconnects and re-binds on its own, with
exponential back-off, after a drop, an error or an unbind from the SMSC.

Incoming deliver_sm / data_sm go to `on_deliver(pdu) -> command_status`, or, those of one read
together, to `on_deliveries(pdus) -> command_statuses` (one task per read rather than one per
PDU: a window of receipts arrives in one read); a response leaves only once its handler has
returned, so "persist, then acknowledge" holds. If the handler raises, the session answers
ESME_RX_T_APPN (or nothing, with `answer_handler_errors=False`), and the SMSC delivers again
later.

`submit()` returns the SubmitSmResp, or raises `SubmitRejected` (permanent: record status 4)
or `SubmitRetryLater` (temporary: retry later, not a failure): `SubmitThrottled` when throttled
or queue full after `throttle_retries` spaced retries, `SubmitTimedOut` when not answered in
time, the base class when not bound or the connection was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from hirondelle.batched_writer import BatchedWriter

from .connection import Connection, Refused, Role, State, events
from .constants import TEMPORARY_STATUSES, status_name
from .constants import CommandStatus as S
from .errors import (
    ProtocolError,
    SubmitRejected,
    SubmitRetryLater,
    SubmitThrottled,
    SubmitTimedOut,
)
from .pdu import (
    Bind,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DataSm,
    DeliverSm,
    EnquireLink,
    EnquireLinkResp,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    response_to,
    with_sequence_number,
)
from .receipts import is_receipt
from .timers import FifoTimer, TokenBucket, expire

log = logging.getLogger(__name__)

BindMode = Literal["trx", "tx+rx", "tx", "rx"]
Delivery = DeliverSm | DataSm
OnDeliver = Callable[[Delivery], Awaitable[int]]
OnDeliveries = Callable[[list[Delivery]], Awaitable[list[int]]]
_BINDS: dict[BindMode, tuple[type[Bind], ...]] = {
    "trx": (BindTransceiver,),
    "tx+rx": (BindTransmitter, BindReceiver),
    "tx": (BindTransmitter,),
    "rx": (BindReceiver,),
}


@dataclass(frozen=True)
class SessionConfig:
    """A connector's SMPP settings. Times are seconds."""

    host: str
    port: int
    system_id: str
    password: str = ""
    system_type: str = ""
    bind_mode: BindMode = "trx"
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""
    window: int = 10  # submits in flight at most
    tps: float | None = None  # submits per second at most (token bucket), None = no limit
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    connect_timeout: float = 10.0
    reconnect_delay: float = 1.0  # first back-off; doubles up to reconnect_max_delay
    reconnect_max_delay: float = 60.0
    throttle_delay: float = 1.0  # first pause after ESME_RTHROTTLED / ESME_RMSGQFUL; doubles
    throttle_retries: int = 3  # then SubmitRetryLater
    answer_handler_errors: bool = True  # ESME_RX_T_APPN when on_deliver raises, else silence
    unbind_timeout: float = 2.0
    name: str = ""  # the connector's name, for log lines

    def describe(self) -> str:
        """How log lines name this session: `connector NAME (HOST:PORT)`."""
        return f"connector {self.name or self.system_id} ({self.host}:{self.port})"


#: How log lines call each bind.
_BIND_NAMES = {
    BindTransceiver: "transceiver",
    BindTransmitter: "transmitter",
    BindReceiver: "receiver",
}


@dataclass
class SessionStats:
    """Counters for metrics (plain attributes; a colleague exports them to Prometheus)."""

    submitted: int = 0  # submit_sm sent, retries included
    acknowledged: int = 0  # submit_sm_resp with ESME_ROK
    rejected: int = 0  # permanent refusals
    throttled: int = 0  # ESME_RTHROTTLED / ESME_RMSGQFUL answers
    timeouts: int = 0  # submit_sm not answered in time
    receipts: int = 0  # delivery receipts acknowledged
    replies: int = 0  # mobile-originated messages acknowledged
    in_flight: int = 0  # submits awaiting their answer now
    bound: bool = False  # every link bound
    binds: int = 0  # successful binds (the first, then each re-bind)
    disconnects: int = 0


class _LinkLost(Exception):
    pass


async def _acknowledge(pdu: Delivery) -> int:
    return S.ESME_ROK


#: The status of a PDU whose handler raised: answered as `answer_handler_errors` says.
HANDLER_FAILED = -1


class _Link:
    """One TCP connection and its `Connection`, re-established until the session closes."""

    def __init__(self, session: SmppSession, bind: type[Bind]) -> None:
        self.session = session
        self.config = session.config
        self.bind = bind
        self.conn = Connection(Role.ESME, window=self.config.window)
        self.writer: asyncio.StreamWriter | None = None
        self.pending: dict[int, asyncio.Future[Pdu]] = {}
        self.timeouts = FifoTimer(self.config.response_timeout)
        self._out: BatchedWriter | None = None  # this connection's, see batched_writer.py
        self.window = asyncio.Condition()
        self.bound = asyncio.Event()
        self.alive = False
        self.deliveries: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------------------------------

    async def supervise(self) -> None:
        failures = 0
        while not self.session.closing:
            try:
                await self._run_once()
                failures = 0
            except (OSError, TimeoutError, ProtocolError, _LinkLost, SubmitRetryLater) as exc:
                self.session.last_error = exc
                failures += 1
                error: BaseException | None = exc
            else:
                error = None
            if self.session.closing:
                return
            delay = self.config.reconnect_delay * 2 ** max(failures - 1, 0)
            delay = min(delay, self.config.reconnect_max_delay)
            log.warning(
                "%s: %s; next try in %s",
                self.config.describe(),
                self._what(error),
                f"{delay:g} s",
            )
            await self.session.pause(delay)

    def _what(self, error: BaseException | None) -> str:
        """What happened to the link, for its log line."""
        if error is None:
            return "the SMSC closed the connection"
        if isinstance(error, TimeoutError) and not str(error):
            return "no answer in time"
        text = str(error) or type(error).__name__
        if len(self.session.links) > 1:
            return f"{_BIND_NAMES[self.bind]} link: {text}"
        return text

    async def _run_once(self) -> None:
        config = self.config
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(config.host, config.port), config.connect_timeout
        )
        self.writer = writer
        self.conn = Connection(Role.ESME, window=config.window)
        self._out = BatchedWriter(writer.transport, self._write_failed)
        self.alive = True
        reader_task = asyncio.create_task(self._read_loop(reader))
        keepalive: asyncio.Task[None] | None = None
        try:
            resp = await self.request(
                self.bind(
                    system_id=config.system_id,
                    password=config.password,
                    system_type=config.system_type,
                    addr_ton=config.addr_ton,
                    addr_npi=config.addr_npi,
                    address_range=config.address_range,
                )
            )
            if resp.command_status != S.ESME_ROK:
                raise _LinkLost(f"bind refused: {status_name(resp.command_status)}")
            self.session.stats.binds += 1
            log.info("%s: bound as %s", config.describe(), _BIND_NAMES[self.bind])
            self.bound.set()
            self.session.update_bound()
            keepalive = asyncio.create_task(self._keepalive())
            await reader_task
        finally:
            self.bound.clear()
            self.session.update_bound()
            for task in (keepalive, reader_task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            await self._lost()

    async def _lost(self) -> None:
        if self.alive:
            self.session.stats.disconnects += 1
        if self._out is not None:
            self._out.flush()  # e.g. the unbind_resp answering the SMSC's unbind
        self.alive = False
        self.timeouts.cancel()
        if self.writer is not None:
            self.writer.close()
        for future in self.pending.values():
            if not future.done():
                future.set_exception(SubmitRetryLater("connection lost"))
        async with self.window:
            self.window.notify_all()

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()

    async def unbind(self) -> None:
        if self.alive and self.conn.bound:
            with contextlib.suppress(SubmitRetryLater, ProtocolError, OSError):
                await asyncio.wait_for(self.request(Unbind()), self.config.unbind_timeout)

    # -- writing --------------------------------------------------------------------------------

    def _write(self, pdu: Pdu) -> None:
        """`conn.send()` now; the octets leave with the others of this event-loop iteration."""
        if not self.alive or self._out is None or self._out.closing:
            # asyncio would only log "socket.send() raised exception" for each such write
            raise SubmitRetryLater("not connected")
        self._out.write(self.conn.send(pdu))

    def _write_failed(self) -> None:
        self.conn.send_failed()
        self.abort()

    async def _drain(self) -> None:
        if self.writer is None or self.writer.transport.get_write_buffer_size() < 65536:
            return  # nothing to wait for (drain() itself would not pause either)
        try:
            await self.writer.drain()
        except (OSError, RuntimeError):
            self._write_failed()
            raise SubmitRetryLater("write failed") from None

    async def request(self, pdu: Pdu, *, windowed: bool = False) -> Pdu:
        """Send a request with the next sequence number and wait for its answer."""
        loop = asyncio.get_running_loop()
        if windowed and not (self.alive and self.conn.window_open):
            # The condition's lock only to wait: with a slot free, nothing awaits from here
            # to the write, so no other task can take the slot in between.
            async with self.window:
                try:
                    await self.window.wait_for(lambda: not self.alive or self.conn.window_open)
                except asyncio.CancelledError:
                    # Python 3.11's Condition drops a notify() that reached a task being
                    # cancelled: pass it on, or a free window slot could go unnoticed.
                    self.window.notify(1)
                    raise
        if not self.alive:
            raise SubmitRetryLater("not connected")
        seq = self.conn.next_sequence_number()
        future: asyncio.Future[Pdu] = loop.create_future()
        self.pending[seq] = future
        try:
            self._write(with_sequence_number(pdu, seq))
        except BaseException:
            del self.pending[seq]
            raise
        self.timeouts.add(expire, future)
        try:
            await self._drain()
            return await future
        except TimeoutError:
            # The window slot stays taken for good: this connection is no longer trustworthy.
            self.abort()
            raise SubmitTimedOut(f"no answer to {type(pdu).__name__} in time") from None
        finally:
            self.pending.pop(seq, None)

    # -- reading --------------------------------------------------------------------------------

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                data = await reader.read(65536)
                self.conn.receive_data(data)
                if not await self._process_events() or not data:
                    return
        finally:
            await self._lost()

    async def _process_events(self) -> bool:
        """Handle what is buffered; False once the connection is over."""
        answers = 0
        deliveries: list[Delivery] = []
        refused: list[Refused] = []
        for event in events(self.conn):
            if isinstance(event, Refused):
                refused.append(event)
                if event.answer is not None:
                    self._write(event.answer)
            elif isinstance(event, DeliverSm | DataSm):
                deliveries.append(event)
            else:
                self._dispatch(event)
                if event.is_response():
                    answers += 1
        if refused:  # once a read: a window of receipts crossing our unbind is one line
            more = f" (and {len(refused) - 1} more in the same read)" if len(refused) > 1 else ""
            log.warning(
                "%s: malformed or unexpected PDU: %s%s",
                self.config.describe(),
                refused[0].error,
                more,
            )
        if deliveries:
            task = asyncio.create_task(self._deliver(self.conn, deliveries))
            self.deliveries.add(task)
            task.add_done_callback(self.deliveries.discard)
        if answers:
            async with self.window:
                # Each answer freed one window slot: wake that many waiters, once per read.
                # notify_all() woke the whole window only for most to wait again, and a
                # notify(1) per answer rescanned the waiters already woken. (`_lost` still
                # wakes them all.)
                self.window.notify(answers)
        return self.conn.state is not State.CLOSED

    def _dispatch(self, pdu: Pdu) -> None:
        if pdu.is_response():
            future = self.pending.get(pdu.sequence_number)
            if future is not None and not future.done():
                future.set_result(pdu)
        elif isinstance(pdu, EnquireLink):
            self._write(EnquireLinkResp(sequence_number=pdu.sequence_number))
        elif isinstance(pdu, Unbind):  # the SMSC ends the session: answer, then re-bind
            self._write(UnbindResp(sequence_number=pdu.sequence_number))

    async def _deliver(self, conn: Connection, pdus: list[Delivery]) -> None:
        try:
            statuses = await self.session.on_deliveries(pdus)
        except Exception:
            log.exception(
                "%s: storing %d deliver_sm failed, the first: %s",
                self.config.describe(),
                len(pdus),
                pdus[0],
            )
            statuses = [HANDLER_FAILED] * len(pdus)
        stats = self.session.stats
        answers = []
        for pdu, status in zip(pdus, statuses, strict=True):
            if status == HANDLER_FAILED:
                if not self.config.answer_handler_errors:
                    continue
                status = S.ESME_RX_T_APPN
            elif status == S.ESME_ROK:
                if is_receipt(pdu):
                    stats.receipts += 1
                else:
                    stats.replies += 1
            answers.append(response_to(pdu, command_status=status))
        if conn is self.conn and self.alive:  # the same connection: the SMSC still waits
            with contextlib.suppress(SubmitRetryLater, ProtocolError):
                for answer in answers:
                    self._write(answer)
                await self._drain()

    async def _keepalive(self) -> None:
        """enquire_link every interval (§4.11); no answer in time means a dead link."""
        while True:
            await asyncio.sleep(self.config.enquire_link_interval)
            try:
                await self.request(EnquireLink())
            except SubmitRetryLater:
                self.abort()
                return


class SmppSession:
    """An ESME: `await start()`, `await wait_bound()`, `await submit(pdu)`, `await close()`."""

    def __init__(
        self,
        config: SessionConfig,
        on_deliver: OnDeliver | None = None,
        *,
        on_deliveries: OnDeliveries | None = None,
        bucket: TokenBucket | None = None,
    ) -> None:
        """`on_deliveries` (those of one read together) instead of `on_deliver` (one by one).
        `bucket`: a token bucket shared with other sessions (the binds of one connector: their
        `tps` holds across them all); by default, one of this session's own."""
        self.config = config
        self.on_deliver = on_deliver or _acknowledge
        self.on_deliveries = on_deliveries or self._one_by_one
        self.stats = SessionStats()
        self.last_error: BaseException | None = None
        self.closing = False
        self.links = [_Link(self, bind) for bind in _BINDS[config.bind_mode]]
        self._closed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._bucket = bucket or (TokenBucket(config.tps) if config.tps else None)
        self._throttled_until = 0.0

    async def _one_by_one(self, pdus: list[Delivery]) -> list[int]:
        """`on_deliveries` for a handler of one PDU: each in turn, each failure its own."""
        statuses = []
        for pdu in pdus:
            try:
                statuses.append(await self.on_deliver(pdu))
            except Exception:
                log.exception("%s: storing a deliver_sm failed: %s", self.config.describe(), pdu)
                statuses.append(HANDLER_FAILED)
        return statuses

    @property
    def bound(self) -> bool:
        return self.stats.bound

    def update_bound(self) -> None:
        """Each link calls this when it binds or loses its bind."""
        self.stats.bound = all(link.bound.is_set() for link in self.links)

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(link.supervise()) for link in self.links]

    async def wait_bound(self, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            for link in self.links:
                await link.bound.wait()

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake up when the session closes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), seconds)

    async def __aenter__(self) -> SmppSession:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _transmitter(self) -> _Link:
        for link in self.links:
            if link.bind is not BindReceiver:
                return link
        raise SubmitRejected("this session is bound as a receiver only")

    async def submit(self, pdu: SubmitSm) -> SubmitSmResp:
        """Send one submit_sm (its sequence_number is ours to set) and return its answer."""
        link = self._transmitter()
        loop = asyncio.get_running_loop()
        config = self.config
        for attempt in range(config.throttle_retries + 1):
            if self.closing:
                raise SubmitRetryLater("session closed")
            if not link.bound.is_set():  # wait_for costs a Task: only when there is a wait
                try:
                    await asyncio.wait_for(link.bound.wait(), config.response_timeout)
                except TimeoutError:
                    raise SubmitRetryLater("not bound") from None
            if (wait := self._throttled_until - loop.time()) > 0:
                await asyncio.sleep(wait)
            if self._bucket is not None:
                await self._bucket.take()
            self.stats.submitted += 1
            self.stats.in_flight += 1
            try:
                resp = await link.request(pdu, windowed=True)
            except SubmitTimedOut:
                self.stats.timeouts += 1
                raise
            finally:
                self.stats.in_flight -= 1
            status = resp.command_status
            if status == S.ESME_ROK and isinstance(resp, SubmitSmResp):
                self.stats.acknowledged += 1
                return resp
            if status not in TEMPORARY_STATUSES:
                self.stats.rejected += 1
                raise SubmitRejected(f"submit_sm refused: {status_name(status)}", status)
            self.stats.throttled += 1
            pause = config.throttle_delay * 2**attempt
            self._throttled_until = max(self._throttled_until, loop.time() + pause)
        raise SubmitThrottled(f"submit_sm still refused: {status_name(status)}", status)

    async def close(self) -> None:
        """Unbind cleanly (§4.2), then stop reconnecting."""
        self.closing = True
        self._closed.set()
        await asyncio.gather(*(link.unbind() for link in self.links))
        for link in self.links:
            link.abort()
        done, pending = await asyncio.wait(self._tasks, timeout=self.config.unbind_timeout)
        for task in pending:
            task.cancel()
        for task in (*done, *pending):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for link in self.links:
            for delivery in list(link.deliveries):
                delivery.cancel()
        self.update_bound()
