"""The shortcuts taken for speed (compiled plans, decoding without a second construction,
numbering without a rebuild, FifoTimer) behave as the slow paths they replace."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from hirondelle.smpp.codec import decode_pdu, encode_pdu
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.constants import Ton
from hirondelle.smpp.errors import LocalProtocolError
from hirondelle.smpp.pdu import DeliverSm, SubmitSm, with_sequence_number
from hirondelle.smpp.timers import FifoTimer
from tests.smpp.helpers import ManualClock

SUBMIT = SubmitSm(source_addr="36180", destination_addr="33611111111", short_message=b"Hi")


def test_with_sequence_number_is_replace() -> None:
    numbered = with_sequence_number(SUBMIT, 42)
    assert numbered == dataclasses.replace(SUBMIT, sequence_number=42)
    assert SUBMIT.sequence_number == 0  # the original is untouched
    assert encode_pdu(numbered) == encode_pdu(dataclasses.replace(SUBMIT, sequence_number=42))
    with pytest.raises(LocalProtocolError, match="sequence_number"):
        with_sequence_number(SUBMIT, -1)


def body_with(short_message: bytes, tlvs: bytes = b"") -> bytes:
    """A submit_sm whose sm_length says len(short_message), whatever the spec allows."""
    encoded = encode_pdu(SUBMIT)
    body = encoded[16:-3] + bytes((len(short_message),)) + short_message + tlvs
    return struct.pack(">IIII", 16 + len(body), 4, 0, 1) + body


def constructor_error(**fields: object) -> LocalProtocolError:
    with pytest.raises(LocalProtocolError) as info:
        dataclasses.replace(SUBMIT, **fields)
    return info.value


def decoder_error(data: bytes) -> LocalProtocolError:
    with pytest.raises(LocalProtocolError) as info:
        decode_pdu(data)
    return info.value


def test_decoding_refuses_what_the_constructor_refuses() -> None:
    # sm_length 255: above §5.2.21's 254, yet a whole octet the body loop can read
    cases = [
        (body_with(b"x" * 255), {"short_message": b"x" * 255}),
        # receipted_message_id longer than 64 octets (C-octet string of 65)
        (
            body_with(b"", struct.pack(">HH", 0x001E, 70) + b"a" * 70),
            {"receipted_message_id": "a" * 70},
        ),
        # short_message and message_payload together (§5.3.2.32)
        (
            body_with(b"x", struct.pack(">HH", 0x0424, 1) + b"y"),
            {"short_message": b"x", "message_payload": b"y"},
        ),
    ]
    for data, fields in cases:
        decoded, built = decoder_error(data), constructor_error(**fields)
        assert (str(decoded), decoded.command_status) == (str(built), built.command_status)
        assert decoded.sequence_number == 1


def test_slow_path_values_still_accepted() -> None:
    # not the fast path's exact int / ASCII str, but valid: IntEnum and Latin-1 text
    pdu = SubmitSm(source_addr_ton=Ton.INTERNATIONAL, source_addr="Zoé", short_message=b"x")
    assert decode_pdu(encode_pdu(pdu)) == pdu
    with pytest.raises(LocalProtocolError) as info:
        SubmitSm(source_addr="Zoé" * 7)
    assert info.value.command_status == S.ESME_RINVSRCADR
    with pytest.raises(LocalProtocolError):
        DeliverSm(esm_class=True)  # a bool is not an octet


def test_fifo_timer_runs_in_order_once_each_and_cancels() -> None:
    fired: list[int] = []
    batches: list[int] = []
    clock = ManualClock()
    timer = FifoTimer(1.0, lambda: batches.append(len(fired)), clock=clock)
    for n in range(3):
        timer.add(fired.append, n)
    clock.advance(0.75)
    assert fired == []  # not due yet
    clock.advance(0.25)
    assert fired == [0, 1, 2]
    assert batches == [3]  # the three ran in one batch, then `after`
    timer.add(fired.append, 3)
    timer.add(lambda: timer.add(fired.append, 5))  # added while firing: runs a delay later
    clock.advance(1.0)
    assert fired == [0, 1, 2, 3]
    clock.advance(1.0)
    assert fired == [0, 1, 2, 3, 5]
    timer.add(fired.append, 6)
    timer.cancel()
    clock.advance(10.0)
    assert fired == [0, 1, 2, 3, 5]
