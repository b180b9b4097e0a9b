"""Email rules of sendEmail (manual §29): addresses, headers, content and annex 21's statuses.

Pure rules, no I/O. A draft (the feed's fields, as strings) is checked in the manual's order of
statuses; the first failure wins, as for sendSms. A line break in a header field (FROM, ALIAS,
REPLY_TO, SUBJECT, a recipient) is never let through: it is how headers get injected.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from html.parser import HTMLParser
from typing import Final

from hirondelle.domain.dates import BadDate, parse_send_date
from hirondelle.domain.statuses import SEND_STATUS_TEXTS

MAX_ADDRESS_LENGTH: Final = 254
MAX_SUBJECT_LENGTH: Final = 998  # RFC 5322 line limit
MAX_ALIAS_LENGTH: Final = 255
MAX_HTML_BYTES: Final = 2 * 1024 * 1024
MAX_RECIPIENTS: Final = 10_000


class EmailStatus(IntEnum):
    """Annex 21: the answer of sendEmail."""

    SENT = 100
    SCHEDULED = 101
    BAD_CREDENTIALS = 102
    INSUFFICIENT_CREDITS = 104
    EMPTY_FEED = 105
    BAD_SENDER = 106
    EMPTY_SUBJECT = 107
    INVALID_FEED = 109
    NO_RECIPIENT = 110
    NO_VALID_EMAIL = 114
    BAD_DATE = 115


#: The statuses sendSms shares keep sendSms's texts (annex 5); the others are annex 21's.
EMAIL_STATUS_TEXTS: dict[EmailStatus, str] = {
    **{
        EmailStatus(status.value): text
        for status, text in SEND_STATUS_TEXTS.items()
        if status.value in {100, 101, 102, 104, 115}
    },
    EmailStatus.EMPTY_FEED: "Empty XML / JSON",
    EmailStatus.BAD_SENDER: "Email address of the sender invalid or void",
    EmailStatus.EMPTY_SUBJECT: "Subject of the email is empty or invalid",
    EmailStatus.INVALID_FEED: "Invalid XML / JSON or incomplete after the <HTML>",
    EmailStatus.NO_RECIPIENT: "Emails undefined recipients (empty) in the XML stream",
    EmailStatus.NO_VALID_EMAIL: (
        "No valid email address in the stream. Please refer to the online documentation "
        "to know the valid formats."
    ),
}


def email_status_text(status: EmailStatus, **values: object) -> str:
    text = EMAIL_STATUS_TEXTS[status]
    return text.format(**values) if values else text.replace(" {date}", "")


class EmailRejected(ValueError):
    """A sendEmail request refused with an annex 21 status; `text` is its statusText."""

    def __init__(self, status: EmailStatus, detail: str = "") -> None:
        text = email_status_text(status) + (f": {detail}" if detail else "")
        super().__init__(text)
        self.status = status
        self.text = text


# -- addresses ---------------------------------------------------------------------------------

_LOCAL: Final = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL: Final = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_LINE_BREAK: Final = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_BASE64: Final = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")  # standard or URL-safe alphabet


def has_line_break(value: str) -> bool:
    return _LINE_BREAK.search(value) is not None


def normalize_address(value: str) -> str | None:
    """The address in a canonical form (IDN domain in ASCII, lower case), or None if invalid.

    Accepted: a dot-atom local part of ASCII characters and a domain of at least two labels
    whose last is alphabetic; no display name, no quoted local part, no control character.
    """
    value = value.strip()
    if not value or _CONTROL.search(value) or has_line_break(value):
        return None
    local, at, domain = value.rpartition("@")
    if not at or not local or len(local) > 64 or _LOCAL.fullmatch(local) is None:
        return None
    try:
        domain = domain.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if not (labels[-1].isalpha() or labels[-1].startswith("xn--")):
        return None
    address = f"{local}@{domain}"
    return address if len(address) <= MAX_ADDRESS_LENGTH else None


def split_recipients(value: str) -> tuple[list[str], list[str]]:
    """(valid addresses, invalid entries) of a TO field: `;` or `,` separated, duplicates once.

    Line breaks are not separators: an entry holding one is invalid (it would be a header).
    """
    valid: list[str] = []
    invalid: list[str] = []
    seen: set[str] = set()
    for entry in re.split(r"[;,]", value):
        stripped = entry.strip()
        if not stripped:
            continue
        address = normalize_address(stripped)
        if address is None:
            invalid.append(_LINE_BREAK.sub(" ", stripped).strip())
        elif address.lower() not in seen:
            seen.add(address.lower())
            valid.append(address)
    return valid, invalid


# -- content -----------------------------------------------------------------------------------


def decode_html(value: str) -> str:
    """The HTML of a base64 HTML field (line breaks and spaces in the base64 ignored).

    Raises ValueError with a reason when it is not base64 or too large. UTF-8 is expected;
    other bytes are read as Windows-1252, what such legacy HTML usually is.
    """
    compact = re.sub(r"\s+", "", value)
    if _BASE64.fullmatch(compact) is None:
        raise ValueError("the HTML is not valid base64")
    compact = compact.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the HTML is not valid base64") from exc
    if len(raw) > MAX_HTML_BYTES:
        raise ValueError(f"the HTML is larger than {MAX_HTML_BYTES // 1024 // 1024} MB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


class _TextOfHtml(HTMLParser):
    BLOCKS: Final = frozenset(
        {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr"}
    )
    SKIPPED: Final = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.href = href if href.startswith(("http://", "https://")) else None

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag == "a" and self.href:
            self.parts.append(f" ({self.href})")
            self.href = None

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """A plain-text version of an HTML body, for the text/plain part when MAILTEXT is absent."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


