"""Counts kept per campaign and per hour, so the customer area never scans messages.

A row of `traffic_counts` is one campaign's events of one UTC hour (`hour` = hours since the
epoch of the moment the event was stored): how many messages it accepted, how many an SMSC took,
how many receipts said delivered / not delivered / rejected / unknown number, how many were
refused before any SMSC took them (refunded), cancelled, the replies received, and the credits
spent (debits less refunds).

Hours, not days: an account's day is midnight to midnight in *its* time zone, and a sum of the
24 hours of that day is exact for every zone whose offset is whole hours (a :30 or :45 zone is
off by that much at the edges of a day).

Writers call one function per transaction, set-wise: `add` (a send, a cancellation, a reply)
is one upsert; `count_changes` is one `INSERT … SELECT … GROUP BY campaign … ON CONFLICT`
per kind of status change in the batch (usually one or two), never one per message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.engine import Connection

from hirondelle.store.engine import Sql, chunks, driver_sql, marks, one_of, together
from hirondelle.store.schema import traffic_counts

#: The counters of a row, in column order (what every read returns, by name).
COUNTS = tuple(column.name for column in traffic_counts.columns if not column.primary_key)

#: The counter of a final annex-6 status reported by a receipt.
FINAL_COUNTER = {1: "delivered", 2: "not_delivered", 4: "rejected", 5: "unknown"}
WAITING, TRANSMITTED = 0, 3
#: The campaign id of an account's own rows: the sums of all its campaigns (and of its replies
#: to none), kept beside them so that the dashboard reads at most one row per hour.
ACCOUNT_TOTAL = -1


def hour_of(moment: datetime) -> int:
    """Hours since the epoch (UTC) of an aware moment: the key of a counts row."""
    return int(moment.timestamp()) // 3600


def _upsert_sql(names: Sequence[str], select: str) -> str:
    updates = ", ".join(f"{n} = traffic_counts.{n} + excluded.{n}" for n in names)
    return (
        f"INSERT INTO traffic_counts (campaign_id, account_id, hour, {', '.join(names)}) {select}"
        f" ON CONFLICT (campaign_id, account_id, hour) DO UPDATE SET {updates}"
    )


def add(conn: Connection, account_id: int, campaign_id: int, at: datetime, **deltas: int) -> None:
    """Add `deltas` (counter name → amount) to one campaign's counts of `at`'s hour, and to its
    account's (one statement, the account's row first)."""
    names = [name for name in COUNTS if deltas.get(name)]
    if not names:
        return
    row = f"(?, ?, ?, {marks(len(names))})"
    sql = _upsert_sql(names, f"VALUES {row}, {row}")
    amounts = tuple(deltas[n] for n in names)
    hour = hour_of(at)
    values = (ACCOUNT_TOTAL, account_id, hour, *amounts, campaign_id, account_id, hour, *amounts)
    conn.exec_driver_sql(driver_sql(conn, sql), values)


def add_sends(conn: Connection, at: datetime, sends: Sequence[tuple[int, int, int, int]]) -> None:
    """Count accepted campaigns, each (account id, campaign id, messages, credits), in one
    upsert: a row per campaign, and one per account with their sums (rows in key order, so
    two writers cannot deadlock)."""
    together(conn, sends_sql(conn, at, sends))


def sends_sql(
    conn: Connection, at: datetime, sends: Sequence[tuple[int, int, int, int]]
) -> list[Sql]:
    """The statements of `add_sends`, for a caller to run with others (`together`)."""
    statements: list[Sql] = []
    hour = hour_of(at)
    rows: dict[tuple[int, int], list[int]] = {}
    for account_id, campaign_id, accepted, credits in sends:
        total = rows.setdefault((ACCOUNT_TOTAL, account_id), [0, 0])
        total[0] += accepted
        total[1] += credits
        rows[(campaign_id, account_id)] = [accepted, credits]
    ordered = sorted(rows.items())
    if not ordered:
        return []
    if conn.dialect.name == "postgresql":  # one text whatever the count (see `one_of`)
        select = (
            "SELECT c, a, ?, n, s FROM unnest(?::int[], ?::int[], ?::bigint[], ?::bigint[])"
            " AS u(c, a, n, s) ORDER BY c, a"
        )
        columns = [list(column) for column in zip(*((*k, *v) for k, v in ordered), strict=True)]
        return [Sql(_upsert_sql(("accepted", "credits"), select), (hour, *columns))]
    for batch in chunks(ordered, 400):
        sql = _upsert_sql(
            ("accepted", "credits"), "VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * len(batch))
        )
        values = [
            v for (campaign, account), (n, c) in batch for v in (campaign, account, hour, n, c)
        ]
        statements.append(Sql(sql, tuple(values)))
    return statements


def _change_deltas(old: int, new: int, refunded: bool) -> tuple[tuple[str, int], ...]:
    """What one message's status change `old` → `new` adds to the counters (without credits)."""
    if refunded:  # refused before any SMSC took it: rejected at submit, or past its validity
        return (("refused", 1),)
    deltas: dict[str, int] = {}
    if old == WAITING:
        deltas["submitted"] = 1
    elif old in FINAL_COUNTER:  # a long message whose later part fails differently
        deltas[FINAL_COUNTER[old]] = -1
    if new in FINAL_COUNTER:
        deltas[FINAL_COUNTER[new]] = deltas.get(FINAL_COUNTER[new], 0) + 1
    return tuple((name, n) for name, n in deltas.items() if n)


