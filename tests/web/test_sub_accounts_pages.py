"""`/account/sub-accounts` and `/account/sub-accounts/{login}`: a master lists, creates, edits,
deactivates and deletes its sub-accounts and moves credits both ways, with the API's rules; a
sub-account has none of these pages and cannot open the master's; another master's sub-account
is a 404."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.testclient import TestClient

from hirondelle.context import Context
from hirondelle.store.schema import accounts, ledger
from tests.web.area_helpers import account_id, signed_in, token
from tests.web.dashboard_helpers import add_campaign

NEW_SUB = {
    "login": "shop1",
    "password": "shop-secret-1",
    "first_name": "Ann",
    "last_name": "Shop",
    "email": "ann@example.com",
}


def create(client: TestClient, **values: str) -> object:
    csrf = token(client, "/account/sub-accounts")
    return client.post(
        "/account/sub-accounts",
        data={"csrf": csrf, **NEW_SUB, **values},
        follow_redirects=False,
    )


def balances(ctx: Context) -> dict[str, int]:
    rows = ctx.store.read_sync(
        lambda conn: conn.execute(sa.select(accounts.c.login, accounts.c.balance)).all()
    )
    return {login: int(balance) for login, balance in rows}


def test_create_move_credits_both_ways_edit_deactivate_delete(
    client: TestClient, ctx: Context
) -> None:
    signed_in(client, ctx, "master", credits=1000)
    created = create(client)
    assert created.status_code == 303
    path = created.headers["location"]
    assert path == "/account/sub-accounts/shop1"
    listing = client.get("/account/sub-accounts").text
    assert ">shop1</a>" in listing and "never" in listing
    csrf = token(client, path)
    moved = client.post(path, data={"csrf": csrf, "action": "transfer", "credits": "300"})
    assert moved.status_code == 200 and 'id="moved"' in moved.text
    assert balances(ctx)["shop1"] == 300 and balances(ctx)["master"] == 700
    back = client.post(
        path, data={"csrf": csrf, "action": "transfer", "credits": "100", "direction": "back"}
    )
    assert back.status_code == 200 and balances(ctx) == {"master": 800, "shop1": 200}
    too_much = client.post(
        path, data={"csrf": csrf, "action": "transfer", "credits": "5000", "direction": "back"}
    )
    assert too_much.status_code == 400 and "does not have that many" in too_much.text
    for credits in ("0", "-5", "abc", "1e3"):
        bad = client.post(path, data={"csrf": csrf, "action": "transfer", "credits": credits})
        assert bad.status_code == 400
    assert balances(ctx) == {"master": 800, "shop1": 200}
    kinds = ctx.store.read_sync(lambda conn: conn.execute(sa.select(ledger.c.kind)).scalars().all())
    assert kinds.count("transfer_in") == 2 and kinds.count("transfer_out") == 2
    edited = client.post(path, data={"csrf": csrf, "action": "save", "first_name": "Anna"})
    assert edited.status_code == 200 and "Anna" in edited.text
    bad_mail = client.post(path, data={"csrf": csrf, "action": "save", "email": "nope"})
    assert bad_mail.status_code == 400 and "email" in bad_mail.text.lower()
    off = client.post(path, data={"csrf": csrf, "action": "deactivate"})
    assert "deactivated" in off.text
    assert (
        ctx.store.read_sync(
            lambda conn: conn.execute(
                sa.select(accounts.c.active).where(accounts.c.login == "shop1")
            ).scalar_one()
        )
        is False
    )
    gone = client.post(path, data={"csrf": csrf, "action": "delete"}, follow_redirects=False)
    assert gone.status_code == 303 and balances(ctx)["master"] == 1000
    assert client.get(path).status_code == 404


def test_the_sub_account_s_page_shows_its_figures_and_campaigns(
    client: TestClient, ctx: Context
) -> None:
    signed_in(client, ctx, "master")
    create(client)
    add_campaign(ctx, "shop1", "Summer sale", [1, 1, 2])
    page = client.get("/account/sub-accounts/shop1")
    assert "Summer sale" in page.text
    listing = client.get("/account/sub-accounts").text
    assert "never" not in listing  # its last message is dated


def test_create_refusals_keep_nothing(client: TestClient, ctx: Context) -> None:
    signed_in(client, ctx, "master")
    missing = create(client, email="")
    assert missing.status_code == 400 and "EMAIL" in missing.text
    assert create(client, login="master").status_code == 400  # taken
    assert create(client, password="123").status_code == 400
    assert "shop1" not in balances(ctx)
    assert client.post("/account/sub-accounts", data=NEW_SUB).status_code == 403


def test_a_sub_account_has_no_sub_account_pages(client: TestClient, ctx: Context) -> None:
    signed_in(TestClient(client.app), ctx, "master")
    signed_in(client, ctx, "child", parent_id=account_id(ctx, "master"))
    assert "/account/sub-accounts" not in client.get("/account/").text
    assert client.get("/account/sub-accounts").status_code == 404
    assert client.get("/account/sub-accounts/child").status_code == 404
    csrf = token(client, "/account/blacklist")
    assert client.post("/account/sub-accounts", data={"csrf": csrf, **NEW_SUB}).status_code == 404


def test_another_master_s_sub_account_is_404(client: TestClient, ctx: Context) -> None:
    other = signed_in(TestClient(client.app), ctx, "other", credits=500)
    create(other)
    signed_in(client, ctx, "master")
    assert client.get("/account/sub-accounts/shop1").status_code == 404
    assert client.get("/account/sub-accounts/other").status_code == 404  # not a sub-account
    csrf = token(client, "/account/sub-accounts")
    for data in (
        {"action": "transfer", "credits": "10", "direction": "back"},
        {"action": "delete"},
        {"action": "deactivate"},
    ):
        answer = client.post("/account/sub-accounts/shop1", data={"csrf": csrf, **data})
        assert answer.status_code == 404
    assert ">shop1</a>" not in client.get("/account/sub-accounts").text
    assert balances(ctx)["other"] == 500


def test_a_sub_account_sees_none_of_its_master_s_records(client: TestClient, ctx: Context) -> None:
    master = signed_in(TestClient(client.app), ctx, "master", credits=1000)
    csrf = token(master, "/account/blacklist")
    master.post("/account/blacklist", data={"csrf": csrf, "numbers": "0611111111", "action": "add"})
    signed_in(client, ctx, "child", credits=5, parent_id=account_id(ctx, "master"))
    assert "+33611111111" not in client.get("/account/blacklist").text
    assert client.get("/account/blacklist.csv").text.lstrip("\ufeff").splitlines()[1:] == []
    statement = client.get("/account/statement.csv").text.lstrip("\ufeff").splitlines()[1:]
    assert [line.split(",")[2:4] for line in statement] == [["5", "5"]]
