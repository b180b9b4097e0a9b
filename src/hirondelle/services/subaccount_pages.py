"""Sub-accounts as the customer area shows them to their master: a page of them with their
credits and their activity, and one of them by login — only the master's own, live ones (an
other login is unknown, whatever account it belongs to). Changes go through
`services/subaccounts.py`, the rules the API follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import RowMapping

from hirondelle.context import Context
from hirondelle.services.accounts import Account
from hirondelle.services.paging import PAGE_SIZE, Page, page_of
from hirondelle.store import subaccounts as sub_rows


@dataclass(frozen=True, slots=True)
class SubAccountLine:
    login: str
    balance: int
    active: bool
    postpaid: bool
    first_name: str
    last_name: str
    email: str
    created_at: datetime
    last_message_at: datetime | None  # its activity: when it last sent (None: never)

    @classmethod
    def from_row(cls, row: RowMapping) -> SubAccountLine:
        return cls(
            row["login"],
            int(row["balance"]),
            bool(row["active"]),
            bool(row["postpaid"]),
            row["first_name"],
            row["last_name"],
            row["email"],
            row["created_at"],
            row["last_message_at"],
        )


async def subaccounts_page(
    ctx: Context, master: Account, after: int | None
) -> Page[SubAccountLine]:
    """The master's live sub-accounts after the account `after`, oldest first."""
    found = await ctx.store.read(
        lambda conn: sub_rows.children_page(conn, master.id, after=after, limit=PAGE_SIZE + 1)
    )
    return page_of(found, PAGE_SIZE, lambda row: int(row["id"]), SubAccountLine.from_row)


async def subaccount_of(ctx: Context, master: Account, login: str) -> Account | None:
    """The master's live sub-account `login`, or None (not its own, deleted, or a sub-account
    asking)."""
    if master.parent_id is not None:
        return None
    row = await ctx.store.read(lambda conn: sub_rows.child_of(conn, master.id, login))
    return Account.from_row(row) if row is not None else None
