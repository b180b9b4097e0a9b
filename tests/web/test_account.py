"""`/` and `/account/`: the front door, sign-in with sessions in the store, CSRF on every form,
the brute-force brake, sign-out, and a dashboard that shows only the signed-in account's data."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from hirondelle.app import create_app
from hirondelle.authfailures import AuthFailures
from hirondelle.context import Context
from hirondelle.store.schema import accounts, web_sessions
from tests.conftest import count_rows
from tests.helpers import make_account

PASSWORD = "correct horse"
COOKIE = "hir_session"


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def with_password(ctx: Context, login: str, credits: int = 1000) -> None:
    make_account(ctx, login, credits=credits)
    hashed = PasswordHasher().hash(PASSWORD)
    ctx.store.write_sync(
        lambda conn: conn.execute(
            sa.update(accounts).where(accounts.c.login == login).values(password_hash=hashed)
        )
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(
    client: TestClient, login: str, password: str = PASSWORD, path: str = "/account/"
) -> object:
    """Sign in through the form at `path` (the customers' or the operators')."""
    form = client.get(path)
    return client.post(
        path,
        data={"login": login, "password": password, "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )


@pytest.fixture
def alice(ctx: Context) -> str:
    with_password(ctx, "alice", credits=4321)
    return "alice"


def test_the_front_door_is_html_with_sign_in_and_docs_links(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'href="/account/"' in page.text and 'href="/api/docs"' in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "<style" not in page.text and "<script" not in page.text and "style=" not in page.text
    assert 'name="viewport"' in page.text
    css = client.get("/static/hirondelle.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]


def test_signed_out_the_account_page_is_the_sign_in_form(client: TestClient) -> None:
    page = client.get("/account/")
    assert page.status_code == 200
    assert 'name="login"' in page.text and 'type="password"' in page.text
    assert '<label for="login"' in page.text and '<label for="password"' in page.text
    assert 'name="csrf"' in page.text
    assert "WWW-Authenticate" not in page.headers


def test_french_and_english(client: TestClient) -> None:
    assert "Se connecter" in client.get("/", headers={"accept-language": "fr-FR,fr;q=0.9"}).text
    assert "Sign in" in client.get("/", headers={"accept-language": "en-GB"}).text
    to_french = {"set": "fr", "next": "/account/"}
    switched = client.get("/lang", params=to_french, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/account/"
    assert "Se connecter" in client.get("/account/", headers={"accept-language": "en"}).text
    elsewhere = {"set": "en", "next": "//evil.example"}
    away = client.get("/lang", params=elsewhere, follow_redirects=False)
    assert away.headers["location"] == "/"


def test_a_good_password_signs_in_with_a_safe_cookie(
    client: TestClient, ctx: Context, alice: str
) -> None:
    done = sign_in(client, alice)
    assert done.status_code == 303 and done.headers["location"] == "/account/"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Path=/" in cookie and "Secure" not in cookie  # plain HTTP in this test
    sid = client.cookies[COOKIE]
    assert len(sid) >= 32
    rows = ctx.store.read_sync(lambda c: c.execute(sa.select(web_sessions)).mappings().all())
    assert len(rows) == 1 and sid not in rows[0]["id_digest"]  # only a digest is stored
    page = client.get("/account/")
    assert "4,321" in page.text and "alice" in page.text  # formatted for the page's language
    assert 'action="/account/sign-out"' in page.text


def test_the_cookie_is_secure_under_tls(ctx: Context, alice: str) -> None:
    with TestClient(create_app(ctx), base_url="https://testserver") as secure:
        done = sign_in(secure, alice)
        assert "Secure" in done.headers["set-cookie"]


def test_a_wrong_password_or_login_is_refused(client: TestClient, ctx: Context, alice: str) -> None:
    cases = [
        (alice, "wrong password"),
        ("nobody", PASSWORD),
        (alice, ""),
        ("al\x00ice", PASSWORD),  # PostgreSQL text cannot hold NUL: refused before the store
        ("a" * 300, PASSWORD),
    ]
    for login, password in cases:
        refused = sign_in(client, login, password)
        assert refused.status_code == 401
        assert 'name="password"' in refused.text and COOKIE not in client.cookies
    assert count_rows(ctx, web_sessions) == 0


def test_sign_in_rotates_the_session(client: TestClient, ctx: Context, alice: str) -> None:
    sign_in(client, alice)
    first = client.cookies[COOKIE]
    client.cookies.clear()
    token = csrf_of(client.get("/account/").text)
    client.cookies.set(COOKIE, first)  # the browser still holds its old session
    data = {"login": alice, "password": PASSWORD, "csrf": token}
    again = client.post("/account/", data=data, follow_redirects=False)
    assert again.status_code == 303 and again.cookies[COOKIE] != first
    assert count_rows(ctx, web_sessions) == 1  # the old one is revoked, not left behind


def test_sign_out_revokes_the_session(client: TestClient, ctx: Context, alice: str) -> None:
    sign_in(client, alice)
    sid = client.cookies[COOKIE]
    page = client.get("/account/")
    out = client.post(
        "/account/sign-out", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    assert count_rows(ctx, web_sessions) == 0
    # The old cookie, replayed, opens nothing.
    client.cookies.clear()
    client.cookies[COOKIE] = sid
    assert 'name="password"' in client.get("/account/").text


def test_forms_without_a_good_csrf_token_are_refused(
    client: TestClient, ctx: Context, alice: str
) -> None:
    client.get("/account/")
    no_token = client.post("/account/", data={"login": alice, "password": PASSWORD})
    assert no_token.status_code == 403 and COOKIE not in client.cookies
    sign_in(client, alice)
    for data in [{}, {"csrf": "1.abc"}]:
        assert client.post("/account/sign-out", data=data).status_code == 403
    assert count_rows(ctx, web_sessions) == 1


def test_one_account_never_sees_another(client: TestClient, ctx: Context, alice: str) -> None:
    with_password(ctx, "bob", credits=1111)
    sign_in(client, "bob")
    page = client.get("/account/")
    assert "1,111" in page.text and "4,321" not in page.text and "alice" not in page.text


def test_the_dashboard_counts_today_and_lists_campaigns(
    client: TestClient, ctx: Context, alice: str
) -> None:
    from tests.web.dashboard_helpers import add_campaign

    add_campaign(ctx, "alice", "Soldes d'hiver", statuses=[1, 1, 2, 3])
    add_campaign(ctx, "alice", "Old", statuses=[1], at=datetime(2020, 1, 1, tzinfo=UTC))
    with_password(ctx, "bob")
    add_campaign(ctx, "bob", "Bob's secret", statuses=[1, 1, 1, 1, 1, 1, 1])
    sign_in(client, alice)
    page = client.get("/account/").text
    figures = dict(re.findall(r'<dd id="(\w+)">([\d,]+)</dd>', page))
    assert figures == {
        "credits": "4,321",
        "sent": "4",
        "delivered": "2",
        "failed": "1",
        "replies": "0",
    }
    assert "Soldes d&#39;hiver" in page and "Old" in page and "Bob" not in page


def test_the_twentieth_wrong_password_in_a_minute_is_slowed(
    client: TestClient, ctx: Context, alice: str
) -> None:
    sleeps = Sleeps()
    ctx.auth_failures = AuthFailures(free=3, base=0.25, cap=5.0, sleep=sleeps)
    with capture_logs() as logs:
        for _ in range(20):
            assert sign_in(client, alice, "wrong password").status_code == 401
    assert len(sleeps) == 17 and sleeps[-1] == 5.0
    assert ctx.auth_failures.total == 20  # the /metrics counter of failed authentications
    posts = [line for line in logs if line["event"] == "request" and line["method"] == "POST"]
    assert [line.get("auth") for line in posts] == ["failed"] * 20
    # The owner, from another address, with the right password, is not slowed down.
    sleeps.clear()
    with TestClient(create_app(ctx), client=("192.0.2.7", 4000)) as elsewhere:
        assert sign_in(elsewhere, alice).status_code == 303
    assert sleeps == []


def test_the_rest_api_keeps_its_account_path(client: TestClient, ctx: Context) -> None:
    """`/account` is the REST API's; the customer area's `/account/` does not take it over."""
    creds = make_account(ctx, "dave", credits=12)
    answer = client.get("/account", auth=(creds.login, creds.api_key), follow_redirects=False)
    assert answer.status_code == 200 and answer.json()["balance"] == 12
