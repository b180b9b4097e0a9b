"""The send family of API 9.0: sendSms, simulateCampaign, the simplified send (manual §5–§7),
deleteCampaign (§15) and getCreditsByCountryIsoCode (§27)."""

from __future__ import annotations

from typing import Any

from hirondelle.api.v9 import feeds
from hirondelle.api.v9.methods import (
    ACCESS_FAILURES,
    Call,
    Failure,
    Fields,
    MethodError,
    access_refusal,
    error,
    method,
)
from hirondelle.domain.pricing import UnknownCountry
from hirondelle.domain.statuses import (
    DELETE_CAMPAIGN_TEXTS,
    DeleteCampaignStatus,
    SendStatus,
    send_status_text,
)
from hirondelle.domain.text import BadParamKey, param_index
from hirondelle.services import campaigns, sending
from hirondelle.services.sending import Recipient, SendOutcome, SendRefused, SmsOrder


def send_errors(failure: Failure, reason: str) -> Fields:
    """Annex 5 for the failures before the send: 102 for an account that does not match (bad
    credentials, or a `subaccount` that is not the caller's), 109 for a request that cannot be
    read. The table's text, with the reason after a colon unless it is bad credentials. A
    refused address or a throttle: 102 too, with the reason (`access_refusal`)."""
    if failure in ACCESS_FAILURES:
        return access_refusal(reason)
    status = SendStatus.INVALID_FEED if failure is Failure.REQUEST else SendStatus.BAD_CREDENTIALS
    text = send_status_text(status)
    if failure is not Failure.CREDENTIALS:
        text = f"{text}: {reason}"
    return {"status": int(status), "statusText": text}


def _refusal(status: SendStatus) -> MethodError:
    return MethodError({"status": int(status), "statusText": send_status_text(status)})


#: The blocks that hold the recipients: `SMS` (§6.2, appendix 2) and `TEXT` (appendix 1's
#: `<Text>`, which means the same).
RECIPIENT_BLOCKS = ("SMS", "TEXT")
MOBILEPHONE = "MOBILEPHONE"


def order_from_feed(feed: str | None) -> SmsOrder:
    """An SmsOrder from an smsData feed (JSON or XML, manual §6.2 and appendices 1 and 2).

    A number (a MOBILEPHONE tag) anywhere the send does not read it refuses the feed with 109:
    a recipient is never dropped because the feed put it in a place we do not understand.
    """
    try:
        tree = feeds.parse_feed(feed)
    except feeds.EmptyFeed:
        raise _refusal(SendStatus.EMPTY_FEED) from None
    except feeds.InvalidFeed:
        raise _refusal(SendStatus.INVALID_FEED) from None
    dynamic_text = feeds.text_of(tree, "DYNAMIC")
    try:
        dynamic = int(dynamic_text) if dynamic_text is not None else None
    except ValueError:
        raise _refusal(SendStatus.INVALID_FEED) from None
    return SmsOrder(
        message=feeds.text_of(tree, "MESSAGE") or "",
        recipients=_recipients(tree),
        tpoa=feeds.text_of(tree, "TPOA"),
        date=feeds.text_of(tree, "DATE"),
        campaign_name=feeds.text_of(tree, "CAMPAIGN_NAME") or "",
        dynamic=dynamic,
        mail_notif=feeds.text_of(tree, "MAIL_NOTIF") == "1",
        list_name=feeds.text_of(tree, "LISTNAME"),
        shorten=feeds.text_of(tree, "SHORTEN") == "1",
        master_account=feeds.text_of(tree, "MASTERACCOUNT"),
        commercial=feeds.text_of(tree, "COMMERCIAL") == "1",
    )


def _recipients(tree: feeds.Tree) -> list[Recipient]:
    for tag, value in tree.items():
        if tag not in RECIPIENT_BLOCKS and (
            tag == MOBILEPHONE or feeds.holds_tag(value, MOBILEPHONE)
        ):
            raise _refusal(SendStatus.INVALID_FEED)
    found: list[Recipient] = []
    for block in RECIPIENT_BLOCKS:
        for item in feeds.items_of(tree, block):
            found.extend(_block_recipients(item))
    return found


def _block_recipients(item: Any) -> list[Recipient]:
    """The recipients of one block: its MOBILEPHONE (each of them, when it repeats), with the
    block's PARAM_N and CLIMSGID."""
    if isinstance(item, str):
        return [Recipient(mobile=item)]
    if not isinstance(item, dict):
        raise _refusal(SendStatus.INVALID_FEED)
    params: dict[int, str] = {}
    for key, value in item.items():
        if key != MOBILEPHONE and feeds.holds_tag(value, MOBILEPHONE):
            raise _refusal(SendStatus.INVALID_FEED)
        try:
            index = param_index(key)
        except BadParamKey:  # the feed is read leniently: a PARAM_ that is no number is left out
            continue
        if index is not None and isinstance(value, str):
            params[index] = value
    mobiles = item.get(MOBILEPHONE, "")
    mobiles = mobiles if isinstance(mobiles, list) else [mobiles]
    if not all(isinstance(mobile, str) for mobile in mobiles):
        raise _refusal(SendStatus.INVALID_FEED)
    cli_msg_id = feeds.text_of(item, "CLIMSGID")
    return [Recipient(mobile=m, params=params, cli_msg_id=cli_msg_id) for m in mobiles]


