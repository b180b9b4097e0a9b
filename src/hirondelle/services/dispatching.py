"""What the dispatcher asks of the store: due messages to submit, under a lease.

A claimed message is the dispatcher's until its lease runs out (then another claim takes it
back, so a crashed dispatcher's messages are retried) or its outcome is stored
(`delivery.record_submit_results`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hirondelle.context import Context
from hirondelle.store import delivery as rows
from hirondelle.store.delivery import ClaimedMessage as ClaimedMessage
from hirondelle.store.delivery import NumberFilter as NumberFilter


async def claim_due(
    ctx: Context,
    owner: str,
    lease: timedelta,
    limit: int,
    numbers: NumberFilter | None = None,
) -> list[ClaimedMessage]:
    """Claim up to `limit` due messages for `owner`, each for `lease`, in id order; `numbers`
    keeps only those phones (None: any)."""
    now = datetime.now(UTC)
    return await ctx.store.write(
        lambda conn: rows.claim_due(conn, owner, now, lease, limit, numbers)
    )


async def renew_claims(
    ctx: Context, owner: str, message_ids: Sequence[int], lease: timedelta
) -> int:
    """Extend by `lease` from now the leases of those of `message_ids` that `owner` still
    holds; return how many."""
    until = datetime.now(UTC) + lease
    return await ctx.store.write(lambda conn: rows.renew_claims(conn, owner, message_ids, until))


async def release_claims_of_others(ctx: Context, owner: str) -> int:
    """Put back in the queue every claim not held by `owner` (a single dispatcher starting
    after a crash); return how many."""
    return await ctx.store.write(lambda conn: rows.release_claims_of_others(conn, owner))
