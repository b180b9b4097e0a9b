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
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib

from hirondelle.config import Settings
from hirondelle.domain.email import has_encoded_word, header_value

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


class UnsafeHeader(ValueError):
    """A header value that could inject headers; the email is refused, never sent."""


def _checked(value: str, *, address: bool = False) -> str:
    try:
        checked = header_value(value)
    except ValueError as exc:
        raise UnsafeHeader(f"refused header value {value[:80]!r}: {exc}") from None
    if address and (has_encoded_word(value) or checked != value.strip()):
        raise UnsafeHeader(f"refused address {value[:80]!r}: an encoded word")
    return checked


def build_message(email: OutgoingEmail) -> EmailMessage:
    """The MIME message of one email to one recipient.

    Header values were checked when the email was accepted; they are checked again here, with
    our own RFC 2047 decoding (UnsafeHeader), since a vulnerable `email` package would write
    an encoded CR LF out raw (CVE-2024-6923).
    """
    message = EmailMessage()
    local, _, domain = _checked(email.sender, address=True).rpartition("@")
    message["From"] = Address(display_name=_checked(email.alias), username=local, domain=domain)
    message["To"] = _checked(email.recipient, address=True)
    if email.reply_to:
        message["Reply-To"] = _checked(email.reply_to, address=True)
    message["Subject"] = _checked(email.subject)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(idstring=f"{email.campaign}.{email.id}", domain=domain)
    message["X-Hirondelle-Campaign"] = email.campaign
    message.set_content(email.text)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    return message


def render_message(email: OutgoingEmail) -> bytes:
    """The bytes of the message (CRLF line ends), verified to hold exactly the headers set.

    The last line of defence: whatever the `email` package does with a value, a header or a
    body that was not set here never leaves (UnsafeHeader).
    """
    message = build_message(email)
    data = message.as_bytes(policy=policy.SMTP)
    head, blank, _body = data.partition(b"\r\n\r\n")
    names = [
        line.partition(b":")[0].decode("ascii", "replace").lower()
        for line in head.split(b"\r\n")
        if line and line[:1] not in b" \t"
    ]
    if not blank or sorted(names) != sorted(key.lower() for key in message):
        raise UnsafeHeader(f"the message's headers are not the ones set: {names}")
    return data


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
        try:
            message = render_message(email)
        except UnsafeHeader as exc:
            return Outcome("rejected", str(exc)[:512])
        try:
            _errors, response = await smtp.sendmail(email.sender, [email.recipient], message)
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
            try:
                message = render_message(email)
            except UnsafeHeader as exc:
                outcomes[email.id] = Outcome("rejected", str(exc)[:512])
                continue
            key = box.add(mailbox.MaildirMessage(message))
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
