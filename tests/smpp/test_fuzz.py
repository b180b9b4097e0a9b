"""Any input either parses or raises the codec's own error (h11's fuzz/afl-server.py).

10,000 PDU examples in all: 5,000 framed random bodies and 5,000 mutated valid PDUs, fed to
`decode_pdu` and to bound `Connection`s in random chunk sizes; plus receipt-parser fuzzing.
"""

from __future__ import annotations

import contextlib
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hirondelle.smpp.codec import decode_pdu, encode_pdu
from hirondelle.smpp.connection import Connection, Role, State, events
from hirondelle.smpp.errors import ProtocolError, RemoteProtocolError
from hirondelle.smpp.messages import MessageOptions, build_submits
from hirondelle.smpp.pdu import PDU_CLASSES, DeliverSm, SubmitSm
from hirondelle.smpp.receipts import parse_receipt_text, receipt_from_deliver_sm

from .cases import CASES
from .helpers import SmppPair

FUZZ = settings(
    max_examples=5000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
COMMAND_IDS = st.one_of(st.sampled_from(sorted(PDU_CLASSES)), st.integers(0, 0xFFFFFFFF))


def bound_pair() -> SmppPair:
    """Bound TRX, with requests in flight both ways so that responses may match."""
    pair = SmppPair(window=8)
    pair.bind()
    for seq in range(2, 6):
        pair.send(Role.ESME, SubmitSm(sequence_number=seq))
        pair.send(Role.SMSC, DeliverSm(sequence_number=seq))
    return pair


def drain(conn: Connection) -> None:
    """Every error consumes the offending bytes or ends in ERROR, so this always finishes."""
    try:
        for _ in events(conn):
            pass
    except RemoteProtocolError:
        assert conn.state is State.ERROR


def feed(data: bytes, chunk: int, role: Role) -> None:
    conn = bound_pair().conn[role]
    for i in range(0, len(data), chunk):
        conn.receive_data(data[i : i + chunk])
        drain(conn)
    conn.receive_data(b"")
    drain(conn)


def check_decode(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_pdu(data)


@st.composite
def framed_random(draw: st.DrawFn) -> bytes:
    """A header with a right (or slightly wrong) length and a random body."""
    body = draw(st.binary(max_size=300))
    length = len(body) + 16 + draw(st.sampled_from([0, 0, 0, -1, 1, -20]))
    header = struct.pack(
        ">IIII",
        max(length, 0),
        draw(COMMAND_IDS),
        draw(st.integers(0, 0xFFFFFFFF)),
        draw(st.integers(0, 0xFFFFFFFF)),
    )
    return header + body


def _corpus() -> list[bytes]:
    """Valid PDUs to mutate: the byte table, and real traffic from the message builder."""
    corpus = [data for _, _, data in CASES]
    for concatenation in ("udh8", "udh16", "sar", "payload"):
        options = MessageOptions(concatenation=concatenation)  # type: ignore[arg-type]
        for text in ("Hi", "Привет 😀 " * 20, "GSM € text " * 20):
            corpus += [encode_pdu(pdu) for pdu in build_submits(text, "Hirondelle", "336", options)]
    return corpus


# Drawing whole random PDUs for each example is slow; mutating a fixed corpus is not, and
# test_oracles.py already covers random valid PDUs.
valid_pdu_bytes = st.sampled_from(_corpus())


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(valid_pdu_bytes))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "length", "append"]))
        index = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[index] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[index:]
        elif op == "insert":
            data[index:index] = draw(st.binary(min_size=1, max_size=8))
        elif op == "length" and len(data) >= 4:
            data[0:4] = struct.pack(">I", len(data) + draw(st.integers(-20, 20)) & 0xFFFFFFFF)
        elif op == "append":
            data += draw(valid_pdu_bytes)
    return bytes(data)


ROLES = st.sampled_from([Role.ESME, Role.SMSC])
CHUNKS = st.sampled_from([1, 3, 16, 64, 4096])


@FUZZ
@given(framed_random(), CHUNKS, ROLES)
def test_random_pdus_parse_or_raise_protocol_error(data: bytes, chunk: int, role: Role) -> None:
    check_decode(data)
    feed(data, chunk, role)


@FUZZ
@given(mutated(), CHUNKS, ROLES)
def test_mutated_pdus_parse_or_raise_protocol_error(data: bytes, chunk: int, role: Role) -> None:
    check_decode(data)
    feed(data, chunk, role)


@settings(max_examples=1500, deadline=None, database=None)
@given(st.text(max_size=200))
def test_receipt_parser_never_raises(text: str) -> None:
    receipt = parse_receipt_text(text)
    assert receipt is None or receipt.message_id


RECEIPT_WORDS = st.sampled_from(
    ["id:", "ID :", "sub:", "dlvrd:", "submit date:", "submit_date:", "done date:", "stat:",
     "err:", "text:", "Text:", "DELIVRD", "UNDELIV", " ", "  ", "0a1B", "001", "2401011200", ":"]
)  # fmt: skip


@settings(max_examples=1500, deadline=None, database=None)
@given(st.lists(RECEIPT_WORDS, max_size=30).map("".join), st.integers(0, 255))
def test_receipt_from_deliver_sm_never_raises(text: str, esm_class: int) -> None:
    pdu = DeliverSm(esm_class=esm_class, short_message=text.encode()[:254])
    receipt_from_deliver_sm(pdu)


def test_connection_survives_every_case_fed_twice() -> None:
    """Sanity for the fuzz harness: valid traffic never reaches ERROR."""
    conn = Connection(Role.SMSC)
    conn.receive_data(b"".join(data for _, _, data in CASES[:3]))
    drain(conn)
    assert conn.state is State.OPEN
