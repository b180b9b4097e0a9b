"""Tool methods of API 9.0: shortenUrl (manual §28) and sendEmail (§29)."""

from __future__ import annotations

from hirondelle.api.v9.feeds import EmptyFeed, InvalidFeed, parse_feed, text_of
from hirondelle.api.v9.methods import Call, Fields, error, method
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


def _email_auth_failure() -> Fields:
    return EmailOutcome.refused(EmailStatus.BAD_CREDENTIALS).fields()


def _email_bad_input(_reason: str) -> Fields:
    return EmailOutcome.refused(EmailStatus.INVALID_FEED).fields()


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


@method("sendEmail", auth_failure=_email_auth_failure, feed="emailData", bad_input=_email_bad_input)
async def send_email(call: Call) -> Fields:
    try:
        draft = _email_draft(call.param("emailData"))
    except EmptyFeed:
        return EmailOutcome.refused(EmailStatus.EMPTY_FEED).fields()
    except InvalidFeed as exc:
        return EmailOutcome.refused(EmailStatus.INVALID_FEED, str(exc)).fields()
    outcome = await email.send_email(call.ctx, call.account, draft)
    return outcome.fields()
