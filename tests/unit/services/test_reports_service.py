"""Reports: acks, replies handed out once, the blacklist by hand, the status history kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hirondelle.context import Context
from hirondelle.domain.statuses import AckStatus
from hirondelle.services import accounts, delivery, replies, reports
from hirondelle.services.accounts import Account
from hirondelle.services.delivery import ReceiptIn, SubmitResult
from hirondelle.services.sending import Recipient, SmsOrder, send
from hirondelle.store import delivery as delivery_rows
from hirondelle.store.schema import message_events, messages

pytestmark = pytest.mark.anyio

PARIS_SUMMER = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)  # 12:00 in Paris


async def new_account(ctx: Context, login: str = "alice") -> Account:
    return (await accounts.create_account(ctx, login, credits=10_000)).account


async def sent(ctx: Context, account: Account, *numbers: str, cli: str | None = None) -> list[str]:
    """Accept a campaign to `numbers`; return its smsIds (the campaign id is first)."""
    order = SmsOrder("Hello", [Recipient(mobile=n, cli_msg_id=cli) for n in numbers])
    outcome = await send(ctx, account, order)
    return [outcome.campaign_id, *(sms_id for _phone, sms_id in outcome.sms_ids)]


async def submit_all(ctx: Context, at: datetime | None = None) -> dict[str, str]:
    """Claim every message and record it accepted by the SMSC at `at`; return smsc id by phone."""
    at = at or datetime.now(UTC)
    due = datetime.now(UTC) + timedelta(seconds=1)

    def claim_and_submit(conn: Connection) -> dict[str, str]:
        claimed = delivery_rows.claim_due(conn, "test", due, timedelta(minutes=1), 1000)
        results = [SubmitResult(m.id, "accepted", "smsc", [f"id{m.id}"]) for m in claimed]
        delivery.apply_submit_results(conn, results, at)
        return {m.phone: f"id{m.id}" for m in claimed}

    return await ctx.store.write(claim_and_submit)


async def receipt(ctx: Context, smsc_id: str, status: int, at: datetime) -> None:
    receipts = [ReceiptIn(smsc_id, AckStatus(status), "")]
    await ctx.store.write(lambda conn: delivery.apply_receipts(conn, "smsc", receipts, at))


async def reply(ctx: Context, phone: str, text: str, at: datetime) -> None:
    window = timedelta(hours=ctx.settings.reply_window_hours)
    await ctx.store.write(lambda conn: replies.apply_reply(conn, phone, "36180", text, at, window))


async def test_acks_show_the_latest_status_in_the_account_time_zone(ctx: Context) -> None:
    alice = await new_account(ctx)
    campaign, first, second, third = await sent(
        ctx, alice, "0611111111", "0622222222", "0633333333", cli="order-7"
    )
    ids = await submit_all(ctx)
    await receipt(ctx, ids["33611111111"], 1, PARIS_SUMMER)
    await receipt(ctx, ids["33622222222"], 5, PARIS_SUMMER + timedelta(seconds=3))

    acks = await reports.acks_of_campaign(ctx, alice, campaign)
    assert [(a.sms_id, a.phone_number, a.status) for a in acks] == [
        (first, "33611111111", 1),
        (second, "33622222222", 5),
        (third, "33633333333", 3),
    ]
    assert acks[0].comment == "Delivered"
    assert acks[0].reception_date == "2024-07-01 12:00:00"
    assert acks[1].reception_date == "2024-07-01 12:00:03"
    assert acks[2].comment == "Transmitted to the operator"
    assert {a.cli_msg_id for a in acks} == {"order-7"}

    by_id = await reports.acks_by_sms_ids(ctx, alice, [third, "nope", first])
    assert [a.sms_id for a in by_id] == [third, first]


async def test_a_message_not_yet_submitted_is_pending(ctx: Context) -> None:
    alice = await new_account(ctx)
    campaign, sms_id = await sent(ctx, alice, "0611111111")
    [ack] = await reports.acks_of_campaign(ctx, alice, campaign)
    assert (ack.sms_id, ack.status, ack.comment) == (sms_id, 3, reports.PENDING_COMMENT)


async def test_reports_are_scoped_to_the_account(ctx: Context) -> None:
    alice, bob = await new_account(ctx), await new_account(ctx, "bob")
    campaign, sms_id = await sent(ctx, alice, "0611111111")
    with pytest.raises(reports.CampaignNotFound):
        await reports.acks_of_campaign(ctx, bob, campaign)
    with pytest.raises(reports.CampaignNotFound):
        await reports.replies_of_campaign(ctx, bob, campaign)
    assert await reports.acks_by_sms_ids(ctx, bob, [sms_id]) == []


async def test_each_reply_is_pulled_once_even_by_concurrent_callers(ctx: Context) -> None:
    alice = await new_account(ctx)
    campaign, *sms_ids = await sent(ctx, alice, *(f"06111111{n:02d}" for n in range(20)))
    await submit_all(ctx)
    for n in range(20):
        await reply(ctx, f"336111111{n:02d}", f"answer {n}", PARIS_SUMMER)

    pulls = await asyncio.gather(*(reports.pull_replies(ctx, alice, 7) for _ in range(4)))
    pulled = [r.id for batch in pulls for r in batch]
    assert len(pulled) == len(set(pulled)) == 20
    assert max(len(batch) for batch in pulls) <= 7
    assert await reports.pull_replies(ctx, alice) == []

    # re-readable by campaign and by smsId, newest first
    by_campaign = await reports.replies_of_campaign(ctx, alice, campaign)
    assert len(by_campaign) == 20
    assert by_campaign[0].message == "answer 19"
    [one] = await reports.replies_by_sms_ids(ctx, alice, [sms_ids[3]])
    assert (one.message, one.sms_id, one.campaign_id) == ("answer 3", sms_ids[3], campaign)
    assert one.phone_number == "33611111103"


async def test_pulls_are_newest_first_and_limited(ctx: Context) -> None:
    alice = await new_account(ctx)
    await sent(ctx, alice, "0611111111")
    await submit_all(ctx)
    for n in range(3):
        await reply(ctx, "33611111111", f"r{n}", PARIS_SUMMER + timedelta(minutes=n))
    first = await reports.pull_replies(ctx, alice, 2)
    assert [r.message for r in first] == ["r2", "r1"]
    assert first[0].reception_date == "2024-07-01 12:02:00"
    assert [r.message for r in await reports.pull_replies(ctx, alice)] == ["r0"]


@pytest.mark.parametrize(
    ("given", "expected"), [(None, 1000), ("5", 5), (" 12 ", 12), (10000, 10000)]
)
def test_pull_limit(given: str | int | None, expected: int) -> None:
    assert reports.pull_limit(given) == expected


@pytest.mark.parametrize("given", ["0", "-1", "abc", "10001", "1.5"])
def test_bad_pull_limits_are_refused(given: str) -> None:
    with pytest.raises(reports.ReportError):
        reports.pull_limit(given)


def test_split_ids() -> None:
    assert reports.split_ids("a, b;c  a;;") == ["a", "b", "c"]
    assert reports.split_ids(None) == []


async def test_stop_and_start_from_the_handset(ctx: Context) -> None:
    alice = await new_account(ctx)
    await sent(ctx, alice, "0611111111")
    await submit_all(ctx)
    await reply(ctx, "33611111111", "Stop", PARIS_SUMMER)
    [entry] = await reports.blacklist_of(ctx, alice)
    assert (entry.phone_number, entry.comment, entry.reception_date) == (
        "33611111111",
        "stop",
        "2024-07-01 12:00:00",
    )
    # the customer cannot lift an opt-out; START from the handset does
    removed = await reports.remove_from_blacklist(ctx, alice, ["0611111111"])
    assert removed.changed == [] and removed.unchanged == ["33611111111"]
    await reply(ctx, "33611111111", "REABO", PARIS_SUMMER)
    assert await reports.blacklist_of(ctx, alice) == []


async def test_blacklist_by_hand(ctx: Context) -> None:
    alice = await new_account(ctx)
    added = await reports.add_to_blacklist(ctx, alice, ["06 11 11 11 11", "+33622222222", "012"])
    assert added.changed == ["33611111111", "33622222222"] and added.invalid == ["012"]
    again = await reports.add_to_blacklist(ctx, alice, ["0611111111"])
    assert again.changed == [] and again.unchanged == ["33611111111"]
    assert {(e.phone_number, e.comment) for e in await reports.blacklist_of(ctx, alice)} == {
        ("33611111111", "manual"),
        ("33622222222", "manual"),
    }
    removed = await reports.remove_from_blacklist(ctx, alice, ["0611111111", "0633333333"])
    assert removed.changed == ["33611111111"] and removed.unchanged == ["33633333333"]
    assert [e.phone_number for e in await reports.blacklist_of(ctx, alice)] == ["33622222222"]


async def test_operators_may_lift_a_stop(ctx: Context) -> None:
    alice = await new_account(ctx)
    await sent(ctx, alice, "0611111111")
    await submit_all(ctx)
    await reply(ctx, "33611111111", "STOP", PARIS_SUMMER)
    done = await reports.remove_from_blacklist(ctx, alice, ["0611111111"], include_stop=True)
    assert done.changed == ["33611111111"]


async def test_the_status_history_is_kept(ctx: Context) -> None:
    alice = await new_account(ctx)
    _campaign, sms_id = await sent(ctx, alice, "0611111111")
    ids = await submit_all(ctx, PARIS_SUMMER - timedelta(seconds=5))
    await receipt(ctx, ids["33611111111"], 2, PARIS_SUMMER)
    query = (
        sa.select(message_events.c.status, message_events.c.detail, message_events.c.at)
        .join(messages, messages.c.id == message_events.c.message_id)
        .where(messages.c.sms_id == sms_id)
        .order_by(message_events.c.id)
    )
    history = ctx.store.read_sync(lambda conn: list(conn.execute(query)))
    assert [(status, detail) for status, detail, _at in history] == [
        (3, "submitted"),
        (2, "Not delivered (sent by the operator)"),
    ]
    at = history[-1][2]
    assert (at if at.tzinfo else at.replace(tzinfo=UTC)) == PARIS_SUMMER
