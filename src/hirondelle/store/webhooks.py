"""The webhook outbox: events written with what they report, delivered later by notify/."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from hirondelle.store.engine import Sql, in_index_order, insert_rows, marks, one_of, together
from hirondelle.store.schema import accounts, as_utc, webhook_events

DEFAULT_PORTS = {"http": 80, "https": 443}


@functools.lru_cache(maxsize=1024)  # a few URLs serve every event
def destination_of(url: str) -> str:
    """`scheme://host:port` of a URL, lowercase: what concurrency and the breaker count by."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url[:300]
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or DEFAULT_PORTS.get(scheme, 0)}"[:300]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to queue. A receipt that is not `final` (status 3, transmitted) is queued only
    for accounts that want every status change (`receipt_events = 'all'`)."""

    account_id: int
    kind: str
    ordering_key: str
    url: str
    params: dict[str, str]
    final: bool = True


def queue_events(conn: Connection, events: Sequence[NewEvent], now: datetime) -> None:
    """Add events to the outbox, in one statement; events with the same ordering key go out in
    this order."""
    asking = {event.account_id for event in events if not event.final}
    wanting_all: set[int] = set()
    if asking:
        query = sa.select(accounts.c.id).where(
            accounts.c.id.in_(asking), accounts.c.receipt_events == "all"
        )
        wanting_all = set(conn.execute(query).scalars())
    wanted = [event for event in events if event.final or event.account_id in wanting_all]
    together(conn, insert_events_sql(conn, wanted, now))


def insert_events_sql(conn: Connection, events: Sequence[NewEvent], now: datetime) -> list[Sql]:
    """The INSERT of these events (final ones, or those of accounts wanting every status: see
    `queue_events`), for a pipeline (`together`); at driver level: a receipt batch of 2,000
    queues 2,000 events."""
    at = stored_moment(conn, now)
    rows = [
        (
            event.account_id,
            event.kind,
            event.ordering_key,
            event.url,
            destination_of(event.url),
            orjson.dumps(event.params).decode(),
            at,
            at,
        )
        for event in events
    ]
    return insert_rows(conn, "webhook_events", EVENT_COLUMNS, rows)


#: Columns of `insert_events_sql` rows, with their PostgreSQL types (see `insert_rows`); the
#: state ('pending'), the attempts (0) and the last error ('') are the columns' defaults.
EVENT_COLUMNS = (
    ("account_id", "int"),
    ("kind", "varchar"),
    ("ordering_key", "varchar"),
    ("url", "varchar"),
    ("destination", "varchar"),
    ("params", "text"),
    ("next_attempt_at", "timestamptz"),
    ("created_at", "timestamptz"),
)


def stored_moment(conn: Connection, at: datetime) -> datetime | str:
    """`at` as a statement at driver level passes it: on SQLite, the text SQLAlchemy writes for
    a moment (UTC, no zone), so that the queries through SQLAlchemy compare like with like."""
    if conn.dialect.name != "sqlite":
        return at
    return as_utc(at).strftime("%Y-%m-%d %H:%M:%S.%f")


def any_account_wants_all(conn: Connection) -> bool:
    """Whether some account with a receipt URL wants every status change: when none does (the
    accounts choosing final receipts only), a batch of "transmitted" receipts queues nothing and
    need not look its messages up."""
    sql = "SELECT 1 FROM accounts WHERE receipt_url <> '' AND receipt_events = 'all' LIMIT 1"
    return conn.exec_driver_sql(sql).first() is not None  # at driver level: every submit batch


def queue_event(
    conn: Connection,
    account_id: int,
    kind: str,
    ordering_key: str,
    url: str,
    params: dict[str, str],
    now: datetime,
    *,
    final: bool = True,
) -> None:
    """Add one event to the outbox (see `queue_events`)."""
    queue_events(conn, [NewEvent(account_id, kind, ordering_key, url, params, final)], now)


# -- the sender's side ---------------------------------------------------------------------------

#: Due events looked at per claim; destinations without a free slot are filtered out before.
CANDIDATES = 1000


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: int
    account_id: int
    kind: str
    url: str
    destination: str
    params: dict[str, str]
    attempts: int  # including the attempt being claimed
    created_at: datetime
    secret: str  # the account's webhook secret, sealed (notify/ unseals it)
    batch: int = 0  # the account's webhook_batch: events per JSON POST, 0 for a GET per event


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a claimed event: `done`, `dead`, or `pending` again at next_attempt_at."""

    id: int
    state: str
    next_attempt_at: datetime | None
    last_error: str
    attempts: int


