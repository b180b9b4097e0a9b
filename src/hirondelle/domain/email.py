"""Email rules of sendEmail (manual §29): addresses, headers, content and annex 21's statuses.

Pure rules, no I/O. A draft (the feed's fields, as strings) is checked in the manual's order of
statuses; the first failure wins, as for sendSms. A line break in a header field (FROM, ALIAS,
REPLY_TO, SUBJECT, a recipient) is never let through: it is how headers get injected — nor
one hidden in an RFC 2047 encoded word (`=?utf-8?q?a=0D=0ABcc:...?=`), which Python's `email`
package before 3.11.10 / 3.12.5 decodes and writes out raw (CVE-2024-6923). `header_value` decodes
encoded words itself and refuses control characters in the result, whatever the Python version.
"""

from __future__ import annotations

import base64
import binascii
import codecs
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
#: An RFC 2047 encoded word, as leniently as Python's `email` package finds one: anywhere in a
#: value, with whitespace inside its text.
_ENCODED_WORD: Final = re.compile(r"=\?([^?\s]+)\?([^?\s]+)\?(.*?)\?=", re.DOTALL)
_BETWEEN_WORDS: Final = re.compile(r"(?<=\?=)[ \t]+(?==\?)")
#: Controls refused in a header value once decoded: C0 but the tab, DEL, C1, line separators.
_HEADER_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BYTES: Final = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def has_line_break(value: str) -> bool:
    return _LINE_BREAK.search(value) is not None


def has_encoded_word(value: str) -> bool:
    return _ENCODED_WORD.search(value) is not None


def _decode_word(match: re.Match[str]) -> str:
    charset, encoding, text = match.groups()
    try:
        codec = codecs.lookup(charset.partition("*")[0]).name  # `*lang` of RFC 2231
        if encoding.lower() == "q":
            raw = re.sub(
                r"=([0-9A-Fa-f]{2})",
                lambda hexa: chr(int(hexa.group(1), 16)),
                text.replace("_", " "),
            ).encode("latin-1")
        elif encoding.lower() == "b":
            raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        else:
            raise ValueError(f"unknown encoding {encoding!r}")
        if _CONTROL_BYTES.search(raw):
            raise ValueError("a control character")
        return raw.decode(codec)
    except (LookupError, UnicodeError, binascii.Error) as exc:
        raise ValueError(f"an encoded word that does not decode ({exc})") from exc


def decode_encoded_words(value: str) -> str:
    """`value` with its RFC 2047 encoded words decoded (whitespace between two words dropped).

    Raises ValueError for an encoded word that does not decode cleanly (unknown charset, bad
    base64, a control byte): what the `email` package would guess at, we refuse.
    """
    return _ENCODED_WORD.sub(_decode_word, _BETWEEN_WORDS.sub("", value))


def header_value(value: str) -> str:
    """The text of a header field, decoded and checked: one line, no control character.

    Raises ValueError with the reason. The result holds no encoded word either (one that
    decodes to another would be decoded again by the `email` package).
    """
    decoded = decode_encoded_words(value)
    for text in (value, decoded):
        if _HEADER_CONTROL.search(text) or has_line_break(text):
            raise ValueError("a line break or a control character (after decoding)")
    if has_encoded_word(decoded):
        raise ValueError("an encoded word inside an encoded word")
    return decoded.strip()


def normalize_address(value: str) -> str | None:
    """The address in a canonical form (IDN domain in ASCII, lower case), or None if invalid.

    Accepted: a dot-atom local part of ASCII characters and a domain of at least two labels
    whose last is alphabetic; no display name, no quoted local part, no control character, no
    RFC 2047 encoded word (the `email` package would decode one, even in an address).
    """
    value = value.strip()
    if not value or _CONTROL.search(value) or has_line_break(value) or has_encoded_word(value):
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
    """The field decoded (RFC 2047) and stripped; EmailRejected if it breaks a line."""
    try:
        return header_value((value or "").strip())
    except ValueError as exc:
        raise EmailRejected(
            status, f"{name} must be on one line, without control characters: {exc}"
        ) from None


def check_draft(draft: EmailDraft, tz: str, now: datetime) -> CheckedEmail:
    """The checked email, or EmailRejected with the status of the first rule it breaks."""
    if not (draft.sender or "").strip():
        raise EmailRejected(EmailStatus.BAD_SENDER)
    sender_field = (draft.sender or "").strip()
    _one_line(sender_field, EmailStatus.BAD_SENDER, "FROM")  # addresses are checked undecoded
    sender = normalize_address(sender_field)
    if sender is None:
        raise EmailRejected(EmailStatus.BAD_SENDER, f"{sender_field!r} is not an email address")
    alias = _one_line(draft.alias, EmailStatus.BAD_SENDER, "ALIAS")[:MAX_ALIAS_LENGTH]
    reply_field = (draft.reply_to or "").strip()
    _one_line(reply_field, EmailStatus.BAD_SENDER, "REPLY_TO")
    reply_to = normalize_address(reply_field) if reply_field else ""
    if reply_to is None:
        raise EmailRejected(
            EmailStatus.BAD_SENDER, f"REPLY_TO {reply_field!r} is not an email address"
        )
    if not (draft.subject or "").strip():
        raise EmailRejected(EmailStatus.EMPTY_SUBJECT)
    subject = _one_line(draft.subject, EmailStatus.EMPTY_SUBJECT, "SUBJECT")
    if not subject:
        raise EmailRejected(EmailStatus.EMPTY_SUBJECT)
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
    name = (draft.campaign_name or "").strip()[:255]  # not a header: kept as given
    _one_line(name, EmailStatus.INVALID_FEED, "CAMPAIGN_NAME")
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
