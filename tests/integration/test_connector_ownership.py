"""Connector ownership on PostgreSQL: advisory locks on a dedicated connection, lost with it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from hirondelle.dispatch.ownership import ConnectorOwnership
from hirondelle.store.locks import LockConnection, lock_key
from tests.processes import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]


def test_lock_keys_are_stable_and_distinct() -> None:
    assert lock_key("operator-a") == lock_key("operator-a")
    assert lock_key("operator-a") != lock_key("operator-b")
    assert -(2**63) <= lock_key("operator-a") < 2**63


def test_a_lock_is_held_by_one_connection_until_it_closes(postgres_url: str) -> None:
    first, second = LockConnection(postgres_url), LockConnection(postgres_url)
    try:
        assert first.try_lock("smsc") is True
        assert first.try_lock("smsc") is True  # re-entrant for its holder
        assert second.try_lock("smsc") is False
        assert second.try_lock("other") is True
        first.close()
        with pytest.raises(ConnectionError):
            first.check()  # never silently reconnected: its locks are gone
        assert second.try_lock("smsc") is True
    finally:
        first.dispose()
        second.dispose()


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    async def acquired(self, name: str) -> None:
        self.events.append(("acquired", name))

    async def lost(self, name: str) -> None:
        self.events.append(("lost", name))


async def test_a_dead_connection_hands_its_connectors_to_the_other_worker(
    postgres_url: str, anyio_backend: str
) -> None:
    names = ["a", "b"]
    one, two = Recorder(), Recorder()
    first = ConnectorOwnership(names, LockConnection(postgres_url), one.acquired, one.lost)
    second = ConnectorOwnership(names, LockConnection(postgres_url), two.acquired, two.lost)
    try:
        await first.poll()
        await second.poll()
        assert (first.owned, second.owned) == ({"a", "b"}, set())
        # The first worker's connection dies (as with its process): PostgreSQL frees its locks.
        locks = first.locks
        assert isinstance(locks, LockConnection)
        admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        pid = locks.backend_pid()
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            gone = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p")
            wait_until(lambda: conn.execute(gone, {"p": pid}).scalar() == 0, 30)
        admin.dispose()
        await second.poll()
        assert second.owned == {"a", "b"}
        assert two.events == [("acquired", "a"), ("acquired", "b")]
        await first.poll()  # it notices, and stops its connectors
        assert first.owned == set()
        assert one.events == [("acquired", "a"), ("acquired", "b"), ("lost", "a"), ("lost", "b")]
        await second.release()
        await first.poll()
        assert first.owned == {"a", "b"}
    finally:
        await first.release()
        await second.release()
