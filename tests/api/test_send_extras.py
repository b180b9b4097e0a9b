"""Beyond the manual's sendSms: LISTNAME (send to a contact list with its fields as merge
fields), SHORTEN (a short link per URL and recipient), and MASTERACCOUNT (manual §6.2)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.domain.links import CODE_LENGTH
from hirondelle.store.accounts import find_by_id, find_by_login
from hirondelle.store.schema import blacklist, messages, short_links
from tests.helpers import Creds, json_answer, make_account


def send(client: TestClient, creds: Creds, data: dict[str, Any], **params: str) -> Any:
    feed = json.dumps({"DATA": data})
    return json_answer(client.post("/http/9.0/sendSms", data=creds.params(smsData=feed, **params)))


def texts(ctx: Context) -> dict[str, str]:
    rows = ctx.store.read_sync(
        lambda conn: conn.execute(sa.select(messages.c.phone, messages.c.text)).all()
    )
    return dict(rows)  # type: ignore[arg-type]


def test_send_to_a_list_with_merge_fields_and_the_blacklist(
    client: TestClient, ctx: Context
) -> None:
    creds = make_account(ctx, credits=1000)
    structure = [{"FIELDNAME": "City", "FILTER": "1", "MAILING": "0"}]
    answer = json_answer(
        client.post(
            "/http/9.0/createList",
            data=creds.params(
                listData=json.dumps({"DATA": {"LISTNAME": "shops", "STRUCTURE": structure}})
            ),
        )
    )
    assert answer["status"] == 1, answer
    contacts = [
        {"MOBILEPHONE": "0611111111", "CITY": "Nice"},
        {"MOBILEPHONE": "0622222222", "CITY": "Paris"},
        {"MOBILEPHONE": "0633333333", "CITY": "Lyon"},
    ]
    populated = json_answer(
        client.post(
            "/http/9.0/populateList",
            data=creds.params(
                populateData=json.dumps({"DATA": {"LISTNAME": "shops", "CONTACT": contacts}})
            ),
        )
    )
    assert populated["status"] == 1, populated
    alice = ctx.store.read_sync(lambda conn: find_by_login(conn, "alice")["id"])
    ctx.store.write_sync(
        lambda conn: conn.execute(
            sa.insert(blacklist).values(
                account_id=alice, phone="33633333333", comment="stop", created_at=sa.func.now()
            )
        )
    )
    answer = send(client, creds, {"MESSAGE": "Sale in #city# today", "LISTNAME": "shops"})
    assert answer["status"] == 100, answer
    assert answer["invalidNumbers"] == "33633333333"
    assert texts(ctx) == {
        "33611111111": "Sale in Nice today",
        "33622222222": "Sale in Paris today",
    }


def test_unknown_list_is_no_valid_number(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=1000)
    answer = send(client, creds, {"MESSAGE": "Hi", "LISTNAME": "nope"})
    assert answer["status"] == 114


def test_shorten_gives_each_recipient_its_own_link_and_counts_it(
    client: TestClient, ctx: Context
) -> None:
    creds = make_account(ctx, credits=1000)
    long_url = "https://shop.example.com/offers/" + "x" * 150
    message = f"See {long_url}"
    data = {"MESSAGE": message, "SHORTEN": "1"}
    data["SMS"] = [{"MOBILEPHONE": "0611111111"}, {"MOBILEPHONE": "0622222222"}]
    answer = send(client, creds, data)
    assert answer["status"] == 100
    assert answer["nbSms"] == 2  # the long URL alone would make each message 2 parts
    stored = texts(ctx)
    base = ctx.settings.base_url + "/s/"
    first, second = stored["33611111111"], stored["33622222222"]
    assert first.startswith("See " + base) and second.startswith("See " + base)
    assert len(first) == len("See " + base) + CODE_LENGTH
    assert first != second
    targets = ctx.store.read_sync(
        lambda conn: conn.execute(sa.select(short_links.c.target)).scalars().all()
    )
    assert targets == [long_url, long_url]
    code = first.rsplit("/", 1)[1]
    redirect = client.get(f"/s/{code}", follow_redirects=False)
    assert (redirect.status_code, redirect.headers["location"]) == (302, long_url)


def parent_of(ctx: Context, login: str) -> str | None:
    def read(conn: sa.Connection) -> str | None:
        parent_id = find_by_login(conn, login)["parent_id"]
        return None if parent_id is None else str(find_by_id(conn, parent_id)["login"])

    return ctx.store.read_sync(read)


def test_masteraccount_binds_a_free_account_to_a_valid_master(
    client: TestClient, ctx: Context
) -> None:
    make_account(ctx, "boss", credits=10, accepts_masteraccount=True)
    creds = make_account(ctx, "newbie", credits=100)
    data = {"MESSAGE": "Hi", "MASTERACCOUNT": "boss", "SMS": [{"MOBILEPHONE": "0611111111"}]}
    assert send(client, creds, data)["status"] == 100
    assert parent_of(ctx, "newbie") == "boss"


def test_masteraccount_needs_the_consent_of_the_master(client: TestClient, ctx: Context) -> None:
    make_account(ctx, "boss", credits=10)  # accepts_masteraccount is off by default
    creds = make_account(ctx, "newbie", credits=100)
    data = {"MESSAGE": "Hi", "MASTERACCOUNT": "boss", "SMS": [{"MOBILEPHONE": "0611111111"}]}
    assert send(client, creds, data)["status"] == 100
    assert parent_of(ctx, "newbie") is None


@pytest.mark.parametrize(
    ("credits", "message", "status"),
    [(0, "Hi", 104), (100, "", 110), (100, "a" * 2000, 111)],
)
def test_a_refused_send_binds_nothing(
    client: TestClient, ctx: Context, credits: int, message: str, status: int
) -> None:
    make_account(ctx, "boss", credits=10, accepts_masteraccount=True)
    creds = make_account(ctx, "newbie", credits=credits)
    data = {"MESSAGE": message, "MASTERACCOUNT": "boss", "SMS": [{"MOBILEPHONE": "0611111111"}]}
    assert send(client, creds, data)["status"] == status
    assert parent_of(ctx, "newbie") is None
    many = {**data, "SMS": [{"MOBILEPHONE": f"0612{n:06d}"} for n in range(600)]}
    assert send(client, creds, many)["status"] == status  # planned outside the write
    assert parent_of(ctx, "newbie") is None


def test_an_invalid_masteraccount_does_not_stop_the_send(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, "loner", credits=100)
    data = {"MESSAGE": "Hi", "MASTERACCOUNT": "ghost", "SMS": [{"MOBILEPHONE": "0611111111"}]}
    assert send(client, creds, data)["status"] == 100
    parent = ctx.store.read_sync(lambda conn: find_by_login(conn, "loner")["parent_id"])
    assert parent is None


def test_mail_notif_sends_a_copy_of_a_refusal(client: TestClient, ctx: Context) -> None:
    from hirondelle.store.schema import emails

    creds = make_account(ctx, credits=1000, email="ops@example.com")
    data = {"MESSAGE": "", "MAIL_NOTIF": "1", "SMS": [{"MOBILEPHONE": "0611111111"}]}
    assert send(client, creds, data)["status"] == 110
    recipients = ctx.store.read_sync(
        lambda conn: conn.execute(sa.select(emails.c.recipient)).scalars().all()
    )
    assert recipients == ["ops@example.com"]
    data["MAIL_NOTIF"] = "0"
    assert send(client, creds, data)["status"] == 110
    assert (
        ctx.store.read_sync(
            lambda conn: conn.execute(sa.select(sa.func.count()).select_from(emails)).scalar()
        )
        == 1
    )
