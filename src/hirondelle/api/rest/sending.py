"""Sending over REST: `POST /sms/send/`, `POST /sms/send/bulk/`, `DELETE /campaign/{id}`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Header, Path

from hirondelle.api.rest import errors
from hirondelle.api.rest.auth import Caller, Ctx
from hirondelle.api.rest.models import (
    BulkAnswer,
    BulkRequest,
    Contact,
    DeleteAnswer,
    SendAnswer,
    SendRequest,
    SmsId,
)
from hirondelle.api.rest.routing import operation
from hirondelle.context import Context
from hirondelle.domain.sender import valid_tpoa
from hirondelle.domain.statuses import (
    DELETE_CAMPAIGN_TEXTS,
    DeleteCampaignStatus,
    send_status_text,
)
from hirondelle.domain.text import BadParamKey, param_index
from hirondelle.services import campaigns, sending
from hirondelle.services.accounts import Account
from hirondelle.services.sending import Recipient, SendOutcome, SendRefused, SmsOrder

router = APIRouter(tags=["sending"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Same as `uniqueIdentifier`: a repeated key returns the first answer.",
    ),
]


def recipient_of(position: int, item: str | Contact) -> Recipient:
    """The recipient at `position` of `to`; a malformed `PARAM_` key refuses the request."""
    if isinstance(item, str):
        return Recipient(mobile=item)
    params: dict[int, str] = {}
    for key, value in (item.model_extra or {}).items():
        try:
            index = param_index(key)
        except BadParamKey as exc:
            shown = key if len(key) <= 40 else key[:20] + "..."
            raise errors.invalid_request(f"to.{position}.{shown}", str(exc)) from None
        if index is not None:
            params[index] = value
    return Recipient(mobile=item.mobilePhone, params=params, cli_msg_id=item.cliMsgId)


async def _send(
    ctx: Context,
    account: Account,
    body: SendRequest | BulkRequest,
    recipients: Sequence[Recipient],
    idempotency_key: str | None,
) -> SendOutcome:
    tpoa = (body.sender or "").strip() or None
    if tpoa is not None and not valid_tpoa(tpoa):
        raise errors.invalid_sender()
    order = SmsOrder(
        message=body.text,
        recipients=recipients,
        tpoa=tpoa,
        date=body.date or None,
        campaign_name=body.campaignName or "",
        commercial=bool(body.commercial),
    )
    try:
        return await sending.send(
            ctx,
            account,
            order,
            simulate=bool(body.simulate),
            idempotency_key=body.uniqueIdentifier or idempotency_key,
            method="rest:sms/send",
        )
    except SendRefused as exc:
        raise errors.refused(exc) from None


@operation(
    router, "POST", "/sms/send/", SendAnswer, errors.SEND_ERRORS, "Send one SMS", status_code=201
)
async def send_sms(
    ctx: Ctx, account: Caller, body: SendRequest, idempotency_key: IdempotencyKey = None
) -> SendAnswer:
    """Accept one SMS to one number: 201 with code 100 (sent) or 101 (scheduled).

    With `simulate`, nothing is sent or charged and `smsId` and `campaignId` are empty.
    """
    recipient = Recipient(mobile=body.to, cli_msg_id=body.cliMsgId)
    outcome = await _send(ctx, account, body, [recipient], idempotency_key)
    simulated = bool(body.simulate)
    return SendAnswer(
        code=int(outcome.status),
        description=send_status_text(outcome.status, date=outcome.scheduled_for),
        smsId="" if simulated or not outcome.sms_ids else outcome.sms_ids[0][1],
        campaignId=outcome.campaign_id,
        invalidNumbers=outcome.invalid_numbers,
        nbContacts=outcome.nb_contacts,
        nbSms=outcome.nb_sms,
        balance=outcome.credits,
        cost=outcome.credits_used,
        scheduledDate=outcome.deferred_to or None,
    )


@operation(
    router,
    "POST",
    "/sms/send/bulk/",
    BulkAnswer,
    errors.SEND_ERRORS,
    "Send one message to many numbers",
    status_code=201,
)
async def send_bulk(
    ctx: Ctx, account: Caller, body: BulkRequest, idempotency_key: IdempotencyKey = None
) -> BulkAnswer:
    """One campaign to a list of numbers or contacts; `#param_N#` takes each contact's PARAM_N."""
    recipients = [recipient_of(position, item) for position, item in enumerate(body.to)]
    outcome = await _send(ctx, account, body, recipients, idempotency_key)
    simulated = bool(body.simulate)
    return BulkAnswer(
        code=int(outcome.status),
        description=send_status_text(outcome.status, date=outcome.scheduled_for),
        campaignId=outcome.campaign_id,
        cost=outcome.credits_used,
        nbSms=outcome.nb_sms,
        nbContacts=outcome.nb_contacts,
        balance=outcome.credits,
        invalidNumbers=outcome.invalid_numbers,
        smsIds=[] if simulated else [SmsId(smsId=s, phoneNumber=p) for p, s in outcome.sms_ids],
        simulate=simulated,
        scheduledDate=outcome.deferred_to or None,
    )


#: The HTTP status of each deleteCampaign outcome other than OK.
DELETE_HTTP_STATUS = {
    DeleteCampaignStatus.CAMPID_NOT_FOUND: 404,
    DeleteCampaignStatus.CAMP_NOT_FOUND: 404,
}


@operation(
    router,
    "DELETE",
    "/campaign/{campaignId}",
    DeleteAnswer,
    {
        **errors.COMMON_ERRORS,
        **errors.NOT_FOUND,
        409: {"model": DeleteAnswer, "description": "The campaign cannot be deleted (any more)"},
    },
    "Delete a scheduled campaign",
)
async def delete_campaign(
    ctx: Ctx, account: Caller, campaign_id: Annotated[str, Path(alias="campaignId")]
) -> DeleteAnswer:
    """Delete a scheduled campaign and refund its credits (API 9.0 deleteCampaign rules)."""
    status = await campaigns.delete_campaign(ctx, account, errors.known_id(campaign_id))
    text = DELETE_CAMPAIGN_TEXTS[status]
    if status != DeleteCampaignStatus.OK:
        http = DELETE_HTTP_STATUS.get(status, 409)
        raise errors.RestError(http, http, text, status=status)
    return DeleteAnswer(code=200, description=text, status=status)
