from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hirondelle.smpp.codec import encode_pdu
from hirondelle.smpp.connection import (
    ALLOWED,
    CONNECTION_CLOSED,
    NEED_DATA,
    Connection,
    Refused,
    Role,
    State,
    events,
    state_diagram,
)
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.errors import LocalProtocolError, RemoteProtocolError
from hirondelle.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    SubmitSm,
    SubmitSmResp,
    response_to,
)

from .helpers import SmppPair
from .strategies import any_message, binds

ESME, SMSC = Role.ESME, Role.SMSC


def test_table_is_complete_and_role_symmetric() -> None:
    assert set(ALLOWED) == set(State)
    for row in ALLOWED.values():
        assert set(row) == {ESME, SMSC}
    assert not ALLOWED[State.CLOSED][ESME] and not ALLOWED[State.ERROR][SMSC]


def test_bind_transceiver_then_traffic_both_ways() -> None:
    pair = SmppPair()
    assert pair.esme.state is State.OPEN and not pair.esme.bound
    pair.bind()
    assert pair.esme.state is pair.smsc.state is State.BOUND_TRX
    submit = SubmitSm(sequence_number=pair.esme.next_sequence_number(), destination_addr="1")
    pair.send(ESME, submit)
    assert dict(pair.esme.our_outstanding) == {submit.sequence_number: SubmitSm}
    assert dict(pair.smsc.their_outstanding) == {submit.sequence_number: SubmitSm}
    pair.send(SMSC, response_to(submit, message_id="m1"))
    assert not pair.esme.our_outstanding and not pair.smsc.their_outstanding
    deliver = DeliverSm(sequence_number=pair.smsc.next_sequence_number())
    pair.send(SMSC, deliver)
    pair.send(ESME, response_to(deliver))


@pytest.mark.parametrize(
    ("bind", "state"),
    [(BindTransmitter, State.BOUND_TX), (BindReceiver, State.BOUND_RX)],
)
def test_bind_types_restrict_traffic(bind: type[BindTransmitter], state: State) -> None:
    pair = SmppPair()
    pair.bind(bind)
    assert pair.esme.state is state
    if state is State.BOUND_TX:
        with pytest.raises(LocalProtocolError) as info:
            pair.smsc.send(DeliverSm(sequence_number=1))
    else:
        with pytest.raises(LocalProtocolError) as info:
            pair.esme.send(SubmitSm(sequence_number=1))
    assert info.value.command_status == S.ESME_RINVBNDSTS


def test_submit_before_bind_is_refused_both_ways() -> None:
    pair = SmppPair()
    with pytest.raises(LocalProtocolError) as info:
        pair.esme.send(SubmitSm(sequence_number=1))
    assert info.value.command_status == S.ESME_RINVBNDSTS
    assert pair.esme.state is State.OPEN  # nothing changed: the caller may bind now
    # the SMSC side, receiving it from a careless ESME: error with the hint, then usable
    pair.smsc.receive_data(encode_pdu(SubmitSm(sequence_number=5)))
    with pytest.raises(RemoteProtocolError) as remote:
        pair.smsc.next_event()
    assert remote.value.command_status == S.ESME_RINVBNDSTS
    assert remote.value.sequence_number == 5
    assert not pair.smsc.their_outstanding
    pair.smsc.send(GenericNack(command_status=S.ESME_RINVBNDSTS, sequence_number=5))
    pair.bind()
    assert pair.smsc.state is State.BOUND_TRX


def test_bind_twice_is_already_bound() -> None:
    pair = SmppPair()
    pair.bind()
    with pytest.raises(LocalProtocolError) as info:
        pair.esme.send(BindTransceiver(sequence_number=2))
    assert info.value.command_status == S.ESME_RALYBND


def test_failed_bind_stays_open() -> None:
    pair = SmppPair()
    pair.send(ESME, BindTransceiver(sequence_number=1))
    pair.send(SMSC, BindTransceiverResp(command_status=S.ESME_RINVPASWD, sequence_number=1))
    assert pair.esme.state is pair.smsc.state is State.OPEN


