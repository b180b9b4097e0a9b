"""The sans-I/O SMPP 3.4 connection: bytes in, PDUs out, after h11's `Connection`.

Theory of operation
-------------------
An SMPP session (§2.2) is OPEN after the TCP connect, BOUND_TX / BOUND_RX / BOUND_TRX once a
bind_*_resp with ESME_ROK has crossed the wire, UNBOUND once either side sent unbind (only
responses and unbind_resp may follow), and CLOSED after unbind_resp or end of file. ERROR is
where we go when the byte stream can no longer be trusted (a command_length we refuse, bytes
after EOF, a failed write); nothing more can be sent or received.

`ALLOWED[state][sender]` lists the PDU classes that the ESME or the SMSC may send in each state
(§2.3, table 2-1). It describes both sides and does not know which one we play, so the same
`Connection` serves the session (role ESME) and the simulator (role SMSC): we check what we
send against our row and what we receive against the peer's.

Sequence numbers (§5.1.4) and the window are protocol state, so they live here too:
`our_outstanding` maps the sequence numbers of requests we sent to their class until the
answer arrives; `their_outstanding` does the same for requests we owe an answer to. The clock
(timeouts, enquire_link interval) stays in the session.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Final

from .codec import decode_pdu, encode_pdu
from .constants import HEADER_LENGTH, MAX_SEQUENCE_NUMBER, RESPONSE_BIT
from .constants import CommandStatus as S
from .errors import LocalProtocolError, RemoteProtocolError
from .pdu import (
    RESPONSE_FOR,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)


class Role(Enum):
    ESME = "ESME"
    SMSC = "SMSC"


class State(Enum):
    OPEN = "OPEN"
    BOUND_TX = "BOUND_TX"
    BOUND_RX = "BOUND_RX"
    BOUND_TRX = "BOUND_TRX"
    UNBOUND = "UNBOUND"
    CLOSED = "CLOSED"
    ERROR = "ERROR"


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA: Final = _Sentinel("NEED_DATA")
"""`next_event()`: feed more bytes with `receive_data()`."""
CONNECTION_CLOSED: Final = _Sentinel("CONNECTION_CLOSED")
"""`next_event()`: the peer closed cleanly (EOF between PDUs, or after unbind_resp)."""

PduClasses = frozenset[type[Pdu]]

_ANY_TIME: PduClasses = frozenset({EnquireLink, EnquireLinkResp, GenericNack})
_RESPONSES: PduClasses = frozenset(RESPONSE_FOR.values()) | {GenericNack}
# What a bound side may send, by bind type (§2.3). Responses travel in any bound state; the
# state only restricts requests.
_ESME_TX: PduClasses = frozenset({SubmitSm, DataSm, QuerySm, Unbind, UnbindResp})
_ESME_RX: PduClasses = frozenset({DeliverSmResp, DataSmResp, Unbind, UnbindResp})
_SMSC_TX: PduClasses = frozenset({SubmitSmResp, DataSmResp, QuerySmResp, Unbind, UnbindResp})
_SMSC_RX: PduClasses = frozenset({DeliverSm, DataSm, Unbind, UnbindResp})

ALLOWED: Mapping[State, Mapping[Role, PduClasses]] = {
    State.OPEN: {
        Role.ESME: _ANY_TIME | {BindTransmitter, BindReceiver, BindTransceiver},
        Role.SMSC: _ANY_TIME
        | {BindTransmitterResp, BindReceiverResp, BindTransceiverResp, Outbind},
    },
    State.BOUND_TX: {Role.ESME: _ANY_TIME | _ESME_TX, Role.SMSC: _ANY_TIME | _SMSC_TX},
    State.BOUND_RX: {Role.ESME: _ANY_TIME | _ESME_RX, Role.SMSC: _ANY_TIME | _SMSC_RX},
    State.BOUND_TRX: {
        Role.ESME: _ANY_TIME | _ESME_TX | _ESME_RX,
        Role.SMSC: _ANY_TIME | _SMSC_TX | _SMSC_RX,
    },
    # §4.2: after unbind only the answers to what is in flight, and unbind_resp.
    State.UNBOUND: {
        Role.ESME: _RESPONSES | {Unbind, UnbindResp},
        Role.SMSC: _RESPONSES | {Unbind, UnbindResp},
    },
    State.CLOSED: {Role.ESME: frozenset(), Role.SMSC: frozenset()},
    State.ERROR: {Role.ESME: frozenset(), Role.SMSC: frozenset()},
}

# A successful bind response moves both sides to the bound state it names.
BIND_RESULT: Mapping[type[Pdu], State] = {
    BindTransmitterResp: State.BOUND_TX,
    BindReceiverResp: State.BOUND_RX,
    BindTransceiverResp: State.BOUND_TRX,
}
# These leave the state whatever it was: unbind (either way) and its answer.
AFTER: Mapping[type[Pdu], State] = {Unbind: State.UNBOUND, UnbindResp: State.CLOSED}
BOUND_STATES: Final = frozenset({State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX})
# Control requests do not count against the window: a full window must not stop a keep-alive.
_WINDOWLESS: PduClasses = frozenset(
    {EnquireLink, Unbind, BindTransmitter, BindReceiver, BindTransceiver}
)

DEFAULT_MAX_COMMAND_LENGTH = 70_000  # a 64 KiB message_payload plus the rest of a data_sm
_LENGTH = struct.Struct(">I")


def _peer(role: Role) -> Role:
    return Role.SMSC if role is Role.ESME else Role.ESME


class Connection:
    """One side of one SMPP connection, with no I/O: see the module docstring."""

    def __init__(
        self,
        role: Role,
        *,
        window: int = 10,
        max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.our_role = role
        self.their_role = _peer(role)
        self.window = window
        self.max_command_length = max_command_length
        self.state = State.OPEN
        self._buffer = bytearray()
        self._eof = False
        self._next_seq = 1
        self._ours: dict[int, type[Pdu]] = {}
        self._theirs: dict[int, type[Pdu]] = {}

    # -- window and sequence numbers ---------------------------------------------------------

    @property
    def our_outstanding(self) -> Mapping[int, type[Pdu]]:
        """Requests we sent and that have no answer yet: sequence_number -> class."""
        return MappingProxyType(self._ours)

    @property
    def their_outstanding(self) -> Mapping[int, type[Pdu]]:
        """Requests the peer sent that we still owe an answer to."""
        return MappingProxyType(self._theirs)

    @property
    def window_open(self) -> bool:
        return len(self._ours) < self.window

    @property
    def bound(self) -> bool:
        return self.state in BOUND_STATES

    def next_sequence_number(self) -> int:
        """1..0x7FFFFFFF, wrapping (§5.1.4), skipping numbers still awaiting an answer."""
        while True:
            seq = self._next_seq
            self._next_seq = 1 if seq >= MAX_SEQUENCE_NUMBER else seq + 1
            if seq not in self._ours:
                return seq

    # -- receiving ---------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the peer; `b""` means end of file."""
        if data:
            if self._eof:
                self.state = State.ERROR
                raise RuntimeError("received data after end of file")
            self._buffer += data
        else:
            self._eof = True

    @property
    def trailing_data(self) -> tuple[bytes, bool]:
        """Bytes buffered but not yet parsed, and whether EOF was seen (as h11)."""
        return bytes(self._buffer), self._eof

    def next_event(self) -> Pdu | _Sentinel:
        """The next PDU from the peer, `NEED_DATA`, or `CONNECTION_CLOSED`.

        Raises `RemoteProtocolError`. After a bad command_length or a truncated stream the
        connection is in ERROR. After a malformed body, a PDU not allowed in this state or an
        unexpected response, the PDU's bytes are skipped and the connection stays usable:
        answer `exc.sequence_number` with a generic_nack carrying `exc.command_status`.
        """
        if self.state is State.ERROR:
            raise RemoteProtocolError("can't receive data when peer state is ERROR")
        if self.state is State.CLOSED:
            return CONNECTION_CLOSED
        if len(self._buffer) >= 4:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if not HEADER_LENGTH <= length <= self.max_command_length:
                self.state = State.ERROR  # §3.2: we cannot find the next PDU any more
                raise RemoteProtocolError(
                    f"command_length {length} out of bounds", S.ESME_RINVCMDLEN
                )
            if len(self._buffer) >= length:
                data = bytes(self._buffer[:length])
                del self._buffer[:length]
                try:
                    pdu = decode_pdu(data)
                    self._process(pdu, self.their_role)
                except LocalProtocolError as exc:
                    exc._reraise_as_remote_protocol_error()
                return pdu
        if self._eof:
            if self._buffer:
                self.state = State.ERROR
                raise RemoteProtocolError("peer closed inside a PDU", S.ESME_RINVCMDLEN)
            self.state = State.CLOSED
            return CONNECTION_CLOSED
        return NEED_DATA

    # -- sending -----------------------------------------------------------------------------

    def send(self, pdu: Pdu) -> bytes:
        """Check `pdu` against the state, window and sequence numbers, then encode it."""
        if self.state is State.ERROR:
            raise LocalProtocolError("can't send data when our state is ERROR")
        self._process(pdu, self.our_role)
        return encode_pdu(pdu)

    def send_failed(self) -> None:
        """The write did not reach the peer: nothing about this connection is known now."""
        self.state = State.ERROR

    # -- the one place where state changes -----------------------------------------------------

    def _process(self, pdu: Pdu, sender: Role) -> None:
        cls = type(pdu)
        seq = pdu.sequence_number
        ours = sender is self.our_role
        if cls not in ALLOWED[self.state][sender]:
            bound = self.state in BOUND_STATES
            hint = S.ESME_RALYBND if bound and cls in _WINDOWLESS - {EnquireLink} else None
            raise LocalProtocolError(
                f"{sender.value} may not send {cls.__name__} in state {self.state.value}",
                hint or S.ESME_RINVBNDSTS,
                sequence_number=seq,
                command_id=cls.command_id,
            )
        # A response settles one of the sender's debts; a request creates one.
        requests = self._theirs if ours else self._ours
        if cls.is_response():
            request = requests.get(seq)
            if request is None:
                if cls is GenericNack:  # may answer something unparseable (seq 0 or unknown)
                    return
                raise LocalProtocolError(
                    f"{cls.__name__} answers no request in flight (seq {seq})",
                    S.ESME_RINVCMDID,
                    sequence_number=seq,
                    command_id=cls.command_id,
                )
            if cls is not GenericNack and RESPONSE_FOR[request] is not cls:
                raise LocalProtocolError(
                    f"{cls.__name__} does not answer {request.__name__} (seq {seq})",
                    S.ESME_RINVCMDID,
                    sequence_number=seq,
                    command_id=cls.command_id,
                )
            del requests[seq]
            if cls in BIND_RESULT and pdu.command_status == S.ESME_ROK:
                self.state = BIND_RESULT[cls]
        else:
            pending = self._ours if ours else self._theirs
            if cls is not Outbind:  # outbind has no response (§4.1.7)
                if seq in pending or not 1 <= seq <= MAX_SEQUENCE_NUMBER:
                    raise LocalProtocolError(
                        f"sequence number {seq} is in use or out of range",
                        S.ESME_RINVCMDID if ours else S.ESME_RSYSERR,
                        sequence_number=seq,
                        command_id=cls.command_id,
                    )
                if ours and cls not in _WINDOWLESS and not self.window_open:
                    raise LocalProtocolError(
                        f"window full ({self.window} requests in flight)",
                        S.ESME_RTHROTTLED,
                        sequence_number=seq,
                        command_id=cls.command_id,
                    )
                pending[seq] = cls
        if cls in AFTER:
            self.state = AFTER[cls]


