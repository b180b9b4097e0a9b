"""The first figures of the customer area: credits, today's messages, the latest campaigns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain.statuses import AckStatus
from hirondelle.services.accounts import Account
from hirondelle.store import dashboard as rows

RECENT_CAMPAIGNS = 10
FAILED = (AckStatus.NOT_DELIVERED, AckStatus.REJECTED, AckStatus.UNKNOWN_NUMBER)


@dataclass(frozen=True)
class CampaignLine:
    campaign_id: str
    name: str
    state: str
    contacts: int
    credits: int
    created_at: datetime  # in the account's time zone


@dataclass(frozen=True)
class Dashboard:
    credits: int
    sent: int
    delivered: int
    failed: int
    campaigns: list[CampaignLine]


def day_bounds(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Midnight to midnight of `now`'s day in `timezone`, as UTC moments (DST days included)."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone).date()
    start = datetime(local.year, local.month, local.day, tzinfo=zone)
    end = datetime.combine(local + timedelta(days=1), start.timetz())
    return start.astimezone(UTC), end.astimezone(UTC)


async def dashboard(ctx: Context, account: Account, now: datetime | None = None) -> Dashboard:
    """What the signed-in account sees first: only its own rows, never a sub-account's."""
    since, until = day_bounds(now or datetime.now(UTC), account.timezone)
    zone = ZoneInfo(account.timezone)

    def read(conn: Connection) -> Dashboard:
        counts = rows.status_counts(conn, account.id, since, until)
        lines = [
            CampaignLine(
                row["public_id"],
                row["name"],
                row["state"],
                int(row["nb_contacts"]),
                int(row["credits"]),
                row["created_at"].astimezone(zone),
            )
            for row in rows.recent_campaigns(conn, account.id, RECENT_CAMPAIGNS)
        ]
        return Dashboard(
            credits=account.balance,
            sent=sum(counts.values()),
            delivered=counts.get(AckStatus.DELIVERED, 0),
            failed=sum(counts.get(status, 0) for status in FAILED),
            campaigns=lines,
        )

    return await ctx.store.read(read)
