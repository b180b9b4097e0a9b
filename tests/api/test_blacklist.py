"""getBlacklist (manual §14) and, beyond the manual, addToBlacklist / removeFromBlacklist."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.store import delivery as delivery_rows
from hirondelle.store.schema import accounts
from tests.helpers import Creds, json_answer, make_account, xml_answer

SUMMER = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)  # 12:00 in Paris


def call(client: TestClient, method: str, creds: Creds, **params: Any) -> Any:
    return json_answer(client.post(f"/http/9.0/{method}", data=creds.params(**params)))


def listed(ctx: Context, login: str, phone: str, comment: str) -> None:
    def add(conn: Any) -> None:
        account_id = conn.execute(
            sa.select(accounts.c.id).where(accounts.c.login == login)
        ).scalar_one()
        delivery_rows.blacklist_add(conn, account_id, phone, comment, SUMMER)

    ctx.store.write_sync(add)


def test_get_blacklist_json_and_xml(client: TestClient, ctx: Context) -> None:
    alice = make_account(ctx)
    assert call(client, "getBlacklist", alice) == {"blacklist": []}
    listed(ctx, "alice", "33611111111", "stop")
    listed(ctx, "alice", "33622222222", "refused")
    answer = call(client, "getBlacklist", alice)
    assert sorted(answer["blacklist"], key=lambda e: e["phoneNumber"]) == [
        {"phoneNumber": "33611111111", "comment": "stop", "receptionDate": "2024-07-01 12:00:00"},
        {
            "phoneNumber": "33622222222",
            "comment": "refused",
            "receptionDate": "2024-07-01 12:00:00",
        },
    ]
    root = xml_answer(client.get("/http/9.0/getBlacklist", params=alice.params(returnformat="xml")))
    assert root.tag == "getBlacklist"
    assert sorted(c.findtext("comment") for c in root.findall("blacklist/contact")) == [
        "refused",
        "stop",
    ]


def test_add_and_remove_by_hand(client: TestClient, ctx: Context) -> None:
    alice = make_account(ctx)
    added = call(client, "addToBlacklist", alice, phoneNumber="06 11 11 11 11;+33622222222;12")
    assert added == {
        "status": 1,
        "statusText": "2 number(s) added to the blacklist",
        "phoneNumbers": ["33611111111", "33622222222"],
        "alreadyListed": [],
        "invalidNumbers": "12",
    }
    again = call(client, "addToBlacklist", alice, mobile="0611111111")
    assert again["alreadyListed"] == ["33611111111"] and again["phoneNumbers"] == []
    entries = call(client, "getBlacklist", alice)["blacklist"]
    assert {(e["phoneNumber"], e["comment"]) for e in entries} == {
        ("33611111111", "manual"),
        ("33622222222", "manual"),
    }

    removed = call(client, "removeFromBlacklist", alice, phoneNumber="0611111111,0633333333")
    assert removed["phoneNumbers"] == ["33611111111"]
    assert removed["notRemoved"] == ["33633333333"]
    assert [e["phoneNumber"] for e in call(client, "getBlacklist", alice)["blacklist"]] == [
        "33622222222"
    ]


def test_a_stop_is_not_removed_by_the_api(client: TestClient, ctx: Context) -> None:
    alice = make_account(ctx)
    listed(ctx, "alice", "33611111111", "stop")
    answer = call(client, "removeFromBlacklist", alice, phoneNumber="0611111111")
    assert answer["notRemoved"] == ["33611111111"] and answer["phoneNumbers"] == []
    assert call(client, "getBlacklist", alice)["blacklist"][0]["comment"] == "stop"


def test_xml_answer_and_errors(client: TestClient, ctx: Context) -> None:
    alice = make_account(ctx)
    root = xml_answer(
        client.get(
            "/http/9.0/addToBlacklist",
            params=alice.params(phoneNumber="0611111111", returnformat="xml"),
        )
    )
    assert root.tag == "addToBlacklist"
    assert [p.text for p in root.findall("phoneNumbers/phoneNumber")] == ["33611111111"]
    assert call(client, "addToBlacklist", alice) == {"error": "Missing parameter: phoneNumber"}
    assert call(client, "addToBlacklist", alice, phoneNumber="12;34") == {
        "error": "No valid phone number"
    }


def test_each_account_has_its_own_blacklist(client: TestClient, ctx: Context) -> None:
    alice = make_account(ctx)
    alice_id = ctx.store.read_sync(lambda conn: conn.execute(sa.select(accounts.c.id)).scalar())
    make_account(ctx, "alice-shop", parent_id=alice_id)
    bob = make_account(ctx, "bob")
    call(client, "addToBlacklist", alice, phoneNumber="0611111111", subaccount="alice-shop")
    assert call(client, "getBlacklist", alice) == {"blacklist": []}
    assert call(client, "getBlacklist", bob) == {"blacklist": []}
    sub = call(client, "getBlacklist", alice, subaccount="alice-shop")["blacklist"]
    assert [(e["phoneNumber"], e["comment"]) for e in sub] == [("33611111111", "manual")]
