"""The REST API on both engines: reports, replies (handed out once), account, campaign deletion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.services import replies
from tests.api.rest_helpers import (
    assert_error,
    auth,
    balance,
    make_alice,
    mobiles,
    post,
    submit_and_deliver,
)
from tests.helpers import Creds, make_account


@pytest.fixture
def alice(ctx: Context) -> Creds:
    return make_alice(ctx)


# -- reports and replies -------------------------------------------------------------------------


def test_reports_of_a_campaign_and_of_messages(
    client: TestClient, ctx: Context, alice: Creds
) -> None:
    sent = post(client, "/sms/send/bulk/", alice, {"text": "Hi", "to": mobiles(2)}).json()
    first, second = (item["smsId"] for item in sent["smsIds"])
    pending = client.get(f"/report/campaign/{sent['campaignId']}", auth=auth(alice)).json()
    assert [(r["smsId"], r["code"], r["description"]) for r in pending["reports"]] == [
        (first, 3, "Pending"),
        (second, 3, "Pending"),
    ]

    submit_and_deliver(ctx, 1, datetime(2024, 7, 1, 10, 0, tzinfo=UTC))
    answer = client.get(f"/report/campaign/{sent['campaignId']}/", auth=auth(alice)).json()
    assert answer["code"] == 200
    assert answer["reports"][0] == {
        "phoneNumber": "33612000000",
        "smsId": first,
        "cliMsgId": None,
        "code": 1,
        "description": "Delivered",
        "receptionDate": "2024-07-01 12:00:00",
    }
    one = client.get(f"/report/sms/{second}", auth=auth(alice)).json()
    assert [(r["smsId"], r["code"]) for r in one["reports"]] == [(second, 1)]
    both = client.get(f"/report/sms/{second},{first}", auth=auth(alice)).json()
    assert [r["smsId"] for r in both["reports"]] == [second, first]


def test_reports_are_the_callers_only(client: TestClient, ctx: Context, alice: Creds) -> None:
    bob = make_account(ctx, "bob")
    sent = post(client, "/sms/send/", alice, {"text": "Hi", "to": "0611111111"}).json()
    campaign, sms = sent["campaignId"], sent["smsId"]
    assert_error(client.get(f"/report/campaign/{campaign}", auth=auth(bob)), 404, 404)
    assert_error(client.get(f"/report/sms/{sms}", auth=auth(bob)), 404, 404)
    assert_error(client.get("/report/campaign/unknown", auth=auth(alice)), 404, 404)
    assert_error(client.get(f"/report/sms/{sms}"), 401, 102)


def test_replies_are_handed_out_once(client: TestClient, ctx: Context, alice: Creds) -> None:
    sent = post(client, "/sms/send/", alice, {"text": "Hi", "to": "0611111111"}).json()
    at = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    submit_and_deliver(ctx, 1, at)  # replies match messages handed to an SMSC
    window = timedelta(hours=ctx.settings.reply_window_hours)
    for text, minute in (("Yes", 1), ("Thanks", 2)):
        ctx.store.write_sync(
            lambda conn, t=text, m=minute: replies.apply_reply(
                conn, "33611111111", "36180", t, at + timedelta(minutes=m), window
            )
        )
    answer = client.get("/replies", params={"limit": 1}, auth=auth(alice)).json()
    assert answer["code"] == 200
    [newest] = answer["replies"]
    assert newest == {
        "id": newest["id"],
        "phoneNumber": "33611111111",
        "smsId": sent["smsId"],
        "campaignId": sent["campaignId"],
        "message": "Thanks",
        "receptionDate": "2024-07-01 12:02:00",
    }
    rest = client.get("/replies/", auth=auth(alice)).json()["replies"]
    assert [r["message"] for r in rest] == ["Yes"]
    assert client.get("/replies", auth=auth(alice)).json()["replies"] == []


@pytest.mark.parametrize("limit", ["0", "10001", "ten"])
def test_a_bad_replies_limit(client: TestClient, alice: Creds, limit: str) -> None:
    assert_error(client.get("/replies", params={"limit": limit}, auth=auth(alice)), 400, 109)


# -- account and campaigns -----------------------------------------------------------------------


def test_account(client: TestClient, alice: Creds) -> None:
    response = client.get("/account", auth=auth(alice))
    assert response.status_code == 200
    assert response.json() == {
        "code": 200,
        "description": "Active account",
        "balance": 1000,
        "nbSms": 66,
        "email": "a@example.com",
        "company": "ACME",
    }


def test_delete_a_scheduled_campaign(client: TestClient, ctx: Context, alice: Creds) -> None:
    body = {"to": "0611111111", "text": "Later", "date": "2099-01-01 10:00:00"}
    campaign = post(client, "/sms/send/", alice, body).json()["campaignId"]
    assert balance(ctx, "alice") == 985
    response = client.delete(f"/campaign/{campaign}", auth=auth(alice))
    assert response.status_code == 200
    assert response.json() == {
        "code": 200,
        "description": "The campaign has been deleted",
        "status": "OK",
    }
    assert balance(ctx, "alice") == 1000
    again = assert_error(client.delete(f"/campaign/{campaign}/", auth=auth(alice)), 409, 409)
    assert again["status"] == "CAMPAIGNALREADYDELETED"


def test_campaigns_that_cannot_be_deleted(client: TestClient, ctx: Context, alice: Creds) -> None:
    now = post(client, "/sms/send/", alice, {"to": "0611111111", "text": "Now"}).json()
    answer = assert_error(
        client.delete(f"/campaign/{now['campaignId']}", auth=auth(alice)), 409, 409
    )
    assert answer["status"] == "BADCAMPAIGSENDINGTYPE"
    missing = assert_error(client.delete("/campaign/nope", auth=auth(alice)), 404, 404)
    assert missing["status"] == "CAMPNOTFOUND"
    bob = make_account(ctx, "bob")
    assert_error(client.delete(f"/campaign/{now['campaignId']}", auth=auth(bob)), 404, 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/report/campaign/%00"),
        ("GET", "/report/sms/%00"),
        ("DELETE", "/campaign/a%00b"),
        ("GET", "/report/campaign/%0A"),
        ("DELETE", "/campaign/%0Ax"),
    ],
)
def test_ids_no_store_holds_are_not_found(
    client: TestClient, alice: Creds, method: str, path: str
) -> None:
    """PostgreSQL refuses NUL in text (a 500 without the guard); a newline is an ordinary id."""
    response = client.request(method, path, auth=auth(alice))
    assert_error(response, 404, 404)
