"""The SQLite store, its WAL and its shared-memory file are readable by their owner only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hirondelle.store.engine import open_store


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask of a shell (022): files would be world-readable without our care."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_a_fresh_store_is_created_0600(tmp_path: Path) -> None:
    db = tmp_path / "var" / "hirondelle.db"
    store = open_store(f"sqlite:///{db}")
    try:
        store.write_sync(lambda conn: conn.exec_driver_sql("CREATE TABLE t (x)"))
        files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        assert all(path.exists() for path in files)
        assert {path.name: oct(mode(path)) for path in files} == {
            path.name: "0o600" for path in files
        }
        assert os.umask(0o022) == 0o022  # the process's umask is left as it was
    finally:
        store.close()


@pytest.mark.usefixtures("open_umask")
def test_an_existing_world_readable_store_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "hirondelle.db"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    store = open_store(f"sqlite:///{db}")
    try:
        assert oct(mode(db)) == "0o600"
        assert oct(mode(db.with_name(db.name + "-wal"))) == "0o600"
    finally:
        store.close()
