"""The customer area's campaigns: the list (search, keyset pages), a campaign's page (counts by
status and a chart from the kept counts, its messages by keyset), the CSV export of its
messages (streamed a page at a time) and cancelling a scheduled campaign (deleteCampaign's rules
and refund).

A campaign is visible to its account and to that account's master; any other id is "not found".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, RowMapping

from hirondelle.context import Context
from hirondelle.domain.statuses import ACK_STATUS_TEXTS, AckStatus
from hirondelle.services.accounts import Account
from hirondelle.services.campaigns import delete_campaign_of
from hirondelle.services.dashboard import failed, local_midnight
from hirondelle.store import campaign_pages as rows
from hirondelle.store import traffic

PAGE_SIZE = 50
MESSAGES_PAGE = 100
EXPORT_CHUNK = 5000
STATES = ("scheduled", "queued", "deleted")


@dataclass(frozen=True)
class CampaignFilter:
    name: str = ""
    since: date | None = None  # local days, both included
    until: date | None = None
    state: str = ""


@dataclass(frozen=True)
class CampaignList:
    lines: list[RowMapping]
    counts: dict[int, dict[str, int]]  # campaign row id -> its kept counts
    next_before: int | None  # the keyset of the next page, None on the last


def status_counts(counts: dict[str, int]) -> dict[str, int]:
    """A campaign's messages by where they are, from its kept counts."""
    final = counts["delivered"] + counts["not_delivered"] + counts["rejected"] + counts["unknown"]
    return {
        "waiting": counts["accepted"]
        - counts["submitted"]
        - counts["refused"]
        - counts["cancelled"],
        "transmitted": counts["submitted"] - final,
        "delivered": counts["delivered"],
        "not_delivered": counts["not_delivered"],
        "rejected": counts["rejected"] + counts["refused"],
        "unknown": counts["unknown"],
        "cancelled": counts["cancelled"],
    }


async def list_campaigns(
    ctx: Context, account: Account, where: CampaignFilter, before: int | None = None
) -> CampaignList:
    """One page of the account's campaigns, newest first, with their counts."""
    zone = account.timezone

    def read(conn: Connection) -> CampaignList:
        lines = rows.page(
            conn,
            [account.id],
            limit=PAGE_SIZE + 1,
            before=before,
            name=where.name.strip(),
            since=local_midnight(where.since, zone) if where.since else None,
            until=local_midnight(where.until + timedelta(days=1), zone) if where.until else None,
            state=where.state if where.state in STATES else "",
        )
        more = len(lines) > PAGE_SIZE
        lines = lines[:PAGE_SIZE]
        counts = traffic.campaign_totals(conn, [line["id"] for line in lines])
        return CampaignList(lines, counts, lines[-1]["id"] if more else None)

    return await ctx.store.read(read)


@dataclass(frozen=True)
class CampaignView:
    campaign: RowMapping
    counts: dict[str, int]
    by_status: dict[str, int]
    chart: dict[str, list[int]]  # x (hours, epoch seconds), delivered, failed
    messages: list[RowMapping]
    next_after: int | None


async def find(ctx: Context, viewer: Account, public_id: str) -> RowMapping | None:
    return await ctx.store.read(lambda conn: rows.visible_campaign(conn, viewer.id, public_id))


async def campaign_view(
    ctx: Context, viewer: Account, public_id: str, after: int = 0
) -> CampaignView | None:
    """A campaign's page, or None when the viewer may not see it."""

    def read(conn: Connection) -> CampaignView | None:
        campaign = rows.visible_campaign(conn, viewer.id, public_id)
        if campaign is None:
            return None
        hours = traffic.campaign_hours(conn, campaign["id"])
        counts = dict.fromkeys(traffic.COUNTS, 0)
        for values in hours.values():
            for name, value in values.items():
                counts[name] += value
        ordered = sorted(hours)
        chart = {
            "x": [hour * 3600 for hour in ordered],
            "delivered": [hours[h]["delivered"] for h in ordered],
            "failed": [failed(hours[h]) for h in ordered],
        }
        page = rows.messages_page(conn, campaign["id"], after=after, limit=MESSAGES_PAGE + 1)
        more = len(page) > MESSAGES_PAGE
        page = page[:MESSAGES_PAGE]
        next_after = page[-1]["id"] if more else None
        return CampaignView(campaign, counts, status_counts(counts), chart, page, next_after)

    return await ctx.store.read(read)


async def cancel(ctx: Context, viewer: Account, public_id: str) -> str | None:
    """Cancel a scheduled campaign as deleteCampaign does (refund included); its annex 7
    status, or None when the viewer may not see it."""
    campaign = await find(ctx, viewer, public_id)
    if campaign is None:
        return None
    return await delete_campaign_of(ctx, campaign["account_id"], public_id)


def _chunk(conn: Connection, *, campaign_db_id: int, after: int) -> list[RowMapping]:
    return rows.messages_page(conn, campaign_db_id, after=after, limit=EXPORT_CHUNK)


def _status_text(row: RowMapping) -> str:
    if row["state"] == "cancelled":
        return "Cancelled"
    if row["status"] == 0:
        return "Waiting"
    return ACK_STATUS_TEXTS[AckStatus(row["status"])]


async def export_rows(
    ctx: Context, viewer: Account, campaign_db_id: int
) -> AsyncIterator[list[object]]:
    """The campaign's messages, a keyset page of EXPORT_CHUNK at a time (the caller checked the
    campaign is visible to the viewer): sms id, phone, status, its text, the operator's time in
    the viewer's time zone, parts, credits, client id, reply, text."""
    zone = ZoneInfo(viewer.timezone)
    after = 0
    while True:
        page = await ctx.store.read(partial(_chunk, campaign_db_id=campaign_db_id, after=after))
        if not page:
            return
        for row in page:
            at: datetime | None = row["status_at"]
            yield [
                row["sms_id"],
                row["phone"],
                row["status"],
                _status_text(row),
                at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if at else "",
                row["parts"],
                row["credits"],
                row["cli_msg_id"],
                row["reply"],
                row["text"],
            ]
        after = page[-1]["id"]
