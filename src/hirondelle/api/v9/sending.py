"""The send family of API 9.0: sendSms, simulateCampaign, the simplified send (manual §5–§7),
deleteCampaign (§15) and getCreditsByCountryIsoCode (§27)."""

from __future__ import annotations

from typing import Any

from hirondelle.api.v9 import feeds
from hirondelle.api.v9.methods import Call, Fields, MethodError, error, method
from hirondelle.domain.pricing import UnknownCountry
from hirondelle.domain.statuses import (
    DELETE_CAMPAIGN_TEXTS,
    DeleteCampaignStatus,
    SendStatus,
    send_status_text,
)
from hirondelle.services import campaigns, sending
from hirondelle.services.sending import Recipient, SendRefused, SmsOrder


def send_auth_failure() -> Fields:
    status = SendStatus.BAD_CREDENTIALS
    return {"status": int(status), "statusText": send_status_text(status)}


def _refusal(status: SendStatus) -> MethodError:
    return MethodError({"status": int(status), "statusText": send_status_text(status)})


def send_bad_input(_reason: str) -> Fields:
    return _refusal(SendStatus.INVALID_FEED).fields


def order_from_feed(feed: str | None) -> SmsOrder:
    """An SmsOrder from an smsData feed (JSON or XML, manual §6.2 and appendices 1 and 2)."""
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
        recipients=[_recipient(item) for item in feeds.items_of(tree, "SMS")],
        tpoa=feeds.text_of(tree, "TPOA"),
        date=feeds.text_of(tree, "DATE"),
        campaign_name=feeds.text_of(tree, "CAMPAIGN_NAME") or "",
        dynamic=dynamic,
        mail_notif=feeds.text_of(tree, "MAIL_NOTIF") == "1",
        list_name=feeds.text_of(tree, "LISTNAME"),
        shorten=feeds.text_of(tree, "SHORTEN") == "1",
        master_account=feeds.text_of(tree, "MASTERACCOUNT"),
    )


def _recipient(item: Any) -> Recipient:
    if not isinstance(item, dict):
        return Recipient(mobile=str(item))
    params: dict[int, str] = {}
    for key, value in item.items():
        # isdecimal, not isdigit: int() refuses "²", and more than 4300 digits.
        number = key[6:]
        valid = key.startswith("PARAM_") and number.isdecimal() and len(number) < 100
        if valid and isinstance(value, str):
            params[int(number)] = value
    return Recipient(
        mobile=str(item.get("MOBILEPHONE") or ""),
        params=params,
        cli_msg_id=feeds.text_of(item, "CLIMSGID"),
    )


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
        outcome = sending.refusal_outcome(refused)
    return sending.outcome_fields(outcome)


@method("sendSms", auth_failure=send_auth_failure, feed="smsData", bad_input=send_bad_input)
async def send_sms(call: Call) -> Fields:
    return await _send(call, await feeds.off_loop(order_from_feed, call.param("smsData")))


@method(
    "simulateCampaign", auth_failure=send_auth_failure, feed="smsData", bad_input=send_bad_input
)
async def simulate_campaign(call: Call) -> Fields:
    order = await feeds.off_loop(order_from_feed, call.param("smsData"))
    fields = await _send(call, order, simulate=True)
    return {
        "status": fields["status"],
        "statusText": fields["statusText"],
        "invalidNumbers": fields["invalidNumbers"],
        "nbCredits": fields.get("creditsUsed", 0),
        "nbContacts": fields.get("nbContacts", 0),
        "nbSms": fields.get("nbSms", 0),
    }


@method("directSend", auth_failure=send_auth_failure, bad_input=send_bad_input)
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
    )
    return await _send(call, order)


def delete_auth_failure() -> Fields:
    return {"status": DeleteCampaignStatus.CAMPID_NOT_FOUND, "statusText": "Identification Problem"}


def delete_bad_input(_reason: str) -> Fields:
    status = DeleteCampaignStatus.CAMP_NOT_FOUND
    return {"status": status, "statusText": DELETE_CAMPAIGN_TEXTS[status]}


@method("deleteCampaign", auth_failure=delete_auth_failure, bad_input=delete_bad_input)
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