def any_due(conn: Connection, now: datetime) -> bool:
    """Whether some pending event is due (a cheap read before claiming in a write)."""
    query = sa.select(webhook_events.c.id).where(
        webhook_events.c.state == "pending", webhook_events.c.next_attempt_at <= now
    )
    return conn.execute(query.limit(1)).first() is not None


def claim_due_events(
    conn: Connection,
    now: datetime,
    lease_until: datetime,
    free_slots: Mapping[str, int],
    default_calls: int,
    limit: int,
    *,
    finished: Sequence[Outcome] = (),
) -> list[OutboxEvent]:
    """Lease due events, the longest due first, at most `limit` and per destination at most its free
    slots (`free_slots`; for another destination, `default_calls` times the events per call of
    the account). Only the oldest pending event of a message is
    due: the next waits for it. The lease (next_attempt_at = lease_until) keeps other senders
    off it while it is in flight (on PostgreSQL they also skip the rows locked by this claim);
    a sender that dies lets it become due again.

    `finished`: outcomes recorded first (`finish_events`). On PostgreSQL they go with the claim's
    SELECT in one round trip, and the lease with the COMMIT in another: with psycopg's BEGIN, a
    busy sender's transaction waits on the server three times, not seven. The last thing of a
    `Store.write`."""
    postgres = conn.dialect.name == "postgresql"
    full = [destination for destination, slots in free_slots.items() if slots <= 0]
    sql = CLAIM_SQL.format(
        full=f" AND e.destination NOT IN ({marks(len(full))})" if full else "",
        lock=" FOR UPDATE OF e SKIP LOCKED" if postgres else "",
    )
    statements = finish_events_sql(conn, finished)
    statements += in_index_order(conn)  # and not the subquery run on every due event
    params = (stored_moment(conn, now), *full, min(CANDIDATES, 2 * limit))
    slots = dict(free_slots)
    events: list[OutboxEvent] = []
    # The candidates are ours until the commit: SQLite has one writer, and PostgreSQL locked
    # them (FOR UPDATE); so the lease below needs no condition, and the rows come from here (at
    # driver level: a claim reads hundreds, no SQLAlchemy rows).
    rows = together(conn, [*statements, Sql(sql, params)])[-1]
    for row in rows:
        event_id, account_id, kind, url, destination, params_json, attempts, created = row[:8]
        secret, batch = row[8] or "", row[9]
        left = slots.get(destination, default_calls * max(1, batch))
        if left > 0 and len(events) < limit:
            slots[destination] = left - 1
            params_ = orjson.loads(params_json)
            moment = as_utc(created)
            event = OutboxEvent(
                event_id, account_id, kind, url, destination, params_, attempts + 1, moment,
                secret, batch,
            )  # fmt: skip
            events.append(event)
    if not events:
        return []
    ids, id_params = one_of(conn, [event.id for event in events], "int")
    lease = f"UPDATE webhook_events SET next_attempt_at = ?, attempts = attempts + 1 WHERE id {ids}"
    together(conn, [Sql(lease, (stored_moment(conn, lease_until), *id_params))], commit=True)
    events.sort(key=lambda event: event.id)
    return events