def count_changes(
    conn: Connection,
    changes: Iterable[tuple[int, int, int]],
    at: datetime,
    *,
    refunded: bool = False,
) -> None:
    """Count (message_id, old status, new status) changes stored at `at`; with `refunded`, the
    messages were refused and their credits given back (taken off `credits`).

    One statement per distinct change in the batch: it reads the messages' campaign and account
    by primary key and upserts one row per account and one per campaign, in that order (no
    deadlock between two writers on PostgreSQL).
    """
    together(conn, changes_sql(conn, changes, at, refunded=refunded))


def changes_sql(
    conn: Connection,
    changes: Iterable[tuple[int, int, int]],
    at: datetime,
    *,
    refunded: bool = False,
) -> list[Sql]:
    """The statements of `count_changes`, for a caller to run with others (`together`).

    Every writer of the delivery path upserts the same few rows (the campaign's and the
    account's of this hour), and holds their locks until it commits: run these last in a
    transaction, so that concurrent writers wait for one another only for its end.
    """
    groups: dict[tuple[tuple[str, int], ...], list[int]] = {}
    for message_id, old, new in changes:
        deltas = _change_deltas(old, new, refunded)
        if deltas:
            groups.setdefault(deltas, []).append(message_id)
    hour = hour_of(at)
    statements: list[Sql] = []
    for deltas, ids in sorted(groups.items()):
        names = [name for name, _ in deltas]
        amounts = [f"count(*) * {n:d}" for _, n in deltas]
        if refunded:
            names.append("credits")
            amounts.append("-sum(credits)")
        values = ", ".join(f"{amount} AS v{i}" for i, amount in enumerate(amounts))
        for chunk in chunks(ids):
            condition, params = one_of(conn, chunk, "int")
            where = f"FROM messages WHERE id {condition}"
            select = (
                f"SELECT c, a, {hour:d}, {', '.join(f'v{i}' for i in range(len(amounts)))} FROM"
                f" (SELECT campaign_id AS c, account_id AS a, {values} {where}"
                " GROUP BY campaign_id, account_id"
                f" UNION ALL SELECT {ACCOUNT_TOTAL:d}, account_id, {values} {where}"
                " GROUP BY account_id) AS changed WHERE true ORDER BY c, a"
            )
            statements.append(Sql(_upsert_sql(names, select), (*params, *params)))
    return statements


# -- reading -------------------------------------------------------------------------------------

_SUMS = ", ".join(f"sum({name})" for name in COUNTS)


def _as_counts(row: Sequence[object]) -> dict[str, int]:
    return {name: int(value or 0) for name, value in zip(COUNTS, row, strict=True)}  # type: ignore[call-overload]


def account_hours(
    conn: Connection, account_id: int, since: int, until: int
) -> dict[int, dict[str, int]]:
    """The account's counts per hour in [since, until): its own rows, by the primary key."""
    sql = (
        f"SELECT hour, {', '.join(COUNTS)} FROM traffic_counts"
        " WHERE campaign_id = ? AND account_id = ? AND hour >= ? AND hour < ?"
    )
    rows = conn.exec_driver_sql(driver_sql(conn, sql), (ACCOUNT_TOTAL, account_id, since, until))
    return {int(row[0]): _as_counts(row[1:]) for row in rows}


def campaign_totals(conn: Connection, campaign_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Each campaign's counts, all hours summed (by the primary key)."""
    found: dict[int, dict[str, int]] = {}
    for chunk in chunks(campaign_ids):
        sql = (
            f"SELECT campaign_id, {_SUMS} FROM traffic_counts"
            f" WHERE campaign_id IN ({marks(len(chunk))}) GROUP BY campaign_id"
        )
        for row in conn.exec_driver_sql(driver_sql(conn, sql), tuple(chunk)):
            found[int(row[0])] = _as_counts(row[1:])
    return found


def campaign_hours(conn: Connection, campaign_id: int) -> dict[int, dict[str, int]]:
    """One campaign's counts per hour (by the primary key)."""
    sql = f"SELECT hour, {_SUMS} FROM traffic_counts WHERE campaign_id = ? GROUP BY hour"
    rows = conn.exec_driver_sql(driver_sql(conn, sql), (campaign_id,))
    return {int(row[0]): _as_counts(row[1:]) for row in rows}


def recount_campaign(conn: Connection, campaign_id: int) -> dict[str, int]:
    """A campaign's counts (but `credits`) recomputed from its messages and replies: a full scan
    of the campaign, for checks and repairs only."""
    sql = (
        "SELECT count(*),"
        " sum(CASE WHEN connector IS NOT NULL THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 1 THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 2 THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 4 AND connector IS NOT NULL THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 5 THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 4 AND connector IS NULL THEN 1 ELSE 0 END),"
        " sum(CASE WHEN state = 'cancelled' THEN 1 ELSE 0 END)"
        " FROM messages WHERE campaign_id = ?"
    )
    row = conn.exec_driver_sql(driver_sql(conn, sql), (campaign_id,)).one()
    replies = conn.exec_driver_sql(
        driver_sql(conn, "SELECT count(*) FROM replies WHERE campaign_id = ?"), (campaign_id,)
    ).scalar_one()
    counts = {name: int(value or 0) for name, value in zip(COUNTS, row, strict=False)}
    counts["replies"] = int(replies)
    return counts
