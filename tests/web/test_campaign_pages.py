"""`/account/campaigns`: the list (search, keyset pages), a campaign's page (counts, messages by
keyset, live counts), the CSV export, cancelling; 404 across accounts; CSRF on the cancel form."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.domain.statuses import AckStatus
from hirondelle.services import campaign_pages, delivery
from hirondelle.services.delivery import ReceiptIn, SubmitResult
from hirondelle.store import delivery as delivery_rows
from hirondelle.store.schema import accounts, messages
from tests.api.sending_helpers import balance, campaign_row, json_feed, mobiles, send_sms
from tests.helpers import Creds, make_account
from tests.web.test_account import PASSWORD, csrf_of, sign_in

HASHED = PasswordHasher().hash(PASSWORD)


def customer(ctx: Context, login: str, **fields: object) -> Creds:
    creds = make_account(ctx, login, credits=10_000, **fields)
    ctx.store.write_sync(
        lambda conn: conn.execute(
            sa.update(accounts).where(accounts.c.login == login).values(password_hash=HASHED)
        )
    )
    return creds


def account_id(ctx: Context, login: str) -> int:
    query = sa.select(accounts.c.id).where(accounts.c.login == login)
    return int(ctx.store.read_sync(lambda conn: conn.execute(query).scalar_one()))


def campaign(client: TestClient, creds: Creds, name: str, count: int = 2, **tags: str) -> str:
    feed = json_feed("Bonjour #prenom#", mobiles(count), CAMPAIGN_NAME=name, **tags)
    answer = send_sms(client, creds, feed)
    assert answer["status"] in (100, 101), answer
    return str(answer["campaignId"])


def deliver_all(ctx: Context) -> None:
    """Submit every due message and deliver it (the transactions the dispatcher runs)."""
    now = datetime.now(UTC)

    def run(conn: sa.Connection) -> None:
        claimed = delivery_rows.claim_due(conn, "t", now, delivery.RECEIPT_LEAD, 10_000)
        results = [SubmitResult(m.id, "accepted", "smsc", [f"s{m.id}"]) for m in claimed]
        delivery.apply_submit_results(conn, results, now)
        receipts = [ReceiptIn(f"s{m.id}", AckStatus.DELIVERED, "") for m in claimed]
        delivery.apply_receipts(conn, "smsc", receipts, now)

    ctx.store.write_sync(run)


@pytest.fixture
def alice(ctx: Context, client: TestClient) -> Creds:
    creds = customer(ctx, "alice")
    sign_in(client, "alice")
    return creds


def test_the_list_searches_and_pages_by_keyset(
    client: TestClient, ctx: Context, alice: Creds, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(campaign_pages, "PAGE_SIZE", 2)
    for name in ("Spring sale", "Summer sale", "Autumn news"):
        campaign(client, alice, name)
    campaign(client, alice, "Winter sale", DATE="2099-01-01 10:00:00")
    first = client.get("/account/campaigns")
    assert first.status_code == 200
    assert re.findall(r">(\w+ \w+)</a></td>", first.text) == ["Winter sale", "Autumn news"]
    older = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&"))
    assert re.findall(r">(\w+ \w+)</a></td>", second.text) == ["Summer sale", "Spring sale"]
    assert 'rel="next"' not in second.text
    found = client.get("/account/campaigns", params={"name": "SALE", "state": "scheduled"})
    assert re.findall(r">(\w+ \w+)</a></td>", found.text) == ["Winter sale"]
    today = datetime.now(UTC).date().isoformat()
    none = client.get("/account/campaigns", params={"until": "2000-01-01", "since": today})
    assert "No campaign found." in none.text


def test_a_campaign_page_counts_and_pages_its_messages(
    client: TestClient, ctx: Context, alice: Creds, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(campaign_pages, "MESSAGES_PAGE", 2)
    public_id = campaign(client, alice, "Three", count=3)
    deliver_all(ctx)
    page = client.get(f"/account/campaigns/{public_id}")
    assert page.status_code == 200
    assert '<dd id="count-delivered">3</dd>' in page.text
    assert '<dd id="count-waiting">0</dd>' in page.text
    assert page.text.count("<td>+336") == 2 and 'data-chart="' in page.text
    more = re.search(r'rel="next" href="([^"]+)"', page.text)
    assert more
    rest = client.get(more.group(1))
    assert rest.text.count("<td>+336") == 1 and 'rel="next"' not in rest.text
    counts = client.get(f"/account/campaigns/{public_id}/counts")
    assert counts.status_code == 200 and "<html" not in counts.text
    assert "hx-get" not in counts.text  # nothing pending: no more polling


def test_the_csv_export_holds_every_message(client: TestClient, ctx: Context, alice: Creds) -> None:
    public_id = campaign(client, alice, "Export", count=3)
    deliver_all(ctx)
    answer = client.get(f"/account/campaigns/{public_id}.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(answer.text)))
    assert sorted(line["phone"] for line in lines) == ["33612000000", "33612000001", "33612000002"]
    assert {line["status"] for line in lines} == {"1"}
    assert {line["statusText"] for line in lines} == {"Delivered"}
    assert all(line["operatorTime"] for line in lines)


def test_cancelling_refunds_and_needs_the_form_token(
    client: TestClient, ctx: Context, alice: Creds
) -> None:
    before = balance(ctx, "alice")
    public_id = campaign(client, alice, "Later", DATE="2099-01-01 10:00:00")
    url = f"/account/campaigns/{public_id}/cancel"
    assert client.post(url, data={}).status_code == 403
    assert campaign_row(ctx, public_id)["state"] == "scheduled"
    page = client.get(f"/account/campaigns/{public_id}")
    done = client.post(url, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "refunded" in done.text
    assert campaign_row(ctx, public_id)["state"] == "deleted"
    assert balance(ctx, "alice") == before
    assert '<dd id="count-cancelled">2</dd>' in done.text


def test_another_account_s_campaign_is_not_found(
    client: TestClient, ctx: Context, alice: Creds
) -> None:
    bob = customer(ctx, "bob")
    theirs = campaign(client, bob, "Bob's", DATE="2099-01-01 10:00:00")
    ours = client.get("/account/campaigns")
    token = csrf_of(client.get("/account/").text)
    for answer in (
        client.get(f"/account/campaigns/{theirs}"),
        client.get(f"/account/campaigns/{theirs}.csv"),
        client.get(f"/account/campaigns/{theirs}/counts"),
        client.post(f"/account/campaigns/{theirs}/cancel", data={"csrf": token}),
        client.get("/account/campaigns/not-a-campaign"),
    ):
        assert answer.status_code == 404
    assert "Bob" not in ours.text
    assert campaign_row(ctx, theirs)["state"] == "scheduled"


def test_a_master_opens_its_sub_accounts_campaigns_not_the_reverse(
    client: TestClient, ctx: Context
) -> None:
    master = customer(ctx, "master")
    sub = customer(ctx, "sub", parent_id=account_id(ctx, "master"))
    of_sub = campaign(client, sub, "Sub's")
    of_master = campaign(client, master, "Master's")
    sign_in(client, "master")
    page = client.get(f"/account/campaigns/{of_sub}")
    assert page.status_code == 200 and "Sub-account" in page.text
    client.cookies.clear()
    sign_in(client, "sub")
    assert client.get(f"/account/campaigns/{of_master}").status_code == 404
    assert client.get(f"/account/campaigns/{of_sub}").status_code == 200


def test_signed_out_the_pages_go_to_the_sign_in_form(client: TestClient, ctx: Context) -> None:
    for url in ("/account/campaigns", "/account/campaigns/x", "/account/campaigns/x.csv"):
        assert client.get(url, follow_redirects=False).status_code == 303
    rows = ctx.store.read_sync(lambda conn: conn.execute(sa.select(messages)).all())
    assert rows == []


def test_the_pages_in_french(client: TestClient, ctx: Context, alice: Creds) -> None:
    public_id = campaign(client, alice, "Soldes")
    deliver_all(ctx)
    client.cookies.set("lang", "fr")
    for url, words in (
        ("/account/", "Taux de remise"),
        ("/account/campaigns", "Rechercher"),
        (f"/account/campaigns/{public_id}", "Exporter les messages (CSV)"),
        ("/account/send", "Envoyer des SMS"),
    ):
        page = client.get(url)
        assert page.status_code == 200 and words in page.text, url
        assert "<script>" not in page.text and "style=" not in page.text
