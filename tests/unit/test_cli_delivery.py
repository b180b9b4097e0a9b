"""`hirondelle blacklist`, `webhooks` and `replies`, in-process against a temporary SQLite store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hirondelle.services import replies
from hirondelle.store.engine import opened
from tests.unit.test_cli import run  # noqa: F401 (the fixture: a CLI runner on a temporary store)


@pytest.fixture
def acme(run):  # type: ignore[no-untyped-def]  # noqa: F811
    run("accounts", "create", "acme")
    return run


def test_blacklist_by_hand(acme) -> None:  # type: ignore[no-untyped-def]
    out = acme("blacklist", "add", "acme", "0611111111", "+33622222222")
    assert "33611111111: added" in out and "33622222222: added" in out
    assert "already blacklisted" in acme("blacklist", "add", "acme", "0611111111")
    assert "not a valid mobile number" in acme("blacklist", "add", "acme", "12", code=1)
    listed = json.loads(acme("blacklist", "list", "acme", "--json"))
    assert sorted(e["phoneNumber"] for e in listed) == ["33611111111", "33622222222"]
    assert {e["comment"] for e in listed} == {"manual"}
    assert "33611111111: removed" in acme("blacklist", "remove", "acme", "0611111111")
    assert "1 number(s)" in acme("blacklist", "list", "acme")
    assert "No account with login 'nobody'" in acme("blacklist", "list", "nobody", code=1)


def test_webhooks(acme, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    assert "loopback" in acme(
        "webhooks", "set", "acme", "--receipt-url", "http://127.0.0.1/", code=1
    )
    monkeypatch.setenv("HIRONDELLE_ALLOW_PRIVATE_ADDRESSES", "1")
    shown = json.loads(
        acme("webhooks", "set", "acme", "--receipt-url", "http://127.0.0.1/dlr", "--json")
    )
    assert shown["receipt_url"] == "http://127.0.0.1/dlr" and len(shown["new_secret"]) == 48
    shown = json.loads(acme("webhooks", "show", "acme", "--json"))
    assert shown == {
        "receipt_url": "http://127.0.0.1/dlr",
        "reply_url": "",
        "has_secret": True,
        "receipt_events": "all",
        "batch": 0,
    }
    chosen = acme("webhooks", "set", "acme", "--events", "final", "--batch", "20", "--json")
    assert json.loads(chosen)["receipt_events"] == "final" and json.loads(chosen)["batch"] == 20
    assert "final" in acme("webhooks", "set", "acme", "--events", "some", code=1)
    assert "new_secret" in acme("webhooks", "set", "acme", "--secret", "generate")
    assert "16 to 128" in acme("webhooks", "set", "acme", "--secret", "short", code=1)


def test_unassigned_replies(acme, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "0 unassigned reply(ies)" in acme("replies", "unassigned")
    at = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    with opened(f"sqlite:///{tmp_path}/cli.db") as store:
        for text, to in (("Who is this?", "36180"), ("Hello", "38999")):
            store.write_sync(
                lambda conn, t=text, d=to: replies.apply_reply(
                    conn, "33611111111", d, t, at, timedelta(hours=72)
                )
            )
    listed = json.loads(acme("replies", "unassigned", "--json"))
    assert [(r["phoneNumber"], r["to"], r["message"]) for r in listed] == [
        ("33611111111", "38999", "Hello"),
        ("33611111111", "36180", "Who is this?"),
    ]
    assert listed[0]["receptionDate"] == "2026-01-05 09:30:00"  # UTC
    text = acme("replies", "unassigned", "--limit", "1")
    assert "Hello" in text and "Who is this?" not in text
