"""sendSms, simulateCampaign and the simplified send end to end (manual §5–§7, annex 5).

Every annex 5 status is produced through the HTTP API, with its exact answer, and every refusal
is checked to change nothing in the store.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.context import Context
from hirondelle.services import accounts, sending
from hirondelle.services.sending import Recipient, SendRefused, SmsOrder
from hirondelle.store.schema import campaigns, idempotency_keys, messages
from tests.api.sending_helpers import (
    TEXTS,
    add_to_blacklist,
    aware,
    balance,
    call,
    campaign_row,
    international,
    json_feed,
    keyed_send,
    ledger_rows_of,
    message_rows,
    mobiles,
    send_sms,
    snapshot,
    update_rows,
    xml_feed,
)
from tests.conftest import count_rows
from tests.helpers import Creds, json_answer, make_account

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

SEND_METHODS = ["sendSms", "simulateCampaign", "directSend"]
ONE = mobiles(1)
FEED = json_feed("Hello", ONE)


@dataclass(frozen=True)
class Order:
    message: str | None
    numbers: tuple[str, ...] = tuple(ONE)
    date: str | None = None


def post(client: TestClient, method: str, creds: Creds, order: Order) -> Any:
    """Send `order` through `method`: a JSON feed, or the simplified send's plain parameters."""
    if method == "directSend":
        params = {"message": order.message, "mobile": ";".join(order.numbers), "date": order.date}
        plain = {k: v for k, v in params.items() if v is not None}
        return json_answer(client.post("/http/9.0/", data=creds.params(**plain)))
    tags = {"DATE": order.date} if order.date else {}
    return call(client, method, creds, smsData=json_feed(order.message, order.numbers, **tags))


def refusal(method: str, status: int, invalid: str = "") -> dict[str, Any]:
    fields: dict[str, Any] = {
        "status": status,
        "statusText": TEXTS[status],
        "invalidNumbers": invalid,
    }
    if method == "simulateCampaign":
        fields.update(nbCredits=0, nbContacts=0, nbSms=0)
    return fields


# -- annex 5, status by status ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["sendSms", "directSend"])
def test_100_sent(client: TestClient, ctx: Context, method: str) -> None:
    creds = make_account(ctx, credits=1000)
    answer = post(client, method, creds, Order("Hello"))
    campaign_id, sms_id = answer["campaignId"], answer["smsIds"][0]["smsId"]
    assert UUID.fullmatch(campaign_id) and UUID.fullmatch(sms_id)
    assert answer == {
        "status": 100,
        "statusText": "The message has been sent",
        "invalidNumbers": "",
        "campaignId": campaign_id,
        "credits": 985,
        "creditsUsed": 15,
        "nbContacts": 1,
        "nbSms": 1,
        "smsIds": [{"phoneNumber": "33612000000", "smsId": sms_id}],
    }
    campaign = campaign_row(ctx, campaign_id)
    assert (campaign["state"], campaign["credits"], campaign["nb_sms"]) == ("queued", 15, 1)
    [row] = message_rows(ctx, campaign_id)
    assert (row["sms_id"], row["phone"], row["text"], row["state"]) == (
        sms_id,
        "33612000000",
        "Hello",
        "queued",
    )
    assert (row["sender"], row["parts"], row["credits"], row["status"]) == ("36180", 1, 15, 0)
    assert ledger_rows_of(ctx, creds.login)[-1] == ("debit", -15, campaign_id)
    assert balance(ctx, creds.login) == 985


def test_100_simulated(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=1000)
    answer = post(client, "simulateCampaign", creds, Order("Hello", tuple(mobiles(3))))
    assert answer == {
        "status": 100,
        "statusText": "The message has been sent",
        "invalidNumbers": "",
        "nbCredits": 45,
        "nbContacts": 3,
        "nbSms": 3,
    }


@pytest.mark.parametrize("method", SEND_METHODS)
def test_101_scheduled(client: TestClient, ctx: Context, method: str) -> None:
    creds = make_account(ctx, credits=1000)
    answer = post(client, method, creds, Order("Later", date="2099-01-01 10:00:00"))
    assert answer["status"] == 101
    assert answer["statusText"] == "The message was scheduled to be sent at 2099-01-01 10:00:00"
    if method == "simulateCampaign":
        assert count_rows(ctx, campaigns) == 0
        return
    campaign = campaign_row(ctx, answer["campaignId"])
    due = datetime(2099, 1, 1, 9, 0, tzinfo=UTC)  # 10:00 in Paris, winter time
    assert (campaign["state"], aware(campaign["due_at"])) == ("scheduled", due)
    [row] = message_rows(ctx, answer["campaignId"])
    assert (row["state"], aware(row["due_at"])) == ("queued", due)
    assert answer["credits"] == 985


