"""Webhooks end to end: simulator receipts pushed to a real HTTP server, signed, in order; a
receiver that is down gets everything once back, across a restart; private addresses refused."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.config import Settings
from hirondelle.context import Context
from hirondelle.notify import webhooks
from hirondelle.notify.webhooks import deliver_due
from hirondelle.store import Store
from hirondelle.store import webhooks as outbox
from hirondelle.store.engine import create_engine
from hirondelle.store.schema import messages, webhook_events
from tests.conftest import TEST_SECRET, make_settings
from tests.helpers import Creds, json_answer, make_account
from tests.integration.test_delivery_embedded import wait_until
from tests.integration.webhook_receiver import (
    RECEIPT_DELAY,
    Receiver,
    running_receiver,
)

SECRET = "s3cret-for-the-webhook-tests"
RECEIPT_VARIABLES = {"smsId", "status", "statusText", "receptionDate", "phoneNumber", "campaignId"}


def open_ctx(settings: Settings) -> Context:
    return Context(
        store=Store(create_engine(settings.database_url)), settings=settings, secret=TEST_SECRET
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def live_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url, tmp_path, workers=True, allow_private_addresses=True, **RECEIPT_DELAY
    )


def api(client: TestClient, method: str, creds: Creds, **params: Any) -> Any:
    return json_answer(client.post(f"/http/9.0/{method}", data=creds.params(**params)))


def send(client: TestClient, creds: Creds, *numbers: str) -> dict[str, Any]:
    feed = {"DATA": {"MESSAGE": "Hello", "SMS": [{"MOBILEPHONE": n} for n in numbers]}}
    answer = api(client, "sendSms", creds, smsData=json.dumps(feed))
    assert answer["status"] == 100, answer
    return dict(answer)


def outbox_states(ctx: Context) -> list[str]:
    return ctx.store.read_sync(
        lambda conn: list(conn.execute(sa.select(webhook_events.c.state)).scalars())
    )


def all_final(ctx: Context) -> bool:
    states = ctx.store.read_sync(
        lambda conn: list(conn.execute(sa.select(messages.c.state)).scalars())
    )
    return bool(states) and all(state == "final" for state in states)


def test_one_signed_get_per_status_change(live_settings: Settings, receiver: Receiver) -> None:
    ctx = open_ctx(live_settings)
    creds = make_account(ctx)
    with TestClient(create_app(ctx)) as client:
        configured = api(
            client, "setWebhooks", creds, receiptUrl=receiver.url("/dlr?key=k%201"), secret=SECRET
        )
        assert configured == {
            "receiptUrl": receiver.url("/dlr?key=k%201"),
            "replyUrl": "",
            "hasSecret": True,
            "receiptEvents": "all",
            "batch": 0,
        }
        numbers = {"0611111111": 1, "0611110000": 2, "0611119999": 4, "0611118888": 5}
        answer = send(client, creds, *numbers)
        sms_ids = {item["phoneNumber"]: item["smsId"] for item in answer["smsIds"]}
        # transmitted then final for each, except the rejected one (no transmitted)
        wait_until(lambda: len(receiver.answered()) == 7 and all_final(ctx))

        acks = api(client, "getAcks", creds, campId=answer["campaignId"])["acks"]
        assert {a["phoneNumber"]: a["status"] for a in acks} == {
            "33611111111": "1",
            "33611110000": "2",
            "33611119999": "4",
            "33611118888": "5",
        }
        by_id = api(client, "getAckBySmsId", creds, smsIds=";".join(sms_ids.values()))["acks"]
        assert sorted(a["status"] for a in by_id) == ["1", "2", "4", "5"]
        assert all(a["smsId"] == sms_ids[a["phoneNumber"]] for a in by_id)

    hits = receiver.answered()
    assert all(hit.signed_with(SECRET) for hit in hits)
    assert not any(hit.signed_with(SECRET + "x") for hit in hits)
    assert all(hit.path == "/dlr" and hit.params["key"] == "k 1" for hit in hits)
    assert len({hit.event_id for hit in hits}) == 7
    sequences: dict[str, list[str]] = {}
    for hit in hits:
        params = hit.params
        del params["key"]
        assert set(params) == RECEIPT_VARIABLES
        sequences.setdefault(params["phoneNumber"], []).append(params["status"])
        assert params["campaignId"] == answer["campaignId"]
        assert params["smsId"] == sms_ids[params["phoneNumber"]]
        assert len(params["receptionDate"]) == 19
    assert sequences == {
        "33611111111": ["3", "1"],
        "33611110000": ["3", "2"],
        "33611119999": ["4"],
        "33611118888": ["3", "5"],
    }
    texts = {hit.params["status"]: hit.params["statusText"] for hit in hits}
    assert texts["1"] == "Delivered" and texts["3"] == "Transmitted to the operator"
    ctx.close()


def test_a_receiver_down_gets_everything_once_back_across_a_restart(
    live_settings: Settings, receiver: Receiver
) -> None:
    receiver.status = 503
    ctx = open_ctx(live_settings)
    creds = make_account(ctx)
    with TestClient(create_app(ctx)) as client:
        api(client, "setWebhooks", creds, receiptUrl=receiver.url("/dlr"), secret=SECRET)
        send(client, creds, "0611111111", "0622222222")
        # the live sender tried and failed; the delivered events wait behind the transmitted
        wait_until(lambda: len(receiver.answered(503)) >= 2 and len(outbox_states(ctx)) == 4)
    assert outbox_states(ctx) == ["pending"] * 4
    ctx.close()  # Hirondelle stops

    receiver.status = 200
    later = open_ctx(live_settings)  # and starts again on the same store, an hour later

    async def drain() -> int:
        total, now = 0, datetime.now(UTC) + timedelta(hours=1)
        while tried := await deliver_due(later, now=now):
            total += tried
        return total

    assert asyncio.run(drain()) == 4
    assert outbox_states(later) == ["done"] * 4
    hits = receiver.answered()
    assert len({hit.event_id for hit in hits}) == len(hits) == 4
    per_phone: dict[str, list[str]] = {}
    for hit in hits:
        per_phone.setdefault(hit.params["phoneNumber"], []).append(hit.params["status"])
    assert per_phone == {"33611111111": ["3", "1"], "33622222222": ["3", "1"]}
    later.close()


# -- the outbox without the SMPP path -------------------------------------------------------------


@pytest.fixture
def queued(ctx: Context) -> Iterator[Any]:
    """Queue an event for `url` (as the delivery path does) and return its id."""
    make_account(ctx)
    account_id = ctx.store.read_sync(
        lambda conn: conn.execute(sa.text("SELECT id FROM accounts")).scalar_one()
    )

    def queue(url: str, key: str = "m1", at: datetime | None = None, **params: str) -> int:
        def write(conn: Any) -> int:
            outbox.queue_event(
                conn, account_id, "receipt", key, url, params or {"a": "1"}, at or now()
            )
            return int(conn.execute(sa.select(sa.func.max(webhook_events.c.id))).scalar_one())

        return ctx.store.write_sync(write)

    yield queue


def now() -> datetime:
    return datetime.now(UTC)


def event_row(ctx: Context, event_id: int) -> Any:
    return ctx.store.read_sync(
        lambda conn: conn.execute(
            sa.select(webhook_events).where(webhook_events.c.id == event_id)
        ).one()
    )


async def fixed_resolver_10(_host: str, _port: int) -> list[str]:
    return ["10.0.0.7"]


async def local_resolver(_host: str, _port: int) -> list[str]:
    return ["127.0.0.1"]  # any name is this machine: the receiver (private addresses allowed)


def deliver(ctx: Context, at: datetime | None = None) -> int:
    return asyncio.run(deliver_due(ctx, at, resolver=local_resolver))


@pytest.mark.parametrize("url", ["http://10.1.2.3/hook", "http://hooks.example.com/hook"])
def test_private_addresses_are_refused_before_connecting(
    ctx: Context, queued: Any, url: str
) -> None:
    event_id = queued(url)
    assert asyncio.run(deliver_due(ctx, resolver=fixed_resolver_10)) == 1
    row = event_row(ctx, event_id)
    assert row.state == "pending" and "10." in row.last_error and "private" in row.last_error


def test_private_addresses_are_reached_when_allowed(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    ctx = open_ctx(make_settings(database_url, tmp_path, allow_private_addresses=True))
    make_account(ctx)
    account_id = ctx.store.read_sync(
        lambda conn: conn.execute(sa.text("SELECT id FROM accounts")).scalar_one()
    )
    ctx.store.write_sync(
        lambda conn: outbox.queue_event(
            conn, account_id, "reply", "r1", receiver.url("/mo"), {"message": "a b&c"}, now()
        )
    )
    assert asyncio.run(deliver_due(ctx)) == 1
    [hit] = receiver.answered()
    assert hit.params == {"message": "a b&c"} and "x-hirondelle-signature" not in hit.headers
    ctx.close()


@pytest.fixture
def local(ctx: Context) -> Context:
    ctx.settings.allow_private_addresses = True  # names resolve to the receiver (local_resolver)
    return ctx


def test_outcomes_410_stops_and_other_statuses_retry(
    local: Context, queued: Any, receiver: Receiver
) -> None:
    first = queued(receiver.url("/a", "hooks.example.com"), "m1")
    second = queued(receiver.url("/b", "x.example"), "m2")
    receiver.status = 500
    deliver(local)
    retried = event_row(local, first)
    assert (retried.state, retried.attempts, retried.last_error) == ("pending", 1, "HTTP 500")
    wait = retried.next_attempt_at.replace(tzinfo=UTC) - now()
    assert timedelta(seconds=3) < wait <= timedelta(seconds=11)
    # not due yet: nothing is tried
    assert deliver(local) == 0
    receiver.status = 410
    assert deliver(local, now() + timedelta(minutes=1)) == 2
    assert event_row(local, second).state == "dead"
    assert len(receiver.hits) == 4
    assert receiver.hits[0].event_id == str(first) or receiver.hits[1].event_id == str(first)


def test_events_of_one_message_go_in_order_and_die_after_the_horizon(
    local: Context, queued: Any, receiver: Receiver
) -> None:
    start = now()
    url = receiver.url("/a", "hooks.example.com")
    first = queued(url, "m1", start, status="3")
    second = queued(url, "m1", start, status="1")
    receiver.status = 503

    def statuses() -> list[str]:
        return [hit.params["status"] for hit in receiver.hits]

    deliver(local, start)
    assert statuses() == ["3"]  # "1" waits for "3"
    assert deliver(local, start + timedelta(hours=2))
    assert statuses() == ["3", "3"]
    # past 24 hours the first is given up, and the second may go
    deliver(local, start + timedelta(hours=25))
    assert event_row(local, first).state == "dead"
    assert "given up after 3 attempts" in event_row(local, first).last_error
    receiver.status = 204
    deliver(local, start + timedelta(hours=25))
    assert event_row(local, second).state == "done"
    assert statuses() == ["3", "3", "3", "1"]


def test_a_slow_receiver_does_not_hold_other_accounts(local: Context, receiver: Receiver) -> None:
    ctx = local
    make_account(ctx, "slow")
    make_account(ctx, "fast")
    ids = dict(
        ctx.store.read_sync(
            lambda conn: conn.execute(sa.text("SELECT login, id FROM accounts")).all()
        )
    )
    slow_url, fast_url = receiver.url("/", "slow.example"), receiver.url("/", "fast.example")

    def queue_many(conn: Any) -> None:
        for n in range(ctx.settings.webhook_concurrency + 8):
            outbox.queue_event(conn, ids["slow"], "receipt", f"s{n}", slow_url, {}, now())
        outbox.queue_event(conn, ids["fast"], "receipt", "f", fast_url, {}, now())

    ctx.store.write_sync(queue_many)
    receiver.held_host = "slow.example"

    def hosts() -> list[str]:
        return [hit.headers["host"].partition(":")[0] for hit in list(receiver.hits)]

    async def scenario() -> None:
        sender = webhooks.WebhookSender(ctx, local_resolver)
        stop = asyncio.Event()
        loop = asyncio.create_task(sender.run(stop))
        for _ in range(500):
            if "fast.example" in hosts() and len(hosts()) > ctx.settings.webhook_concurrency:
                break
            await asyncio.sleep(0.01)
        # the fast account was served while the slow one holds only its own slots
        assert "fast.example" in hosts()
        assert hosts().count("slow.example") == ctx.settings.webhook_concurrency
        receiver.released.set()
        stop.set()
        await loop
        await sender.aclose()

    asyncio.run(scenario())


def webhook_metrics(client: TestClient) -> dict[str, float]:
    text = client.get("/metrics").text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("hirondelle_webhook")
    }


def test_failed_deliveries_are_logged_and_counted_in_metrics(
    live_settings: Settings, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hirondelle.notify.webhooks")
    receiver.status = 500
    ctx = open_ctx(live_settings)
    make_account(ctx)
    account_id = ctx.store.read_sync(
        lambda conn: conn.execute(sa.text("SELECT id FROM accounts")).scalar_one()
    )
    url = receiver.url("/hook?token=t0ps3cret")
    with TestClient(create_app(ctx)) as client:
        assert webhook_metrics(client) == {
            "hirondelle_webhook_delivered_total": 0,
            "hirondelle_webhook_failed_total": 0,
            "hirondelle_webhook_given_up_total": 0,
        }
        for key in ("m1", "m2"):
            ctx.store.write_sync(
                lambda conn, key=key: outbox.queue_event(
                    conn, account_id, "receipt", key, url, {"a": "1"}, now()
                )
            )
        wait_until(lambda: webhook_metrics(client)["hirondelle_webhook_failed_total"] == 2)
        receiver.status = 410
        ctx.store.write_sync(
            lambda conn: outbox.queue_event(conn, account_id, "reply", "m3", url, {}, now())
        )
        wait_until(lambda: webhook_metrics(client)["hirondelle_webhook_given_up_total"] == 1)
        assert webhook_metrics(client)["hirondelle_webhook_delivered_total"] == 0
    ctx.close()
    warnings = sorted(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert len(warnings) == 3, warnings
    address = receiver.url("/hook")
    assert warnings[0].startswith(f"webhook event 1 of account {account_id} to {address}: ")
    assert "HTTP 500; next try at " in warnings[0]
    assert "HTTP 410 Gone" in warnings[2] and "given up" in warnings[2]
    assert not any("t0ps3cret" in warning for warning in warnings)
