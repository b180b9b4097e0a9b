"""Every PDU class, with every field drawn from what its metadata allows, survives
encode -> decode, also through a `Connection`, and the codec's sizes add up."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hirondelle.smpp.codec import decode_pdu, encode_pdu
from hirondelle.smpp.constants import CommandStatus, status_name
from hirondelle.smpp.pdu import PDU_CLASSES, Pdu, Tlv, Wire

TYPED_TAGS = {f.metadata["tlv"].tag for cls in PDU_CLASSES.values() for f in fields(cls)
              if "tlv" in f.metadata}  # fmt: skip


def value_for(wire: Wire) -> st.SearchStrategy[Any]:
    if wire.kind == "cstr":
        return st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=wire.size - 1)
    if wire.kind == "u8":
        return st.integers(0, 0xFF)
    if wire.kind == "u16":
        return st.integers(0, 0xFFFF)
    if wire.kind == "nec":
        return st.tuples(st.integers(0, 0xFF), st.integers(0, 0xFFFF))
    if wire.kind == "sm":
        return st.binary(max_size=254)
    return st.binary(max_size=300)


@st.composite
def any_pdu(draw: st.DrawFn) -> Pdu:
    cls = draw(st.sampled_from(sorted(PDU_CLASSES.values(), key=lambda c: c.command_id)))
    values: dict[str, Any] = {
        "command_status": draw(st.sampled_from([0, 0, 0x58, 0x0B, 0x401])),
        "sequence_number": draw(st.integers(1, 0x7FFFFFFF)),
    }
    for f in fields(cls):
        if "smpp" in f.metadata:
            values[f.name] = draw(value_for(f.metadata["smpp"]))
        elif "tlv" in f.metadata and draw(st.booleans()):
            values[f.name] = draw(value_for(f.metadata["tlv"]))
    if values.get("message_payload") is not None and "short_message" in values:
        values["short_message"] = b""
    if cls.ACCEPTS_TLVS:
        tags = st.integers(0, 0xFFFF).filter(lambda tag: tag not in TYPED_TAGS)
        values["tlvs"] = tuple(
            draw(st.lists(st.builds(Tlv, tags, st.binary(max_size=20)), max_size=3))
        )
    return cls(**values)


@settings(max_examples=500, deadline=None)
@given(any_pdu())
def test_every_class_round_trips(pdu: Pdu) -> None:
    data = encode_pdu(pdu)
    assert int.from_bytes(data[:4], "big") == len(data)
    assert int.from_bytes(data[4:8], "big") == pdu.command_id
    if pdu.EMPTY_BODY_ON_ERROR and pdu.command_status and len(data) == 16:
        # §4.4.2: the body was left out, so only default fields could be dropped
        assert decode_pdu(data) == type(pdu)(
            command_status=pdu.command_status, sequence_number=pdu.sequence_number
        )
    else:
        assert decode_pdu(data) == pdu


def test_status_names() -> None:
    assert status_name(0x58) == "ESME_RTHROTTLED"
    assert status_name(CommandStatus.ESME_RX_T_APPN) == "ESME_RX_T_APPN"
    assert status_name(0x401) == "0x00000401"
