"""Email delivery: an SMTP relay (aiosmtplib) or, with no relay configured, a local maildir.

A mailer takes a batch of emails and tells, for each, what happened: `sent`, `rejected` (the relay
refused it for good: a 5xx answer) or `retry` (a 4xx answer, a connection failure: try later).
The SMTP mailer sends a batch over one connection, one transaction per recipient (recipients
never see each other's address). Messages are multipart/alternative: text, then HTML.
"""

from __future__ import annotations

import asyncio
import mailbox
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib

from hirondelle.config import Settings

State = Literal["sent", "rejected", "retry"]


@dataclass(frozen=True)
class OutgoingEmail:
    id: int
    sender: str
    alias: str
    recipient: str
    reply_to: str
    subject: str
    html: str
    text: str
    campaign: str


@dataclass(frozen=True)
class Outcome:
    state: State
    detail: str = ""


class Mailer(Protocol):
    async def deliver(self, emails: Sequence[OutgoingEmail]) -> dict[int, Outcome]: ...


def build_message(email: OutgoingEmail) -> EmailMessage:
    """The MIME message of one email to one recipient.

    Header values were checked for line breaks when the email was accepted; the `email` package
    refuses them again here, so a header can never be injected.
    """
    message = EmailMessage()
    local, _, domain = email.sender.rpartition("@")
    message["From"] = Address(display_name=email.alias, username=local, domain=domain)
    message["To"] = email.recipient
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(idstring=f"{email.campaign}.{email.id}", domain=domain)
    message["X-Hirondelle-Campaign"] = email.campaign
    message.set_content(email.text)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    return message


def _response_outcome(code: int, message: str) -> Outcome:
    return Outcome("rejected" if code >= 500 else "retry", f"{code} {message}"[:512])


class SmtpMailer:
    """Delivery through an SMTP relay, one connection per batch."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_tls == "tls",
            start_tls=s.smtp_tls == "starttls",  # never opportunistic: "none" means none
            username=s.smtp_username or None,
            password=s.smtp_password or None,
            timeout=s.smtp_timeout,
        )

    async def deliver(self, emails: Sequence[OutgoingEmail]) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        smtp = self._client()
        try:
            await smtp.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            return {e.id: Outcome("retry", f"relay unavailable: {exc}"[:512]) for e in emails}
        try:
            for email in emails:
                try:
                    outcomes[email.id] = await self._send_one(smtp, email)
                except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError):
                    break  # the rest of the batch is retried
        finally:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()
        for email in emails:
            outcomes.setdefault(email.id, Outcome("retry", "connection to the relay lost"))
        return outcomes

    async def _send_one(self, smtp: aiosmtplib.SMTP, email: OutgoingEmail) -> Outcome:
        message = build_message(email)
        try:
            _errors, response = await smtp.send_message(
                message, sender=email.sender, recipients=[email.recipient]
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0]
            return _response_outcome(refusal.code, refusal.message)
        except aiosmtplib.SMTPResponseException as exc:
            return _response_outcome(exc.code, exc.message)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
            raise
        except aiosmtplib.SMTPException as exc:
            return Outcome("retry", str(exc)[:512])
        return Outcome("sent", response[:512])


class MaildirMailer:
    """Delivery into a local maildir (`var_dir/mail`), when no relay is configured."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _write(self, emails: Sequence[OutgoingEmail]) -> dict[int, Outcome]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        box = mailbox.Maildir(self.path, create=True)
        outcomes = {}
        for email in emails:
            key = box.add(mailbox.MaildirMessage(build_message(email)))
            outcomes[email.id] = Outcome("sent", f"maildir {key}")
        return outcomes

    async def deliver(self, emails: Sequence[OutgoingEmail]) -> dict[int, Outcome]:
        return await asyncio.to_thread(self._write, emails)


def maildir_path(settings: Settings) -> Path:
    return Path(settings.var_dir) / "mail"


def mailer_for(settings: Settings) -> Mailer:
    """The relay when `smtp_host` is set, else the local maildir."""
    if settings.smtp_host:
        return SmtpMailer(settings)
    return MaildirMailer(maildir_path(settings))
