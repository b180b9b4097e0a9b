"""Planning a campaign: numbers parsed, texts merged, measured and priced. Pure.

`plan_campaign` applies the rules of `domain/` to an order and either returns the messages to
store with their parts and credits, or raises `SendRefused` with the annex 5 status of the first
rule the order breaks. It does no I/O (but for a log line naming the numbers no route serves):
the send service gives it the blacklisted numbers and the routes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hirondelle.domain import links as link_rules
from hirondelle.domain import text as sms_text
from hirondelle.domain.dates import BadDate, parse_send_date
from hirondelle.domain.numbers import InvalidNumber, Mobile, parse_mobile
from hirondelle.domain.pricing import PriceTable, UnknownCountry
from hirondelle.domain.routes import is_served
from hirondelle.domain.sender import DEFAULT_STOP_SHORT_CODE, sender_for
from hirondelle.domain.sending_hours import SendingWindow, french_holidays, next_allowed
from hirondelle.domain.statuses import SendStatus, send_status_text

log = logging.getLogger(__name__)

#: The countries whose numbers wait for the sending window of a commercial campaign: France
#: (+33) only. The overseas departments have their own country codes (RE, GP, MQ, GF, YT, PM,
#: ...), time zones and holidays; their messages are not deferred.
SENDING_HOURS_COUNTRIES = frozenset({"FR"})

#: Longest CLIMSGID (the column's size): a longer one is refused, not cut, since the client
#: matches receipts on it.
MAX_CLI_MSG_ID = 255
#: Plans bigger than this are computed in a worker thread, not on the event loop.
THREAD_PLAN_THRESHOLD = 200


@dataclass(frozen=True, slots=True)
class Recipient:
    mobile: str
    params: dict[int, str] = field(default_factory=dict)
    cli_msg_id: str | None = None
    #: `#FieldName#` merge fields (a contact list's fields)
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SmsOrder:
    """A campaign as the caller asked for it (any API)."""

    message: str
    recipients: Sequence[Recipient]
    tpoa: str | None = None
    date: str | None = None
    campaign_name: str = ""
    dynamic: int | None = None
    mail_notif: bool = False
    #: send to this contact list of the account too (beyond the manual)
    list_name: str | None = None
    #: turn every URL into a short link per recipient (beyond the manual)
    shorten: bool = False
    #: login of the master account to bind the sender to (manual §6.2 MASTERACCOUNT)
    master_account: str | None = None
    #: commercial: messages to French numbers wait for the account's sending window
    commercial: bool = False
    #: sent by a submit_sm asking for a receipt: final statuses go back over SMPP too
    smpp_receipts: bool = False


class SendRefused(Exception):
    """A campaign refused with an annex 5 status; nothing was written."""

    def __init__(
        self,
        status: SendStatus,
        *,
        invalid_numbers: Sequence[str] = (),
        credits: int | None = None,
        **text_values: object,
    ) -> None:
        self.status = status
        self.text = send_status_text(status, **text_values)
        self.invalid_numbers = list(invalid_numbers)
        self.credits = credits
        super().__init__(self.text)


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    sms_id: str
    phone: str
    country: str
    text: str
    sender: str
    parts: int
    credits: int
    cli_msg_id: str | None
    due_at: datetime


@dataclass
class Plan:
    messages: list[PlannedMessage]
    invalid_numbers: list[str]
    #: when the first message is due (the campaign's due time)
    due_at: datetime
    scheduled: bool
    #: when the messages that the sending window deferred leave; None when it deferred none
    deferred_to: datetime | None = None

    @property
    def credits(self) -> int:
        return sum(m.credits for m in self.messages)

    @property
    def nb_sms(self) -> int:
        return sum(m.parts for m in self.messages)


def shortened_size_text(text: str, base_url: str) -> str:
    """`text` with each URL replaced by a stand-in as long as its future short link."""
    stand_in = link_rules.short_url(base_url, "x" * link_rules.CODE_LENGTH)
    return link_rules.replace_urls(text, lambda _url: stand_in)


def random_ids(count: int) -> Iterator[str]:
    """`count` new ids: time-ordered UUIDs (version 7, RFC 9562), from one urandom call.

    Time-ordered because each id goes into a unique index: random ids (version 4) land all over
    the index's B-tree, and a 2,000-recipient campaign then spent most of its insert time there;
    ids that grow with time are appended. 48 bits of milliseconds, then a 12-bit counter that
    keeps the ids of one campaign in order, then 62 random bits.
    """
    millis = time.time_ns() // 1_000_000
    entropy = os.urandom(8 * count).hex()
    for index in range(count):
        stamp = f"{millis + index // 4096:012x}"
        tail = entropy[16 * index : 16 * index + 16]
        variant = "89ab"[int(tail[0], 16) & 3]
        yield (f"{stamp[:8]}-{stamp[8:12]}-7{index % 4096:03x}-{variant}{tail[1:4]}-{tail[4:16]}")


# -- planning (pure) -------------------------------------------------------------------------


@dataclass
class Recipients:
    """The recipients of an order after number parsing: valid ones once each, in order."""

    valid: list[tuple[Mobile, Recipient]]
    invalid: list[str]

    @property
    def phones(self) -> list[str]:
        return [mobile.digits for mobile, _ in self.valid]


def parse_recipients(recipients: Sequence[Recipient]) -> Recipients:
    """Parse every number; a number given twice is kept once (its first recipient wins)."""
    valid: list[tuple[Mobile, Recipient]] = []
    invalid: list[str] = []
    seen: set[str] = set()
    for recipient in recipients:
        try:
            mobile = parse_mobile(recipient.mobile)
        except InvalidNumber:
            invalid.append(recipient.mobile.strip())
            continue
        if mobile.digits not in seen:
            seen.add(mobile.digits)
            valid.append((mobile, recipient))
    return Recipients(valid, invalid)


def plan_campaign(
    order: SmsOrder,
    recipients: Recipients,
    *,
    timezone: str,
    default_sender: str,
    prices: PriceTable,
    blacklisted: set[str],
    now: datetime,
    short_link_base: str | None = None,
    routes: Sequence[Sequence[str]] | None = None,
    stop_short_code: str = DEFAULT_STOP_SHORT_CODE,
    sending_window: SendingWindow | None = None,
) -> Plan:
    """Validate and price an order; SendRefused names the first rule it breaks.

    With `short_link_base`, parts and credits are counted on the text its URLs will have once
    each is a short link under that base URL (all short links have the same length). With
    `routes` (the prefixes of each connector), a number none serves is invalid. With
    `sending_window` (a commercial campaign), messages to French numbers are due at the next
    moment inside it (on a day that is not a French public holiday), the others as asked.
    """
    message = sms_text.unescape_newlines(order.message or "")
    if not message.strip():
        raise SendRefused(SendStatus.EMPTY_MESSAGE)
    if not storable(order):
        raise SendRefused(SendStatus.INVALID_FEED)
    try:
        due_at = parse_send_date(order.date, timezone, now)
    except (BadDate, OverflowError):  # OverflowError: 0001-01-01 00:00 in Paris is before year 1
        raise SendRefused(SendStatus.BAD_DATE) from None
    asked = due_at or now
    try:
        window_due = (
            next_allowed(asked, sending_window, french_holidays) if sending_window else asked
        )
    except OverflowError:  # a DATE at the end of the calendar (9999-12-31 23:00)
        raise SendRefused(SendStatus.BAD_DATE) from None
    invalid = list(recipients.invalid)
    unroutable: list[str] = []
    messages: list[PlannedMessage] = []
    sms_ids = random_ids(len(recipients.valid))
    dynamic = order.dynamic is not None or "#param_" in message.lower()
    fixed_size = None if dynamic or short_link_base else sms_text.measure(message)
    for mobile, recipient in recipients.valid:
        if mobile.digits in blacklisted:
            invalid.append(mobile.digits)
            continue
        if not is_served(mobile.digits, routes):
            invalid.append(mobile.digits)
            unroutable.append(mobile.digits)
            continue
        try:
            per_part = prices.credits_per_part(mobile.country)
        except UnknownCountry:
            invalid.append(recipient.mobile.strip())
            continue
        try:
            text = sms_text.merge_params(message, recipient.params) if dynamic else message
        except ValueError:  # `#param_N#` with N too long to be a number (int() refuses it)
            raise SendRefused(SendStatus.INVALID_FEED) from None
        if recipient.fields:
            text = sms_text.merge_fields(text, recipient.fields)
        size = (fixed_size if text is message else None) or sms_text.measure(
            shortened_size_text(text, short_link_base) if short_link_base else text
        )
        if size.parts > sms_text.MAX_PARTS:
            raise SendRefused(SendStatus.MESSAGE_TOO_LONG)
        if size.parts == 0:
            raise SendRefused(SendStatus.EMPTY_MESSAGE)
        messages.append(
            PlannedMessage(
                sms_id=next(sms_ids),
                phone=mobile.digits,
                country=mobile.country,
                text=text,
                sender=sender_for(
                    order.tpoa, text, mobile.country, default_sender, stop_short_code
                ),
                parts=size.parts,
                credits=size.parts * per_part,
                cli_msg_id=recipient.cli_msg_id,
                due_at=window_due if mobile.country in SENDING_HOURS_COUNTRIES else asked,
            )
        )
    if unroutable:
        log.info(
            "no route serves %s: refused at accept (an invalid number, not charged); "
            "add its prefix to a connector's prefixes",
            ", ".join(unroutable),
        )
    if not messages:
        raise SendRefused(SendStatus.NO_VALID_NUMBER, invalid_numbers=invalid)
    first_due = min(m.due_at for m in messages)
    deferred = window_due > asked and any(m.due_at == window_due for m in messages)
    return Plan(messages, invalid, first_due, first_due > now, window_due if deferred else None)


def storable(order: SmsOrder) -> bool:
    """No NUL character (PostgreSQL text cannot hold one) and every CLIMSGID fits its column."""
    texts = [order.message, order.campaign_name]
    for recipient in order.recipients:
        if recipient.cli_msg_id is not None:
            if len(recipient.cli_msg_id) > MAX_CLI_MSG_ID:
                return False
            texts.append(recipient.cli_msg_id)
        texts.extend(recipient.params.values())
    return not any("\x00" in text for text in texts)
