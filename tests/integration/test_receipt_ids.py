"""Receipts land on their own message whatever the SMSC does with its ids: an SMSC whose ids
wrap, and restarts of the simulator and of the server in the middle of traffic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.config import ConnectorConfig
from hirondelle.context import Context
from hirondelle.store.schema import messages, webhook_events
from tests.conftest import TEST_SECRET, make_settings
from tests.helpers import Creds, json_answer, make_account
from tests.integration.test_crash_recovery import SimulatorThread
from tests.integration.test_delivery_embedded import wait_until
from tests.integration.test_webhooks import open_ctx
from tests.integration.webhook_receiver import Receiver, running_receiver
from tests.processes import Running

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
            name="wrap", host="127.0.0.1", port=sim.port, system_id="test", window=100
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


# -- restarts, with `hirondelle serve` and `hirondelle smsc-sim` as real processes -------------


class Platform:
    """`hirondelle serve` on `database_url` (its simulator inside unless `connector_port`), an
    account whose receipt webhook is `receiver`, and what the store holds."""

    def __init__(self, database_url: str, tmp_path: Path, receiver: Receiver) -> None:
        self.tmp_path = tmp_path
        self.receiver = receiver
        self.env = {
            "HIRONDELLE_DATABASE_URL": database_url,
            "HIRONDELLE_VAR_DIR": str(tmp_path / "var"),
            "HIRONDELLE_SECRET_KEY": TEST_SECRET.decode(),
            "HIRONDELLE_DEMO_ACCOUNT": "false",
            "HIRONDELLE_ALLOW_PRIVATE_ADDRESSES": "true",
            "HIRONDELLE_WEBHOOK_CONCURRENCY": "16",
            "HIRONDELLE_SIMULATOR_RECEIPT_DELAY": "0.1",
        }
        self.ctx = open_ctx(make_settings(database_url, tmp_path))
        self.creds = make_account(self.ctx, credits=10**6, receipt_url=receiver.url("/dlr"))
        self.sms_ids: dict[str, str] = {}
        self.server: Running | None = None

    def connect_to(self, port: int) -> None:
        connector = {"name": "sim", "host": "127.0.0.1", "port": port, "system_id": "t"}
        self.env["HIRONDELLE_CONNECTORS"] = json.dumps([{**connector, "window": 20}])

    def start(self) -> None:
        self.server = Running(["serve", "--port", "0"], self.tmp_path, self.env)
        self.url = self.server.expect(r"listening on (http://\S+)")[1]

    def stop(self, *, kill: bool = False) -> None:
        assert self.server is not None
        if kill:
            self.server.process.kill()
            self.server.process.wait(10)
        else:
            assert self.server.terminate(30) == 0

    def send(self, phones: list[str]) -> None:
        feed = {"DATA": {"MESSAGE": "Hi", "SMS": [{"MOBILEPHONE": n} for n in phones]}}
        data = self.creds.params(smsData=json.dumps(feed))
        answer = httpx.post(f"{self.url}/http/9.0/sendSms", data=data, timeout=30).json()
        assert answer["status"] == 100, answer
        self.sms_ids.update((item["phoneNumber"], item["smsId"]) for item in answer["smsIds"])

    def hooks(self) -> list[dict[str, str]]:
        """Receipt webhooks received, each event once (a restart may send one again)."""
        by_event = {hit.event_id: hit.params for hit in self.receiver.answered()}
        return list(by_event.values())

    def wait_all_final(self) -> None:
        """Every message sent final, and its two receipt webhooks (3, then final) received."""
        total = len(self.sms_ids)
        wait_until(lambda: len(statuses(self.ctx)) == total and len(self.hooks()) == 2 * total, 60)

    def check(self) -> None:
        check_outcomes(self.sms_ids, statuses(self.ctx), self.hooks())


@pytest.fixture
def platform(database_url: str, tmp_path: Path, receiver: Receiver) -> Iterator[Platform]:
    running = Platform(database_url, tmp_path, receiver)
    yield running
    if running.server is not None and running.server.process.poll() is None:
        running.server.process.kill()
        running.server.process.wait(10)
    running.ctx.close()


def smsc_sim(tmp_path: Path, port: int = 0) -> tuple[Running, int]:
    sim = Running(["smsc-sim", "--port", str(port), "--receipt-delay", "0.1"], tmp_path)
    return sim, int(sim.expect(r"SMSC simulator listening on 127\.0\.0\.1:(\d+)$")[1])


def test_a_restart_of_serve_and_its_simulator(platform: Platform) -> None:
    platform.start()
    platform.send(numbers(0, 50))
    platform.wait_all_final()
    platform.stop()  # the simulator inside stops with it, and starts again with it
    platform.start()
    platform.send(numbers(50, 50))
    platform.wait_all_final()
    platform.stop()
    platform.check()


def test_restarts_of_smsc_sim_and_of_serve_in_the_middle_of_traffic(platform: Platform) -> None:
    sim, port = smsc_sim(platform.tmp_path)
    try:
        platform.connect_to(port)
        platform.start()
        platform.send(numbers(0, 50))
        platform.wait_all_final()
        sim.terminate()
        platform.send(numbers(50, 50))  # queued while the SMSC is down
        sim, _port = smsc_sim(platform.tmp_path, port)
        platform.wait_all_final()
        platform.send(numbers(100, 50))
        platform.stop(kill=True)  # in the middle of its submits
        platform.start()
        platform.wait_all_final()
        platform.stop()
    finally:
        sim.terminate()
    platform.check()
