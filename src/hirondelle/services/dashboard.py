"""The dashboard's figures: credits, today / 7 days / 30 days, a chart per day, the latest
campaigns. Read from the counts kept per account and hour (store/traffic.py): at most 30 × 24
rows of the account and one index range of its campaigns, whatever the messages table holds.

A day is midnight to midnight in the account's time zone. Figures count events when they
happened: messages accepted that day, receipts and replies received that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.services.accounts import Account
from hirondelle.store import campaign_pages as campaign_rows
from hirondelle.store import traffic

RECENT_CAMPAIGNS = 10
CHART_DAYS = 30
#: Receipts that say a message did not reach its handset, and messages no SMSC took.
FAILED_COUNTS = ("not_delivered", "rejected", "unknown", "refused")


@dataclass(frozen=True)
class CampaignLine:
    campaign_id: str
    name: str
    state: str
    contacts: int
    credits: int
    created_at: datetime  # in the account's time zone


@dataclass(frozen=True)
class Period:
    """The figures of the last `days` days (today is 1)."""

    days: int
    sent: int
    delivered: int
    failed: int
    replies: int
    credits: int

    @property
    def delivery_rate(self) -> float | None:
        """Delivered among the messages whose fate is known (None before any)."""
        known = self.delivered + self.failed
        return self.delivered / known if known else None


@dataclass(frozen=True)
class Dashboard:
    credits: int
    periods: list[Period]  # today, 7 days, 30 days
    chart: dict[str, list[int]]  # x (local midnights, epoch seconds), sent, delivered, failed
    campaigns: list[CampaignLine]

    @property
    def today(self) -> Period:
        return self.periods[0]


def day_bounds(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Midnight to midnight of `now`'s day in `timezone`, as UTC moments (DST days included)."""
    start = local_midnight(now.astimezone(ZoneInfo(timezone)).date(), timezone)
    return start, local_midnight(
        start.astimezone(ZoneInfo(timezone)).date() + timedelta(1), timezone
    )


def local_midnight(day: date, timezone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def failed(counts: dict[str, int]) -> int:
    return sum(counts[name] for name in FAILED_COUNTS)


async def dashboard(ctx: Context, account: Account, now: datetime | None = None) -> Dashboard:
    """What the signed-in account sees first: only its own figures, never a sub-account's."""
    moment = now or datetime.now(UTC)
    zone = ZoneInfo(account.timezone)
    today = moment.astimezone(zone).date()
    days = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    starts = [local_midnight(day, account.timezone) for day in days]
    until = local_midnight(today + timedelta(days=1), account.timezone)

    def read(conn: Connection) -> Dashboard:
        hours = traffic.account_hours(
            conn, account.id, traffic.hour_of(starts[0]), traffic.hour_of(until)
        )
        per_day = [dict.fromkeys(traffic.COUNTS, 0) for _ in days]
        bounds = [traffic.hour_of(start) for start in starts]
        for hour, counts in hours.items():
            index = max(i for i, first in enumerate(bounds) if first <= hour)
            for name, value in counts.items():
                per_day[index][name] += value
        periods = [_period(n, per_day[-n:]) for n in (1, 7, CHART_DAYS)]
        chart = {
            "x": [int(start.timestamp()) for start in starts],
            "sent": [d["accepted"] for d in per_day],
            "delivered": [d["delivered"] for d in per_day],
            "failed": [failed(d) for d in per_day],
        }
        lines = [
            CampaignLine(
                row["public_id"],
                row["name"],
                row["state"],
                int(row["nb_contacts"]),
                int(row["credits"]),
                row["created_at"].astimezone(zone),
            )
            for row in campaign_rows.page(conn, [account.id], limit=RECENT_CAMPAIGNS)
        ]
        return Dashboard(account.balance, periods, chart, lines)

    return await ctx.store.read(read)


def _period(days: int, counts: list[dict[str, int]]) -> Period:
    def total(name: str) -> int:
        return sum(day[name] for day in counts)

    return Period(
        days=days,
        sent=total("accepted"),
        delivered=total("delivered"),
        failed=sum(failed(day) for day in counts),
        replies=total("replies"),
        credits=total("credits"),
    )
