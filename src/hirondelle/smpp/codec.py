"""Encoding and decoding of the PDUs of `pdu.py` (SMPP 3.4 §3.1, §3.2); import them from there.

Both walk the field metadata of the PDU classes, so a field is described once, on its class.
"""

from __future__ import annotations

import struct
from typing import Any

from .constants import HEADER_LENGTH
from .constants import CommandStatus as S
from .errors import LocalProtocolError
from .pdu import PDU_CLASSES, Pdu, Tlv, Wire, _body_fields, _tlv_fields

_HEADER = struct.Struct(">IIII")
_U16 = struct.Struct(">H")


# -- encoding -----------------------------------------------------------------------------------


def _encode_value(wire: Wire, value: Any) -> bytes:
    if wire.kind == "cstr":
        return bytes(value.encode("latin-1")) + b"\x00"
    if wire.kind == "u8":
        return bytes((value,))
    if wire.kind == "u16":
        return _U16.pack(value)
    if wire.kind == "nec":
        return bytes((value[0],)) + _U16.pack(value[1])
    if wire.kind == "sm":
        return bytes((len(value),)) + bytes(value)
    return bytes(value)


def _encode_tlv(tag: int, value: bytes) -> bytes:
    return _U16.pack(tag) + _U16.pack(len(value)) + value


def _has_default_body(pdu: Pdu) -> bool:
    return not pdu.tlvs and all(getattr(pdu, f.name) == f.default for f in _body_fields(type(pdu)))


def encode_pdu(pdu: Pdu) -> bytes:
    """The exact octets of `pdu`, header included."""
    parts: list[bytes] = []
    if not (pdu.EMPTY_BODY_ON_ERROR and pdu.command_status and _has_default_body(pdu)):
        for f in _body_fields(type(pdu)):
            parts.append(_encode_value(f.metadata["smpp"], getattr(pdu, f.name)))
        for f in _tlv_fields(type(pdu)):
            value = getattr(pdu, f.name)
            if value is not None:
                wire: Wire = f.metadata["tlv"]
                parts.append(_encode_tlv(wire.tag, _encode_value(wire, value)))
        parts.extend(_encode_tlv(t.tag, t.value) for t in pdu.tlvs)
    body = b"".join(parts)
    return (
        _HEADER.pack(
            HEADER_LENGTH + len(body), pdu.command_id, pdu.command_status, pdu.sequence_number
        )
        + body
    )


# -- decoding -----------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int, what: str, status: int = S.ESME_RINVCMDLEN) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise LocalProtocolError(f"PDU body ends inside {what}", status)
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def cstr(self, wire: Wire, what: str) -> str:
        end = self.data.find(b"\x00", self.pos, self.pos + wire.size)
        if end < 0:
            raise LocalProtocolError(f"{what}: no NUL within {wire.size} octets", wire.status)
        text = self.data[self.pos : end].decode("latin-1")
        self.pos = end + 1
        return text

    def value(self, wire: Wire, what: str) -> Any:
        if wire.kind == "cstr":
            return self.cstr(wire, what)
        if wire.kind == "u8":
            return self.take(1, what)[0]
        length = self.take(1, what)[0]  # "sm": §5.2.21 sm_length then short_message
        return self.take(length, what, S.ESME_RINVMSGLEN)


def _decode_tlv_value(wire: Wire, raw: bytes, name: str) -> Any:
    sizes = {"u8": 1, "u16": 2, "nec": 3}
    if wire.kind in sizes and len(raw) != sizes[wire.kind]:
        raise LocalProtocolError(f"TLV {name} has length {len(raw)}", S.ESME_RINVPARLEN)
    if wire.kind == "u8":
        return raw[0]
    if wire.kind == "u16":
        return _U16.unpack(raw)[0]
    if wire.kind == "nec":
        return (raw[0], _U16.unpack_from(raw, 1)[0])
    if wire.kind == "cstr":  # lenient: some SMSCs omit the NUL of receipted_message_id
        return raw.split(b"\x00", 1)[0].decode("latin-1")
    return raw


def decode_pdu(data: bytes) -> Pdu:
    """Decode exactly one whole PDU; raises `LocalProtocolError` with a command_status hint."""
    if len(data) < HEADER_LENGTH:
        raise LocalProtocolError("PDU shorter than its header", S.ESME_RINVCMDLEN)
    length, command_id, status, seq = _HEADER.unpack_from(data)
    try:
        if length != len(data):
            raise LocalProtocolError("command_length does not match the PDU", S.ESME_RINVCMDLEN)
        cls = PDU_CLASSES.get(command_id)
        if cls is None:
            raise LocalProtocolError(f"unknown command_id 0x{command_id:08X}", S.ESME_RINVCMDID)
        return _decode_body(cls, data, status, seq)
    except LocalProtocolError as exc:
        exc.sequence_number, exc.command_id = seq, command_id
        raise


def _decode_body(cls: type[Pdu], data: bytes, status: int, seq: int) -> Pdu:
    values: dict[str, Any] = {"command_status": status, "sequence_number": seq}
    reader = _Reader(data, HEADER_LENGTH)
    if len(data) == HEADER_LENGTH and status and cls.is_response():
        return cls(**values)  # an error response without its body (§4.4.2 and lenient)
    for f in _body_fields(cls):
        values[f.name] = reader.value(f.metadata["smpp"], f.name)
    typed = {f.metadata["tlv"].tag: f for f in _tlv_fields(cls)}
    extra: list[Tlv] = []
    while reader.pos < len(data):
        if not cls.ACCEPTS_TLVS:
            raise LocalProtocolError(f"{cls.__name__} body too long", S.ESME_RINVCMDLEN)
        head = reader.take(4, "a TLV header", S.ESME_RINVOPTPARSTREAM)
        tag, size = _U16.unpack_from(head)[0], _U16.unpack_from(head, 2)[0]
        raw = reader.take(size, f"TLV 0x{tag:04X}", S.ESME_RINVPARLEN)
        typed_field = typed.get(tag)
        if typed_field is None:
            extra.append(Tlv(tag, raw))
        else:
            wire = typed_field.metadata["tlv"]
            values[typed_field.name] = _decode_tlv_value(wire, raw, typed_field.name)
    values["tlvs"] = tuple(extra)
    try:
        return cls(**values)
    except TypeError as exc:  # defensive: a field type slipped through
        raise LocalProtocolError(str(exc)) from None