@dataclass(frozen=True)
class Refused:
    """A PDU `next_event()` raised about: send `answer` when there is one, and carry on."""

    error: RemoteProtocolError
    answer: GenericNack | None


def events(conn: Connection) -> Iterator[Pdu | Refused]:
    """Every buffered event, until NEED_DATA or CONNECTION_CLOSED (then `conn.state` is
    CLOSED). Raises `RemoteProtocolError` when the stream is lost (state ERROR)."""
    while True:
        try:
            event = conn.next_event()
        except RemoteProtocolError as exc:
            if conn.state is State.ERROR:
                raise
            yield Refused(exc, nack_for(exc))
            continue
        if not isinstance(event, Pdu):
            return
        yield event


def nack_for(exc: RemoteProtocolError) -> GenericNack | None:
    """The generic_nack (§4.3) that answers a PDU `next_event()` refused, or None when the
    offending PDU was itself a response (answering a response would start a ping-pong)."""
    if exc.command_id is not None and exc.command_id & RESPONSE_BIT:
        return None
    return GenericNack(command_status=exc.command_status, sequence_number=exc.sequence_number)


def state_diagram() -> str:
    """Graphviz source of the transitions, drawn from the tables above (as h11 draws its own
    from `_state.py`): `python -c "...; print(state_diagram())" | dot -Tsvg`."""
    edges = [
        ("OPEN", state.value, f"{cls.__name__}(ESME_ROK)") for cls, state in BIND_RESULT.items()
    ]
    for state in BOUND_STATES:
        edges.append((state.value, State.UNBOUND.value, "Unbind"))
    edges.append((State.UNBOUND.value, State.CLOSED.value, "UnbindResp"))
    edges += [(s.value, State.ERROR.value, "bad command_length / send_failed") for s in State
              if s not in (State.CLOSED, State.ERROR)]  # fmt: skip
    lines = ["digraph smpp {"]
    for state, row in ALLOWED.items():
        label = "\\n".join(
            f"{role.value}: {', '.join(sorted(cls.__name__ for cls in classes))}"
            for role, classes in row.items()
            if classes
        )
        lines.append(f'  {state.value} [shape=box, label="{state.value}\\n{label}"];')
    lines += [f'  {a} -> {b} [label="{label}"];' for a, b, label in edges]
    return "\n".join([*lines, "}"])
