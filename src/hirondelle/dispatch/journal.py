"""Phase one of storing submit outcomes: the submit journal (see store/submit_journal.py).

A connector's window slot is held until what the SMSC accepted is durable, so that a crash
leaves at most a window's worth submitted twice. The full write of a batch of results
(messages, parts, history, counts, receipts waiting) took 10 ms of a window's 23 ms turn on
PostgreSQL; the journal's row of the same batch is one INSERT and its COMMIT, and the full write
goes on after the slots are free.
"""

from __future__ import annotations

import itertools

from hirondelle.context import Context
from hirondelle.dispatch.batching import Batcher
from hirondelle.services import delivery
from hirondelle.services.delivery import SubmitResult


class SubmitJournal:
    def __init__(self, ctx: Context, owner: str) -> None:
        self.ctx = ctx
        self.owner = owner
        self._numbers = itertools.count(1)
        self._entries: dict[int, str] = {}  # message id → its row, once written
        self._batcher: Batcher[SubmitResult] = Batcher(self._write, what="submit journal entries")

    async def add(self, result: SubmitResult) -> str:
        """Return the id of the journal row holding `result`, once durable."""
        try:
            await self._batcher.submit(result)
        finally:  # written, failed or cancelled: nothing left behind in `_entries`
            entry_id = self._entries.pop(result.message_id, None)
        assert entry_id is not None  # set by `_write` before the batch's futures resolve
        return entry_id

    async def _write(self, batch: list[SubmitResult]) -> None:
        entry_id = f"{self.owner}:{next(self._numbers)}"
        await delivery.journal_submits(self.ctx, entry_id, batch)
        for result in batch:
            self._entries[result.message_id] = entry_id