def test_window_full_then_open_again() -> None:
    pair = SmppPair(window=2)
    pair.bind()
    sent = []
    for _ in range(2):
        sent.append(SubmitSm(sequence_number=pair.esme.next_sequence_number()))
        pair.send(ESME, sent[-1])
    assert not pair.esme.window_open
    with pytest.raises(LocalProtocolError) as info:
        pair.esme.send(SubmitSm(sequence_number=pair.esme.next_sequence_number()))
    assert info.value.command_status == S.ESME_RTHROTTLED
    # a keep-alive still goes through a full window
    pair.send(ESME, EnquireLink(sequence_number=pair.esme.next_sequence_number()))
    pair.send(SMSC, response_to(sent[0], message_id="a"))
    assert pair.esme.window_open is False  # the enquire_link is still in flight
    pair.send(SMSC, EnquireLinkResp(sequence_number=pair.esme.next_sequence_number() - 1))
    assert pair.esme.window_open


def test_reused_sequence_number_is_refused() -> None:
    pair = SmppPair()
    pair.bind()
    pair.send(ESME, SubmitSm(sequence_number=7))
    with pytest.raises(LocalProtocolError):
        pair.esme.send(SubmitSm(sequence_number=7))
    pair.esme.receive_data(b"")  # unaffected by the refusal


def test_response_to_unknown_sequence_number() -> None:
    pair = SmppPair()
    pair.bind()
    with pytest.raises(LocalProtocolError):
        pair.smsc.send(SubmitSmResp(sequence_number=99))
    pair.esme.receive_data(encode_pdu(SubmitSmResp(sequence_number=99)))
    with pytest.raises(RemoteProtocolError) as info:
        pair.esme.next_event()
    assert info.value.command_id == SubmitSmResp.command_id  # a response: do not answer it
    assert pair.esme.state is State.BOUND_TRX
    assert pair.esme.next_event() is NEED_DATA


def test_response_of_the_wrong_type() -> None:
    pair = SmppPair()
    pair.bind()
    pair.send(ESME, SubmitSm(sequence_number=3))
    pair.esme.receive_data(encode_pdu(DeliverSmResp(sequence_number=3)))
    with pytest.raises(RemoteProtocolError):
        pair.esme.next_event()
    assert 3 in pair.esme.our_outstanding


def test_generic_nack_settles_a_request_or_nothing() -> None:
    pair = SmppPair()
    pair.bind()
    pair.send(ESME, SubmitSm(sequence_number=3))
    pair.send(SMSC, GenericNack(command_status=S.ESME_RSYSERR, sequence_number=3))
    assert not pair.esme.our_outstanding
    pair.send(SMSC, GenericNack(command_status=S.ESME_RINVCMDLEN, sequence_number=0))


def test_sequence_numbers_wrap_and_skip_outstanding() -> None:
    pair = SmppPair()
    pair.bind()
    conn = pair.esme
    assert conn.next_sequence_number() == 2  # 1 went to the bind
    conn._next_seq = 0x7FFFFFFE
    assert conn.next_sequence_number() == 0x7FFFFFFE
    assert conn.next_sequence_number() == 0x7FFFFFFF
    pair.send(ESME, SubmitSm(sequence_number=1))
    assert conn.next_sequence_number() == 2  # wrapped past 1, still awaiting its answer


def test_bad_command_length_is_refused_before_buffering() -> None:
    conn = Connection(SMSC, max_command_length=1000)
    conn.receive_data(b"\x00\x00\x03\xe9")  # 1001: refused from 4 octets, nothing else waited for
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.command_status == S.ESME_RINVCMDLEN
    assert conn.state is State.ERROR
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.send(GenericNack())


def test_short_command_length_is_an_error() -> None:
    conn = Connection(SMSC)
    conn.receive_data(bytes.fromhex("0000000c"))
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


