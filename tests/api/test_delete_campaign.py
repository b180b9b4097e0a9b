"""deleteCampaign (manual §15): every status of annex 7, and the refund of a deleted campaign.

The time-dependent statuses are reached by moving the campaign's due time, or its messages'
states, directly in the store (see `services.campaigns.delete_campaign`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.store.schema import campaigns, messages
from tests.api.sending_helpers import (
    aware,
    balance,
    call,
    campaign_row,
    json_feed,
    ledger_rows_of,
    message_rows,
    mobiles,
    send_sms,
    snapshot,
    update_rows,
)
from tests.helpers import Creds, make_account, xml_answer

LATER = "2099-01-01 10:00:00"


def answer(status: str, text: str) -> dict[str, str]:
    return {"status": status, "statusText": text}


OK = answer("OK", "The campaign has been deleted")
BEING_SENT = answer("BCAMPAIGNSTATUS", "The status of the campaign is wrong")
ALREADY_SENT = answer("CAMPALREADYSENT", "The campaign has already been sent")


def scheduled(client: TestClient, ctx: Context, creds: Creds, count: int = 3) -> Any:
    """A campaign of `count` one-part messages, due in 2099."""
    sent = send_sms(client, creds, json_feed("Later", mobiles(count), DATE=LATER))
    assert sent["status"] == 101
    return sent


def delete(client: TestClient, creds: Creds, campaign_id: str) -> Any:
    return call(client, "deleteCampaign", creds, campId=campaign_id)


def move_due_at(ctx: Context, campaign_id: str, due_at: datetime) -> None:
    update_rows(ctx, campaigns, campaigns.c.public_id == campaign_id, due_at=due_at)
    db_id = campaign_row(ctx, campaign_id)["id"]
    update_rows(ctx, messages, messages.c.campaign_id == db_id, due_at=due_at)


def test_ok_refunds_the_campaign_and_cancels_its_messages(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=1000)
    kept = scheduled(client, ctx, creds, count=1)
    sent = send_sms(client, creds, json_feed("a" * 200, mobiles(3), DATE=LATER))
    assert (sent["creditsUsed"], balance(ctx, creds.login)) == (90, 895)
    before = snapshot(ctx, creds.login)

    assert delete(client, creds, sent["campaignId"]) == OK

    assert balance(ctx, creds.login) == 985
    assert ledger_rows_of(ctx, creds.login)[-1] == ("cancel", 90, sent["campaignId"])
    campaign = campaign_row(ctx, sent["campaignId"])
    assert campaign["state"] == "deleted"
    assert campaign["deleted_at"] is not None
    assert [r["state"] for r in message_rows(ctx, sent["campaignId"])] == ["cancelled"] * 3
    # One ledger row more, no row less, and the other campaign untouched.
    assert snapshot(ctx, creds.login)[:4] == (before[0], before[1], before[2] + 1, before[3])
    assert [r["state"] for r in message_rows(ctx, kept["campaignId"])] == ["queued"]
    assert campaign_row(ctx, kept["campaignId"])["state"] == "scheduled"


def test_already_deleted(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    sent = scheduled(client, ctx, creds)
    assert delete(client, creds, sent["campaignId"]) == OK
    after = snapshot(ctx, creds.login)
    assert delete(client, creds, sent["campaignId"]) == answer(
        "CAMPAIGNALREADYDELETED", "Campaign already deleted"
    )
    assert snapshot(ctx, creds.login) == after  # no second refund


@pytest.mark.parametrize("params", [{"login": "alice", "apiKey": "wrong"}, {}, {"login": "alice"}])
def test_identification_problem(client: TestClient, ctx: Context, params: dict[str, str]) -> None:
    creds = make_account(ctx)
    sent = scheduled(client, ctx, creds)
    before = snapshot(ctx, creds.login)
    got = call(client, "deleteCampaign", Creds("", ""), campId=sent["campaignId"], **params)
    assert got == answer("CAMPIDNOTFOUND", "Identification Problem")
    assert snapshot(ctx, creds.login) == before


@pytest.mark.parametrize("campid", [None, "", "   "])
def test_campid_missing(client: TestClient, ctx: Context, campid: str | None) -> None:
    creds = make_account(ctx)
    params = {} if campid is None else {"campId": campid}
    got = call(client, "deleteCampaign", creds, **params)
    assert got == answer("CAMPIDNOTFOUND", "Campid parameter missing")


def test_campaign_not_found(client: TestClient, ctx: Context) -> None:
    alice = make_account(ctx, "alice")
    bob = make_account(ctx, "bob")
    sent = scheduled(client, ctx, alice)
    before = snapshot(ctx, alice.login)
    not_found = answer("CAMPNOTFOUND", "The campaign was not found")
    assert delete(client, bob, sent["campaignId"]) == not_found  # someone else's campaign
    assert delete(client, alice, "00000000-0000-0000-0000-000000000000") == not_found
    assert delete(client, alice, "not-an-id") == not_found
    assert snapshot(ctx, alice.login) == before
    assert campaign_row(ctx, sent["campaignId"])["state"] == "scheduled"


def test_an_immediate_campaign_is_not_scheduled(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    sent = send_sms(client, creds, json_feed("Now", mobiles(2)))
    assert sent["status"] == 100
    before = snapshot(ctx, creds.login)
    assert delete(client, creds, sent["campaignId"]) == answer(
        "BADCAMPAIGSENDINGTYPE", "The campaign is not scheduled"
    )
    assert snapshot(ctx, creds.login) == before
    # A date in the past means now: not a scheduled campaign either.
    past = send_sms(client, creds, json_feed("Now", mobiles(1), DATE="2001-01-01 00:00:00"))
    assert past["status"] == 100
    assert delete(client, creds, past["campaignId"])["status"] == "BADCAMPAIGSENDINGTYPE"


@pytest.mark.parametrize("seconds", [1, 29])
def test_too_close_to_its_date(client: TestClient, ctx: Context, seconds: int) -> None:
    creds = make_account(ctx)
    sent = scheduled(client, ctx, creds)
    move_due_at(ctx, sent["campaignId"], datetime.now(UTC) + timedelta(seconds=seconds))
    before = snapshot(ctx, creds.login)
    assert delete(client, creds, sent["campaignId"]) == answer(
        "BADDATETOSEND", "The mailing date is corrupted"
    )
    assert snapshot(ctx, creds.login) == before


def test_deletable_just_outside_the_guard(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=1000)
    sent = scheduled(client, ctx, creds)
    move_due_at(ctx, sent["campaignId"], datetime.now(UTC) + timedelta(seconds=45))
    assert delete(client, creds, sent["campaignId"]) == OK
    assert balance(ctx, creds.login) == 1000


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["queued", "queued", "queued"], BEING_SENT),
        (["submitted", "claimed", "final"], BEING_SENT),
        (["submitted", "final", "final"], ALREADY_SENT),
        (["final", "final", "final"], ALREADY_SENT),
        (["cancelled", "final", "final"], ALREADY_SENT),
    ],
)
def test_a_due_campaign(
    client: TestClient, ctx: Context, states: list[str], expected: dict[str, str]
) -> None:
    creds = make_account(ctx)
    sent = scheduled(client, ctx, creds)
    move_due_at(ctx, sent["campaignId"], datetime.now(UTC) - timedelta(minutes=1))
    for row, state in zip(message_rows(ctx, sent["campaignId"]), states, strict=True):
        update_rows(ctx, messages, messages.c.id == row["id"], state=state)
    before = snapshot(ctx, creds.login)
    assert delete(client, creds, sent["campaignId"]) == expected
    assert snapshot(ctx, creds.login) == before
    assert [r["state"] for r in message_rows(ctx, sent["campaignId"])] == states


@pytest.mark.parametrize("name", ["campId", "Campid", "campid", "CAMPID"])
def test_campid_aliases(client: TestClient, ctx: Context, name: str) -> None:
    creds = make_account(ctx)
    sent = scheduled(client, ctx, creds)
    assert call(client, "deleteCampaign", creds, **{name: sent["campaignId"]}) == OK


@pytest.mark.parametrize("path", ["/http/9.0/deleteCampaign/", "/http/9.0/DELETECAMPAIGN"])
def test_xml_answer_and_get(client: TestClient, ctx: Context, path: str) -> None:
    creds = make_account(ctx)
    sent = scheduled(client, ctx, creds)
    params = creds.params(Campid=sent["campaignId"], returnformat="xml")
    response = client.get(path, params=params)
    assert response.text == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<deleteCampaign><status>OK</status>'
        "<statusText>The campaign has been deleted</statusText></deleteCampaign>\n"
    )
    root = xml_answer(client.get(path, params=params))
    assert (root.tag, root.findtext("status")) == ("deleteCampaign", "CAMPAIGNALREADYDELETED")


def test_the_due_time_is_kept_until_deleted(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx)
    sent = scheduled(client, ctx, creds, count=1)
    due = datetime(2099, 1, 1, 9, 0, tzinfo=UTC)
    assert aware(campaign_row(ctx, sent["campaignId"])["due_at"]) == due
    assert delete(client, creds, sent["campaignId"]) == OK
    assert aware(campaign_row(ctx, sent["campaignId"])["due_at"]) == due
