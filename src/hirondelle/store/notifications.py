"""New messages, said from one process to the others: a NOTIFY in the transaction that queues
them, a LISTEN in every worker (PostgreSQL only).

With several processes over one PostgreSQL (docs/scale-out.md), a `web` process queues the
messages a `worker` submits. Without a word between them, an idle worker found them at its next
idle tick: up to a second later, half a second on average for a message sent to a quiet
platform. The NOTIFY goes in the messages' own transaction: PostgreSQL delivers it at COMMIT,
once per transaction however many messages it queued, and never for one that rolled back (a
send refused for want of credits wakes nobody). It rides in the pipeline of the messages'
INSERT, so it costs no round trip. With SQLite there is one process, and the Context's event
(`Context.notify_new_messages`) is enough.

A listener that loses its connection (a restarted server) connects again: meanwhile the workers
still look at every idle tick, and after it they look at once, in case messages came while
nobody listened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import psycopg
import sqlalchemy as sa

from hirondelle.store.engine import Sql

log = logging.getLogger(__name__)

CHANNEL = "hirondelle_new_messages"
#: The statement that says "messages were queued", for the transaction that queues them.
NOTIFY = Sql(f"NOTIFY {CHANNEL}")
#: Seconds before a lost listener tries again: after its first failure, its second… and the
#: last one after any further failure.
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
#: How the listener's connection shows in pg_stat_activity.
APPLICATION_NAME = "hirondelle-listen"


def connect_params(url: sa.URL) -> dict[str, Any]:
    """psycopg's connection parameters for the store at `url` (as SQLAlchemy would pass them)."""
    _args, params = url.get_dialect()().create_connect_args(url)
    params.pop("context", None)  # SQLAlchemy's adapters, for its own connections
    params.setdefault("application_name", APPLICATION_NAME)
    return {**params, "connect_timeout": 10, "autocommit": True}


async def listen(url: sa.URL, on_notify: Callable[[], None]) -> None:
    """Call `on_notify()` whenever a transaction that queued messages commits, until cancelled;
    also once each time the listener (re)connects. Never raises but CancelledError."""
    params = connect_params(url)
    failures = 0
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(**params) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                if failures:
                    log.warning("listening for new messages again")
                failures = 0
                on_notify()  # what was queued while nobody listened
                async for _notify in conn.notifies():
                    on_notify()
            reason = "the connection ended"
        except psycopg.Error as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if not failures:  # once per outage, not at every retry
            log.warning(
                "not listening for new messages (%s): idle workers look each second", reason
            )
        failures += 1
        await asyncio.sleep(RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1])
