from __future__ import annotations

import pytest

from hirondelle.smpp.codec import decode_pdu, encode_pdu
from hirondelle.smpp.connection import CONNECTION_CLOSED, NEED_DATA, Connection, Role, State
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from hirondelle.smpp.pdu import (
    PDU_CLASSES,
    BindTransceiver,
    DataSm,
    DeliverSm,
    EnquireLink,
    Outbind,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    Tlv,
    Unbind,
    UnbindResp,
    response_to,
)

from .cases import CASES
from .helpers import REQUEST_FOR, SmppPair

IDS = [f"{i}-{type(pdu).__name__}" for i, (_, pdu, _) in enumerate(CASES)]


def receiver_for(sender: Role, pdu: Pdu) -> Connection:
    """A connection in a state where `pdu` from `sender` is legal, ready to receive it."""
    pair = SmppPair()
    receiver = pair.other(sender)
    request = REQUEST_FOR.get(type(pdu))
    opening = type(pdu) in (BindTransceiver, Outbind) or (
        request is not None and request.__name__.startswith("Bind")
    )
    if not opening:
        pair.bind()
    if request is not None:
        pair.send(receiver, request(sequence_number=pdu.sequence_number))
    return pair.conn[receiver]


@pytest.mark.parametrize(("sender", "pdu", "data"), CASES, ids=IDS)
def test_encode_decode(sender: Role, pdu: Pdu, data: bytes) -> None:
    assert encode_pdu(pdu) == data
    assert decode_pdu(data) == pdu


@pytest.mark.parametrize(("sender", "pdu", "data"), CASES, ids=IDS)
def test_receive_whole(sender: Role, pdu: Pdu, data: bytes) -> None:
    conn = receiver_for(sender, pdu)
    conn.receive_data(data)
    assert conn.next_event() == pdu
    assert conn.next_event() in (NEED_DATA, CONNECTION_CLOSED)


@pytest.mark.parametrize(("sender", "pdu", "data"), CASES, ids=IDS)
def test_receive_byte_by_byte(sender: Role, pdu: Pdu, data: bytes) -> None:
    conn = receiver_for(sender, pdu)
    for octet in data[:-1]:
        conn.receive_data(bytes([octet]))
        assert conn.next_event() is NEED_DATA
    conn.receive_data(data[-1:])
    assert conn.next_event() == pdu


@pytest.mark.parametrize(("sender", "pdu", "data"), CASES, ids=IDS)
def test_receive_with_trailing_data(sender: Role, pdu: Pdu, data: bytes) -> None:
    conn = receiver_for(sender, pdu)
    conn.receive_data(data + b"\x00\x00\x00")
    assert conn.next_event() == pdu
    assert conn.next_event() in (NEED_DATA, CONNECTION_CLOSED)  # CLOSED after unbind_resp
    assert conn.trailing_data == (b"\x00\x00\x00", False)


def test_every_class_round_trips_with_defaults() -> None:
    for cls in PDU_CLASSES.values():
        pdu = cls(sequence_number=1)
        assert decode_pdu(encode_pdu(pdu)) == pdu


def test_response_to() -> None:
    submit = SubmitSm(sequence_number=42)
    assert response_to(submit, message_id="x") == SubmitSmResp(sequence_number=42, message_id="x")


def test_protocol_error_is_abstract() -> None:
    with pytest.raises(TypeError):
        ProtocolError("no")
    assert LocalProtocolError("x", S.ESME_RINVCMDLEN).command_status == 2
    assert issubclass(RemoteProtocolError, ProtocolError)


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (lambda: SubmitSm(destination_addr="1" * 21), S.ESME_RINVDSTADR),  # max 20 + NUL
        (lambda: SubmitSm(source_addr="x" * 21), S.ESME_RINVSRCADR),
        (lambda: SubmitSm(service_type="CMTXYZ"), S.ESME_RINVSERTYP),
        (lambda: SubmitSm(short_message=b"x" * 255), S.ESME_RINVMSGLEN),
        (lambda: SubmitSm(short_message=b"x", message_payload=b"y"), S.ESME_RINVPARLEN),
        (lambda: SubmitSm(esm_class=256), S.ESME_RSYSERR),
        (lambda: SubmitSm(sar_msg_ref_num=0x10000), S.ESME_RSYSERR),
        (lambda: SubmitSm(destination_addr="a\x00b"), S.ESME_RINVDSTADR),
        (lambda: SubmitSm(destination_addr="€"), S.ESME_RINVDSTADR),
        (lambda: BindTransceiver(system_id="s" * 16), S.ESME_RINVSYSID),
        (lambda: BindTransceiver(password="p" * 9), S.ESME_RINVPASWD),
        (lambda: SubmitSmResp(message_id="m" * 65), S.ESME_RINVMSGID),
        (lambda: EnquireLink(sequence_number=-1), S.ESME_RSYSERR),
        (lambda: EnquireLink(tlvs=(Tlv(1, b""),)), S.ESME_ROPTPARNOTALLWD),
        (lambda: DeliverSm(tlvs=(Tlv(0x0427, b"\x02"),)), S.ESME_RSYSERR),  # use message_state
        (lambda: DeliverSm(network_error_code=(3, 0x10000)), S.ESME_RSYSERR),
        (lambda: Tlv(0x10000, b""), S.ESME_RSYSERR),
    ],
)
def test_constructors_reject_bad_fields(make: object, status: int) -> None:
    with pytest.raises(LocalProtocolError) as info:
        make()  # type: ignore[operator]
    assert info.value.command_status == status


