"""Hostile and random smsData feeds: never a 500, never a partial write.

Most random feeds go through the decoding and planning functions directly (fast); a few hundred
go through the HTTP API on each engine, checking the store after every one. Hostile XML (DOCTYPE,
entity expansion, external entities) is refused with status 109 before anything is expanded.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from starlette.testclient import TestClient

from hirondelle.api.v9 import sending as api_sending
from hirondelle.api.v9 import wire
from hirondelle.api.v9.methods import MethodError
from hirondelle.context import Context
from hirondelle.domain.pricing import PriceTable
from hirondelle.domain.sender import valid_tpoa
from hirondelle.domain.statuses import SendStatus
from hirondelle.domain.text import measure as text_size
from hirondelle.services import sending
from hirondelle.services.sending import SendRefused
from tests.api.sending_helpers import TEXTS, call, json_feed, message_rows, snapshot
from tests.helpers import Creds, make_account, xml_answer

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
def test_hostile_xml_is_refused(
    client: TestClient, ctx: Context, method: str, subtests: pytest.Subtests
) -> None:
    creds = make_account(ctx)
    for name, feed in HOSTILE_XML.items():
        with subtests.test(name):
            before = snapshot(ctx, creds.login)
            response = client.post(f"/http/9.0/{method}", data=creds.params(smsData=feed))
            # XInclude is not processed: its MESSAGE has no text (110), never the file's.
            expected = "110" if name == "xinclude" else "109"
            assert xml_answer(response).findtext("status") == expected
            assert b"root:" not in response.content
            assert len(response.content) < 1000
            assert snapshot(ctx, creds.login) == before


DEEP_JSON = {
    "lists-1000-deep": '{"DATA": {"MESSAGE": "Hi", "SMS": ' + "[" * 1000 + "]" * 1000 + "}}",
    "lists-900-deep": '{"DATA": {"MESSAGE": "Hi", "SMS": ' + "[" * 900 + "]" * 900 + "}}",
    "objects-1000-deep": '{"DATA": {"MESSAGE": "Hi", "X": '
    + '{"a":' * 1000
    + "1"
    + "}" * 1000
    + "}}",
}

ODD_PARAMS = {
    "superscript": ({"PARAM_²": "x", "PARAM_1": "ok"}, "Hi ok"),  # "²".isdigit(); int() fails
    "arabic-indic": ({"PARAM_١": "one"}, "Hi one"),  # a decimal digit: PARAM_1
    "5000-digits": ({"PARAM_" + "1" * 5000: "x"}, "Hi "),  # int() refuses 4,300+ digits
    "list-value": ({"PARAM_1": ["a", "list"]}, "Hi "),
}

ONE_SMS = {"MOBILEPHONE": "0612000000"}
UNSTORABLE = {  # PostgreSQL refuses NUL in text and values longer than their column
    "nul-message": {"MESSAGE": "Hi\x00there"},
    "nul-campaign": {"MESSAGE": "Hi", "CAMPAIGN_NAME": "\x00"},
    "nul-param": {"MESSAGE": "Hi #param_1#", "SMS": [{**ONE_SMS, "PARAM_1": "\x00"}]},
    "long-climsgid": {"MESSAGE": "Hi", "SMS": [{**ONE_SMS, "CLIMSGID": "x" * 256}]},
}


def test_feeds_that_used_to_crash(
    client: TestClient, ctx: Context, subtests: pytest.Subtests
) -> None:
    creds = make_account(ctx, credits=1000)
    for name, feed in DEEP_JSON.items():
        with subtests.test(name):
            before = snapshot(ctx, creds.login)
            assert call(client, "sendSms", creds, smsData=feed) == INVALID_FEED
            assert snapshot(ctx, creds.login) == before
    for name, (sms, text) in ODD_PARAMS.items():
        with subtests.test(name):
            feed = json_feed("Hi #param_1#", [{**ONE_SMS, **sms}], DYNAMIC=1)
            answer = call(client, "sendSms", creds, smsData=feed)
            [row] = message_rows(ctx, answer["campaignId"])
            assert row["text"] == text
    with subtests.test("huge-placeholder"):  # `#param_N#` has at most 9 digits: this is text
        before = snapshot(ctx, creds.login)
        feed = json_feed("Hi #param_" + "9" * 5000 + "#", [ONE_SMS])
        assert call(client, "sendSms", creds, smsData=feed)["status"] == 111
        assert snapshot(ctx, creds.login) == before
    for name, tags in UNSTORABLE.items():
        with subtests.test(name):
            before = snapshot(ctx, creds.login)
            data = {"SMS": [ONE_SMS], **tags}
            feed = json_feed(data.pop("MESSAGE"), data.pop("SMS"), **data)
            answer = call(client, "sendSms", creds, smsData=feed)
            # NUL is refused as the feed is decoded (like DEEP_JSON), the rest by the service
            by_service = {**INVALID_FEED, "invalidNumbers": ""}
            assert answer == (INVALID_FEED if name.startswith("nul-") else by_service)
            assert snapshot(ctx, creds.login) == before


# -- random feeds ----------------------------------------------------------------------------
# 10,000 examples in all: 4,650 JSON and 4,650 XML feeds through decoding and planning, and 350
# feeds per engine through the HTTP API with the store checked after each.

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
PRICES = PriceTable.default()
FUZZ = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
}

MISSING = object()  # a tag left out


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """one_of, each strategy as often as its weight says (Hypothesis favours the first)."""
    return st.one_of(*(strategy for weight, strategy in choices for _ in range(weight)))


def some(*values: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


PIECES = (
    *("#param_1#", "#PARAM_2#", "#param_", "\\n", "\n", " STOP au 36180", "€", "ê", "😀", "]]>"),
    *("<", "&", "&amp;", '"', "\\", "\x00", "\x1b", " ", "\t", "%", "+", "=", "{", "٣", "Hi"),
)


def _text_pool(size: int) -> list[str]:
    """Texts made of PIECES, some long (up to 1,300 characters), drawn once: sampling from a
    pool costs Hypothesis one choice where building each text costs a dozen."""
    chooser = random.Random(9)
    pool = ["".join(chooser.choices(PIECES, k=chooser.randint(1, 6))) for _ in range(size)]
    pool += [c * n for c in ("a", "ê", "€", "😀") for n in (70, 71, 153, 160, 161, 1224, 1225)]
    return pool


# No lone surrogate (none can come over HTTP), no control character (XML refuses them; PIECES
# brings a few in).
CHARS = st.characters(exclude_categories=("Cs", "Cc"))
TEXT = weighted((3, st.sampled_from(_text_pool(300))), (1, st.text(CHARS, max_size=10)))
MESSAGES = weighted((3, some("Hello #param_1#", "Promo STOP au 36180", "Line\\nbreak")), (4, TEXT))
PHONES = weighted(
    (8, some("0612000000", "06 12 00 00 01", "+33612000002", "0033612000003", "+447700900123")),
    (2, some("336xxxxxxxx", "0140000000", "+32470123456", "0692123456", "", " ", "+", "00")),
    (1, st.text("0123456789 +.-()", max_size=16)),
)
SCALARS = weighted(
    (2, TEXT),
    (1, st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)),
    (1, st.booleans() | st.none()),
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=4,
)
DATES = some(
    *("2001-01-01 00:00:00", "2099-01-01 10:00:00", "2099-01-01 10:00", "2030-02-30 10:00:00"),
    *("0001-01-01 00:00:00", "9999-12-31 23:59:59", "tomorrow", " 2099-06-01 12:00:00 "),
)
PARAM_KEYS = some("PARAM_1", "param_2", "PARAM_3", "PARAM_01", "PARAM_²", "PARAM_")


#: How a feed writes its tag names: mostly as the manual does, else in lower or title case.
CASES = some(str, str, str, str.lower, str.title)


def optional(
    strategy: st.SearchStrategy[Any], missing: int = 1, odd: int = 1
) -> st.SearchStrategy[Any]:
    """A tag with a good value (mostly), left out, or holding any JSON scalar."""
    return weighted((6, strategy), (missing, st.just(MISSING)), (odd, SCALARS))


PARAMS = st.lists(PARAM_KEYS, max_size=2)
CLIMSGIDS = weighted((4, st.just(MISSING)), (1, TEXT | st.text(max_size=300)))


@st.composite
def sms_items(draw: st.DrawFn) -> Any:
    case = draw(CASES)
    item: dict[str, Any] = {case("MOBILEPHONE"): draw(PHONES)}
    for key in draw(PARAMS):
        item[key] = draw(TEXT)
    cli_msg_id = draw(CLIMSGIDS)
    if cli_msg_id is not MISSING:
        item[case("CLIMSGID")] = cli_msg_id
    return item


# Built once: Hypothesis validates a strategy the first time it draws from it.
FIELDS = {
    "MESSAGE": optional(MESSAGES),
    "DYNAMIC": optional(st.integers(0, 3) | some("2", " 1 ", "2", "x"), missing=6, odd=0),
    "DATE": optional(DATES, missing=12, odd=0),
    "TPOA": optional(some("Society", "ab", "1abc", "Société", "A B C", ""), missing=3),
    "CAMPAIGN_NAME": optional(TEXT, missing=3),
    "MAIL_NOTIF": optional(some("0", "1", 1), missing=6),
    "SMS": weighted(
        (6, st.lists(sms_items(), min_size=1, max_size=3)),
        (1, sms_items() | PHONES),
        (1, ANY_JSON | st.just(MISSING)),
    ),
}


@st.composite
def feed_data(draw: st.DrawFn) -> dict[str, Any]:
    """The DATA object of a feed, shaped like the manual's most of the time."""
    case = draw(CASES)
    data: dict[str, Any] = {}
    for name, strategy in FIELDS.items():
        value = draw(strategy)
        if value is not MISSING:
            data[case(name)] = value
    return data


