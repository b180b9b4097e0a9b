"""`/account/send`: typed numbers, CSV and XLSX imports with merge fields, invalid and duplicate
numbers counted, the preview's cost from simulateCampaign, scheduling in the account's zone, and
a confirmation that sends once however often it is posted."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.services import web_sending
from hirondelle.store.schema import campaigns, messages
from tests.web.test_account import csrf_of, sign_in
from tests.web.test_campaign_pages import customer


@pytest.fixture
def alice(ctx: Context, client: TestClient) -> None:
    customer(ctx, "alice")
    sign_in(client, "alice")


def form_token(client: TestClient) -> str:
    return csrf_of(client.get("/account/send").text)


def preview(client: TestClient, files: dict[str, tuple[str, bytes]] | None = None, **fields: str):  # type: ignore[no-untyped-def]
    data = {"csrf": form_token(client), "message": "Bonjour", **fields}
    return client.post("/account/send", data=data, files=files or {})


def confirm(client: TestClient, page: str):  # type: ignore[no-untyped-def]
    draft = re.search(r'name="draft" value="([^"]+)"', page)
    assert draft, page
    data = {"csrf": csrf_of(page), "draft": draft.group(1)}
    return client.post("/account/send/confirm", data=data, follow_redirects=False)


def rows_of(ctx: Context, table: sa.Table) -> list[sa.RowMapping]:
    query = sa.select(table).order_by(table.c.id)
    return ctx.store.read_sync(lambda conn: list(conn.execute(query).mappings()))


def figure(page: str, name: str) -> str:
    found = re.search(rf'<dd id="{name}">([^<]+)</dd>', page)
    assert found, page
    return found.group(1)


def test_the_form_has_its_counter_and_needs_its_token(
    client: TestClient, ctx: Context, alice: None
) -> None:
    page = client.get("/account/send")
    assert page.status_code == 200
    assert 'id="counter"' in page.text and "/static/send.js" in page.text
    assert "<script>" not in page.text
    refused = client.post("/account/send", data={"message": "Hi", "numbers": "0612000001"})
    assert refused.status_code == 403
    assert rows_of(ctx, campaigns) == []


def test_typed_numbers_preview_then_send_once(
    client: TestClient, ctx: Context, alice: None
) -> None:
    page = preview(client, numbers="0612000001\n06 12 00 00 02, 0612000001\nnot-a-number")
    assert page.status_code == 200, page.text
    assert "4 rows read: 1 invalid numbers, 1 duplicates." in page.text
    assert figure(page.text, "preview-contacts") == "2"
    assert rows_of(ctx, campaigns) == []  # a preview writes no campaign
    first = confirm(client, page.text)
    again = confirm(client, page.text)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    (campaign,) = rows_of(ctx, campaigns)
    assert first.headers["location"] == f"/account/campaigns/{campaign['public_id']}"
    assert len(rows_of(ctx, messages)) == 2


def test_a_csv_with_a_merge_field(client: TestClient, ctx: Context, alice: None) -> None:
    csv = "Prénom;Mobile\nAna;0612000001\nBen;+33612000002\nBad;12\n".encode("cp1252")
    page = preview(client, files={"file": ("contacts.csv", csv)}, message="Bonjour #Prénom#")
    assert page.status_code == 200, page.text
    assert "Bonjour Ana" in page.text and "Bonjour Ben" in page.text
    assert "3 rows read: 1 invalid numbers, 0 duplicates." in page.text
    cost = int(figure(page.text, "preview-cost"))
    assert confirm(client, page.text).status_code == 303
    texts = sorted(row["text"] for row in rows_of(ctx, messages))
    assert texts == ["Bonjour Ana", "Bonjour Ben"]
    assert rows_of(ctx, campaigns)[0]["credits"] == cost


def test_an_xlsx_with_a_named_phone_column(client: TestClient, ctx: Context, alice: None) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Nom", "Portable perso", "Ville"])
    sheet.append(["Ana", 33612000001, "Lyon"])
    sheet.append(["Ben", "0612000002", "Nice"])
    data = io.BytesIO()
    book.save(data)
    page = preview(
        client,
        files={"file": ("c.xlsx", data.getvalue())},
        message="#nom# à #VILLE#",
        phone_column="Portable perso",
    )
    assert page.status_code == 200, page.text
    assert "Ana à Lyon" in page.text and "Ben à Nice" in page.text
    missing = preview(client, files={"file": ("c.xlsx", data.getvalue())}, phone_column="Fax")
    assert missing.status_code == 400 and "no column of that name" in missing.text


def test_a_scheduled_send_is_in_the_account_s_time_zone(
    client: TestClient, ctx: Context, alice: None
) -> None:
    page = preview(client, numbers="0612000001", date="2099-06-01T09:30")
    assert "2099-06-01 09:30" in page.text
    assert confirm(client, page.text).status_code == 303
    (campaign,) = rows_of(ctx, campaigns)
    assert campaign["state"] == "scheduled"
    assert campaign["due_at"].isoformat().startswith("2099-06-01T07:30")  # Paris, summer


def test_refusals_are_shown_not_sent(client: TestClient, ctx: Context, alice: None) -> None:
    empty = preview(client, numbers="")
    assert empty.status_code == 400 and "at least one recipient" in empty.text
    invalid = preview(client, numbers="123")
    assert invalid.status_code == 400 and "1 rows read: 1 invalid numbers" in invalid.text
    too_long = preview(client, numbers="0612000001", message="x" * 2000)
    assert too_long.status_code == 400 and 'id="refused"' in too_long.text
    assert "(111)" in too_long.text
    assert rows_of(ctx, campaigns) == []


def test_another_account_s_draft_sends_nothing(client: TestClient, ctx: Context) -> None:
    customer(ctx, "alice")
    customer(ctx, "bob")
    sign_in(client, "alice")
    page = preview(client, numbers="0612000001")
    client.cookies.clear()
    sign_in(client, "bob")
    bobs = client.get("/account/send").text
    draft = re.search(r'name="draft" value="([^"]+)"', page.text)
    assert draft
    answer = client.post(
        "/account/send/confirm", data={"csrf": csrf_of(bobs), "draft": draft.group(1)}
    )
    assert answer.status_code == 400 and "expired" in answer.text
    assert rows_of(ctx, campaigns) == []


def test_an_import_reads_100000_rows_and_no_more() -> None:
    rows = iter([["phone", "n"], *([f"06{n:08d}", str(n)] for n in range(100_000))])
    found = web_sending.import_recipients(rows, header=True)
    assert (found.rows, len(found.recipients), found.invalid) == (100_000, 100_000, 0)
    assert found.recipients[7].fields == {"n": "7"}
    too_many = iter([["phone"], *([f"06{n:08d}"] for n in range(100_001))])
    with pytest.raises(web_sending.UnreadableImport):
        web_sending.import_recipients(too_many, header=True)


def test_an_unreadable_file_is_explained_in_the_page_s_language(
    client: TestClient, ctx: Context, alice: None
) -> None:
    client.cookies.set("lang", "fr")
    page = preview(client, files={"file": ("c.xlsx", b"PK\x03\x04 not a workbook")})
    assert page.status_code == 400
    assert "Le fichier n'a pas pu être lu : Ce fichier n'est pas un classeur XLSX" in page.text
    assert rows_of(ctx, campaigns) == []
