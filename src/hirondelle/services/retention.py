"""The retention purge: messages older than `retention_days`, with their parts, status history
and replies, deleted in small batches while the platform keeps sending.

Each batch is its own short transaction (a few thousand rows at most, through indexes), so a
purge never holds a lock long enough to be felt by the sends and receipts around it: on SQLite
the writer is free between two batches, on PostgreSQL only the deleted rows are locked. Messages
still waiting to be sent are never deleted. Campaign rows stay, and the counts of what was
deleted are kept per campaign and day (`purged_counts`) for statistics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.store import retention as rows

T = TypeVar("T")

#: Messages per batch (each with its parts, events and replies): a transaction of a few ms.
BATCH = 500


@dataclass
class PurgeReport:
    """What a purge deleted (or, dry, would delete)."""

    before: datetime
    messages: int = 0
    events: int = 0
    parts: int = 0
    replies: int = 0
    batches: int = 0
    dry_run: bool = False


Progress = Callable[[PurgeReport], None]


async def purge(
    ctx: Context,
    *,
    dry_run: bool = False,
    batch: int = BATCH,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> PurgeReport:
    """Delete what is older than the retention (`retention_days`), batch by batch."""
    before = (now or ctx.clock()) - timedelta(days=ctx.settings.retention_days)
    report = PurgeReport(before, dry_run=dry_run)
    if not dry_run:
        await _write(ctx, rows.poll_for_the_lock)
    last_message = await ctx.store.read(
        lambda conn: rows.last_id_before(conn, "messages", "created_at", before)
    )
    after = 0
    while True:

        def one(conn: Connection, after: int = after) -> rows.Batch | None:
            return rows.purge_messages(conn, after, last_message, before, batch, dry_run=dry_run)

        done = await (ctx.store.read(one) if dry_run else _write(ctx, one))
        if done is None:
            break
        after = done.last_id
        report.messages += done.messages
        report.events += done.events
        report.parts += done.parts
        report.replies += done.replies
        report.batches += 1
        if progress is not None:
            progress(report)
    await _purge_replies(ctx, report, batch, progress)
    return report


#: On SQLite, seconds the purge leaves the write lock free after each batch: longer than the
#: longest sleep of SQLite's busy handler (100 ms), so the server's writer, waiting in it, gets
#: the lock before the next batch.
SQLITE_PAUSE = 0.12


async def _write(ctx: Context, fn: Callable[[Connection], T]) -> T:
    """`ctx.store.write(fn)`, tried again while SQLite's write lock is taken by the server,
    then (SQLite) a pause that lets the server's writes in."""
    while True:
        try:
            result = await ctx.store.write(fn)
        except Exception as exc:
            if not rows.lock_was_busy(exc):
                raise
            await asyncio.sleep(0.001)
        else:
            if ctx.store.is_sqlite:
                await asyncio.sleep(SQLITE_PAUSE)
            return result


async def _purge_replies(
    ctx: Context, report: PurgeReport, batch: int, progress: Progress | None
) -> None:
    """Replies received before the cut that no purged message took along (those that reached
    no message, or whose message is kept)."""
    before, dry_run = report.before, report.dry_run
    last_reply = await ctx.store.read(
        lambda conn: rows.last_id_before(conn, "replies", "received_at", before)
    )
    after = 0
    while True:

        def one(conn: Connection, after: int = after) -> tuple[int, int] | None:
            return rows.purge_replies(conn, after, last_reply, before, batch, dry_run=dry_run)

        done = await (ctx.store.read(one) if dry_run else _write(ctx, one))
        if done is None:
            return
        after, count = done
        report.replies += count
        report.batches += 1
        if progress is not None:
            progress(report)
