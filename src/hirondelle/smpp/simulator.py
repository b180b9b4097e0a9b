"""An SMSC for tests and demos, on the same sans-I/O `Connection` as the ESME (role SMSC).

Outcome by the destination's last digits:

    ...9999  submit refused with ESME_RINVDSTADR (permanent)
    ...7777  ESME_RTHROTTLED, then accepted when sent again
    (any of `always_throttled`)  ESME_RTHROTTLED every time (none by default)
    ...0000  accepted, receipt UNDELIV err:000 (not delivered)
    ...8888  accepted, receipt UNDELIV err:001 (unknown subscriber -> annex 6 status 5)
    other    accepted, receipt DELIVRD

Receipts (deliver_sm, esm_class 0x04, Appendix B text plus receipted_message_id and
message_state TLVs; one per part of a long message) leave after `receipt_delay` through the
event loop's timer heap: there is no sleeping per PDU. A deliver_sm not answered within
`resend_timeout`, answered with an error other than ESME_RX_P_APPN / ESME_RX_R_APPN, or in
flight when its connection drops, is delivered again to a bound receiver.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from hirondelle.batched_writer import BatchedWriter

from .connection import Connection, Refused, Role, State, events
from .constants import CommandStatus as S
from .constants import MessageState
from .errors import ProtocolError
from .messages import MessageOptions, Reassembler, build_messages
from .pdu import (
    Bind,
    BindTransmitter,
    DataSm,
    DeliverSm,
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
from .receipts import STAT_TO_STATE, Receipt, ReceiptStat, format_receipt_text
from .timers import FifoTimer

log = logging.getLogger(__name__)

K = TypeVar("K")

#: PDUs and messages the simulator's records keep, by kind (the counts are kept apart, whole).
DEFAULT_HISTORY = 1000

_OUTCOMES: dict[str, tuple[ReceiptStat, str]] = {
    "0000": (ReceiptStat.UNDELIV, "000"),
    "8888": (ReceiptStat.UNDELIV, "001"),
}


@dataclass
class ReceivedMessage:
    """A submitted message, reassembled from its parts."""

    source: str
    destination: str
    text: str
    parts: int


@dataclass
class _Delivery:
    pdu: DeliverSm
    attempts: int = 0


class RecentCounter(Counter[K]):
    """A Counter of the `maxlen` keys counted last: the oldest is forgotten first."""

    def __init__(self, maxlen: int) -> None:
        super().__init__()
        self.maxlen = maxlen

    def add(self, key: K) -> None:
        self[key] = self.pop(key, 0) + 1  # to the end: the most recent
        if len(self) > self.maxlen:
            del self[next(iter(self))]


class SimulatorRecords:
    """What the simulator saw, for tests.

    A simulator serving for days must not keep every PDU (300,000 messages held 700 MiB): the
    PDU lists and the tallies keep the last `history` items or keys, and the `*_count` fields
    count everything, exactly.
    """

    def __init__(self, history: int = DEFAULT_HISTORY) -> None:
        self.history = history
        self.submits: deque[SubmitSm] = deque(maxlen=history)  # refused ones too
        self.messages: deque[ReceivedMessage] = deque(maxlen=history)
        self.texts: RecentCounter[tuple[str, str]] = RecentCounter(history)  # (destination, text)
        self.references: RecentCounter[int] = RecentCounter(history)  # user_message_reference
        self.acknowledged: deque[DeliverSm] = deque(maxlen=history)  # deliver_sm answered ROK
        self.nacks: deque[int] = deque(maxlen=history)  # command_status of each generic_nack
        self.submit_count = 0  # every submit_sm
        self.message_count = 0  # whole messages reassembled from them
        self.acknowledged_count = 0
        self.deliveries_sent = 0  # deliver_sm written, resends included
        self.binds = 0
        self.unbinds = 0
        self.enquire_links = 0
        self.max_in_flight = 0  # most submit_sm awaiting our answer on one connection
        self.duplicate_count = 0  # whole messages whose (destination, text) came before

    def counts(self) -> dict[str, int]:
        """The exact counts (`hirondelle smsc-sim --stats-file` writes them)."""
        return {
            "submits": self.submit_count,
            "messages": self.message_count,
            "duplicates": self.duplicate_count,
            "receipts_acknowledged": self.acknowledged_count,
            "binds": self.binds,
            "unbinds": self.unbinds,
        }

    def duplicates(self) -> dict[tuple[str, str], int]:
        """(destination, text) received more than once, among the last `history` of them."""
        return {key: n for key, n in self.texts.items() if n > 1}


class _Client:
    def __init__(self, sim: SmscSimulator, writer: asyncio.StreamWriter) -> None:
        self.sim = sim
        self.writer = writer
        self.conn = Connection(Role.SMSC, window=sim.window)
        self.receiver = False
        self.sent: dict[int, _Delivery] = {}
        self._next_answer = 0.0  # loop time of the next submit_sm_resp under `bind_tps`
        self._out = BatchedWriter(writer.transport)

    def write(self, pdu: Pdu) -> None:
        """Send `pdu` now; its octets leave with the others of this event-loop iteration."""
        if self.conn.state in (State.CLOSED, State.ERROR) or self._out.closing:
            return
        self._out.write(self.conn.send(pdu))

    async def run(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                data = await reader.read(65536)
                self.conn.receive_data(data)
                if not self._process_events() or not data:
                    return
        except (OSError, ProtocolError) as exc:
            log.info("simulator: client lost: %s", exc)
        finally:
            self.receiver = False
            self._out.flush()  # e.g. the unbind_resp that ended the session
            self.writer.close()
            self.sim.clients.discard(self)
            for delivery in self.sent.values():  # in flight when it dropped: deliver again
                self.sim.dispatch(delivery)
            self.sent.clear()
            self.sim.notify()

    def _process_events(self) -> bool:
        for event in events(self.conn):
            if isinstance(event, Refused):
                if event.answer is not None:
                    self.write(event.answer)
            else:
                self.handle(event)
        # The answers of a read leave now, before any timer of the next iteration runs (the
        # receipts those submits made due at once): an SMSC does not hold submit_sm_resp back
        # while it writes delivery receipts.
        self._out.flush()
        self.sim.notify()  # once per read, not per PDU: waiters re-check their predicate
        return self.conn.state is not State.CLOSED

    def handle(self, pdu: Pdu) -> None:
        sim = self.sim
        if isinstance(pdu, Bind):
            ok = sim.system_id in (None, pdu.system_id) and sim.password in (None, pdu.password)
            status = S.ESME_ROK if ok else S.ESME_RINVPASWD
            self.write(response_to(pdu, status, system_id="hirondelle-sim" if ok else ""))
            if ok:
                sim.records.binds += 1
                self.receiver = not isinstance(pdu, BindTransmitter)
                sim.flush()
        elif isinstance(pdu, SubmitSm):
            sim.records.max_in_flight = max(
                sim.records.max_in_flight, len(self.conn.their_outstanding)
            )
            resp = sim.on_submit(pdu)
            if sim.bind_tps:  # this bind answers `bind_tps` submits per second at most
                loop = asyncio.get_running_loop()
                self._next_answer = max(loop.time(), self._next_answer) + 1 / sim.bind_tps
                loop.call_at(self._next_answer + sim.submit_delay, self.write, resp)
            elif sim.submit_delay:
                sim.later(sim.submit_delay, self.write, resp)
            else:
                self.write(resp)
        elif isinstance(pdu, DataSm):
            self.write(response_to(pdu, message_id=sim.new_message_id()))
        elif isinstance(pdu, QuerySm):
            self.write(response_to(pdu, message_id=pdu.message_id, message_state=2))
        elif isinstance(pdu, EnquireLink):
            sim.records.enquire_links += 1
            self.write(response_to(pdu))
        elif isinstance(pdu, Unbind):
            sim.records.unbinds += 1
            self.write(UnbindResp(sequence_number=pdu.sequence_number))
        elif pdu.is_response():
            if isinstance(pdu, GenericNack):
                sim.records.nacks.append(pdu.command_status)
            delivery = self.sent.pop(pdu.sequence_number, None)
            if delivery is not None:
                sim.on_delivery_answer(delivery, pdu.command_status)

    def deliver(self, delivery: _Delivery) -> bool:
        if not (self.receiver and self.conn.bound and self.conn.window_open):
            return False
        seq = self.conn.next_sequence_number()
        self.sent[seq] = delivery
        delivery.attempts += 1
        self.write(with_sequence_number(delivery.pdu, seq))
        self.sim.records.deliveries_sent += 1
        self.sim.later(self.sim.resend_timeout, self._expire, seq)
        return True

    def _expire(self, seq: int) -> None:
        delivery = self.sent.pop(seq, None)
        if delivery is not None:  # no answer in time: the ESME did not take it
            self.sim.dispatch(delivery)


class SmscSimulator:
    """`port = await sim.start()`, then point an `SmppSession` at 127.0.0.1:port."""

    def __init__(
        self,
        *,
        system_id: str | None = None,
        password: str | None = None,
        receipt_delay: float = 0.0,
        resend_timeout: float = 5.0,
        submit_delay: float = 0.0,
        window: int = 1000,
        decimal_receipt_ids: bool = False,
        history: int = DEFAULT_HISTORY,
        always_throttled: tuple[str, ...] = (),
        wrap_ids: int = 0,
        bind_tps: float = 0,
    ) -> None:
        self.system_id = system_id
        self.password = password
        self.receipt_delay = receipt_delay
        self.resend_timeout = resend_timeout
        self.submit_delay = submit_delay  # answer each submit_sm this late (to fill windows)
        self.window = window
        # Each bind answers this many submits per second at most (0: no cap), as operators
        # cap each bind: a connector's throughput then grows with its binds.
        self.bind_tps = bind_tps
        self.decimal_receipt_ids = decimal_receipt_ids  # hex ids in submit_sm_resp, decimal after
        self.records = SimulatorRecords(history)
        self.always_throttled = always_throttled  # destination endings: an SMSC never ready
        self.clients: set[_Client] = set()
        # Message ids follow the clock in microseconds (one more than the last when it did not
        # move), so a restarted simulator never gives an id again. With `wrap_ids` (tests) they
        # wrap every that many, as the counters of some SMSCs do.
        self.wrap_ids = wrap_ids
        self._last_id = time.time_ns() // 1000
        self._ids = itertools.count()
        self._minute: tuple[int, str] = (-1, "")  # (time.time() // 60, its YYMMDDhhmm)
        self._queue: list[_Delivery] = []
        self._throttled: set[tuple[str, bytes]] = set()
        self._reassembler = Reassembler()
        self._timers: dict[float, FifoTimer] = {}  # by delay: one loop timer each
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Event()

    # -- serving ------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._accept, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(self, writer)
        self.clients.add(client)
        await client.run(reader)

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._server is not None:
            self._server.close()
        await self.drop()
        if self._server is not None:
            await self._server.wait_closed()

    async def drop(self) -> None:
        """Cut every connection, as a crashed SMSC or a broken network would."""
        for client in list(self.clients):
            client.writer.transport.abort()
        await asyncio.sleep(0)

    async def unbind_clients(self) -> None:
        """Send unbind to every bound client (§4.2): they should answer and re-bind."""
        for client in list(self.clients):
            if client.conn.bound:
                client.write(Unbind(sequence_number=client.conn.next_sequence_number()))
        await asyncio.sleep(0)

    # -- tests wait on this ---------------------------------------------------------------------

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    @property
    def bound_clients(self) -> int:
        return sum(1 for client in self.clients if client.conn.bound)

    # -- timers and delivery --------------------------------------------------------------------

    def later(self, delay: float, callback: Callable[..., Any], *args: Any) -> None:
        """`callback(*args)` after `delay` seconds. The delays are few (receipt_delay,
        resend_timeout, submit_delay), so one FIFO and one loop timer per delay replace a
        `call_later` per receipt and per deliver_sm sent."""
        timer = self._timers.get(delay)
        if timer is None:
            timer = self._timers[delay] = FifoTimer(delay, self.notify)
        timer.add(callback, *args)

    def dispatch(self, delivery: _Delivery) -> None:
        """Hand a deliver_sm to a bound receiver now, or keep it until one binds."""
        for client in list(self.clients):
            if client.deliver(delivery):
                return
        self._queue.append(delivery)

    def flush(self) -> None:
        queue, self._queue = self._queue, []
        for delivery in queue:
            self.dispatch(delivery)

    def on_delivery_answer(self, delivery: _Delivery, status: int) -> None:
        if status == S.ESME_ROK:
            self.records.acknowledged.append(delivery.pdu)
            self.records.acknowledged_count += 1
        elif status not in (S.ESME_RX_P_APPN, S.ESME_RX_R_APPN):
            self.later(self.resend_timeout, self.dispatch, delivery)
        self.flush()  # a window slot is free

    # -- the SMSC's rules -----------------------------------------------------------------------

    def new_message_id(self) -> str:
        if self.wrap_ids:
            return f"{self._last_id + next(self._ids) % self.wrap_ids:X}"
        self._last_id = max(time.time_ns() // 1000, self._last_id + 1)
        return f"{self._last_id:X}"

    def on_submit(self, pdu: SubmitSm) -> Pdu:
        self.records.submits.append(pdu)
        self.records.submit_count += 1
        destination = pdu.destination_addr
        if destination.endswith("9999"):
            return response_to(pdu, S.ESME_RINVDSTADR)
        if self.always_throttled and destination.endswith(self.always_throttled):
            return response_to(pdu, S.ESME_RTHROTTLED)
        key = (destination, pdu.payload)
        if destination.endswith("7777"):
            if key not in self._throttled:
                self._throttled.add(key)
                return response_to(pdu, S.ESME_RTHROTTLED)
            self._throttled.discard(key)  # accepted: forget it (the set stays small)
        message_id = self.new_message_id()
        whole = self._reassembler.feed(pdu)
        if whole is not None:
            self.records.messages.append(
                ReceivedMessage(whole.source, whole.destination, whole.text, whole.parts)
            )
            self.records.message_count += 1
            self.records.texts.add((whole.destination, whole.text))
            if self.records.texts[(whole.destination, whole.text)] > 1:
                self.records.duplicate_count += 1
        if pdu.user_message_reference is not None:
            self.records.references.add(pdu.user_message_reference)
        if pdu.registered_delivery & 0x03:  # the receipt is made when it is due
            self.later(self.receipt_delay, self._send_receipt, pdu, message_id)
        return response_to(pdu, message_id=message_id)

    def _send_receipt(self, submit: SubmitSm, message_id: str) -> None:
        self.dispatch(_Delivery(self._receipt(submit, message_id)))

    def _receipt(self, submit: SubmitSm, message_id: str) -> DeliverSm:
        stat, err = _OUTCOMES.get(submit.destination_addr[-4:], (ReceiptStat.DELIVRD, "000"))
        now = self._receipt_date()
        reported = str(int(message_id, 16)) if self.decimal_receipt_ids else message_id
        text = format_receipt_text(
            Receipt(reported, stat, err=err, submit_date=now, done_date=now, text="")
        )
        return DeliverSm(
            source_addr_ton=submit.dest_addr_ton,
            source_addr_npi=submit.dest_addr_npi,
            source_addr=submit.destination_addr,
            dest_addr_ton=submit.source_addr_ton,
            dest_addr_npi=submit.source_addr_npi,
            destination_addr=submit.source_addr,
            esm_class=0x04,
            short_message=text.encode("ascii"),
            receipted_message_id=reported,
            message_state=int(STAT_TO_STATE.get(stat, MessageState.UNKNOWN)),
            network_error_code=(3, int(err)) if err != "000" else None,
        )

    def _receipt_date(self) -> str:
        """Local YYMMDDhhmm (Appendix B), formatted once a minute rather than per receipt."""
        minute = int(time.time() // 60)
        if minute != self._minute[0]:
            self._minute = (minute, datetime.now().strftime("%y%m%d%H%M"))
        return self._minute[1]

    async def inject_mo(
        self, source: str, destination: str, text: str, concatenation: str = "udh8"
    ) -> None:
        """A reply from a handset: parts (UCS-2 when needed) to the bound receivers."""
        options = MessageOptions(concatenation=concatenation)  # type: ignore[arg-type]
        for pdu in build_messages(DeliverSm, text, source, destination, options):
            self.dispatch(_Delivery(pdu))
        await asyncio.sleep(0)


#: Seconds between two writes of the stats file.
STATS_INTERVAL = 0.5


async def run_simulator(
    host: str = "127.0.0.1",
    port: int = 2775,
    receipt_delay: float = 1.0,
    stats_file: str = "",
    **options: Any,
) -> None:
    """Serve until cancelled (`hirondelle smsc-sim` calls this); with `stats_file`, write the
    counts there every half second."""
    sim = SmscSimulator(receipt_delay=receipt_delay, **options)
    bound_port = await sim.start(host, port)
    print(f"SMSC simulator listening on {host}:{bound_port}", flush=True)
    try:
        while True:
            await asyncio.sleep(STATS_INTERVAL)
            if stats_file:
                write_counts(sim, stats_file)
    finally:
        if stats_file:
            write_counts(sim, stats_file)
        await sim.close()


def write_counts(sim: SmscSimulator, path: str) -> None:
    """The simulator's counts as one JSON object, replaced whole (readers never see half)."""
    partial = f"{path}.partial"
    with open(partial, "w") as out:
        json.dump(sim.records.counts(), out)
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hirondelle.smpp.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--receipt-delay", type=float, default=1.0, help="seconds")
    parser.add_argument("--system-id", default=None)
    parser.add_argument("--password", default=None)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run_simulator(
                args.host,
                args.port,
                args.receipt_delay,
                system_id=args.system_id,
                password=args.password,
            )
        )


if __name__ == "__main__":
    main()
