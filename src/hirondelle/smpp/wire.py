"""How PDU fields travel (`Wire`), how they are checked, and each PDU class's compiled `Plan`.

`pdu.py` describes a field once, in its dataclass metadata. Walking `dataclasses.fields()` and
comparing `wire.kind` strings for every field of every PDU cost more than the protocol work
itself (B5: ~9 us to build a submit_sm, ~16 us to decode one), so each class's fields are
compiled once, on first use, into a `Plan`: tuples of (name, small-int kind, size, status) that
the constructor check, `encode_pdu()` and `decode_pdu()` loop over. The slow `check_field()`
stays the single source of the rules and of the error messages; the fast paths only accept
values it would accept, and hand anything else to it.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any, Literal

from .constants import CommandStatus as S
from .errors import LocalProtocolError

Kind = Literal["cstr", "u8", "u16", "octets", "sm", "nec"]

# Small-int codes for the kinds, compared with `is` in the hot loops.
CSTR, U8, SM = 0, 1, 2
_CODES = {"cstr": CSTR, "u8": U8, "sm": SM}
SM_LIMIT = 254  # §5.2.21: sm_length is 0..254


@dataclass(frozen=True, slots=True)
class Wire:
    """How one field travels: `size` is a C-octet string's maximum octets including the NUL."""

    kind: Kind
    size: int = 0
    status: int = S.ESME_RINVCMDLEN  # command_status hint when the peer sends a bad value
    tag: int = 0  # TLVs only


def check_int(name: str, value: object, maximum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise LocalProtocolError(f"{name} must be an integer in 0..{maximum}, not {value!r}")


def check_field(name: str, wire: Wire, value: object) -> None:
    """The rules for one field, with the error (and command_status hint) for each breach."""
    if wire.kind == "cstr":
        if not isinstance(value, str) or "\x00" in value:
            raise LocalProtocolError(f"{name} must be a str without NUL", wire.status)
        try:
            octets = value.encode("latin-1")
        except UnicodeEncodeError:
            raise LocalProtocolError(f"{name} must be Latin-1 (§3.1)", wire.status) from None
        if len(octets) + 1 > wire.size:
            raise LocalProtocolError(f"{name} is longer than {wire.size - 1} octets", wire.status)
    elif wire.kind in ("u8", "u16"):
        check_int(name, value, 0xFF if wire.kind == "u8" else 0xFFFF)
    elif wire.kind == "nec":  # §5.3.2.31 network_error_code: (network type, error code)
        if not (isinstance(value, tuple) and len(value) == 2):
            raise LocalProtocolError(f"{name} must be (network_type, error_code)", wire.status)
        check_int(name, value[0], 0xFF)
        check_int(name, value[1], 0xFFFF)
    else:  # octets, sm
        limit = SM_LIMIT if wire.kind == "sm" else 0xFFFF
        if not isinstance(value, bytes) or len(value) > limit:
            raise LocalProtocolError(f"{name} must be at most {limit} octets", S.ESME_RINVMSGLEN)


@dataclass(frozen=True, slots=True)
class Plan:
    """One PDU class's fields, compiled (see the module docstring)."""

    # mandatory fields in order: name, code (CSTR, U8 or SM: the only kinds they have), size
    body: tuple[tuple[str, int, int, Wire], ...]
    tlvs: tuple[tuple[str, Wire], ...]  # typed TLV fields, in field order
    by_tag: dict[int, tuple[str, Wire]]
    defaults: dict[str, Any]  # every field's default: the start of a decoded instance's dict


_PLANS: dict[type, Plan] = {}


def plan_of(cls: type) -> Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _compile(cls)
    return plan


def _compile(cls: type) -> Plan:
    body, tlvs = [], []
    defaults: dict[str, Any] = {}
    for f in fields(cls):
        assert f.default is not MISSING, f"{cls.__name__}.{f.name} needs a default"
        defaults[f.name] = f.default
        if "smpp" in f.metadata:
            wire: Wire = f.metadata["smpp"]
            body.append((f.name, _CODES[wire.kind], wire.size, wire))
        elif "tlv" in f.metadata:
            tlvs.append((f.name, f.metadata["tlv"]))
    return Plan(
        body=tuple(body),
        tlvs=tuple(tlvs),
        by_tag={wire.tag: (name, wire) for name, wire in tlvs},
        defaults=defaults,
    )


def check_fields(plan: Plan, values: dict[str, Any]) -> None:
    """Raise as `check_field()` would for the first bad mandatory or typed TLV field.

    Fast paths accept what is common (an ASCII str short enough and without NUL; a plain int
    in 0..255); anything else goes through `check_field()`, which accepts or raises.
    """
    for name, code, size, wire in plan.body:
        value = values[name]
        if code is CSTR:
            if (
                value.__class__ is str
                and len(value) < size
                and value.isascii()
                and "\x00" not in value
            ):
                continue
        elif code is U8:
            if value.__class__ is int and 0 <= value <= 0xFF:
                continue
        elif value.__class__ is bytes and len(value) <= SM_LIMIT:
            continue
        check_field(name, wire, value)
    for name, wire in plan.tlvs:
        value = values[name]
        if value is not None:
            check_field(name, wire, value)
