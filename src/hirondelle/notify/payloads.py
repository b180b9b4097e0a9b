"""The variables of the webhook calls (docs/webhooks.md), in the order the query sends them.

A service says what happened in plain values; these functions write it as the manual's
receipt and reply variables, which the webhook sender appends to the account's URL (and signs).
"""

from __future__ import annotations

from hirondelle.domain.statuses import ACK_STATUS_TEXTS, AckStatus


def receipt_params(
    *,
    sms_id: str,
    status: AckStatus,
    received: str,
    phone: str,
    campaign_id: str,
    cli_msg_id: str | None,
) -> dict[str, str]:
    """A delivery report: the message, its annex 6 status and when it came (local time)."""
    params = {
        "smsId": sms_id,
        "status": str(int(status)),
        "statusText": ACK_STATUS_TEXTS[status],
        "receptionDate": received,
        "phoneNumber": phone,
        "campaignId": campaign_id,
    }
    if cli_msg_id:
        params["cliMsgId"] = cli_msg_id
    return params


def reply_params(
    *,
    sms_id: str,
    reply_id: str,
    received: str,
    phone: str,
    campaign_id: str,
    text: str,
    cli_msg_id: str | None,
) -> dict[str, str]:
    """A reply from a handset: the message it answers ("" when none), the reply and its text."""
    params = {
        "smsId": sms_id,
        "smsMoId": reply_id,
        "receptionDate": received,
        "phoneNumber": phone,
        "campaignId": campaign_id,
        "message": text,
    }
    if cli_msg_id:
        params["cliMsgId"] = cli_msg_id
    return params
