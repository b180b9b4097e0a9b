"""Session-level advisory locks on a dedicated PostgreSQL connection (connector ownership).

A lock taken here lives as long as this one connection: when the process dies, or its
connection drops, PostgreSQL releases it and another worker can take it. The connection is
never returned to the pool (a pooled connection would carry the lock to whoever borrows it)
and runs in autocommit, so no transaction stays open on it.
"""

from __future__ import annotations

import contextlib
import hashlib

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (pg_try_advisory_lock takes a bigint): the same in
    every process and every Python version, unlike hash()."""
    digest = hashlib.sha256(b"hirondelle:" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class LockConnection:
    """Blocking calls: run them in a thread (`asyncio.to_thread`)."""

    def __init__(self, url: str | sa.URL) -> None:
        # NullPool: a connection of its own, really closed when we close it.
        self.engine: Engine = sa.create_engine(
            url,
            poolclass=sa.pool.NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": 10},
            hide_parameters=True,
        )
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.engine.connect()
        return self._conn

    def try_lock(self, name: str) -> bool:
        """Take the lock of `name` if no other session holds it (never waits)."""
        query = sa.text("SELECT pg_try_advisory_lock(:key)")
        return bool(self._connection().execute(query, {"key": lock_key(name)}).scalar())

    def unlock(self, name: str) -> None:
        query = sa.text("SELECT pg_advisory_unlock(:key)")
        self._connection().execute(query, {"key": lock_key(name)})

    def check(self) -> None:
        """Raise if the connection (hence every lock of it) is lost: never reconnects."""
        if self._conn is None:
            raise ConnectionError("the lock connection is closed")
        self._conn.execute(sa.text("SELECT 1"))

    def backend_pid(self) -> int:
        """The PostgreSQL process of this connection (for tests and diagnostics)."""
        return int(self._connection().execute(sa.text("SELECT pg_backend_pid()")).scalar_one())

    def close(self) -> None:
        """Release every lock and drop the connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            # Released now, not when the server notices the closed socket a moment later.
            with contextlib.suppress(Exception):  # already gone: so are its locks
                conn.execute(sa.text("SELECT pg_advisory_unlock_all()"))
            with contextlib.suppress(Exception):
                conn.invalidate()
                conn.close()

    def dispose(self) -> None:
        self.close()
        self.engine.dispose()
