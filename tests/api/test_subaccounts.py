"""createSubAccount, updateSubAccount, getSubAccounts, manageSubAccountCredits, deleteSubAccount
end to end: annex 10, §19's table and §20's statuses, each produced by a request."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.services import accounts
from hirondelle.store.accounts import find_by_login
from hirondelle.store.schema import accounts as accounts_table
from hirondelle.store.schema import ledger, pending_emails
from tests.conftest import count_rows
from tests.helpers import Creds, json_answer, make_account, xml_answer

SUB = {
    "FIRSTNAME": "Thomas",
    "LASTNAME": "Dupont",
    "SOCIETY": "Society",
    "MOBILE": "+ 33612345678",
    "EMAIL": "email@domain.com",
    "LOGIN": "newlogin",
    "PASSWORD": "newpass",
    "PHONE": "0493000000",
    "WEBSITE": "domain.com",
    "ADDRESS": "address new account",
    "ZIP": "75001",
    "CITY": "Paris",
    "COUNTRY": "FRANCE",
}

# Appendix 8, well-formed (the manual's closing tags carry a stray space).
APPENDIX_8 = """<DATA>
<FIRSTNAME> Thomas </FIRSTNAME>
<LASTNAME> SMITH </LASTNAME>
<SOCIETY> Society </SOCIETY>
<MOBILE> + 33612345678 </MOBILE>
<EMAIL> email@domain.com </EMAIL>
<LOGIN> newlogin </LOGIN>
<PASSWORD> newpass </PASSWORD>
<PHONE> 0493000000 </PHONE>
<WEBSITE> domain.com </WEBSITE>
<ADDRESS> address new account </ADDRESS>
<ZIP> 01000 </ZIP>
<CITY> Paris </CITY>
<COUNTRY> FRANCE </COUNTRY>
<SENDEMAILTOCUSTOMER> 1 </SENDEMAILTOCUSTOMER>
<SENDEMAILTOMASTERACCOUNT> 1 </SENDEMAILTOMASTERACCOUNT>
<POSTPAID> 1 </POSTPAID>
<PROFILE> to define MS Innovations </PROFILE>
</DATA>"""


def call(client: TestClient, name: str, creds: Creds, **params: Any) -> Any:
    return json_answer(client.post(f"/http/9.0/{name}/", data=creds.params(**params)))


def feed(**fields: str) -> str:
    return orjson.dumps({"DATA": fields}).decode()


def row(ctx: Context, login: str) -> Any:
    return ctx.store.read_sync(lambda conn: find_by_login(conn, login, include_deleted=True))


def add_sub(ctx: Context, master: str, login: str, credits: int = 0, **fields: Any) -> Creds:
    return make_account(ctx, login, credits=credits, parent_id=row(ctx, master)["id"], **fields)


@pytest.fixture
def master(ctx: Context) -> Creds:
    return make_account(ctx, "master", credits=1000, email="boss@example.com")


# -- createSubAccount ---------------------------------------------------------------------------


def test_create_from_a_json_feed(client: TestClient, ctx: Context, master: Creds) -> None:
    answer = call(client, "createSubAccount", master, accountData=feed(**SUB))
    assert answer == {"status": 1, "text": "Sub-account successfully created"}
    sub = row(ctx, "newlogin")
    assert sub["parent_id"] == row(ctx, "master")["id"]
    assert (sub["first_name"], sub["last_name"], sub["society"]) == ("Thomas", "Dupont", "Society")
    assert (sub["mobile"], sub["phone"], sub["zip"]) == ("33612345678", "0493000000", "75001")
    assert sub["password_hash"].startswith("$argon2")
    assert sub["active"] and not sub["postpaid"] and sub["balance"] == 0
    assert count_rows(ctx, pending_emails) == 0


def test_create_from_appendix_8_answers_in_xml(client: TestClient, ctx: Context) -> None:
    boss = make_account(ctx, "master", credits=0, postpaid=True, email="boss@example.com")
    root = xml_answer(
        client.post("/http/9.0/createSubAccount", data=boss.params(accountData=APPENDIX_8))
    )
    assert root.tag == "createSubAccount"
    assert (root.findtext("status"), root.findtext("text")) == (
        "1",
        "Sub-account successfully created",
    )
    sub = row(ctx, "newlogin")
    assert sub["postpaid"] and sub["profile"] == "to define MS Innovations"
    emails = ctx.store.read_sync(
        lambda conn: list(conn.execute(sa.select(pending_emails).order_by("id")).mappings())
    )
    assert [(e["kind"], e["to_address"], e["account_id"]) for e in emails] == [
        ("subaccount_to_customer", "email@domain.com", sub["id"]),
        ("subaccount_to_master", "boss@example.com", sub["id"]),
    ]
    assert all(e["state"] == "sent" and "newpass" not in str(dict(e)) for e in emails)


def test_the_e_mail_spelling_of_section_16(client: TestClient, ctx: Context, master: Creds) -> None:
    fields = {k: v for k, v in SUB.items() if k != "EMAIL"}
    xml = "<DATA>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    xml += "<E-MAIL>dash@domain.com</E-MAIL><BILLEMAIL>bill@domain.com</BILLEMAIL></DATA>"
    root = xml_answer(
        client.post("/http/9.0/createSubAccount", data=master.params(accountData=xml))
    )
    assert root.findtext("status") == "1"
    assert (row(ctx, "newlogin")["email"], row(ctx, "newlogin")["bill_email"]) == (
        "dash@domain.com",
        "bill@domain.com",
    )


def test_created_inactive_then_activated(client: TestClient, ctx: Context, master: Creds) -> None:
    call(client, "createSubAccount", master, accountData=feed(**SUB, ACTIVE="0"))
    sub = Creds("newlogin", asyncio.run(accounts.rotate_api_key(ctx, "newlogin")))
    assert "error" in call(client, "getInfo", sub)
    answer = call(
        client, "updateSubAccount", master, subaccount="newlogin", accountData=feed(ACTIVE="1")
    )
    assert answer == {"status": 1, "text": "Sub-account successfully updated"}
    assert call(client, "getInfo", sub)["status"] == "Active Account"


BAD_CREATES: list[tuple[str, dict[str, str] | str | None, str]] = [
    ("no feed", None, "Missing or empty accountData"),
    ("empty JSON", "{}", "Missing or empty accountData"),
    ("broken JSON", '{"DATA": {"LOGIN": ', "not valid JSON or XML"),
    ("broken XML", "<DATA><LOGIN>x</DATA>", "not valid JSON or XML"),
    ("DOCTYPE", '<!DOCTYPE x [<!ENTITY a "b">]><DATA/>', "not valid JSON or XML"),
    ("no first name", {**SUB, "FIRSTNAME": ""}, "Missing required fields: FIRSTNAME"),
    ("no email", {k: v for k, v in SUB.items() if k != "EMAIL"}, "Missing required fields: EMAIL"),
    ("bad email", {**SUB, "EMAIL": "not-an-email"}, "EMAIL is not a valid email address"),
    ("bad bill email", {**SUB, "BILLEMAIL": "a@b"}, "BILLEMAIL is not a valid email address"),
    ("short password", {**SUB, "PASSWORD": "12345"}, "at least 6 characters"),
    ("bad mobile", {**SUB, "MOBILE": "0493000000"}, "MOBILE is not a valid mobile number"),
    ("bad login", {**SUB, "LOGIN": "new login"}, "LOGIN must be"),
    ("bad boolean", {**SUB, "ACTIVE": "yes"}, "ACTIVE must be 0 or 1"),
    ("too long", {**SUB, "CITY": "x" * 256}, "CITY is longer than 255"),
    ("nested value", '{"DATA": {"LOGIN": {"A": "b"}}}', "LOGIN must be a single text value"),
    ("postpaid", {**SUB, "POSTPAID": "1"}, "POSTPAID is only possible"),
    ("login taken", {**SUB, "LOGIN": "master"}, "The login master is already taken"),
]


@pytest.mark.parametrize(
    ("data", "reason"), [c[1:] for c in BAD_CREATES], ids=[c[0] for c in BAD_CREATES]
)
def test_create_refusals_are_status_0_and_change_nothing(
    client: TestClient, ctx: Context, master: Creds, data: dict[str, str] | str | None, reason: str
) -> None:
    before = count_rows(ctx, accounts_table)
    params = (
        {} if data is None else {"accountData": data if isinstance(data, str) else feed(**data)}
    )
    response = client.post("/http/9.0/createSubAccount", data=master.params(**params))
    if isinstance(data, str) and data.startswith("<"):  # an XML feed gets an XML answer
        root = xml_answer(response)
        answer = {"status": int(root.findtext("status")), "text": root.findtext("text")}
    else:
        answer = json_answer(response)
    assert answer["status"] == 0
    assert reason in answer["text"]
    assert set(answer) == {"status", "text"}
    assert count_rows(ctx, accounts_table) == before
    assert count_rows(ctx, pending_emails) == 0


def test_a_deleted_login_stays_taken(client: TestClient, ctx: Context, master: Creds) -> None:
    add_sub(ctx, "master", "gone")
    assert call(client, "deleteSubAccount", master, loginToDelete="gone")["status"] == 1
    answer = call(client, "createSubAccount", master, accountData=feed(**{**SUB, "LOGIN": "gone"}))
    assert answer == {"status": 0, "text": "The login gone is already taken"}


def test_a_sub_account_cannot_create_sub_accounts(
    client: TestClient, ctx: Context, master: Creds
) -> None:
    child = add_sub(ctx, "master", "child")
    answer = call(client, "createSubAccount", child, accountData=feed(**SUB))
    assert answer == {"status": 0, "text": "A sub-account cannot have sub-accounts of its own"}
    assert row(ctx, "newlogin") is None


# -- updateSubAccount ---------------------------------------------------------------------------


def test_update_changes_only_what_is_given(client: TestClient, ctx: Context, master: Creds) -> None:
    add_sub(ctx, "master", "child", first_name="Ann", last_name="Lee", city="Lyon")
    answer = call(
        client,
        "updateSubAccount",
        master,
        subaccount="child",
        accountData=feed(CITY="Nice", BILLMOBILE="0611111111", PASSWORD="secret7", LOGIN="kid"),
    )
    assert answer == {"status": 1, "text": "Sub-account successfully updated"}
    assert row(ctx, "child") is None
    kid = row(ctx, "kid")
    assert (kid["first_name"], kid["last_name"], kid["city"]) == ("Ann", "Lee", "Nice")
    assert kid["bill_mobile"] == "33611111111"
    assert kid["password_hash"].startswith("$argon2")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"accountData": feed(CITY="Nice")}, "Missing parameter: subaccount"),
        ({"subaccount": "child"}, "Missing or empty accountData"),
        (
            {"subaccount": "stranger", "accountData": feed(CITY="Nice")},
            "Unknown sub-account: stranger",
        ),
        ({"subaccount": "nobody", "accountData": feed(CITY="Nice")}, "Unknown sub-account: nobody"),
        ({"subaccount": "child", "accountData": feed(LOGIN="master")}, "already taken"),
        ({"subaccount": "child", "accountData": feed(POSTPAID="1")}, "POSTPAID is only possible"),
        ({"subaccount": "child", "accountData": feed(CITY="Nice", EMAIL="x")}, "EMAIL is not"),
    ],
)
def test_update_refusals_change_nothing(
    client: TestClient, ctx: Context, master: Creds, params: dict[str, str], reason: str
) -> None:
    add_sub(ctx, "master", "child", city="Lyon")
    make_account(ctx, "other")
    add_sub(ctx, "other", "stranger", city="Lyon")
    answer = call(client, "updateSubAccount", master, **params)
    assert answer["status"] == 0 and reason in answer["text"], answer
    assert row(ctx, "child")["city"] == row(ctx, "stranger")["city"] == "Lyon"


def test_prepaid_switch_with_a_debt_is_refused(client: TestClient, ctx: Context) -> None:
    boss = make_account(ctx, "master", postpaid=True)
    add_sub(ctx, "master", "child", postpaid=True)
    ctx.store.write_sync(
        lambda conn: conn.execute(
            sa.update(accounts_table).where(accounts_table.c.login == "child").values(balance=-5)
        )
    )
    answer = call(
        client, "updateSubAccount", boss, subaccount="child", accountData=feed(POSTPAID="0")
    )
    assert answer["status"] == 0 and "negative balance" in answer["text"]
    assert row(ctx, "child")["postpaid"]


# -- getSubAccounts -----------------------------------------------------------------------------


def test_get_sub_accounts_without_any(client: TestClient, master: Creds) -> None:
    assert call(client, "getSubAccounts", master) == {
        "status": 0,
        "statusText": "No subaccount found",
    }


def test_get_sub_accounts_json(client: TestClient, ctx: Context, master: Creds) -> None:
    add_sub(ctx, "master", "one", credits=15, first_name="Ann", society="ACME", bill_society="B")
    add_sub(ctx, "master", "two", last_name="Roe", email="two@example.com")
    answer = call(client, "getSubAccounts", master)
    assert answer["total"] == 2
    one, two = answer["subaccounts"]
    assert (one["login"], one["credits"], one["firstName"], one["company"]) == (
        "one",
        15,
        "Ann",
        "ACME",
    )
    assert (one["clientType"], two["clientType"]) == ("company", "individual")
    assert (one["billCompany"], two["email"], two["lastName"]) == ("B", "two@example.com", "Roe")
    assert len(one["creationDate"]) == 19 and one["creationDate"][4] == "-"
    assert list(one)[-1] == "credits" and "billCountry" in one and "fax" in one


def test_get_sub_accounts_xml(client: TestClient, ctx: Context, master: Creds) -> None:
    add_sub(ctx, "master", "one", credits=15)
    root = xml_answer(
        client.get("/http/9.0/getSubAccounts", params=master.params(returnformat="xml"))
    )
    assert root.tag == "getSubAccounts"
    assert root.findtext("total") == "1"
    assert root.findtext("subaccounts/subaccount/login") == "one"
    assert root.findtext("subaccounts/subaccount/credits") == "15"


# -- manageSubAccountCredits (§19) ----------------------------------------------------------------


def test_credit_and_debit_a_sub_account(client: TestClient, ctx: Context, master: Creds) -> None:
    add_sub(ctx, "master", "child", credits=10)
    answer = call(client, "manageSubAccountCredits", master, subaccount="child", credits="300")
    assert answer == {"status": "OK", "subaccount": [{"login": "child", "credits": 310}]}
    answer = call(client, "manageSubAccountCredits", master, subaccount="child", credits="-110")
    assert answer["subaccount"] == [{"login": "child", "credits": 200}]
    assert row(ctx, "master")["balance"] == 810
    entries = ctx.store.read_sync(
        lambda conn: list(
            conn.execute(
                sa.select(ledger).where(ledger.c.kind.like("transfer%")).order_by("id")
            ).mappings()
        )
    )
    ids = {row(ctx, "master")["id"]: "master", row(ctx, "child")["id"]: "child"}
    assert [(ids[e["account_id"]], e["kind"], e["delta"]) for e in entries] == [
        ("master", "transfer_out", -300),
        ("child", "transfer_in", 300),
        ("child", "transfer_out", -110),
        ("master", "transfer_in", 110),
    ]
    assert entries[0]["reference"] == entries[1]["reference"] != entries[2]["reference"]


def test_credits_answer_in_xml(client: TestClient, ctx: Context, master: Creds) -> None:
    add_sub(ctx, "master", "child")
    params = master.params(subaccount="child", credits="5", returnformat="xml")
    root = xml_answer(client.get("/http/9.0/manageSubAccountCredits", params=params))
    assert root.tag == "manageSubAccountCredits"
    assert root.findtext("status") == "OK"
    assert (root.findtext("subaccount/login"), root.findtext("subaccount/credits")) == (
        "child",
        "5",
    )


CREDIT_CASES = [
    (
        0,
        {"subaccount": "stranger", "credits": "5"},
        "The sub account is not linked to the master account",
    ),
    (
        0,
        {"subaccount": "nobody", "credits": "5"},
        "The sub account is not linked to the master account",
    ),
    (
        0,
        {"subaccount": "master", "credits": "5"},
        "The sub account is not linked to the master account",
    ),
    (1, {"credits": "5"}, 'The "subaccount" parameter is not defined'),
    (2, {"subaccount": "child"}, 'The "credits" parameter is not defined'),
    (2, {"subaccount": "child", "credits": "1.5"}, "must be a non-zero whole number"),
    # Only ASCII digits: int() would read each of these as 10.
    (2, {"subaccount": "child", "credits": "\u0661\u0660"}, "must be a non-zero whole number"),
    (2, {"subaccount": "child", "credits": "1_0"}, "must be a non-zero whole number"),
    (2, {"subaccount": "child", "credits": "\uff11\uff10"}, "must be a non-zero whole number"),
    (2, {"subaccount": "child", "credits": "-\u0661"}, "must be a non-zero whole number"),
    (2, {"subaccount": "child", "credits": "0"}, "must be a non-zero whole number"),
    (3, {"subaccount": "postpaid", "credits": "5"}, "The account is under subscription"),
    (4, {"subaccount": "child", "credits": "-11"}, "The sub account has insufficient funds"),
    (
        5,
        {"subaccount": "child", "credits": "1001"},
        "The master account does not have enough credits",
    ),
]


@pytest.mark.parametrize(("code", "params", "text"), CREDIT_CASES)
def test_every_status_of_section_19(
    client: TestClient, ctx: Context, code: int, params: dict[str, str], text: str
) -> None:
    boss = make_account(ctx, "master", credits=1000, postpaid=True)
    add_sub(ctx, "master", "child", credits=10)
    add_sub(ctx, "master", "postpaid", credits=10, postpaid=True)
    make_account(ctx, "other", credits=1000)
    add_sub(ctx, "other", "stranger", credits=10)
    # A postpaid master may go negative: make the master prepaid for status 5.
    ctx.store.write_sync(
        lambda conn: conn.execute(
            sa.update(accounts_table)
            .where(accounts_table.c.login == "master")
            .values(postpaid=code != 5)
        )
    )
    before = count_rows(ctx, ledger)
    answer = call(client, "manageSubAccountCredits", boss, **params)
    assert answer["status"] == code
    assert text in answer["statusText"]
    assert count_rows(ctx, ledger) == before
    assert row(ctx, "child")["balance"] == row(ctx, "stranger")["balance"] == 10


# -- deleteSubAccount ---------------------------------------------------------------------------


def test_delete_returns_the_credits_and_keeps_history(
    client: TestClient, ctx: Context, master: Creds
) -> None:
    child = add_sub(ctx, "master", "child", credits=0)
    call(client, "manageSubAccountCredits", master, subaccount="child", credits="250")
    answer = call(client, "deleteSubAccount", master, loginToDelete="child")
    assert answer == {"status": 1, "statusText": "Sub-account has been successfully deleted"}
    gone = row(ctx, "child")
    assert gone["deleted_at"] is not None and not gone["active"] and gone["balance"] == 0
    assert row(ctx, "master")["balance"] == 1000
    kinds = ctx.store.read_sync(
        lambda conn: [
            (r.kind, r.delta)
            for r in conn.execute(
                sa.select(ledger).where(ledger.c.account_id == gone["id"]).order_by("id")
            )
        ]
    )
    assert kinds == [("transfer_in", 250), ("transfer_out", -250)]
    assert "error" in call(client, "getInfo", child)
    assert call(client, "getSubAccounts", master)["status"] == 0
    assert (
        call(client, "manageSubAccountCredits", master, subaccount="child", credits="1")["status"]
        == 0
    )


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "Missing parameter: loginToDelete"),
        ({"loginToDelete": "stranger"}, "Unknown sub-account: stranger"),
        ({"loginToDelete": "master"}, "Unknown sub-account: master"),
        ({"loginToDelete": "nobody"}, "Unknown sub-account: nobody"),
    ],
)
def test_delete_refusals(
    client: TestClient, ctx: Context, master: Creds, params: dict[str, str], reason: str
) -> None:
    make_account(ctx, "other")
    add_sub(ctx, "other", "stranger", credits=7)
    root = xml_answer(
        client.post("/http/9.0/deleteSubAccount", data=master.params(returnformat="xml", **params))
    )
    assert (root.findtext("status"), root.findtext("statusText")) == ("0", reason)
    assert row(ctx, "stranger")["deleted_at"] is None and row(ctx, "stranger")["balance"] == 7
    assert row(ctx, "master")["deleted_at"] is None
