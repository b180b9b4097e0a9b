"""services.delivery over a real store: submit outcomes, receipts, replies and their webhooks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from hirondelle.context import Context
from hirondelle.dispatch.connectors import inbound_part
from hirondelle.domain.statuses import AckStatus
from hirondelle.services import delivery
from hirondelle.services.accounts import Account
from hirondelle.services.delivery import ReceiptIn, SubmitResult
from hirondelle.services.replies import apply_inbound
from hirondelle.smpp.messages import build_messages
from hirondelle.smpp.pdu import DeliverSm
from hirondelle.store import delivery as rows
from hirondelle.store import engine as engine_module
from hirondelle.store import receipts as waiting
from hirondelle.store.schema import (
    blacklist,
    campaigns,
    inbound_parts,
    ledger,
    message_events,
    message_parts,
    pending_receipts,
    replies,
    webhook_events,
)
from tests.helpers import server_waits
from tests.unit.delivery_helpers import (
    accept,
    apply,
    claim,
    message,
    new_account,
    queue,
    select,
    submit,
    utc,
)

pytestmark = pytest.mark.anyio

NOW = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
NOW_IN_PARIS = "2024-07-01 12:00:00"
HOOKS = {"receipt_url": "https://hooks.example/receipt", "reply_url": "https://hooks.example/reply"}
PHONE_1, PHONE_2, PHONE_3 = "0612000001", "0612000002", "0612000003"
LONG_TEXT = "Bonjour " * 40  # 320 GSM characters: 3 parts of a concatenated SMS


async def hooked(ctx: Context) -> Account:
    return await new_account(ctx, "alice", **HOOKS)


async def receive(ctx: Context, *receipts: ReceiptIn, connector: str = "smsc") -> None:
    batch = [ReceiptIn(*r) for r in receipts]
    await apply(ctx, lambda conn, at: delivery.apply_receipts(conn, connector, batch, at), NOW)


async def inbound(ctx: Context, pdu: DeliverSm) -> None:
    window = timedelta(hours=ctx.settings.reply_window_hours)
    part = inbound_part(pdu)
    await apply(ctx, lambda conn, at: apply_inbound(conn, "smsc", part, at, window), NOW)


def reply_pdus(text: str, source: str = "33612000001") -> list[DeliverSm]:
    return build_messages(DeliverSm, text, source, "36180", reference=7)


async def events(ctx: Context, message_id: int) -> list[tuple[int, str]]:
    found = await select(ctx, message_events, message_events.c.message_id == message_id)
    return [(row["status"], row["detail"]) for row in found]


async def state(ctx: Context, message_id: int) -> tuple[str, int]:
    row = await message(ctx, message_id)
    return row["state"], row["status"]


async def hooks(ctx: Context, kind: str) -> list[dict[str, Any]]:
    found = await select(ctx, webhook_events, webhook_events.c.kind == kind)
    return [orjson.loads(row["params"]) for row in found]


async def receipt_hook(ctx: Context, message_id: int, status: int, text: str) -> dict[str, str]:
    """The manual's receipt webhook parameters for this message."""
    row = await message(ctx, message_id)
    (campaign,) = await select(ctx, campaigns, campaigns.c.id == row["campaign_id"])
    return {
        "smsId": row["sms_id"],
        "status": str(status),
        "statusText": text,
        "receptionDate": NOW_IN_PARIS,
        "phoneNumber": row["phone"],
        "campaignId": campaign["public_id"],
        "cliMsgId": row["cli_msg_id"],
    }


# -- submit results ------------------------------------------------------------------------------


