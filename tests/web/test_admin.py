"""`/admin/`: administrators in their own table (`hirondelle admins create`), their own sign-in
and sessions; a customer's session opens nothing there and theirs no customer page; every form
checks its CSRF token; the accounts, connectors and outboxes pages."""

from __future__ import annotations

import asyncio
import re

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from hirondelle.cli import app as cli
from hirondelle.context import Context
from hirondelle.services import admins
from hirondelle.services import operator as operator_area
from hirondelle.services.accounts import find_account
from hirondelle.services.operator import ConnectorStatus
from tests.browser.test_no_script import until
from tests.helpers import make_account
from tests.web.test_account import csrf_of, sign_in, with_password

ADMIN_PASSWORD = "operator pass"


@pytest.fixture
def operator(ctx: Context) -> str:
    asyncio.run(admins.create_admin(ctx, "root", ADMIN_PASSWORD))
    return "root"


def admin_sign_in(client: TestClient, login: str, password: str = ADMIN_PASSWORD) -> object:
    return sign_in(client, login, password, path="/admin/")


@pytest.fixture
def signed_in(client: TestClient, operator: str) -> TestClient:
    answer = admin_sign_in(client, operator)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    return client


def act(client: TestClient, action: str, **fields: str) -> str:
    page = client.get("/admin/")
    answer = client.post(f"/admin/accounts/{action}", data={"csrf": csrf_of(page.text), **fields})
    assert answer.status_code in (200, 400), answer.text
    return answer.text


def test_signed_out_admin_is_a_sign_in_form_with_safe_headers(client: TestClient) -> None:
    page = client.get("/admin/")
    assert page.status_code == 200 and 'type="password"' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    for path in ("/admin/connectors", "/admin/outboxes"):
        assert client.get(path, follow_redirects=False).headers["location"] == "/admin/"


def test_wrong_password_and_session_cookie(client: TestClient, operator: str) -> None:
    assert admin_sign_in(client, operator, "wrong").status_code == 401  # type: ignore[attr-defined]
    answer = admin_sign_in(client, operator)
    cookie = answer.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "hir_admin=" in cookie and "Path=/admin/" in cookie and "HttpOnly" in cookie


def test_a_customer_session_cannot_open_admin(client: TestClient, ctx: Context) -> None:
    with_password(ctx, "alice")
    sign_in(client, "alice")
    assert client.get("/account/").text.count("Dashboard") >= 1
    page = client.get("/admin/")
    assert 'type="password"' in page.text and "Accounts" not in page.text
    # Even the customer's cookie sent as the admin cookie opens nothing.
    session = client.cookies.get("hir_session")
    client.cookies.set("hir_admin", session or "", path="/admin/")
    assert 'type="password"' in client.get("/admin/").text


def test_an_admin_session_is_not_a_customer_session(signed_in: TestClient, ctx: Context) -> None:
    admin_cookie = signed_in.cookies.get("hir_admin")
    signed_in.cookies.set("hir_session", admin_cookie or "")
    page = signed_in.get("/account/")
    assert 'type="password"' in page.text  # the customers' sign-in form
    assert signed_in.get("/account/console", follow_redirects=False).status_code == 303


def test_a_customer_login_does_not_sign_in_as_admin(client: TestClient, ctx: Context) -> None:
    with_password(ctx, "alice")
    assert admin_sign_in(client, "alice", "correct horse").status_code == 401  # type: ignore[attr-defined]


def test_create_top_up_deactivate_rotate(signed_in: TestClient, ctx: Context) -> None:
    page = act(signed_in, "create", login="newbie", credits="25", email="n@example.com")
    assert re.search(r'<code id="api-key">[\w-]{20,}</code>', page)
    assert "newbie" in page
    page = act(signed_in, "topup", login="newbie", credits="100")
    assert "125" in page
    act(signed_in, "deactivate", login="newbie")
    account = asyncio.run(find_account(ctx, "newbie"))
    assert account is not None and not account.active and account.balance == 125
    act(signed_in, "activate", login="newbie")
    page = act(signed_in, "rotate-key", login="newbie")
    assert 'id="api-key"' in page
    assert "Reactivate" not in signed_in.get("/admin/?q=newb").text


