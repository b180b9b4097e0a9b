"""Delivery receipts: the text of SMPP 3.4 Appendix B, the TLVs of §5.3.2.12 / §5.3.2.35, and
how a receipt becomes a status of the manual's annex 6.

The Appendix B format is only "an example" of the spec, so every SMSC has its own variant:

    id:0123456789 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201
    stat:DELIVRD err:000 Text:hello

We accept keys in any case, `submit_date` / `submitdate` spellings, missing fields, extra spaces
around the colon, and a text that contains anything. When the deliver_sm carries the
receipted_message_id and message_state TLVs, they win over the text (they are the standard).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from hirondelle.domain.statuses import AckStatus

from .constants import ESM_CLASS_DELIVERY_RECEIPT, MessageState
from .pdu import DataSm, DeliverSm


class ReceiptStat(Enum):
    """The `stat:` values of Appendix B (Table B-2)."""

    DELIVRD = "DELIVRD"
    EXPIRED = "EXPIRED"
    DELETED = "DELETED"
    UNDELIV = "UNDELIV"
    ACCEPTD = "ACCEPTD"
    UNKNOWN = "UNKNOWN"
    REJECTD = "REJECTD"
    ENROUTE = "ENROUTE"


_STAT_ALIASES = {
    "DELIVERED": ReceiptStat.DELIVRD,
    "UNDELIVERABLE": ReceiptStat.UNDELIV,
    "UNDELIVERED": ReceiptStat.UNDELIV,
    "REJECTED": ReceiptStat.REJECTD,
    "ACCEPTED": ReceiptStat.ACCEPTD,
    "DELETD": ReceiptStat.DELETED,
    "EXPIRD": ReceiptStat.EXPIRED,
} | {s.value: s for s in ReceiptStat}

_STATE_TO_STAT = {  # §5.2.28 message_state -> Appendix B stat
    MessageState.ENROUTE: ReceiptStat.ENROUTE,
    MessageState.DELIVERED: ReceiptStat.DELIVRD,
    MessageState.EXPIRED: ReceiptStat.EXPIRED,
    MessageState.DELETED: ReceiptStat.DELETED,
    MessageState.UNDELIVERABLE: ReceiptStat.UNDELIV,
    MessageState.ACCEPTED: ReceiptStat.ACCEPTD,
    MessageState.UNKNOWN: ReceiptStat.UNKNOWN,
    MessageState.REJECTED: ReceiptStat.REJECTD,
}
STAT_TO_STATE = {stat: state for state, stat in _STATE_TO_STAT.items()}


@dataclass(frozen=True)
class Receipt:
    message_id: str
    stat: ReceiptStat
    err: str | None = None
    submit_date: str | None = None
    done_date: str | None = None
    dlvrd: str | None = None
    sub: str | None = None
    text: str | None = None
    network_error_code: tuple[int, int] | None = None  # TLV: (network type, error code)


_KEY = re.compile(
    r"(?i)(?<![a-z_])(submit[ _]?date|done[ _]?date|id|sub|dlvrd|stat|err|text)\s*:\s*"
)
_NORMAL_KEY = {"submitdate": "submit_date", "donedate": "done_date"}
#: Appendix B's own layout, as most SMSCs (and the simulator) write it: read by one match. Any
#: other layout, or a value with a colon (it could hide a key), goes through the general reading.
_APPENDIX_B = re.compile(
    r"id:(\S+) sub:(\S*) dlvrd:(\S*) submit date:(\S*) done date:(\S*) stat:(\S*) err:(\S*)"
    r" text:\s*(.*)",
    re.IGNORECASE | re.DOTALL,
)


def parse_receipt_text(text: str) -> Receipt | None:
    """The receipt in `text`, or None when it has no `id:` (then it is not a receipt)."""
    usual = _APPENDIX_B.fullmatch(text)
    if usual is not None:
        message_id, sub, dlvrd, submit_date, done_date, stat, err, rest = usual.groups()
        if text.count(":", 0, usual.start(8)) == 8:  # the keys' own colons only
            return Receipt(
                message_id=message_id,
                stat=_STAT_ALIASES.get(stat.upper(), ReceiptStat.UNKNOWN),
                err=err,
                submit_date=submit_date,
                done_date=done_date,
                dlvrd=dlvrd,
                sub=sub,
                text=rest,
            )
    values: dict[str, str] = {}
    matches = list(_KEY.finditer(text))
    for i, match in enumerate(matches):
        key = match.group(1).lower().replace(" ", "").replace("_", "")
        key = _NORMAL_KEY.get(key, key)
        if key == "text":
            values.setdefault("text", text[match.end() :])
            break
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        tokens = text[match.end() : end].split()
        if key not in values:
            values[key] = tokens[0] if tokens else ""
    if not values.get("id"):
        return None
    stat_word = values.get("stat", "").upper()
    return Receipt(
        message_id=values["id"],
        stat=_STAT_ALIASES.get(stat_word, ReceiptStat.UNKNOWN),
        err=values.get("err"),
        submit_date=values.get("submit_date"),
        done_date=values.get("done_date"),
        dlvrd=values.get("dlvrd"),
        sub=values.get("sub"),
        text=values.get("text"),
    )


def is_receipt(pdu: DeliverSm | DataSm) -> bool:
    """§5.2.12: esm_class message type 0x04 (SMSC delivery receipt) or 0x20 (intermediate
    notification); a receipted_message_id TLV says the same."""
    return (pdu.esm_class & 0x3C) in (ESM_CLASS_DELIVERY_RECEIPT, 0x20) or (
        pdu.receipted_message_id is not None
    )


def receipt_from_deliver_sm(pdu: DeliverSm | DataSm) -> Receipt | None:
    """The receipt a deliver_sm (or data_sm) carries, or None if it is a mobile-originated SM.

    TLVs first: receipted_message_id for the id, message_state for the outcome,
    network_error_code kept beside the text's `err:`.
    """
    if not is_receipt(pdu):
        return None
    parsed = parse_receipt_text(pdu.payload.decode("latin-1"))
    if parsed is not None and (
        pdu.receipted_message_id is None
        and pdu.message_state is None
        and pdu.network_error_code is None
    ):
        return parsed  # the text alone: nothing to add to what it says
    message_id = pdu.receipted_message_id or (parsed.message_id if parsed else "")
    if not message_id:
        return None
    stat = parsed.stat if parsed else ReceiptStat.UNKNOWN
    if pdu.message_state is not None:
        stat = _STATE_TO_STAT.get(pdu.message_state, stat)  # type: ignore[call-overload]
    base = parsed or Receipt(message_id, stat)
    err = base.err
    if err is None and pdu.network_error_code is not None:
        err = f"{pdu.network_error_code[1]:03d}"
    return Receipt(
        message_id=message_id,
        stat=stat,
        err=err,
        submit_date=base.submit_date,
        done_date=base.done_date,
        dlvrd=base.dlvrd,
        sub=base.sub,
        text=base.text,
        network_error_code=pdu.network_error_code,
    )


def parse_receipt_date(value: str | None) -> datetime | None:
    """`YYMMDDhhmm` (Appendix B) or `YYMMDDhhmmss` (a common variant), naive, SMSC time."""
    if not value or not value.isdigit() or len(value) not in (10, 12):
        return None
    try:
        return datetime.strptime(value, "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M")
    except ValueError:
        return None


# -- annex 6 ------------------------------------------------------------------------------------

# GSM MAP errors (3GPP TS 29.002 §17.6) that mean "no such subscriber": 1 unknownSubscriber,
# 5 unidentifiedSubscriber. SMSCs put them in `err:` as 3 decimal digits, or in the
# network_error_code TLV with network type 3 (GSM).
UNKNOWN_SUBSCRIBER_ERRORS = frozenset({1, 5})


def _error_number(receipt: Receipt) -> int | None:
    if receipt.network_error_code is not None:
        return receipt.network_error_code[1]
    if receipt.err and receipt.err.isdigit():
        return int(receipt.err)
    return None


def receipt_outcome(
    receipt: Receipt, unknown_subscriber_errors: frozenset[int] = UNKNOWN_SUBSCRIBER_ERRORS
) -> AckStatus:
    """Annex 6 status for a receipt.

    - DELIVRD (and ACCEPTD: read on the subscriber's behalf, §5.2.28) -> 1 delivered;
    - UNDELIV / REJECTD / EXPIRED / DELETED / UNKNOWN with an unknown-subscriber error -> 5;
    - REJECTD -> 4 rejected; UNDELIV, EXPIRED, DELETED, UNKNOWN -> 2 not delivered;
    - ENROUTE (an intermediate notification) -> 3, still transmitted: nothing to record.
    """
    if receipt.stat in (ReceiptStat.DELIVRD, ReceiptStat.ACCEPTD):
        return AckStatus.DELIVERED
    if receipt.stat is ReceiptStat.ENROUTE:
        return AckStatus.TRANSMITTED
    if _error_number(receipt) in unknown_subscriber_errors:
        return AckStatus.UNKNOWN_NUMBER
    if receipt.stat is ReceiptStat.REJECTD:
        return AckStatus.REJECTED
    return AckStatus.NOT_DELIVERED


def format_receipt_text(receipt: Receipt) -> str:
    """Appendix B text for a receipt (the simulator sends it)."""
    return (
        f"id:{receipt.message_id} sub:{receipt.sub or '001'} dlvrd:{receipt.dlvrd or '001'} "
        f"submit date:{receipt.submit_date or ''} done date:{receipt.done_date or ''} "
        f"stat:{receipt.stat.value} err:{receipt.err or '000'} text:{receipt.text or ''}"
    )
