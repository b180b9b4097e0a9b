"""Every failure of a method that has a status table in the manual answers a `status` from that
table, never a bare `{"error": ...}` (DESIGN §5); `{"error"}` is left to the methods without one.

Table-driven: each `Table` names a method, the statuses of its table (manual annex or section),
the key of its text, and the status each way of failing gives. The paths tried on each: bad
credentials (wrong key, unknown login, no key), an unknown `subaccount`, a missing parameter, a
feed that is not JSON or XML, and a request body that cannot be decoded at all.
`test_every_method_is_classified` fails until a new method is added to TABLES or NO_TABLE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

import hirondelle.api.v9  # noqa: F401  (registers the methods)
from hirondelle.api.v9.methods import METHODS
from hirondelle.context import Context
from tests.helpers import Creds, json_answer, make_account, xml_answer

ANNEX_5 = frozenset({100, 101, 102, 104, 105, 109, 110, 111, 114, 115})
ANNEX_7 = frozenset(
    {
        "CAMPIDNOTFOUND",
        "CAMPNOTFOUND",
        "BADCAMPAIGSENDINGTYPE",
        "CAMPAIGNALREADYDELETED",
        "BCAMPAIGNSTATUS",
        "BADDATETOSEND",
        "CAMPALREADYSENT",
        "OK",
    }
)
ANNEX_21 = frozenset({100, 101, 102, 104, 105, 106, 107, 109, 110, 114, 115})
DONE_OR_NOT = frozenset({0, 1})  # annexes 10, 15, 18; §18, §20, §21, §24
SECTION_19 = frozenset({"OK", 0, 1, 2, 3, 4, 5})

NOT_A_FEED = "{not json, nor <xml"


def _feed(**data: Any) -> str:
    return orjson.dumps({"DATA": data}).decode()


SMS_FEED = _feed(MESSAGE="Hello", SMS=[{"MOBILEPHONE": "0611111111"}])


@dataclass(frozen=True)
class Table:
    """A method with a status table, and the status each failure must give."""

    method: str
    statuses: frozenset[Any]
    credentials: Any
    #: parameters that make the call otherwise valid (so only the failure tried shows)
    valid: dict[str, str] = field(default_factory=dict)
    #: the parameter that names a sub-account, and the status an unknown one gives
    subaccount: tuple[str, Any] | None = ("subaccount", None)
    #: the status when the call has nothing but the credentials (None: not a failure)
    missing: Any = None
    #: the feed parameter, and the status when it is not JSON or XML
    feed: tuple[str, Any] | None = None
    #: the status when the body cannot be decoded
    undecodable: Any = None
    text_key: str = "statusText"

    def status_of_subaccount(self) -> Any:
        return self.credentials if self.subaccount is None else self.subaccount[1]


def send_family(method: str, feed: str | None = "smsData") -> Table:
    return Table(
        method,
        ANNEX_5,
        credentials=102,
        valid={feed: SMS_FEED} if feed else {"message": "Hello", "mobile": "0611111111"},
        subaccount=("subaccount", 102),
        missing=105 if feed else 110,
        feed=(feed, 109) if feed else None,
        undecodable=109,
    )


def list_method(method: str, valid: dict[str, str], feed: str | None) -> Table:
    return Table(
        method,
        DONE_OR_NOT,
        credentials=0,
        valid=valid,
        subaccount=("subaccount", 0),
        missing=0,
        feed=(feed, 0) if feed else None,
        undecodable=0,
    )


TABLES = [
    send_family("sendSms"),
    send_family("simulateCampaign"),
    send_family("directSend", feed=None),
    Table(
        "deleteCampaign",
        ANNEX_7,
        credentials="CAMPIDNOTFOUND",
        valid={"campId": "no-such-campaign"},
        subaccount=("subaccount", "CAMPIDNOTFOUND"),
        missing="CAMPIDNOTFOUND",
        undecodable="CAMPIDNOTFOUND",
    ),
    Table(
        "sendEmail",
        ANNEX_21,
        credentials=102,
        valid={
            "emailData": _feed(
                FROM="shop@example.com", TO="ann@example.com", SUBJECT="Hi", MAILTEXT="Hello"
            )
        },
        subaccount=("subaccount", 102),
        missing=105,
        feed=("emailData", 109),
        undecodable=109,
    ),
    Table(
        "createSubAccount",
        DONE_OR_NOT,
        credentials=0,
        subaccount=None,
        missing=0,
        feed=("accountData", 0),
        undecodable=0,
        text_key="text",
    ),
    Table(
        "updateSubAccount",
        DONE_OR_NOT,
        credentials=0,
        valid={"accountData": _feed(CITY="Nice"), "subaccount": "child"},
        subaccount=("subaccount", 0),
        missing=0,
        feed=("accountData", 0),
        undecodable=0,
        text_key="text",
    ),
    Table(
        "getSubAccounts",
        DONE_OR_NOT,
        credentials=0,
        subaccount=("subaccount", 0),
        undecodable=0,
    ),
    Table(
        "manageSubAccountCredits",
        SECTION_19,
        credentials=0,
        valid={"subaccount": "child", "credits": "1"},
        subaccount=("subaccount", 0),
        missing=1,
        undecodable=0,
    ),
    Table(
        "deleteSubAccount",
        DONE_OR_NOT,
        credentials=0,
        valid={"loginToDelete": "child"},
        subaccount=("loginToDelete", 0),
        missing=0,
        undecodable=0,
    ),
    list_method("createList", {"listData": _feed(LISTNAME="new")}, "listData"),
    list_method(
        "populateList", {"populateData": _feed(LISTNAME="l", CONTACT=["0611"])}, "populateData"
    ),
    list_method(
        "deleteContacts", {"deleteData": _feed(LISTNAME="l", CONTACT=["0611"])}, "deleteData"
    ),
    list_method("deleteList", {"listName": "l"}, None),
]

#: Methods whose errors are `{"error": ...}`: the manual gives them no status table.
NO_TABLE = {
    "getInfo": "§13: its `status` is the account's state, not a status table",
    "getAcks": "§8: `error` is its other return",
    "getAckBySmsId": "§9: `error`",
    "getPulls": "§10: `error`",
    "getPull": "§11: `error`",
    "getPullBySmsId": "§12: `error`",
    "getBlacklist": "§14: no error return described",
    "getLists": "§25: no error return described",
    "getContacts": "§26: no error return described",
    "getCreditsByCountryIsoCode": "§27: no error return described",
    "shortenUrl": "§28: no error return described",
    "addToBlacklist": "beyond the manual",
    "removeFromBlacklist": "beyond the manual",
    "setWebhooks": "beyond the manual",
    "getWebhooks": "beyond the manual",
}


@pytest.fixture
def alice(ctx: Context) -> Creds:
    return make_account(ctx, "alice")


def post(client: TestClient, method: str, params: dict[str, Any]) -> Any:
    return json_answer(client.post(f"/http/9.0/{method}", data=params))


def assert_status(table: Table, answer: Any, expected: Any, path: str) -> None:
    assert "error" not in answer, (path, answer)
    assert answer["status"] == expected, (path, answer)
    assert answer["status"] in table.statuses, (path, answer)
    assert isinstance(answer[table.text_key], str) and answer[table.text_key], (path, answer)


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.method)
def test_bad_credentials_answer_from_the_table(
    client: TestClient, alice: Creds, table: Table
) -> None:
    for path, creds in [
        ("wrong key", {"login": "alice", "apiKey": "wrong"}),
        ("unknown login", {"login": "nobody", "apiKey": alice.api_key}),
        ("no key", {"login": "alice"}),
        ("nothing", {}),
    ]:
        answer = post(client, table.method, {**creds, **table.valid})
        assert_status(table, answer, table.credentials, path)
    params = {"login": "alice", "apiKey": "wrong", "returnformat": "xml", **table.valid}
    root = xml_answer(client.post(f"/http/9.0/{table.method}", data=params))
    assert root.find("error") is None and root.findtext("status") == str(table.credentials)


@pytest.mark.parametrize(
    "table", [t for t in TABLES if t.subaccount], ids=lambda table: table.method
)
def test_an_unknown_subaccount_answers_from_the_table(
    client: TestClient, ctx: Context, alice: Creds, table: Table
) -> None:
    assert table.subaccount is not None
    make_account(ctx, "stranger")  # an account, but not alice's sub-account
    parameter, expected = table.subaccount
    for login in ("nobody", "stranger"):
        answer = post(client, table.method, alice.params(**{**table.valid, parameter: login}))
        assert_status(table, answer, expected, f"{parameter}={login}")


@pytest.mark.parametrize(
    "table", [t for t in TABLES if t.missing is not None], ids=lambda table: table.method
)
def test_a_missing_parameter_answers_from_the_table(
    client: TestClient, alice: Creds, table: Table
) -> None:
    assert_status(table, post(client, table.method, alice.params()), table.missing, "missing")


@pytest.mark.parametrize("table", [t for t in TABLES if t.feed], ids=lambda table: table.method)
def test_a_bad_feed_answers_from_the_table(client: TestClient, alice: Creds, table: Table) -> None:
    assert table.feed is not None
    parameter, expected = table.feed
    answer = post(client, table.method, alice.params(**{**table.valid, parameter: NOT_A_FEED}))
    assert_status(table, answer, expected, "bad feed")


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.method)
def test_an_undecodable_request_answers_from_the_table(
    client: TestClient, alice: Creds, table: Table
) -> None:
    response = client.post(
        f"/http/9.0/{table.method}?login=alice&apiKey={alice.api_key}",
        content=b"login=alice",
        headers={"content-type": "multipart/form-data"},  # no boundary: cannot be read
    )
    assert_status(table, json_answer(response), table.undecodable, "undecodable")


@pytest.mark.parametrize("method", sorted(NO_TABLE))
def test_methods_without_a_table_answer_error(client: TestClient, method: str) -> None:
    if method.lower() not in METHODS:
        pytest.skip(f"{method} is not registered in this tree")
    answer = post(client, method, {"login": "alice", "apiKey": "wrong"})
    assert set(answer) == {"error"}, answer


def test_every_method_is_classified() -> None:
    classified = {t.method for t in TABLES} | set(NO_TABLE)
    registered = {m.name for m in METHODS.values()}
    assert not registered - classified, f"add to TABLES or NO_TABLE: {registered - classified}"
    assert not {t.method for t in TABLES} - registered