def test_refusals_are_shown_not_raised(signed_in: TestClient, ctx: Context) -> None:
    make_account(ctx, "taken")
    assert "already taken" in act(signed_in, "create", login="taken")
    assert "No account" in act(signed_in, "topup", login="ghost", credits="5")
    assert 'class="error"' in act(signed_in, "topup", login="taken", credits="-5")


def test_search_pages_by_login(signed_in: TestClient, ctx: Context) -> None:
    for n in range(3):
        make_account(ctx, f"shop{n}")
    make_account(ctx, "other")
    page = signed_in.get("/admin/?q=shop").text
    assert all(f"shop{n}" in page for n in range(3)) and "other" not in page
    after = signed_in.get("/admin/?q=shop&after=shop0").text
    assert "shop0<" not in after and "shop1" in after


def test_a_form_without_csrf_is_refused(signed_in: TestClient, ctx: Context) -> None:
    make_account(ctx, "victim", credits=1)
    answer = signed_in.post("/admin/accounts/topup", data={"login": "victim", "credits": "9"})
    assert answer.status_code == 403
    account = asyncio.run(find_account(ctx, "victim"))
    assert account is not None and account.balance == 1
    assert signed_in.post("/admin/sign-out", data={}).status_code == 403


def test_connectors_and_outboxes_pages(signed_in: TestClient) -> None:
    connectors = signed_in.get("/admin/connectors")
    assert connectors.status_code == 200 and "No connector has reported" in connectors.text
    assert "No message is waiting" in connectors.text
    outboxes = signed_in.get("/admin/outboxes")
    assert outboxes.status_code == 200 and "Webhook calls" in outboxes.text


def test_sign_out(signed_in: TestClient) -> None:
    page = signed_in.get("/admin/")
    signed_in.post("/admin/sign-out", data={"csrf": csrf_of(page.text)})
    assert 'type="password"' in signed_in.get("/admin/").text


def test_cli_creates_an_admin_with_a_drawn_password(ctx: Context, database_url: str) -> None:
    result = CliRunner().invoke(cli, ["admins", "create", "ops", "--database", database_url])
    assert result.exit_code == 0, result.output
    drawn = re.search(r"Password \(shown once\): (\S+)", result.output)
    assert drawn is not None
    again = CliRunner().invoke(cli, ["admins", "create", "ops", "--database", database_url])
    assert again.exit_code == 1 and "exists already" in again.output
    short = ["admins", "create", "x", "--password", "abc", "--database", database_url]
    assert CliRunner().invoke(cli, short).exit_code == 1
    listed = CliRunner().invoke(cli, ["admins", "list", "--database", database_url])
    assert listed.output.split() == ["ops"]
    session = asyncio.run(admins.sign_in(ctx, "ops", drawn.group(1), None, replacing=None))
    assert session is not None


def test_the_connectors_of_serve_are_shown_live(live: tuple[Context, TestClient]) -> None:
    ctx, client = live
    asyncio.run(admins.create_admin(ctx, "root", ADMIN_PASSWORD))
    admin_sign_in(client, "root")

    def bound_page() -> str | None:
        text = client.get("/admin/connectors").text
        return text if "<td>yes</td>" in text and "live (this process)" in text else None

    page = until(bound_page, "the simulator connector bound")
    assert "<td>simulator</td>" in page and "0 / 100" in page


def test_other_processes_connectors_come_from_their_snapshots(
    signed_in: TestClient, ctx: Context
) -> None:
    """A `web` process runs no connector: it shows what the workers last wrote, with its age."""
    status = ConnectorStatus("smsc-a", True, 10, 3, 50.0, 7, 6, 1, 0, 0, 4, "")
    asyncio.run(operator_area.save_connectors(ctx, "worker-1:42", [status]))
    later = ConnectorStatus("smsc-a", False, 10, 0, 50.0, 9, 8, 1, 0, 0, 4, "ConnectionError: x")
    asyncio.run(operator_area.save_connectors(ctx, "worker-1:42", [later]))
    (shown,) = asyncio.run(operator_area.connectors(ctx, None))
    assert shown.status == later and shown.process == "worker-1:42" and shown.as_of is not None
    page = signed_in.get("/admin/connectors").text
    assert "smsc-a" in page and "worker-1:42" in page and "ConnectionError: x" in page