@pytest.mark.parametrize("method", SEND_METHODS)
def test_102_bad_credentials(client: TestClient, ctx: Context, method: str) -> None:
    creds = make_account(ctx, credits=1000)
    before = snapshot(ctx, creds.login)
    wrong = Creds(creds.login, "0" * 32)
    answer = post(client, method, wrong, Order("Hello"))
    assert answer == {"status": 102, "statusText": TEXTS[102]}
    assert post(client, method, Creds("nobody", creds.api_key), Order("Hello")) == answer
    assert snapshot(ctx, creds.login) == before


@pytest.mark.parametrize("method", ["sendSms", "directSend"])
def test_104_insufficient_credits(client: TestClient, ctx: Context, method: str) -> None:
    creds = make_account(ctx, credits=29)
    before = snapshot(ctx, creds.login)
    answer = post(client, method, creds, Order("Hello", tuple(mobiles(2))))
    assert answer == {
        "status": 104,
        "statusText": (
            "Insufficient credit to handle the shipment. Use: 30 Credits, "
            "Available: 29 Credits. Please re-credit your account"
        ),
        "invalidNumbers": "",
        "credits": 29,
    }
    assert snapshot(ctx, creds.login) == before


EMPTY_FEEDS = [None, "   ", "{}", '{"DATA": {}}', '{"DATA": null}', "<DATA></DATA>", "<DATA/>"]
INVALID_FEEDS = [
    '{"DATA": {"MESSAGE": "Hi", "SMS": [',
    "<DATA><MESSAGE>Hi</DATA>",
    '{"DATA": "Hi"}',
    '["DATA"]',
    json_feed("Hi", ONE, DYNAMIC="two"),
    "DATA=Hi",
]


@pytest.mark.parametrize("method", ["sendSms", "simulateCampaign"])
def test_105_and_109_bad_feeds(
    client: TestClient, ctx: Context, method: str, subtests: pytest.Subtests
) -> None:
    creds = make_account(ctx)
    cases = [(105, feed) for feed in EMPTY_FEEDS] + [(109, feed) for feed in INVALID_FEEDS]
    for status, feed in cases:
        with subtests.test(status=status, feed=feed):
            before = snapshot(ctx, creds.login)
            params = {} if feed is None else {"smsData": feed}
            answer = call(client, method, creds, returnformat="json", **params)
            assert answer == {"status": status, "statusText": TEXTS[status]}
            assert snapshot(ctx, creds.login) == before


REFUSED = [
    (110, Order(""), ""),
    (110, Order("   "), ""),
    (110, Order(None), ""),
    (111, Order("a" * 1225), ""),
    (111, Order("ê" * 537), ""),
    (114, Order("Hello", ("0140000000", "not a number")), "0140000000|not a number"),
    (114, Order("Hello", ()), ""),
    (115, Order("Hello", date="2030-02-30 10:00:00"), ""),
    (115, Order("Hello", date="tomorrow"), ""),
    (115, Order("Hello", date="01/02/2030 10:00"), ""),
    (115, Order("Hello", date="0001-01-01 00:00:00"), ""),  # before year 1 in UTC
]


@pytest.mark.parametrize("method", SEND_METHODS)
def test_refusals(client: TestClient, ctx: Context, method: str, subtests: pytest.Subtests) -> None:
    creds = make_account(ctx)
    for status, order, invalid in REFUSED:
        with subtests.test(status=status, order=order):
            before = snapshot(ctx, creds.login)
            assert post(client, method, creds, order) == refusal(method, status, invalid)
            assert snapshot(ctx, creds.login) == before


# -- text and parts --------------------------------------------------------------------------


PARTS = [
    ("a" * 160, 1),
    ("a" * 161, 2),
    ("€" * 80, 1),  # an extension character counts 2 septets
    ("€" * 81, 2),
    ("é" * 160, 1),  # é is in the GSM basic table
    ("ê" * 70, 1),  # ê is not: UCS-2
    ("ê" * 71, 2),
    ("ç" + "a" * 69, 1),
    ("ç" + "a" * 70, 2),
    ("a" * 1224, 8),
    ("ê" * 536, 8),
    ("a" * 159 + "\\n", 1),  # the feed's `\n` is one septet once decoded
]


