"""One store interface over SQLite and PostgreSQL.

Work is handed to the store as plain synchronous functions of a SQLAlchemy `Connection`
(`write(fn)`, `read(fn)`), as Datasette's `execute_write_fn` does, because:

* SQLite has one writer. All writes go through one thread, which *group-commits*: it takes every
  write waiting in its queue, runs each in its own SAVEPOINT inside one transaction, and commits
  once — one fsync for many concurrent requests. A function that raises rolls back only its own
  savepoint; the others still commit. Futures resolve only after the COMMIT returned, so a caller
  that answers its client after `await store.write(...)` answers only about durable data.
  A *patient* write (a receipt: only the SMSC waits for it, not a bind's window) runs at once,
  but its COMMIT may wait, bounded, for the next write that cannot wait, and share its fsync.
* PostgreSQL has many writers. Each write runs in its own transaction on a pooled connection in a
  worker thread; row locks and conditional updates keep invariants under concurrency.

Async drivers were measured to cost more than the fsync they would hide (DESIGN.md §4).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import queue
import re
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

T = TypeVar("T")
WriteFn = Callable[[Connection], T]

log = logging.getLogger(__name__)

#: How many queued writes one SQLite commit may carry.
GROUP_COMMIT_MAX = 256
#: Seconds at most a patient write's commit waits for an impatient write to share it: short,
#: as an SMSC sending its receipts one at a time (a deliver_sm window of 1) waits this long
#: for each answer while submits flow.
PATIENT_WAIT_MAX = 0.010


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (SQLAlchemy's
    # documented recipe for working SAVEPOINTs on pysqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Index pages of a busy store outgrow SQLite's default 2 MB cache: keep them in memory.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


WRITER_OPTION = "hirondelle_writer"


def _sqlite_begin(conn: Connection) -> None:
    # The writer takes the write lock up front (no upgrade deadlocks); readers take a snapshot
    # and never wait for it (WAL).
    options = conn.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return  # each statement its own transaction (see Store.read_inline)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITER_OPTION, False) else "BEGIN")


#: Bound parameters per `IN (...)` list; well under SQLite's and PostgreSQL's limits.
CHUNK = 2000

S = TypeVar("S")


def marks(count: int) -> str:
    """`?, ?, …`: the placeholders of `count` values in a `driver_sql` statement."""
    return ", ".join("?" * count)


def one_of(conn: Connection, values: Sequence[Any], pg_type: str) -> tuple[str, tuple[Any, ...]]:
    """The condition "is one of `values`" for a `driver_sql` statement, and its parameters:
    `IN (?, ?, …)`, but on PostgreSQL `= ANY(?::pg_type[])`, one array parameter.

    A list of placeholders is a new statement text for every count of values: psycopg converts
    it again on every execution (it caches statements of at most 50 parameters) and PostgreSQL
    parses and plans it again. With one array the text stays the same: converted once, and
    prepared by the server after a few executions. (SQLite has no arrays.)"""
    if conn.dialect.name == "postgresql":
        return f"= ANY(?::{pg_type}[])", (list(values),)
    return f"IN ({marks(len(values))})", tuple(values)


def chunks(values: Sequence[S], size: int = CHUNK) -> list[Sequence[S]]:
    """`values` cut into lists of at most `size`, for `IN (...)` queries."""
    return [values[start : start + size] for start in range(0, len(values), size)]


def driver_sql(conn: Connection, sql: str) -> str:
    """`sql` written with `?` placeholders, in the placeholders of the connection's driver.

    On PostgreSQL an array parameter (`?::type[]`) goes in binary (`%b`): psycopg writes a
    list of 2,000 values as binary several times faster than as text."""
    return sql if conn.dialect.paramstyle == "qmark" else _psycopg_sql(sql)


_ARRAY_PARAMETER = re.compile(r"\?(?=::\w+\[\])")


@functools.lru_cache(maxsize=512)
def _psycopg_sql(sql: str) -> str:
    return _ARRAY_PARAMETER.sub("%b", sql).replace("?", "%s")


def fetch_one(conn: Connection, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """One row of a query written with `?` placeholders, straight from the DBAPI cursor.

    For the lookups of every request (authentication): SQLAlchemy's execution context costs
    more than SQLite's indexed lookup itself.
    """
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(driver_sql(conn, sql), params)
        row = cursor.fetchone()
    finally:
        cursor.close()
    return tuple(row) if row is not None else None


def moment(conn: Connection, at: datetime) -> datetime | str:
    """`at` as a parameter of `driver_sql` statements repeating it on many rows: on SQLite, the
    text its sqlite3 adapter would make of it (`isoformat(" ")`), made once rather than by a
    Python call per row while the writer holds the GIL."""
    return at.isoformat(" ") if conn.dialect.name == "sqlite" else at


@dataclass(frozen=True, slots=True)
class Sql:
    """One statement of `together`, written with `?` placeholders; `many`: `params` is a list of
    parameter tuples (executemany)."""

    sql: str
    params: Sequence[Any] = ()
    many: bool = False


def in_index_order(conn: Connection) -> list[Sql]:
    """On PostgreSQL, the settings (for the rest of the transaction) that make a claim walk its
    due index in order and stop at its LIMIT, whatever the statistics say; none on SQLite.

    A queue (messages, webhook events) fills in bursts, faster than autovacuum analyzes it:
    with statistics that say "a few rows", the planner bitmap-scans every due row and sorts
    them all at each claim — for 50,000 queued messages 28-54 ms, spilling to disk, most of
    the server's CPU in B3 — where the index walk takes under a millisecond.
    """
    if conn.dialect.name != "postgresql":
        return []
    return [Sql("SET LOCAL enable_sort = off"), Sql("SET LOCAL enable_bitmapscan = off")]


def insert_rows(
    conn: Connection,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
) -> list[Sql]:
    """The statements of `together` inserting `rows` (values in the order of `columns`, given
    as (name, PostgreSQL type) pairs) into `table`.

    On PostgreSQL, one statement over one array per column (`SELECT * FROM unnest(…)`): one
    text whatever the count, one execution, where an executemany of 2,000 rows is 2,000
    executions in the server. On SQLite (in-process), an executemany."""
    if not rows:
        return []
    names = ", ".join(name for name, _ in columns)
    if conn.dialect.name != "postgresql":
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks(len(columns))})"
        return [Sql(sql, rows, many=True)]
    arrays = ", ".join(f"?::{pg_type}[]" for _, pg_type in columns)
    sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})"
    return [Sql(sql, tuple(list(column) for column in zip(*rows, strict=True)))]


def together(
    conn: Connection, statements: Sequence[Sql], *, commit: bool = False
) -> list[list[tuple[Any, ...]]]:
    """Run `statements` in order and return the rows of each (empty for those without).

    On PostgreSQL they go in one pipeline: one network round trip for all, where one each
    (plus one per executemany) made the delivery path wait on latency rather than work. On
    SQLite (in-process) they simply run one after the other, on the DBAPI cursor: SQLAlchemy's
    execution context and result rows cost more than SQLite running a statement of a few rows,
    while the writer holds the GIL.

    `commit`: on PostgreSQL, the COMMIT of the write transaction goes in the same pipeline, so
    that the row locks its statements take are held for no round trip to the client; only as
    the last thing a `Store.write` function does (the store's own COMMIT then has nothing to
    do). Ignored on SQLite, where the writer's group commit commits.
    """
    dbapi: Any = conn.connection.dbapi_connection
    if conn.dialect.name != "postgresql":
        return _one_by_one(dbapi, statements)
    if not statements and not commit:  # an empty pipeline still waits for its Sync's answer
        return []
    cursors = []
    with dbapi.pipeline():
        for each in statements:
            cursor = dbapi.cursor()
            sql = driver_sql(conn, each.sql)
            if each.many:
                cursor.executemany(sql, each.params)
            else:
                cursor.execute(sql, each.params)
            cursors.append(cursor)
        if commit:
            cursors.append(dbapi.cursor())
            cursors[-1].execute("COMMIT")
    try:
        return [
            [tuple(row) for row in cursor.fetchall()] if cursor.description else []
            for cursor in cursors[: len(statements)]
        ]
    finally:
        for cursor in cursors:
            cursor.close()


def _one_by_one(dbapi: Any, statements: Sequence[Sql]) -> list[list[tuple[Any, ...]]]:
    """`together` on SQLite (qmark placeholders, as the statements are written)."""
    results: list[list[tuple[Any, ...]]] = []
    cursor = dbapi.cursor()
    try:
        for each in statements:
            if each.many:
                cursor.executemany(each.sql, each.params)
            else:
                cursor.execute(each.sql, each.params)
            results.append(cursor.fetchall() if cursor.description else [])
    finally:
        cursor.close()
    return results


#: The SQLite file holds API-key digests, password hashes and every message: owner only.
SQLITE_FILE_MODE = 0o600


def _private_sqlite_file(path: Path) -> None:
    """Create the store file 0600 before SQLite does (it would follow the umask, often 022),
    and tighten an existing one. SQLite gives its `-wal` and `-shm` files the mode of the
    database file, so they follow; existing ones are tightened too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, SQLITE_FILE_MODE))
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(each.stat().st_mode) & ~SQLITE_FILE_MODE:
                os.chmod(each, SQLITE_FILE_MODE)


