"""createList, populateList, deleteContacts, deleteList, getLists, getContacts end to end:
appendices 11–17 accepted, annexes 15 and 18 (status 1 and 0) produced."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.store.accounts import find_by_login
from hirondelle.store.schema import contact_lists, contacts, list_fields
from tests.conftest import count_rows
from tests.helpers import Creds, json_answer, make_account, xml_answer

APPENDIX_11 = """<DATA>
  <LISTNAME>mylist</LISTNAME>
  <LOCKED> 0 </LOCKED>
  <STRUCTURE>
    <FIELD><FIELDNAME> City </FIELDNAME><FILTER> 1 </FILTER><MAILING> 0 </MAILING></FIELD>
    <FIELD><FIELDNAME>Surname</FIELDNAME><FILTER> 0 </FILTER><MAILING> 1 </MAILING></FIELD>
  </STRUCTURE>
</DATA>"""

APPENDIX_12 = {
    "DATA": {
        "LISTNAME": "mylist",
        "LOCKED": "1",
        "Structure": [
            {"FIELDNAME": "City", "FILTER": "1", "MAILING": "0"},
            {"FIELDNAME": "Surname", "FILTER": "0", "MAILING": "1"},
        ],
    }
}

# Appendix 13, well-formed (the manual opens <Store> and closes </SHOP>).
APPENDIX_13 = """<DATA>
  <LISTNAME> Your Base </LISTNAME>
  <CONTACTS>
    <CONTACT><FIRSTNAME>xxxx</FIRSTNAME><LASTNAME>xxxx</LASTNAME>
      <MOBILEPHONE> 0611111111 </MOBILEPHONE><SHOP>allmysms</SHOP></CONTACT>
    <CONTACT><FIRSTNAME>yyyy</FIRSTNAME><LASTNAME>yyyy</LASTNAME>
      <MOBILEPHONE> 06 22 22 22 22 </MOBILEPHONE><SHOP>allmysms</SHOP></CONTACT>
  </CONTACTS>