def test_parts_and_credits(client: TestClient, ctx: Context, subtests: pytest.Subtests) -> None:
    creds = make_account(ctx, credits=100_000)
    for message, parts in PARTS:
        with subtests.test(message=message, parts=parts):
            before = balance(ctx, creds.login)
            answer = send_sms(client, creds, json_feed(message, ONE))
            assert (answer["status"], answer["nbSms"]) == (100, parts)
            assert answer["creditsUsed"] == 15 * parts
            [row] = message_rows(ctx, answer["campaignId"])
            assert (row["parts"], row["credits"]) == (parts, 15 * parts)
            assert balance(ctx, creds.login) == before - 15 * parts


@pytest.mark.parametrize("feed", [json_feed, xml_feed])
def test_backslash_n_is_a_line_break(client: TestClient, ctx: Context, feed: Any) -> None:
    creds = make_account(ctx)
    answer = send_sms(client, creds, feed("Line 1\\nLine 2", ONE), returnformat="json")
    assert message_rows(ctx, answer["campaignId"])[0]["text"] == "Line 1\nLine 2"


def test_dynamic_parameters_are_merged_and_priced_per_recipient(
    client: TestClient, ctx: Context
) -> None:
    creds = make_account(ctx, credits=1000)
    numbers = mobiles(3)
    recipients = [
        {"MOBILEPHONE": numbers[0], "PARAM_1": "Dupont", "PARAM_2": "Francis", "CLIMSGID": "c-1"},
        {"MOBILEPHONE": numbers[1], "PARAM_1": "x" * 150, "PARAM_2": "Long"},
        {"MOBILEPHONE": numbers[2], "PARAM_2": "Nobody", "CLIMSGID": "c-3"},
    ]
    tags = {"DYNAMIC": 2, "CAMPAIGN_NAME": "Spring", "MAIL_NOTIF": "1"}
    answer = send_sms(client, creds, json_feed("Hello #param_1# #PARAM_2#", recipients, **tags))
    assert (answer["nbContacts"], answer["nbSms"], answer["creditsUsed"]) == (3, 4, 60)
    rows = message_rows(ctx, answer["campaignId"])
    assert [(r["text"], r["parts"], r["credits"], r["cli_msg_id"]) for r in rows] == [
        ("Hello Dupont Francis", 1, 15, "c-1"),
        ("Hello " + "x" * 150 + " Long", 2, 30, None),
        ("Hello  Nobody", 1, 15, "c-3"),
    ]
    campaign = campaign_row(ctx, answer["campaignId"])
    assert (campaign["name"], campaign["mail_notif"], campaign["nb_sms"]) == ("Spring", True, 4)
    assert balance(ctx, creds.login) == 940


SENDERS = [
    ("Promo -20%", "0612000000", "36180"),
    ("Promo -20% STOP au 36180", "0612000000", "Society"),
    ("Promo -20%\nSTOP au 36180", "0612000000", "Society"),
    ("Promo -20% STOP au 36180 today", "0612000000", "36180"),
    ("Promo -20%STOP au 36180", "0612000000", "36180"),
    ("Promo -20% STOP au 12345", "0612000000", "36180"),  # not the opt-out short code
    ("Promo -20%", "+32470123456", "Society"),  # the French rule is for France only
]


def test_sender_and_the_french_stop_rule(
    client: TestClient, ctx: Context, subtests: pytest.Subtests
) -> None:
    creds = make_account(ctx, credits=10_000)
    for message, number, sender in SENDERS:
        with subtests.test(message=message, number=number):
            answer = send_sms(client, creds, json_feed(message, [number], TPOA="Society"))
            assert [row["sender"] for row in message_rows(ctx, answer["campaignId"])] == [sender]


def test_invalid_or_empty_tpoa_gives_the_default_sender(
    client: TestClient, ctx: Context, subtests: pytest.Subtests
) -> None:
    creds = make_account(ctx, credits=10_000)
    for tpoa in ["", "ab", "1Society", "Société", "Twelve chars", "A-B"]:
        with subtests.test(tpoa=tpoa):
            answer = send_sms(client, creds, json_feed("Hi STOP au 36180", ONE, TPOA=tpoa))
            assert message_rows(ctx, answer["campaignId"])[0]["sender"] == "36180"


# -- numbers ---------------------------------------------------------------------------------


