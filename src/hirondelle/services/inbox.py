"""The customer area's replies inbox and blacklist: pages read by keyset, the blacklist's import
and its CSV export. Adding and removing numbers follow the API's rules (`reports`): by hand a
number is listed as `manual`; removing lifts `manual` and `refused` entries, never a `stop` (only
START from the handset lifts it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import RowMapping

from hirondelle.context import Context
from hirondelle.services import reports
from hirondelle.services.accounts import Account
from hirondelle.services.paging import PAGE_SIZE, Page, number_search, page_of, walk
from hirondelle.store import inbox as rows

EXPORT_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class ReplyLine:
    id: int
    phone: str
    text: str
    keyword: str | None  # "stop" | "start" | None
    received_at: datetime
    sms_id: str | None  # the message it answers
    message_text: str | None
    campaign_id: str | None
    campaign_name: str | None


@dataclass(frozen=True, slots=True)
class BlacklistLine:
    id: int
    phone: str
    comment: str  # stop | refused | manual
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What a file of numbers did: numbers added, lines that held no valid mobile number, and
    numbers already listed or given twice."""

    added: int
    invalid: int
    duplicates: int


async def _read(
    ctx: Context,
    query: Callable[..., list[RowMapping]],
    account_id: int,
    before: int | None,
    search: str | None,
    size: int,
) -> list[RowMapping]:
    """`size` + 1 rows of `query` (a keyset page of store/inbox.py), searched by number."""
    wanted = number_search(search)
    if search and wanted is None:
        return []  # no digit: no number matches
    return await ctx.store.read(
        lambda conn: query(
            conn,
            account_id,
            before=before,
            limit=size + 1,
            phone=wanted.digits if wanted else None,
            prefix=wanted.prefix if wanted else False,
        )
    )


async def replies_page(
    ctx: Context, account: Account, before: int | None, search: str | None = None
) -> Page[ReplyLine]:
    """The account's replies older than `before`, newest first; only one number's (or the
    numbers starting with the digits typed) when `search` is given."""
    found = await _read(ctx, rows.replies_page, account.id, before, search, PAGE_SIZE)
    return page_of(
        found,
        PAGE_SIZE,
        lambda row: int(row["id"]),
        lambda row: ReplyLine(**{name: row[name] for name in ReplyLine.__slots__}),
    )


async def blacklist_page(
    ctx: Context,
    account: Account,
    before: int | None,
    search: str | None = None,
    size: int = PAGE_SIZE,
) -> Page[BlacklistLine]:
    """The account's blacklist entries older than `before`, newest first (`search` as for
    replies)."""
    found = await _read(ctx, rows.blacklist_page, account.id, before, search, size)
    return page_of(
        found,
        size,
        lambda row: int(row["id"]),
        lambda row: BlacklistLine(**{name: row[name] for name in BlacklistLine.__slots__}),
    )


async def import_blacklist(ctx: Context, account: Account, numbers: list[str]) -> ImportCounts:
    """Blacklist the numbers of a file (the first cell of each line) by hand, as addToBlacklist
    does, but set-wise: one look-up and one insert per thousands of numbers, in one
    transaction."""
    given = [number for number in numbers if number.strip()]
    phones, invalid = reports.parse_numbers(given)
    now = datetime.now(UTC)
    added = await ctx.store.write(
        lambda conn: rows.blacklist_add_many(conn, account.id, phones, "manual", now)
    )
    return ImportCounts(added, len(invalid), len(given) - len(invalid) - added)


def blacklist_export(ctx: Context, account: Account) -> AsyncIterator[BlacklistLine]:
    """Every entry of the account's blacklist, newest first, read a chunk at a time."""
    return walk(lambda before: blacklist_page(ctx, account, before, size=EXPORT_CHUNK))
