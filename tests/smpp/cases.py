"""The PDU table: (sender, PDU, its exact octets), written out by hand from SMPP 3.4 §4.

Hex is split as header (length, id, status, sequence) then fields, so a reader can check each
one against the spec's tables.
"""

from __future__ import annotations

from hirondelle.smpp.connection import Role
from hirondelle.smpp.pdu import (
    BindTransceiver,
    BindTransceiverResp,
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
    Tlv,
    Unbind,
    UnbindResp,
)

ESME, SMSC = Role.ESME, Role.SMSC


def _hex(*parts: str) -> bytes:
    return bytes.fromhex("".join(parts))


SUBMIT_UCS2_SAR = SubmitSm(
    sequence_number=2,
    source_addr_ton=5,
    source_addr="Hirondelle",
    dest_addr_ton=1,
    dest_addr_npi=1,
    destination_addr="33611111111",
    registered_delivery=1,
    data_coding=8,
    short_message="hi".encode("utf-16-be"),
    sar_msg_ref_num=0x0102,
    sar_total_segments=2,
    sar_segment_seqnum=1,
)

RECEIPT = DeliverSm(
    sequence_number=0x10,
    source_addr_ton=1,
    source_addr_npi=1,
    source_addr="33611111111",
    dest_addr_ton=5,
    destination_addr="Hirondelle",
    esm_class=0x04,
    short_message=b"id:1a stat:DELIVRD",
    network_error_code=(3, 0),
    message_state=2,
    receipted_message_id="1a",
)

CASES: list[tuple[Role, Pdu, bytes]] = [
    (ESME, EnquireLink(sequence_number=1), _hex("00000010 00000015 00000000 00000001")),
    (SMSC, EnquireLinkResp(sequence_number=1), _hex("00000010 80000015 00000000 00000001")),
    (SMSC, EnquireLink(sequence_number=0x7FFFFFFF), _hex("00000010 00000015 00000000 7fffffff")),
    (
        ESME,
        GenericNack(command_status=3, sequence_number=7),
        _hex("00000010 80000000 00000003 00000007"),
    ),
    (ESME, Unbind(sequence_number=2), _hex("00000010 00000006 00000000 00000002")),
    (SMSC, UnbindResp(sequence_number=2), _hex("00000010 80000006 00000000 00000002")),
    (
        ESME,
        BindTransceiver(sequence_number=1, system_id="sys", password="pw"),
        # system_id, password, system_type "", interface_version 0x34, ton, npi, address_range ""
        _hex("0000001c 00000009 00000000 00000001", "73797300 707700 00 34 00 00 00"),
    ),
    (
        SMSC,
        BindTransceiverResp(sequence_number=1, system_id="smsc"),
        _hex("00000015 80000009 00000000 00000001", "736d736300"),
    ),
    (
        SMSC,  # §4.1.2: no body on error
        BindTransmitterResp(command_status=0x0E, sequence_number=1),
        _hex("00000010 80000002 0000000e 00000001"),
    ),
    (
        SMSC,
        Outbind(sequence_number=1, system_id="smsc", password="pw"),
        _hex("00000018 0000000b 00000000 00000001", "736d736300 707700"),
    ),
    (
        ESME,
        SubmitSm(sequence_number=5, source_addr="src", destination_addr="dst", short_message=b"hi"),
        _hex(
            "00000029 00000004 00000000 00000005",
            "00",  # service_type
            "00 00 73726300",  # source ton, npi, addr
            "00 00 64737400",  # dest ton, npi, addr
            "00 00 00 00 00 00 00 00 00",  # esm_class .. sm_default_msg_id
            "02 6869",  # sm_length, short_message
        ),
    ),
    (
        ESME,
        SUBMIT_UCS2_SAR,
        _hex(
            "0000004a 00000004 00000000 00000002",
            "00",
            "05 00 486972 6f6e64 656c6c 6500",
            "01 01 3333 3631 3131 3131 3131 3100",
            "00 00 00",  # esm_class, protocol_id, priority_flag
            "00 00",  # schedule_delivery_time, validity_period
            "01 00 08 00",  # registered_delivery, replace_if_present, data_coding, default msg
            "04 00680069",
            "020c 0002 0102",  # sar_msg_ref_num
            "020e 0001 02",  # sar_total_segments
            "020f 0001 01",  # sar_segment_seqnum
        ),
    ),
    (
        SMSC,
        SubmitSmResp(sequence_number=5, message_id="abc123"),
        _hex("00000017 80000004 00000000 00000005", "61626331323300"),
    ),
    (
        SMSC,  # §4.4.2: no body on error
        SubmitSmResp(command_status=0x58, sequence_number=5),
        _hex("00000010 80000004 00000058 00000005"),
    ),
    (
        SMSC,
        RECEIPT,
        _hex(
            "0000005b 00000005 00000000 00000010",
            "00",
            "01 01 3333 3631 3131 3131 3131 3100",
            "05 00 486972 6f6e64 656c6c 6500",
            "04 00 00 00 00 00 00 00 00",
            "12 69643a316120 737461743a44454c49565244",
            "0423 0003 030000",  # network_error_code: GSM, 0
            "0427 0001 02",  # message_state: DELIVERED
            "001e 0003 316100",  # receipted_message_id "1a"
        ),
    ),
    (
        SMSC,  # an unknown (vendor) TLV is kept as it came
        DeliverSm(sequence_number=0x11, tlvs=(Tlv(0x1401, b"\x01\x02"),)),
        _hex("00000027 00000005 00000000 00000011", "00" * 17, "1401 0002 0102"),
    ),
    (ESME, DeliverSmResp(sequence_number=9), _hex("00000011 80000005 00000000 00000009", "00")),
    (
        ESME,
        DataSm(sequence_number=3, source_addr="a", destination_addr="b", message_payload=b"xyz"),
        _hex(
            "00000023 00000103 00000000 00000003",
            "00 00 00 6100 00 00 6200 00 00 00",
            "0424 0003 78797a",
        ),
    ),
    (
        SMSC,
        DataSmResp(sequence_number=3, message_id="m1"),
        _hex("00000013 80000103 00000000 00000003", "6d3100"),
    ),
    (
        ESME,
        QuerySm(sequence_number=4, message_id="m1", source_addr="a"),
        _hex("00000017 00000003 00000000 00000004", "6d3100 00 00 6100"),
    ),
    (
        SMSC,
        QuerySmResp(sequence_number=4, message_id="m1", message_state=2),
        _hex("00000016 80000003 00000000 00000004", "6d3100 00 02 00"),
    ),
]  # fmt: skip