def test_numbers_are_normalised_deduplicated_and_kept_in_order(
    client: TestClient, ctx: Context
) -> None:
    creds = make_account(ctx, credits=1000)
    numbers = [
        "+44 7700 900123",
        "06.12.00.00.02",
        "0140000000",  # a Paris landline
        "+33 6 12 00 00 01",
        "0033612000002",  # 06 12 00 00 02 again
        "33612000001",  # and 06 12 00 00 01
        "0612-00-00-03",
        "hello",
    ]
    answer = send_sms(client, creds, json_feed("Hi", numbers))
    phones = ["447700900123", "33612000002", "33612000001", "33612000003"]
    assert [s["phoneNumber"] for s in answer["smsIds"]] == phones
    assert answer["invalidNumbers"] == "0140000000|hello"
    assert (answer["nbContacts"], answer["creditsUsed"]) == (4, 18 + 3 * 15)
    rows = message_rows(ctx, answer["campaignId"])
    assert [(r["sms_id"], r["phone"]) for r in rows] == [
        (s["smsId"], s["phoneNumber"]) for s in answer["smsIds"]
    ]
    assert [r["country"] for r in rows] == ["GB", "FR", "FR", "FR"]


def test_blacklisted_numbers_are_neither_sent_nor_charged(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=1000)
    other = make_account(ctx, "bob", credits=1000)
    numbers = mobiles(3)
    add_to_blacklist(ctx, creds.login, international(numbers[1]), datetime.now(UTC))
    answer = send_sms(client, creds, json_feed("Hi", ["0140000000", *numbers]))
    assert answer["invalidNumbers"] == "0140000000|33612000001"
    assert [s["phoneNumber"] for s in answer["smsIds"]] == ["33612000000", "33612000002"]
    assert (answer["creditsUsed"], answer["credits"]) == (30, 970)
    assert [r["phone"] for r in message_rows(ctx, answer["campaignId"])] == [
        "33612000000",
        "33612000002",
    ]
    # The blacklist is per account.
    assert send_sms(client, other, json_feed("Hi", numbers))["nbContacts"] == 3
    # Only blacklisted numbers: no valid number.
    before = snapshot(ctx, creds.login)
    assert send_sms(client, creds, json_feed("Hi", numbers[1:2])) == refusal(
        "sendSms", 114, "33612000001"
    )
    assert snapshot(ctx, creds.login) == before


# -- volume ----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [2000, 10000])
def test_large_campaigns(client: TestClient, ctx: Context, count: int) -> None:
    creds = make_account(ctx, credits=15 * count + 7)
    numbers = mobiles(count)
    answer = send_sms(client, creds, json_feed("Big campaign", numbers))
    assert (answer["status"], answer["nbContacts"], answer["nbSms"]) == (100, count, count)
    assert (answer["creditsUsed"], answer["credits"]) == (15 * count, 7)
    assert [s["phoneNumber"] for s in answer["smsIds"]] == [international(n) for n in numbers]
    rows = message_rows(ctx, answer["campaignId"])
    assert [(r["sms_id"], r["phone"]) for r in rows] == [
        (s["smsId"], s["phoneNumber"]) for s in answer["smsIds"]
    ]
    assert {r["state"] for r in rows} == {"queued"}
    assert count_rows(ctx, messages) == count
    assert balance(ctx, creds.login) == 7
    assert ledger_rows_of(ctx, creds.login)[-1] == ("debit", -15 * count, answer["campaignId"])


# -- concurrency -----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("via", ["service", "http"])
async def test_concurrent_sends_never_overdraw(ctx: Context, via: str) -> None:
    creds = make_account(ctx, credits=300)
    account = await accounts.find_account(ctx, creds.login)
    assert account is not None
    order = SmsOrder(message="Hi", recipients=[Recipient(ONE[0])])
    transport = httpx.ASGITransport(app=create_app(ctx))

    async with httpx.AsyncClient(transport=transport, base_url="http://hd") as http:

        async def one_send() -> int:
            if via == "http":
                feed = json_feed("Hi", ONE)
                response = await http.post("/http/9.0/sendSms", data=creds.params(smsData=feed))
                return int(json_answer(response)["status"])
            try:
                return (await sending.send(ctx, account, order)).status
            except SendRefused as refused:
                return int(refused.status)

        statuses = await asyncio.gather(*(one_send() for _ in range(40)))
    assert sorted(statuses) == [100] * 20 + [104] * 20
    assert balance(ctx, creds.login) == 0
    assert count_rows(ctx, campaigns) == count_rows(ctx, messages) == 20
    assert [row[:2] for row in ledger_rows_of(ctx, creds.login)] == [("topup", 300)] + [
        ("debit", -15)
    ] * 20