async def test_accepted_rejected_and_retry_in_one_batch(ctx: Context, anyio_backend: str) -> None:
    ok, bad, later = await queue(ctx, await hooked(ctx), PHONE_1, PHONE_2, PHONE_3)
    await claim(ctx)
    await submit(
        ctx,
        SubmitResult(ok, "accepted", "smsc", ["00ABC1"]),
        SubmitResult(bad, "rejected", "smsc", detail="invalid destination"),
        SubmitResult(later, "retry", "smsc", detail="throttled", retry_in=timedelta(minutes=1)),
        now=NOW,
    )
    assert await state(ctx, ok) == ("submitted", 3)
    assert (await message(ctx, ok))["connector"] == "smsc"
    parts = await select(ctx, message_parts)
    assert [(p["message_id"], p["part"], p["smsc_id"], p["status"]) for p in parts] == [
        (ok, 1, "abc1", 3)
    ]
    assert await events(ctx, ok) == [(3, "submitted")]

    assert await state(ctx, bad) == ("final", 4)
    assert await events(ctx, bad) == [(4, "invalid destination")]
    refunds = await select(ctx, ledger, ledger.c.kind == "refund")
    bad_row = await message(ctx, bad)
    assert [(r["delta"], r["reference"]) for r in refunds] == [
        (bad_row["credits"], bad_row["sms_id"])
    ]
    assert bad_row["credits"] > 0

    retried = await message(ctx, later)
    assert (retried["state"], retried["status"], retried["attempts"]) == ("queued", 0, 1)
    assert (retried["claimed_by"], retried["lease_until"]) == (None, None)
    assert utc(retried["due_at"]) == NOW + timedelta(minutes=1)
    assert await events(ctx, later) == []

    assert await hooks(ctx, "receipt") == [
        await receipt_hook(ctx, bad, 4, "Message rejected"),
        await receipt_hook(ctx, ok, 3, "Transmitted to the operator"),
    ]


