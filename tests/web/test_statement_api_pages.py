"""`/account/statement` (+ `.csv`) and `/account/api`: every credit movement with the balance
after it; the API key rotated only after a typed confirmation and shown once; webhook URLs
validated as the API validates them; a test event that goes through the outbox and arrives
signed, like a real one."""

from __future__ import annotations

import anyio
import sqlalchemy as sa
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from hirondelle.context import Context
from hirondelle.notify.webhooks import deliver_due
from hirondelle.services import access, accounts
from hirondelle.store.schema import accounts as account_table
from tests.integration.webhook_receiver import running_receiver
from tests.web.area_helpers import signed_in, token


def test_the_statement_lists_every_movement_and_exports_it(
    client: TestClient, ctx: Context
) -> None:
    signed_in(client, ctx, "alice", credits=100)
    anyio.run(lambda: accounts.top_up(ctx, "alice", 50, "invoice 7"))
    page = client.get("/account/statement")
    assert page.status_code == 200
    text = page.text
    assert text.index("invoice 7") < text.index("opening balance")
    assert "+50" in text and ">150<" in text and ">100<" in text
    export = client.get("/account/statement.csv")
    lines = export.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "date,kind,credits,balance,reference"
    assert [line.split(",")[1:] for line in lines[1:]] == [
        ["topup", "50", "150", "invoice 7"],
        ["topup", "100", "100", "opening balance"],
    ]


def test_a_formula_in_a_reference_is_defused_in_the_csv(client: TestClient, ctx: Context) -> None:
    signed_in(client, ctx, "alice", credits=1)
    anyio.run(lambda: accounts.top_up(ctx, "alice", 5, "=HYPERLINK(1)"))
    assert "'=HYPERLINK(1)" in client.get("/account/statement.csv").text


def test_rotating_the_key_needs_rotate_typed_and_shows_it_once(
    client: TestClient, ctx: Context
) -> None:
    signed_in(client, ctx, "alice")
    before = ctx.store.read_sync(
        lambda conn: conn.execute(sa.select(account_table.c.api_key_digest)).scalar_one()
    )
    csrf = token(client, "/account/api")
    assert (
        client.post("/account/api/rotate", data={"csrf": csrf, "confirm": "yes"}).status_code == 400
    )
    assert client.post("/account/api/rotate", data={"confirm": "ROTATE"}).status_code == 403
    with capture_logs() as logs:
        rotated = client.post("/account/api/rotate", data={"csrf": csrf, "confirm": "ROTATE"})
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    key = rotated.text.split('<code id="api-key">')[1].split("<")[0]
    assert len(key) >= 20 and key not in repr(logs)
    assert key not in client.get("/account/api").text
    after = ctx.store.read_sync(
        lambda conn: conn.execute(sa.select(account_table.c.api_key_digest)).scalar_one()
    )
    assert after != before and key not in after
    # The new key works on the API, at once.
    answer = client.get("/http/9.0/getInfo", params={"login": "alice", "apiKey": key})
    assert answer.status_code == 200 and "Active Account" in answer.text


def test_webhook_urls_are_validated(client: TestClient, ctx: Context) -> None:
    signed_in(client, ctx, "alice")
    csrf = token(client, "/account/api")
    for url in ("ftp://example.com/x", "http://127.0.0.1/hook", "not a url"):
        refused = client.post("/account/api/webhooks", data={"csrf": csrf, "receipt_url": url})
        assert refused.status_code == 400, url
    bad_batch = client.post("/account/api/webhooks", data={"csrf": csrf, "batch": "9999"})
    assert bad_batch.status_code == 400
    assert client.post("/account/api/webhooks", data={"receipt_url": ""}).status_code == 403


def test_a_test_event_is_delivered_signed_through_the_outbox(
    client: TestClient, ctx: Context
) -> None:
    ctx.settings.allow_private_addresses = True
    signed_in(client, ctx, "alice")
    csrf = token(client, "/account/api")
    no_url = client.post("/account/api/test", data={"csrf": csrf, "kind": "receipt"})
    assert no_url.status_code == 400
    with running_receiver() as receiver:
        saved = client.post(
            "/account/api/webhooks",
            data={"csrf": csrf, "receipt_url": receiver.url("/receipts"), "receipt_events": "all"},
        )
        assert saved.status_code == 200, saved.text
        secret = saved.text.split('<code id="new-secret">')[1].split("<")[0]
        queued = client.post("/account/api/test", data={"csrf": csrf, "kind": "receipt"})
        assert queued.status_code == 200 and 'id="test-queued"' in queued.text
        assert "Waiting" in queued.text
        assert anyio.run(lambda: deliver_due(ctx)) == 1
        [hit] = receiver.hits
    assert hit.path == "/receipts" and hit.params["test"] == "1" and hit.params["status"] == "1"
    assert hit.signed_with(secret)
    shown = client.get("/account/api").text
    assert "Delivered" in shown and secret not in shown


def test_the_allowed_addresses_are_set_from_the_api_page(client: TestClient, ctx: Context) -> None:
    signed_in(client, ctx, "alice")
    csrf = token(client, "/account/api")
    no_token = client.post("/account/api/allowed-ips", data={"addresses": "10.0.0.1"})
    assert no_token.status_code == 403
    typo = client.post("/account/api/allowed-ips", data={"csrf": csrf, "addresses": "10.0.0.300"})
    assert typo.status_code == 400 and "10.0.0.300" in typo.text
    assert anyio.run(access.allowed_ips, ctx, "alice") == []  # nothing half-written
    saved = client.post(
        "/account/api/allowed-ips",
        data={"csrf": csrf, "addresses": "203.0.113.7\n2001:db8::/32, 198.51.100.0/24"},
    )
    assert saved.status_code == 200 and "2001:db8::/32" in saved.text
    assert anyio.run(access.allowed_ips, ctx, "alice") == [
        "198.51.100.0/24",
        "203.0.113.7/32",
        "2001:db8::/32",
    ]
    # The customer area is not subject to the list: a mistake can be undone from it.
    assert client.get("/account/api").status_code == 200
    cleared = client.post("/account/api/allowed-ips", data={"csrf": csrf, "addresses": " "})
    assert cleared.status_code == 200 and anyio.run(access.allowed_ips, ctx, "alice") == []
