"""`/account/replies` and `/account/blacklist`: an account sees only its own replies, STOP / START
marked and applied; the blacklist is added to, removed from, imported and exported with the API's
rules; every form refuses a post without its CSRF token."""

from __future__ import annotations

from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.services.paging import PAGE_SIZE
from tests.web.area_helpers import reply, signed_in, token


def test_the_inbox_shows_the_account_s_replies_newest_first_with_stop_marked(
    client: TestClient, ctx: Context
) -> None:
    signed_in(client, ctx, "alice", reply_number="38001")
    signed_in(TestClient(client.app), ctx, "bob", reply_number="38002")
    reply(ctx, "38001", "+33612345678", "Hello there")
    reply(ctx, "38001", "+33612345679", "STOP")
    reply(ctx, "38002", "+33699999999", "Bob's secret reply")
    page = client.get("/account/replies")
    assert page.status_code == 200
    assert page.text.index("+33612345679") < page.text.index("+33612345678")
    assert "Hello there" in page.text and 'class="tag stop"' in page.text
    assert "secret reply" not in page.text and "33699999999" not in page.text
    # The STOP put the number on the blacklist.
    assert "+33612345679" in client.get("/account/blacklist").text
    # Search by number, in any usual spelling.
    found = client.get("/account/replies", params={"q": "06 12 34 56 78"})
    assert "Hello there" in found.text and "33612345679" not in found.text
    assert "No reply from this number" in client.get("/account/replies?q=0700000000").text
    assert client.get("/account/replies?q=%25%27").status_code == 200


def test_the_inbox_pages_by_keyset(client: TestClient, ctx: Context) -> None:
    signed_in(client, ctx, "alice", reply_number="38001")
    for n in range(PAGE_SIZE + 3):
        reply(ctx, "38001", f"+336123{n:05d}", f"reply {n}")
    first = client.get("/account/replies")
    assert first.text.count("<tr>") == PAGE_SIZE + 1  # the heading's row, and the page's
    assert 'rel="next"' in first.text
    link = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = client.get(link.replace("&amp;", "&"))
    assert second.text.count("<tr>") == 3 + 1 and "reply 0" in second.text
    assert 'rel="next"' not in second.text and "First page" in second.text
    assert client.get("/account/replies?before=abc").status_code == 200


def test_blacklist_add_remove_and_a_stop_stays(client: TestClient, ctx: Context) -> None:
    signed_in(client, ctx, "alice", reply_number="38001")
    reply(ctx, "38001", "+33612345679", "STOP")
    csrf = token(client, "/account/blacklist")
    added = client.post(
        "/account/blacklist",
        data={"csrf": csrf, "numbers": "0611111111, +33622222222 nonsense", "action": "add"},
    )
    assert added.status_code == 200 and "2 number(s) added" in added.text
    assert "Invalid: nonsense" in added.text
    removed = client.post(
        "/account/blacklist",
        data={"csrf": csrf, "numbers": "0611111111 0612345679", "action": "remove"},
    )
    assert "1 number(s) removed" in removed.text and "33612345679" in removed.text
    listed = client.get("/account/blacklist").text
    assert "+33622222222" in listed and "+33612345679" in listed and "+33611111111" not in listed
    nothing = client.post(
        "/account/blacklist", data={"csrf": csrf, "numbers": "x", "action": "add"}
    )
    assert nothing.status_code == 400


def test_blacklist_import_counts_and_export(client: TestClient, ctx: Context) -> None:
    signed_in(client, ctx, "alice")
    csrf = token(client, "/account/blacklist")
    client.post("/account/blacklist", data={"csrf": csrf, "numbers": "0633333333", "action": "add"})
    file = "number;name\n0611111111;Ann\n+33622222222;Bob\n0611111111;again\n0633333333;x\nabc;y\n"
    imported = client.post(
        "/account/blacklist/import",
        data={"csrf": csrf},
        files={"file": ("numbers.csv", file.encode(), "text/csv")},
    )
    assert imported.status_code == 200
    # The heading "number" is no number: it counts as invalid, as "abc" does.
    assert "2 added, 2 invalid, 2 already listed or repeated" in imported.text
    export = client.get("/account/blacklist.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    lines = export.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "phoneNumber,comment,date"
    assert sorted(line.split(",")[0] for line in lines[1:]) == [
        "33611111111",
        "33622222222",
        "33633333333",
    ]
    empty = client.post(
        "/account/blacklist/import", data={"csrf": csrf}, files={"file": ("e.csv", b"", "text/csv")}
    )
    assert empty.status_code == 400
    binary = client.post(
        "/account/blacklist/import",
        data={"csrf": csrf},
        files={"file": ("x.csv", b"\x00\x01\x02abc", "text/csv")},
    )
    assert binary.status_code == 400 and "not a text" in binary.text


def test_forms_without_their_csrf_token_are_refused(client: TestClient, ctx: Context) -> None:
    signed_in(client, ctx, "alice")
    assert (
        client.post(
            "/account/blacklist", data={"numbers": "0611111111", "action": "add"}
        ).status_code
        == 403
    )
    refused = client.post(
        "/account/blacklist/import",
        data={"csrf": "forged"},
        files={"file": ("n.csv", b"0611111111\n", "text/csv")},
    )
    assert refused.status_code == 403
    assert "+33611111111" not in client.get("/account/blacklist").text


def test_signed_out_the_pages_send_to_the_sign_in_form(client: TestClient) -> None:
    for path in ("/account/replies", "/account/blacklist", "/account/blacklist.csv"):
        assert client.get(path, follow_redirects=False).headers["location"] == "/account/"


def test_a_reply_s_text_is_shown_as_text(client: TestClient, ctx: Context) -> None:
    signed_in(client, ctx, "alice", reply_number="38001")
    reply(ctx, "38001", "+33612345678", "<script>alert(1)</script><b>hi")
    page = client.get("/account/replies").text
    assert (
        "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;hi" in page
    )
