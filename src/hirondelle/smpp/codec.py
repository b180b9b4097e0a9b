"""Encoding and decoding of the PDUs of `pdu.py` (SMPP 3.4 §3.1, §3.2); import them from there.

Both follow each class's compiled `Plan` (`wire.py`), so a field is described once, on its class.
"""

from __future__ import annotations

import struct
from typing import Any

from .constants import HEADER_LENGTH
from .constants import CommandStatus as S
from .errors import LocalProtocolError
from .pdu import PDU_CLASSES, Pdu, Tlv
from .wire import CSTR, SM, SM_LIMIT, U8, Plan, Wire, check_field, plan_of

_HEADER = struct.Struct(">IIII")
_U16 = struct.Struct(">H")
_OCTET = tuple(bytes((i,)) for i in range(256))  # one u8 field, without building a tuple


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


def _has_default_body(plan: Plan, pdu: Pdu) -> bool:
    defaults, values = plan.defaults, pdu.__dict__
    return not pdu.tlvs and all(values[name] == defaults[name] for name, *_ in plan.body)


def encode_pdu(pdu: Pdu) -> bytes:
    """The exact octets of `pdu`, header included."""
    plan = plan_of(type(pdu))
    body = b""
    if not (pdu.EMPTY_BODY_ON_ERROR and pdu.command_status and _has_default_body(plan, pdu)):
        values = pdu.__dict__
        parts: list[bytes] = []
        append = parts.append
        for name, code, _size, _wire in plan.body:
            value = values[name]
            if code is CSTR:
                append(value.encode("latin-1"))
                append(b"\x00")
            elif code is U8:
                append(_OCTET[value])
            else:  # SM: §5.2.21 sm_length, then short_message
                append(_OCTET[len(value)])
                append(value)
        for name, wire in plan.tlvs:
            value = values[name]
            if value is not None:
                append(_encode_tlv(wire.tag, _encode_value(wire, value)))
        for tlv in pdu.tlvs:
            append(_encode_tlv(tlv.tag, tlv.value))
        body = b"".join(parts)
    return (
        _HEADER.pack(
            HEADER_LENGTH + len(body), pdu.command_id, pdu.command_status, pdu.sequence_number
        )
        + body
    )


# -- decoding -----------------------------------------------------------------------------------


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


def _short(what: str, status: int = S.ESME_RINVCMDLEN) -> LocalProtocolError:
    return LocalProtocolError(f"PDU body ends inside {what}", status)


def _decode_body(cls: type[Pdu], data: bytes, status: int, seq: int) -> Pdu:
    if len(data) == HEADER_LENGTH and status and cls.is_response():
        # an error response without its body (§4.4.2 and lenient)
        return cls(command_status=status, sequence_number=seq)
    plan = plan_of(cls)
    values = plan.defaults.copy()
    values["command_status"], values["sequence_number"] = status, seq
    pos, end_of_data = HEADER_LENGTH, len(data)
    for name, code, size, wire in plan.body:
        if code is CSTR:  # §3.1: at most `size` octets, NUL included
            end = data.find(b"\x00", pos, pos + size)
            if end < 0:
                raise LocalProtocolError(f"{name}: no NUL within {size} octets", wire.status)
            values[name] = data[pos:end].decode("latin-1")
            pos = end + 1
        elif pos >= end_of_data:  # U8, or SM's sm_length
            raise _short(name)
        elif code is U8:
            values[name] = data[pos]
            pos += 1
        else:  # SM: §5.2.21 sm_length, then short_message
            end = pos + 1 + data[pos]
            if end > end_of_data:
                raise _short(name, S.ESME_RINVMSGLEN)
            values[name] = data[pos + 1 : end]
            pos = end
    extra: list[Tlv] = []
    while pos < end_of_data:
        if not cls.ACCEPTS_TLVS:
            raise LocalProtocolError(f"{cls.__name__} body too long", S.ESME_RINVCMDLEN)
        if pos + 4 > end_of_data:
            raise _short("a TLV header", S.ESME_RINVOPTPARSTREAM)
        tag, size = _U16.unpack_from(data, pos)[0], _U16.unpack_from(data, pos + 2)[0]
        pos += 4
        if pos + size > end_of_data:
            raise _short(f"TLV 0x{tag:04X}", S.ESME_RINVPARLEN)
        raw = data[pos : pos + size]
        pos += size
        typed = plan.by_tag.get(tag)
        if typed is None:
            extra.append(Tlv(tag, raw))
        else:
            values[typed[0]] = _decode_tlv_value(typed[1], raw, typed[0])
    values["tlvs"] = tuple(extra)
    return _build_decoded(cls, plan, values)


def _build_decoded(cls: type[Pdu], plan: Plan, values: dict[str, Any]) -> Pdu:
    """The instance, checked as the constructor would check it, in the same order.

    What the loop above decoded already obeys most rules: the header fields are u32s; a cut
    C-octet string has no NUL and fits its size; a u8 is an octet; extra TLVs are octets of
    at most 65535 with untyped tags. What remains is checked here: short_message's 254-octet
    limit, the typed TLVs, and the class's `_check_consistency()`.
    """
    for name, code, _size, _wire in plan.body:
        if code is SM and len(values[name]) > SM_LIMIT:
            raise LocalProtocolError(f"{name} must be at most {SM_LIMIT} octets", S.ESME_RINVMSGLEN)
    for name, wire in plan.tlvs:
        value = values[name]
        if value is not None:
            check_field(name, wire, value)
    pdu = object.__new__(cls)
    pdu.__dict__.update(values)
    pdu._check_consistency()
    return pdu
