"""SMSC faults during a campaign: a dropped connection, an SMSC-initiated unbind, a failing store.

The server runs in-process (TestClient, embedded simulator); the simulator is driven from the
test through the app's event loop (the TestClient's portal).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.services import delivery
from hirondelle.smpp.simulator import SmscSimulator
from hirondelle.smpp.times import parse_time
from hirondelle.store.schema import ledger, messages
from tests.helpers import Creds, json_answer, make_account

CAMPAIGN = 1500
PHONES = ("0612346666", "0612340001")  # the first is throttled for ever, the second delivered


def simulator_of(client: TestClient) -> SmscSimulator:
    simulator = client.app.state.workers.simulator  # type: ignore[attr-defined]
    assert simulator is not None
    return simulator  # type: ignore[no-any-return]


def wait_until(
    predicate: Callable[[], bool], timeout: float = 60.0, state: Callable[[], object] = str
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"condition not met in time: {state()}"
        time.sleep(0.02)


def final_count(ctx: Context) -> int:
    return ctx.store.read_sync(
        lambda conn: conn.execute(
            sa.select(sa.func.count()).where(messages.c.state == "final")
        ).scalar_one()
    )


def send_campaign(client: TestClient, creds: Creds, size: int = CAMPAIGN) -> None:
    numbers = [f"06{20_000_001 + i:08d}" for i in range(size)]  # no special endings
    feed = {"DATA": {"MESSAGE": "Fault test", "SMS": [{"MOBILEPHONE": n} for n in numbers]}}
    answer = json_answer(
        client.post("/http/9.0/sendSms", data=creds.params(smsData=json.dumps(feed)))
    )
    assert answer["status"] == 100


def message_states(ctx: Context) -> dict[tuple[str, int], int]:
    query = sa.select(messages.c.state, messages.c.status, sa.func.count()).group_by(
        messages.c.state, messages.c.status
    )
    found = ctx.store.read_sync(lambda conn: conn.execute(query).all())
    return {(state, status): n for state, status, n in found}


def all_delivered(ctx: Context) -> bool:
    return message_states(ctx) == {("final", 1): CAMPAIGN}


@pytest.mark.parametrize("fault", ["drop", "unbind"])
def test_campaign_survives_a_drop_and_an_unbind(
    live: tuple[Context, TestClient], fault: str
) -> None:
    ctx, client = live
    simulator = simulator_of(client)
    portal: Any = client.portal  # type: ignore[attr-defined]
    binds_before = simulator.records.binds
    send_campaign(client, make_account(ctx, credits=CAMPAIGN * 15))
    wait_until(lambda: final_count(ctx) >= CAMPAIGN // 10)
    portal.call(simulator.drop if fault == "drop" else simulator.unbind_clients)
    wait_until(lambda: simulator.records.binds > binds_before + 0)
    wait_until(lambda: all_delivered(ctx), state=lambda: message_states(ctx))
    assert simulator.records.binds >= binds_before + 1


def test_a_receipt_not_stored_is_not_acknowledged(
    live: tuple[Context, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, client = live
    simulator = simulator_of(client)
    simulator.resend_timeout = 0.2
    failures = {"left": 3}
    original = delivery.record_receipts

    async def failing_store(*args: Any, **kwargs: Any) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("disk full")
        await original(*args, **kwargs)

    monkeypatch.setattr(delivery, "record_receipts", failing_store)
    creds = make_account(ctx, credits=1000)
    feed = {"DATA": {"MESSAGE": "Hello", "SMS": [{"MOBILEPHONE": "0611111111"}]}}
    json_answer(client.post("/http/9.0/sendSms", data=creds.params(smsData=json.dumps(feed))))
    wait_until(lambda: final_count(ctx) == 1, timeout=20)
    # stored first, acknowledged after: the answer may still be on its way to the SMSC
    wait_until(lambda: len(simulator.records.acknowledged) == 1, timeout=20)
    assert failures["left"] == 0
    # the receipt went out once per failed attempt, plus the one that was stored and acknowledged
    assert simulator.records.deliveries_sent >= 4
    assert len(simulator.records.acknowledged) == 1


@pytest.fixture
def fast_sweep(live: tuple[Context, TestClient]) -> tuple[Context, TestClient]:
    """The live server, sweeping every 50 ms and throttled submits retried at once."""
    workers = live[1].app.state.workers  # type: ignore[attr-defined]
    workers.dispatcher.sweep_interval = 0.05
    for connector in workers.connectors.values():
        connector.session.config = replace(connector.session.config, throttle_delay=0.001)
    return live


def test_a_message_throttled_for_ever_fails_at_the_end_of_its_validity(
    fast_sweep: tuple[Context, TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    ctx, client = fast_sweep
    simulator = simulator_of(client)
    simulator.always_throttled = ("6666",)
    creds = make_account(ctx, credits=1000)
    feed = {"DATA": {"MESSAGE": "Hi", "SMS": [{"MOBILEPHONE": n} for n in PHONES]}}
    sent = json_answer(
        client.post("/http/9.0/sendSms", data=creds.params(smsData=json.dumps(feed)))
    )
    assert sent["status"] == 100
    wait_until(lambda: final_count(ctx) == 1 and simulator.records.submit_count >= 5)
    # ... and so on for 48 hours: let them pass
    throttled = messages.c.phone == "33612346666"
    soon = datetime.now(UTC) + timedelta(milliseconds=100)
    ctx.store.write_sync(
        lambda conn: conn.execute(sa.update(messages).where(throttled).values(expires_at=soon))
    )
    wait_until(lambda: final_count(ctx) == 2, timeout=20, state=lambda: message_states(ctx))
    assert message_states(ctx) == {("final", 1): 1, ("final", 4): 1}
    row = ctx.store.read_sync(
        lambda conn: conn.execute(sa.select(messages).where(throttled)).one()._mapping
    )
    refunds = ctx.store.read_sync(
        lambda conn: conn.execute(sa.select(ledger).where(ledger.c.kind == "refund")).all()
    )
    assert [(r.reference, r.delta) for r in refunds] == [(row["sms_id"], 15)]
    # every submit_sm said how long the SMSC may keep trying: the 48 hours left, or nearly
    for pdu in simulator.records.submits:
        meant = parse_time(pdu.validity_period, datetime.now(UTC))
        assert meant is not None and pdu.validity_period.endswith("R")
        assert timedelta(hours=47) < meant - datetime.now(UTC) <= timedelta(hours=48)
    assert any("ESME_RTHROTTLED" in r.getMessage() for r in caplog.records)