async def test_a_batch_of_accepted_results_waits_for_postgresql_four_times(
    ctx: Context, anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psycopg's BEGIN, the UPDATE of the messages still ours, their parts, events and counts,
    the COMMIT: whatever the batch's size, and no round trip for what the batch does not have
    (an empty pipeline still waits for the answer to its Sync: 5 with the refused messages'
    counts, none here)."""
    if ctx.store.is_sqlite:
        pytest.skip("PostgreSQL's round trips (SQLite runs in-process)")
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 3600.0)  # no ping in the count
    ids = await queue(ctx, await new_account(ctx), PHONE_1, PHONE_2, PHONE_3)
    await claim(ctx)
    results = [SubmitResult(m, "accepted", "smsc", [f"{m}0"]) for m in ids]
    with server_waits(ctx) as waits:
        await submit(ctx, *results)
    assert [await state(ctx, m) for m in ids] == [("submitted", 3)] * 3
    assert len(waits) == 4, waits


async def test_results_for_messages_no_longer_claimed_are_ignored(
    ctx: Context, anyio_backend: str
) -> None:
    ids = await queue(ctx, await hooked(ctx), PHONE_1, PHONE_2, PHONE_3)
    await claim(ctx, "crashed")
    await ctx.store.write(lambda conn: rows.release_claims_of_others(conn, "me"))
    await submit(
        ctx,
        SubmitResult(ids[0], "accepted", "smsc", ["1"]),
        SubmitResult(ids[1], "rejected", "smsc", detail="no"),
        SubmitResult(ids[2], "retry", "smsc"),
    )
    for message_id in ids:
        row = await message(ctx, message_id)
        assert (row["state"], row["status"], row["attempts"]) == ("queued", 0, 0)
        assert await events(ctx, message_id) == []
    assert await select(ctx, message_parts) == []
    assert await select(ctx, ledger, ledger.c.kind == "refund") == []
    assert await select(ctx, webhook_events) == []


# -- receipts ------------------------------------------------------------------------------------


async def test_receipt_matches_its_exact_id_on_its_connector(
    ctx: Context, anyio_backend: str
) -> None:
    (message_id,) = await queue(ctx, await hooked(ctx), PHONE_1)
    await accept(ctx, "smsc", {message_id: ["ABC1"]})
    await receive(ctx, ("abc1", 1, "stat:DELIVRD err:000"), connector="other")
    assert await state(ctx, message_id) == ("submitted", 3)
    await receive(ctx, ("00ABC1", 1, "stat:DELIVRD err:000"))
    assert await state(ctx, message_id) == ("final", 1)
    assert [p["status"] for p in await select(ctx, message_parts)] == [1]
    assert await events(ctx, message_id) == [(3, "submitted"), (1, "stat:DELIVRD err:000")]
    waiting = await select(ctx, pending_receipts)
    assert [(r["connector"], r["smsc_id"]) for r in waiting] == [("other", "abc1")]
    assert (await hooks(ctx, "receipt"))[-1] == await receipt_hook(ctx, message_id, 1, "Delivered")


@pytest.mark.parametrize("webhooks", [False, True])
async def test_a_batch_of_receipts_waits_for_postgresql_three_times(
    ctx: Context, anyio_backend: str, monkeypatch: pytest.MonkeyPatch, webhooks: bool
) -> None:
    """psycopg's BEGIN, the parts holding the ids (with what the webhooks need), then parts,
    messages, events, webhook events and counts with the COMMIT: the updated rows stay locked
    for no round trip to us (it was 4 without webhooks, 5 with: a read of the webhooks'
    targets, their INSERT, and the COMMIT on their own)."""
    if ctx.store.is_sqlite:
        pytest.skip("PostgreSQL's round trips (SQLite runs in-process)")
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 3600.0)  # no ping in the count
    account = await hooked(ctx) if webhooks else await new_account(ctx)
    ids = await queue(ctx, account, PHONE_1, PHONE_2, PHONE_3)
    await accept(ctx, "smsc", {m: [f"{m}0"] for m in ids})
    with server_waits(ctx) as waits:
        await receive(ctx, *((f"{m}0", 1, "stat:DELIVRD err:000") for m in ids))
    assert [await state(ctx, m) for m in ids] == [("final", 1)] * 3
    statuses = [hook["status"] for hook in await hooks(ctx, "receipt")]
    assert statuses == (["3"] * 3 + ["1"] * 3 if webhooks else [])
    assert len(waits) == 3, waits


async def test_an_early_receipt_waits_for_its_submit_result(
    ctx: Context, anyio_backend: str
) -> None:
    (message_id,) = await queue(ctx, await hooked(ctx), PHONE_1)
    await receive(ctx, ("77", 2, "stat:UNDELIV err:001"))
    waiting = await select(ctx, pending_receipts)
    assert [(r["connector"], r["smsc_id"], r["status"]) for r in waiting] == [("smsc", "77", 2)]
    await accept(ctx, "smsc", {message_id: ["077"]}, NOW)
    assert await select(ctx, pending_receipts) == []
    assert await state(ctx, message_id) == ("final", 2)
    assert await events(ctx, message_id) == [(3, "submitted"), (2, "stat:UNDELIV err:001")]


def long_ago() -> datetime:
    return datetime.now(UTC) - delivery.STALE_RECEIPT - timedelta(minutes=5)


async def stale(ctx: Context, *receipts: ReceiptIn) -> None:
    """Receipts that have waited in pending_receipts for five minutes."""
    old = long_ago()
    await ctx.store.write(lambda conn: waiting.add_pending(conn, "smsc", receipts, old, old))


async def test_a_receipt_that_missed_its_submit_result_is_matched_when_looked_at_again(
    ctx: Context, anyio_backend: str
) -> None:
    """Two PostgreSQL transactions at once: the submit result's, still open, has looked for
    waiting receipts; the receipt's finds no part and waits, committed first. Neither saw the
    other; `match_waiting` (which the connector runs once the results being stored are) does.
    SQLite has one writer: there the two never overlap."""
    if ctx.store.is_sqlite:
        pytest.skip("SQLite runs one write transaction at a time")
    (message_id,) = await queue(ctx, await new_account(ctx), PHONE_1)
    await claim(ctx)
    engine = ctx.store.engine
    with engine.connect() as results, engine.connect() as receipts:
        results.begin()
        delivery.apply_submit_results(
            results, [SubmitResult(message_id, "accepted", "smsc", ["AB1"])], NOW
        )
        with receipts.begin():
            left = delivery.apply_receipts(
                receipts, "smsc", [ReceiptIn("ab1", AckStatus.DELIVERED, "stat:DELIVRD")], NOW
            )
        assert left == ["ab1"]
        results.commit()
    assert await state(ctx, message_id) == ("submitted", 3)
    assert await delivery.match_waiting(ctx, "smsc", left) == 1
    assert await state(ctx, message_id) == ("final", 1)
    assert await select(ctx, pending_receipts) == []
    assert await delivery.match_waiting(ctx, "smsc", left) == 0  # applied once


async def test_another_message_id_is_never_taken_for_another_form(
    ctx: Context, anyio_backend: str
) -> None:
    hex_id, decimal_id = await queue(ctx, await hooked(ctx), PHONE_1, PHONE_2)
    await accept(ctx, "smsc", {hex_id: ["1000"]}, NOW)  # 0x1000 is 4096; decimal_id stays claimed
    await receive(ctx, ("4096", 1, ""))
    assert await state(ctx, hex_id) == ("submitted", 3)  # "4096" may be another message's id
    assert [r["smsc_id"] for r in await select(ctx, pending_receipts)] == ["4096"]
    await accept(ctx, "smsc", {decimal_id: ["4096"]}, NOW)
    assert await state(ctx, decimal_id) == ("final", 1)  # it was
    assert await state(ctx, hex_id) == ("submitted", 3)
    assert await select(ctx, pending_receipts) == []


async def test_a_stale_receipt_matches_the_one_part_with_another_form(
    ctx: Context, anyio_backend: str
) -> None:
    (message_id,) = await queue(ctx, await hooked(ctx), PHONE_1)
    await accept(ctx, "smsc", {message_id: ["1000"]}, long_ago())
    await stale(ctx, ("4096", 1, "decimal of 0x1000"), ("77", 2, "no such id"))
    assert await delivery.resolve_stale_receipts(ctx) == 1
    assert await state(ctx, message_id) == ("final", 1)
    assert await events(ctx, message_id) == [(3, "submitted"), (1, "decimal of 0x1000")]
    kept = await select(ctx, pending_receipts)
    assert [(r["smsc_id"], r["status"], r["detail"]) for r in kept] == [("77", 2, "no such id")]


async def test_a_stale_receipt_prefers_its_exact_id(ctx: Context, anyio_backend: str) -> None:
    hex_id, decimal_id = await queue(ctx, await hooked(ctx), PHONE_1, PHONE_2)
    await accept(ctx, "smsc", {hex_id: ["1000"], decimal_id: ["4096"]}, long_ago())
    await stale(ctx, ("4096", 2, ""))
    assert await delivery.resolve_stale_receipts(ctx) == 1
    assert await state(ctx, decimal_id) == ("final", 2)
    assert await state(ctx, hex_id) == ("submitted", 3)


async def test_ambiguous_other_forms_stay_pending(ctx: Context, anyio_backend: str) -> None:
    first, second = await queue(ctx, await hooked(ctx), PHONE_1, PHONE_2)
    await accept(ctx, "smsc", {first: ["4096"], second: ["3e8"]}, long_ago())
    await stale(ctx, ("1000", 1, "which one?"))  # 1000 is 0x3e8, and 0x1000 is 4096
    assert await delivery.resolve_stale_receipts(ctx) == 0
    assert [await state(ctx, m) for m in (first, second)] == [("submitted", 3)] * 2
    assert [r["smsc_id"] for r in await select(ctx, pending_receipts)] == ["1000"]


async def test_long_message_is_delivered_when_all_parts_are(
    ctx: Context, anyio_backend: str
) -> None:
    whole, failed = await queue(ctx, await hooked(ctx), PHONE_1, PHONE_2, text=LONG_TEXT)
    assert (await message(ctx, whole))["parts"] == 3
    await accept(ctx, "smsc", {whole: ["a1", "a2", "a3"], failed: ["b1", "b2", "b3"]})
    await receive(ctx, ("a1", 1, ""), ("a3", 1, ""))
    assert await state(ctx, whole) == ("submitted", 3)
    assert await events(ctx, whole) == [(3, "submitted")]
    assert [hook["status"] for hook in await hooks(ctx, "receipt")] == ["3", "3"]
    await receive(ctx, ("a2", 1, ""))
    assert await state(ctx, whole) == ("final", 1)
    await receive(ctx, ("b2", 2, "stat:UNDELIV"))
    assert await state(ctx, failed) == ("final", 2)
    assert await events(ctx, failed) == [(3, "submitted"), (2, "stat:UNDELIV")]
    assert await events(ctx, whole) == [(3, "submitted"), (1, "Delivered")]
    assert sorted(hook["status"] for hook in await hooks(ctx, "receipt")) == ["1", "2", "3", "3"]


@pytest.mark.parametrize(
    ("parts", "status"),
    [
        ([1, 1, 1], 1),
        ([1, 3, 1], 3),
        ([3, 2, 1], 2),
        ([2, 4], 4),
        ([4, 5, 2], 5),
        ([], 3),
    ],
)
def test_message_status_of_parts(parts: list[int], status: int) -> None:
    assert delivery.message_status(parts) == status


async def test_unknown_number_blacklists_it_as_refused(ctx: Context, anyio_backend: str) -> None:
    account = await hooked(ctx)
    refused, delivered = await queue(ctx, account, PHONE_1, PHONE_2)
    await accept(ctx, "smsc", {refused: ["5"], delivered: ["6"]})
    await receive(ctx, ("5", int(AckStatus.UNKNOWN_NUMBER), ""), ("6", 1, ""))
    listed = await select(ctx, blacklist)
    assert [(r["account_id"], r["phone"], r["comment"]) for r in listed] == [
        (account.id, "33612000001", "refused")
    ]
    assert await state(ctx, refused) == ("final", 5)
    unknown = "SMS rejected (probably unknown number / missing subscriber)"
    assert await events(ctx, refused) == [(3, "submitted"), (5, unknown)]
    finals = sorted((await hooks(ctx, "receipt"))[-2:], key=lambda hook: hook["status"])
    assert finals == [  # one transaction: the order between messages is not kept
        await receipt_hook(ctx, delivered, 1, "Delivered"),
        await receipt_hook(ctx, refused, 5, unknown),
    ]


# -- replies -------------------------------------------------------------------------------------


async def test_a_concatenated_reply_is_stored_when_its_last_part_arrives(
    ctx: Context, anyio_backend: str
) -> None:
    account = await hooked(ctx)
    older, last = await queue(ctx, account, PHONE_1, PHONE_2), await queue(ctx, account, PHONE_1)
    await accept(ctx, "smsc", {older[0]: ["1"], older[1]: ["2"], last[0]: ["3"]})
    pdus = reply_pdus(LONG_TEXT)
    assert len(pdus) == 3
    for count, pdu in enumerate(pdus[:2], start=1):
        await inbound(ctx, pdu)
        stored = await select(ctx, inbound_parts)
        assert [(p["source"], p["seqnum"], p["total"], p["reference"]) for p in stored] == [
            ("33612000001", n, 3, 7) for n in range(1, count + 1)
        ]
        assert await select(ctx, replies) == []
    await inbound(ctx, pdus[2])
    assert await select(ctx, inbound_parts) == []
    (reply,) = await select(ctx, replies)
    row = await message(ctx, last[0])
    assert (reply["text"], reply["phone"], reply["short_code"], reply["keyword"]) == (
        LONG_TEXT,
        "33612000001",
        "36180",
        None,
    )
    assert (reply["account_id"], reply["message_id"], reply["campaign_id"]) == (
        account.id,
        last[0],
        row["campaign_id"],
    )
    (campaign,) = await select(ctx, campaigns, campaigns.c.id == row["campaign_id"])
    assert await hooks(ctx, "reply") == [
        {
            "smsId": row["sms_id"],
            "smsMoId": reply["public_id"],
            "receptionDate": NOW_IN_PARIS,
            "phoneNumber": "33612000001",
            "campaignId": campaign["public_id"],
            "message": LONG_TEXT,
            "cliMsgId": row["cli_msg_id"],  # manual §6.2: given back with the answers
        }
    ]


async def test_reply_parts_out_of_order_or_repeated(ctx: Context, anyio_backend: str) -> None:
    first, middle, last = reply_pdus(LONG_TEXT)
    for pdu in (last, first, first):
        await inbound(ctx, pdu)
    assert sorted(p["seqnum"] for p in await select(ctx, inbound_parts)) == [1, 3]
    assert await select(ctx, replies) == []
    await inbound(ctx, middle)
    assert [r["text"] for r in await select(ctx, replies)] == [LONG_TEXT]
    assert await select(ctx, inbound_parts) == []


async def stop_comments(ctx: Context) -> list[tuple[str, str]]:
    return [(r["phone"], r["comment"]) for r in await select(ctx, blacklist)]


async def test_stop_start_and_reabo(ctx: Context, anyio_backend: str) -> None:
    ids = await queue(ctx, await hooked(ctx), PHONE_1, PHONE_2)
    await accept(ctx, "smsc", {ids[0]: ["1"], ids[1]: ["2"]})
    await receive(ctx, ("2", int(AckStatus.UNKNOWN_NUMBER), ""))
    expected = [("STOP", [("33612000001", "stop")]), ("START", []), ("Stop svp", None)]
    expected += [("REABO", []), ("Hello", [])]
    for text, listed in expected:
        (pdu,) = reply_pdus(text)
        await inbound(ctx, pdu)
        if listed is not None:
            assert await stop_comments(ctx) == [("33612000002", "refused"), *listed], text
    (pdu,) = reply_pdus("START", source="33612000002")  # START lifts only a STOP
    await inbound(ctx, pdu)
    assert await stop_comments(ctx) == [("33612000002", "refused")]
    keywords = [r["keyword"] for r in await select(ctx, replies)]
    assert keywords == ["stop", "start", "stop", "start", None, "start"]


async def test_a_reply_from_an_unknown_number_has_no_account(
    ctx: Context, anyio_backend: str
) -> None:
    (message_id,) = await queue(ctx, await hooked(ctx), PHONE_1)
    await claim(ctx)  # claimed, not yet sent: not a message the number can answer
    (pdu,) = reply_pdus("STOP", source="33699999999")
    await inbound(ctx, pdu)
    (other,) = reply_pdus("STOP")
    await inbound(ctx, other)
    found = await select(ctx, replies)
    assert [(r["phone"], r["account_id"], r["message_id"], r["campaign_id"]) for r in found] == [
        ("33699999999", None, None, None),
        ("33612000001", None, None, None),
    ]
    assert await select(ctx, blacklist) == []
    assert await select(ctx, webhook_events) == []
    assert (await message(ctx, message_id))["state"] == "claimed"


async def test_no_webhook_events_without_urls(ctx: Context, anyio_backend: str) -> None:
    ids = await queue(ctx, await new_account(ctx, "bob"), PHONE_1, PHONE_2)
    await claim(ctx)
    await submit(ctx, SubmitResult(ids[0], "accepted", "smsc", ["1"]))
    await submit(ctx, SubmitResult(ids[1], "rejected", "smsc", detail="no"))
    await receive(ctx, ("1", 1, ""))
    (pdu,) = reply_pdus("Merci")
    await inbound(ctx, pdu)
    assert len(await select(ctx, replies)) == 1
    assert await state(ctx, ids[0]) == ("final", 1)
    assert await select(ctx, webhook_events) == []
