"""Status codes and their texts, as the manual's annexes list them.

The texts are the manual's, lightly corrected where the translation garbled them; clients match on
the numbers, people read the texts.
"""

from __future__ import annotations

from enum import IntEnum


class SendStatus(IntEnum):
    """Annex 5: the answer of sendSms, simulateCampaign and the simplified send."""

    SENT = 100
    SCHEDULED = 101
    BAD_CREDENTIALS = 102
    INSUFFICIENT_CREDITS = 104
    EMPTY_FEED = 105
    INVALID_FEED = 109
    EMPTY_MESSAGE = 110
    MESSAGE_TOO_LONG = 111
    NO_VALID_NUMBER = 114
    BAD_DATE = 115


SEND_STATUS_TEXTS: dict[SendStatus, str] = {
    SendStatus.SENT: "The message has been sent",
    SendStatus.SCHEDULED: "The message was scheduled to be sent at {date}",
    SendStatus.BAD_CREDENTIALS: (
        "Connection Problem - No account matches the specified clientcode and apiKey"
    ),
    SendStatus.INSUFFICIENT_CREDITS: (
        "Insufficient credit to handle the shipment. Use: {used} Credits, "
        "Available: {available} Credits. Please re-credit your account"
    ),
    SendStatus.EMPTY_FEED: "Empty XML Feeds",
    SendStatus.INVALID_FEED: "Invalid or incomplete XML after the <MESSAGE>",
    SendStatus.EMPTY_MESSAGE: "Undefined message (empty) in the XML stream",
    SendStatus.MESSAGE_TOO_LONG: "The message exceeds the number of characters",
    SendStatus.NO_VALID_NUMBER: (
        "No valid phone number in the stream. Please refer to the online documentation "
        "to know the valid formats."
    ),
    SendStatus.BAD_DATE: "Invalid XML feed or badly formatted dates between the <DATE> and </DATE>",
}


def send_status_text(status: SendStatus, **values: object) -> str:
    """The text of a send status, with its placeholders (date, used, available) filled in."""
    text = SEND_STATUS_TEXTS[status]
    return text.format(**values) if values else text.replace(" {date}", "")


class AckStatus(IntEnum):
    """Annex 6: the status of one message, as getAcks and the receipt webhook report it."""

    DELIVERED = 1
    NOT_DELIVERED = 2
    TRANSMITTED = 3
    REJECTED = 4
    UNKNOWN_NUMBER = 5


#: The status a message holds while no SMSC has taken it: not one of annex 6 (getAcks reports it
#: as transmitted, with a comment saying it waits).
NOT_SUBMITTED = 0

ACK_STATUS_TEXTS: dict[AckStatus, str] = {
    AckStatus.DELIVERED: "Delivered",
    AckStatus.NOT_DELIVERED: "Not delivered (sent by the operator)",
    AckStatus.TRANSMITTED: "Transmitted to the operator",
    AckStatus.REJECTED: "Message rejected",
    AckStatus.UNKNOWN_NUMBER: "SMS rejected (probably unknown number / missing subscriber)",
}


class DeleteCampaignStatus:
    """Annex 7: the answers of deleteCampaign (strings, not numbers)."""

    CAMPID_NOT_FOUND = "CAMPIDNOTFOUND"
    CAMP_NOT_FOUND = "CAMPNOTFOUND"
    NOT_SCHEDULED = "BADCAMPAIGSENDINGTYPE"
    ALREADY_DELETED = "CAMPAIGNALREADYDELETED"
    BAD_STATUS = "BCAMPAIGNSTATUS"
    BAD_DATE = "BADDATETOSEND"
    ALREADY_SENT = "CAMPALREADYSENT"
    OK = "OK"


DELETE_CAMPAIGN_TEXTS: dict[str, str] = {
    DeleteCampaignStatus.CAMPID_NOT_FOUND: "Campid parameter missing",
    DeleteCampaignStatus.CAMP_NOT_FOUND: "The campaign was not found",
    DeleteCampaignStatus.NOT_SCHEDULED: "The campaign is not scheduled",
    DeleteCampaignStatus.ALREADY_DELETED: "Campaign already deleted",
    DeleteCampaignStatus.BAD_STATUS: "The status of the campaign is wrong",
    DeleteCampaignStatus.BAD_DATE: "The mailing date is corrupted",
    DeleteCampaignStatus.ALREADY_SENT: "The campaign has already been sent",
    DeleteCampaignStatus.OK: "The campaign has been deleted",
}
