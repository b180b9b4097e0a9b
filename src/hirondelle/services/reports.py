"""What comes back to the customer (manual §8–§12, §14): acks, replies and the blacklist.

Used by API 9.0, the REST API and the customer area alike. Every function acts for one account
(the caller or its sub-account, already resolved) and sees only that account's data.

Decisions (docs/api-v9-reports.md):

- A message still waiting to be submitted reports status 3 with the comment "Pending" and its
  acceptance time; a message of a deleted campaign reports status 4, "Cancelled". Otherwise the
  status is the annex 6 number of its latest status, the comment that number's text and the date
  the time of that status.
- getPulls hands each reply out once (`pull_replies`); the other reads may be repeated.
- By hand, the blacklist takes numbers as `manual`. `remove_from_blacklist` removes `manual` and
  `refused` entries; a `stop` entry is the handset owner's choice and only START or REABO from
  the handset lifts it (unless an operator passes `include_stop`, from the CLI).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Connection, RowMapping

from hirondelle.context import Context
from hirondelle.domain.dates import format_local
from hirondelle.domain.numbers import InvalidNumber, parse_mobile
from hirondelle.domain.statuses import ACK_STATUS_TEXTS, NOT_SUBMITTED, AckStatus
from hirondelle.services.accounts import Account
from hirondelle.store import delivery as delivery_rows
from hirondelle.store import reports as rows

DEFAULT_PULL_LIMIT = 1000
MAX_PULL_LIMIT = 10000
PENDING_COMMENT = "Pending"
CANCELLED_COMMENT = "Cancelled"


class ReportError(ValueError):
    """A request the reports cannot answer (unknown campaign, bad limit...); safe to show."""


class CampaignNotFound(ReportError):
    pass


@dataclass(frozen=True, slots=True)
class Ack:
    """The latest status of one message (getAcks, getAckBySmsId)."""

    sms_id: str
    phone_number: str
    status: int  # annex 6
    comment: str
    reception_date: str  # "YYYY-MM-DD HH:MM:SS" in the account's time zone
    at: datetime  # the same instant, UTC
    cli_msg_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply (SMS-MO) to one of the account's messages (getPulls, getPull, getPullBySmsId)."""

    id: str  # smsMoId
    sms_id: str | None  # the message replied to
    campaign_id: str | None
    phone_number: str
    message: str
    reception_date: str
    at: datetime
    cli_msg_id: str | None = None  # the CLIMSGID of the message replied to


@dataclass(frozen=True, slots=True)
class UnassignedReply:
    """A reply that reached no account (docs/operations.md, "Reply routing")."""

    phone_number: str
    to: str  # the number the handset wrote to
    message: str
    reception_date: str  # UTC: it belongs to no account's time zone
    at: datetime


@dataclass(frozen=True, slots=True)
class BlacklistEntry:
    phone_number: str
    comment: str  # stop | refused | manual
    reception_date: str
    at: datetime


@dataclass(frozen=True, slots=True)
class BlacklistChange:
    """What adding or removing numbers did: `changed` numbers, and why others were not."""

    changed: list[str]
    unchanged: list[str]  # already listed (add) / not listed or `stop` (remove)
    invalid: list[str]


def _when(value: datetime, tz: str) -> tuple[str, datetime]:
    """(local `YYYY-MM-DD HH:MM:SS` in `tz`, aware UTC instant) of a stored time."""
    return format_local(value, tz), value


def split_ids(text: str | None) -> list[str]:
    """Ids given as one parameter, separated by commas, semicolons or spaces (order kept)."""
    seen: dict[str, None] = {}
    for part in re.split(r"[,;\s]+", text or ""):
        if part:
            seen.setdefault(part, None)
    return list(seen)


# -- acks ----------------------------------------------------------------------------------------


def _ack(row: RowMapping, tz: str) -> Ack:
    if row["state"] == "cancelled":
        status, comment = int(AckStatus.REJECTED), CANCELLED_COMMENT
    elif row["status"] == NOT_SUBMITTED:
        status, comment = int(AckStatus.TRANSMITTED), PENDING_COMMENT
    else:
        status, comment = int(row["status"]), ACK_STATUS_TEXTS[AckStatus(row["status"])]
    reception_date, at = _when(row["status_at"] or row["created_at"], tz)
    return Ack(
        sms_id=row["sms_id"],
        phone_number=row["phone"],
        status=status,
        comment=comment,
        reception_date=reception_date,
        at=at,
        cli_msg_id=row["cli_msg_id"] or None,
    )


async def acks_of_campaign(ctx: Context, account: Account, campaign_id: str) -> list[Ack]:
    """The latest status of every message of a campaign; CampaignNotFound if not the account's."""

    def read(conn: Connection) -> list[RowMapping]:
        db_id = rows.campaign_db_id(conn, account.id, campaign_id)
        if db_id is None:
            raise CampaignNotFound(f"Campaign not found: {campaign_id}")
        return rows.acks_of_campaign(conn, db_id)

    return [_ack(row, account.timezone) for row in await ctx.store.read(read)]


async def acks_by_sms_ids(ctx: Context, account: Account, sms_ids: Sequence[str]) -> list[Ack]:
    """The latest status of those of `sms_ids` that are the account's, in the order asked."""
    found = await ctx.store.read(lambda conn: rows.acks_by_sms_ids(conn, account.id, sms_ids))
    by_id = {row["sms_id"]: _ack(row, account.timezone) for row in found}
    return [by_id[sms_id] for sms_id in sms_ids if sms_id in by_id]


