"""An account's credit statement: every ledger movement (top-up, campaign debit, refund,
cancellation, transfer to or from a sub-account, adjustment) with the balance after it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from hirondelle.context import Context
from hirondelle.services.accounts import Account
from hirondelle.services.paging import PAGE_SIZE, Page, page_of, walk
from hirondelle.store import statement as rows

EXPORT_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Movement:
    id: int
    delta: int  # credits in (positive) or out (negative)
    balance_after: int
    kind: str  # topup | debit | refund | cancel | transfer_in | transfer_out | adjustment
    reference: str  # a campaign id, "transfer <id>", "top-up", ...
    created_at: datetime

    @property
    def campaign_id(self) -> str | None:
        """The SMS campaign the movement paid for or refunded, if it is one."""
        if self.kind in ("debit", "cancel") and self.reference and ":" not in self.reference:
            return self.reference
        return None


async def statement_page(
    ctx: Context, account: Account, before: int | None, size: int = PAGE_SIZE
) -> Page[Movement]:
    """The account's movements older than the movement `before`, newest first."""
    found = await ctx.store.read(
        lambda conn: rows.ledger_page(conn, account.id, before=before, limit=size + 1)
    )
    return page_of(found, size, lambda row: int(row["id"]), lambda row: Movement(**row))


def statement_export(ctx: Context, account: Account) -> AsyncIterator[Movement]:
    """Every movement of the account, newest first, read a chunk at a time."""
    return walk(lambda before: statement_page(ctx, account, before, size=EXPORT_CHUNK))
