"""French sending hours: commercial messages to French numbers wait for the account's window.

The clock is fixed through `Context.clock`: the send reads "now" from it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.services import accounts
from tests.api.rest_helpers import post
from tests.api.sending_helpers import (
    aware,
    call,
    campaign_row,
    json_feed,
    message_rows,
    send_sms,
    xml_feed,
)
from tests.helpers import make_account, xml_answer

PARIS = ZoneInfo("Europe/Paris")
#: Saturday 23 May 2026, 21:30 in Paris: Sunday and Whit Monday (25 May) follow.
SATURDAY_NIGHT = datetime(2026, 5, 23, 21, 30, tzinfo=PARIS).astimezone(UTC)
TUESDAY_8AM = datetime(2026, 5, 26, 8, 0, tzinfo=PARIS).astimezone(UTC)
#: Wednesday 20 May 2026, 10:00 in Paris.
WEDNESDAY_10AM = datetime(2026, 5, 20, 10, 0, tzinfo=PARIS).astimezone(UTC)
FRENCH = "0612000001"
BELGIAN = "+32470123456"


def at(ctx: Context, moment: datetime) -> None:
    ctx.clock = lambda: moment


def test_commercial_saturday_night_before_whit_monday_waits_for_tuesday(
    ctx: Context, client: TestClient
) -> None:
    creds = make_account(ctx)
    at(ctx, SATURDAY_NIGHT)
    answer = send_sms(client, creds, json_feed("Promo! STOP au 36180", [FRENCH], COMMERCIAL="1"))
    assert answer["status"] == 101
    assert answer["statusText"] == "The message was scheduled to be sent at 2026-05-26 08:00:00"
    assert answer["scheduledDate"] == "2026-05-26 08:00:00"
    [message] = message_rows(ctx, answer["campaignId"])
    assert aware(message["due_at"]) == TUESDAY_8AM
    campaign = campaign_row(ctx, answer["campaignId"])
    assert (campaign["state"], aware(campaign["due_at"])) == ("scheduled", TUESDAY_8AM)


def test_commercial_wednesday_morning_leaves_at_once(ctx: Context, client: TestClient) -> None:
    creds = make_account(ctx)
    at(ctx, WEDNESDAY_10AM)
    answer = send_sms(client, creds, json_feed("Promo! STOP au 36180", [FRENCH], COMMERCIAL="1"))
    assert answer["status"] == 100
    assert "scheduledDate" not in answer
    [message] = message_rows(ctx, answer["campaignId"])
    assert aware(message["due_at"]) == WEDNESDAY_10AM


def test_not_commercial_leaves_at_once(ctx: Context, client: TestClient) -> None:
    creds = make_account(ctx)
    at(ctx, SATURDAY_NIGHT)
    answer = send_sms(client, creds, json_feed("Your code: 1234", [FRENCH]))
    assert answer["status"] == 100
    assert "scheduledDate" not in answer
    [message] = message_rows(ctx, answer["campaignId"])
    assert aware(message["due_at"]) == SATURDAY_NIGHT


def test_mixed_campaign_defers_only_the_french_numbers(ctx: Context, client: TestClient) -> None:
    creds = make_account(ctx)
    at(ctx, SATURDAY_NIGHT)
    feed = xml_feed("Promo! STOP au 36180", [FRENCH, BELGIAN], COMMERCIAL="1")
    answer = send_sms(client, creds, feed, returnformat="json")
    assert answer["status"] == 100  # the Belgian message leaves now
    assert answer["scheduledDate"] == "2026-05-26 08:00:00"
    dues = {m["phone"]: aware(m["due_at"]) for m in message_rows(ctx, answer["campaignId"])}
    assert dues == {"33612000001": TUESDAY_8AM, "32470123456": SATURDAY_NIGHT}
    assert campaign_row(ctx, answer["campaignId"])["state"] == "queued"


def test_a_date_inside_the_window_stays_one_outside_moves(ctx: Context, client: TestClient) -> None:
    creds = make_account(ctx)
    at(ctx, WEDNESDAY_10AM)
    inside = send_sms(
        client, creds, json_feed("Promo", [FRENCH], COMMERCIAL="1", DATE="2026-05-22 19:59:00")
    )
    assert inside["status"] == 101
    assert "scheduledDate" not in inside
    assert inside["statusText"].endswith("2026-05-22 19:59:00")
    outside = send_sms(
        client, creds, json_feed("Promo", [FRENCH], COMMERCIAL="1", DATE="2026-05-24 09:00:00")
    )
    assert outside["statusText"].endswith("2026-05-26 08:00:00")  # Sunday, then Whit Monday
    assert outside["scheduledDate"] == "2026-05-26 08:00:00"


def test_the_account_setting_makes_every_campaign_commercial(
    ctx: Context, client: TestClient
) -> None:
    creds = make_account(ctx, commercial_hours=True, sending_window="Mon-Fri 09:00-18:00")
    at(ctx, datetime(2026, 5, 22, 18, 30, tzinfo=PARIS).astimezone(UTC))  # a Friday evening
    answer = send_sms(client, creds, json_feed("Promo", [FRENCH]))
    assert answer["scheduledDate"] == "2026-05-26 09:00:00"  # Monday is Whit Monday
    simulated = call(client, "simulateCampaign", creds, smsData=json_feed("Promo", [FRENCH]))
    assert (simulated["status"], simulated["scheduledDate"]) == (101, "2026-05-26 09:00:00")


def test_xml_answer_carries_the_date(ctx: Context, client: TestClient) -> None:
    creds = make_account(ctx)
    at(ctx, SATURDAY_NIGHT)
    feed = xml_feed("Promo", [FRENCH], COMMERCIAL="1")
    root = xml_answer(client.post("/http/9.0/sendSms", data=creds.params(smsData=feed)))
    assert root.findtext("scheduledDate") == "2026-05-26 08:00:00"


def test_rest_commercial(ctx: Context, client: TestClient) -> None:
    creds = make_account(ctx)
    at(ctx, SATURDAY_NIGHT)
    body = {"to": FRENCH, "text": "Promo", "commercial": True}
    answer = post(client, "/sms/send/", creds, body).json()
    assert (answer["code"], answer["scheduledDate"]) == (101, "2026-05-26 08:00:00")
    bulk = post(client, "/sms/send/bulk/", creds, {**body, "to": [FRENCH, BELGIAN]}).json()
    assert (bulk["code"], bulk["scheduledDate"]) == (100, "2026-05-26 08:00:00")
    plain = post(client, "/sms/send/", creds, {"to": FRENCH, "text": "Code 1234"}).json()
    assert plain["code"] == 100
    assert "scheduledDate" not in plain


@pytest.mark.anyio
async def test_configure_sets_the_window(ctx: Context) -> None:
    make_account(ctx, "bob")
    account = await accounts.configure(
        ctx, "bob", commercial_hours=True, sending_window="mon-fri 9:00-18:00"
    )
    assert (account.commercial_hours, account.sending_window) == (True, "Mon-Fri 09:00-18:00")
    with pytest.raises(accounts.AccountError, match="window"):
        await accounts.configure(ctx, "bob", sending_window="Someday 08:00-20:00")


def test_no_opening_left_in_the_calendar_is_a_bad_date(ctx: Context, client: TestClient) -> None:
    creds = make_account(ctx)
    at(ctx, WEDNESDAY_10AM)
    feed = json_feed("Promo", [FRENCH], COMMERCIAL="1", DATE="9999-12-31 23:00:00")
    assert send_sms(client, creds, feed)["status"] == 115
    inside = json_feed("Promo", [FRENCH], COMMERCIAL="1", DATE="9999-12-31 10:00:00")
    assert send_sms(client, creds, inside)["status"] == 101


def test_simplified_send_commercial(ctx: Context, client: TestClient) -> None:
    creds = make_account(ctx)
    at(ctx, SATURDAY_NIGHT)
    params = creds.params(message="Promo", mobile=FRENCH, commercial="1")
    answer = client.post("/http/9.0/", data=params).json()
    assert (answer["status"], answer["scheduledDate"]) == (101, "2026-05-26 08:00:00")


def test_a_deferred_campaign_can_be_deleted_until_it_leaves(
    ctx: Context, client: TestClient
) -> None:
    creds = make_account(ctx, credits=100)
    at(ctx, SATURDAY_NIGHT)
    answer = send_sms(client, creds, json_feed("Promo", [FRENCH], COMMERCIAL="1"))
    assert answer["credits"] == 85
    deleted = call(client, "deleteCampaign", creds, campId=answer["campaignId"])
    assert deleted["status"] == "OK"
    assert call(client, "getInfo", creds)["credits"] == 100
    at(ctx, TUESDAY_8AM)
    again = send_sms(client, creds, json_feed("Promo", [FRENCH], COMMERCIAL="1"))
    assert again["status"] == 100  # inside the window: an immediate campaign
    late = call(client, "deleteCampaign", creds, campId=again["campaignId"])
    assert late["status"] == "BADCAMPAIGSENDINGTYPE"