# -- replies -------------------------------------------------------------------------------------


def _reply(row: RowMapping, tz: str) -> Reply:
    reception_date, at = _when(row["received_at"], tz)
    return Reply(
        id=row["public_id"],
        sms_id=row["sms_id"],
        campaign_id=row["campaign_id"],
        phone_number=row["phone"],
        message=row["text"],
        reception_date=reception_date,
        at=at,
        cli_msg_id=row["cli_msg_id"] or None,
    )


def pull_limit(value: str | int | None) -> int:
    """The `limit` of getPulls: DEFAULT_PULL_LIMIT when absent, 1 to MAX_PULL_LIMIT."""
    if value is None:
        return DEFAULT_PULL_LIMIT
    try:
        limit = int(str(value).strip())
    except ValueError:
        raise ReportError(f"Invalid limit: {value}") from None
    if not 1 <= limit <= MAX_PULL_LIMIT:
        raise ReportError(f"The limit must be between 1 and {MAX_PULL_LIMIT}")
    return limit


async def pull_replies(
    ctx: Context, account: Account, limit: int = DEFAULT_PULL_LIMIT
) -> list[Reply]:
    """Replies not handed out before, newest first, at most `limit`; each is handed out once,
    even to concurrent callers (they are marked pulled in the same transaction)."""
    now = datetime.now(UTC)
    found = await ctx.store.write(lambda conn: rows.claim_replies(conn, account.id, limit, now))
    return [_reply(row, account.timezone) for row in found]


async def replies_of_campaign(ctx: Context, account: Account, campaign_id: str) -> list[Reply]:
    """Every reply to a campaign, newest first (pulled or not); CampaignNotFound if unknown."""

    def read(conn: Connection) -> list[RowMapping]:
        db_id = rows.campaign_db_id(conn, account.id, campaign_id)
        if db_id is None:
            raise CampaignNotFound(f"Campaign not found: {campaign_id}")
        return rows.replies_of_campaign(conn, account.id, db_id)

    return [_reply(row, account.timezone) for row in await ctx.store.read(read)]


async def replies_by_sms_ids(ctx: Context, account: Account, sms_ids: Sequence[str]) -> list[Reply]:
    """Every reply to those messages, newest first (pulled or not)."""
    found = await ctx.store.read(lambda conn: rows.replies_to_sms_ids(conn, account.id, sms_ids))
    return [_reply(row, account.timezone) for row in found]


async def unassigned_replies(
    ctx: Context, limit: int = DEFAULT_PULL_LIMIT
) -> list[UnassignedReply]:
    """Replies that matched no account, newest first, for the operator."""
    found = await ctx.store.read(lambda conn: rows.unassigned_replies(conn, limit))
    return [
        UnassignedReply(r["phone"], r["short_code"], r["text"], *_when(r["received_at"], "UTC"))
        for r in found
    ]


# -- blacklist -----------------------------------------------------------------------------------


async def blacklist_of(ctx: Context, account: Account) -> list[BlacklistEntry]:
    """The account's blacklist, most recent first."""
    found = await ctx.store.read(lambda conn: rows.blacklist_of(conn, account.id))
    tz = account.timezone
    return [BlacklistEntry(r["phone"], r["comment"], *_when(r["created_at"], tz)) for r in found]


def parse_numbers(numbers: Sequence[str]) -> tuple[list[str], list[str]]:
    """(international digits of the valid numbers, invalid inputs as given)."""
    valid: dict[str, None] = {}
    invalid: list[str] = []
    for number in numbers:
        try:
            valid.setdefault(parse_mobile(number).digits, None)
        except InvalidNumber:
            invalid.append(number)
    return list(valid), invalid


async def _change_blacklist(
    ctx: Context, numbers: Sequence[str], change: Callable[[Connection, str], bool]
) -> BlacklistChange:
    phones, invalid = parse_numbers(numbers)

    def apply(conn: Connection) -> BlacklistChange:
        changed: list[str] = []
        unchanged: list[str] = []
        for phone in phones:
            (changed if change(conn, phone) else unchanged).append(phone)
        return BlacklistChange(changed, unchanged, invalid)

    return await ctx.store.write(apply)


async def add_to_blacklist(
    ctx: Context, account: Account, numbers: Sequence[str]
) -> BlacklistChange:
    """Blacklist numbers by hand (comment `manual`); numbers already listed keep their entry."""
    now = datetime.now(UTC)
    return await _change_blacklist(
        ctx,
        numbers,
        lambda conn, phone: delivery_rows.blacklist_add(conn, account.id, phone, "manual", now),
    )


async def remove_from_blacklist(
    ctx: Context, account: Account, numbers: Sequence[str], *, include_stop: bool = False
) -> BlacklistChange:
    """Take numbers off the blacklist: `manual` and `refused` entries, and `stop` ones only with
    `include_stop` (operators; customers' opt-outs are lifted by START from the handset)."""
    comments = ["manual", "refused", *(["stop"] if include_stop else [])]
    return await _change_blacklist(
        ctx,
        numbers,
        lambda conn, phone: delivery_rows.blacklist_remove(conn, account.id, phone, comments) > 0,
    )
