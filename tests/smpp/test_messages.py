from __future__ import annotations

import pytest

from hirondelle.domain.text import decode_text, split_parts
from hirondelle.smpp.codec import decode_pdu, encode_pdu
from hirondelle.smpp.messages import (
    MessageOptions,
    Reassembler,
    address_ton_npi,
    build_messages,
    build_submits,
    choose_data_coding,
    segment_of,
    split_text,
)
from hirondelle.smpp.pdu import DataSm, DeliverSm, SubmitSm


def test_short_gsm_message() -> None:
    [pdu] = build_submits("Hello €", "Hirondelle", "+33611111111")
    assert pdu == SubmitSm(
        source_addr_ton=5,
        source_addr="Hirondelle",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="33611111111",
        registered_delivery=1,
        short_message=b"Hello \x1be",  # unpacked septets, € as escape + 0x65
    )


@pytest.mark.parametrize(
    ("sender", "ton_npi"),
    [("Hirondelle", (5, 0)), ("36180", (3, 0)), ("33611111111", (1, 1)), ("My Shop", (5, 0))],
)
def test_sender_ton_npi(sender: str, ton_npi: tuple[int, int]) -> None:
    assert address_ton_npi(sender) == ton_npi
    [pdu] = build_submits("x", sender, "1")
    assert (pdu.source_addr_ton, pdu.source_addr_npi) == ton_npi


def test_options_override_ton_npi_and_fields() -> None:
    options = MessageOptions(
        source_ton=0, source_npi=0, dest_ton=2, dest_npi=8, registered_delivery=0,
        service_type="CMT", validity_period="000001000000000R",
    )  # fmt: skip
    [pdu] = build_submits("x", "Hirondelle", "0611111111", options)
    assert (pdu.source_addr_ton, pdu.source_addr_npi, pdu.dest_addr_ton, pdu.dest_addr_npi) == (
        0, 0, 2, 8,
    )  # fmt: skip
    assert (pdu.registered_delivery, pdu.service_type) == (0, "CMT")
    assert pdu.validity_period == "000001000000000R"


def test_data_codings() -> None:
    assert choose_data_coding("Bonjour à tous") == 0
    assert choose_data_coding("Ça va ?") == 0  # capital Ç is in GSM 03.38, lowercase ç is not
    assert choose_data_coding("ça va") == 8
    assert choose_data_coding("ça va", allow_latin1=True) == 3
    assert choose_data_coding("Привет", allow_latin1=True) == 8
    [pdu] = build_submits("ça va", "a", "1", MessageOptions(allow_latin1=True))
    assert (pdu.data_coding, pdu.short_message) == (3, "ça va".encode("latin-1"))
    [pdu] = build_submits("Привет", "a", "1")
    assert (pdu.data_coding, pdu.short_message) == (8, "Привет".encode("utf-16-be"))


def test_udh8_parts_follow_the_domain_cuts() -> None:
    text = "a" * 200 + "€"
    pdus = build_submits(text, "a", "1", reference=0x1AB)
    assert [p.short_message[:6] for p in pdus] == [
        b"\x05\x00\x03\xab\x02\x01",
        b"\x05\x00\x03\xab\x02\x02",
    ]
    assert all(p.esm_class == 0x40 for p in pdus)
    assert split_text(text, 0, "udh8") == split_parts(text)


def test_udh16_has_one_octet_less_per_part() -> None:
    pdus = build_submits(
        "b" * 305, "a", "1", MessageOptions(concatenation="udh16"), reference=0x1234
    )
    assert [len(p.short_message) for p in pdus] == [7 + 152, 7 + 152, 7 + 1]
    assert pdus[0].short_message[:7] == b"\x06\x08\x04\x12\x34\x03\x01"


def test_sar_and_payload() -> None:
    sar = build_submits("c" * 200, "a", "1", MessageOptions(concatenation="sar"), reference=7)
    assert [(p.sar_msg_ref_num, p.sar_total_segments, p.sar_segment_seqnum) for p in sar] == [
        (7, 2, 1), (7, 2, 2),
    ]  # fmt: skip
    assert all(p.esm_class == 0 for p in sar)
    [payload] = build_submits("d" * 500, "a", "1", MessageOptions(concatenation="payload"))
    assert (payload.short_message, payload.message_payload) == (b"", b"d" * 500)


def test_no_part_splits_a_surrogate_or_escape_pair() -> None:
    for text in ("x" * 66 + "😀" * 3, "y" * 152 + "€" * 3):
        for concatenation in ("udh8", "udh16"):
            options = MessageOptions(concatenation=concatenation)  # type: ignore[arg-type]
            parts = split_text(text, 0 if "€" in text else 8, options.concatenation)
            assert "".join(parts) == text
            for pdu in build_submits(text, "a", "1", options):
                decode_text(segment_of(pdu)[1], pdu.data_coding).encode("utf-8")  # no lone half


def test_every_built_pdu_round_trips() -> None:
    for concatenation in ("udh8", "udh16", "sar", "payload"):
        options = MessageOptions(concatenation=concatenation)  # type: ignore[arg-type]
        for pdu in build_submits("Test 😀 " * 40, "Hirondelle", "33611111111", options):
            assert decode_pdu(encode_pdu(pdu)) == pdu


@pytest.mark.parametrize("concatenation", ["udh8", "udh16", "sar", "payload"])
@pytest.mark.parametrize("text", ["short", "Réponse 🙂 " * 30, "GSM [text] " * 40, "x" * 161])
def test_reassembly_in_any_order(concatenation: str, text: str) -> None:
    options = MessageOptions(concatenation=concatenation)  # type: ignore[arg-type]
    pdus = build_messages(DeliverSm, text, "33611111111", "36180", options)
    reassembler = Reassembler()
    results = [reassembler.feed(pdu) for pdu in reversed(pdus)]
    assert results[:-1] == [None] * (len(pdus) - 1)
    whole = results[-1]
    assert whole is not None and (whole.text, whole.parts) == (text, len(pdus))
    assert reassembler.pending == 0


def test_interleaved_messages_and_duplicates() -> None:
    a = build_messages(DeliverSm, "A" * 200, "1", "2", reference=1)
    b = build_messages(DeliverSm, "B" * 200, "1", "2", reference=2)
    reassembler = Reassembler()
    assert reassembler.feed(a[0]) is None
    assert reassembler.feed(b[0]) is None
    assert reassembler.feed(a[0]) is None  # a resent part changes nothing
    assert reassembler.feed(b[1]).text == "B" * 200  # type: ignore[union-attr]
    assert reassembler.feed(a[1]).text == "A" * 200  # type: ignore[union-attr]


def test_oldest_incomplete_messages_are_dropped() -> None:
    reassembler = Reassembler(max_pending=2)
    for ref in range(3):
        reassembler.feed(build_messages(DeliverSm, "z" * 200, "1", "2", reference=ref)[0])
    assert reassembler.pending == 2


def test_data_sm_and_other_ies() -> None:
    data_sm = DataSm(
        source_addr="1",
        destination_addr="2",
        data_coding=8,
        message_payload="é".encode("utf-16-be"),
    )
    assert Reassembler().feed(data_sm).text == "é"  # type: ignore[union-attr]
    # a port-addressing IE (0x05) before the concatenation IE is skipped
    udh = bytes([0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x09, 0x02, 0x01])
    segment, body = segment_of(DeliverSm(esm_class=0x40, short_message=udh + b"hi"))
    assert segment is not None and (segment.reference, segment.total, segment.seqnum) == (9, 2, 1)
    assert body == b"hi"
