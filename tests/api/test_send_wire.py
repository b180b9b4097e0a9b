"""Wire compatibility of the send family: what existing allmysms clients send and expect.

One test per point of the issue's "Wire compatibility" list and DESIGN.md §5, plus the
Idempotency-Key header.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.context import Context
from hirondelle.store import Store
from hirondelle.store.engine import create_engine
from tests.api.sending_helpers import (
    call,
    campaign_row,
    json_feed,
    message_rows,
    mobiles,
    send_sms,
    xml_feed,
)
from tests.conftest import TEST_SECRET, make_settings
from tests.helpers import Creds, json_answer, make_account, xml_answer

ONE = mobiles(1)
FEED = json_feed("Hello", ONE)


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """Decoding and encoding do not depend on the engine: these tests run on SQLite only
    (test_sending.py and test_delete_campaign.py cover both engines)."""
    return sqlite_url


def form_post(client: TestClient, path: str, body: str) -> Any:
    """POST a form body written by hand (raw, as some clients send it)."""
    return client.post(
        path, content=body.encode(), headers={"content-type": "application/x-www-form-urlencoded"}
    )


def only_text(ctx: Context, answer: Any) -> str:
    [row] = message_rows(ctx, answer["campaignId"])
    return str(row["text"])


# -- paths, method names, transports ---------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/http/9.0/sendSms", "/http/9.0/sendSms/", "/http/9.0/sendSMS", "/http/9.0/SENDSMS/"]
)
def test_paths_and_method_names(client: TestClient, ctx: Context, path: str) -> None:
    creds = make_account(ctx)
    assert json_answer(client.post(path, data=creds.params(smsData=FEED)))["status"] == 100
    root = xml_answer(client.post(path, data=creds.params(smsData=xml_feed("Hi", ONE))))
    assert root.tag == "sendSms"  # the canonical name, whatever the URL's case


@pytest.mark.parametrize("path", ["/http/9.0", "/http/9.0/"])
def test_simplified_send_with_or_without_slash(client: TestClient, ctx: Context, path: str) -> None:
    creds = make_account(ctx)
    answer = json_answer(client.get(path, params=creds.params(message="Hi", mobile=ONE[0])))
    assert (answer["status"], answer["nbContacts"]) == (100, 1)


def test_get_urlencoded_and_multipart(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=1000)
    by_get = client.get("/http/9.0/sendSms/", params=creds.params(smsData=FEED))
    by_form = client.post("/http/9.0/sendSms/", data=creds.params(smsData=FEED))
    fields = {name: (None, value) for name, value in creds.params(smsData=FEED).items()}
    by_multipart = client.post("/http/9.0/sendSms/", files=fields)
    assert [json_answer(r)["credits"] for r in (by_get, by_form, by_multipart)] == [985, 970, 955]


def test_lf_only_multipart(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    body = "".join(
        f'--b0undary\nContent-Disposition: form-data; name="{name}"\n\n{value}\n'
        for name, value in creds.params(smsData=json_feed("Line\\nbreak", ONE)).items()
    )
    response = client.post(
        "/http/9.0/sendSms",
        content=(body + "--b0undary--\n").encode(),
        headers={"content-type": "multipart/form-data; boundary=b0undary"},
    )
    assert only_text(ctx, json_answer(response)) == "Line\nbreak"


# -- raw feeds in a form body ----------------------------------------------------------------


def test_raw_json_in_a_form_body(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    feed = '{"DATA":{"MESSAGE":"a&b + c = 50% off","SMS":[{"MOBILEPHONE":"0612000000"}]}}'
    body = f"login={creds.login}&apiKey={creds.api_key}&smsData={feed}"
    assert only_text(ctx, json_answer(form_post(client, "/http/9.0/sendSms", body))) == (
        "a&b + c = 50% off"
    )
    # The feed first, the other parameters after it.
    body = f"smsData={feed}&login={creds.login}&apiKey={creds.api_key}&returnformat=xml"
    root = xml_answer(form_post(client, "/http/9.0/sendSms", body))
    assert (root.tag, root.findtext("status")) == ("sendSms", "100")


def test_raw_xml_in_a_form_body(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    feed = (
        "<DATA><MESSAGE><![CDATA[a&b + c]]></MESSAGE>"
        "<SMS><MOBILEPHONE>+33612000000</MOBILEPHONE></SMS></DATA>"
    )
    body = f"login={creds.login}&smsData={feed}&apiKey={creds.api_key}&returnformat=json"
    assert only_text(ctx, json_answer(form_post(client, "/http/9.0/sendSms", body))) == "a&b + c"


def test_urlencoded_feed_is_decoded_normally(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    feed = json_feed("a&b + c %", ONE)
    body = urlencode(creds.params(smsData=feed), quote_via=quote)
    assert only_text(ctx, json_answer(form_post(client, "/http/9.0/sendSms", body))) == "a&b + c %"


# -- parameters ------------------------------------------------------------------------------


def test_empty_parameters_count_as_absent(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    params = creds.params(
        message="Hi STOP au 36180", mobile=ONE[0], tpoa="", date="", returnformat="", campaign=""
    )
    answer = json_answer(client.get("/http/9.0/", params=params))
    assert answer["status"] == 100  # an empty date is no date, not a bad one (115)
    [row] = message_rows(ctx, answer["campaignId"])
    assert row["sender"] == "36180"
    assert campaign_row(ctx, answer["campaignId"])["name"] == ""
    # An empty login is no login.
    assert call(client, "sendSms", Creds("", creds.api_key), smsData=FEED)["status"] == 102


@pytest.mark.parametrize("tpoa_name", ["tpoa", "TPOA", "Tpoa"])
def test_tpoa_aliases(client: TestClient, ctx: Context, tpoa_name: str) -> None:
    creds = make_account(ctx)
    params = creds.params(message="Hi STOP au 36180", mobile=ONE[0], **{tpoa_name: "Society"})
    answer = json_answer(client.post("/http/9.0/", data=params))
    assert message_rows(ctx, answer["campaignId"])[0]["sender"] == "Society"


@pytest.mark.parametrize("login_name", ["login", "clientcode", "CLIENTCODE", "Login"])
@pytest.mark.parametrize("feed_name", ["smsData", "SMSDATA", "smsdata", "SmsData"])
def test_login_and_feed_aliases(
    client: TestClient, ctx: Context, login_name: str, feed_name: str
) -> None:
    creds = make_account(ctx)
    params = {login_name: creds.login, "apiKey": creds.api_key, feed_name: FEED}
    assert json_answer(client.post("/http/9.0/sendSms", data=params))["status"] == 100


def test_mobile_separators_in_the_simplified_send(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    mobile = "0612000000; 0612000001;;0612000002,0612000003;"
    answer = json_answer(client.get("/http/9.0/", params=creds.params(message="Hi", mobile=mobile)))
    assert [s["phoneNumber"] for s in answer["smsIds"]] == [
        "33612000000",
        "33612000001",
        "33612000002",
        "33612000003",
    ]


# -- answers ---------------------------------------------------------------------------------


def test_status_is_a_json_integer_and_errors_are_http_200(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=10)
    for feed, status in [(FEED, 104), (json_feed("Hi", ["123"]), 114), ("", 105), ("{", 109)]:
        response = client.post("/http/9.0/sendSms", data=creds.params(smsData=feed))
        assert response.status_code == 200
        assert response.content.startswith(b'{"status":%d,' % status)
    wrong = client.post("/http/9.0/sendSms", data={"login": "x", "apiKey": "y", "smsData": FEED})
    assert (wrong.status_code, wrong.content[:14]) == (200, b'{"status":102,')


def test_json_is_served_as_text_html_by_default(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    response = client.post("/http/9.0/sendSms", data=creds.params(smsData=FEED))
    assert response.headers["content-type"] == "text/html; charset=UTF-8"


@pytest.fixture
def json_client(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Context]]:
    settings = make_settings(database_url, tmp_path, json_content_type="application/json")
    context = Context(Store(create_engine(database_url)), settings, TEST_SECRET)
    with TestClient(create_app(context)) as test_client:
        yield test_client, context
    context.close()


def test_json_content_type_is_configurable(json_client: tuple[TestClient, Context]) -> None:
    client, ctx = json_client
    creds = make_account(ctx)
    for method in ("sendSms", "simulateCampaign"):
        response = client.post(f"/http/9.0/{method}", data=creds.params(smsData=FEED))
        assert response.headers["content-type"] == "application/json"
        assert json_answer(response)["status"] == 100


def test_xml_answer_of_sendsms(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    response = client.post("/http/9.0/sendSms", data=creds.params(smsData=xml_feed("Hi", ONE)))
    root = xml_answer(response)
    campaign_id, sms_id = root.findtext("campaignId"), root.findtext("smsIds/sms/smsId")
    assert response.text == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<sendSms><status>100</status>'
        "<statusText>The message has been sent</statusText><invalidNumbers></invalidNumbers>"
        f"<campaignId>{campaign_id}</campaignId><credits>985</credits>"
        "<creditsUsed>15</creditsUsed><nbContacts>1</nbContacts><nbSms>1</nbSms>"
        f"<smsIds><sms><phoneNumber>33612000000</phoneNumber><smsId>{sms_id}</smsId></sms>"
        "</smsIds></sendSms>\n"
    )


@pytest.mark.parametrize(
    ("method", "feed", "returnformat", "expected"),
    [
        ("sendSms", FEED, None, "json"),
        ("sendSms", FEED, "xml", "xml"),
        ("sendSms", FEED, "XML", "xml"),
        ("sendSms", xml_feed("Hi", ONE), None, "xml"),
        ("sendSms", "  \n" + xml_feed("Hi", ONE), None, "xml"),
        ("sendSms", xml_feed("Hi", ONE), "json", "json"),
        ("sendSms", xml_feed("Hi", ONE), "csv", "xml"),
        ("simulateCampaign", FEED, "xml", "xml"),
        ("simulateCampaign", xml_feed("Hi", ONE), None, "xml"),
        ("simulateCampaign", xml_feed("Hi", ONE), "json", "json"),
        ("sendSms", "<DATA><MESSAGE>oops</DATA>", None, "xml"),  # refusals too (109)
        ("sendSms", "<DATA/>", None, "xml"),  # (105)
    ],
)
def test_returnformat_and_the_feed_format(
    client: TestClient,
    ctx: Context,
    method: str,
    feed: str,
    returnformat: str | None,
    expected: str,
) -> None:
    creds = make_account(ctx)
    extra = {} if returnformat is None else {"returnformat": returnformat}
    response = client.post(f"/http/9.0/{method}", data=creds.params(smsData=feed, **extra))
    if expected == "json":
        assert isinstance(json_answer(response)["status"], int)
    else:
        assert xml_answer(response).tag == method


def test_xml_answers_of_the_other_send_methods(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    simulated = client.post(
        "/http/9.0/simulateCampaign", data=creds.params(smsData=xml_feed("Hi", mobiles(2)))
    )
    assert simulated.text == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<simulateCampaign><status>100</status>'
        "<statusText>The message has been sent</statusText><invalidNumbers></invalidNumbers>"
        "<nbCredits>30</nbCredits><nbContacts>2</nbContacts><nbSms>2</nbSms>"
        "</simulateCampaign>\n"
    )
    refused = client.post(
        "/http/9.0/sendSms", data={"login": "x", "apiKey": "y", "smsData": xml_feed("Hi", ONE)}
    )
    assert refused.text == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<sendSms><status>102</status><statusText>'
        "Connection Problem - No account matches the specified clientcode and apiKey"
        "</statusText></sendSms>\n"
    )
    direct = xml_answer(client.get("/http/9.0/", params=creds.params(returnformat="xml")))
    assert (direct.tag, direct.findtext("status")) == ("directSend", "110")


# -- the manual's own samples ----------------------------------------------------------------

# Appendix 1, with its typos corrected (`</ X>`, `<MAIL NOTIF>`, `<! [CDATA [`) and its
# descriptions replaced by values (DYNAMIC, DATE, MAIL_NOTIF); the rest as printed, its
# recipients in `<Text>` blocks included (read as the `<SMS>` they mean).
APPENDIX_1 = """
<DATA>
<MESSAGE> <![CDATA[Your message]]> </MESSAGE>
<DYNAMIC>2</DYNAMIC>
<CAMPAIGN_NAME>Campaign          Name          </CAMPAIGN_NAME>
<DATE>2011-11-05 15:10:00</DATE>
<TPOA>station name</TPOA>
<MAIL_NOTIF>0</MAIL_NOTIF>
<Text>
    <MOBILEPHONE> 336xxxxxxxx </MOBILEPHONE>
    <PARAM_1>Parameter 1 </PARAM_1>
    <PARAM_2>Parameter 2 </PARAM_2>
