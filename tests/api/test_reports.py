"""getAcks, getAckBySmsId, getPulls, getPull, getPullBySmsId, setWebhooks / getWebhooks over
the wire: JSON and XML shapes, sub-accounts, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.domain.statuses import AckStatus
from hirondelle.notify import netguard
from hirondelle.services import delivery, replies
from hirondelle.services.delivery import ReceiptIn, SubmitResult
from hirondelle.store import delivery as delivery_rows
from hirondelle.store.schema import accounts
from tests.helpers import Creds, json_answer, make_account, xml_answer

WINTER = datetime(2024, 1, 15, 9, 30, tzinfo=UTC)  # 10:30 in Paris


def call(client: TestClient, method: str, creds: Creds, **params: Any) -> Any:
    return json_answer(client.post(f"/http/9.0/{method}", data=creds.params(**params)))


def call_xml(client: TestClient, method: str, creds: Creds, **params: Any) -> Any:
    params["returnformat"] = "xml"
    return xml_answer(client.get(f"/http/9.0/{method}/", params=creds.params(**params)))


def send(client: TestClient, creds: Creds, *numbers: str, **params: Any) -> dict[str, Any]:
    sms = [{"MOBILEPHONE": n, "CLIMSGID": f"cli-{n}"} for n in numbers]
    feed = json.dumps({"DATA": {"MESSAGE": "Hello", "SMS": sms}})
    answer = call(client, "sendSms", creds, smsData=feed, **params)
    assert answer["status"] == 100, answer
    return {
        "campaign": answer["campaignId"],
        **{i["phoneNumber"]: i["smsId"] for i in answer["smsIds"]},
    }


def submit_and_receipt(ctx: Context, receipts: dict[str, int]) -> None:
    """Submit every queued message, then apply a receipt status per phone (at WINTER)."""
    due = datetime.now(UTC) + timedelta(seconds=1)

    def run(conn: Connection) -> None:
        claimed = delivery_rows.claim_due(conn, "t", due, timedelta(minutes=1), 100)
        results = [SubmitResult(m.id, "accepted", "c", [f"x{m.id}"]) for m in claimed]
        delivery.apply_submit_results(conn, results, WINTER - timedelta(seconds=2))
        for m in claimed:
            if m.phone in receipts:
                receipt = ReceiptIn(f"x{m.id}", AckStatus(receipts[m.phone]), "")
                delivery.apply_receipts(conn, "c", [receipt], WINTER)

    ctx.store.write_sync(run)


def reply(ctx: Context, phone: str, text: str, minutes: int = 0) -> None:
    at = WINTER + timedelta(minutes=minutes)
    window = timedelta(hours=ctx.settings.reply_window_hours)
    ctx.store.write_sync(lambda conn: replies.apply_reply(conn, phone, "36180", text, at, window))


@pytest.fixture
def alice(ctx: Context) -> Creds:
    return make_account(ctx)


def test_get_acks_json(client: TestClient, ctx: Context, alice: Creds) -> None:
    sent = send(client, alice, "0611111111", "0622222222", "0633333333")
    submit_and_receipt(ctx, {"33611111111": 1, "33622222222": 2})
    answer = call(client, "getAcks", alice, campId=sent["campaign"])
    assert answer == {
        "acks": [
            {
                "phoneNumber": "33611111111",
                "status": "1",
                "comment": "Delivered",
                "receptionDate": "2024-01-15 10:30:00",
                "smsId": sent["33611111111"],
                "cliMsgId": "cli-0611111111",
            },
            {
                "phoneNumber": "33622222222",
                "status": "2",
                "comment": "Not delivered (sent by the operator)",
                "receptionDate": "2024-01-15 10:30:00",
                "smsId": sent["33622222222"],
                "cliMsgId": "cli-0622222222",
            },
            {
                "phoneNumber": "33633333333",
                "status": "3",
                "comment": "Transmitted to the operator",
                "receptionDate": "2024-01-15 10:29:58",
                "smsId": sent["33633333333"],
                "cliMsgId": "cli-0633333333",
            },
        ]
    }


def test_get_acks_xml_and_a_common_cli_msg_id(client: TestClient, alice: Creds) -> None:
    sent = send(client, alice, "0611111111")
    root = call_xml(client, "getAcks", alice, Campid=sent["campaign"])
    assert root.tag == "getAcks"
    [ack] = root.findall("acks/ack")
    assert ack.findtext("phoneNumber") == "33611111111"
    assert (ack.findtext("status"), ack.findtext("comment")) == ("3", "Pending")
    assert root.findtext("cliMsgId") == "cli-0611111111"


def test_get_acks_errors(client: TestClient, ctx: Context, alice: Creds) -> None:
    assert call(client, "getAcks", alice) == {"error": "Missing parameter: campId"}
    assert call(client, "getAcks", alice, campId="nope") == {"error": "Campaign not found: nope"}
    sent = send(client, alice, "0611111111")
    bob = make_account(ctx, "bob")
    assert "error" in call(client, "getAcks", bob, campId=sent["campaign"])
    root = call_xml(client, "getAcks", alice, campId="nope")
    assert root.findtext("error") == "Campaign not found: nope"


def test_get_ack_by_sms_id(client: TestClient, ctx: Context, alice: Creds) -> None:
    sent = send(client, alice, "0611111111", "0622222222")
    submit_and_receipt(ctx, {"33611111111": 1, "33622222222": 5})
    one = call(client, "getAckBySmsId", alice, smsId=sent["33611111111"])
    # the manual's flat answer, with the list beside it
    assert (one["phoneNumber"], one["status"], one["comment"]) == ("33611111111", "1", "Delivered")
    assert one["receptionDate"] == "2024-01-15 10:30:00" and len(one["acks"]) == 1
    both = call(
        client, "getAckBySmsId", alice, smsIds=f"{sent['33622222222']},{sent['33611111111']}"
    )
    assert [a["status"] for a in both["acks"]] == ["5", "1"] and "status" not in both
    root = call_xml(client, "getAckBySmsId", alice, smsIds=sent["33622222222"])
    assert root.tag == "getAckBySmsId" and root.findtext("status") == "5"
    assert call(client, "getAckBySmsId", alice) == {"error": "Missing parameter: smsIds"}
    assert call(client, "getAckBySmsId", alice, smsIds="x;y") == {"error": "Unknown smsId"}


def test_pulls_by_campaign_and_sms_id(client: TestClient, ctx: Context, alice: Creds) -> None:
    sent = send(client, alice, "0611111111", "0622222222")
    submit_and_receipt(ctx, {})
    reply(ctx, "33611111111", "Oui", 1)
    reply(ctx, "33622222222", "Non", 2)
    reply(ctx, "33611111111", "Pardon, non", 3)

    pulled = call(client, "getPulls", alice, limit="2")["mos"]
    assert [mo["message"] for mo in pulled] == ["Pardon, non", "Non"]
    assert pulled[0] == {
        "phoneNumber": "33611111111",
        "id": pulled[0]["id"],
        "campaignId": sent["campaign"],
        "message": "Pardon, non",
        "receptionDate": "2024-01-15 10:33:00",
        "smsId": sent["33611111111"],
        "cliMsgId": "cli-0611111111",
    }
    root = call_xml(client, "getPulls", alice)
    assert root.tag == "getPulls" and [m.findtext("message") for m in root.iter("mo")] == ["Oui"]
    assert call(client, "getPulls", alice) == {"mos": []}
    assert call(client, "getPulls", alice, limit="zero") == {"error": "Invalid limit: zero"}

    again = call(client, "getPull", alice, campId=sent["campaign"])["mos"]
    assert [mo["message"] for mo in again] == ["Pardon, non", "Non", "Oui"]
    root = call_xml(client, "getPull", alice, campId=sent["campaign"])
    assert root.tag == "getPull" and len(root.findall("mos/mo")) == 3
    assert call(client, "getPull", alice, campId="nope") == {"error": "Campaign not found: nope"}

    by_id = call(client, "getPullBySmsId", alice, smsIds=sent["33622222222"])
    assert (by_id["message"], by_id["campaignId"]) == ("Non", sent["campaign"])
    several = call(client, "getPullBySmsId", alice, smsIds=sent["33611111111"])
    assert [mo["message"] for mo in several["mos"]] == ["Pardon, non", "Oui"]
    assert "message" not in several
    root = call_xml(client, "getPullBySmsId", alice, smsIds=sent["33622222222"])
    assert root.tag == "getPullBySmsId" and root.findtext("message") == "Non"


def test_replies_carry_the_cli_msg_id_of_the_message_replied_to(
    client: TestClient, ctx: Context, alice: Creds
) -> None:
    """Manual §6.2: CLIMSGID is "returned when dlr and answers are sent back"."""
    sent = send(client, alice, "0611111111")
    plain = call(
        client,
        "sendSms",
        alice,
        smsData=json.dumps({"DATA": {"MESSAGE": "Hello", "SMS": [{"MOBILEPHONE": "0622222222"}]}}),
    )
    submit_and_receipt(ctx, {})
    reply(ctx, "33611111111", "Oui", 1)
    reply(ctx, "33622222222", "Non", 2)

    pulled = {mo["message"]: mo for mo in call(client, "getPulls", alice)["mos"]}
    assert pulled["Oui"]["cliMsgId"] == "cli-0611111111"
    assert "cliMsgId" not in pulled["Non"]  # the message replied to had none

    by_campaign = call(client, "getPull", alice, campId=sent["campaign"])
    assert [mo["cliMsgId"] for mo in by_campaign["mos"]] == ["cli-0611111111"]
    assert by_campaign["cliMsgId"] == "cli-0611111111"  # beside the mos, as in §11.2
    root = call_xml(client, "getPull", alice, campId=sent["campaign"])
    assert root.findtext("mos/mo/cliMsgId") == root.findtext("cliMsgId") == "cli-0611111111"
    without = call(client, "getPull", alice, campId=plain["campaignId"])
    assert "cliMsgId" not in without and "cliMsgId" not in without["mos"][0]

    by_id = call(client, "getPullBySmsId", alice, smsIds=sent["33611111111"])
    assert by_id["cliMsgId"] == by_id["mos"][0]["cliMsgId"] == "cli-0611111111"
    root = call_xml(client, "getPullBySmsId", alice, smsIds=sent["33611111111"])
    assert root.findtext("cliMsgId") == "cli-0611111111"


def test_subaccount_reports(client: TestClient, ctx: Context, alice: Creds) -> None:
    alice_id = ctx.store.read_sync(lambda conn: conn.execute(sa.select(accounts.c.id)).scalar_one())
    sub = make_account(ctx, "alice-shop", parent_id=alice_id)
    sent = send(client, sub, "0611111111")
    assert "error" in call(client, "getAcks", alice, campId=sent["campaign"])
    answer = call(client, "getAcks", alice, campId=sent["campaign"], subaccount="alice-shop")
    assert [a["smsId"] for a in answer["acks"]] == [sent["33611111111"]]
    bob = make_account(ctx, "bob")
    refused = call(client, "getAcks", bob, campId=sent["campaign"], subAccount="alice-shop")
    assert refused == {"error": "Unknown sub-account: alice-shop"}


# -- webhook settings ----------------------------------------------------------------------------


def test_set_and_get_webhooks(client: TestClient, alice: Creds, monkeypatch: Any) -> None:
    async def public(_host: str, _port: int) -> list[str]:
        return ["93.184.215.14"]

    monkeypatch.setattr(netguard, "system_resolver", public)
    answer = call(client, "setWebhooks", alice, receiptUrl="https://hooks.example.com/dlr")
    assert answer["receiptUrl"] == "https://hooks.example.com/dlr" and answer["hasSecret"]
    assert len(answer["secret"]) == 48  # generated, shown once
    shown = call(client, "getWebhooks", alice)
    assert shown == {
        "receiptUrl": "https://hooks.example.com/dlr",
        "replyUrl": "",
        "hasSecret": True,
        "receiptEvents": "all",
        "batch": 0,
    }
    changed = call(client, "setWebhooks", alice, replyUrl="https://hooks.example.com/mo")
    assert "secret" not in changed and changed["replyUrl"] == "https://hooks.example.com/mo"
    cleared = call(
        client, "setWebhooks", alice, receiptUrl="none", secret="a-secret-of-24-characters"
    )
    assert cleared == {
        "receiptUrl": "",
        "replyUrl": "https://hooks.example.com/mo",
        "hasSecret": True,
        "receiptEvents": "all",
        "batch": 0,
    }
    chosen = call(client, "setWebhooks", alice, receiptEvents="final", batch="100")
    assert (chosen["receiptEvents"], chosen["batch"]) == ("final", 100)
    assert call(client, "getWebhooks", alice)["batch"] == 100
    assert "error" in call(client, "setWebhooks", alice, receiptEvents="some")
    assert "error" in call(client, "setWebhooks", alice, batch="501")
    assert "error" in call(client, "setWebhooks", alice, batch="x")
    assert "error" in call(client, "setWebhooks", alice)
    assert "error" in call(client, "setWebhooks", alice, secret="short")
    assert "error" in call(client, "setWebhooks", alice, replyUrl="ftp://hooks.example.com/")
    root = call_xml(client, "getWebhooks", alice)
    assert root.tag == "getWebhooks" and root.findtext("hasSecret") == "1"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest",
        "http://private.example.com/hook",  # resolves to 10.0.0.7 below
    ],
)
def test_private_webhook_urls_are_refused(
    client: TestClient, ctx: Context, alice: Creds, url: str, monkeypatch: Any
) -> None:
    async def private(_host: str, _port: int) -> list[str]:
        return ["10.0.0.7"]

    monkeypatch.setattr(netguard, "system_resolver", private)
    answer = call(client, "setWebhooks", alice, receiptUrl=url)
    assert "not allowed" in answer["error"]
    assert "the allow_private_addresses setting" in answer["error"]  # what the operator can do
    assert call(client, "getWebhooks", alice)["receiptUrl"] == ""
    # the operator may allow private addresses
    monkeypatch.setattr(ctx.settings, "allow_private_addresses", True)
    assert call(client, "setWebhooks", alice, receiptUrl=url)["receiptUrl"] == url
