"""What the operators' area (/admin/) shows and does, over the accounts services: accounts found
by login (keyset pages), deactivated or reactivated; the messages waiting to be submitted; the
webhook and email outboxes; the connectors of this process.

The connectors' state lives in the process that runs them (the Workers of `hirondelle serve`,
or of a worker process): the page shows the live state of the connectors of the process that
serves it, and the others from the snapshots each process writes every few seconds
(`save_connectors`, the `connector_status` table), with their age.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


@dataclass(frozen=True)
class ShownConnector:
    status: ConnectorStatus
    #: None: the live state of this process; else when its process last wrote it
    as_of: datetime | None = None
    process: str = ""


async def connectors(ctx: Context, source: Any) -> list[ShownConnector]:
    """The connectors of `source` (this process's workers, if any) live, then those of other
    processes as they last wrote them."""
    live: list[ConnectorStatus] = []
    if source is not None and hasattr(source, "connector_statuses"):
        live = source.connector_statuses()
    shown = [ShownConnector(status) for status in live]
    names = {status.name for status in live}
    for row in await ctx.store.read(admin_rows.connector_statuses):
        if row["name"] not in names:
            status = ConnectorStatus(**json.loads(row["status"]))
            shown.append(ShownConnector(status, row["updated_at"], row["process"]))
    return shown


async def save_connectors(ctx: Context, process: str, statuses: list[ConnectorStatus]) -> None:
    """Write this process's connectors for the operators' area of every process."""
    rows = [(s.name, json.dumps(dataclasses.asdict(s))) for s in statuses]
    now = datetime.now(UTC)
    await ctx.store.write(lambda conn: admin_rows.save_connector_status(conn, process, rows, now))


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
