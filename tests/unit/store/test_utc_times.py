"""Every stored moment reads back as an aware UTC datetime, however it was written: SQLite keeps
no time zone, and rows written at driver level (the hot paths) bypass SQLAlchemy's types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.store import Store
from hirondelle.store.engine import create_engine, driver_sql, moment
from hirondelle.store.schema import as_utc, ledger

pytestmark = pytest.mark.anyio

WHEN = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)
PARIS_SUMMER = timezone(timedelta(hours=2))


def write_both_ways(conn: Connection) -> None:
    conn.exec_driver_sql(
        driver_sql(
            conn,
            "INSERT INTO accounts (id, login, api_key_digest, created_at) VALUES (1, 'a', 'x', ?)",
        ),
        (WHEN,),
    )
    row = dict(account_id=1, delta=1, balance_after=1, kind="topup")
    conn.execute(sa.insert(ledger).values(reference="typed", created_at=WHEN, **row))
    # An aware moment in another zone is the same instant.
    paris = WHEN.astimezone(PARIS_SUMMER)
    conn.execute(sa.insert(ledger).values(reference="paris", created_at=paris, **row))
    sql = (
        "INSERT INTO ledger (account_id, delta, balance_after, kind, reference, created_at)"
        " VALUES (1, 1, 1, 'topup', 'driver', ?)"
    )
    conn.exec_driver_sql(driver_sql(conn, sql), (WHEN,))


async def test_every_moment_reads_back_aware_utc(database_url: str) -> None:
    store = Store(create_engine(database_url))
    try:
        await store.write(write_both_ways)
        found = await store.read(
            lambda conn: conn.execute(sa.select(ledger.c.reference, ledger.c.created_at)).all()
        )
        moments = {reference: at for reference, at in found}
        assert set(moments) == {"typed", "paris", "driver"}
        for at in moments.values():
            assert at == WHEN
            assert at.utcoffset() == timedelta(0)
            assert at.tzinfo == UTC
        newest = await store.read(
            lambda conn: conn.execute(sa.select(sa.func.max(ledger.c.created_at))).scalar_one()
        )
        assert newest == WHEN and newest.tzinfo == UTC
    finally:
        store.close()


def test_as_utc_reads_driver_level_values() -> None:
    assert as_utc("2026-03-29 01:30:15.123456") == WHEN
    assert as_utc("2026-03-29 03:30:15.123456+02:00") == WHEN
    assert as_utc(WHEN.replace(tzinfo=None)) == WHEN
    assert as_utc(WHEN.astimezone(PARIS_SUMMER)).tzinfo == UTC


@pytest.mark.parametrize("at", [WHEN, WHEN.astimezone(PARIS_SUMMER), WHEN.replace(tzinfo=None)])
def test_a_moment_adapted_once_is_stored_as_the_driver_would(tmp_path: Path, at: datetime) -> None:
    """`moment` (one adaptation for many rows) stores the very text sqlite3 makes of a datetime."""
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (at TEXT)")
            conn.exec_driver_sql("INSERT INTO t VALUES (?)", (at,))
            conn.exec_driver_sql("INSERT INTO t VALUES (?)", (moment(conn, at),))
            first, second = (row[0] for row in conn.exec_driver_sql("SELECT at FROM t"))
        assert first == second
    finally:
        engine.dispose()