def create_engine(url: str) -> Engine:
    """A SQLAlchemy engine set up for our use of SQLite or PostgreSQL."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:"):
            _private_sqlite_file(Path(path))
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
            poolclass=sa.pool.QueuePool,
            hide_parameters=True,  # errors and their tracebacks never show the values
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = sa.create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        connect_args={"connect_timeout": 10},  # an unreachable server fails, not hangs
        hide_parameters=True,
    )
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


#: Seconds a pooled PostgreSQL connection may rest before its next checkout pings it.
PING_AFTER_IDLE = 1.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """SQLAlchemy's `pool_pre_ping`, but only for a connection that rested over
    `PING_AFTER_IDLE`: the ping is a round trip, and the delivery path checks a connection out
    for every batch, many times a second, where it was a fifth of a batch's round trips. A
    connection that fails its ping (a restarted server) is replaced, as with `pool_pre_ping`;
    one that broke within the last second fails its transaction, which rolls back."""
    rested = time.monotonic() - record.info.get("checked_in", 0.0)
    if rested < PING_AFTER_IDLE and not dbapi_connection.closed:
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception as exc:
        raise sa.exc.DisconnectionError() from exc


class StoreUnavailable(Exception):
    """The store cannot be opened; the message is one line, without the URL's password."""


