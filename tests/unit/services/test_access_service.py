"""IP allow-lists and throughput limits as services: what the APIs and the SMPP server call."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from hirondelle.context import Context
from hirondelle.services import access, accounts, sending
from hirondelle.services.access import AddressRefused, Throttled
from hirondelle.services.accounts import Account, AccountError
from hirondelle.services.sending import Recipient, SendRefused, SmsOrder
from hirondelle.store.schema import allowed_networks, campaigns
from tests.conftest import count_rows

pytestmark = pytest.mark.anyio


async def fresh(ctx: Context, login: str = "alice") -> Account:
    account = await accounts.find_account(ctx, login)
    assert account is not None
    return account


async def test_no_list_allows_every_address(ctx: Context) -> None:
    await accounts.create_account(ctx, "alice")
    alice = await fresh(ctx)
    assert alice.allowlist_version == 0
    for address in ("127.0.0.2", "2001:db8::1", None, "testclient"):
        assert await access.address_allowed(ctx, alice, address)


async def test_a_list_allows_its_addresses_only(ctx: Context) -> None:
    await accounts.create_account(ctx, "alice")
    listed = await access.change_allowed_ips(
        ctx, "alice", add=["127.0.0.1", "2001:db8::/32", "10.0.0.0/8"]
    )
    assert listed == ["10.0.0.0/8", "127.0.0.1/32", "2001:db8::/32"]  # IPv4 first, by address
    alice = await fresh(ctx)
    assert alice.allowlist_version == 1
    for address, allowed in [
        ("127.0.0.1", True),
        ("127.0.0.2", False),
        ("10.200.3.4", True),
        ("2001:db8:1::9", True),
        ("2001:db9::1", False),
        (None, False),
    ]:
        assert await access.address_allowed(ctx, alice, address) is allowed, address
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.2 is not allowed"):
        await access.check_address(ctx, alice, "127.0.0.2")


async def test_the_copy_of_a_list_follows_its_version(ctx: Context) -> None:
    """No query while the version the account was read with is the cached one; a change is
    seen by the next request that reads the account."""
    await accounts.create_account(ctx, "alice")
    await access.change_allowed_ips(ctx, "alice", add=["127.0.0.1"])
    alice = await fresh(ctx)
    assert await access.address_allowed(ctx, alice, "127.0.0.1")
    # rows changed behind the service's back, version untouched: the cached copy answers
    ctx.store.write_sync(lambda conn: conn.execute(sa.delete(allowed_networks)))
    assert await access.address_allowed(ctx, alice, "127.0.0.1")
    assert not await access.address_allowed(ctx, alice, "127.0.0.2")
    # a change through the service raises the version: the next read of the account reloads
    await access.change_allowed_ips(ctx, "alice", add=["127.0.0.2"])
    alice = await fresh(ctx)
    assert await access.address_allowed(ctx, alice, "127.0.0.2")
    assert not await access.address_allowed(ctx, alice, "127.0.0.1")


async def test_changing_lists(ctx: Context) -> None:
    await accounts.create_account(ctx, "alice")
    await access.change_allowed_ips(ctx, "alice", add=["192.0.2.1", "192.0.2.2"])
    assert await access.change_allowed_ips(ctx, "alice", add=["192.0.2.1/32"]) == [
        "192.0.2.1/32",
        "192.0.2.2/32",
    ]  # an entry once
    assert await access.change_allowed_ips(ctx, "alice", remove=["192.0.2.1"]) == ["192.0.2.2/32"]
    missing = re.escape("Not in the allow-list of alice: 192.0.2.9/32")
    with pytest.raises(AccountError, match=missing):
        await access.change_allowed_ips(ctx, "alice", remove=["192.0.2.9"])
    with pytest.raises(AccountError, match=re.escape("did you mean 192.0.2.0/24")):
        await access.change_allowed_ips(ctx, "alice", add=["192.0.2.3/24"])
    with pytest.raises(AccountError, match="No account"):
        await access.change_allowed_ips(ctx, "ghost", add=["192.0.2.3"])
    assert await access.allowed_ips(ctx, "alice") == ["192.0.2.2/32"]  # refusals changed nothing
    assert await access.change_allowed_ips(ctx, "alice", replace=[]) == []
    assert await access.address_allowed(ctx, await fresh(ctx), "203.0.113.1")


async def test_a_list_that_would_lock_the_caller_out_is_refused(ctx: Context) -> None:
    await accounts.create_account(ctx, "alice")
    with pytest.raises(AccountError, match=re.escape("calling from (198.51.100.1)")):
        await access.change_allowed_ips(
            ctx, "alice", replace=["192.0.2.0/24"], keep_reachable="198.51.100.1"
        )
    assert await access.allowed_ips(ctx, "alice") == []
    assert await access.change_allowed_ips(
        ctx, "alice", replace=["198.51.100.0/24"], keep_reachable="198.51.100.1"
    ) == ["198.51.100.0/24"]


async def test_limits(ctx: Context) -> None:
    await accounts.create_account(ctx, "alice")
    alice = await access.set_limits(ctx, "alice", messages_per_second=50)
    assert (alice.messages_per_second, alice.requests_per_second) == (50, None)
    alice = await access.set_limits(ctx, "alice", requests_per_second=5)
    assert (alice.messages_per_second, alice.requests_per_second) == (50, 5)
    alice = await access.set_limits(ctx, "alice", messages_per_second=0)
    assert (alice.messages_per_second, alice.requests_per_second) == (None, 5)
    with pytest.raises(AccountError, match=">= 0"):
        await access.set_limits(ctx, "alice", requests_per_second=-1)
    new = await accounts.create_account(ctx, "bob")
    await access.set_limits(ctx, "bob", messages_per_second=7, requests_per_second=3)
    bob = await accounts.authenticate(ctx, "bob", new.api_key)  # read with every request
    assert bob is not None and (bob.messages_per_second, bob.requests_per_second) == (7, 3)


async def test_requests_per_second(ctx: Context) -> None:
    now = [100.0]
    ctx.ticks = lambda: now[0]
    await accounts.create_account(ctx, "alice")
    alice = await access.set_limits(ctx, "alice", requests_per_second=2)
    assert access.take_request(ctx, alice) == 0.0
    assert access.take_request(ctx, alice) == pytest.approx(0.5)
    with pytest.raises(Throttled) as caught:
        await access.admit_caller(ctx, alice, "127.0.0.1")
    assert caught.value.retry_after == 1
    assert "may make 2 requests per second" in str(caught.value)
    now[0] += 0.5
    await access.admit_caller(ctx, alice, "127.0.0.1")


async def test_a_refused_address_takes_no_request_token(ctx: Context) -> None:
    ctx.ticks = lambda: 100.0
    await accounts.create_account(ctx, "alice")
    await access.change_allowed_ips(ctx, "alice", add=["127.0.0.1"])
    alice = await access.set_limits(ctx, "alice", requests_per_second=1)
    with pytest.raises(AddressRefused):
        await access.admit_caller(ctx, alice, "127.0.0.2")
    await access.admit_caller(ctx, alice, "127.0.0.1")


def order(*mobiles: str) -> SmsOrder:
    return SmsOrder(message="Hello", recipients=[Recipient(mobile=m) for m in mobiles])


async def test_sends_take_a_token_per_recipient(ctx: Context) -> None:
    now = [100.0]
    ctx.ticks = lambda: now[0]
    await accounts.create_account(ctx, "alice", credits=1000)
    alice = await access.set_limits(ctx, "alice", messages_per_second=20)  # a bucket of 2
    await sending.send(ctx, alice, order("0611111111", "0622222222"))
    with pytest.raises(Throttled) as caught:
        await sending.send(ctx, alice, order("0633333333"))
    assert caught.value.wait == pytest.approx(0.05)
    assert caught.value.retry_after == 1
    assert "may send 20 messages per second" in str(caught.value)
    assert count_rows(ctx, campaigns) == 1  # the throttled send wrote nothing
    # a simulation takes nothing
    await sending.send(ctx, alice, order("0633333333"), simulate=True)
    now[0] += 0.1
    # a refused send gives its tokens back
    with pytest.raises(SendRefused):
        await sending.send(ctx, alice, order("not a number", "nor this"))
    await sending.send(ctx, alice, order("0633333333", "0644444444"))
    assert count_rows(ctx, campaigns) == 2


async def test_a_campaign_bigger_than_the_bucket_passes_whole_then_waits(ctx: Context) -> None:
    now = [100.0]
    ctx.ticks = lambda: now[0]
    await accounts.create_account(ctx, "alice", credits=100_000)
    alice = await access.set_limits(ctx, "alice", messages_per_second=50)
    mobiles = [f"0611{n:06d}" for n in range(100)]
    await sending.send(ctx, alice, order(*mobiles))  # 100 messages: 2 s of the limit
    with pytest.raises(Throttled) as caught:
        await sending.send(ctx, alice, order("0633333333"))
    assert caught.value.retry_after == 2
    now[0] += 2
    await sending.send(ctx, alice, order("0633333333"))


async def test_an_account_without_limits_never_waits(ctx: Context) -> None:
    await accounts.create_account(ctx, "alice")
    alice = await fresh(ctx)
    assert access.take_messages(ctx, alice, 10**6) == 0.0
    assert access.take_request(ctx, alice) == 0.0
    assert ctx.throttles.buckets == {}


async def test_a_refused_address_is_logged_with_it(ctx: Context) -> None:
    from structlog.testing import capture_logs

    new = await accounts.create_account(ctx, "alice")
    await access.change_allowed_ips(ctx, "alice", add=["127.0.0.1"])
    with capture_logs() as logs, pytest.raises(AddressRefused):
        await access.check_address(ctx, await fresh(ctx), "2001:db8::9")
    assert logs == [
        {
            "event": "address refused",
            "log_level": "warning",
            "login": "alice",
            "address": "2001:db8::9",
        }
    ]
    assert new.api_key not in str(logs)
