"""`Store` beyond the basics: group commit observed, the writer's failure modes, threads and
loops, inline reads, readers that never wait for the writer, closing, and the SQL helpers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection

from hirondelle.store import Store
from hirondelle.store.engine import (
    create_engine,
    driver_sql,
    fetch_one,
    insert_rows,
    one_of,
    together,
)
from hirondelle.store.schema import accounts

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 1, tzinfo=UTC)
WAIT = 10.0  # seconds: the bound of every wait below; a healthy run takes milliseconds


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(create_engine(database_url))
    yield opened
    opened.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    opened = Store(create_engine(sqlite_url))
    yield opened
    opened.close()


def add(login: str) -> Callable[[Connection], str]:
    def write(conn: Connection) -> str:
        conn.execute(sa.insert(accounts).values(login=login, api_key_digest="x", created_at=NOW))
        return login

    return write


def logins(conn: Connection) -> set[str]:
    return set(conn.execute(sa.select(accounts.c.login)).scalars())


def count_commits(store: Store) -> list[int]:
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: commits.append(1))
    return commits


class Blocker:
    """A write that holds the SQLite writer (inside BEGIN IMMEDIATE) until released."""

    def __init__(self, login: str = "blocker") -> None:
        self.login = login
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, conn: Connection) -> str:
        try:
            add(self.login)(conn)
        finally:
            self.started.set()
        assert self.release.wait(WAIT)
        return self.login

    def hold(self, store: Store) -> Future[str]:
        future = store.submit_write(self)
        assert self.started.wait(WAIT)
        assert not future.done(), future.exception()
        return future


def wait_queued(store: Store, count: int) -> None:
    for _ in range(1000):
        if store._writes.qsize() >= count:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"{count} writes never queued")


def boom(conn: Connection) -> None:
    add("doomed")(conn)
    raise RuntimeError("boom")


def test_writes_queued_behind_a_slow_one_share_one_commit(sqlite_store: Store) -> None:
    commits = count_commits(sqlite_store)
    blocker = Blocker()
    first = blocker.hold(sqlite_store)
    futures = [sqlite_store.submit_write(add(f"user{i}")) for i in range(20)]
    wait_queued(sqlite_store, 20)
    blocker.release.set()
    assert [f.result(WAIT) for f in futures] == [f"user{i}" for i in range(20)]
    assert first.result(WAIT) == "blocker"
    assert len(commits) == 2  # the blocker's batch, then all twenty together
    assert len(sqlite_store.read_sync(logins)) == 21


async def test_concurrent_writes_commit_in_fewer_transactions(sqlite_store: Store) -> None:
    commits = count_commits(sqlite_store)
    results = await asyncio.gather(*(sqlite_store.write(add(f"u{i}")) for i in range(100)))
    assert results == [f"u{i}" for i in range(100)]
    assert 1 <= len(commits) < 100


def test_a_raising_write_rolls_back_only_itself_within_its_batch(sqlite_store: Store) -> None:
    commits = count_commits(sqlite_store)
    blocker = Blocker()
    blocker.hold(sqlite_store)
    before = sqlite_store.submit_write(add("before"))
    failing = sqlite_store.submit_write(boom)
    after = sqlite_store.submit_write(add("after"))
    wait_queued(sqlite_store, 3)
    blocker.release.set()
    assert (before.result(WAIT), after.result(WAIT)) == ("before", "after")
    with pytest.raises(RuntimeError, match="boom"):
        failing.result(WAIT)
    assert len(commits) == 2
    assert sqlite_store.read_sync(logins) == {"blocker", "before", "after"}


def test_a_failing_commit_fails_every_write_of_its_batch(sqlite_store: Store) -> None:
    def dangling(conn: Connection) -> None:
        # Deferred, the foreign key is checked only by the COMMIT, which then fails.
        conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        conn.execute(sa.update(accounts).where(accounts.c.login == "blocker").values(parent_id=999))

    blocker = Blocker()
    first = blocker.hold(sqlite_store)
    batch = [sqlite_store.submit_write(fn) for fn in (add("a"), dangling, add("b"))]
    wait_queued(sqlite_store, 3)
    blocker.release.set()
    assert first.result(WAIT) == "blocker"
    for future in batch:
        with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY"):
            future.result(WAIT)
    assert sqlite_store.read_sync(logins) == {"blocker"}
    # The writer recovers: the next batch commits.
    assert sqlite_store.write_sync(add("c")) == "c"
    assert sqlite_store.read_sync(logins) == {"blocker", "c"}


def test_write_sync_and_submit_write_from_threads(store: Store) -> None:
    results: dict[str, Any] = {}

    def worker(login: str) -> None:
        results[login] = store.write_sync(add(login))

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert results == {f"t{i}": f"t{i}" for i in range(4)}
    with pytest.raises(RuntimeError, match="boom"):
        store.submit_write(boom).result(WAIT)
    assert store.read_sync(logins) == set(results)


def test_writes_from_two_loops_resolve_on_their_own_loops(sqlite_store: Store) -> None:
    outcomes: dict[str, tuple[str, bool]] = {}
    blocker = Blocker()
    blocker.hold(sqlite_store)

    async def one(login: str) -> None:
        loop = asyncio.get_running_loop()
        done_on: list[asyncio.AbstractEventLoop] = []
        result = await sqlite_store.write(add(login))
        done_on.append(asyncio.get_running_loop())
        outcomes[login] = (result, done_on == [loop])

    threads = [
        threading.Thread(target=asyncio.run, args=(one(login),)) for login in ("left", "right")
    ]
    for thread in threads:
        thread.start()
    wait_queued(sqlite_store, 2)  # both in the batch behind the blocker
    blocker.release.set()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()
    assert outcomes == {"left": ("left", True), "right": ("right", True)}


async def test_read_inline_on_sqlite_runs_here_and_sees_new_commits(sqlite_store: Store) -> None:
    here = threading.get_ident()
    threads: list[int] = []

    def count(conn: Connection) -> int:
        threads.append(threading.get_ident())
        return len(logins(conn))

    assert await sqlite_store.read_inline(count) == 0
    await sqlite_store.write(add("fresh"))
    assert await sqlite_store.read_inline(count) == 1  # no snapshot kept from the first read
    await sqlite_store.write(add("fresher"))
    assert await sqlite_store.read_inline(count) == 2
    assert threads == [here, here, here]


async def test_read_inline_on_postgres_goes_to_a_thread(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the PostgreSQL branch of read_inline")
    store = Store(create_engine(database_url))
    try:
        await store.write(add("pg"))
        ident, names = await store.read_inline(lambda conn: (threading.get_ident(), logins(conn)))
        assert ident != threading.get_ident()
        assert names == {"pg"}

        def status(conn: Connection) -> object:  # no BEGIN sent: no transaction after a query
            logins(conn)
            return conn.connection.dbapi_connection.info.transaction_status  # type: ignore[union-attr]

        assert getattr(await store.read_inline(status), "name", None) == "IDLE"
        await store.write(add("later"))
        assert await store.read_inline(logins) == {"pg", "later"}
        assert getattr(await store.read(status), "name", None) == "INTRANS"  # read: in its BEGIN
    finally:
        store.close()


async def test_readers_do_not_wait_for_the_writer(sqlite_store: Store) -> None:
    sqlite_store.write_sync(add("committed"))
    blocker = Blocker("uncommitted")
    held = blocker.hold(sqlite_store)  # the writer sits inside BEGIN IMMEDIATE
    try:
        assert sqlite_store.read_sync(logins) == {"committed"}
        assert await asyncio.wait_for(sqlite_store.read(logins), WAIT) == {"committed"}
        assert await sqlite_store.read_inline(logins) == {"committed"}
    finally:
        blocker.release.set()
    assert held.result(WAIT) == "uncommitted"
    assert sqlite_store.read_sync(logins) == {"committed", "uncommitted"}


def test_close_commits_queued_writes_joins_the_writer_and_may_repeat(sqlite_url: str) -> None:
    store = Store(create_engine(sqlite_url))
    writer = store._writer
    assert writer is not None and writer.is_alive()
    futures = [store.submit_write(add(f"q{i}")) for i in range(5)]
    store.close()
    assert not writer.is_alive()
    assert [f.result(0) for f in futures] == [f"q{i}" for i in range(5)]
    store.close()  # a second close is harmless
    reopened = Store(create_engine(sqlite_url))
    try:
        assert reopened.read_sync(logins) == {f"q{i}" for i in range(5)}
    finally:
        reopened.close()


def test_driver_sql_and_fetch_one(store: Store) -> None:
    store.write_sync(add("alice"))

    def check(conn: Connection) -> None:
        sql = "SELECT login FROM accounts WHERE login = ? AND id > ?"
        expected = sql if store.is_sqlite else sql.replace("?", "%s")
        assert driver_sql(conn, sql) == expected
        assert fetch_one(conn, sql, ("alice", 0)) == ("alice",)
        assert fetch_one(conn, sql, ("nobody", 0)) is None

    store.read_sync(check)


def test_one_of_keeps_one_statement_text_on_postgresql_whatever_the_count(store: Store) -> None:
    for login in ("alice", "bob", "carol"):
        store.write_sync(add(login))

    def found(conn: Connection, names: list[str]) -> tuple[str, set[str]]:
        condition, params = one_of(conn, names, "text")
        sql = f"SELECT login FROM accounts WHERE login {condition}"
        return condition, {row[0] for row in conn.exec_driver_sql(driver_sql(conn, sql), params)}

    def check(conn: Connection) -> None:
        one, one_found = found(conn, ["bob"])
        many, many_found = found(conn, ["alice", "carol", "nobody", "alice"])
        assert (one_found, many_found) == ({"bob"}, {"alice", "carol"})
        if store.is_sqlite:
            assert (one, many) == ("IN (?)", "IN (?, ?, ?, ?)")
        else:  # one array parameter: the same text, prepared once by the server
            assert one == many == "= ANY(?::text[])"

    store.read_sync(check)


def test_array_parameters_go_in_binary_on_postgresql(store: Store) -> None:
    def check(conn: Connection) -> None:
        sql = "SELECT ? FROM t WHERE id = ANY(?::int[]) AND x = ?::text AND y = ?::text[]"
        if store.is_sqlite:
            assert driver_sql(conn, sql) == sql
        else:  # psycopg dumps a list as binary several times faster than as text
            assert driver_sql(conn, sql) == (
                "SELECT %s FROM t WHERE id = ANY(%b::int[]) AND x = %s::text AND y = %b::text[]"
            )

    store.read_sync(check)


def test_insert_rows_keeps_order_nulls_text_and_moments(store: Store) -> None:
    """One statement over arrays on PostgreSQL, an executemany on SQLite: the same rows either
    way, NULLs (a column all NULL too), quotes, backslashes and non-ASCII text intact."""
    columns = (
        ("login", "varchar"),
        ("api_key_digest", "varchar"),
        ("password_hash", "varchar"),
        ("smpp_password_hash", "varchar"),
        ("smpp_max_binds", "smallint"),
        ("created_at", "timestamptz"),
    )
    later = datetime(2026, 7, 14, 12, 30, 5, 123456, tzinfo=UTC)
    rows = [
        ("o'brien", 'say "hi"', None, None, 3, NOW),
        ("back\\slash", "été ✓ 😀", "h,{x}", None, None, later),
        ("plain", "{1,2}", "NULL", None, 7, NOW),
    ]

    def write(conn: Connection) -> None:
        statements = insert_rows(conn, "accounts", columns, rows)
        assert len(statements) == 1
        together(conn, statements)

    store.write_sync(write)

    def read(conn: Connection) -> list[tuple[Any, ...]]:
        query = sa.select(
            accounts.c.login,
            accounts.c.api_key_digest,
            accounts.c.password_hash,
            accounts.c.smpp_password_hash,
            accounts.c.smpp_max_binds,
            accounts.c.created_at,
        ).order_by(accounts.c.id)
        return [tuple(row) for row in conn.execute(query)]

    assert store.read_sync(read) == rows
    assert store.read_sync(lambda conn: insert_rows(conn, "accounts", columns, [])) == []


def test_sqlite_pragmas_on_readers_and_the_writer(sqlite_store: Store) -> None:
    def pragmas(conn: Connection) -> tuple[Any, ...]:
        names = ("journal_mode", "synchronous", "foreign_keys", "cache_size", "busy_timeout")
        return tuple(conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names)

    expected = ("wal", 2, 1, -65536, 10000)
    assert sqlite_store.read_sync(pragmas) == expected
    assert sqlite_store.write_sync(pragmas) == expected
