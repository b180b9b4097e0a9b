"""IP allow-lists and throughput limits over API 9.0 and REST, in process (the client's address
is TestClient's `client`; tests/integration/test_access_live.py binds real sockets)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from lxml import etree
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.context import Context
from hirondelle.store.schema import campaigns, contact_lists, messages
from tests.api.rest_helpers import assert_error, auth
from tests.conftest import count_rows
from tests.helpers import Creds, json_answer, make_account

REFUSED = "Connection Problem - The address 127.0.0.2 is not allowed for this account"
FEED = json.dumps({"DATA": {"MESSAGE": "Hello", "SMS": [{"MOBILEPHONE": "0611111111"}]}})


@contextmanager
def client_from(ctx: Context, address: str, **headers: str) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), client=(address, 40000), headers=headers) as client:
        yield client


@pytest.fixture
def alice(ctx: Context) -> Creds:
    creds = make_account(ctx, "alice", credits=1000, allowlist_version=1)
    ctx.store.write_sync(
        lambda conn: conn.exec_driver_sql(
            "INSERT INTO allowed_networks (account_id, network, created_at) "
            "SELECT id, '127.0.0.1/32', CURRENT_TIMESTAMP FROM accounts WHERE login = 'alice'"
        )
    )
    return creds


def send_sms(client: TestClient, creds: Creds, **extra: Any) -> Any:
    return client.post("/http/9.0/sendSms", data=creds.params(smsData=FEED, **extra))


def test_api_v9_refuses_an_address_outside_the_list(ctx: Context, alice: Creds) -> None:
    with client_from(ctx, "127.0.0.2") as client:
        assert json_answer(send_sms(client, alice)) == {"status": 102, "statusText": REFUSED}
        answer = json_answer(client.get("/http/9.0/getInfo", params=alice.params()))
        assert answer == {"error": "The address 127.0.0.2 is not allowed for this account"}
        lists = client.get("/http/9.0/createList", params=alice.params(listData="{}"))
        assert json_answer(lists) == {
            "status": 0,
            "statusText": "The address 127.0.0.2 is not allowed for this account",
        }
        email = client.get("/http/9.0/sendEmail", params=alice.params(emailData="{}"))
        assert json_answer(email) == {"status": 102, "statusText": REFUSED}
        xml = send_sms(client, alice, returnformat="xml")
        assert etree.fromstring(xml.content).findtext("statusText") == REFUSED
    assert count_rows(ctx, campaigns) == 0
    assert count_rows(ctx, contact_lists) == 0


def test_a_wrong_key_gets_the_usual_answer_from_anywhere(ctx: Context, alice: Creds) -> None:
    """Only the holder of the right key learns that its address is refused."""
    wrong = Creds("alice", "0" * 32)
    with client_from(ctx, "127.0.0.2") as client:
        answer = json_answer(send_sms(client, wrong))
    assert answer["status"] == 102 and "No account matches" in answer["statusText"]


def test_api_v9_accepts_an_address_in_the_list(ctx: Context, alice: Creds) -> None:
    with client_from(ctx, "127.0.0.1") as client:
        assert json_answer(send_sms(client, alice))["status"] == 100
    assert count_rows(ctx, messages) == 1


def test_rest_refuses_with_403(ctx: Context, alice: Creds) -> None:
    body = {"to": "0611111111", "text": "Hello"}
    with client_from(ctx, "127.0.0.2") as client:
        response = client.post("/sms/send/", json=body, auth=auth(alice))
        assert_error(response, 403, 403, "The address 127.0.0.2 is not allowed for this account")
        assert_error(client.get("/account", auth=auth(alice)), 403, 403)
        wrong = client.get("/account", auth=("alice", "0" * 32))
        assert_error(wrong, 401, 102)
    with client_from(ctx, "127.0.0.1") as client:
        assert client.post("/sms/send/", json=body, auth=auth(alice)).status_code == 201
    assert count_rows(ctx, campaigns) == 1


def test_trusted_proxies_decide_whose_address_counts(ctx: Context, alice: Creds) -> None:
    # a trusted proxy (loopback, by default) forwards for 127.0.0.2: refused
    with client_from(ctx, "::1", **{"X-Forwarded-For": "127.0.0.2"}) as client:
        assert json_answer(send_sms(client, alice))["statusText"] == REFUSED
    # an untrusted peer cannot claim an allowed address
    with client_from(ctx, "198.51.100.1", **{"X-Forwarded-For": "127.0.0.1"}) as client:
        assert "198.51.100.1 is not allowed" in json_answer(send_sms(client, alice))["statusText"]
    # the client's own claim left of the proxy's entry is not believed either
    forwarded = {"X-Forwarded-For": "127.0.0.1, 127.0.0.2"}
    with client_from(ctx, "127.0.0.1", **forwarded) as client:
        assert json_answer(send_sms(client, alice))["statusText"] == REFUSED
    with client_from(ctx, "127.0.0.1", **{"X-Forwarded-For": "127.0.0.1"}) as client:
        assert json_answer(send_sms(client, alice))["status"] == 100


def test_no_trusted_proxy_believes_no_header(ctx: Context, alice: Creds) -> None:
    ctx.settings.trusted_proxies = []
    with client_from(ctx, "127.0.0.1", **{"X-Forwarded-For": "127.0.0.2"}) as client:
        assert json_answer(send_sms(client, alice))["status"] == 100


# -- the REST endpoint of the list ---------------------------------------------------------------


def test_rest_allowed_ips(ctx: Context) -> None:
    bob = make_account(ctx, "bob")
    with client_from(ctx, "127.0.0.1") as client:
        got = client.get("/account/allowed-ips", auth=auth(bob))
        assert got.json() == {"code": 200, "description": "Allowed from anywhere", "allowedIps": []}
        body = {"allowedIps": ["127.0.0.0/8", "2001:db8::1"]}
        put = client.put("/account/allowed-ips", json=body, auth=auth(bob))
        assert put.status_code == 200, put.text
        assert put.json()["allowedIps"] == ["127.0.0.0/8", "2001:db8::1/128"]
        assert client.get("/account/allowed-ips/", auth=auth(bob)).json() == put.json()
        # a list that would shut this very caller out
        lockout = client.put(
            "/account/allowed-ips", json={"allowedIps": ["2001:db8::1"]}, auth=auth(bob)
        )
        assert_error(lockout, 400, 400)
        assert "127.0.0.1" in lockout.json()["description"]
        bad = client.put(
            "/account/allowed-ips", json={"allowedIps": ["10.0.0.1/8"]}, auth=auth(bob)
        )
        assert_error(bad, 400, 400)
        assert "did you mean 10.0.0.0/8?" in bad.json()["description"]
        not_a_list = client.put("/account/allowed-ips", json={"allowedIps": "x"}, auth=auth(bob))
        assert not_a_list.status_code == 400
        wrong = client.delete("/account/allowed-ips", auth=auth(bob))
        assert_error(wrong, 405, 405)
        assert wrong.headers["allow"] == "GET, PUT"
        empty = client.put("/account/allowed-ips", json={"allowedIps": []}, auth=auth(bob))
        assert empty.json()["allowedIps"] == []


# -- throughput limits ---------------------------------------------------------------------------


@pytest.fixture
def frozen(ctx: Context) -> list[float]:
    """The throughput clock, still until the test moves it."""
    now = [1000.0]
    ctx.ticks = lambda: now[0]
    return now


def limited(ctx: Context, login: str, **limits: int) -> Creds:
    return make_account(ctx, login, credits=1000, **limits)


def test_api_v9_over_the_requests_limit_answers_429(ctx: Context, frozen: list[float]) -> None:
    carol = limited(ctx, "carol", requests_per_second=1)
    with client_from(ctx, "127.0.0.1") as client:
        assert client.get("/http/9.0/getInfo", params=carol.params()).status_code == 200
        over = client.get("/http/9.0/getInfo", params=carol.params())
        assert over.status_code == 429
        assert over.headers["retry-after"] == "1"
        text = "Too many requests: this account may make 1 requests per second; retry in 1 s"
        assert orjson.loads(over.content) == {"error": text}
        sms = send_sms(client, carol)
        assert sms.status_code == 429
        assert orjson.loads(sms.content) == {
            "status": 102,
            "statusText": "Connection Problem - " + text,
        }
        frozen[0] += 1
        assert send_sms(client, carol).status_code == 200
    assert count_rows(ctx, campaigns) == 1


def test_api_v9_over_the_messages_limit_answers_429(ctx: Context, frozen: list[float]) -> None:
    dave = limited(ctx, "dave", messages_per_second=10)
    with client_from(ctx, "127.0.0.1") as client:
        assert json_answer(send_sms(client, dave))["status"] == 100
        over = send_sms(client, dave, returnformat="xml")
        assert over.status_code == 429 and over.headers["retry-after"] == "1"
        root = etree.fromstring(over.content)
        assert root.tag == "sendSms" and root.findtext("status") == "102"
        assert "may send 10 messages per second" in (root.findtext("statusText") or "")
        # other methods are not messages
        assert client.get("/http/9.0/getInfo", params=dave.params()).status_code == 200
        # a repeated request (same idempotency key) answers again without a token
        key = {"Idempotency-Key": "k2"}
        frozen[0] += 0.1
        first = client.post("/http/9.0/sendSms", data=dave.params(smsData=FEED), headers=key)
        again = client.post("/http/9.0/sendSms", data=dave.params(smsData=FEED), headers=key)
        assert json_answer(again) == json_answer(first)
    assert count_rows(ctx, campaigns) == 2


def test_rest_over_the_limits_answers_429(ctx: Context, frozen: list[float]) -> None:
    erin = limited(ctx, "erin", messages_per_second=10, requests_per_second=30)  # a bucket of 3
    body = {"to": "0611111111", "text": "Hello"}
    with client_from(ctx, "127.0.0.1") as client:
        assert client.post("/sms/send/", json=body, auth=auth(erin)).status_code == 201
        over = client.post("/sms/send/", json=body, auth=auth(erin))
        answer = assert_error(over, 429, 429)
        assert "may send 10 messages per second" in answer["description"]
        assert over.headers["retry-after"] == "1"
        assert client.get("/account", auth=auth(erin)).status_code == 200  # 3rd request
        over = client.get("/account", auth=auth(erin))
        assert "may make 30 requests per second" in assert_error(over, 429, 429)["description"]
        assert over.headers["retry-after"] == "1"
    assert count_rows(ctx, campaigns) == 1