</DATA>"""

BASE_STRUCTURE = [{"FIELDNAME": name} for name in ("FirstName", "LastName", "Shop")]


def call(client: TestClient, name: str, creds: Creds, **params: Any) -> Any:
    return json_answer(client.post(f"/http/9.0/{name}/", data=creds.params(**params)))


def counts_of(root: Any) -> list[str]:
    return [root.findtext(tag) for tag in ("status", "success", "ignored", "duplicated")]


def js(data: dict[str, Any]) -> str:
    return orjson.dumps({"DATA": data}).decode()


@pytest.fixture
def alice(ctx: Context) -> Creds:
    return make_account(ctx, "alice")


def base(client: TestClient, creds: Creds, name: str = "Your Base", **extra: Any) -> None:
    data = js({"LISTNAME": name, "STRUCTURE": BASE_STRUCTURE, **extra})
    assert call(client, "createList", creds, listData=data)["status"] == 1


def populate(client: TestClient, creds: Creds, name: str, *items: Any, **extra: Any) -> Any:
    data = js({"LISTNAME": name, "CONTACT": list(items), **extra})
    return call(client, "populateList", creds, populateData=data)


# -- createList -----------------------------------------------------------------------------------


def test_create_from_appendix_11_in_xml(client: TestClient, ctx: Context, alice: Creds) -> None:
    root = xml_answer(client.post("/http/9.0/createList", data=alice.params(listData=APPENDIX_11)))
    assert root.tag == "createList"
    assert (root.findtext("status"), root.findtext("statusText")) == (
        "1",
        "list mylist successfully created",
    )
    fields = ctx.store.read_sync(
        lambda conn: [
            (r.name, r.filter, r.mailing)
            for r in conn.execute(list_fields.select().order_by(list_fields.c.position))
        ]
    )
    assert fields == [("City", True, False), ("Surname", False, True)]


def test_create_from_appendix_12_in_json(client: TestClient, alice: Creds) -> None:
    answer = call(client, "createList", alice, listData=orjson.dumps(APPENDIX_12).decode())
    assert answer == {"status": 1, "statusText": "list mylist successfully created"}
    [listed] = call(client, "getLists", alice)["lists"]
    assert (listed["listName"], listed["contacts"], listed["locked"]) == ("mylist", 0, 1)
    assert len(listed["creationDate"]) == 10


BAD_LISTS: list[tuple[str, str | None, str]] = [
    ("no feed", None, "Missing or empty listData"),
    ("broken", '{"DATA": ', "listData is not valid JSON or XML"),
    ("no name", js({"LOCKED": "1"}), "Missing LISTNAME in listData"),
    ("taken", js({"LISTNAME": "taken"}), "A list named taken already exists"),
    ("bad locked", js({"LISTNAME": "x", "LOCKED": "2"}), "LOCKED must be 0 or 1"),
    ("no fieldname", js({"LISTNAME": "x", "STRUCTURE": [{"FILTER": "1"}]}), "no FIELDNAME"),
    (
        "bad filter",
        js({"LISTNAME": "x", "STRUCTURE": [{"FIELDNAME": "a", "FILTER": "y"}]}),
        "FILTER",
    ),
    ("bad name", js({"LISTNAME": "x", "STRUCTURE": [{"FIELDNAME": "a b"}]}), "Invalid field name"),
    (
        "twice",
        js({"LISTNAME": "x", "STRUCTURE": [{"FIELDNAME": "a"}, {"FIELDNAME": "A"}]}),
        "twice",
    ),
    ("phone", js({"LISTNAME": "x", "STRUCTURE": [{"FIELDNAME": "MobilePhone"}]}), "number"),
    ("long", js({"LISTNAME": "x" * 256}), "1 to 255 characters"),
    ("subaccount", js({"LISTNAME": "x", "SUBACCOUNT": "bob"}), "Unknown sub-account: bob"),
]


@pytest.mark.parametrize(
    ("data", "reason"), [c[1:] for c in BAD_LISTS], ids=[c[0] for c in BAD_LISTS]
)
def test_create_refusals(
    client: TestClient, ctx: Context, alice: Creds, data: str | None, reason: str
) -> None:
    make_account(ctx, "bob")
    base(client, alice, "taken")
    params = {} if data is None else {"listData": data}
    answer = call(client, "createList", alice, **params)
    assert answer["status"] == 0 and reason in answer["statusText"], answer
    assert count_rows(ctx, contact_lists) == 1
    assert count_rows(ctx, list_fields) == 3


# -- populateList (annex 15) -------------------------------------------------------------------


def test_populate_from_appendix_13(client: TestClient, alice: Creds) -> None:
    base(client, alice)
    root = xml_answer(
        client.post("/http/9.0/populateList", data=alice.params(populateData=APPENDIX_13))
    )
    assert root.tag == "populateList"
    assert counts_of(root) == ["1", "2", "0", "0"]
    assert root.findtext("statusText") == "list Your Base successfully populated"
    answer = call(client, "getContacts", alice, listName="Your Base")
    assert answer["contacts"] == [
        {"MobilePhone": "33611111111", "FirstName": "xxxx", "LastName": "xxxx", "Shop": "allmysms"},
        {"MobilePhone": "33622222222", "FirstName": "yyyy", "LastName": "yyyy", "Shop": "allmysms"},
    ]


def test_populate_counts_ignored_and_duplicated(client: TestClient, alice: Creds) -> None:
    base(client, alice)
    populate(client, alice, "Your Base", {"MOBILEPHONE": "0600000001"})
    answer = populate(
        client,
        alice,
        "Your Base",
        {"MOBILEPHONE": "+33 6 00 00 00 01", "SHOP": "again"},  # already in the list
        {"MOBILEPHONE": "0600000002", "shop": "a"},
        {"MOBILEPHONE": "0033600000002"},  # twice in the feed
        {"MOBILEPHONE": "0493000000"},  # a landline
        {"MOBILEPHONE": "hello"},
        {"FIRSTNAME": "no number"},
        {"MOBILEPHONE": "0600000003", "COLOUR": "red"},  # a field the list does not have
        "0600000004",
    )
    assert answer == {
        "status": 1,
        "statusText": "list Your Base successfully populated",
        "success": 2,
        "ignored": 4,
        "duplicated": 2,
    }
    listed = call(client, "getContacts", alice, listName="Your Base")["contacts"]
    assert [(c["MobilePhone"], c["Shop"]) for c in listed] == [
        ("33600000001", ""),
        ("33600000002", "a"),
        ("33600000004", ""),
    ]


BAD_POPULATES: list[tuple[str, str | None, str]] = [
    ("no feed", None, "Missing or empty populateData"),
    ("broken", "<DATA><LISTNAME>x</DATA>", "populateData is not valid JSON or XML"),
    ("no name", js({"CONTACT": [{"MOBILEPHONE": "0611111111"}]}), "Missing LISTNAME"),
    (
        "unknown",
        js({"LISTNAME": "nope", "CONTACT": [{"MOBILEPHONE": "0611111111"}]}),
        "Unknown list: nope",
    ),
    ("no contacts", js({"LISTNAME": "Your Base"}), "No CONTACTS in populateData"),
    (
        "subaccount",
        js({"LISTNAME": "Your Base", "SUBACCOUNT": "bob", "CONTACT": ["0611111111"]}),
        "Unknown sub",
    ),
]


@pytest.mark.parametrize(
    ("data", "reason"), [c[1:] for c in BAD_POPULATES], ids=[c[0] for c in BAD_POPULATES]
)
def test_populate_status_0(
    client: TestClient, ctx: Context, alice: Creds, data: str | None, reason: str
) -> None:
    make_account(ctx, "bob")
    base(client, alice)
    response = client.post(
        "/http/9.0/populateList",
        data=alice.params(**({} if data is None else {"populateData": data})),
    )
    if data is not None and data.startswith("<"):
        root = xml_answer(response)
        answer = {"status": int(root.findtext("status")), "statusText": root.findtext("statusText")}
    else:
        answer = json_answer(response)
    assert answer["status"] == 0 and reason in answer["statusText"], answer
    assert count_rows(ctx, contacts) == 0


def test_a_master_fills_a_sub_account_list_through_the_feed(
    client: TestClient, ctx: Context, alice: Creds
) -> None:
    alice_id = ctx.store.read_sync(lambda conn: find_by_login(conn, "alice")["id"])
    make_account(ctx, "kid", parent_id=alice_id)
    base(client, alice, "kids", SUBACCOUNT="kid")
    answer = populate(client, alice, "kids", "0611111111", SUBACCOUNT="kid")
    assert answer["success"] == 1
    assert call(client, "getLists", alice)["lists"] == []
    [listed] = call(client, "getLists", alice, subaccount="kid")["lists"]
    assert (listed["listName"], listed["contacts"]) == ("kids", 1)


# -- deleteContacts (annex 18), deleteList, getContacts ----------------------------------------


def test_delete_contacts_from_appendix_16(client: TestClient, alice: Creds) -> None:
    base(client, alice, "cavavin2")
    populate(client, alice, "cavavin2", "0600000000", "0611111111", "0622222222")
    xml = (
        "<DATA><LISTNAME> cavavin2 </LISTNAME><CONTACTS>"
        "<CONTACT><MOBILEPHONE> 0600000000 </MOBILEPHONE></CONTACT>"
        "<CONTACT><MOBILEPHONE> 0611111111 </MOBILEPHONE></CONTACT>"
        "</CONTACTS></DATA>"
    )
    root = xml_answer(client.post("/http/9.0/deleteContacts", data=alice.params(deleteData=xml)))
    assert root.tag == "deleteContacts"
    assert counts_of(root) == ["1", "2", "0", "0"]
    assert root.findtext("statusText") == "list cavavin2 successfully updated"


def test_delete_contacts_from_appendix_17_counts(client: TestClient, alice: Creds) -> None:
    base(client, alice, "your basic")
    populate(client, alice, "your basic", "0600000000", "0611111111")
    data = js(
        {
            "LISTNAME": "your basic",
            "CONTACT": [
                {"MOBILEPHONE": "0600000000"},
                {"MOBILEPHONE": "33600000000"},  # twice
                {"MOBILEPHONE": "0633333333"},  # not in the list
                {"MOBILEPHONE": "bad"},
            ],
        }
    )
    answer = call(client, "deleteContacts", alice, deleteData=data)
    assert answer == {
        "status": 1,
        "statusText": "list your basic successfully updated",
        "success": 1,
        "ignored": 2,
        "duplicated": 1,
    }
    assert [
        c["MobilePhone"]
        for c in call(client, "getContacts", alice, listName="your basic")["contacts"]
    ] == ["33611111111"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (None, "Missing or empty deleteData"),
        (js({"LISTNAME": "nope", "CONTACT": ["0600000000"]}), "Unknown list: nope"),
        (js({"LISTNAME": "base"}), "No CONTACTS in deleteData"),
        (js({"CONTACT": ["0600000000"]}), "Missing LISTNAME in deleteData"),
    ],
)
def test_delete_contacts_status_0(
    client: TestClient, ctx: Context, alice: Creds, data: str | None, reason: str
) -> None:
    base(client, alice, "base")
    populate(client, alice, "base", "0600000000")
    answer = call(client, "deleteContacts", alice, **({} if data is None else {"deleteData": data}))
    assert answer["status"] == 0 and reason in answer["statusText"]
    assert count_rows(ctx, contacts) == 1


def test_delete_list(client: TestClient, ctx: Context, alice: Creds) -> None:
    base(client, alice, "base")
    populate(client, alice, "base", "0600000000")
    assert call(client, "deleteList", alice, listName="nope") == {
        "status": 0,
        "statusText": "Unknown list: nope",
    }
    assert call(client, "deleteList", alice) == {
        "status": 0,
        "statusText": "Missing parameter: listName",
    }
    answer = call(client, "deleteList", alice, listName="base")
    assert answer == {"status": 1, "statusText": "list base has been successfully deleted"}
    assert (
        count_rows(ctx, contacts)
        == count_rows(ctx, contact_lists)
        == count_rows(ctx, list_fields)
        == 0
    )
    assert call(client, "getContacts", alice, listName="base") == {"error": "Unknown list: base"}


def test_get_contacts_xml_and_errors(client: TestClient, alice: Creds) -> None:
    base(client, alice, "base")
    populate(client, alice, "base", {"MOBILEPHONE": "0600000000", "SHOP": "a&b"})
    root = xml_answer(
        client.get(
            "/http/9.0/getContacts", params=alice.params(listName="base", returnformat="xml")
        )
    )
    assert root.tag == "getContacts"
    assert root.findtext("contacts/contact/MobilePhone") == "33600000000"
    assert root.findtext("contacts/contact/Shop") == "a&b"
    assert call(client, "getContacts", alice) == {"error": "Missing parameter: listName"}
    assert call(client, "getLists", alice)["lists"][0]["contacts"] == 1


def test_populate_10000_with_5_percent_invalid_and_5_percent_duplicated(
    client: TestClient, alice: Creds
) -> None:
    base(client, alice, "big")
    already = [f"0612{i:06d}" for i in range(250)]
    assert populate(client, alice, "big", *already)["success"] == 250
    fresh = [f"+33 6 13 {i:06d}" for i in range(9000)]
    items: list[Any] = [{"MOBILEPHONE": n, "SHOP": "s"} for n in fresh]
    items += [{"MOBILEPHONE": f"33612{i:06d}"} for i in range(250)]  # in the list already
    items += [{"MOBILEPHONE": fresh[i]} for i in range(0, 9000, 36)]  # 250 twice in the feed
    items += [{"MOBILEPHONE": f"0493{i:06d}"} for i in range(250)]  # landlines
    items += [{"MOBILEPHONE": f"06{i}x"} for i in range(250)]  # not numbers
    assert len(items) == 10_000
    answer = populate(client, alice, "big", *items)
    assert (answer["success"], answer["ignored"], answer["duplicated"]) == (9000, 500, 500)
    assert call(client, "getLists", alice)["lists"][0]["contacts"] == 9250
