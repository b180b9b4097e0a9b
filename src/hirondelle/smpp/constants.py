"""SMPP 3.4 numbers: command ids (§5.1.2), command_status (§5.1.3), TLV tags (§5.3.2),
message states (§5.2.28) and the few field values we set (§5.2).

They are `IntEnum`s for readability; PDU fields hold plain `int`s so that a value we do not
know (a vendor's error code, a future command) still decodes.
"""

from __future__ import annotations

from enum import IntEnum

from hirondelle.domain.text import DATA_CODING_GSM
from hirondelle.domain.text import DATA_CODING_LATIN1 as DATA_CODING_LATIN1
from hirondelle.domain.text import DATA_CODING_UCS2 as DATA_CODING_UCS2

INTERFACE_VERSION = 0x34  # §5.2.4: SMPP 3.4
HEADER_LENGTH = 16  # §3.2: command_length, command_id, command_status, sequence_number
MAX_SEQUENCE_NUMBER = 0x7FFFFFFF  # §5.1.4
RESPONSE_BIT = 0x80000000  # §5.1.2: a response's command_id is its request's | 0x80000000


class CommandId(IntEnum):
    """§5.1.2.1."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


class CommandStatus(IntEnum):
    """§5.1.3. Values 0x400-0x4FF are reserved for SMSC vendors and may appear too."""

    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RINVBNDSTS = 0x04
    ESME_RALYBND = 0x05
    ESME_RINVPRTFLG = 0x06
    ESME_RINVREGDLVFLG = 0x07
    ESME_RSYSERR = 0x08
    ESME_RINVSRCADR = 0x0A
    ESME_RINVDSTADR = 0x0B
    ESME_RINVMSGID = 0x0C
    ESME_RBINDFAIL = 0x0D
    ESME_RINVPASWD = 0x0E
    ESME_RINVSYSID = 0x0F
    ESME_RCANCELFAIL = 0x11
    ESME_RREPLACEFAIL = 0x13
    ESME_RMSGQFUL = 0x14
    ESME_RINVSERTYP = 0x15
    ESME_RINVNUMDESTS = 0x33
    ESME_RINVDLNAME = 0x34
    ESME_RINVDESTFLAG = 0x40
    ESME_RINVSUBREP = 0x42
    ESME_RINVESMCLASS = 0x43
    ESME_RCNTSUBDL = 0x44
    ESME_RSUBMITFAIL = 0x45
    ESME_RINVSRCTON = 0x48
    ESME_RINVSRCNPI = 0x49
    ESME_RINVDSTTON = 0x50
    ESME_RINVDSTNPI = 0x51
    ESME_RINVSYSTYP = 0x53
    ESME_RINVREPFLAG = 0x54
    ESME_RINVNUMMSGS = 0x55
    ESME_RTHROTTLED = 0x58
    ESME_RINVSCHED = 0x61
    ESME_RINVEXPIRY = 0x62
    ESME_RINVDFTMSGID = 0x63
    ESME_RX_T_APPN = 0x64  # ESME receiver temporary app error: the SMSC should retry
    ESME_RX_P_APPN = 0x65  # ESME receiver permanent app error: the SMSC should not retry
    ESME_RX_R_APPN = 0x66  # ESME receiver reject message error
    ESME_RQUERYFAIL = 0x67
    ESME_RINVOPTPARSTREAM = 0xC0
    ESME_ROPTPARNOTALLWD = 0xC1
    ESME_RINVPARLEN = 0xC2
    ESME_RMISSINGOPTPARAM = 0xC3
    ESME_RINVOPTPARAMVAL = 0xC4
    ESME_RDELIVERYFAILURE = 0xFE
    ESME_RUNKNOWNERR = 0xFF


# Statuses after which the same submit may succeed later: the SMSC is busy, not refusing it.
TEMPORARY_STATUSES = frozenset({CommandStatus.ESME_RTHROTTLED, CommandStatus.ESME_RMSGQFUL})


def status_name(status: int) -> str:
    """`ESME_RTHROTTLED` for 0x58, `0x00000401` for a vendor code."""
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"


class Tag(IntEnum):
    """§5.3.2: the optional parameters (TLVs) we read or write by name."""

    RECEIPTED_MESSAGE_ID = 0x001E
    USER_MESSAGE_REFERENCE = 0x0204
    SAR_MSG_REF_NUM = 0x020C
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427


class MessageState(IntEnum):
    """§5.2.28, carried by query_sm_resp and the message_state TLV of a receipt."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


class Ton(IntEnum):
    """§5.2.5 type of number."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER_NUMBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class Npi(IntEnum):
    """§5.2.6 numbering plan indicator (the ones in use)."""

    UNKNOWN = 0
    ISDN = 1


# §5.2.12 esm_class bits.
ESM_CLASS_DELIVERY_RECEIPT = 0x04  # message type: SMSC delivery receipt
ESM_CLASS_UDHI = 0x40  # GSM feature: the short message starts with a user data header

# §5.2.19 data_coding values we produce and read: the character-set rules of domain/text.py.
DATA_CODING_DEFAULT = DATA_CODING_GSM