</Text>
<Text>
    <MOBILEPHONE> 3361111111 </MOBILEPHONE>
    <PARAM_1>Parameter 1 </PARAM_1>
    <PARAM_2>Parameter 2 </PARAM_2>
</Text>
</DATA>
"""

# Appendix 2, with the missing commas added.
APPENDIX_2 = """
{
  "DATA": {
    "CAMPAIGN_NAME": "Campaign Name",
    "MESSAGE": "Your message",
    "TPOA": "Name of the issuer",
    "DYNAMIC": "2",
    "DATE": "2013-01-01 12:00:00",
    "SMS": [
      {
        "MOBILEPHONE": "336xxxxxxxx",
        "PARAM_1": "parameter 1",
        "PARAM_2": "parameter 2"
      },
      {
        "MOBILEPHONE": "3361111111",
        "PARAM_1": "parameter 1",
        "PARAM_2": "parameter 2"
      }
    ]
  }
}
"""

# The API console sample of §4, closed (`</SMS></DATA>`); the manual answers it with 114.
CONSOLE = """<DATA>
<MESSAGE>Hello Mr #param_1# #param_2# Stop au 36180</MESSAGE>
<DATE>2015-02-20 16:12:21</DATE>
<TPOA>Society</TPOA>
<LOWCOST>0</LOWCOST>
<DYNAMIC>2</DYNAMIC>
<SMS>
<MOBILEPHONE>336xxxxxxx</MOBILEPHONE>
<PARAM_1>DUPONT</PARAM_1>
<PARAM_2>Francis</PARAM_2>
</SMS>
</DATA>"""


@pytest.mark.parametrize("sample", [APPENDIX_1, APPENDIX_2], ids=["appendix1", "appendix2"])
def test_manual_appendix_samples(client: TestClient, ctx: Context, sample: str) -> None:
    creds = make_account(ctx)
    as_printed = send_sms(client, creds, sample, returnformat="json")
    assert (as_printed["status"], as_printed["invalidNumbers"]) == (114, "336xxxxxxxx|3361111111")
    real = sample.replace("336xxxxxxxx", "33612000000").replace("3361111111", "33611111111")
    answer = send_sms(client, creds, real, returnformat="json")
    assert (answer["status"], answer["nbContacts"], answer["creditsUsed"]) == (100, 2, 30)
    assert [(r["text"], r["sender"]) for r in message_rows(ctx, answer["campaignId"])] == [
        ("Your message", "36180"),
        ("Your message", "36180"),
    ]
    assert campaign_row(ctx, answer["campaignId"])["name"].split() == ["Campaign", "Name"]


def test_manual_console_sample(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    root = xml_answer(client.post("/http/9.0/sendSms", data=creds.params(smsData=CONSOLE)))
    assert (root.tag, root.findtext("status"), root.findtext("invalidNumbers")) == (
        "sendSms",
        "114",
        "336xxxxxxx",
    )
    real = CONSOLE.replace("336xxxxxxx", "33612000000")
    answer = send_sms(client, creds, real, returnformat="json")
    [row] = message_rows(ctx, answer["campaignId"])
    assert (row["text"], row["sender"]) == ("Hello Mr DUPONT Francis Stop au 36180", "Society")


# -- feed leniency ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feed", "texts"),
    [
        (  # JSON null values are absent values
            '{"DATA": {"MESSAGE": "Hi #param_1#", "TPOA": null, "DATE": null, "DYNAMIC": null,'
            ' "SMS": [{"MOBILEPHONE": "0612000000", "PARAM_1": null, "CLIMSGID": null}, null]}}',
            ["Hi "],
        ),
        (  # \uXXXX escapes
            '{"DATA": {"MESSAGE": "Caf\\u00e9 \\u20ac\\ud83d\\ude00", "SMS": [{"MOBILEPHONE":'
            ' "\\u0030612000000"}]}}',
            ["Café €😀"],
        ),
        (  # DYNAMIC as a number, numbers as JSON numbers
            '{"DATA": {"MESSAGE": "#param_1#-#param_2#", "DYNAMIC": 2, "SMS": [{"MOBILEPHONE":'
            ' 33612000000, "PARAM_1": 7, "PARAM_2": 1.5}]}}',
            ["7-1.5"],
        ),
        (  # DYNAMIC as a string, a single SMS object instead of a list
            '{"DATA": {"MESSAGE": "#param_1#", "DYNAMIC": "1", "SMS": {"MOBILEPHONE":'
            ' "0612000000", "PARAM_1": "alone"}}}',
            ["alone"],
        ),
        (  # tag names in any case
            '{"data": {"Message": "#Param_1#", "sms": [{"mobilePhone": "0612000000",'
            ' "param_1": "lower"}]}}',
            ["lower"],
        ),
        (  # XML: whitespace around values, one <SMS> alone, tags in any case
            "<data>\n  <Message>\n  Hi #PARAM_1#  \n</Message>\n  <dynamic> 1 </dynamic>\n"
            "  <Sms>\n    <mobilephone>  06 12 00 00 00\n</mobilephone>\n"
            "    <param_1>  you </param_1>\n  </Sms>\n</data>",
            ["Hi you"],
        ),
        (  # XML declaration, comments and CDATA
            '<?xml version="1.0" encoding="UTF-8"?>\n<!-- a comment --><DATA>'
            "<MESSAGE><![CDATA[<b>&bold</b>]]></MESSAGE><SMS><MOBILEPHONE>0612000000</MOBILEPHONE>"
            "</SMS></DATA>",
            ["<b>&bold</b>"],
        ),
    ],
    ids=["nulls", "escapes", "numbers", "single-sms", "case", "xml-whitespace", "xml-cdata"],
)
def test_lenient_feeds(client: TestClient, ctx: Context, feed: str, texts: list[str]) -> None:
    creds = make_account(ctx)
    answer = send_sms(client, creds, feed, returnformat="json")
    assert [r["text"] for r in message_rows(ctx, answer["campaignId"])] == texts


def test_xml_whitespace_around_tpoa_and_date(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    feed = xml_feed("Hi STOP au 36180", ONE, TPOA="  Society\n", DATE="\n 2099-06-01 12:00:00 ")
    answer = send_sms(client, creds, feed, returnformat="json")
    assert answer["statusText"] == "The message was scheduled to be sent at 2099-06-01 12:00:00"
    assert message_rows(ctx, answer["campaignId"])[0]["sender"] == "Society"


def test_xml_declared_encoding_does_not_garble_the_text(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    feed = '<?xml version="1.0" encoding="ISO-8859-1"?>' + xml_feed("Élève café", ONE)
    answer = send_sms(client, creds, feed, returnformat="json")
    assert only_text(ctx, answer) == "Élève café"


# -- getCreditsByCountryIsoCode (§27) --------------------------------------------------------

CREDITS = [
    ("FR", {"isoCode": "FR", "nbCredits": 15}),
    ("fr", {"isoCode": "FR", "nbCredits": 15}),
    (" de ", {"isoCode": "DE", "nbCredits": 17}),
    ("UK", {"isoCode": "UK", "nbCredits": 18}),
    ("GB", {"isoCode": "GB", "nbCredits": 18}),
    ("XX", {"error": "Unknown country ISO code: XX"}),
    ("FRA", {"error": "Unknown country ISO code: FRA"}),
    (None, {"error": "Missing parameter: countryIsoCode"}),
    ("", {"error": "Missing parameter: countryIsoCode"}),
]


def test_credits_by_country(client: TestClient, ctx: Context, subtests: pytest.Subtests) -> None:
    creds = make_account(ctx)
    for iso, answer in CREDITS:
        with subtests.test(iso=iso):
            params = {} if iso is None else {"countryIsoCode": iso}
            assert call(client, "getCreditsByCountryIsoCode", creds, **params) == answer
    wrong = Creds(creds.login, "nope")
    assert "error" in call(client, "getCreditsByCountryIsoCode", wrong, countryIsoCode="FR")


def test_credits_by_country_in_xml(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    response = client.get(
        "/http/9.0/getCreditsByCountryIsoCode/",
        params=creds.params(countryIsoCode="UK", returnformat="xml"),
    )
    assert response.text == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<getCreditsByCountryIsoCode>'
        "<isoCode>UK</isoCode><nbCredits>18</nbCredits></getCreditsByCountryIsoCode>\n"
    )
