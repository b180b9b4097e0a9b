"""What comes back over REST: reports of a campaign or of messages, and replies (consume-once)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path, Query

from hirondelle.api.rest import errors
from hirondelle.api.rest.auth import Caller, Ctx
from hirondelle.api.rest.models import RepliesAnswer, Reply, Report, ReportsAnswer
from hirondelle.api.rest.routing import operation
from hirondelle.services import reports
from hirondelle.services.reports import Ack

router = APIRouter(tags=["reports"])

REPORT_RESPONSES = {**errors.COMMON_ERRORS, **errors.NOT_FOUND}


def _reports(acks: Sequence[Ack]) -> ReportsAnswer:
    return ReportsAnswer(
        code=200,
        description=f"{len(acks)} report(s)",
        reports=[
            Report(
                phoneNumber=ack.phone_number,
                smsId=ack.sms_id,
                cliMsgId=ack.cli_msg_id,
                code=ack.status,
                description=ack.comment,
                receptionDate=ack.reception_date,
            )
            for ack in acks
        ],
    )


@operation(
    router,
    "GET",
    "/report/campaign/{campaignId}",
    ReportsAnswer,
    REPORT_RESPONSES,
    "Delivery reports of a campaign",
)
async def campaign_reports(
    ctx: Ctx, account: Caller, campaign_id: Annotated[str, Path(alias="campaignId")]
) -> ReportsAnswer:
    """The latest status of every message of the campaign, in the order they were accepted."""
    try:
        acks = await reports.acks_of_campaign(ctx, account, errors.known_id(campaign_id))
    except reports.CampaignNotFound as exc:
        raise errors.not_found(str(exc)) from None
    return _reports(acks)


@operation(
    router,
    "GET",
    "/report/sms/{smsId}",
    ReportsAnswer,
    REPORT_RESPONSES,
    "Delivery report of messages",
)
async def sms_reports(
    ctx: Ctx, account: Caller, sms_id: Annotated[str, Path(alias="smsId")]
) -> ReportsAnswer:
    """The latest status of one message (or several, their smsIds separated by commas)."""
    acks = await reports.acks_by_sms_ids(ctx, account, reports.split_ids(errors.known_id(sms_id)))
    if not acks:
        raise errors.not_found(f"Message not found: {sms_id}")
    return _reports(acks)


@operation(
    router,
    "GET",
    "/replies",
    RepliesAnswer,
    errors.COMMON_ERRORS,
    "Replies not read before (each is handed out once)",
)
async def pull_replies(
    ctx: Ctx,
    account: Caller,
    limit: Annotated[int, Query(ge=1, le=reports.MAX_PULL_LIMIT)] = reports.DEFAULT_PULL_LIMIT,
) -> RepliesAnswer:
    """Replies to the account's messages not handed out before, newest first, at most `limit`.

    Each reply is handed out once, even to concurrent callers: store them before asking again.
    """
    found = await reports.pull_replies(ctx, account, limit)
    return RepliesAnswer(
        code=200,
        description=f"{len(found)} reply(ies)",
        replies=[
            Reply(
                id=reply.id,
                phoneNumber=reply.phone_number,
                smsId=reply.sms_id or "",
                campaignId=reply.campaign_id or "",
                message=reply.message,
                receptionDate=reply.reception_date,
            )
            for reply in found
        ],
    )