# -- Idempotency-Key -------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["k-1", "x" * 300])
def test_a_repeated_key_returns_the_first_answer(
    client: TestClient, ctx: Context, key: str
) -> None:
    creds = make_account(ctx, credits=1000)
    first = keyed_send(client, creds, key, json_feed("Hi", mobiles(3)))
    after_first = snapshot(ctx, creds.login)
    repeat = keyed_send(client, creds, key, json_feed("Hi", mobiles(3)))
    assert repeat == first
    assert snapshot(ctx, creds.login) == after_first
    assert balance(ctx, creds.login) == 955
    other = keyed_send(client, creds, "k-2", json_feed("Hi", mobiles(3)))
    assert other["campaignId"] != first["campaignId"]
    assert (other["credits"], count_rows(ctx, campaigns)) == (910, 2)
    unkeyed = {send_sms(client, creds, FEED)["campaignId"] for _ in range(2)}
    assert (len(unkeyed), count_rows(ctx, campaigns)) == (2, 4)


def test_keys_are_per_account_and_expire_after_24_hours(client: TestClient, ctx: Context) -> None:
    alice, bob = make_account(ctx, "alice"), make_account(ctx, "bob")
    first = keyed_send(client, alice, "same", FEED)
    assert keyed_send(client, bob, "same", FEED)["campaignId"] != first["campaignId"]
    old = datetime.now(UTC) - timedelta(hours=24, seconds=5)
    update_rows(ctx, idempotency_keys, idempotency_keys.c.key == "same", created_at=old)
    again = keyed_send(client, alice, "same", FEED)
    assert again["campaignId"] != first["campaignId"]
    assert keyed_send(client, alice, "same", FEED) == again
    assert count_rows(ctx, campaigns) == 3


def test_a_refused_send_is_not_remembered(client: TestClient, ctx: Context) -> None:
    creds = make_account(ctx, credits=10)
    assert keyed_send(client, creds, "retry", FEED)["status"] == 104
    asyncio.run(accounts.top_up(ctx, creds.login, 10))
    assert keyed_send(client, creds, "retry", FEED)["status"] == 100
    assert keyed_send(client, creds, "retry", FEED)["credits"] == 5


@pytest.mark.anyio
async def test_concurrent_repeats_create_one_campaign(ctx: Context) -> None:
    creds = make_account(ctx, credits=1000)
    account = await accounts.find_account(ctx, creds.login)
    assert account is not None
    order = SmsOrder(message="Hi", recipients=[Recipient(n) for n in mobiles(2)])
    outcomes = await asyncio.gather(
        *(sending.send(ctx, account, order, idempotency_key="twin") for _ in range(12))
    )
    assert {tuple(o.sms_ids) for o in outcomes} == {tuple(outcomes[0].sms_ids)}
    assert {o.campaign_id for o in outcomes} == {outcomes[0].campaign_id}
    assert count_rows(ctx, campaigns) == 1
    assert balance(ctx, creds.login) == 970


def test_a_kept_answer_is_the_plain_outcome(client: TestClient, ctx: Context) -> None:
    """The store keeps the outcome, not an API's words: a repeat is written again by the API
    that answers it; an answer kept by an earlier version (with its `status_text`) still reads."""
    creds = make_account(ctx, credits=1000)
    feed = json_feed("Hi", mobiles(2), DATE="2099-01-01 10:00:00")
    first = keyed_send(client, creds, "kept", feed)
    assert first["statusText"] == "The message was scheduled to be sent at 2099-01-01 10:00:00"
    [kept] = ctx.store.read_sync(
        lambda conn: conn.execute(sa.select(idempotency_keys.c.answer)).scalars().all()
    )
    stored = orjson.loads(kept)
    assert "statusText" not in stored and "status_text" not in stored
    assert stored["status"] == 101 and stored["scheduled_for"] == "2099-01-01 10:00:00"
    earlier = orjson.dumps({**stored, "status_text": first["statusText"]})
    update_rows(ctx, idempotency_keys, idempotency_keys.c.key == "kept", answer=earlier)
    assert keyed_send(client, creds, "kept", feed) == first


# -- simulateCampaign ------------------------------------------------------------------------


@pytest.mark.parametrize("feed", [json_feed, xml_feed])
def test_simulation_writes_and_charges_nothing(client: TestClient, ctx: Context, feed: Any) -> None:
    creds = make_account(ctx, credits=1000)
    before = snapshot(ctx, creds.login)
    recipients = ["0140000000", *mobiles(2), {"MOBILEPHONE": "+447700900123"}]
    answer = call(
        client, "simulateCampaign", creds, smsData=feed("a" * 200, recipients), returnformat="json"
    )
    assert answer == {
        "status": 100,
        "statusText": "The message has been sent",
        "invalidNumbers": "0140000000",
        "nbCredits": 2 * (15 + 15 + 18),
        "nbContacts": 3,
        "nbSms": 6,
    }
    assert snapshot(ctx, creds.login) == before
