"""From customers' submit_sm to orders of the send service, and from its refusals to
command_status. No I/O, no clock (the caller says what time it is): unit-tested alone.

A long message comes as parts (a user data header with esm_class 0x40, 8- or 16-bit reference;
or the SAR TLVs), or whole in one message_payload TLV. Parts wait in a `PartCollector` of their
bind until all have come, then the octets are joined and decoded as ONE message (a surrogate or
escape pair may straddle two parts), which the send service plans, prices and charges as it
would an API 9.0 sendSms. Every part is answered when the whole is: with the same smsId, or the
same refusal. Parts still incomplete after `smpp_server_part_timeout` are answered
ESME_RSUBMITFAIL (docs/smpp-server.md, "Long messages").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hirondelle.domain.dates import format_local
from hirondelle.domain.sender import valid_tpoa
from hirondelle.domain.statuses import SendStatus
from hirondelle.domain.text import (
    DATA_CODING_GSM,
    DATA_CODING_IA5,
    DATA_CODING_LATIN1,
    DATA_CODING_UCS2,
    decode_gsm7_unpacked,
    decode_ucs2,
)
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smpp.messages import segment_of
from hirondelle.smpp.pdu import SubmitSm
from hirondelle.smpp.times import parse_time

#: Vendor-specific (SMPP 3.4 §5.1.3 reserves 0x400-0x4FF): the account's credits do not cover
#: the message. Not ESME_RSUBMITFAIL, so that a client can tell "top up" from "refused".
ESME_RNOCREDIT = 0x00000401
#: SMPP 5.0's "invalid data coding scheme" (3.4 has none): a data_coding we do not decode.
ESME_RINVDCS = 0x00000104

#: The send service's refusals (annex 5) as command_status; the table of docs/smpp-server.md.
STATUS_FOR_REFUSAL: Mapping[SendStatus, int] = {
    SendStatus.NO_VALID_NUMBER: S.ESME_RINVDSTADR,  # invalid, unroutable or blacklisted
    SendStatus.INSUFFICIENT_CREDITS: ESME_RNOCREDIT,
    SendStatus.EMPTY_MESSAGE: S.ESME_RINVMSGLEN,
    SendStatus.MESSAGE_TOO_LONG: S.ESME_RINVMSGLEN,
    SendStatus.BAD_DATE: S.ESME_RINVSCHED,
    SendStatus.INVALID_FEED: S.ESME_RSUBMITFAIL,  # a NUL character in the text
}

_DECODERS: dict[int, Callable[[bytes], str]] = {
    DATA_CODING_GSM: decode_gsm7_unpacked,
    DATA_CODING_IA5: lambda data: data.decode("ascii"),
    DATA_CODING_LATIN1: lambda data: data.decode("latin-1"),
    DATA_CODING_UCS2: decode_ucs2,
}


class SubmitRefused(Exception):
    """A submit that cannot become an order: answer it with `command_status`."""

    def __init__(self, command_status: int, reason: str) -> None:
        super().__init__(reason)
        self.command_status = command_status


def status_for_refusal(status: SendStatus) -> int:
    return STATUS_FOR_REFUSAL.get(status, S.ESME_RSUBMITFAIL)


def decode_user_data(data: bytes, data_coding: int) -> str:
    """The text of a submit's octets: GSM 03.38 unpacked (0), ASCII (1), Latin-1 (3), UCS-2 (8).

    A data_coding we do not decode is ESME_RINVDCS; octets it cannot hold (a GSM octet above
    0x7F, an odd UCS-2 length) are ESME_RINVMSGLEN.
    """
    decoder = _DECODERS.get(data_coding)
    if decoder is None:
        raise SubmitRefused(ESME_RINVDCS, f"data_coding {data_coding} is not supported")
    try:
        return decoder(data)
    except ValueError as exc:
        raise SubmitRefused(S.ESME_RINVMSGLEN, f"undecodable short message: {exc}") from None


@dataclass
class WholeMessage:
    """The submit_sm of one message (one, or every part in order) and its text."""

    pdus: list[SubmitSm]
    text: str

    @property
    def first(self) -> SubmitSm:
        return self.pdus[0]


@dataclass
class _Pending:
    started: datetime
    parts: dict[int, SubmitSm] = field(default_factory=dict)
    bodies: dict[int, bytes] = field(default_factory=dict)


PartKey = tuple[str, str, int, int]


class PartCollector:
    """The parts of long messages of one bind, until each message is whole (see the module
    docstring). At most `max_pending` incomplete messages; the oldest goes first."""

    def __init__(self, timeout: timedelta, max_pending: int = 1000) -> None:
        self.timeout = timeout
        self.max_pending = max_pending
        self._pending: dict[PartKey, _Pending] = {}

    def feed(self, pdu: SubmitSm, now: datetime) -> WholeMessage | None:
        """The whole message once `pdu` completes it; None while parts are missing. Raises
        SubmitRefused for a single message that cannot be decoded."""
        segment, body = segment_of(pdu)
        if segment is None or segment.total <= 1:
            return WholeMessage([pdu], decode_user_data(body, pdu.data_coding))
        if not 1 <= segment.seqnum <= segment.total:
            raise SubmitRefused(S.ESME_RINVOPTPARAMVAL, "part number outside 1..total")
        key = (pdu.source_addr, pdu.destination_addr, segment.reference, segment.total)
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(now)
        if segment.seqnum in pending.parts:  # the same part again: the first copy is answered
            raise SubmitRefused(S.ESME_RINVOPTPARAMVAL, "this part was already received")
        pending.parts[segment.seqnum] = pdu
        pending.bodies[segment.seqnum] = body
        if len(pending.parts) < segment.total:
            return None
        del self._pending[key]
        order = range(1, segment.total + 1)
        pdus = [pending.parts[n] for n in order]
        data = b"".join(pending.bodies[n] for n in order)
        return WholeMessage(pdus, decode_user_data(data, pdu.data_coding))

    def expired(self, now: datetime) -> list[list[SubmitSm]]:
        """Take out the messages whose first part came more than `timeout` ago, or beyond
        `max_pending`: their parts, to answer ESME_RSUBMITFAIL."""
        gone: list[list[SubmitSm]] = []
        for key in list(self._pending):
            pending = self._pending[key]
            if now - pending.started >= self.timeout or len(self._pending) > self.max_pending:
                del self._pending[key]
                gone.append(list(pending.parts.values()))
        return gone

    def drain(self) -> list[SubmitSm]:
        """Every part waiting (the bind ends)."""
        parts = [pdu for pending in self._pending.values() for pdu in pending.parts.values()]
        self._pending.clear()
        return parts

    @property
    def pending(self) -> int:
        return len(self._pending)


# -- fields ----------------------------------------------------------------------------------------


def sender_of(source_addr: str, own_numbers: set[str]) -> str | None:
    """The TPOA to ask the send service for: None (its default: the account's reply number or
    the platform's sender) for an empty source_addr or one of `own_numbers`; a custom
    alphanumeric sender as is; anything else is ESME_RINVSRCADR (the HTTP API would silently
    replace it; an SMPP client gets told)."""
    source = source_addr.strip()
    if not source or source.lstrip("+") in own_numbers:
        return None
    if valid_tpoa(source):
        return source
    raise SubmitRefused(S.ESME_RINVSRCADR, f"source_addr {source_addr!r} is not a valid sender")


def recipient_of(destination_addr: str, dest_addr_ton: int) -> str:
    """The number as the send service reads it: international (TON 1, or any address without a
    leading 0 or +) gets a +; a national one (a French 06...) stays as is."""
    destination = destination_addr.strip()
    if not destination:
        raise SubmitRefused(S.ESME_RINVDSTADR, "empty destination_addr")
    if destination.startswith("+") or (destination.startswith("0") and dest_addr_ton != 1):
        return destination
    return "+" + destination


def send_date_of(schedule_delivery_time: str, now: datetime, timezone: str) -> str | None:
    """schedule_delivery_time (SMPP 3.4 §7.1.1, absolute or relative) as the send service's
    date (`YYYY-MM-DD HH:MM:SS` in the account's time zone), None when empty."""
    try:
        moment = parse_time(schedule_delivery_time, now)
    except ValueError as exc:
        raise SubmitRefused(S.ESME_RINVSCHED, str(exc)) from None
    if moment is None or moment <= now:
        return None
    return format_local(moment, timezone)
