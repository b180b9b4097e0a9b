"""SMPP 3.4 PDUs: one frozen dataclass per PDU, and `encode_pdu()` / `decode_pdu()`.

Theory of operation
-------------------
A PDU (§3.2) is a 16-octet header -- command_length, command_id, command_status,
sequence_number, each a big-endian u32 -- then a body of mandatory fields in a fixed order,
then optional parameters (TLVs, §3.2.4.1 / §5.3). Each class lists its mandatory fields as
dataclass fields whose `metadata["smpp"]` says how they travel (C-octet string with its
maximum size including the NUL, §3.1; one octet; or sm_length + short_message, §5.2.21).
The TLVs we use are typed fields with `metadata["tlv"]`; any other TLV is kept, in order,
in `tlvs` so that decoding never drops what a vendor sent.

Constructors check every field (h11's events validate themselves), so a PDU that exists can be
encoded. Decoding checks the same rules (a C-octet string it cut is short enough and has no NUL
by construction; the rest it checks as the constructor would, `_check_consistency()` included)
and then builds the instance without running the constructor again, so a malformed body raises
the same `LocalProtocolError`, which `Connection.next_event()` re-raises as
`RemoteProtocolError`. Field checks run from per-class compiled plans (`wire.py`). No state,
no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from .constants import INTERFACE_VERSION, RESPONSE_BIT, CommandId
from .constants import CommandStatus as S
from .errors import LocalProtocolError
from .wire import Kind as Kind
from .wire import Wire as Wire
from .wire import check_fields, plan_of
from .wire import check_int as _check_int


def _cstr(size: int, status: int = S.ESME_RINVCMDLEN) -> Any:
    return field(default="", metadata={"smpp": Wire("cstr", size, status)})


def _u8(default: int = 0) -> Any:
    return field(default=default, metadata={"smpp": Wire("u8")})


def _tlv(kind: Kind, tag: int, size: int = 0) -> Any:
    return field(default=None, metadata={"tlv": Wire(kind, size, S.ESME_RINVPARLEN, tag)})


@dataclass(frozen=True, slots=True)
class Tlv:
    """An optional parameter we have no typed field for, kept as raw octets (§3.2.4.1)."""

    tag: int
    value: bytes

    def __post_init__(self) -> None:
        _check_int("tlv tag", self.tag, 0xFFFF)
        if not isinstance(self.value, bytes) or len(self.value) > 0xFFFF:
            raise LocalProtocolError("TLV value must be at most 65535 octets", S.ESME_RINVPARLEN)


@dataclass(frozen=True, kw_only=True)
class Pdu:
    """Base of all PDUs. `command_id` is a class attribute; the header's other fields are here."""

    command_id: ClassVar[int]
    ACCEPTS_TLVS: ClassVar[bool] = False
    # §4.1.2, §4.1.4, §4.1.6, §4.4.2: these responses carry no body when command_status != 0.
    EMPTY_BODY_ON_ERROR: ClassVar[bool] = False

    command_status: int = 0
    sequence_number: int = 0
    tlvs: tuple[Tlv, ...] = ()

    def __post_init__(self) -> None:
        values = self.__dict__
        for name in ("command_status", "sequence_number"):
            value = values[name]
            if value.__class__ is not int or not 0 <= value <= 0xFFFFFFFF:
                _check_int(name, value, 0xFFFFFFFF)
        if not isinstance(self.tlvs, tuple):
            raise LocalProtocolError("tlvs must be a tuple of Tlv")
        if self.tlvs and not self.ACCEPTS_TLVS:
            raise LocalProtocolError(f"{type(self).__name__} takes no TLV", S.ESME_ROPTPARNOTALLWD)
        plan = plan_of(type(self))
        check_fields(plan, values)
        for tlv in self.tlvs:
            if not isinstance(tlv, Tlv) or tlv.tag in plan.by_tag:
                raise LocalProtocolError(f"bad extra TLV {tlv!r}: use the typed field")
        self._check_consistency()

    def _check_consistency(self) -> None:
        """Rules that tie fields together; `decode_pdu()` runs them too (subclasses add)."""

    @classmethod
    def is_response(cls) -> bool:
        return bool(cls.command_id & RESPONSE_BIT)


# -- §4.1 bind operations ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Bind(Pdu):
    """§4.1.1 / §4.1.3 / §4.1.5: the three bind requests share one body."""

    system_id: str = _cstr(16, S.ESME_RINVSYSID)
    password: str = _cstr(9, S.ESME_RINVPASWD)
    system_type: str = _cstr(13, S.ESME_RINVSYSTYP)
    interface_version: int = _u8(INTERFACE_VERSION)
    addr_ton: int = _u8()
    addr_npi: int = _u8()
    address_range: str = _cstr(41)


