"""`/account/console`: the form built from the catalogue, the request shown before it is sent
(key masked), in-process calls as the signed-in account only, simulation, status explanations."""

from __future__ import annotations

import html
import re

import pytest
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.domain.catalogue import CATALOGUE, REST_ENDPOINTS
from hirondelle.store.schema import campaigns
from tests.api.test_subaccounts import add_sub
from tests.conftest import count_rows
from tests.helpers import make_account
from tests.web.test_account import csrf_of, sign_in, with_password

SMS_FEED = '{"DATA": {"MESSAGE": "Hello", "SMS": [{"MOBILEPHONE": "0611111111"}]}}'


@pytest.fixture
def signed_in(ctx: Context, client: TestClient) -> TestClient:
    with_password(ctx, "alice", credits=1000)
    sign_in(client, "alice")
    return client


def _post(client: TestClient, method: str, **fields: str) -> str:
    page = client.get(f"/account/console?method={method}")
    response = client.post(
        "/account/console", data={"method": method, "csrf": csrf_of(page.text), **fields}
    )
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


def _answer(page: str) -> str:
    found = re.search(r'<pre class="code" id="answer-body">(.*?)</pre>', page, re.S)
    assert found, page
    return found.group(1)


def test_signed_out_the_console_sends_to_the_sign_in_form(client: TestClient) -> None:
    response = client.get("/account/console", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/account/"


def test_every_method_and_operation_has_its_form(signed_in: TestClient) -> None:
    for key in [doc.name for doc in CATALOGUE] + [op.key for op in REST_ENDPOINTS]:
        page = signed_in.get(f"/account/console?method={key}")
        assert page.status_code == 200, key
        assert 'id="curl"' in page.text and 'id="python"' in page.text
        assert "<script>" not in page.text and "style=" not in page.text


def test_the_request_is_shown_with_the_key_masked(signed_in: TestClient, ctx: Context) -> None:
    page = html.unescape(signed_in.get("/account/console?method=sendSms").text)
    assert "curl -sS 'http://testserver/http/9.0/sendSms'" in page
    assert "--data-urlencode 'login=alice'" in page
    assert '--data-urlencode "apiKey=$HIRONDELLE_API_KEY"' in page
    assert f"--data-urlencode 'smsData={SMS_FEED}'" in page
    assert '"apiKey": os.environ["HIRONDELLE_API_KEY"],' in page
    assert "real credits" in page and 'value="simulate"' in page


def test_get_info_answers_for_the_signed_in_account(signed_in: TestClient) -> None:
    answer = _answer(_post(signed_in, "getInfo"))
    assert '"credits": 1000' in answer and '"apiKey": "********"' in answer


def test_send_sms_spends_credits_and_explains_the_status(
    signed_in: TestClient, ctx: Context
) -> None:
    page = _post(signed_in, "sendSms", smsData=SMS_FEED, action="send")
    assert '"status": 100' in _answer(page)
    assert "status = 100" in page and "The message has been sent" in page
    assert count_rows(ctx, campaigns) == 1


def test_simulate_sends_nothing(signed_in: TestClient, ctx: Context) -> None:
    page = _post(signed_in, "sendSms", smsData=SMS_FEED, action="simulate")
    assert "simulateCampaign" in page and '"nbSms": 1' in _answer(page)
    assert count_rows(ctx, campaigns) == 0


def test_a_rest_call_goes_through_basic_auth_as_the_account(signed_in: TestClient) -> None:
    page = _post(signed_in, "rest-account")
    assert 'HTTP <strong id="http-status">200</strong>' in page
    assert '"balance": 1000' in _answer(page)
    assert "curl -sS -X GET 'http://testserver/account'" in page


def test_xml_answers_are_pretty_printed(signed_in: TestClient) -> None:
    answer = _answer(_post(signed_in, "getInfo", returnformat="xml"))
    assert "<getInfo>\n  <" in answer


def test_the_form_cannot_name_another_account(signed_in: TestClient, ctx: Context) -> None:
    """The login is the session's whatever the form says; `subaccount` reaches only one's own."""
    make_account(ctx, "bob", credits=7)
    answer = _answer(_post(signed_in, "getInfo", login="bob"))
    assert '"credits": 1000' in answer and '"credits": 7' not in answer
    answer = _answer(_post(signed_in, "getInfo", subaccount="bob"))
    assert "Unknown sub-account: bob" in answer


def test_a_master_acts_for_its_own_sub_account(signed_in: TestClient, ctx: Context) -> None:
    add_sub(ctx, "alice", "kid", credits=5)
    answer = _answer(_post(signed_in, "getInfo", subaccount="kid"))
    assert '"credits": 5' in answer


def test_the_console_path_is_not_open_from_the_network(client: TestClient, ctx: Context) -> None:
    """A request from outside with the console's placeholder key is a wrong key, as any other."""
    make_account(ctx, "carol")
    answer = client.post("/http/9.0/getInfo", data={"login": "carol", "apiKey": "********"})
    assert "Bad credentials" in answer.text
    rest = client.get("/account", auth=("carol", "********"))
    assert rest.status_code == 401


def test_a_form_without_its_csrf_token_is_refused(signed_in: TestClient, ctx: Context) -> None:
    response = signed_in.post(
        "/account/console", data={"method": "sendSms", "smsData": SMS_FEED, "action": "send"}
    )
    assert response.status_code == 403
    assert count_rows(ctx, campaigns) == 0


def test_an_unknown_method_is_a_404(signed_in: TestClient) -> None:
    page = signed_in.get("/account/console")
    response = signed_in.post(
        "/account/console", data={"method": "nope", "csrf": csrf_of(page.text)}
    )
    assert response.status_code == 404
    assert signed_in.get("/account/console?method=nope").status_code == 200  # the default