# -- a whole request ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EmailDraft:
    """The fields of an emailData feed, as given (None when absent)."""

    sender: str | None
    to: str | None
    subject: str | None
    html: str | None
    alias: str | None = None
    text: str | None = None
    date: str | None = None
    campaign_name: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True)
class CheckedEmail:
    sender: str
    alias: str
    reply_to: str
    subject: str
    html: str
    text: str
    recipients: list[str]
    invalid: list[str]
    due_at: datetime | None  # None: now
    campaign_name: str


def _one_line(value: str | None, status: EmailStatus, name: str) -> str:
    value = (value or "").strip()
    if has_line_break(value) or _CONTROL.search(value.replace("\t", " ")):
        raise EmailRejected(status, f"{name} must be on one line (no line break)")
    return value


def check_draft(draft: EmailDraft, tz: str, now: datetime) -> CheckedEmail:
    """The checked email, or EmailRejected with the status of the first rule it breaks."""
    if not (draft.sender or "").strip():
        raise EmailRejected(EmailStatus.BAD_SENDER)
    sender_field = _one_line(draft.sender, EmailStatus.BAD_SENDER, "FROM")
    sender = normalize_address(sender_field)
    if sender is None:
        raise EmailRejected(EmailStatus.BAD_SENDER, f"{sender_field!r} is not an email address")
    alias = _one_line(draft.alias, EmailStatus.BAD_SENDER, "ALIAS")[:MAX_ALIAS_LENGTH]
    reply_field = _one_line(draft.reply_to, EmailStatus.BAD_SENDER, "REPLY_TO")
    reply_to = normalize_address(reply_field) if reply_field else ""
    if reply_to is None:
        raise EmailRejected(
            EmailStatus.BAD_SENDER, f"REPLY_TO {reply_field!r} is not an email address"
        )
    if not (draft.subject or "").strip():
        raise EmailRejected(EmailStatus.EMPTY_SUBJECT)
    subject = _one_line(draft.subject, EmailStatus.EMPTY_SUBJECT, "SUBJECT")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise EmailRejected(EmailStatus.EMPTY_SUBJECT, "SUBJECT is too long")
    if not (draft.to or "").strip():
        raise EmailRejected(EmailStatus.NO_RECIPIENT)
    html, text = _content(draft)
    recipients, invalid = split_recipients(draft.to or "")
    if not recipients:
        raise EmailRejected(EmailStatus.NO_VALID_EMAIL)
    if len(recipients) > MAX_RECIPIENTS:
        raise EmailRejected(EmailStatus.INVALID_FEED, f"more than {MAX_RECIPIENTS} recipients")
    try:
        due_at = parse_send_date(draft.date, tz, now)
    except BadDate as exc:
        raise EmailRejected(EmailStatus.BAD_DATE) from exc
    name = _one_line(draft.campaign_name, EmailStatus.INVALID_FEED, "CAMPAIGN_NAME")[:255]
    return CheckedEmail(
        sender, alias, reply_to, subject, html, text, recipients, invalid, due_at, name
    )


def _content(draft: EmailDraft) -> tuple[str, str]:
    """(html, text) of the email: HTML from base64, text from MAILTEXT or derived from HTML."""
    text = (draft.text or "").replace("\r\n", "\n").strip()
    if not (draft.html or "").strip():
        if text:
            return "", text + "\n"
        raise EmailRejected(EmailStatus.INVALID_FEED, "HTML is missing")
    try:
        html = decode_html(draft.html or "")
    except ValueError as exc:
        raise EmailRejected(EmailStatus.INVALID_FEED, str(exc)) from exc
    if not html.strip():
        raise EmailRejected(EmailStatus.INVALID_FEED, "HTML is empty")
    return html, (text + "\n" if text else html_to_text(html))
