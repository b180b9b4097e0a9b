"""`SmppPair`: an ESME and an SMSC `Connection` over a fake link (h11's ConnectionPair)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from hirondelle.smpp.connection import CONNECTION_CLOSED, NEED_DATA, Connection, Role
from hirondelle.smpp.pdu import (
    RESPONSE_FOR,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    Pdu,
    response_to,
)

REQUEST_FOR = {resp: req for req, resp in RESPONSE_FOR.items()}


def get_all_events(conn: Connection) -> list[Pdu]:
    got: list[Pdu] = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA or event is CONNECTION_CLOSED:
            return got
        assert isinstance(event, Pdu), event
        got.append(event)


class SmppPair:
    def __init__(self, window: int = 10) -> None:
        self.esme = Connection(Role.ESME, window=window)
        self.smsc = Connection(Role.SMSC, window=window)
        self.conn = {Role.ESME: self.esme, Role.SMSC: self.smsc}

    def other(self, role: Role) -> Role:
        return Role.SMSC if role is Role.ESME else Role.ESME

    def send(self, role: Role, pdu: Pdu) -> bytes:
        """Send from `role`; assert the peer decodes exactly `pdu`."""
        data = self.conn[role].send(pdu)
        receiver = self.conn[self.other(role)]
        receiver.receive_data(data)
        assert get_all_events(receiver) == [pdu]
        return data

    def bind(
        self, cls: type[BindTransceiver | BindTransmitter | BindReceiver] = BindTransceiver
    ) -> None:
        request = cls(sequence_number=self.esme.next_sequence_number(), system_id="esme")
        self.send(Role.ESME, request)
        self.send(Role.SMSC, response_to(request, system_id="smsc"))


class ManualHandle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock for `FifoTimer` that moves only when the test says: no test sleeps for a timer."""

    def __init__(self) -> None:
        self.now = 0.0
        self._due: list[tuple[float, int, ManualHandle, Callable[[], object]]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object]) -> ManualHandle:
        handle = ManualHandle()
        heapq.heappush(self._due, (when, next(self._order), handle, callback))
        return handle

    def advance(self, seconds: float) -> None:
        """Move `seconds` on, running every callback due by then, in due order."""
        self.now += seconds
        while self._due and self._due[0][0] <= self.now:
            _, _, handle, callback = heapq.heappop(self._due)
            if not handle.cancelled:
                callback()
