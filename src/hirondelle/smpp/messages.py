"""From a text to submit_sm PDUs, and from deliver_sm parts back to a text. No I/O.

Long messages travel as parts (3GPP TS 23.040 §9.2.3.24.1 / .8): an 8-bit user data header
`05 00 03 ref total seq` (the default; esm_class 0x40), a 16-bit one `06 08 04 refhi reflo total
seq`, the SAR TLVs of SMPP 3.4 §5.3.2.22-24 (the SMSC builds the header), or the whole text in
one message_payload TLV (§5.3.2.32; the SMSC splits it). data_coding is 0 (GSM 03.38, one septet
per octet: the SMSC packs them), 3 (Latin-1, when allowed and the text fits it) or 8 (UCS-2).

For GSM and UCS-2 with the 8-bit header or SAR, parts are cut by `domain.text.split_parts`, the
very cuts the credits were counted on. The 16-bit header costs one more octet per part, and
Latin-1 counts octets, so those are cut here by the same greedy rule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal, TypeVar

from hirondelle.domain.text import (
    decode_text,
    encode_gsm7_unpacked,
    encode_ucs2,
    encoding_for,
    split_parts,
)

from .constants import (
    DATA_CODING_DEFAULT,
    DATA_CODING_LATIN1,
    DATA_CODING_UCS2,
    ESM_CLASS_UDHI,
    Npi,
    Ton,
)
from .pdu import DataSm, DeliverSm, SubmitSm

Concatenation = Literal["udh8", "udh16", "sar", "payload"]
Message = TypeVar("Message", SubmitSm, DeliverSm)


@dataclass(frozen=True)
class MessageOptions:
    """Connector options that shape the PDUs. TON/NPI None means: guess from the address."""

    concatenation: Concatenation = "udh8"
    allow_latin1: bool = False  # data_coding 3 for texts outside GSM 03.38 but inside Latin-1
    source_ton: int | None = None
    source_npi: int | None = None
    dest_ton: int = Ton.INTERNATIONAL
    dest_npi: int = Npi.ISDN
    registered_delivery: int = 1  # §5.2.17: SMSC delivery receipt requested
    service_type: str = ""
    validity_period: str = ""


def address_ton_npi(address: str) -> tuple[int, int]:
    """§5.2.5 / §5.2.6 for a sender: alphanumeric -> (5, 0), short code -> (3, 0), else (1, 1)."""
    if not address.isdigit():
        return Ton.ALPHANUMERIC, Npi.UNKNOWN
    if len(address) <= 6:
        return Ton.NETWORK_SPECIFIC, Npi.UNKNOWN
    return Ton.INTERNATIONAL, Npi.ISDN


# -- splitting ----------------------------------------------------------------------------------

_SINGLE = {DATA_CODING_DEFAULT: 160, DATA_CODING_UCS2: 70, DATA_CODING_LATIN1: 140}
_PER_PART = {  # capacity of a part under an 8-bit header; a 16-bit header takes one octet more
    DATA_CODING_DEFAULT: 153,
    DATA_CODING_UCS2: 67,
    DATA_CODING_LATIN1: 134,
}


def _encode(text: str, data_coding: int) -> bytes:
    if data_coding == DATA_CODING_DEFAULT:
        return encode_gsm7_unpacked(text)
    if data_coding == DATA_CODING_UCS2:
        return encode_ucs2(text)
    return text.encode("latin-1")


def _units(char: str, data_coding: int) -> int:
    size = len(_encode(char, data_coding))
    return size // 2 if data_coding == DATA_CODING_UCS2 else size


def _greedy_split(text: str, data_coding: int, capacity: int) -> list[str]:
    """Fill each part up to `capacity` units, never cutting a character's units apart."""
    parts: list[str] = []
    start, used = 0, 0
    for i, char in enumerate(text):
        units = _units(char, data_coding)
        if used + units > capacity:
            parts.append(text[start:i])
            start, used = i, 0
        used += units
    parts.append(text[start:])
    return parts


def choose_data_coding(text: str, allow_latin1: bool = False) -> int:
    if encoding_for(text) == "gsm7":
        return DATA_CODING_DEFAULT
    if allow_latin1:
        try:
            text.encode("latin-1")
            return DATA_CODING_LATIN1
        except UnicodeEncodeError:
            pass
    return DATA_CODING_UCS2


def split_text(text: str, data_coding: int, concatenation: Concatenation) -> list[str]:
    if concatenation == "payload":
        return [text]
    single = _SINGLE[data_coding]
    # The encodings work character by character, so the text's units are the sum of its
    # characters' units: one encode, not one per character (B5 build_submits).
    if _units(text, data_coding) <= single:
        return [text]
    if data_coding != DATA_CODING_LATIN1 and concatenation in ("udh8", "sar"):
        return split_parts(text)
    capacity = _PER_PART[data_coding] - (1 if concatenation == "udh16" else 0)
    return _greedy_split(text, data_coding, capacity)


# -- building -----------------------------------------------------------------------------------


