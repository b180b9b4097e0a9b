"""The reports family of API 9.0: getAcks, getAckBySmsId (manual §8–§9), getPulls, getPull,
getPullBySmsId (§10–§12) and getBlacklist (§14); beyond the manual, addToBlacklist,
removeFromBlacklist, setWebhooks and getWebhooks. Answers are described in
docs/api-v9-reports.md."""

from __future__ import annotations

from collections.abc import Sequence

from hirondelle.api.v9.methods import Call, Fields, error, method
from hirondelle.services import reports, webhooks
from hirondelle.services.reports import Ack, BlacklistChange, Reply, ReportError


def _ack(ack: Ack) -> Fields:
    fields: Fields = {
        "phoneNumber": ack.phone_number,
        "status": str(ack.status),
        "comment": ack.comment,
        "receptionDate": ack.reception_date,
        "smsId": ack.sms_id,
    }
    if ack.cli_msg_id:
        fields["cliMsgId"] = ack.cli_msg_id
    return fields


def _mo(reply: Reply) -> Fields:
    fields: Fields = {
        "phoneNumber": reply.phone_number,
        "id": reply.id,
        "campaignId": reply.campaign_id or "",
        "message": reply.message,
        "receptionDate": reply.reception_date,
        "smsId": reply.sms_id or "",
    }
    if reply.cli_msg_id:  # manual §6.2: CLIMSGID comes back with the answers too
        fields["cliMsgId"] = reply.cli_msg_id
    return fields


def _listed(key: str, items: list[Fields]) -> Fields:
    """`{key: items}`; with exactly one item, its fields also at the top level, as the manual's
    getAckBySmsId and getPullBySmsId samples show one answer flat."""
    return {**items[0], key: items} if len(items) == 1 else {key: items}


def _sms_ids(call: Call) -> list[str]:
    ids = reports.split_ids(call.param("smsIds"))
    if not ids:
        raise error("Missing parameter: smsIds")
    return ids


def _campaign_id(call: Call) -> str:
    return call.require("campId", "Missing parameter: campId").strip()


def _common_cli_msg_id(items: Sequence[Ack | Reply]) -> Fields:
    """The manual puts `cliMsgId` beside the acks (§8.2) and the mos (§11.2): given when all the
    messages share one."""
    values = {item.cli_msg_id for item in items}
    value = values.pop() if len(values) == 1 else None
    return {"cliMsgId": value} if value else {}


@method("getAcks")
async def get_acks(call: Call) -> Fields:
    try:
        acks = await reports.acks_of_campaign(call.ctx, call.account, _campaign_id(call))
    except ReportError as exc:
        raise error(str(exc)) from None
    return {"acks": [_ack(ack) for ack in acks], **_common_cli_msg_id(acks)}


@method("getAckBySmsId")
async def get_ack_by_sms_id(call: Call) -> Fields:
    acks = await reports.acks_by_sms_ids(call.ctx, call.account, _sms_ids(call))
    if not acks:
        raise error("Unknown smsId")
    return _listed("acks", [_ack(ack) for ack in acks])


@method("getPulls")
async def get_pulls(call: Call) -> Fields:
    try:
        limit = reports.pull_limit(call.param("limit"))
    except ReportError as exc:
        raise error(str(exc)) from None
    replies = await reports.pull_replies(call.ctx, call.account, limit)
    return {"mos": [_mo(reply) for reply in replies]}


@method("getPull")
async def get_pull(call: Call) -> Fields:
    try:
        replies = await reports.replies_of_campaign(call.ctx, call.account, _campaign_id(call))
    except ReportError as exc:
        raise error(str(exc)) from None
    return {"mos": [_mo(reply) for reply in replies], **_common_cli_msg_id(replies)}


@method("getPullBySmsId")
async def get_pull_by_sms_id(call: Call) -> Fields:
    replies = await reports.replies_by_sms_ids(call.ctx, call.account, _sms_ids(call))
    return _listed("mos", [_mo(reply) for reply in replies])


@method("getBlacklist")
async def get_blacklist(call: Call) -> Fields:
    entries = await reports.blacklist_of(call.ctx, call.account)
    return {
        "blacklist": [
            {"phoneNumber": e.phone_number, "comment": e.comment, "receptionDate": e.reception_date}
            for e in entries
        ]
    }


def _numbers(call: Call) -> list[str]:
    given = call.param("phoneNumber") or call.param("mobile")
    numbers = reports.split_ids(given.replace(" ", "") if given else None)
    if not numbers:
        raise error("Missing parameter: phoneNumber")
    return numbers


def _change_fields(change: BlacklistChange, done: str, unchanged: str) -> Fields:
    if not change.changed and not change.unchanged:
        raise error("No valid phone number")
    return {
        "status": 1,
        "statusText": f"{len(change.changed)} number(s) {done}",
        "phoneNumbers": change.changed,
        unchanged: change.unchanged,
        "invalidNumbers": "|".join(change.invalid),
    }


@method("addToBlacklist")
async def add_to_blacklist(call: Call) -> Fields:
    change = await reports.add_to_blacklist(call.ctx, call.account, _numbers(call))
    return _change_fields(change, "added to the blacklist", "alreadyListed")


@method("removeFromBlacklist")
async def remove_from_blacklist(call: Call) -> Fields:
    change = await reports.remove_from_blacklist(call.ctx, call.account, _numbers(call))
    return _change_fields(change, "removed from the blacklist", "notRemoved")


def _webhook_fields(found: webhooks.WebhookSettings) -> Fields:
    fields: Fields = {
        "receiptUrl": found.receipt_url,
        "replyUrl": found.reply_url,
        "hasSecret": found.has_secret,
        "receiptEvents": found.receipt_events,
        "batch": found.batch,
    }
    if found.new_secret:
        fields["secret"] = found.new_secret
    return fields


@method("setWebhooks")
async def set_webhooks(call: Call) -> Fields:
    names = ("receiptUrl", "replyUrl", "secret", "receiptEvents", "batch")
    given = [call.param(name) for name in names]
    if all(value is None for value in given):
        raise error("Give at least one of " + ", ".join(names))
    receipt_url, reply_url, secret, receipt_events, batch = given
    try:
        found = await webhooks.configure(
            call.ctx,
            call.account.id,
            receipt_url=receipt_url,
            reply_url=reply_url,
            secret=secret,
            receipt_events=receipt_events,
            batch=batch,
        )
    except webhooks.WebhookError as exc:
        raise error(str(exc)) from None
    return _webhook_fields(found)


@method("getWebhooks")
async def get_webhooks(call: Call) -> Fields:
    return _webhook_fields(await webhooks.webhook_settings(call.ctx, call.account.id))