def test_maximum_lengths_are_accepted() -> None:
    pdu = SubmitSm(
        destination_addr="1" * 20,
        source_addr="x" * 20,
        short_message=b"x" * 254,
        service_type="CMT",
    )
    assert decode_pdu(encode_pdu(pdu)) == pdu
    data_sm = DataSm(destination_addr="1" * 64, message_payload=b"p" * 65535)
    assert decode_pdu(encode_pdu(data_sm)) == data_sm


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ("0000000f 00000015 00000000 00000001", S.ESME_RINVCMDLEN),  # shorter than a header
        ("00000010 00000099 00000000 00000001", S.ESME_RINVCMDID),
        ("00000011 00000015 00000000 00000001 00", S.ESME_RINVCMDLEN),  # enquire_link with a body
        ("00000011 80000004 00000000 00000001 61", S.ESME_RINVMSGID),  # no NUL in message_id
        # submit_sm whose destination_addr has no NUL within 21 octets
        ("00000030 00000004 00000000 00000001 00 00 00 00 00 00" + "31" * 26, S.ESME_RINVDSTADR),
        # deliver_sm_resp whose TLV header is cut
        ("00000013 80000005 00000000 00000001 00 0424", S.ESME_RINVOPTPARSTREAM),
        # deliver_sm_resp with a TLV longer than the PDU
        ("00000015 80000005 00000000 00000001 00 0424 0009", S.ESME_RINVPARLEN),
        # deliver_sm with a message_state TLV of length 2
        ("00000027 00000005 00000000 00000001" + "00" * 17 + "0427 0002 0202", S.ESME_RINVPARLEN),
        # submit_sm with sm_length past the end
        ("00000021 00000004 00000000 00000001" + "00" * 16 + "05", S.ESME_RINVMSGLEN),
    ],
)
def test_decode_errors_carry_a_status_hint(data: str, status: int) -> None:
    raw = bytes.fromhex(data.replace(" ", ""))
    with pytest.raises(LocalProtocolError) as info:
        decode_pdu(raw)
    assert info.value.command_status == status
    if len(raw) >= 16:
        assert info.value.sequence_number == 1


def test_error_response_without_body_decodes_leniently() -> None:
    # data_sm_resp has a body even on error per §4.7.2, but SMSCs omit it: read it as empty
    pdu = decode_pdu(bytes.fromhex("00000010 80000103 00000058 00000003".replace(" ", "")))
    assert pdu.command_status == S.ESME_RTHROTTLED


def test_receipted_message_id_without_nul_is_read() -> None:
    raw = bytes.fromhex("00000027 00000005 00000000 00000001" + "00" * 17 + "001e 0002 3161")
    pdu = decode_pdu(raw)
    assert isinstance(pdu, DeliverSm)
    assert pdu.receipted_message_id == "1a"


def test_connection_states_in_cases() -> None:
    # receiver_for() really did put each receiver where the PDU is legal
    for sender, pdu, _ in CASES:
        conn = receiver_for(sender, pdu)
        assert conn.state in (State.OPEN, State.BOUND_TRX, State.UNBOUND)


def test_unbind_then_resp_closes() -> None:
    pair = SmppPair()
    pair.bind()
    pair.send(Role.ESME, Unbind(sequence_number=9))
    assert pair.esme.state is pair.smsc.state is State.UNBOUND
    pair.send(Role.SMSC, UnbindResp(sequence_number=9))
    assert pair.esme.state is pair.smsc.state is State.CLOSED