def build_messages(
    cls: type[Message],
    text: str,
    source: str,
    destination: str,
    options: MessageOptions = MessageOptions(),
    reference: int | None = None,
) -> list[Message]:
    """The PDUs (sequence_number 0: the session numbers them) that carry `text`.

    `reference` numbers the concatenated message (0..255 for udh8, 0..65535 otherwise); a
    random one when None.
    """
    data_coding = choose_data_coding(text, options.allow_latin1)
    parts = split_text(text, data_coding, options.concatenation)
    total = len(parts)
    ref = reference if reference is not None else random.randrange(0x10000)
    ref &= 0xFF if options.concatenation == "udh8" else 0xFFFF
    source_ton, source_npi = address_ton_npi(source)
    # Plain ints, not the IntEnums of constants.py: PDU fields hold ints (and the PDU checks
    # take their fast path for exact ints).
    common = {
        "service_type": options.service_type,
        "source_addr_ton": int(source_ton if options.source_ton is None else options.source_ton),
        "source_addr_npi": int(source_npi if options.source_npi is None else options.source_npi),
        "source_addr": source,
        "dest_addr_ton": int(options.dest_ton),
        "dest_addr_npi": int(options.dest_npi),
        "destination_addr": destination.lstrip("+"),
        "data_coding": data_coding,
    }
    if cls is SubmitSm:
        common |= {
            "registered_delivery": options.registered_delivery,
            "validity_period": options.validity_period,
        }
    pdus: list[Message] = []
    for seq, part in enumerate(parts, start=1):
        body = _encode(part, data_coding)
        if options.concatenation == "payload":
            pdus.append(cls(message_payload=body, **common))  # type: ignore[arg-type]
        elif total == 1:
            pdus.append(cls(short_message=body, **common))  # type: ignore[arg-type]
        elif options.concatenation == "sar":
            pdus.append(
                cls(
                    short_message=body,
                    sar_msg_ref_num=ref,
                    sar_total_segments=total,
                    sar_segment_seqnum=seq,
                    **common,  # type: ignore[arg-type]
                )
            )
        else:
            if options.concatenation == "udh8":
                udh = bytes((5, 0x00, 3, ref, total, seq))
            else:
                udh = bytes((6, 0x08, 4, ref >> 8, ref & 0xFF, total, seq))
            pdus.append(
                cls(short_message=udh + body, esm_class=ESM_CLASS_UDHI, **common)  # type: ignore[arg-type]
            )
    return pdus


def build_submits(
    text: str,
    source: str,
    destination: str,
    options: MessageOptions = MessageOptions(),
    reference: int | None = None,
) -> list[SubmitSm]:
    """The submit_sm PDUs for one message to one destination (see `build_messages`)."""
    return build_messages(SubmitSm, text, source, destination, options, reference)


# -- the way back: mobile-originated parts -------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """Where one part sits in its concatenated message."""

    reference: int
    total: int
    seqnum: int


def segment_of(pdu: SubmitSm | DeliverSm | DataSm) -> tuple[Segment | None, bytes]:
    """The part's place (None when not concatenated) and its user data without the header."""
    payload = pdu.payload
    if pdu.esm_class & ESM_CLASS_UDHI and payload:
        length = payload[0]
        header, body = payload[1 : 1 + length], payload[1 + length :]
        found: Segment | None = None
        i = 0
        while i + 2 <= len(header):
            iei, size = header[i], header[i + 1]
            value = header[i + 2 : i + 2 + size]
            if iei == 0x00 and size == 3 and len(value) == 3:
                found = Segment(value[0], value[1], value[2])
            elif iei == 0x08 and size == 4 and len(value) == 4:
                found = Segment((value[0] << 8) | value[1], value[2], value[3])
            i += 2 + size
        return found, body
    if pdu.sar_total_segments is not None and pdu.sar_segment_seqnum is not None:
        return Segment(
            pdu.sar_msg_ref_num or 0, pdu.sar_total_segments, pdu.sar_segment_seqnum
        ), payload
    return None, payload


@dataclass(frozen=True)
class IncomingMessage:
    source: str
    destination: str
    text: str
    data_coding: int
    parts: int


class Reassembler:
    """Collects the parts of concatenated messages until each is whole. Sans-I/O: at most
    `max_pending` incomplete messages are kept, the oldest dropped first."""

    def __init__(self, max_pending: int = 10_000) -> None:
        self.max_pending = max_pending
        self._pending: dict[tuple[str, str, int, int], dict[int, bytes]] = {}

    def feed(self, pdu: SubmitSm | DeliverSm | DataSm) -> IncomingMessage | None:
        """The whole message once its last part arrives; None while parts are missing."""
        segment, body = segment_of(pdu)
        if segment is None or segment.total <= 1:
            text = decode_text(body, pdu.data_coding)
            return IncomingMessage(pdu.source_addr, pdu.destination_addr, text, pdu.data_coding, 1)
        key = (pdu.source_addr, pdu.destination_addr, segment.reference, segment.total)
        parts = self._pending.setdefault(key, {})
        parts[segment.seqnum] = body
        if len(parts) < segment.total or not all(n in parts for n in range(1, segment.total + 1)):
            while len(self._pending) > self.max_pending:
                del self._pending[next(iter(self._pending))]
            return None
        del self._pending[key]
        # Join the octets before decoding: a surrogate or escape pair may straddle two parts
        # when the sender cut carelessly.
        data = b"".join(parts[n] for n in range(1, segment.total + 1))
        text = decode_text(data, pdu.data_coding)
        return IncomingMessage(
            pdu.source_addr, pdu.destination_addr, text, pdu.data_coding, segment.total
        )

    @property
    def pending(self) -> int:
        return len(self._pending)