async def _send(call: Call, order: SmsOrder, *, simulate: bool = False) -> Fields:
    try:
        outcome = await sending.send(
            call.ctx,
            call.account,
            order,
            simulate=simulate,
            idempotency_key=call.idempotency_key,
            method=call.method,
        )
    except SendRefused as refused:
        return refusal_fields(refused)
    return outcome_fields(outcome)


def outcome_fields(outcome: SendOutcome) -> Fields:
    """The §6.4 answer of an accepted sendSms, keys as DESIGN.md §5 names them, and
    `scheduledDate` when the sending window deferred messages (docs/api-v9.md)."""
    fields: Fields = {
        "status": int(outcome.status),
        "statusText": send_status_text(outcome.status, date=outcome.scheduled_for),
        "invalidNumbers": "|".join(outcome.invalid_numbers),
        "campaignId": outcome.campaign_id,
        "credits": outcome.credits,
        "creditsUsed": outcome.credits_used,
        "nbContacts": outcome.nb_contacts,
        "nbSms": outcome.nb_sms,
        "smsIds": [{"phoneNumber": p, "smsId": s} for p, s in outcome.sms_ids],
    }
    if outcome.deferred_to:
        fields["scheduledDate"] = outcome.deferred_to
    return fields


def refusal_fields(refused: SendRefused) -> Fields:
    """The §6.4 answer of a refused sendSms: status, text, invalid numbers, and the balance when
    it was short of credits."""
    fields: Fields = {
        "status": int(refused.status),
        "statusText": refused.text,
        "invalidNumbers": "|".join(refused.invalid_numbers),
    }
    if refused.status == SendStatus.INSUFFICIENT_CREDITS:
        fields["credits"] = refused.credits or 0
    return fields


@method("sendSms", errors=send_errors, feed="smsData", recent_auth=True)
async def send_sms(call: Call) -> Fields:
    return await _send(call, await feeds.off_loop(order_from_feed, call.param("smsData")))


@method("simulateCampaign", errors=send_errors, feed="smsData")
async def simulate_campaign(call: Call) -> Fields:
    order = await feeds.off_loop(order_from_feed, call.param("smsData"))
    fields = await _send(call, order, simulate=True)
    answer: Fields = {
        "status": fields["status"],
        "statusText": fields["statusText"],
        "invalidNumbers": fields["invalidNumbers"],
        "nbCredits": fields.get("creditsUsed", 0),
        "nbContacts": fields.get("nbContacts", 0),
        "nbSms": fields.get("nbSms", 0),
    }
    if "scheduledDate" in fields:
        answer["scheduledDate"] = fields["scheduledDate"]
    return answer


@method("directSend", errors=send_errors, recent_auth=True)
async def simplified_send(call: Call) -> Fields:
    """The simplified send of §5: plain parameters, `mobile` separated by semicolons."""
    mobiles = [m for m in (call.param("mobile") or "").replace(",", ";").split(";") if m.strip()]
    order = SmsOrder(
        message=call.param("message") or "",
        recipients=[Recipient(mobile=m) for m in mobiles],
        tpoa=call.param("tpoa"),
        date=call.param("date"),
        campaign_name=call.param("campaign") or "",
        shorten=call.param("shorten") == "1",
        commercial=call.param("commercial") == "1",
    )
    return await _send(call, order)


def delete_errors(failure: Failure, reason: str) -> Fields:
    """Annex 7's CAMPIDNOTFOUND "Identification Problem" for every failure before the method runs
    (the reason after a colon, unless it is bad credentials)."""
    text = "Identification Problem"
    if failure is not Failure.CREDENTIALS:
        text = f"{text}: {reason}"
    return {"status": DeleteCampaignStatus.CAMPID_NOT_FOUND, "statusText": text}


@method("deleteCampaign", errors=delete_errors)
async def delete_campaign(call: Call) -> Fields:
    status = await campaigns.delete_campaign(call.ctx, call.account, call.param("campId"))
    return {"status": status, "statusText": DELETE_CAMPAIGN_TEXTS[status]}


@method("getCreditsByCountryIsoCode")
async def credits_by_country(call: Call) -> Fields:
    iso = call.require("countryIsoCode").strip().upper()
    try:
        credits = call.ctx.prices.credits_per_part(iso)
    except UnknownCountry:
        raise error(f"Unknown country ISO code: {iso}") from None
    return {"isoCode": iso, "nbCredits": credits}