def mutated(text: str, draw: st.DrawFn) -> str:
    """The text as is (mostly), cut short, or with a character put in or taken out."""
    # Hypothesis favours small integers: 0 to 16 leave the text alone.
    choice = draw(st.integers(0, 19))
    if choice < 17 or not text:
        return text
    at = draw(st.integers(0, len(text) - 1))
    if choice == 17:
        return text[:at]
    if choice == 18:
        return text[:at] + draw(some('"', "<", ">", "{", "]", ",", "&", "\\")) + text[at:]
    return text[:at] + text[at + 1 :]


@st.composite
def json_feeds(draw: st.DrawFn) -> str:
    data = draw(feed_data())
    document: Any = data if draw(st.integers(0, 9)) == 9 else {draw(CASES)("DATA"): data}
    if draw(st.integers(0, 29)) == 29:
        document = draw(ANY_JSON)
    return mutated(orjson.dumps(document).decode(), draw)


def xml_text(value: Any, draw: st.DrawFn) -> str:
    if isinstance(value, dict):
        return "".join(xml_element(str(k), v, draw) for k, v in value.items())
    if isinstance(value, list):
        return "".join(xml_text(v, draw) for v in value)
    text = "" if value is None else str(value)
    how = draw(st.integers(0, 29))
    if how == 29:
        return text  # unescaped: often malformed
    if how > 25 and "]]>" not in text:
        return f"<![CDATA[{text}]]>"
    pad = draw(some("", "", " ", "\n  "))
    return pad + escape(text) + pad


