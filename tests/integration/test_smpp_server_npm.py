"""Hirondelle's SMPP server against the npm `smpp` client (tests/peers/esme.js), the scenario of
test_smpp_server.py: a GSM message, a 3-part UCS-2 one, an invalid number, receipts from the
embedded simulator, a reply through POST /_sim/mo (what `hirondelle sim mo` calls), and a
receipt kept until the next bind; a wrong password, a bind over max_binds and a submit without
credit. npm installs the package on first use; the tests skip when it cannot, unless
HIRONDELLE_TEST_REQUIRE_NPM is set (then they fail)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.smpp.constants import CommandStatus as S
from hirondelle.smppserver.submits import ESME_RNOCREDIT
from tests.helpers import make_account
from tests.integration.test_smpp_peers import PEERS, npm_smpp_ready
from tests.integration.test_smpp_server import (
    LONG_UCS2,
    PASSWORD,
    PHONE,
    running,  # noqa: F401  (the fixture)
    set_max_binds,
    set_password,
    wait_until,
)

REQUIRE_ENV = "HIRONDELLE_TEST_REQUIRE_NPM"


class NodeEsme:
    def __init__(self, port: int) -> None:
        self.process = subprocess.Popen(
            ["node", str(PEERS / "esme.js"), str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.append(json.loads(line))

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e["event"] == kind and all(e.get(k) == v for k, v in match.items())
        ]

    def wait(self, predicate: Callable[[], bool]) -> None:
        wait_until(predicate)

    def bind(self, mode: str, system_id: str, password: str = PASSWORD) -> int:
        count = len(self.of("bind"))
        self.send(cmd="bind", mode=mode, system_id=system_id, password=password)
        self.wait(lambda: len(self.of("bind")) > count)
        return int(self.of("bind")[-1]["status"])

    def receipts(self) -> list[dict[str, Any]]:
        return [e for e in self.of("deliver") if e["esm_class"] & 0x04]

    def replies(self) -> list[dict[str, Any]]:
        return [e for e in self.of("deliver") if not e["esm_class"] & 0x04]

    def close(self) -> None:
        self.send(cmd="unbind")
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def node_esmes() -> Iterator[Callable[[int], NodeEsme]]:
    reason = npm_smpp_ready()
    if reason is not None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but {reason}")
        pytest.skip(reason)
    started: list[NodeEsme] = []

    def start(port: int) -> NodeEsme:
        esme = NodeEsme(port)
        started.append(esme)
        return esme

    yield start
    for esme in started:
        if esme.process.poll() is None:
            esme.process.kill()
            esme.process.wait()


def test_npm_smpp_submits_and_gets_receipts_and_replies(
    running: tuple[Context, TestClient, int],  # noqa: F811
    node_esmes: Callable[[int], NodeEsme],
    database_url: str,
) -> None:
    ctx, client, port = running
    make_account(ctx, "shop", credits=100)
    set_password(database_url, "shop", "--password", PASSWORD)
    esme = node_esmes(port)
    assert esme.bind("transceiver", "shop") == S.ESME_ROK
    esme.send(cmd="submit", destination=PHONE, text="Hello from npm smpp")
    esme.send(cmd="submit", destination=PHONE, text=LONG_UCS2, parts=3)
    esme.send(cmd="submit", destination="12", text="To nowhere")
    esme.wait(lambda: len(esme.of("submit_resp")) == 5)
    statuses = [e["status"] for e in esme.of("submit_resp")]
    assert statuses.count(0) == 4 and statuses.count(S.ESME_RINVDSTADR) == 1
    ids = {e["message_id"] for e in esme.of("submit_resp", status=0)}
    assert len(ids) == 2  # the 3 parts share one smsId
    esme.wait(lambda: len(esme.receipts()) == 2)
    assert {r["receipted_message_id"] for r in esme.receipts()} == ids
    assert all("stat:DELIVRD" in r["text"] and r["message_state"] == 2 for r in esme.receipts())
    answer = client.post("/_sim/mo", json={"from": PHONE, "text": "Merci", "to": "36180"})
    assert answer.status_code == 200, answer.text
    esme.wait(lambda: len(esme.replies()) == 1)
    assert esme.replies()[0]["text"] == "Merci"
    esme.close()

    # A receipt produced while nothing is bound arrives after the next bind.
    sender = node_esmes(port)
    assert sender.bind("transmitter", "shop") == S.ESME_ROK
    sender.send(cmd="submit", destination=PHONE, text="Nobody listens yet")
    sender.wait(lambda: len(sender.of("submit_resp")) == 1)
    sms_id = sender.of("submit_resp")[0]["message_id"]
    sender.close()
    receiver = node_esmes(port)
    assert receiver.bind("receiver", "shop") == S.ESME_ROK
    receiver.wait(lambda: any(r["receipted_message_id"] == sms_id for r in receiver.receipts()))
    receiver.close()


def test_npm_smpp_refusals(
    running: tuple[Context, TestClient, int],  # noqa: F811
    node_esmes: Callable[[int], NodeEsme],
    database_url: str,
) -> None:
    ctx, _client, port = running
    make_account(ctx, "shop", credits=0)
    set_password(database_url, "shop", "--password", PASSWORD)
    set_max_binds(database_url, "shop", 1)
    assert node_esmes(port).bind("transceiver", "shop", "wrong1") == S.ESME_RINVPASWD
    first = node_esmes(port)
    assert first.bind("transmitter", "shop") == S.ESME_ROK
    assert node_esmes(port).bind("receiver", "shop") == S.ESME_RBINDFAIL
    first.send(cmd="submit", destination=PHONE, text="No credit left")
    first.wait(lambda: len(first.of("submit_resp")) == 1)
    assert first.of("submit_resp")[0]["status"] == ESME_RNOCREDIT
    first.close()