@dataclass(frozen=True, kw_only=True)
class _BindResp(Pdu):
    """§4.1.2: system_id, then an optional sc_interface_version TLV (kept in `tlvs`)."""

    ACCEPTS_TLVS = True
    EMPTY_BODY_ON_ERROR = True
    system_id: str = _cstr(16, S.ESME_RINVSYSID)


@dataclass(frozen=True, kw_only=True)
class BindTransmitter(_Bind):
    command_id = CommandId.BIND_TRANSMITTER


@dataclass(frozen=True, kw_only=True)
class BindTransmitterResp(_BindResp):
    command_id = CommandId.BIND_TRANSMITTER_RESP


@dataclass(frozen=True, kw_only=True)
class BindReceiver(_Bind):
    command_id = CommandId.BIND_RECEIVER


@dataclass(frozen=True, kw_only=True)
class BindReceiverResp(_BindResp):
    command_id = CommandId.BIND_RECEIVER_RESP


@dataclass(frozen=True, kw_only=True)
class BindTransceiver(_Bind):
    command_id = CommandId.BIND_TRANSCEIVER


@dataclass(frozen=True, kw_only=True)
class BindTransceiverResp(_BindResp):
    command_id = CommandId.BIND_TRANSCEIVER_RESP


#: Any of the three bind requests.
Bind = BindTransmitter | BindReceiver | BindTransceiver


@dataclass(frozen=True, kw_only=True)
class Outbind(Pdu):
    """§4.1.7: the SMSC asks the ESME to bind_receiver."""

    command_id = CommandId.OUTBIND
    system_id: str = _cstr(16, S.ESME_RINVSYSID)
    password: str = _cstr(9, S.ESME_RINVPASWD)


# -- §4.2, §4.3, §4.11: header-only PDUs -------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Unbind(Pdu):
    command_id = CommandId.UNBIND


@dataclass(frozen=True, kw_only=True)
class UnbindResp(Pdu):
    command_id = CommandId.UNBIND_RESP


@dataclass(frozen=True, kw_only=True)
class GenericNack(Pdu):
    """§4.3: answers a PDU we could not parse or accept; sequence_number echoes it (or 0)."""

    command_id = CommandId.GENERIC_NACK


@dataclass(frozen=True, kw_only=True)
class EnquireLink(Pdu):
    command_id = CommandId.ENQUIRE_LINK


@dataclass(frozen=True, kw_only=True)
class EnquireLinkResp(Pdu):
    command_id = CommandId.ENQUIRE_LINK_RESP


# -- §4.4 submit_sm, §4.6 deliver_sm, §4.7 data_sm ----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _MessageTlvs(Pdu):
    """The TLVs we use, in the order of the §4.4.1 / §4.6.1 tables (smpp.pdu uses it too)."""

    ACCEPTS_TLVS = True
    user_message_reference: int | None = _tlv("u16", 0x0204)
    sar_msg_ref_num: int | None = _tlv("u16", 0x020C)
    sar_total_segments: int | None = _tlv("u8", 0x020E)
    sar_segment_seqnum: int | None = _tlv("u8", 0x020F)
    message_payload: bytes | None = _tlv("octets", 0x0424)
    network_error_code: tuple[int, int] | None = _tlv("nec", 0x0423)
    message_state: int | None = _tlv("u8", 0x0427)
    receipted_message_id: str | None = _tlv("cstr", 0x001E, 65)


@dataclass(frozen=True, kw_only=True)
class _ShortMessage(_MessageTlvs):
    """§4.4.1: the body shared by submit_sm and deliver_sm (§4.6.1 leaves some fields NULL)."""

    service_type: str = _cstr(6, S.ESME_RINVSERTYP)
    source_addr_ton: int = _u8()
    source_addr_npi: int = _u8()
    source_addr: str = _cstr(21, S.ESME_RINVSRCADR)
    dest_addr_ton: int = _u8()
    dest_addr_npi: int = _u8()
    destination_addr: str = _cstr(21, S.ESME_RINVDSTADR)
    esm_class: int = _u8()
    protocol_id: int = _u8()
    priority_flag: int = _u8()
    schedule_delivery_time: str = _cstr(17, S.ESME_RINVSCHED)
    validity_period: str = _cstr(17, S.ESME_RINVEXPIRY)
    registered_delivery: int = _u8()
    replace_if_present_flag: int = _u8()
    data_coding: int = _u8()
    sm_default_msg_id: int = _u8()
    short_message: bytes = field(default=b"", metadata={"smpp": Wire("sm")})

    def _check_consistency(self) -> None:
        if self.short_message and self.message_payload is not None:
            # §5.3.2.32: with message_payload, sm_length must be 0.
            raise LocalProtocolError(
                "short_message and message_payload are exclusive", S.ESME_RINVPARLEN
            )

    @property
    def payload(self) -> bytes:
        """The user data, wherever it travels (short_message or message_payload)."""
        return self.message_payload if self.message_payload is not None else self.short_message