#: The due events with their account's settings, the longest due first (walking the due index).
#: Only the oldest pending event of a message is due: a scalar subquery, run per candidate on
#: the (ordering_key, state, id) index (as NOT EXISTS, PostgreSQL may plan an anti join over
#: every pending event — with stale statistics after a burst, a quadratic one).
CLAIM_SQL = (
    "SELECT e.id, e.account_id, e.kind, e.url, e.destination, e.params, e.attempts,"
    " e.created_at, a.webhook_secret, a.webhook_batch"
    " FROM webhook_events AS e JOIN accounts AS a ON a.id = e.account_id"
    " WHERE e.state = 'pending' AND e.next_attempt_at <= ?"
    " AND e.id = (SELECT min(o.id) FROM webhook_events AS o"
    " WHERE o.ordering_key = e.ordering_key AND o.state = 'pending'){full}"
    " ORDER BY e.next_attempt_at, e.id LIMIT ?{lock}"
)


#: PostgreSQL: the outcomes of a cycle as five arrays, one statement whatever their number (an
#: executemany would run one UPDATE per event); the same text every time, so it stays prepared.
FINISH_POSTGRES = (
    "UPDATE webhook_events AS e SET state = o.state,"
    " next_attempt_at = COALESCE(o.next_at, e.next_attempt_at),"
    " last_error = o.error, attempts = o.tries"
    " FROM unnest(?::int[], ?::text[], ?::timestamptz[], ?::text[], ?::int[])"
    " AS o(id, state, next_at, error, tries) WHERE e.id = o.id"
)


def finish_events(conn: Connection, outcomes: Sequence[Outcome]) -> None:
    """Record the outcomes of attempts, in one statement."""
    together(conn, finish_events_sql(conn, outcomes))


def finish_events_sql(conn: Connection, outcomes: Sequence[Outcome]) -> list[Sql]:
    """`finish_events` as a statement for a pipeline (`together`)."""
    if not outcomes:
        return []
    if conn.dialect.name == "postgresql":
        columns = (
            [o.id for o in outcomes],
            [o.state for o in outcomes],
            [o.next_attempt_at for o in outcomes],
            [o.last_error[:255] for o in outcomes],
            [o.attempts for o in outcomes],
        )
        return [Sql(FINISH_POSTGRES, columns)]
    # SQLite: an executemany at driver level (the driver runs it in C), the moments in the text
    # form SQLAlchemy writes, which the other statements of the table compare with.
    rows = [
        (
            outcome.state,
            None
            if outcome.next_attempt_at is None
            else stored_moment(conn, outcome.next_attempt_at),
            outcome.last_error[:255],
            outcome.attempts,
            outcome.id,
        )
        for outcome in outcomes
    ]
    return [Sql(FINISH_SQLITE, rows, many=True)]


FINISH_SQLITE = (
    "UPDATE webhook_events SET state = ?, next_attempt_at = COALESCE(?, next_attempt_at),"
    " last_error = ?, attempts = ? WHERE id = ?"
)


def finish_event(
    conn: Connection,
    event_id: int,
    state: str,
    next_attempt_at: datetime | None = None,
    last_error: str = "",
) -> None:
    """Record the outcome of one attempt (the attempt count stays as claimed)."""
    values: dict[str, object] = {"state": state, "last_error": last_error[:255]}
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    conn.execute(sa.update(webhook_events).where(webhook_events.c.id == event_id).values(values))


def defer_destination(conn: Connection, destination: str, now: datetime, until: datetime) -> int:
    """Push every due event of `destination` to `until` (its circuit breaker opened): no sender
    claims them meanwhile. Returns how many were deferred."""
    result = conn.execute(
        sa.update(webhook_events)
        .where(
            webhook_events.c.destination == destination,
            webhook_events.c.state == "pending",
            webhook_events.c.next_attempt_at <= now,
        )
        .values(next_attempt_at=until)
    )
    return int(result.rowcount or 0)


def recent_events(conn: Connection, account_id: int, limit: int) -> list[RowMapping]:
    """The account's last `limit` outbox events, newest first (the index (account_id, id))."""
    query = (
        sa.select(
            webhook_events.c.id,
            webhook_events.c.kind,
            webhook_events.c.url,
            webhook_events.c.params,
            webhook_events.c.state,
            webhook_events.c.attempts,
            webhook_events.c.next_attempt_at,
            webhook_events.c.last_error,
            webhook_events.c.created_at,
        )
        .where(webhook_events.c.account_id == account_id)
        .order_by(webhook_events.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())
