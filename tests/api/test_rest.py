"""The REST API end to end on both engines: sending, the request itself, the OpenAPI document.

A refused request is checked to change nothing (`snapshot`); the answers are the exact shapes that
docs/rest-api.md shows and the Symfony AllMySms bridge reads (201 + `smsId`, else code and
description). Reports, replies, the account and campaign deletion: test_rest_reports.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from hirondelle.context import Context
from tests.api.rest_helpers import (
    assert_error,
    auth,
    balance,
    make_alice,
    message_rows,
    mobiles,
    post,
    snapshot,
)
from tests.helpers import Creds, make_account


@pytest.fixture
def alice(ctx: Context) -> Creds:
    return make_alice(ctx)


STOP = "Hello STOP au 36180"


# -- POST /sms/send/ ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/sms/send/", "/sms/send"])
def test_send_one_sms(client: TestClient, ctx: Context, alice: Creds, path: str) -> None:
    body = {"from": "ACME", "to": "+33611111111", "text": STOP, "cliMsgId": "mine-1"}
    response = post(client, path, alice, body)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer == {
        "code": 100,
        "description": "The message has been sent",
        "smsId": answer["smsId"],
        "campaignId": answer["campaignId"],
        "invalidNumbers": [],
        "nbContacts": 1,
        "nbSms": 1,
        "balance": 1000 - 15,
        "cost": 15,
    }
    [row] = message_rows(ctx, answer["campaignId"])
    assert (row["sms_id"], row["phone"], row["sender"]) == (answer["smsId"], "33611111111", "ACME")
    assert (row["text"], row["cli_msg_id"]) == (STOP, "mine-1")
    assert balance(ctx, "alice") == 985


@pytest.mark.parametrize("sender", [None, "", "  "])
def test_no_sender_means_the_default_sender(
    client: TestClient, ctx: Context, alice: Creds, sender: str | None
) -> None:
    body = {"from": sender, "to": "0611111111", "text": STOP}  # the bridge sends "from": null
    answer = post(client, "/sms/send/", alice, body).json()
    assert message_rows(ctx, answer["campaignId"])[0]["sender"] == "36180"


@pytest.mark.parametrize("sender", ["A!", "1ACME", "ab", "ABCDEFGHIJKL", "Ém"])
def test_an_invalid_sender_is_refused(
    client: TestClient, ctx: Context, alice: Creds, sender: str
) -> None:
    before = snapshot(ctx, "alice")
    body = {"from": sender, "to": "0611111111", "text": "Hello"}
    assert_error(post(client, "/sms/send/", alice, body), 400, 110, "Invalid sender")
    assert snapshot(ctx, "alice") == before


def test_a_scheduled_sms_answers_101(client: TestClient, ctx: Context, alice: Creds) -> None:
    body = {"to": "0611111111", "text": "Later", "date": "2099-01-02 03:04:05"}
    response = post(client, "/sms/send/", alice, body)
    assert response.status_code == 201
    answer = response.json()
    assert answer["code"] == 101
    assert answer["description"] == "The message was scheduled to be sent at 2099-01-02 03:04:05"
    assert message_rows(ctx, answer["campaignId"])[0]["state"] == "queued"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"to": "0611111111", "text": ""}, 400, 110),
        ({"to": "0611111111", "text": "   "}, 400, 110),
        ({"to": "0611111111", "text": "x" * (153 * 8 + 1)}, 400, 111),
        ({"to": "0142424242", "text": "Hello"}, 400, 114),
        ({"to": "not a number", "text": "Hello"}, 400, 114),
        ({"to": "0611111111", "text": "Hello", "date": "tomorrow"}, 400, 115),
        ({"to": "0611111111", "text": "Hello", "date": "2030-02-30 10:00:00"}, 400, 115),
    ],
)
def test_send_refusals_map_to_their_status(
    client: TestClient, ctx: Context, alice: Creds, body: dict[str, Any], status: int, code: int
) -> None:
    before = snapshot(ctx, "alice")
    assert_error(post(client, "/sms/send/", alice, body), status, code)
    assert snapshot(ctx, "alice") == before


def test_no_valid_number_lists_the_invalid_ones(client: TestClient, alice: Creds) -> None:
    response = post(client, "/sms/send/", alice, {"to": "0142424242", "text": "Hi"})
    assert assert_error(response, 400, 114)["invalidNumbers"] == ["0142424242"]


def test_insufficient_credits(client: TestClient, ctx: Context) -> None:
    poor = make_account(ctx, "poor", credits=10)
    response = post(client, "/sms/send/", poor, {"to": "0611111111", "text": "Hi"})
    answer = assert_error(response, 402, 104)
    assert answer["balance"] == 10
    assert "Use: 15 Credits, Available: 10 Credits" in answer["description"]
    assert balance(ctx, "poor") == 10


@pytest.mark.parametrize("flag", [True, 1])
def test_simulate_sends_and_charges_nothing(
    client: TestClient, ctx: Context, alice: Creds, flag: bool | int
) -> None:
    before = snapshot(ctx, "alice")
    body = {"to": "0611111111", "text": "Hi", "simulate": flag}
    response = post(client, "/sms/send/", alice, body)
    assert response.status_code == 201
    answer = response.json()
    assert (answer["code"], answer["smsId"], answer["campaignId"]) == (100, "", "")
    assert (answer["cost"], answer["balance"]) == (15, 1000)
    assert snapshot(ctx, "alice") == before


@pytest.mark.parametrize("how", ["uniqueIdentifier", "Idempotency-Key"])
def test_a_repeated_unique_identifier_sends_once(
    client: TestClient, ctx: Context, alice: Creds, how: str
) -> None:
    body: dict[str, Any] = {"to": "0611111111", "text": "Once"}
    headers = {}
    if how == "uniqueIdentifier":
        body["uniqueIdentifier"] = "order-42"
    else:
        headers["Idempotency-Key"] = "order-42"
    first = post(client, "/sms/send/", alice, body, headers=headers).json()
    again = post(client, "/sms/send/", alice, body, headers=headers).json()
    assert again == first
    assert balance(ctx, "alice") == 985


# -- the request itself: auth, JSON, method ----------------------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [None, ("alice", "wrong"), ("nobody", "key"), ("alice", ""), ("al\x00ice", "key")],
)
def test_missing_or_wrong_credentials(
    client: TestClient, alice: Creds, credentials: tuple[str, str] | None
) -> None:
    body = {"to": "0611111111", "text": "Hi"}
    response = client.post("/sms/send/", json=body, auth=credentials)
    assert_error(response, 401, 102)
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("header", ["Basic !!!notbase64", "Basic Zm9v", "Bearer abc"])
def test_malformed_authorization_headers(client: TestClient, header: str) -> None:
    response = client.get("/account", headers={"Authorization": header})
    assert_error(response, 401, 102)
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", 105),
        (b"{not json", 109),
        (b'"a string"', 109),
        (b"[]", 109),
        (b'{"to": 33611111111, "text": "Hi"}', 109),
        (b'{"text": "Hi"}', 109),
        (b'{"to": "0611111111", "text": "Hi", "simulate": "yes"}', 109),
        (b'{"to": "0611111111", "text": "Hi\\u0000"}', 109),
    ],
)
def test_bodies_that_are_not_the_expected_json(
    client: TestClient, ctx: Context, alice: Creds, content: bytes, code: int
) -> None:
    before = snapshot(ctx, "alice")
    headers = {"Content-Type": "application/json"}
    response = client.post("/sms/send/", content=content, headers=headers, auth=auth(alice))
    assert_error(response, 400, code)
    assert snapshot(ctx, "alice") == before


def test_a_json_body_without_content_type_is_read(client: TestClient, alice: Creds) -> None:
    body = b'{"to": "0611111111", "text": "Hi"}'
    response = client.post("/sms/send/", content=body, auth=auth(alice))
    assert response.status_code == 201, response.text


def test_a_form_body_is_refused(client: TestClient, alice: Creds) -> None:
    response = client.post("/sms/send/", data={"to": "0611111111"}, auth=auth(alice))
    assert_error(response, 400, 109)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_cap(client: TestClient, ctx: Context, alice: Creds, chunked: bool) -> None:
    parts = [b'{"to": "0611111111", "text": "', b"x" * ctx.settings.max_body_bytes, b'"}']
    content: Any = iter(parts) if chunked else b"".join(parts)
    response = client.post("/sms/send/", content=content, auth=auth(alice))
    assert_error(response, 413, 413, "The request body is too large")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/sms/send/"),
        ("PUT", "/sms/send/bulk"),
        ("POST", "/account"),
        ("GET", "/campaign/x"),
    ],
)
def test_wrong_method(client: TestClient, alice: Creds, method: str, path: str) -> None:
    response = client.request(method, path, auth=auth(alice))
    assert_error(response, 405, 405)
    assert response.headers["allow"]


def test_unknown_path(client: TestClient) -> None:
    assert_error(client.get("/sms/nothing"), 404, 404)


# -- POST /sms/send/bulk/ ------------------------------------------------------------------------


def test_bulk_send_to_numbers_and_contacts(client: TestClient, ctx: Context, alice: Creds) -> None:
    one, two, three = mobiles(3)
    body = {
        "from": "ACME",
        "text": "Hi #PARAM_1#, code #param_2#. STOP au 36180",
        "to": [
            one,
            {"mobilePhone": two, "PARAM_1": "Ann", "param_2": "X7", "cliMsgId": "c2"},
            "0142424242",
            {"mobilePhone": three, "PARAM_1": "Bob"},
        ],
        "campaignName": "spring",
    }
    response = post(client, "/sms/send/bulk/", alice, body)
    assert response.status_code == 201, response.text
    answer = response.json()
    rows = message_rows(ctx, answer["campaignId"])
    assert answer == {
        "code": 100,
        "description": "The message has been sent",
        "campaignId": answer["campaignId"],
        "cost": 45,
        "nbSms": 3,
        "nbContacts": 3,
        "balance": 955,
        "invalidNumbers": ["0142424242"],
        "smsIds": [{"smsId": r["sms_id"], "phoneNumber": r["phone"]} for r in rows],
        "simulate": False,
    }
    texts = [(r["phone"], r["text"], r["cli_msg_id"]) for r in rows]
    assert texts == [
        ("33612000000", "Hi , code . STOP au 36180", None),
        ("33612000001", "Hi Ann, code X7. STOP au 36180", "c2"),
        ("33612000002", "Hi Bob, code . STOP au 36180", None),
    ]


def test_bulk_simulation(client: TestClient, ctx: Context, alice: Creds) -> None:
    before = snapshot(ctx, "alice")
    body = {"text": "Hi", "to": mobiles(4), "simulate": True}
    answer = post(client, "/sms/send/bulk", alice, body).json()
    assert (answer["simulate"], answer["smsIds"], answer["cost"]) == (True, [], 60)
    assert snapshot(ctx, "alice") == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"text": "Hi", "to": []}, 114),
        ({"text": "Hi", "to": ["0142424242"]}, 114),
        ({"text": "Hi", "to": "0611111111"}, 109),
        ({"text": "Hi", "to": [{"PARAM_1": "no number"}]}, 109),
        ({"text": "Hi", "to": [{"mobilePhone": "0611111111", "PARAM_1": 7}]}, 109),
        ({"text": "Hi", "to": ["0611111111"], "from": "!!"}, 110),
    ],
)
def test_bulk_refusals(
    client: TestClient, ctx: Context, alice: Creds, body: dict[str, Any], code: int
) -> None:
    before = snapshot(ctx, "alice")
    assert_error(post(client, "/sms/send/bulk/", alice, body), 400, code)
    assert snapshot(ctx, "alice") == before


@pytest.mark.parametrize("key", ["PARAM_\u00b2", "PARAM_x", "param_", "PARAM_" + "1" * 5000])
def test_bulk_refuses_a_malformed_param_key(
    client: TestClient, ctx: Context, alice: Creds, key: str
) -> None:
    """`PARAM_²` passes str.isdigit() but is no number: a clear 400, not a server error."""
    before = snapshot(ctx, "alice")
    body = {"text": "Hi #param_1#", "to": [{"mobilePhone": mobiles(1)[0], key: "x"}]}
    answer = assert_error(post(client, "/sms/send/bulk/", alice, body), 400, 109)
    assert answer["description"].startswith(f"Invalid request: to.0.{key[:20]}")
    assert "PARAM_N" in answer["description"]
    assert snapshot(ctx, "alice") == before


# -- the OpenAPI document ------------------------------------------------------------------------


def test_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert sorted(document["paths"]) == [
        "/account",
        "/account/allowed-ips",
        "/campaign/{campaignId}",
        "/replies",
        "/report/campaign/{campaignId}",
        "/report/sms/{smsId}",
        "/sms/send/",
        "/sms/send/bulk/",
    ]
    assert document["components"]["securitySchemes"]["basicAuth"] == {
        "type": "http",
        "scheme": "basic",
        "description": "Your login as the user name and your API key as the password.",
    }
    for path in document["paths"].values():
        for operation in path.values():
            assert operation["security"] == [{"basicAuth": []}]
            assert {"400", "401", "403", "405", "429"} <= set(operation["responses"])
            assert "422" not in operation["responses"]
    send = document["paths"]["/sms/send/"]["post"]
    assert set(send["responses"]) == {"201", "400", "401", "402", "403", "405", "429"}
    body = document["components"]["schemas"]["SendRequest"]
    assert set(body["required"]) == {"to", "text"}
    assert "from" in body["properties"]
