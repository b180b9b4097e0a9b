"""Receipts land on their own message whatever the SMSC does with its ids: an SMSC whose ids
wrap, and restarts of the simulator and of the server in the middle of traffic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.config import ConnectorConfig
from hirondelle.services.context import Context
from hirondelle.store.schema import messages, webhook_events
from tests.conftest import make_settings
from tests.helpers import Creds, json_answer, make_account
from tests.integration.test_crash_recovery import SimulatorThread
from tests.integration.test_delivery_embedded import wait_until
from tests.integration.test_webhooks import open_ctx
from tests.integration.webhook_receiver import Receiver, running_receiver

FINAL = {"1111": 1, "0000": 2}  # by the number's last digits (the simulator's rules)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def numbers(first: int, count: int) -> list[str]:
    """Numbers whose outcome alternates, so that the k-th and the (k + 1000)-th differ too."""
    outcome = ("1111", "0000")
    return [f"07{5000 + i:04d}{outcome[(i + i // 1000) % 2]}" for i in range(first, first + count)]


def send(client: TestClient, creds: Creds, phones: list[str]) -> dict[str, str]:
    """Send to `phones` 2,500 at a time; return smsId by international number."""
    sms_ids: dict[str, str] = {}
    for start in range(0, len(phones), 2500):
        feed = {
            "DATA": {
                "MESSAGE": "Hi",
                "SMS": [{"MOBILEPHONE": n} for n in phones[start : start + 2500]],
            }
        }
        answer = json_answer(
            client.post("/http/9.0/sendSms", data=creds.params(smsData=json.dumps(feed)))
        )
        assert answer["status"] == 100, answer
        sms_ids.update((item["phoneNumber"], item["smsId"]) for item in answer["smsIds"])
    return sms_ids


def statuses(ctx: Context) -> dict[str, int]:
    """The status of each final message, by smsId."""
    query = sa.select(messages.c.sms_id, messages.c.status).where(messages.c.state == "final")
    return ctx.store.read_sync(lambda conn: {s: v for s, v in conn.execute(query)})


def queued_receipts(ctx: Context) -> list[dict[str, str]]:
    """The parameters of every receipt webhook queued (what goes out)."""
    query = sa.select(webhook_events.c.params).where(webhook_events.c.kind == "receipt")
    return [
        orjson.loads(p) for p in ctx.store.read_sync(lambda c: list(c.execute(query).scalars()))
    ]


def check_outcomes(
    sms_ids: dict[str, str], found: dict[str, int], hooks: list[dict[str, str]]
) -> None:
    """Every message final with its own outcome; one final receipt webhook each, naming it."""
    expected = {sms_id: FINAL[phone[-4:]] for phone, sms_id in sms_ids.items()}
    assert found == expected
    finals: dict[str, set[int]] = {}
    for params in hooks:
        assert sms_ids[params["phoneNumber"]] == params["smsId"]
        if params["status"] != "3":
            finals.setdefault(params["smsId"], set()).add(int(params["status"]))
    assert finals == {sms_id: {status} for sms_id, status in expected.items()}


def test_an_smsc_whose_ids_wrap_every_1000_messages(database_url: str, tmp_path: Path) -> None:
    with SimulatorThread(wrap_ids=1000, resend_timeout=60.0) as sim:
        connector = ConnectorConfig(
            name="wrap", host="127.0.0.1", port=sim.port, system_id="test", window=50
        )
        settings = make_settings(database_url, tmp_path, workers=True, connectors=[connector])
        ctx = open_ctx(settings)
        creds = make_account(ctx, credits=10**6, receipt_url="https://hooks.example/dlr")
        with TestClient(create_app(ctx)) as client:
            sms_ids = send(client, creds, numbers(0, 5000))
            wait_until(lambda: len(statuses(ctx)) == 5000, 180)
        assert len(sim.simulator.records.submits) == 5000
        assert (
            len({int(i.receipted_message_id or "", 16) for i in sim.simulator.records.acknowledged})
            == 1000
        )
        check_outcomes(sms_ids, statuses(ctx), queued_receipts(ctx))
        ctx.close()