def xml_element(name: str, value: Any, draw: st.DrawFn) -> str:
    if isinstance(value, list) and value:  # a repeated tag
        return "".join(xml_element(name, item, draw) for item in value)
    return f"<{name}>{xml_text(value, draw)}</{name}>"


@st.composite
def xml_feeds(draw: st.DrawFn) -> str:
    body = xml_element(draw(CASES)("DATA"), draw(feed_data()), draw)
    prolog = draw(
        weighted(
            (6, some("", '<?xml version="1.0" encoding="UTF-8"?>\n', "\n <!-- c -->")),
            (1, some("<!DOCTYPE DATA>", '<?xml version="1.0" encoding="ISO-8859-1"?>')),
        )
    )
    return mutated(prolog + body, draw)


FEEDS = st.one_of(json_feeds(), xml_feeds())


def check_answer_encodes(method: str, fields: dict[str, Any]) -> None:
    """Whatever the input echoed in it, the answer is valid JSON and well-formed XML."""
    assert orjson.loads(wire.encode(method, fields, "json", "text/html").body) == fields
    root = etree.fromstring(wire.encode(method, fields, "xml", "").body)
    assert (root.tag, root.findtext("status")) == (method, str(fields["status"]))


def plan_or_refuse(feed: str) -> None:
    """Decode and plan `feed`; a refusal has an annex 5 status, a plan keeps every rule."""
    try:
        order = api_sending.order_from_feed(feed)
    except MethodError as refused:
        assert refused.fields["status"] in (105, 109)
        return
    recipients = sending.parse_recipients(order.recipients)
    try:
        plan = sending.plan_campaign(
            order,
            recipients,
            timezone="Europe/Paris",
            default_sender="36180",
            prices=PRICES,
            blacklisted=set(recipients.phones[:1]),
            now=NOW,
        )
    except SendRefused as refused:
        assert refused.status in (109, 110, 111, 114, 115)
        check_answer_encodes("sendSms", api_sending.refusal_fields(refused))
        return
    phones = [m.phone for m in plan.messages]
    assert len(set(phones)) == len(phones) == len(recipients.valid) - 1
    assert len(phones) + len(plan.invalid_numbers) == len(order.recipients) - (
        len(order.recipients) - len(recipients.valid) - len(recipients.invalid)
    )
    for message in plan.messages:
        assert message.phone.isdigit()
        assert 1 <= message.parts == text_size(message.text).parts <= 8
        assert message.credits == message.parts * PRICES.credits_per_part(message.country)
        assert message.sender == "36180" or valid_tpoa(message.sender)
        assert "\x00" not in message.text
    outcome = sending.SendOutcome(
        status=SendStatus.SENT,
        invalid_numbers=plan.invalid_numbers,
        sms_ids=[(m.phone, m.sms_id) for m in plan.messages],
    )
    check_answer_encodes("sendSms", api_sending.outcome_fields(outcome))