def test_malformed_body_is_skipped_and_connection_stays_usable() -> None:
    pair = SmppPair()
    pair.bind()
    # an enquire_link with a 1-octet body: sane length, bad PDU
    bad = bytes.fromhex("00000011 00000015 00000000 00000042 00".replace(" ", ""))
    good = encode_pdu(EnquireLink(sequence_number=0x43))
    pair.smsc.receive_data(bad + good)
    with pytest.raises(RemoteProtocolError) as info:
        pair.smsc.next_event()
    assert (info.value.command_status, info.value.sequence_number) == (S.ESME_RINVCMDLEN, 0x42)
    assert pair.smsc.next_event() == EnquireLink(sequence_number=0x43)
    pair.smsc.send(GenericNack(command_status=info.value.command_status, sequence_number=0x42))
    pair.smsc.send(EnquireLinkResp(sequence_number=0x43))


def test_unknown_command_id_is_skipped() -> None:
    conn = Connection(SMSC)
    conn.receive_data(bytes.fromhex("00000010 00000099 00000000 00000007".replace(" ", "")))
    with pytest.raises(RemoteProtocolError) as info:
        conn.next_event()
    assert info.value.command_status == S.ESME_RINVCMDID
    assert conn.next_event() is NEED_DATA


def test_clean_eof() -> None:
    conn = Connection(ESME)
    conn.receive_data(b"")
    assert conn.next_event() is CONNECTION_CLOSED
    assert conn.state is State.CLOSED
    with pytest.raises(RuntimeError):
        conn.receive_data(b"x")


def test_eof_inside_a_pdu() -> None:
    conn = Connection(ESME)
    conn.receive_data(encode_pdu(EnquireLink(sequence_number=1))[:10])
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    assert conn.state is State.ERROR


def test_send_failed() -> None:
    pair = SmppPair()
    pair.bind()
    pair.esme.send_failed()
    assert pair.esme.state is State.ERROR
    with pytest.raises(LocalProtocolError):
        pair.esme.send(EnquireLink(sequence_number=5))


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Connection(ESME, window=0)


def test_state_diagram_is_drawn_from_the_tables() -> None:
    dot = state_diagram()
    for state in State:
        assert f"  {state.value} [shape=box" in dot
    assert 'BOUND_TRX -> UNBOUND [label="Unbind"]' in dot
    assert "SubmitSm" in dot


def test_events_yields_pdus_and_refusals_then_stops() -> None:
    pair = SmppPair()
    pair.bind()
    bad = bytes.fromhex("00000011 00000015 00000000 00000042 00".replace(" ", ""))
    late = encode_pdu(SubmitSmResp(sequence_number=77))  # answers nothing: refused, no nack
    pair.smsc.receive_data(bad + late + encode_pdu(EnquireLink(sequence_number=0x43)))
    got = list(events(pair.smsc))
    assert isinstance(got[0], Refused) and got[0].answer == GenericNack(
        command_status=S.ESME_RINVCMDLEN, sequence_number=0x42
    )
    assert isinstance(got[1], Refused) and got[1].answer is None
    assert got[2] == EnquireLink(sequence_number=0x43)
    pair.smsc.receive_data(b"\xff\xff\xff\xff")
    with pytest.raises(RemoteProtocolError):
        list(events(pair.smsc))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(any_message, binds), max_size=5))
def test_random_traffic_crosses_a_pair_unchanged(pdus: list[SubmitSm | DeliverSm]) -> None:
    pair = SmppPair(window=10)
    pair.bind()
    for pdu in pdus:
        if isinstance(pdu, SubmitSm):
            sent = replace(pdu, sequence_number=pair.esme.next_sequence_number())
            pair.send(ESME, sent)
            pair.send(SMSC, response_to(sent, message_id="id"))
        elif isinstance(pdu, DeliverSm):
            sent = replace(pdu, sequence_number=pair.smsc.next_sequence_number())
            pair.send(SMSC, sent)
            pair.send(ESME, response_to(sent))
        else:  # a second bind is refused on both sides
            with pytest.raises(LocalProtocolError):
                pair.esme.send(pdu)
    assert not pair.esme.our_outstanding and not pair.smsc.our_outstanding
