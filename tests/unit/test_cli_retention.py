"""`hirondelle purge`, in-process against a temporary SQLite store (the purge itself:
tests/unit/services/test_retention.py)."""

from __future__ import annotations

import json

from tests.unit.test_cli import run  # noqa: F401 (the fixture: a CLI runner on a temporary store)


def test_purge_counts_then_deletes(run) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    run("accounts", "create", "acme")
    assert "Would delete, created before" in run("purge", "--dry-run")
    done = json.loads(run("purge", "--json", "--days", "30", "--batch", "10"))
    assert (done["messages"], done["replies"], done["dry_run"]) == (0, 0, False)
    assert "Deleted, created before" in run("purge")
    assert "Invalid value" in run("purge", "--days", "0", code=2)