@settings(max_examples=4650, **FUZZ)
@given(feed=json_feeds())
def test_random_json_feeds_plan_or_are_refused(feed: str) -> None:
    plan_or_refuse(feed)


@settings(max_examples=4650, **FUZZ)
@given(feed=xml_feeds())
def test_random_xml_feeds_plan_or_are_refused(feed: str) -> None:
    plan_or_refuse(feed)


def answer_of(method: str, response: Any) -> dict[str, int]:
    """status, creditsUsed and nbContacts of an answer in either format."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("application/xml"):
        root = etree.fromstring(response.content)
        assert root.tag == method
        found = {name: root.findtext(name) for name in ("status", "creditsUsed", "nbContacts")}
        return {name: int(value) for name, value in found.items() if value is not None}
    answer = orjson.loads(response.content)
    assert isinstance(answer["status"], int)
    return {k: v for k, v in answer.items() if k in ("status", "creditsUsed", "nbContacts")}


def post_feed(client: TestClient, creds: Creds, method: str, feed: str, how: str) -> Any:
    path = f"/http/9.0/{method}"
    if how == "multipart":
        fields = {name: (None, value) for name, value in creds.params(smsData=feed).items()}
        return client.post(path, files=fields)
    if how == "raw":  # un-encoded, as hand-written clients send it
        body = f"login={creds.login}&apiKey={creds.api_key}&smsData={feed}".encode()
        return client.post(
            path, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )
    return client.post(path, data=creds.params(smsData=feed))


@pytest.fixture
def fuzz_accounts(ctx: Context) -> dict[bool, Creds]:
    """A rich account and a poor one (20 credits: one SMS, then status 104), by `poor`."""
    return {False: make_account(ctx, "rich", credits=10**12), True: make_account(ctx, "poor", 20)}


@settings(max_examples=350, **FUZZ)
@given(
    feed=FEEDS,
    method=st.sampled_from(["sendSms", "sendSms", "simulateCampaign"]),
    how=st.sampled_from(["form", "raw", "multipart"]),
    poor=st.booleans(),
)
def test_random_feeds_over_http_never_fail_or_half_write(
    client: TestClient,
    ctx: Context,
    fuzz_accounts: dict[bool, Creds],
    feed: str,
    method: str,
    how: str,
    poor: bool,
) -> None:
    creds = fuzz_accounts[poor]
    before = snapshot(ctx, creds.login)
    answer = answer_of(method, post_feed(client, creds, method, feed, how))
    assert answer["status"] in (100, 101, 104, 105, 109, 110, 111, 114, 115)
    campaigns, messages, ledger, keys, credits = before
    if method == "sendSms" and answer["status"] in (100, 101):
        used, contacts = answer["creditsUsed"], answer["nbContacts"]
        expected = (campaigns + 1, messages + contacts, ledger + 1, keys, credits - used)
        assert snapshot(ctx, creds.login) == expected
    else:
        assert snapshot(ctx, creds.login) == before
