"""What the operators' area (/admin/) shows and does, over the accounts services: accounts found
by login (keyset pages), deactivated or reactivated; the messages waiting to be submitted; the
webhook and email outboxes; the connectors of this process.

The connectors' state lives in the process that runs them (`hirondelle serve`'s Workers), so
the page shows the connectors of the process that serves it; a `web` process without workers
shows none (docs/admin.md says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from hirondelle.context import Context
from hirondelle.services.accounts import Account, AccountError
from hirondelle.store import admins as admin_rows
from hirondelle.store.schema import emails, webhook_events

PAGE_SIZE = 50
LAST_ERRORS = 10


async def search_accounts(
    ctx: Context, text: str, after: str | None = None, limit: int = PAGE_SIZE
) -> list[Account]:
    """Live accounts whose login starts with `text`, `limit` at a time after the login `after`."""
    text = text.strip()[:64]
    rows = await ctx.store.read(lambda conn: admin_rows.search_accounts(conn, text, after, limit))
    return [Account.from_row(row) for row in rows]


async def set_active(ctx: Context, login: str, active: bool) -> None:
    """Deactivate (its API calls and sessions stop at once) or reactivate an account."""
    if not await ctx.store.write(lambda conn: admin_rows.set_active(conn, login, active)):
        raise AccountError(f"No account with login {login!r}")


@dataclass(frozen=True)
class ConnectorStatus:
    """An SMPP connector as the process that runs it sees it."""

    name: str
    bound: bool
    window: int
    in_flight: int
    tps: float
    submitted: int
    acknowledged: int
    rejected: int
    throttled: int
    timeouts: int
    receipts: int
    last_error: str


class ConnectorSource(Protocol):
    """What runs the connectors (workers.Workers)."""

    def connector_statuses(self) -> list[ConnectorStatus]: ...


def connector_statuses(source: Any) -> list[ConnectorStatus] | None:
    """The connectors of `source` (the app's workers), or None when this process runs none."""
    if source is None or not hasattr(source, "connector_statuses"):
        return None
    statuses: list[ConnectorStatus] = source.connector_statuses()
    return statuses


@dataclass
class Outboxes:
    webhooks: dict[str, int] = field(default_factory=dict)
    webhook_errors: list[Any] = field(default_factory=list)
    emails: dict[str, int] = field(default_factory=dict)
    email_errors: list[Any] = field(default_factory=list)


async def outboxes(ctx: Context) -> Outboxes:
    def read(conn: Any) -> Outboxes:
        return Outboxes(
            admin_rows.outbox_counts(conn, webhook_events),
            admin_rows.webhook_errors(conn, LAST_ERRORS),
            admin_rows.outbox_counts(conn, emails),
            admin_rows.email_errors(conn, LAST_ERRORS),
        )

    return await ctx.store.read(read)


async def waiting_messages(ctx: Context) -> list[Any]:
    """Messages not submitted yet by state, country and connector, the largest groups first."""
    return await ctx.store.read(admin_rows.waiting_messages)
