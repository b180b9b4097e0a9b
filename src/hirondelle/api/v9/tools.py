"""Tool methods of API 9.0: shortenUrl (manual §28) and sendEmail (§29)."""

from __future__ import annotations

from hirondelle.api.v9.feeds import EmptyFeed, InvalidFeed, parse_feed, text_of
from hirondelle.api.v9.methods import (
    ACCESS_FAILURES,
    Call,
    Failure,
    Fields,
    access_refusal,
    error,
    method,
)
from hirondelle.domain.email import EmailDraft, EmailStatus
from hirondelle.services import email, links
from hirondelle.services.email import EmailOutcome


@method("shortenUrl")
async def shorten_url(call: Call) -> Fields:
    url = call.require("url", "Missing parameter: url (the http or https URL to shorten)")
    try:
        link = await links.shorten(call.ctx, call.account.id, url)
    except links.LinkRefused as exc:
        raise error(f"URL refused: {exc}") from exc
    return {"url": link.target, "shortUrl": link.short_url}


def email_fields(outcome: EmailOutcome) -> Fields:
    """The §29.3 answer of sendEmail: status and text; with the campaign, once accepted."""
    fields: Fields = {"status": int(outcome.status), "statusText": outcome.text}
    if outcome.campaign_id:
        fields["campaignId"] = outcome.campaign_id
        fields["invalidEmails"] = "|".join(outcome.invalid)
        fields["credits"] = outcome.credits
    return fields


def _email_errors(failure: Failure, reason: str) -> Fields:
    """Annex 21, as sendSms answers annex 5: 102 for an account that does not match (bad
    credentials, an unknown `subaccount`), 109 for a request that cannot be read; 102 with the
    reason for a refused address or a throttle."""
    if failure in ACCESS_FAILURES:
        return access_refusal(reason)
    if failure is Failure.CREDENTIALS:
        return email_fields(EmailOutcome.refused(EmailStatus.BAD_CREDENTIALS))
    if failure is Failure.SUBACCOUNT:
        return email_fields(EmailOutcome.refused(EmailStatus.BAD_CREDENTIALS, reason))
    return email_fields(EmailOutcome.refused(EmailStatus.INVALID_FEED, reason))


def _email_draft(feed: str | None) -> EmailDraft:
    tree = parse_feed(feed)
    text = text_of(tree, "MAILTEXT")
    return EmailDraft(
        sender=text_of(tree, "FROM"),
        to=text_of(tree, "TO"),
        subject=text_of(tree, "SUBJECT"),
        html=text_of(tree, "HTML"),
        alias=text_of(tree, "ALIAS"),
        text=text.replace("\\n", "\n") if text else None,
        date=text_of(tree, "DATE"),
        campaign_name=text_of(tree, "CAMPAIGN_NAME"),
        reply_to=text_of(tree, "REPLY_TO", "REPLYTO"),
    )


@method("sendEmail", errors=_email_errors, feed="emailData")
async def send_email(call: Call) -> Fields:
    try:
        draft = _email_draft(call.param("emailData"))
    except EmptyFeed:
        return email_fields(EmailOutcome.refused(EmailStatus.EMPTY_FEED))
    except InvalidFeed as exc:
        return email_fields(EmailOutcome.refused(EmailStatus.INVALID_FEED, str(exc)))
    outcome = await email.send_email(call.ctx, call.account, draft)
    return email_fields(outcome)
