"""Safe bytes (DESIGN.md §5): API 9.0 answers JSON as `text/html`, so no byte of an answer may
let a browser run script. A payload with `<script>`, `<img onerror>`, `"` and `&` goes into every
field an answer can echo; no answer body holds a raw `<` from input, in JSON or XML, and every
answer (API 9.0, REST, errors, pages) carries `nosniff` and a Content-Security-Policy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from starlette.testclient import TestClient

from hirondelle.api.v9 import wire
from hirondelle.context import Context
from hirondelle.store.accounts import find_by_login
from tests.api.test_reports import reply, send, submit_and_receipt
from tests.helpers import Creds, make_account

#: Goes into every echoable field; 64 characters at most (the longest login).
PAYLOAD = "\"'><script>alert(1)</script>\u2028<img src=x onerror=alert(2)>&"
#: A method name (a URL path segment): no `/`.
METHOD_PAYLOAD = '"<img src=x onerror=alert(1)><svg onload=alert(2)>&'
MARKUP = re.compile(rb"<\s*/?\s*(script|img|svg)", re.IGNORECASE)
XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
FORMATS = ["json", "xml"]


def assert_headers(response: Any, csp: str = API_CSP) -> None:
    assert response.headers.get("x-content-type-options") == "nosniff", response.url
    assert response.headers.get("content-security-policy") == csp, response.url


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def safe_text(response: Any) -> str:
    """Check an API 9.0 answer is safe; return all its decoded text (to check the echo)."""
    assert response.status_code == 200, response.text
    assert_headers(response)
    body: bytes = response.content
    assert MARKUP.search(body) is None, body
    if response.headers["content-type"].startswith("application/xml"):
        root = etree.fromstring(body)
        for element in root.iter():
            assert XML_NAME.fullmatch(element.tag), element.tag
        return "\n".join([*(e.tag for e in root.iter()), *root.itertext()])
    for raw in (b"<", b">", b"&", "\u2028".encode(), "\u2029".encode()):
        assert raw not in body, body
    return "\n".join(_strings(orjson.loads(body)))


def api(client: TestClient, method: str, creds: Creds, fmt: str, **params: Any) -> str:
    response = client.post(f"/http/9.0/{method}", data=creds.params(returnformat=fmt, **params))
    return safe_text(response)


def feed(**fields: Any) -> str:
    return orjson.dumps({"DATA": fields}).decode()


@pytest.fixture
def alice(ctx: Context) -> Creds:
    return make_account(ctx, "alice", credits=1000)


@pytest.mark.parametrize("fmt", FORMATS)
def test_method_name(client: TestClient, alice: Creds, fmt: str) -> None:
    for path in (quote(METHOD_PAYLOAD, safe=""), quote(METHOD_PAYLOAD, safe="") + "/"):
        response = client.get(f"/http/9.0/{path}", params=alice.params(returnformat=fmt))
        assert METHOD_PAYLOAD in safe_text(response)


@pytest.mark.parametrize("fmt", FORMATS)
def test_send_feed_and_parameters(client: TestClient, alice: Creds, fmt: str) -> None:
    bad = {"MOBILEPHONE": PAYLOAD, "CLIMSGID": PAYLOAD, "PARAM_1": PAYLOAD}
    sms_data = feed(
        MESSAGE=PAYLOAD,
        TPOA=PAYLOAD,
        CAMPAIGN_NAME=PAYLOAD,
        SMS=[bad, {"MOBILEPHONE": "0611111111", "CLIMSGID": PAYLOAD}],
    )
    for name in ("sendSms", "simulateCampaign"):
        assert PAYLOAD in api(client, name, alice, fmt, smsData=sms_data)
    fields = {"mobile": f"{PAYLOAD};0611111111", "message": PAYLOAD, "campaign": PAYLOAD}
    assert PAYLOAD in api(client, "directSend", alice, fmt, tpoa=PAYLOAD, **fields)
    assert PAYLOAD in api(client, "directSend", alice, fmt, **fields)
    api(client, "sendSms", alice, fmt, smsData=PAYLOAD)
    api(client, "sendSms", alice, fmt, smsData=feed(MESSAGE="Hi", DATE=PAYLOAD, SMS=[bad]))
    echoed = [
        api(client, "getCreditsByCountryIsoCode", alice, fmt, countryIsoCode=PAYLOAD),
        api(client, "getInfo", alice, fmt, subaccount=PAYLOAD),
        api(client, "getPulls", alice, fmt, limit=PAYLOAD),
    ]
    for text in echoed:
        assert "<script>" in text.lower() or "<img" in text.lower(), text
    for name in ("getAcks", "getPull", "deleteCampaign"):
        api(client, name, alice, fmt, campId=PAYLOAD)
    for name in ("getAckBySmsId", "getPullBySmsId"):
        api(client, name, alice, fmt, smsIds=PAYLOAD)
    for name in ("addToBlacklist", "removeFromBlacklist"):
        api(client, name, alice, fmt, phoneNumber=PAYLOAD, mobile=PAYLOAD, comment=PAYLOAD)
    api(client, "getBlacklist", alice, fmt)
    api(client, "setWebhooks", alice, fmt, replyUrl=PAYLOAD, ackUrl=PAYLOAD)
    api(client, "shortenUrl", alice, fmt, url=PAYLOAD)
    api(client, "shortenUrl", alice, fmt, url="https://example.com/" + PAYLOAD)
    api(client, "sendEmail", alice, fmt, emailData=feed(FROM=PAYLOAD, TO=PAYLOAD, SUBJECT=PAYLOAD))
    api(client, "getInfo", Creds(PAYLOAD, PAYLOAD), fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_lists_and_contacts(client: TestClient, alice: Creds, fmt: str) -> None:
    structure = [{"FIELDNAME": "Shop"}, {"FIELDNAME": "City"}]
    created = api(
        client, "createList", alice, fmt, listData=feed(LISTNAME=PAYLOAD, STRUCTURE=structure)
    )
    assert PAYLOAD in created
    contact = {"MOBILEPHONE": "0611111111", "SHOP": PAYLOAD, "CITY": PAYLOAD}
    odd = [{"MOBILEPHONE": PAYLOAD}, {"MOBILEPHONE": "0622222222", PAYLOAD: PAYLOAD}]
    populated = feed(LISTNAME=PAYLOAD, CONTACT=[contact, *odd])
    assert PAYLOAD in api(client, "populateList", alice, fmt, populateData=populated)
    assert PAYLOAD in api(client, "getLists", alice, fmt)
    contacts = api(client, "getContacts", alice, fmt, listName=PAYLOAD)
    assert contacts.count(PAYLOAD) == 2
    assert PAYLOAD + "x" in api(client, "getContacts", alice, fmt, listName=PAYLOAD + "x")
    removed = feed(LISTNAME=PAYLOAD, CONTACT=[{"MOBILEPHONE": PAYLOAD}])
    api(client, "deleteContacts", alice, fmt, deleteData=removed)
    assert PAYLOAD + "x" in api(client, "deleteList", alice, fmt, listName=PAYLOAD + "x")
    assert PAYLOAD in api(client, "deleteList", alice, fmt, listName=PAYLOAD)
    bad_field = feed(LISTNAME="other", STRUCTURE=[{"FIELDNAME": PAYLOAD}])
    assert "<script>" in api(client, "createList", alice, fmt, listData=bad_field)


@pytest.mark.parametrize("fmt", FORMATS)
def test_sub_accounts(client: TestClient, ctx: Context, alice: Creds, fmt: str) -> None:
    text_tags = ("FIRSTNAME", "LASTNAME", "SOCIETY", "ADDRESS", "CITY", "COUNTRY", "ZIP")
    details = {tag: PAYLOAD for tag in text_tags}
    account = feed(LOGIN="kid", PASSWORD="secret7", EMAIL="kid@example.com", **details)
    api(client, "createSubAccount", alice, fmt, accountData=account)
    assert find_by_login_text(ctx, "kid", "last_name") == PAYLOAD
    assert api(client, "getSubAccounts", alice, fmt).count(PAYLOAD) >= len(text_tags)
    refused = feed(LOGIN=PAYLOAD, PASSWORD="secret7", EMAIL="kid2@example.com", **details)
    api(client, "createSubAccount", alice, fmt, accountData=refused)
    update = {"subaccount": PAYLOAD, "accountData": feed(CITY=PAYLOAD)}
    assert PAYLOAD in api(client, "updateSubAccount", alice, fmt, **update)
    assert "<script>" in api(
        client, "manageSubAccountCredits", alice, fmt, subaccount="kid", credits=PAYLOAD
    )
    api(client, "manageSubAccountCredits", alice, fmt, subaccount=PAYLOAD, credits="5")
    api(client, "deleteSubAccount", alice, fmt, loginToDelete=PAYLOAD)


def find_by_login_text(ctx: Context, login: str, column: str) -> str:
    row = ctx.store.read_sync(lambda conn: find_by_login(conn, login))
    return str(row[column])


@pytest.mark.parametrize("fmt", FORMATS)
def test_reply_text(client: TestClient, ctx: Context, alice: Creds, fmt: str) -> None:
    sent = send(client, alice, "0611111111")
    submit_and_receipt(ctx, {})
    reply(ctx, "33611111111", PAYLOAD)
    assert PAYLOAD in api(client, "getPull", alice, fmt, campId=sent["campaign"])
    assert PAYLOAD in api(client, "getPullBySmsId", alice, fmt, smsIds=sent["33611111111"])
    assert PAYLOAD in api(client, "getPulls", alice, fmt)


def test_every_other_answer_carries_the_headers(client: TestClient, alice: Creds) -> None:
    auth = (alice.login, alice.api_key)
    for path in (
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/s/" + quote(METHOD_PAYLOAD, safe=""),
        "/" + quote(PAYLOAD, safe=""),
        "/http/9.1/getInfo",
    ):
        assert_headers(client.get(path))
    assert_headers(client.get("/account", auth=auth))
    assert_headers(client.get("/account", auth=(PAYLOAD, PAYLOAD)))
    assert_headers(client.get("/report/campaign/" + quote(PAYLOAD, safe=""), auth=auth))
    assert_headers(client.post("/sms/send/", json={"message": PAYLOAD}, auth=auth))
    assert_headers(client.post("/sms/send/bulk/", content=b"<not json", auth=auth))
    assert_headers(client.post("/_sim/mo", json={"from": PAYLOAD, "text": PAYLOAD}))
    assert_headers(client.request("DELETE", "/http/9.0/getInfo"))


def test_pages_keep_their_own_policy(client: TestClient) -> None:
    page = client.get("/account/set-password", params={"token": PAYLOAD})
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-content-type-options"] == "nosniff"
    policy = page.headers["content-security-policy"]
    assert "form-action 'self'" in policy and "frame-ancestors 'none'" in policy
    assert len(page.headers.get_list("content-security-policy")) == 1


# -- the encoders themselves -------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
#: Text that favours the characters the escaping is about.
MARKUP_TEXT = st.text(st.sampled_from("<>&\"'\\/ \u2028\u2029\u2014é\x00a"), max_size=12)


@given(JSON_VALUES | st.dictionaries(MARKUP_TEXT, st.lists(MARKUP_TEXT, max_size=3)))
def test_safe_json_is_the_same_json_without_markup_bytes(value: Any) -> None:
    body = wire.safe_json(value)
    assert orjson.loads(body) == orjson.loads(orjson.dumps(value))
    for raw in (b"<", b">", b"&", "\u2028".encode(), "\u2029".encode()):
        assert raw not in body


def test_safe_json_escapes() -> None:
    body = wire.safe_json({"a<b": "</script>&\u2028\u2029—"})
    assert body == rb'{"a\u003cb":"\u003c/script\u003e\u0026\u2028\u2029' + "—".encode() + b'"}'
    assert wire.safe_json({"plain": [1, "x"]}) == b'{"plain":[1,"x"]}'


@given(st.text(), st.dictionaries(MARKUP_TEXT, MARKUP_TEXT | st.lists(MARKUP_TEXT, max_size=2)))
def test_xml_answers_parse_and_keep_every_name_and_value(root: str, fields: dict[str, Any]) -> None:
    body = wire.encode_xml(root, fields)
    assert MARKUP.search(body) is None
    parsed = etree.fromstring(body)
    assert parsed.tag == (root if written_raw(root) else "error")
    for element, (key, value) in zip(parsed, fields.items(), strict=True):
        clean = key.replace("\x00", "")
        assert element.tag == key or (element.tag, element.get("name")) == ("field", clean)
        if isinstance(value, list):
            assert [e.text or "" for e in element] == [t.replace("\x00", "") for t in value]
        else:
            assert (element.text or "") == value.replace("\x00", "")


def written_raw(name: str) -> bool:
    """Whether `encode_xml` may write `name` as an element name."""
    plain = XML_NAME.fullmatch(name) is not None and len(name) <= 128
    return plain and MARKUP.match(b"<" + name.encode()) is None


def test_names_that_begin_like_a_script_or_an_image_are_never_elements() -> None:
    """Found by hypothesis in CI: a root `SCRIPT` was written `<SCRIPT>`."""
    body = wire.encode_xml("SCRIPT", {"Img": "x", "svgIcon": "y", "scripted": "z", "ok": "w"})
    assert body == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<error><field name="Img">x</field>'
        b'<field name="svgIcon">y</field><field name="scripted">z</field><ok>w</ok></error>\n'
    )
    assert MARKUP.search(body) is None


def test_xml_names_from_input_are_never_written_raw() -> None:
    body = wire.encode_xml("<img src=x onerror=alert(1)>", {"<script>": "x", "ok": "<b>"})
    assert body == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<error>'
        b'<field name="&lt;script&gt;">x</field><ok>&lt;b&gt;</ok></error>\n'
    )
