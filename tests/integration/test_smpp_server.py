"""Hirondelle's SMPP server against a third-party ESME: PyPI smpplib (blocking sockets, in the
test thread, while the server runs in the app's event loop). The npm `smpp` client runs the
same scenario in test_smpp_server_npm.py. Receipts come from the embedded SMSC simulator,
replies are injected through POST /_sim/mo (what `hirondelle sim mo` calls)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
from starlette.testclient import TestClient
from typer.testing import CliRunner

from hirondelle.cli import app as cli_app
from hirondelle.context import Context
from hirondelle.smppserver.submits import ESME_RNOCREDIT
from hirondelle.store import smpp_deliveries
from tests.conftest import live_app, make_settings
from tests.helpers import make_account

PASSWORD = "s3cret"
PHONE = "33612345678"
LONG_UCS2 = "Привет! " * 24  # 192 characters: 3 UCS-2 parts


class Esme:
    """An smpplib client and what it received."""

    def __init__(self, port: int, bind: str, system_id: str, password: str = PASSWORD) -> None:
        self.client = smpplib.client.Client(
            "127.0.0.1", port, timeout=10, allow_unknown_opt_params=True
        )
        self.responses: list[Any] = []
        self.delivered: list[Any] = []
        self.client.set_message_sent_handler(lambda pdu: self.responses.append(pdu))
        self.client.set_error_pdu_handler(self._error)
        self.client.set_message_received_handler(self._received)
        self.client.connect()
        try:
            getattr(self.client, f"bind_{bind}")(system_id=system_id, password=password)
        except smpplib.exceptions.PDUError:
            self.client.disconnect()
            raise
        self.client._socket.settimeout(0.2)  # then read_once() returns often: pump() loops

    def _error(self, pdu: Any) -> None:
        if pdu.command != "submit_sm_resp":
            raise smpplib.exceptions.PDUError(pdu.command, int(pdu.status))

    def _received(self, pdu: Any) -> int:
        self.delivered.append(pdu)
        return 0

    def submit(self, text: str, destination: str = PHONE, source: str = "") -> int:
        parts, coding, esm_class = smpplib.gsm.make_parts(text)
        for part in parts:
            self.client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr=source,
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                destination_addr=destination,
                short_message=part,
                data_coding=coding,
                esm_class=esm_class,
                registered_delivery=True,
            )
        return len(parts)

    def pump(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        """Read PDUs (answering deliver_sm) until `predicate()`."""
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            try:
                self.client.read_once(auto_send_enquire_link=False)
            except TimeoutError:
                continue

    def receipts(self) -> list[Any]:
        return [p for p in self.delivered if int(p.esm_class) & 0x04]

    def replies(self) -> list[Any]:
        return [p for p in self.delivered if not int(p.esm_class) & 0x04]

    def close(self) -> None:
        try:
            self.client.unbind()
        finally:
            self.client.disconnect()


def set_password(url: str, login: str, *extra: str) -> str:
    result = CliRunner().invoke(
        cli_app, ["accounts", "smpp-password", login, "--database", url, *extra]
    )
    assert result.exit_code == 0, result.output
    return result.output


def set_max_binds(url: str, login: str, max_binds: int) -> None:
    result = CliRunner().invoke(
        cli_app, ["accounts", "smpp-max-binds", login, str(max_binds), "--database", url]
    )
    assert result.exit_code == 0, result.output


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def running(database_url: str, tmp_path: Path) -> Iterator[tuple[Context, TestClient, int]]:
    settings = make_settings(database_url, tmp_path, workers=True, smpp_server_port=0)
    with live_app(settings) as (ctx, client):
        server = client.app.state.workers.smpp_server  # type: ignore[attr-defined]
        yield ctx, client, server.port


def message_id(pdu: Any) -> str:
    value = pdu.message_id
    return value.decode() if isinstance(value, bytes) else str(value)


def test_smpplib_submits_and_gets_receipts_and_replies(
    running: tuple[Context, TestClient, int], database_url: str
) -> None:
    ctx, client, port = running
    make_account(ctx, "shop", credits=100)
    set_password(database_url, "shop", "--password", PASSWORD)
    esme = Esme(port, "transceiver", "shop")
    try:
        esme.submit("Hello from smpplib")
        parts = esme.submit(LONG_UCS2)
        assert parts == 3
        esme.submit("To nowhere", destination="12")
        esme.pump(lambda: len(esme.responses) == 5)
        statuses = [int(p.status) for p in esme.responses]
        assert statuses.count(0) == 4 and statuses.count(smpplib.consts.SMPP_ESME_RINVDSTADR) == 1
        ids = {message_id(p) for p in esme.responses if int(p.status) == 0}
        assert len(ids) == 2  # one smsId per message: the 3 parts share theirs
        esme.pump(lambda: len(esme.receipts()) == 2)
        receipts = esme.receipts()
        assert {r.receipted_message_id.decode() for r in receipts} == ids
        for receipt in receipts:
            text = receipt.short_message.decode()
            assert "stat:DELIVRD" in text and text.startswith("id:")
            assert int(receipt.message_state) == 2
        answer = client.post("/_sim/mo", json={"from": PHONE, "text": "Merci", "to": "36180"})
        assert answer.status_code == 200, answer.text
        esme.pump(lambda: len(esme.replies()) == 1)
        assert esme.replies()[0].short_message == b"Merci"
        esme.pump(lambda: ctx.store.read_sync(smpp_deliveries.count) == 0)
    finally:
        esme.close()


def test_receipts_wait_for_the_next_bind(
    running: tuple[Context, TestClient, int], database_url: str
) -> None:
    ctx, _client, port = running
    make_account(ctx, "shop", credits=100)
    output = set_password(database_url, "shop")
    generated = output.strip().rsplit(" ", 1)[-1]
    sender = Esme(port, "transmitter", "shop", generated)
    try:
        sender.submit("Nobody listens yet")
        sender.pump(lambda: len(sender.responses) == 1)
        assert int(sender.responses[0].status) == 0
    finally:
        sender.close()
    wait_until(lambda: ctx.store.read_sync(smpp_deliveries.count) == 1)  # the receipt, kept
    receiver = Esme(port, "receiver", "shop", generated)
    try:
        receiver.pump(lambda: len(receiver.receipts()) == 1)
        assert receiver.receipts()[0].receipted_message_id.decode() == message_id(
            sender.responses[0]
        )
    finally:
        receiver.close()


def test_refused_binds_and_submits(
    running: tuple[Context, TestClient, int], database_url: str
) -> None:
    ctx, _client, port = running
    make_account(ctx, "shop", credits=0)
    set_password(database_url, "shop", "--password", PASSWORD)
    with pytest.raises(smpplib.exceptions.PDUError) as wrong:
        Esme(port, "transceiver", "shop", "wrong1")
    assert wrong.value.args[1] == smpplib.consts.SMPP_ESME_RINVPASWD
    set_max_binds(database_url, "shop", 1)
    first = Esme(port, "transmitter", "shop")
    try:
        with pytest.raises(smpplib.exceptions.PDUError) as over:
            Esme(port, "receiver", "shop")
        assert over.value.args[1] == smpplib.consts.SMPP_ESME_RBINDFAIL
        first.submit("No credit left")
        first.submit("Bad sender", source="+-+")
        first.pump(lambda: len(first.responses) == 2)
        assert sorted(int(p.status) for p in first.responses) == sorted(
            [ESME_RNOCREDIT, smpplib.consts.SMPP_ESME_RINVSRCADR]
        )
    finally:
        first.close()
