"""Numbers no route serves: refused when the campaign is accepted, never charged nor queued.

The routes are the `prefixes` of the configured connectors; with no connector configured, the
built-in simulator serves every number.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.config import ConnectorConfig
from hirondelle.context import Context
from hirondelle.store import Store
from hirondelle.store.engine import create_engine
from hirondelle.store.schema import messages
from tests.conftest import TEST_SECRET, make_settings
from tests.helpers import Creds, json_answer, make_account

FRANCE = ConnectorConfig(name="fr", host="127.0.0.1", port=1, system_id="me", prefixes=["33"])
BELGIUM = ConnectorConfig(name="be", host="127.0.0.1", port=2, system_id="me", prefixes=["32"])


@pytest.fixture
def routed(database_url: str, tmp_path: Path) -> Iterator[tuple[Context, TestClient]]:
    settings = make_settings(database_url, tmp_path, connectors=[FRANCE, BELGIUM])
    ctx = Context(store=Store(create_engine(database_url)), settings=settings, secret=TEST_SECRET)
    try:
        with TestClient(create_app(ctx)) as client:
            yield ctx, client
    finally:
        ctx.close()


def send(client: TestClient, creds: Creds, *phones: str) -> dict[str, object]:
    feed = {"DATA": {"MESSAGE": "Hi", "SMS": [{"MOBILEPHONE": phone} for phone in phones]}}
    data = creds.params(smsData=json.dumps(feed))
    return json_answer(client.post("/http/9.0/sendSms", data=data))  # type: ignore[no-any-return]


def queued(ctx: Context) -> list[str]:
    query = sa.select(messages.c.phone).order_by(messages.c.id)
    return list(ctx.store.read_sync(lambda conn: conn.execute(query).scalars().all()))


def test_a_number_no_route_serves_is_refused_at_accept(
    routed: tuple[Context, TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    ctx, client = routed
    caplog.set_level(logging.INFO, logger="hirondelle")
    creds = make_account(ctx, credits=1000)
    answer = send(client, creds, "0611111111", "+447700900123", "+32470123456")
    assert answer["status"] == 100
    assert answer["invalidNumbers"] == "447700900123"
    assert (answer["nbContacts"], answer["credits"]) == (2, 1000 - 15 - 16)
    assert queued(ctx) == ["33611111111", "32470123456"]
    assert any("447700900123" in m and "no route" in m for m in caplog.messages)

    refused = send(client, creds, "+447700900123")
    assert (refused["status"], refused["invalidNumbers"]) == (114, "447700900123")
    assert json_answer(client.get("/http/9.0/getInfo", params=creds.params()))["credits"] == 969
    assert queued(ctx) == ["33611111111", "32470123456"]


def test_a_catch_all_connector_or_none_at_all_serves_every_number(
    database_url: str, tmp_path: Path
) -> None:
    everywhere = ConnectorConfig(name="any", host="127.0.0.1", port=3, system_id="me")
    for connectors in ([FRANCE, everywhere], []):
        settings = make_settings(database_url, tmp_path, connectors=connectors)
        ctx = Context(Store(create_engine(database_url)), settings, TEST_SECRET)
        try:
            with TestClient(create_app(ctx)) as client:
                creds = make_account(ctx, login=f"acct{len(connectors)}")
                answer = send(client, creds, "+447700900123")
                assert (answer["status"], answer["invalidNumbers"]) == (100, "")
        finally:
            ctx.close()
