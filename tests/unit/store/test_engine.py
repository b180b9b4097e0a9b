"""The store engine: group commit on SQLite, isolation of a failing write, durability settings."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.store import Store
from hirondelle.store import engine as engine_module
from hirondelle.store.engine import CHUNK, chunks, create_engine, marks
from hirondelle.store.migrate import current_revision
from hirondelle.store.schema import ledger

pytestmark = pytest.mark.anyio


def insert_entry(reference: str) -> object:
    def write(conn: Connection) -> None:
        conn.execute(
            sa.insert(ledger).values(
                account_id=1,
                delta=1,
                balance_after=1,
                kind="topup",
                reference=reference,
                created_at=sa.func.now(),
            )
        )

    return write


def add_account(conn: Connection) -> None:
    conn.exec_driver_sql(
        "INSERT INTO accounts (id, login, api_key_digest, created_at) "
        "VALUES (1, 'a', 'x', CURRENT_TIMESTAMP)"
    )


async def test_a_failing_write_does_not_spoil_its_batch(database_url: str) -> None:
    store = Store(create_engine(database_url))
    try:
        await store.write(add_account)

        def boom(conn: Connection) -> None:
            insert_entry("doomed")(conn)  # type: ignore[operator]
            raise RuntimeError("boom")

        writes = [store.write(insert_entry(f"ok{i}")) for i in range(50)]  # type: ignore[arg-type]
        writes.insert(25, store.write(boom))
        results = await asyncio.gather(*writes, return_exceptions=True)
        assert [r for r in results if isinstance(r, Exception)] != []
        assert sum(isinstance(r, RuntimeError) for r in results) == 1
        references = await store.read(
            lambda conn: {r for (r,) in conn.execute(sa.select(ledger.c.reference))}
        )
        assert references == {f"ok{i}" for i in range(50)}
    finally:
        store.close()


def test_sqlite_runs_in_wal_with_full_sync(sqlite_url: str) -> None:
    store = Store(create_engine(sqlite_url))
    try:
        mode, sync = store.read_sync(
            lambda conn: (
                conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                conn.exec_driver_sql("PRAGMA synchronous").scalar(),
            )
        )
        assert (mode, sync) == ("wal", 2)  # 2 = FULL
        assert current_revision(store.engine) == "0001"
    finally:
        store.close()


def test_chunks_and_marks_for_in_lists() -> None:
    ids = list(range(CHUNK * 2 + 1))
    assert [len(chunk) for chunk in chunks(ids)] == [CHUNK, CHUNK, 1]
    assert [x for chunk in chunks(ids) for x in chunk] == ids
    assert chunks([]) == []
    assert marks(3) == "?, ?, ?"


@pytest.mark.postgres
def test_a_postgres_connection_rested_is_pinged_and_replaced_when_dead(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool pings only connections that rested (no round trip per busy checkout), and one
    that died meanwhile (a restarted server, a killed backend) is replaced, not handed out."""
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            victim = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with engine.connect() as conn:  # just checked in: handed out as it is, the same one
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() == victim
        killer = create_engine(postgres_url)
        with killer.connect() as conn:
            conn.exec_driver_sql("SELECT pg_terminate_backend(%s)", (victim,))
        killer.dispose()
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 0.0)  # as if it had rested
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != victim
    finally:
        engine.dispose()
