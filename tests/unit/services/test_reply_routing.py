"""Which account a reply reaches (docs/operations.md, "Reply routing"): the owner of a dedicated
reply number; on a shared sender, the most recent sender within the reply window; nobody (the
operator's unassigned replies) when no message of the window matches. A STOP on a shared sender
blacklists the number for every account that texted it from there within the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from hirondelle.context import Context
from hirondelle.dispatch.connectors import inbound_part
from hirondelle.services.accounts import Account
from hirondelle.services.replies import apply_inbound
from hirondelle.smpp.messages import build_messages
from hirondelle.smpp.pdu import DeliverSm
from hirondelle.store.schema import blacklist, messages, replies, webhook_events
from tests.api.sending_helpers import update_rows
from tests.unit.delivery_helpers import accept, message, new_account, queue, select

pytestmark = pytest.mark.anyio

X = "0612000001"
X_DIGITS = "33612000001"
SHARED = "36180"  # the default sender
HOOKS = {"receipt_url": "https://hooks.example/r", "reply_url": "https://hooks.example/mo"}
_smsc_ids = iter(range(1, 10**6))


async def texted(ctx: Context, account: Account, *, days_ago: float = 0, **kw: Any) -> int:
    """A message from `account` to X, submitted; sent `days_ago` days ago."""
    (message_id,) = await queue(ctx, account, X, **kw)
    await accept(ctx, "smsc", {message_id: [str(next(_smsc_ids))]})
    if days_ago:
        sent_at = datetime.now(UTC) - timedelta(days=days_ago)
        update_rows(ctx, messages, messages.c.id == message_id, due_at=sent_at)
    return message_id


async def reply(ctx: Context, text: str, to: str = SHARED) -> dict[str, Any]:
    (pdu,) = build_messages(DeliverSm, text, X_DIGITS, to, reference=1)
    window = timedelta(hours=ctx.settings.reply_window_hours)
    now = datetime.now(UTC)
    part = inbound_part(pdu)
    await ctx.store.write(lambda conn: apply_inbound(conn, "smsc", part, now, window))
    return dict((await select(ctx, replies))[-1])


async def stopped(ctx: Context) -> set[tuple[int, str]]:
    return {(row["account_id"], row["comment"]) for row in await select(ctx, blacklist)}


async def reply_hooks(ctx: Context) -> list[tuple[int, dict[str, str]]]:
    rows = await select(ctx, webhook_events, webhook_events.c.kind == "reply")
    return [(row["account_id"], orjson.loads(row["params"])) for row in rows]


async def test_a_reply_to_an_accounts_own_number_reaches_that_account(ctx: Context) -> None:
    alice = await new_account(ctx, "alice", reply_number="38001", **HOOKS)
    bob = await new_account(ctx, "bob", **HOOKS)
    first = await texted(ctx, alice)
    assert (await message(ctx, first))["sender"] == "38001"  # alice sends from her number
    await texted(ctx, bob)  # bob writes to X later, from the shared short code
    pin = await reply(ctx, "YES, my PIN is 1234", to="38001")
    assert (pin["account_id"], pin["message_id"]) == (alice.id, first)
    assert (await reply(ctx, "STOP", to="+38001"))["account_id"] == alice.id
    assert await stopped(ctx) == {(alice.id, "stop")}  # bob may still text X
    assert [account for account, _params in await reply_hooks(ctx)] == [alice.id, alice.id]


async def test_an_own_number_gets_its_replies_without_a_message_to_link(ctx: Context) -> None:
    alice = await new_account(ctx, "alice", reply_number="38001", **HOOKS)
    await texted(ctx, alice, days_ago=5)  # outside the window: nothing to link
    joined = await reply(ctx, "JOIN", to="38001")
    assert (joined["account_id"], joined["message_id"], joined["campaign_id"]) == (
        alice.id,
        None,
        None,
    )
    ((account, params),) = await reply_hooks(ctx)
    assert account == alice.id
    assert (params["smsId"], params["campaignId"], params["message"]) == ("", "", "JOIN")


async def test_on_the_shared_sender_the_most_recent_sender_in_the_window_gets_it(
    ctx: Context,
) -> None:
    alice = await new_account(ctx, "alice", **HOOKS)
    bob = await new_account(ctx, "bob", **HOOKS)
    carol = await new_account(ctx, "carol", **HOOKS)
    await texted(ctx, alice, days_ago=0.5)
    latest = await texted(ctx, bob, days_ago=0.1)
    # Accepted after bob's but sent before it (a scheduled campaign): sending time decides.
    await texted(ctx, carol, days_ago=1)
    got = await reply(ctx, "Yes")
    assert (got["account_id"], got["message_id"], got["short_code"]) == (bob.id, latest, SHARED)
    assert [account for account, _params in await reply_hooks(ctx)] == [bob.id]


async def test_a_stop_on_the_shared_sender_stops_every_account_of_the_window(
    ctx: Context,
) -> None:
    alice = await new_account(ctx, "alice")
    bob = await new_account(ctx, "bob")
    old = await new_account(ctx, "old")
    own = await new_account(ctx, "own", reply_number="38002")
    await texted(ctx, old, days_ago=4)  # outside the 72 h window
    await texted(ctx, own)  # from its own number, not the shared one
    await texted(ctx, alice, days_ago=2)
    await texted(ctx, bob, days_ago=1)
    got = await reply(ctx, "STOP")
    assert got["account_id"] == bob.id
    assert await stopped(ctx) == {(alice.id, "stop"), (bob.id, "stop")}
    await reply(ctx, "START")
    assert await stopped(ctx) == set()


async def test_a_reply_matching_no_message_of_the_window_is_unassigned(ctx: Context) -> None:
    alice = await new_account(ctx, "alice", **HOOKS)
    await texted(ctx, alice, days_ago=3.5)  # from the shared sender, outside the window
    named = await texted(ctx, alice)
    update_rows(ctx, messages, messages.c.id == named, sender="Boutique")  # no reply possible
    for text, to in (("STOP", SHARED), ("Hello", "38999"), ("Hi", "")):
        got = await reply(ctx, text, to=to)
        assert (got["account_id"], got["message_id"], got["campaign_id"]) == (None, None, None)
    assert await stopped(ctx) == set()
    assert await reply_hooks(ctx) == []


async def test_a_named_sender_is_answered_at_the_number_of_its_stop_mention(ctx: Context) -> None:
    alice = await new_account(ctx, "alice", **HOOKS)
    bob = await new_account(ctx, "bob", reply_number="38001", **HOOKS)
    promo = await texted(ctx, alice, days_ago=1)
    update_rows(ctx, messages, messages.c.id == promo, sender="Boutique", text="-20% STOP au 36180")
    other = await texted(ctx, bob)  # later, from bob's own number, with a mention of it
    update_rows(ctx, messages, messages.c.id == other, sender="Bob", text="Hi\nStop au 38001")
    got = await reply(ctx, "STOP")
    assert (got["account_id"], got["message_id"]) == (alice.id, promo)
    assert (await reply(ctx, "stop", to="38001"))["message_id"] == other
    assert await stopped(ctx) == {(alice.id, "stop"), (bob.id, "stop")}
