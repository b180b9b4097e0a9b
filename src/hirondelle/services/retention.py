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
import time
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
    pace = Pace(batch)
    while True:

        def one(conn: Connection, after: int = after, size: int = pace.size) -> rows.Batch | None:
            return rows.purge_messages(conn, after, last_message, before, size, dry_run=dry_run)

        done = await (ctx.store.read(one) if dry_run else _write(ctx, one, pace))
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


#: On SQLite, seconds the purge leaves the write lock free after each batch, at least: longer
#: than the longest sleep of SQLite's busy handler (100 ms), so the server's writer, waiting in
#: it, gets the lock before the next batch.
SQLITE_PAUSE = 0.12
#: Seconds one batch's transaction should last, at most: a batch that takes longer (a loaded
#: machine, a cold cache) halves the next one, down to MIN_BATCH; a quick one doubles it, up to
#: the batch asked for.
TARGET_SECONDS = 0.05
MIN_BATCH = 20
#: What a batch's duration is measured with (a test gives a clock of its own).
clock: Callable[[], float] = time.monotonic


class Pace:
    """How big the next batch is, and how long to wait before it: after each batch the purge
    leaves the store at least as long as the batch took (it never holds the write lock, or takes
    the CPU and disk, more than half the time), and sizes the next batch so that one transaction
    stays near TARGET_SECONDS however loaded the machine is."""

    def __init__(self, batch: int) -> None:
        self.most = batch
        self.size = batch

    def after(self, seconds: float, *, sqlite: bool) -> float:
        """Adapt to a batch that took `seconds`; return the pause before the next one."""
        if seconds > 2 * TARGET_SECONDS:
            self.size = max(min(MIN_BATCH, self.most), self.size // 2)
        elif seconds < TARGET_SECONDS / 2:
            self.size = min(self.most, self.size * 2)
        return max(SQLITE_PAUSE, seconds) if sqlite else seconds


async def _write(ctx: Context, fn: Callable[[Connection], T], pace: Pace | None = None) -> T:
    """`ctx.store.write(fn)`, tried again while SQLite's write lock is taken by the server,
    then a pause (see `Pace`) that lets the server's writes in."""
    while True:
        started = clock()
        try:
            result = await ctx.store.write(fn)
        except Exception as exc:
            if not rows.lock_was_busy(exc):
                raise
            await asyncio.sleep(0.001)
        else:
            took = clock() - started
            pause = (pace or Pace(BATCH)).after(took, sqlite=ctx.store.is_sqlite)
            if pause > 0:
                await asyncio.sleep(pause)
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
    pace = Pace(batch)
    while True:

        def one(
            conn: Connection, after: int = after, size: int = pace.size
        ) -> tuple[int, int] | None:
            return rows.purge_replies(conn, after, last_reply, before, size, dry_run=dry_run)

        done = await (ctx.store.read(one) if dry_run else _write(ctx, one, pace))
        if done is None:
            return
        after, count = done
        report.replies += count
        report.batches += 1
        if progress is not None:
            progress(report)
