"""Replies through the embedded simulator: STOP and START, getPulls once each to concurrent
callers, getPull and getPullBySmsId, and the reply webhook."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.app import create_app
from hirondelle.context import Context
from hirondelle.store import Store
from hirondelle.store.engine import create_engine
from hirondelle.store.schema import messages, replies
from tests.conftest import TEST_SECRET, make_settings
from tests.helpers import Creds, json_answer, make_account
from tests.integration.test_delivery_embedded import wait_until
from tests.integration.webhook_receiver import RECEIPT_DELAY, running_receiver

SECRET = "another-secret-for-replies"
REPLY_VARIABLES = {"smsId", "smsMoId", "receptionDate", "phoneNumber", "campaignId", "message"}


def api(client: TestClient, method: str, creds: Creds, **params: Any) -> Any:
    return json_answer(client.post(f"/http/9.0/{method}", data=creds.params(**params)))


def count(ctx: Context, table: sa.Table, *where: Any) -> int:
    query = sa.select(sa.func.count()).select_from(table).where(*where)
    return ctx.store.read_sync(lambda conn: int(conn.execute(query).scalar_one()))


def test_replies_blacklist_pulls_and_webhooks(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url, tmp_path, workers=True, allow_private_addresses=True, **RECEIPT_DELAY
    )
    ctx = Context(store=Store(create_engine(database_url)), settings=settings, secret=TEST_SECRET)
    creds = make_account(ctx)
    with running_receiver() as receiver, TestClient(create_app(ctx)) as client:
        api(client, "setWebhooks", creds, replyUrl=receiver.url("/mo"), secret=SECRET)
        feed = {
            "DATA": {
                "MESSAGE": "Hi",
                "SMS": [{"MOBILEPHONE": n} for n in ("0611111111", "0622222222")],
            }
        }
        sent = api(client, "sendSms", creds, smsData=json.dumps(feed))
        campaign = sent["campaignId"]
        sms_ids = {item["phoneNumber"]: item["smsId"] for item in sent["smsIds"]}
        wait_until(lambda: count(ctx, messages, messages.c.state == "final") == 2)

        simulator = client.app.state.workers.simulator  # type: ignore[attr-defined]

        def reply(source: str, text: str, expected: int) -> None:
            client.portal.call(simulator.inject_mo, source, "36180", text)  # type: ignore[union-attr]
            wait_until(lambda: count(ctx, replies) == expected)

        reply("33611111111", "STOP", 1)
        assert api(client, "getBlacklist", creds)["blacklist"] == [
            {
                "phoneNumber": "33611111111",
                "comment": "stop",
                "receptionDate": api(client, "getBlacklist", creds)["blacklist"][0][
                    "receptionDate"
                ],
            }
        ]
        reply("33622222222", "Bonjour", 2)
        reply("33622222222", "Encore moi", 3)
        reply("33611111111", "START", 4)
        assert api(client, "getBlacklist", creds) == {"blacklist": []}

        with ThreadPoolExecutor(2) as pool:
            pulls = list(pool.map(lambda _: api(client, "getPulls", creds)["mos"], range(2)))
        pulled = [mo["id"] for batch in pulls for mo in batch]
        assert len(pulled) == len(set(pulled)) == 4
        assert api(client, "getPulls", creds) == {"mos": []}

        by_campaign = api(client, "getPull", creds, campId=campaign)["mos"]
        assert [mo["message"] for mo in by_campaign] == ["START", "Encore moi", "Bonjour", "STOP"]
        assert {mo["campaignId"] for mo in by_campaign} == {campaign}
        by_sms_id = api(client, "getPullBySmsId", creds, smsIds=sms_ids["33622222222"])
        assert [mo["message"] for mo in by_sms_id["mos"]] == ["Encore moi", "Bonjour"]
        assert all(mo["phoneNumber"] == "33622222222" for mo in by_sms_id["mos"])
        wait_until(lambda: len(receiver.answered()) == 4)

    hits = receiver.answered()
    assert all(hit.signed_with(SECRET) and hit.path == "/mo" for hit in hits)
    assert all(set(hit.params) == REPLY_VARIABLES for hit in hits)
    assert sorted(hit.params["message"] for hit in hits) == [
        "Bonjour",
        "Encore moi",
        "START",
        "STOP",
    ]
    assert {hit.params["smsMoId"] for hit in hits} == set(pulled)
    for hit in hits:
        assert hit.params["smsId"] == sms_ids[hit.params["phoneNumber"]]
        assert hit.params["campaignId"] == campaign
    ctx.close()
