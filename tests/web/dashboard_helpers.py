"""Campaigns and messages written straight into the store, for the dashboard tests, with the
counts the sending and receipt transactions would have kept (store/traffic.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.store import traffic
from hirondelle.store.schema import accounts, campaigns, messages


def add_campaign(
    ctx: Context, login: str, name: str, statuses: list[int], at: datetime | None = None
) -> None:
    when = at or datetime.now(UTC)

    def write(conn: sa.Connection) -> None:
        account_id = conn.execute(
            sa.select(accounts.c.id).where(accounts.c.login == login)
        ).scalar_one()
        campaign_id = conn.execute(
            sa.insert(campaigns)
            .values(
                public_id=str(uuid.uuid4()),
                account_id=account_id,
                name=name,
                message="Hi",
                sender="36180",
                state="queued",
                due_at=when,
                nb_contacts=len(statuses),
                nb_sms=len(statuses),
                credits=15 * len(statuses),
                created_at=when,
            )
            .returning(campaigns.c.id)
        ).scalar_one()
        for status in statuses:
            conn.execute(
                sa.insert(messages).values(
                    sms_id=str(uuid.uuid4()),
                    campaign_id=campaign_id,
                    account_id=account_id,
                    phone="33611111111",
                    country="FR",
                    text="Hi",
                    sender="36180",
                    parts=1,
                    credits=15,
                    status=status,
                    state="final" if status != 3 else "submitted",
                    due_at=when,
                    expires_at=when,
                    created_at=when,
                )
            )
        finals = {name: statuses.count(status) for status, name in traffic.FINAL_COUNTER.items()}
        traffic.add(
            conn,
            account_id,
            campaign_id,
            when,
            accepted=len(statuses),
            submitted=sum(1 for status in statuses if status),
            credits=15 * len(statuses),
            **finals,
        )

    ctx.store.write_sync(write)