def safe_url(url: str) -> str:
    """`url` as it may be printed: its password masked."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url.partition("://")[0] + "://…"


def migrated_engine(url: str) -> Engine:
    """An engine on `url`, migrated to the latest revision; StoreUnavailable if it cannot be."""
    from hirondelle.store.migrate import upgrade

    engine: Engine | None = None
    try:
        engine = create_engine(url)
        upgrade(engine)
    except (sa.exc.DBAPIError, sa.exc.ArgumentError, OSError) as exc:
        if engine is not None:
            engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreUnavailable(f"cannot open the database {safe_url(url)}: {reason}") from None
    return engine


class Store:
    """The application's handle on its database; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._readers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="store-read")
        self._writes: queue.SimpleQueue[Queued | None] = queue.SimpleQueue()
        self._impatient = Cadence()
        self._writer: threading.Thread | None = None
        self._inline = threading.local()
        if self.is_sqlite:
            self._writer = threading.Thread(
                target=self._writer_loop, name="store-writer", daemon=True
            )
            self._writer.start()

    # -- public interface -------------------------------------------------------------------

    async def write(self, fn: WriteFn[T], *, patient: bool = False) -> T:
        """Run `fn(connection)` in a write transaction; return once its result is durable.

        `patient` (SQLite): the caller can wait a little longer (see `Cadence`), so that its
        commit is shared with the next write that cannot.
        """
        if not self.is_sqlite:
            return await asyncio.wrap_future(self.submit_write(fn))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._writes.put((fn, (loop, future), patient))
        return await future

    def submit_write(self, fn: WriteFn[T], *, patient: bool = False) -> Future[T]:
        """Like `write`, for callers outside the event loop (CLI, tests)."""
        future: Future[T] = Future()
        if self.is_sqlite:
            self._writes.put((fn, future, patient))
        else:
            self._readers.submit(self._write_postgres, fn, future)
        return future

    def write_sync(self, fn: WriteFn[T]) -> T:
        return self.submit_write(fn).result()

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn(connection)` on a pooled read connection in a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self.read_sync, fn)

    async def read_inline(self, fn: Callable[[Connection], T]) -> T:
        """A tiny indexed read (an auth lookup): on SQLite, run on the calling thread.

        A WAL reader never waits, and a lookup costs less than the hop to a worker thread;
        PostgreSQL is over a network, so there it goes to a thread, and runs in autocommit: one
        statement is its own snapshot, and the BEGIN and COMMIT of `read` would cost a round
        trip each (the lookup itself is one).
        """
        if not self.is_sqlite:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._readers, self._read_autocommit, fn)
        conn = getattr(self._inline, "conn", None)
        if conn is None:  # autocommit: one statement is its own snapshot, no BEGIN/ROLLBACK
            conn = self._inline.conn = self.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
        return fn(conn)

    def _read_autocommit(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return fn(conn)

    def read_sync(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            if self.is_sqlite:
                return fn(conn)
            with conn.begin():
                return fn(conn)

    def close(self) -> None:
        inline = getattr(self._inline, "conn", None)
        if inline is not None:
            inline.close()
        if self._writer is not None:
            self._writes.put(None)
            self._writer.join(timeout=30)
            self._writer = None
        self._readers.shutdown(wait=True)
        self.engine.dispose()

    def ping(self) -> bool:
        try:
            self.read_sync(lambda conn: conn.exec_driver_sql("SELECT 1").scalar())
        except Exception:
            log.exception("store ping failed")
            return False
        return True

    # -- PostgreSQL ---------------------------------------------------------------------------

    def _write_postgres(self, fn: WriteFn[Any], future: Future[Any]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            with self.engine.begin() as conn:
                result = fn(conn)
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)

    # -- SQLite group commit ------------------------------------------------------------------

    def _writer_loop(self) -> None:
        with self.engine.connect().execution_options(**{WRITER_OPTION: True}) as conn:
            stop = False
            while not stop:
                item = self._writes.get()
                if item is None:
                    return
                stop = self._commit_batch(conn, item)

    def _commit_batch(self, conn: Connection, first: Queued) -> bool:
        """One transaction: `first` and every write queued behind it, each in its own
        SAVEPOINT, then one COMMIT; while every write run is patient, the writes arriving until
        the deadline `Cadence` gives join it first. Return whether `close` asked to stop."""
        batch, stop = self._queued([first])
        outcomes: list[tuple[Waiter, bool, Any]] = []
        try:
            with conn.begin():
                started = joined = time.monotonic()
                while True:
                    for fn, waiter, _patient in batch[len(outcomes) :]:
                        outcomes.append(_run_in_savepoint(conn, fn, waiter))
                    impatient = [patient for _fn, _waiter, patient in batch].count(False)
                    if impatient:
                        self._impatient.note(joined)
                    if stop or impatient or len(batch) >= GROUP_COMMIT_MAX:
                        break
                    left = self._impatient.due(started) - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        item = self._writes.get(timeout=left)
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    joined = time.monotonic()
                    batch, stop = self._queued([*batch, item])
        except BaseException as exc:  # the COMMIT itself failed: nothing of the batch is durable
            outcomes = [(waiter, False, exc) for _fn, waiter, _patient in batch]
            # SQLite may keep the transaction open after a failed COMMIT (a deferred foreign key,
            # SQLITE_BUSY): end it, or every later BEGIN IMMEDIATE of this writer fails.
            dbapi = conn.connection.dbapi_connection
            if dbapi is not None and dbapi.in_transaction:
                dbapi.rollback()
        _resolve(outcomes)
        return stop

    def _queued(self, batch: list[Queued]) -> tuple[list[Queued], bool]:
        """`batch` with the writes queued now, up to GROUP_COMMIT_MAX; and whether `close`
        asked to stop."""
        while len(batch) < GROUP_COMMIT_MAX:
            try:
                more = self._writes.get_nowait()
            except queue.Empty:
                break
            if more is None:
                return batch, True
            batch.append(more)
        return batch, False


def _run_in_savepoint(
    conn: Connection, fn: WriteFn[Any], waiter: Waiter
) -> tuple[Waiter, bool, Any]:
    """`fn(conn)` in its own SAVEPOINT: one that raises rolls back only its own statements."""
    if isinstance(waiter, Future) and not waiter.set_running_or_notify_cancel():
        return waiter, False, None  # cancelled: `_resolve` skips it
    # Plain SAVEPOINTs, on the DBAPI connection: SQLAlchemy's begin_nested() costs as much as
    # a write, and its exec_driver_sql more than SQLite running the statement.
    dbapi: Any = conn.connection.dbapi_connection
    dbapi.execute("SAVEPOINT w")
    try:
        result = fn(conn)
    except BaseException as exc:
        dbapi.execute("ROLLBACK TO SAVEPOINT w")
        dbapi.execute("RELEASE SAVEPOINT w")
        return waiter, False, exc
    dbapi.execute("RELEASE SAVEPOINT w")
    return waiter, True, result


class Cadence:
    """When the next impatient write is expected, from the gaps between the last ones.

    A patient write's commit waits for the next impatient one (a bind's submit results come
    at a steady pace under load: one result every few milliseconds when the SMSC throttles
    its answers, a whole window every few tens when it does not), to share its COMMIT and
    fsync: one per answer instead of two. It waits until one gap and a half after the last
    impatient write at most, never over PATIENT_WAIT_MAX; and not at all when none came
    within PATIENT_WAIT_MAX (no submits flowing: receipts alone commit at once).
    """

    def __init__(self) -> None:
        self.last = -1.0
        self.gap = PATIENT_WAIT_MAX

    def note(self, at: float) -> None:
        """An impatient write reached the writer at `at`."""
        gap = at - self.last
        if gap <= PATIENT_WAIT_MAX:
            self.gap = (self.gap + gap) / 2
        self.last = at

    def due(self, started: float) -> float:
        """The moment a transaction of patient writes begun at `started` commits at latest."""
        if started - self.last > PATIENT_WAIT_MAX:
            return started
        return min(self.last + self.gap * 1.5, started + PATIENT_WAIT_MAX)


#: Who waits for a write: a thread (concurrent Future) or a coroutine (its loop and Future).
Waiter = Future[Any] | tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]"]
#: A write in the writer's queue: its function, its waiter, and whether it is patient.
Queued = tuple[WriteFn[Any], Waiter, bool]


def _resolve(outcomes: list[tuple[Waiter, bool, Any]]) -> None:
    """Hand each outcome to its waiter: one wake-up per event loop for the whole batch, as
    waking a loop (a write to its self-pipe) per request cost more than the request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for waiter, ok, value in outcomes:
        if isinstance(waiter, Future):
            if waiter.done():
                continue
            if ok:
                waiter.set_result(value)
            else:
                waiter.set_exception(value)
        else:
            loop, future = waiter
            by_loop.setdefault(loop, []).append((future, ok, value))
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a loop that closed meanwhile
            loop.call_soon_threadsafe(_settle, items)


def _settle(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in items:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open (and by default migrate) the store at `url`."""
    return Store(migrated_engine(url) if migrate else create_engine(url))


@contextlib.contextmanager
def opened(url: str) -> Iterator[Store]:
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()
