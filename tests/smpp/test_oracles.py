"""Differential tests: our codec against two codecs no one here wrote.

- `smpp.pdu` (PyPI smpp.pdu3, pure Python, from Jasmin): it decodes our octets and re-encodes them
  byte for byte, and we decode what it builds natively.
- `smpp34` (PyPI, Rust core): its `SubmitSm` / `DeliverSm` encode exactly our octets, and its
  `decode` reads ours (header, every field, TLVs).

Legitimate differences, pinned below: smpp.pdu drops vendor TLVs (0x1400-0x3FFF) on decode
("vendor_specific_bypass"), where we keep them; it cannot re-encode an empty message_payload or
a message_payload followed by another variable-length TLV (see `short_messages`).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import smpp34
from hypothesis import given, settings
from hypothesis import strategies as st
from smpp.pdu import operations as op
from smpp.pdu import pdu_types as T
from smpp.pdu.pdu_encoding import PDUEncoder

from hirondelle.smpp.codec import decode_pdu, encode_pdu
from hirondelle.smpp.pdu import DeliverSm, Pdu, SubmitSm, SubmitSmResp, Tlv

from .cases import CASES, RECEIPT, SUBMIT_UCS2_SAR
from .strategies import any_message, binds

ENCODER = PDUEncoder()


def jasmin_roundtrip(data: bytes) -> bytes:
    return bytes(ENCODER.encode(ENCODER.decode(io.BytesIO(data))))


@pytest.mark.parametrize(("sender", "pdu", "data"), CASES)
def test_smpp_pdu_reencodes_our_octets(sender: object, pdu: Pdu, data: bytes) -> None:
    if pdu.tlvs:
        pytest.skip("vendor TLVs: see test_smpp_pdu_drops_vendor_tlvs")
    assert jasmin_roundtrip(encode_pdu(pdu)) == data


def test_smpp_pdu_drops_vendor_tlvs() -> None:
    ours = DeliverSm(sequence_number=1, tlvs=(Tlv(0x1401, b"\x01"),))
    assert decode_pdu(jasmin_roundtrip(encode_pdu(ours))) == DeliverSm(sequence_number=1)


def test_we_decode_what_smpp_pdu_builds() -> None:
    theirs = op.SubmitSM(
        seqNum=3,
        service_type="",
        source_addr_ton=T.AddrTon.ALPHANUMERIC,
        source_addr_npi=T.AddrNpi.UNKNOWN,
        source_addr="Hirondelle",
        dest_addr_ton=T.AddrTon.INTERNATIONAL,
        dest_addr_npi=T.AddrNpi.ISDN,
        destination_addr="33611111111",
        esm_class=T.EsmClass(
            T.EsmClassMode.DEFAULT,
            T.EsmClassType.DEFAULT,
            [T.EsmClassGsmFeatures.UDHI_INDICATOR_SET],
        ),
        protocol_id=0,
        priority_flag=T.PriorityFlag.LEVEL_0,
        schedule_delivery_time=None,
        validity_period=None,
        registered_delivery=T.RegisteredDelivery(
            T.RegisteredDeliveryReceipt.SMSC_DELIVERY_RECEIPT_REQUESTED
        ),
        replace_if_present_flag=T.ReplaceIfPresentFlag.DO_NOT_REPLACE,
        data_coding=T.DataCoding(T.DataCodingScheme.DEFAULT, T.DataCodingDefault.UCS2),
        sm_default_msg_id=0,
        short_message=b"\x05\x00\x03\x07\x02\x01\x00h",
        user_message_reference=77,
    )
    data = bytes(ENCODER.encode(theirs))
    pdu = decode_pdu(data)
    assert pdu == SubmitSm(
        sequence_number=3,
        source_addr_ton=5,
        source_addr="Hirondelle",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="33611111111",
        esm_class=0x40,
        registered_delivery=1,
        data_coding=8,
        short_message=b"\x05\x00\x03\x07\x02\x01\x00h",
        user_message_reference=77,
    )
    assert encode_pdu(pdu) == data

    resp = bytes(ENCODER.encode(op.SubmitSMResp(seqNum=3, message_id="5f3a")))
    assert decode_pdu(resp) == SubmitSmResp(sequence_number=3, message_id="5f3a")
    nack = bytes(ENCODER.encode(op.SubmitSMResp(seqNum=3, status=T.CommandStatus.ESME_RTHROTTLED)))
    assert decode_pdu(nack) == SubmitSmResp(sequence_number=3, command_status=0x58)


@settings(max_examples=300, deadline=None)
@given(st.one_of(any_message, binds))
def test_smpp_pdu_agrees_on_random_pdus(pdu: Pdu) -> None:
    data = encode_pdu(pdu)
    assert jasmin_roundtrip(data) == data
    assert decode_pdu(data) == pdu


def _smpp34_fields(pdu: SubmitSm | DeliverSm) -> dict[str, Any]:
    names = [
        "service_type", "source_addr_ton", "source_addr_npi", "dest_addr_ton", "dest_addr_npi",
        "esm_class", "protocol_id", "priority_flag", "schedule_delivery_time", "validity_period",
        "registered_delivery", "replace_if_present_flag", "data_coding", "sm_default_msg_id",
    ]  # fmt: skip
    return {name: getattr(pdu, name) for name in names}


@settings(max_examples=300, deadline=None)
@given(any_message)
def test_smpp34_agrees_on_random_messages(pdu: SubmitSm | DeliverSm) -> None:
    data = encode_pdu(pdu)
    decoded = smpp34.decode(data)
    theirs_cls = smpp34.SubmitSm if isinstance(pdu, SubmitSm) else smpp34.DeliverSm
    assert isinstance(decoded, theirs_cls)
    assert decoded.sequence_number == pdu.sequence_number
    assert decoded.source_addr == pdu.source_addr
    assert decoded.destination_addr == pdu.destination_addr
    assert decoded.short_message == pdu.short_message
    for name, value in _smpp34_fields(pdu).items():
        assert getattr(decoded, name) == value, name
    if pdu.message_payload is not None:
        tags = {t.tag: t.value for t in decoded.tlvs}
        assert tags[smpp34.TLV_MESSAGE_PAYLOAD] == pdu.message_payload
    rebuilt = theirs_cls(
        pdu.source_addr,
        pdu.destination_addr,
        pdu.short_message,
        tlvs=list(decoded.tlvs),
        sequence_number=pdu.sequence_number,
        **_smpp34_fields(pdu),
    )
    assert rebuilt.encode() == data


def test_smpp34_reads_our_receipt_tlvs() -> None:
    decoded = smpp34.decode(encode_pdu(RECEIPT))
    assert isinstance(decoded, smpp34.DeliverSm)
    tlvs = {t.tag: t for t in decoded.tlvs}
    assert tlvs[smpp34.TLV_RECEIPTED_MESSAGE_ID].as_string() == "1a"
    assert tlvs[smpp34.TLV_MESSAGE_STATE].as_int() == 2
    assert tlvs[smpp34.TLV_NETWORK_ERROR_CODE].value == b"\x03\x00\x00"
    sar = smpp34.decode(encode_pdu(SUBMIT_UCS2_SAR))
    assert {t.tag: t.as_int() for t in sar.tlvs} == {
        smpp34.TLV_SAR_MSG_REF_NUM: 0x0102,
        smpp34.TLV_SAR_TOTAL_SEGMENTS: 2,
        smpp34.TLV_SAR_SEGMENT_SEQNUM: 1,
    }


@pytest.mark.parametrize(("sender", "pdu", "data"), CASES)
def test_smpp34_reads_every_header(sender: object, pdu: Pdu, data: bytes) -> None:
    decoded = smpp34.decode(data)
    assert decoded.sequence_number == pdu.sequence_number
    if isinstance(decoded, smpp34.RawPdu):
        assert decoded.command_id == pdu.command_id
        assert decoded.command_status == pdu.command_status
        assert decoded.command_length == len(data)
        assert decoded.body == data[16:]


def test_we_decode_what_smpp34_builds() -> None:
    theirs = smpp34.SubmitSm(
        "36180",
        "33611111111",
        b"\x00h\x00i",
        dest_addr_ton=1,
        dest_addr_npi=1,
        registered_delivery=1,
        data_coding=8,
        tlvs=[smpp34.Tlv(smpp34.TLV_USER_MESSAGE_REFERENCE, b"\x00\x2a")],
        sequence_number=9,
    )
    assert decode_pdu(theirs.encode()) == SubmitSm(
        sequence_number=9,
        source_addr="36180",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="33611111111",
        registered_delivery=1,
        data_coding=8,
        short_message=b"\x00h\x00i",
        user_message_reference=42,
    )
