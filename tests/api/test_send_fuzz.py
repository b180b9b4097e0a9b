"""Hostile and random smsData feeds: never a 500, never a partial write.

Most random feeds go through the decoding and planning functions directly (fast); a few hundred
go through the HTTP API on each engine, checking the store after every one. Hostile XML (DOCTYPE,
entity expansion, external entities) is refused with status 109 before anything is expanded.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from hirondelle.services.context import Context
from tests.api.sending_helpers import TEXTS, call, json_feed, mobiles, snapshot
from tests.helpers import make_account, xml_answer

INVALID_FEED = {"status": 109, "statusText": TEXTS[109]}

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<DATA><MESSAGE>&lol9;</MESSAGE><SMS><MOBILEPHONE>0612000000</MOBILEPHONE></SMS></DATA>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE DATA [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<DATA><MESSAGE>&xxe;</MESSAGE><SMS><MOBILEPHONE>0612000000</MOBILEPHONE></SMS></DATA>"""

HOSTILE_XML = {
    "billion-laughs": BILLION_LAUGHS,
    "external-entity": EXTERNAL_ENTITY,
    "external-dtd": '<!DOCTYPE DATA SYSTEM "http://127.0.0.1:1/evil.dtd"><DATA><MESSAGE>x'
    "</MESSAGE><SMS><MOBILEPHONE>0612000000</MOBILEPHONE></SMS></DATA>",
    "parameter-entity": '<!DOCTYPE DATA [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
    "<DATA><MESSAGE>x</MESSAGE></DATA>",
    "plain-doctype": "<!DOCTYPE DATA><DATA><MESSAGE>x</MESSAGE>"
    "<SMS><MOBILEPHONE>0612000000</MOBILEPHONE></SMS></DATA>",
    "spaced-doctype": "<!  doctype DATA><DATA><MESSAGE>x</MESSAGE></DATA>",
    "undeclared-entity": "<DATA><MESSAGE>&xxe;</MESSAGE>"
    "<SMS><MOBILEPHONE>0612000000</MOBILEPHONE></SMS></DATA>",
    "xinclude": '<DATA xmlns:xi="http://www.w3.org/2001/XInclude"><MESSAGE>'
    '<xi:include href="file:///etc/passwd" parse="text"/></MESSAGE>'
    "<SMS><MOBILEPHONE>0612000000</MOBILEPHONE></SMS></DATA>",
}


@pytest.mark.parametrize("method", ["sendSms", "simulateCampaign"])
@pytest.mark.parametrize("feed", HOSTILE_XML.values(), ids=HOSTILE_XML.keys())
def test_hostile_xml_is_refused(client: TestClient, ctx: Context, method: str, feed: str) -> None:
    creds = make_account(ctx)
    before = snapshot(ctx, creds.login)
    response = client.post(f"/http/9.0/{method}", data=creds.params(smsData=feed))
    root = xml_answer(response)
    status = root.findtext("status")
    # XInclude is not processed: its MESSAGE has no text, so it is empty (110), never the file.
    assert status == ("110" if "XInclude" in feed else "109")
    assert b"root:" not in response.content
    assert len(response.content) < 1000
    assert snapshot(ctx, creds.login) == before


@pytest.mark.parametrize(
    "feed",
    [
        '{"DATA": {"MESSAGE": "Hi", "SMS": ' + "[" * 1000 + "]" * 1000 + "}}",
        '{"DATA": {"MESSAGE": "Hi", "SMS": ' + "[" * 900 + "]" * 900 + "}}",
        '{"DATA": {"MESSAGE": "Hi", "X": ' + '{"a":' * 1000 + "1" + "}" * 1000 + "}}",
    ],
    ids=["json-1000-deep", "json-900-deep", "objects-1000-deep"],
)
def test_deeply_nested_json_is_an_invalid_feed(client: TestClient, ctx: Context, feed: str) -> None:
    creds = make_account(ctx)
    before = snapshot(ctx, creds.login)
    assert call(client, "sendSms", creds, smsData=feed) == INVALID_FEED
    assert snapshot(ctx, creds.login) == before


@pytest.mark.parametrize(
    ("sms", "text"),
    [
        ({"PARAM_²": "x", "PARAM_1": "ok"}, "Hi ok"),  # "²".isdigit() but int("²") fails
        ({"PARAM_١": "arabic-indic one"}, "Hi arabic-indic one"),
        ({"PARAM_" + "1" * 5000: "x"}, "Hi "),
        ({"PARAM_1": ["a", "list"]}, "Hi "),
    ],
    ids=["superscript", "arabic-indic", "5000-digits", "list-value"],
)
def test_odd_param_names(client: TestClient, ctx: Context, sms: dict[str, Any], text: str) -> None:
    creds = make_account(ctx)
    feed = json_feed("Hi #param_1#", [{"MOBILEPHONE": mobiles(1)[0], **sms}], DYNAMIC=1)
    answer = call(client, "simulateCampaign", creds, smsData=feed)
    assert (answer["status"], answer["nbContacts"]) == (100, 1)
    sent = call(client, "sendSms", creds, smsData=feed)
    assert sent["status"] == 100


@pytest.mark.parametrize(
    "tags",
    [
        {"MESSAGE": "Hi\x00there"},
        {"MESSAGE": "Hi", "CAMPAIGN_NAME": "\x00"},
        {"MESSAGE": "Hi #param_1#", "SMS": [{"MOBILEPHONE": "0612000000", "PARAM_1": "\x00"}]},
        {"MESSAGE": "Hi", "SMS": [{"MOBILEPHONE": "0612000000", "CLIMSGID": "x" * 256}]},
        {"MESSAGE": "Hi #param_" + "9" * 5000 + "#"},
    ],
    ids=["nul-message", "nul-campaign", "nul-param", "long-climsgid", "huge-placeholder"],
)
def test_what_the_store_cannot_hold_is_refused(
    client: TestClient, ctx: Context, tags: dict[str, Any]
) -> None:
    creds = make_account(ctx)
    before = snapshot(ctx, creds.login)
    data = {"SMS": [{"MOBILEPHONE": "0612000000"}], **tags}
    feed = json_feed(data.pop("MESSAGE"), data.pop("SMS"), **data)
    assert call(client, "sendSms", creds, smsData=feed) == {**INVALID_FEED, "invalidNumbers": ""}
    assert snapshot(ctx, creds.login) == before
