"""Campaigns after acceptance: deleting a scheduled campaign (manual §15, annex 7)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain.statuses import DeleteCampaignStatus as Status
from hirondelle.services.accounts import Account
from hirondelle.store import campaigns as campaign_rows
from hirondelle.store import ledger, traffic

#: A campaign due sooner than this may already be in the dispatcher's hands: too late to delete.
DELETE_GUARD = timedelta(seconds=30)


async def delete_campaign(ctx: Context, account: Account, campaign_id: str | None) -> str:
    """Delete a scheduled campaign and refund its credits; return the annex 7 status.

    - CAMPIDNOTFOUND: no campaign id given; CAMPNOTFOUND: not one of the account's campaigns.
    - CAMPAIGNALREADYDELETED: deleted before.
    - BADCAMPAIGSENDINGTYPE: an immediate campaign (never deletable).
    - BADDATETOSEND: due in less than DELETE_GUARD — too close to its sending date to stop.
    - BCAMPAIGNSTATUS: due and being sent (some messages not final yet).
    - CAMPALREADYSENT: due and every message handled.
    """
    return await delete_campaign_of(ctx, account.id, campaign_id)


async def delete_campaign_of(ctx: Context, account_id: int, campaign_id: str | None) -> str:
    """`delete_campaign` for the account with row id `account_id` (the customer area cancels a
    sub-account's campaign for its master with it)."""
    if not campaign_id:
        return Status.CAMPID_NOT_FOUND
    now = ctx.clock()

    def delete(conn: Connection) -> str:
        campaign = campaign_rows.find_campaign(conn, account_id, campaign_id)
        if campaign is None:
            return Status.CAMP_NOT_FOUND
        if campaign["state"] == "deleted":
            return Status.ALREADY_DELETED
        if campaign["state"] != "scheduled":
            return Status.NOT_SCHEDULED
        due_at = campaign["due_at"]
        if due_at <= now:
            states = campaign_rows.message_states(conn, campaign["id"])
            pending = sum(n for state, n in states.items() if state in ("queued", "claimed"))
            return Status.BAD_STATUS if pending else Status.ALREADY_SENT
        if due_at - now < DELETE_GUARD:
            return Status.BAD_DATE
        if not campaign_rows.mark_campaign_deleted(conn, campaign["id"], now):
            return Status.ALREADY_DELETED  # a concurrent deletion won
        count, refund = campaign_rows.cancel_queued_messages(conn, campaign["id"], now)
        traffic.add(conn, account_id, campaign["id"], now, cancelled=count, credits=-refund)
        if refund:  # kind `cancel`: the ledger holds at most one per campaign
            ledger.move(conn, account_id, refund, "cancel", campaign_id)
        return Status.OK

    return await ctx.store.write(delete)