@dataclass(frozen=True, kw_only=True)
class SubmitSm(_ShortMessage):
    command_id = CommandId.SUBMIT_SM


@dataclass(frozen=True, kw_only=True)
class SubmitSmResp(Pdu):
    command_id = CommandId.SUBMIT_SM_RESP
    ACCEPTS_TLVS = True  # none in 3.4, but SMPP 5.0 SMSCs add some: keep them
    EMPTY_BODY_ON_ERROR = True
    message_id: str = _cstr(65, S.ESME_RINVMSGID)


@dataclass(frozen=True, kw_only=True)
class DeliverSm(_ShortMessage):
    command_id = CommandId.DELIVER_SM


@dataclass(frozen=True, kw_only=True)
class DeliverSmResp(Pdu):
    """§4.6.2: message_id is unused and set to NULL."""

    command_id = CommandId.DELIVER_SM_RESP
    ACCEPTS_TLVS = True
    message_id: str = _cstr(65, S.ESME_RINVMSGID)


@dataclass(frozen=True, kw_only=True)
class DataSm(_MessageTlvs):
    """§4.7.1: addresses up to 65 octets, the user data in the message_payload TLV."""

    command_id = CommandId.DATA_SM
    service_type: str = _cstr(6, S.ESME_RINVSERTYP)
    source_addr_ton: int = _u8()
    source_addr_npi: int = _u8()
    source_addr: str = _cstr(65, S.ESME_RINVSRCADR)
    dest_addr_ton: int = _u8()
    dest_addr_npi: int = _u8()
    destination_addr: str = _cstr(65, S.ESME_RINVDSTADR)
    esm_class: int = _u8()
    registered_delivery: int = _u8()
    data_coding: int = _u8()

    @property
    def payload(self) -> bytes:
        return self.message_payload or b""


@dataclass(frozen=True, kw_only=True)
class DataSmResp(Pdu):
    command_id = CommandId.DATA_SM_RESP
    ACCEPTS_TLVS = True
    message_id: str = _cstr(65, S.ESME_RINVMSGID)


# -- §4.8 query_sm ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class QuerySm(Pdu):
    command_id = CommandId.QUERY_SM
    message_id: str = _cstr(65, S.ESME_RINVMSGID)
    source_addr_ton: int = _u8()
    source_addr_npi: int = _u8()
    source_addr: str = _cstr(21, S.ESME_RINVSRCADR)


@dataclass(frozen=True, kw_only=True)
class QuerySmResp(Pdu):
    command_id = CommandId.QUERY_SM_RESP
    message_id: str = _cstr(65, S.ESME_RINVMSGID)
    final_date: str = _cstr(17)
    message_state: int = _u8()
    error_code: int = _u8()


PDU_CLASSES: dict[int, type[Pdu]] = {
    cls.command_id: cls
    for cls in (
        BindTransmitter, BindTransmitterResp, BindReceiver, BindReceiverResp,
        BindTransceiver, BindTransceiverResp, Outbind, Unbind, UnbindResp, GenericNack,
        EnquireLink, EnquireLinkResp, SubmitSm, SubmitSmResp, DeliverSm, DeliverSmResp,
        DataSm, DataSmResp, QuerySm, QuerySmResp,
    )
}  # fmt: skip

# request class -> its response class (§5.1.2.1: response id = request id | 0x80000000)
RESPONSE_FOR: dict[type[Pdu], type[Pdu]] = {
    cls: PDU_CLASSES[cls.command_id | RESPONSE_BIT]
    for cls in PDU_CLASSES.values()
    if not cls.is_response() and cls.command_id | RESPONSE_BIT in PDU_CLASSES
}


P = TypeVar("P", bound=Pdu)


def with_sequence_number(pdu: P, sequence_number: int) -> P:
    """`dataclasses.replace(pdu, sequence_number=...)` without checking every field again.

    The session and the simulator number each PDU as it leaves; `pdu` was checked when it was
    built, so only the new number needs checking (B5: a full rebuild of a submit_sm cost ~9 us).
    """
    _check_int("sequence_number", sequence_number, 0xFFFFFFFF)
    copy = object.__new__(type(pdu))
    copy.__dict__.update(pdu.__dict__)
    copy.__dict__["sequence_number"] = sequence_number
    return copy


def response_to(request: Pdu, command_status: int = 0, **values: Any) -> Pdu:
    """The response PDU answering `request` (same sequence_number)."""
    cls = RESPONSE_FOR[type(request)]
    return cls(command_status=command_status, sequence_number=request.sequence_number, **values)
