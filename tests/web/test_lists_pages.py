"""`/account/lists` and `/account/lists/{name}`: create a list, import contacts (bad rows
counted), search, edit and delete contacts, delete the list; a locked list is read-only here;
another account's list is a 404."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from hirondelle.context import Context
from tests.web.area_helpers import signed_in, token

CSV = (
    "Phone;FirstName;Shoe size\n"
    "0611111111;Ann;38\n"
    "+33622222222;Bob;44\n"
    "0611111111;Ann again;38\n"
    "not a number;Zed;1\n"
)


def make_list(client: TestClient, name: str = "Clients", fields: str = "FirstName") -> str:
    csrf = token(client, "/account/lists")
    created = client.post(
        "/account/lists",
        data={"csrf": csrf, "name": name, "fields": fields},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    return str(created.headers["location"])


def test_create_import_search_edit_and_delete(client: TestClient, ctx: Context) -> None:
    signed_in(client, ctx, "alice")
    path = make_list(client)
    assert path == "/account/lists/Clients"
    csrf = token(client, path)
    imported = client.post(
        path,
        data={"csrf": csrf, "action": "import"},
        files={"file": ("c.csv", CSV.encode(), "text/csv")},
    )
    assert imported.status_code == 200, imported.text
    assert "2 added, 1 ignored" in imported.text and "1 already in the list" in imported.text
    assert "Shoe size" in imported.text  # the column the list has no field for
    assert "+33611111111" in imported.text and ">Ann<" in imported.text
    assert "Ann again" not in imported.text
    found = client.get(path, params={"q": "06 22"})
    assert "+33622222222" in found.text and "+33611111111" not in found.text
    contact = found.text.split('name="contact" value="')[1].split('"')[0]
    saved = client.post(
        path,
        data={
            "csrf": csrf,
            "action": "save-contact",
            "contact": contact,
            "phone": "0633333333",
            "field:FirstName": "Robert",
        },
    )
    assert saved.status_code == 200 and "+33633333333" in saved.text and "Robert" in saved.text
    clash = client.post(
        path,
        data={"csrf": csrf, "action": "save-contact", "contact": contact, "phone": "0611111111"},
    )
    assert clash.status_code == 400 and "already in the list" in clash.text
    bad = client.post(
        path, data={"csrf": csrf, "action": "save-contact", "contact": contact, "phone": "12"}
    )
    assert bad.status_code == 400
    deleted = client.post(path, data={"csrf": csrf, "action": "delete-contact", "contact": contact})
    assert "Contact deleted" in deleted.text and "+33633333333" not in deleted.text
    lists_page = client.get("/account/lists")
    assert ">Clients</a>" in lists_page.text
    gone = client.post(path, data={"csrf": csrf, "action": "delete-list"}, follow_redirects=False)
    assert gone.status_code == 303
    assert client.get(path).status_code == 404


def test_headerless_file_and_names_with_slashes(client: TestClient, ctx: Context) -> None:
    signed_in(client, ctx, "alice")
    path = make_list(client, "a/b list", "City")
    assert path == "/account/lists/a%2Fb%20list"
    csrf = token(client, path)
    imported = client.post(
        path,
        data={"csrf": csrf, "action": "import"},
        files={"file": ("c.txt", b"0611111111,Paris\n0622222222,Lyon\n", "text/plain")},
    )
    assert "2 added, 0 ignored" in imported.text and "Lyon" in imported.text


def test_bad_list_names_and_files(client: TestClient, ctx: Context) -> None:
    signed_in(client, ctx, "alice")
    csrf = token(client, "/account/lists")
    bad = client.post("/account/lists", data={"csrf": csrf, "name": "x", "fields": "bad name!"})
    assert bad.status_code == 400 and "Invalid field name" in bad.text
    path = make_list(client)
    twice = client.post("/account/lists", data={"csrf": csrf, "name": "Clients"})
    assert twice.status_code == 400 and "already exists" in twice.text
    none = client.post(path, data={"csrf": csrf, "action": "import"})
    assert none.status_code == 400
    xlsx = client.post(
        path,
        data={"csrf": csrf, "action": "import"},
        files={"file": ("c.xlsx", b"PK\x03\x04garbage", "application/octet-stream")},
    )
    assert xlsx.status_code == 400


def test_xlsx_import_when_openpyxl_is_there(
    client: TestClient, ctx: Context, tmp_path: object
) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    import io

    book = openpyxl.Workbook()
    book.active.append(["mobile", "FirstName"])
    book.active.append([33611111111, "Ann"])
    data = io.BytesIO()
    book.save(data)
    signed_in(client, ctx, "alice")
    path = make_list(client)
    imported = client.post(
        path,
        data={"csrf": token(client, path), "action": "import"},
        files={"file": ("c.xlsx", data.getvalue(), "application/octet-stream")},
    )
    assert "1 added" in imported.text and "+33611111111" in imported.text


def test_a_locked_list_is_read_only_here(client: TestClient, ctx: Context) -> None:
    import anyio

    from hirondelle.services import lists
    from tests.web.area_helpers import account_id

    signed_in(client, ctx, "alice")
    owner = account_id(ctx, "alice")
    anyio.run(lambda: lists.create_list(ctx, owner, "Synced", locked=True, fields=[]))
    anyio.run(lambda: lists.populate_list(ctx, owner, "Synced", ["0611111111"]))
    page = client.get("/account/lists/Synced")
    assert "locked" in page.text and 'value="import"' not in page.text
    csrf = token(client, "/account/lists")  # one token serves every form of the session
    for action in ("import", "delete-list"):
        refused = client.post(
            "/account/lists/Synced",
            data={"csrf": csrf, "action": action},
            files={"file": ("c.csv", b"0622222222\n", "text/csv")},
        )
        assert refused.status_code == 400 and "locked" in refused.text
    assert "+33611111111" in client.get("/account/lists/Synced").text


def test_another_account_s_list_and_contact_are_404(client: TestClient, ctx: Context) -> None:
    bob = signed_in(TestClient(client.app), ctx, "bob")
    path = make_list(bob, "Private")
    bob_csrf = token(bob, path)
    bob.post(
        path,
        data={"csrf": bob_csrf, "action": "import"},
        files={"file": ("c.csv", b"0611111111\n", "text/csv")},
    )
    contact = bob.get(path).text.split('name="contact" value="')[1].split('"')[0]
    signed_in(client, ctx, "alice")
    assert client.get(path).status_code == 404
    make_list(client, "Mine")
    csrf = token(client, "/account/lists/Mine")
    for data in (
        {"action": "delete-list"},
        {"action": "delete-contact", "contact": contact},
        {"action": "save-contact", "contact": contact, "phone": "0622222222"},
    ):
        assert client.post(path, data={"csrf": csrf, **data}).status_code == 404
        # Bob's contact id under Alice's own list is unknown there too.
        mine = client.post("/account/lists/Mine", data={"csrf": csrf, **data})
        assert mine.status_code in (404, 200) and "+33611111111" not in mine.text
    assert "+33611111111" in bob.get(path).text
    assert client.post(path, data={"action": "delete-list"}).status_code == 403


def test_imports_take_files_over_the_ordinary_body_limit(client: TestClient, ctx: Context) -> None:
    signed_in(client, ctx, "alice")
    path = make_list(client, "Big", "Note")
    csrf = token(client, path)
    note = "x" * 1000
    big = "".join(f"06{n:08d},{note}\n" for n in range(1200)).encode()
    assert len(big) > ctx.settings.max_body_bytes
    imported = client.post(
        path, data={"csrf": csrf, "action": "import"}, files={"file": ("big.csv", big, "text/csv")}
    )
    assert imported.status_code == 200 and "1200 added" in imported.text
    # Other pages keep the ordinary limit.
    refused = client.post("/account/lists", data={"csrf": csrf, "name": "x" * len(big)})
    assert refused.status_code == 413
